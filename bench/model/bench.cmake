# Model area: decode / prefill tokens/s and encoder sentences/s on the CPU backend (thrust OpenMP + OpenBLAS),
# for the GPT-2-small / BERT-base model directory written by tools/bench_torch_reference.py.
larimar_add_bench(bench_model ${CMAKE_CURRENT_LIST_DIR}/bench_model.cpp)
target_compile_definitions(bench_model PRIVATE
  LARIMAR_BENCH_MODEL_DIR="${PROJECT_SOURCE_DIR}/build-bench/models/gpt2-small-random")

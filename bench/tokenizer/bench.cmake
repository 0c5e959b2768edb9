# Tokenizer encode throughput (compare with Hugging Face tokenizers: bench/tokenizer/compare_hf.py).
larimar_add_bench(bench_tokenizer ${CMAKE_CURRENT_LIST_DIR}/bench_tokenizer.cpp)
target_compile_definitions(bench_tokenizer PRIVATE LARIMAR_FIXTURE_DIR="${PROJECT_SOURCE_DIR}/test/fixtures")

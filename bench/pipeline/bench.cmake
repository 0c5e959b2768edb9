# Pipeline area: serving contexts one after another with models/larimar-tiny, with and without ask_async's overlap
# of a context's generation with the next context's writes.
larimar_add_bench(bench_pipeline ${CMAKE_CURRENT_LIST_DIR}/bench_pipeline.cpp)
target_compile_definitions(bench_pipeline PRIVATE LARIMAR_MODEL_DIR="${PROJECT_SOURCE_DIR}/models/larimar-tiny")

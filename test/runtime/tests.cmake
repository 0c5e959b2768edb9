# Runtime area (include/larimar/runtime): the spec grammar, the memory factory and the pipeline factory. The two
# factory suites instantiate every memory type the spec tables list (the slowest files to compile here).
larimar_add_test(test_runtime_spec ${CMAKE_CURRENT_LIST_DIR}/spec.cpp)
larimar_add_test(test_runtime_memory ${CMAKE_CURRENT_LIST_DIR}/memory.cpp)
larimar_add_test(test_runtime_pipeline ${CMAKE_CURRENT_LIST_DIR}/pipeline.cpp)
target_compile_definitions(test_runtime_pipeline PRIVATE LARIMAR_MODEL_DIR="${PROJECT_SOURCE_DIR}/models/larimar-tiny")

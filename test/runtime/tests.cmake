# Runtime area (include/larimar/runtime): the spec grammar, the memory factory and the pipeline factory. The two
# factory suites call the factories compiled once in tools/factories (every memory type of the spec tables), which
# larimar-recall links too.
larimar_add_test(test_runtime_spec ${CMAKE_CURRENT_LIST_DIR}/spec.cpp)
# The sanitizer build leaves the two out: at -O0 the factories' one file takes 173 s of CPU and the suites 110 s
# more, a fifth of that build, for dispatch tables and interface wrappers over the memories and pipelines that the
# memory and pipeline suites run under the sanitizers themselves; the release build runs both suites.
if(NOT LARIMAR_SANITIZE)
  larimar_add_test(test_runtime_memory ${CMAKE_CURRENT_LIST_DIR}/memory.cpp)
  larimar_add_test(test_runtime_pipeline ${CMAKE_CURRENT_LIST_DIR}/pipeline.cpp)
  target_link_libraries(test_runtime_memory PRIVATE larimar_factories)
  target_link_libraries(test_runtime_pipeline PRIVATE larimar_factories)
  target_compile_definitions(test_runtime_pipeline PRIVATE LARIMAR_MODEL_DIR="${PROJECT_SOURCE_DIR}/models/larimar-tiny")
endif()

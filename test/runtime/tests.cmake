# Runtime area (include/larimar/runtime): the spec grammar and the memory factory. The factory
# suite instantiates every memory type the spec tables list (the slowest files to compile here).
larimar_add_test(test_runtime_spec ${CMAKE_CURRENT_LIST_DIR}/spec.cpp)
larimar_add_test(test_runtime_memory ${CMAKE_CURRENT_LIST_DIR}/memory.cpp)

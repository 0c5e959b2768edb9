larimar_add_bench(bench_memory ${CMAKE_CURRENT_LIST_DIR}/memory_bench.cpp)

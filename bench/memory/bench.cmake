larimar_add_bench(bench_memory ${CMAKE_CURRENT_LIST_DIR}/memory_bench.cpp)

# Host vs device storage, and the lookup against FAISS's exact index when FAISS is installed (libfaiss-dev).
larimar_add_bench(bench_memory_storage ${CMAKE_CURRENT_LIST_DIR}/storage_bench.cpp)
find_package(faiss CONFIG QUIET)
if(TARGET faiss)
  target_link_libraries(bench_memory_storage PRIVATE faiss)
  target_compile_definitions(bench_memory_storage PRIVATE LARIMAR_HAVE_FAISS)
endif()

# The GPU side (storage::device under nvcc): compiled in CI with the other CUDA targets, run by scripts/gpu-check.sh.
if(LARIMAR_CUDA)
  add_executable(bench_memory_cuda ${CMAKE_CURRENT_LIST_DIR}/cuda_bench.cu)
  target_link_libraries(bench_memory_cuda PRIVATE larimar::larimar benchmark::benchmark CUDA::cublas CUDA::cusolver
                        CUDA::cudart)
  target_compile_options(bench_memory_cuda PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-std=c++20 --expt-relaxed-constexpr>)
  larimar_strict(bench_memory_cuda)
  add_dependencies(larimar_cuda_targets bench_memory_cuda)
endif()

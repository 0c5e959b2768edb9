# The distributed memory under mpirun (docs/distributed.md, Benchmarks); built when MPI is (LARIMAR_WITH_MPI):
#   mpirun --oversubscribe --allow-run-as-root -np R build/bench/bench_distributed   (as root: --allow-run-as-root)
if(LARIMAR_WITH_MPI)
  add_executable(bench_distributed ${CMAKE_CURRENT_LIST_DIR}/distributed_bench.cpp)
  target_link_libraries(bench_distributed PRIVATE larimar::distributed benchmark::benchmark)
  larimar_strict(bench_distributed)
endif()

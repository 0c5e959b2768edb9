# The distributed memory's suites, run under mpirun (MPI found and LARIMAR_WITH_MPI on). We run as root, which
# OpenMPI refuses unless told: --allow-run-as-root; --oversubscribe lets 3-4 ranks share this machine's 2 cores.
if(NOT LARIMAR_WITH_MPI)
  return()
endif()
add_executable(test_distributed ${CMAKE_CURRENT_LIST_DIR}/main.cpp ${CMAKE_CURRENT_LIST_DIR}/distributed.cpp)
# larimar::backend: the failed-write test keeps its memory in storage::device (a memory limit per rank).
target_link_libraries(test_distributed PRIVATE larimar::distributed larimar::backend doctest::doctest)
target_compile_definitions(test_distributed PRIVATE LARIMAR_DIST_DIR="${CMAKE_CURRENT_BINARY_DIR}/distributed-saves")
larimar_strict(test_distributed)
add_executable(test_distributed_fault ${CMAKE_CURRENT_LIST_DIR}/fault.cpp)
target_link_libraries(test_distributed_fault PRIVATE larimar::distributed)
larimar_strict(test_distributed_fault)

# Prefix encoding is refused at compile time, with the reason.
set(_mpi_includes)
foreach(_d IN LISTS MPI_CXX_INCLUDE_DIRS)
  list(APPEND _mpi_includes -isystem ${_d})
endforeach()
add_test(NAME distributed_prefix_encoding_is_a_compile_error
         COMMAND ${CMAKE_CXX_COMPILER} -std=c++20 -fsyntax-only -I${PROJECT_SOURCE_DIR}/include ${_mpi_includes}
                 ${CMAKE_CURRENT_LIST_DIR}/prefix_refused.cpp)
set_tests_properties(distributed_prefix_encoding_is_a_compile_error PROPERTIES
  PASS_REGULAR_EXPRESSION "distributed_memory supports fixed keys")

set(_mpirun ${MPIEXEC_EXECUTABLE} --oversubscribe --allow-run-as-root)
set(_env "OMP_NUM_THREADS=1;OMP_WAIT_POLICY=PASSIVE;OPENBLAS_NUM_THREADS=1")
if(LARIMAR_SANITIZE)
  # LeakSanitizer reports what OpenMPI keeps allocated past MPI_Finalize (test_distributed on 2 ranks: 57 reports,
  # every stack in libmpi, libopen-pal or OpenBLAS, none in ours); our leaks would show in the memory's own suites.
  list(APPEND _env "ASAN_OPTIONS=detect_leaks=0:abort_on_error=1")
endif()
# Each run saves its own; the later ones (and the reloads) also load every save found, from any rank count.
file(REMOVE_RECURSE ${CMAKE_CURRENT_BINARY_DIR}/distributed-saves)
set(_previous)
foreach(_np IN ITEMS 1 2 3 4)
  add_test(NAME test_distributed_np${_np} COMMAND ${_mpirun} -np ${_np} $<TARGET_FILE:test_distributed>)
  set_tests_properties(test_distributed_np${_np} PROPERTIES ENVIRONMENT "${_env}" TIMEOUT 120 RUN_SERIAL TRUE
                       DEPENDS "${_previous}")
  set(_previous test_distributed_np${_np})
endforeach()
# Saves of 3 and 4 ranks loaded on 1 and 2.
foreach(_np IN ITEMS 1 2)
  add_test(NAME test_distributed_reload_np${_np}
           COMMAND ${_mpirun} -np ${_np} $<TARGET_FILE:test_distributed> "-tc=*other numbers of ranks*")
  set_tests_properties(test_distributed_reload_np${_np} PROPERTIES ENVIRONMENT "${_env}" TIMEOUT 60 RUN_SERIAL TRUE
                       DEPENDS test_distributed_np4)
endforeach()
# A rank that stops answering (stalled) or dies (SIGKILL) is reported on the others within the memory's timeout;
# the test's own TIMEOUT bounds it.
foreach(_mode IN ITEMS stall kill)
  add_test(NAME test_distributed_fault_${_mode}
           COMMAND ${_mpirun} --enable-recovery -np 3 $<TARGET_FILE:test_distributed_fault> ${_mode})
  set_tests_properties(test_distributed_fault_${_mode} PROPERTIES ENVIRONMENT "${_env}" TIMEOUT 40 RUN_SERIAL TRUE
                       PASS_REGULAR_EXPRESSION "fault reported on 2 of 2 surviving ranks")
endforeach()

# recall_pipeline over the distributed memory with models/larimar-tiny (every rank runs the models), on 2 ranks.
add_executable(test_distributed_pipeline ${CMAKE_CURRENT_LIST_DIR}/main.cpp ${CMAKE_CURRENT_LIST_DIR}/pipeline.cpp)
target_link_libraries(test_distributed_pipeline PRIVATE larimar::larimar larimar::distributed doctest::doctest)
target_compile_definitions(test_distributed_pipeline PRIVATE LARIMAR_MODEL_DIR="${PROJECT_SOURCE_DIR}/models/larimar-tiny")
larimar_strict(test_distributed_pipeline)
add_test(NAME test_distributed_pipeline_np2 COMMAND ${_mpirun} -np 2 $<TARGET_FILE:test_distributed_pipeline>)
set_tests_properties(test_distributed_pipeline_np2 PROPERTIES ENVIRONMENT "${_env}" TIMEOUT 120 RUN_SERIAL TRUE)

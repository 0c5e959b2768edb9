larimar_add_test(test_memory_parity ${CMAKE_CURRENT_LIST_DIR}/parity.cpp)
larimar_add_test(test_memory_ibm_parity ${CMAKE_CURRENT_LIST_DIR}/ibm_parity.cpp)
larimar_add_test(test_memory ${CMAKE_CURRENT_LIST_DIR}/memory.cpp)
larimar_add_test(test_memory_solver ${CMAKE_CURRENT_LIST_DIR}/solver.cpp)
larimar_add_test(test_memory_sharded ${CMAKE_CURRENT_LIST_DIR}/sharded.cpp)
larimar_add_test(test_memory_state_file ${CMAKE_CURRENT_LIST_DIR}/state_file.cpp)
larimar_add_test(test_memory_errors ${CMAKE_CURRENT_LIST_DIR}/errors.cpp)
larimar_add_test(test_memory_precision ${CMAKE_CURRENT_LIST_DIR}/precision.cpp)
larimar_add_test(test_memory_bf16_scan ${CMAKE_CURRENT_LIST_DIR}/bf16_scan.cpp)
larimar_add_test(test_memory_concurrent_reads ${CMAKE_CURRENT_LIST_DIR}/concurrent_reads.cpp)
larimar_add_test(test_memory_extra_lookups ${CMAKE_CURRENT_LIST_DIR}/extra_lookups.cpp)
larimar_add_test(test_memory_top_k ${CMAKE_CURRENT_LIST_DIR}/top_k.cpp)
larimar_add_test(test_memory_row_store ${CMAKE_CURRENT_LIST_DIR}/row_store.cpp)
# Key policies written in the test, outside the library: the memory needs nothing but the concept.
larimar_add_test(test_memory_user_keys ${CMAKE_CURRENT_LIST_DIR}/user_keys.cpp)

# A wrong policy is a compile error that names the unmet concept and the missing expression.
add_test(NAME memory_wrong_policy_is_a_compile_error
         COMMAND ${CMAKE_CXX_COMPILER} -std=c++20 -fsyntax-only -I${PROJECT_SOURCE_DIR}/include -isystem ${LARIMAR_CCCL_DIR}
                 ${CMAKE_CURRENT_LIST_DIR}/wrong_policy.cpp)
set_tests_properties(memory_wrong_policy_is_a_compile_error PROPERTIES
  PASS_REGULAR_EXPRESSION "satisfaction of [^ ]*solver_policy<Solver")
# (any-match list; the line above names the concept, the compiler also prints the missing solver.pinv<S>(...))
add_test(NAME memory_wrong_content_address_is_a_compile_error
         COMMAND ${CMAKE_CXX_COMPILER} -std=c++20 -fsyntax-only -I${PROJECT_SOURCE_DIR}/include -isystem ${LARIMAR_CCCL_DIR}
                 ${CMAKE_CURRENT_LIST_DIR}/wrong_address.cpp)
set_tests_properties(memory_wrong_content_address_is_a_compile_error PROPERTIES
  PASS_REGULAR_EXPRESSION "concept [^ ]*content_address_policy")
add_test(NAME memory_wrong_key_policy_is_a_compile_error
         COMMAND ${CMAKE_CXX_COMPILER} -std=c++20 -fsyntax-only -I${PROJECT_SOURCE_DIR}/include -isystem ${LARIMAR_CCCL_DIR}
                 ${CMAKE_CURRENT_LIST_DIR}/wrong_keys.cpp)
set_tests_properties(memory_wrong_key_policy_is_a_compile_error PROPERTIES
  PASS_REGULAR_EXPRESSION "satisfaction of [^ ]*key_policy<Keys")

if(LARIMAR_CUDA)
  add_executable(test_memory_cuda ${CMAKE_CURRENT_LIST_DIR}/cuda_memory_check.cu)
  target_link_libraries(test_memory_cuda PRIVATE larimar::larimar CUDA::cublas CUDA::cusolver CUDA::cudart)
  # -std given directly: CMake 3.25 knows no CUDA language standards for nvcc 13
  target_compile_options(test_memory_cuda PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-std=c++20 --expt-relaxed-constexpr>)
  larimar_strict(test_memory_cuda)
  add_dependencies(larimar_cuda_targets test_memory_cuda)
endif()

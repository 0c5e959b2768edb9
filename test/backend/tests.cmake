larimar_add_test(test_backend_primitives ${CMAKE_CURRENT_LIST_DIR}/primitives.cpp)

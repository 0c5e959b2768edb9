larimar_add_test(test_core_half ${CMAKE_CURRENT_LIST_DIR}/half.cpp)

# The folders of include/larimar form a layered graph: no folder includes one that includes it back.
find_package(Python3 REQUIRED COMPONENTS Interpreter)
add_test(NAME include_graph_acyclic COMMAND Python3::Interpreter ${PROJECT_SOURCE_DIR}/tools/include_graph.py --check)

# Evaluation area (include/larimar/eval): RULER's task generators and scoring.
larimar_add_test(test_eval_ruler ${CMAKE_CURRENT_LIST_DIR}/ruler.cpp)

# Pipeline area (include/larimar/pipeline, tools/recall): segmentation, tasks, memory-only recall with a random
# encoder, end-to-end plumbing with models/larimar-tiny, and the larimar-recall command's error handling.
foreach(_t text recall)
  larimar_add_test(test_pipeline_${_t} ${CMAKE_CURRENT_LIST_DIR}/${_t}.cpp)
  target_compile_definitions(test_pipeline_${_t} PRIVATE LARIMAR_MODEL_DIR="${PROJECT_SOURCE_DIR}/models/larimar-tiny")
endforeach()

if(TARGET larimar-recall)
  add_test(NAME larimar_recall_cli
           COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/cli.sh $<TARGET_FILE:larimar-recall> ${PROJECT_SOURCE_DIR}/models/larimar-tiny)
  set_tests_properties(larimar_recall_cli PROPERTIES ENVIRONMENT "OMP_NUM_THREADS=2;OMP_WAIT_POLICY=PASSIVE;OPENBLAS_NUM_THREADS=1")
endif()

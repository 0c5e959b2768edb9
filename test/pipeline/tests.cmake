# Pipeline area (include/larimar/pipeline, tools/recall): segmentation, tasks, memory-only recall with a random
# encoder, end-to-end plumbing with models/larimar-tiny, and the larimar-recall command's error handling.
foreach(_t text recall latent_path)
  larimar_add_test(test_pipeline_${_t} ${CMAKE_CURRENT_LIST_DIR}/${_t}.cpp)
  target_compile_definitions(test_pipeline_${_t} PRIVATE LARIMAR_MODEL_DIR="${PROJECT_SOURCE_DIR}/models/larimar-tiny")
endforeach()

if(TARGET larimar-recall)
  add_test(NAME larimar_recall_cli
           COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/cli.sh $<TARGET_FILE:larimar-recall> ${PROJECT_SOURCE_DIR}/models/larimar-tiny)
  set_tests_properties(larimar_recall_cli PROPERTIES ENVIRONMENT "OMP_NUM_THREADS=2;OMP_WAIT_POLICY=PASSIVE;OPENBLAS_NUM_THREADS=1")
endif()
if(TARGET larimar-model-eval)
  add_test(NAME larimar_model_eval_cli
           COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/model_eval.sh $<TARGET_FILE:larimar-model-eval> ${PROJECT_SOURCE_DIR}/models/larimar-tiny)
  set_tests_properties(larimar_model_eval_cli PROPERTIES ENVIRONMENT "OMP_NUM_THREADS=2;OMP_WAIT_POLICY=PASSIVE;OPENBLAS_NUM_THREADS=1")
endif()

# The pipeline with the models on thrust's CUDA system, the memory on the host or the GPU (compiled and linked in
# CI; scripts/gpu-check.sh runs it on a GPU).
if(LARIMAR_CUDA)
  add_executable(test_pipeline_cuda ${CMAKE_CURRENT_LIST_DIR}/cuda_pipeline_check.cu)
  target_link_libraries(test_pipeline_cuda PRIVATE larimar::larimar CUDA::cublas CUDA::cudart)
  if(TARGET CUDA::cusolver)
    target_link_libraries(test_pipeline_cuda PRIVATE CUDA::cusolver)
  endif()
  target_compile_definitions(test_pipeline_cuda PRIVATE LARIMAR_MODEL_DIR="${PROJECT_SOURCE_DIR}/models/larimar-tiny")
  # -std given directly: CMake 3.25 knows no CUDA language standards for nvcc 13
  target_compile_options(test_pipeline_cuda PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-std=c++20 --expt-relaxed-constexpr>)
  larimar_strict(test_pipeline_cuda)
  add_dependencies(larimar_cuda_targets test_pipeline_cuda)
endif()

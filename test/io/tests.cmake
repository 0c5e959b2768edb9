# io: safetensors reading/writing, memory-mapped files, f16/bf16 conversions (fixtures: tools/make_safetensors_fixtures.py)
larimar_add_test(io_tests io/test_safetensors.cpp io/test_half.cpp io/test_quote.cpp)

# io: safetensors reading/writing, memory-mapped files, f16/bf16 conversions (fixtures: tools/make_safetensors_fixtures.py)
larimar_add_test(io_tests io/test_safetensors.cpp io/test_half.cpp io/test_quote.cpp)
# State files as hostile input, and the atomic save they share with safetensors (links, threads, killed savers).
larimar_add_test(io_state_file_tests io/state_file_hostile.cpp io/atomic_file.cpp)

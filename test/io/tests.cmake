# io: safetensors reading/writing, memory-mapped files (fixtures: tools/make_safetensors_fixtures.py)
larimar_add_test(io_tests io/test_safetensors.cpp io/test_quote.cpp)
# State files as hostile input, and the atomic save they share with safetensors (links, threads, killed savers).
larimar_add_test(io_state_file_tests io/state_file_hostile.cpp io/atomic_file.cpp)
target_compile_definitions(io_state_file_tests PRIVATE LARIMAR_FUZZ_CORPUS_DIR="${PROJECT_SOURCE_DIR}/fuzz/corpus")
# Writes the state-file fuzz target's seeds (fuzz/corpus/state_file/): not a test, a documented generator.
add_executable(make_state_file_corpus ${PROJECT_SOURCE_DIR}/fuzz/seeds/state_file.cpp)
target_link_libraries(make_state_file_corpus PRIVATE larimar::larimar)
larimar_strict(make_state_file_corpus)

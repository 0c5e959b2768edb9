# Tokenizer suites (fixtures in test/fixtures/tokenizer from tools/make_tokenizer_fixtures.py).
larimar_add_test(test_tokenizer_unicode ${CMAKE_CURRENT_LIST_DIR}/test_unicode.cpp)
larimar_add_test(test_tokenizer_byte_level_bpe ${CMAKE_CURRENT_LIST_DIR}/test_byte_level_bpe.cpp)
larimar_add_test(test_tokenizer_wordpiece ${CMAKE_CURRENT_LIST_DIR}/test_wordpiece.cpp)

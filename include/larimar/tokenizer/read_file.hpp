#pragma once
// What the tokenizers' vocabulary readers share: the token id type, and for their format errors the location
// prefix and the quoting of tokens (core/quote.hpp). (Whole files are read by io/regular_file.hpp.)
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "larimar/core/quote.hpp"

namespace larimar::tokenizer {

using token_id = std::int32_t;  // ids are non-negative; int32 is what model code and HF use

namespace detail {

using ::larimar::detail::quote;  // how messages quote tokens read from a file

// "name:line: what" — the location prefix of every format_error about a vocabulary file.
inline std::string at_line(std::string_view operation, std::string_view file, std::size_t line) {
  return std::string(operation) + ": " + std::string(file) + ":" + std::to_string(line) + ": ";
}

}  // namespace detail
}  // namespace larimar::tokenizer

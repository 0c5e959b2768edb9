#pragma once
// Whole-file reads for the tokenizers' vocabulary files, with errors that name the path.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>

#include "larimar/core/error.hpp"
#include "larimar/core/quote.hpp"

namespace larimar::tokenizer {

using token_id = std::int32_t;  // ids are non-negative; int32 is what model code and HF use

namespace detail {

using ::larimar::detail::quote;  // how messages quote tokens read from a file

inline std::string read_file(const std::filesystem::path& path, std::string_view operation) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw io_error(std::string(operation) + ": cannot open '" + path.string() + "': " +
                   (std::filesystem::exists(path, ec) ? "not a regular file" : "no such file"));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw io_error(std::string(operation) + ": cannot open '" + path.string() + "' for reading");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw io_error(std::string(operation) + ": read error on '" + path.string() + "'");
  return text;
}

// "name:line: what" — the location prefix of every format_error about a vocabulary file.
inline std::string at_line(std::string_view operation, std::string_view file, std::size_t line) {
  return std::string(operation) + ": " + std::string(file) + ":" + std::to_string(line) + ": ";
}

}  // namespace detail
}  // namespace larimar::tokenizer

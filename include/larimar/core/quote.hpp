#pragma once
// File content quoted in an error message. A message is a C string to most of what prints it: a NUL in a token
// would cut it short, invalid UTF-8 garbles terminals and logs, a newline forges a log line. quote() keeps
// printable ASCII and well-formed UTF-8 as they are and escapes every other byte, so the message shows exactly
// which bytes the file holds.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "larimar/core/utf8.hpp"

namespace larimar::detail {

// `text` with \\ and \' for those two, \0 \t \n \r, and \xNN for any other control byte, DEL or byte that is not
// part of well-formed UTF-8 (C1 controls too). Text longer than `max_bytes` is cut there, followed by
// "... (N bytes)".
inline std::string escape(std::string_view text, std::size_t max_bytes = 160) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size() < max_bytes ? text.size() : max_bytes + 32);
  const auto escape_byte = [&](unsigned char b) {
    out += "\\x";
    out.push_back(hex[b >> 4]);
    out.push_back(hex[b & 0xFu]);
  };
  std::size_t pos = 0;
  while (pos < text.size() && pos < max_bytes) {
    const auto b = static_cast<unsigned char>(text[pos]);
    const char* named = b == '\\' ? "\\\\" : b == '\'' ? "\\'" : b == '\0' ? "\\0" : b == '\t' ? "\\t"
                        : b == '\n' ? "\\n" : b == '\r' ? "\\r" : nullptr;
    if (named != nullptr || b < 0x20 || b == 0x7F) {
      if (named != nullptr)
        out += named;
      else
        escape_byte(b);
      ++pos;
      continue;
    }
    const utf8_unit u = decode_utf8(text, pos);
    if (!u.valid || (u.code_point >= 0x80 && u.code_point < 0xA0)) {
      for (std::uint32_t k = 0; k < u.length; ++k) escape_byte(static_cast<unsigned char>(text[pos + k]));
    } else {
      out.append(text.substr(pos, u.length));
    }
    pos += u.length;
  }
  if (pos < text.size()) out += "... (" + std::to_string(text.size()) + " bytes)";
  return out;
}

// escape(text) between single quotes (a cut text's length after them): how messages quote a name or token read
// from a file.
inline std::string quote(std::string_view text, std::size_t max_bytes = 160) {
  std::string out = "'";  // grown in place: GCC 12's -Wrestrict misfires on "'" + string
  out += escape(text.substr(0, max_bytes), max_bytes);
  out.push_back('\'');
  if (text.size() > max_bytes) out += "... (" + std::to_string(text.size()) + " bytes)";
  return out;
}

}  // namespace larimar::detail

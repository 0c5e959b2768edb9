#pragma once
// GPT-2's pre-tokenization, written out by hand instead of with a regex engine. It reproduces the pattern
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// matched left to right, the first alternative that matches winning. It walks UTF-8 code points; an ill-formed
// byte sequence (its maximal subpart) counts as one code point that is neither letter, number nor space, so any
// byte string is split into pieces that concatenate back to it exactly.
#include <cstddef>
#include <string_view>
#include <vector>

#include "larimar/tokenizer/unicode.hpp"

namespace larimar::tokenizer {

namespace detail {

enum class char_class : unsigned char { letter, number, space, other };

struct classified_unit {
  char_class kind;
  bool is_ascii_space;  // exactly U+0020, the optional prefix of the letter/number/other alternatives
  std::size_t length;
};

inline classified_unit classify_at(std::string_view text, std::size_t pos) {
  const unsigned char b = static_cast<unsigned char>(text[pos]);
  if (b < 0x80) {  // the common case without table lookups
    const char32_t c = b;
    if (unicode::is_letter(c)) return {char_class::letter, false, 1};
    if (c >= U'0' && c <= U'9') return {char_class::number, false, 1};
    if (c == U' ') return {char_class::space, true, 1};
    if (c >= 0x09 && c <= 0x0D) return {char_class::space, false, 1};
    return {char_class::other, false, 1};
  }
  const unicode::utf8_unit u = unicode::decode_utf8(text, pos);
  if (!u.valid) return {char_class::other, false, u.length};
  if (unicode::is_letter(u.code_point)) return {char_class::letter, false, u.length};
  if (unicode::is_number(u.code_point)) return {char_class::number, false, u.length};
  if (unicode::is_white_space(u.code_point)) return {char_class::space, false, u.length};
  return {char_class::other, false, u.length};
}

// Length in bytes of the contraction ('s 't 're 've 'm 'll 'd, lower case only) at pos, or 0.
inline std::size_t contraction_length(std::string_view text, std::size_t pos) {
  if (text[pos] != '\'' || pos + 1 >= text.size()) return 0;
  const char a = text[pos + 1];
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if (pos + 2 >= text.size()) return 0;
  const char b = text[pos + 2];
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  return 0;
}

// Length in bytes of the next piece starting at pos (pos < text.size()).
inline std::size_t next_piece_length(std::string_view text, std::size_t pos) {
  if (const std::size_t n = contraction_length(text, pos)) return n;
  const classified_unit first = classify_at(text, pos);
  std::size_t start = pos;
  char_class run_kind = first.kind;
  if (first.is_ascii_space && pos + first.length < text.size()) {
    // " ?\p{L}+" and friends: a single U+0020 joins the letter/number/other run that follows it.
    const classified_unit second = classify_at(text, pos + first.length);
    if (second.kind != char_class::space) {
      start = pos + first.length;
      run_kind = second.kind;
    }
  }
  if (run_kind != char_class::space) {
    std::size_t end = start;
    while (end < text.size()) {
      const classified_unit u = classify_at(text, end);
      if (u.kind != run_kind) break;
      end += u.length;
    }
    return end - pos;
  }
  // A run of white space: "\s+(?!\S)" leaves the last space for the word that follows; "\s+" takes a lone one.
  std::size_t end = pos, last_start = pos, count = 0;
  while (end < text.size()) {
    const classified_unit u = classify_at(text, end);
    if (u.kind != char_class::space) break;
    last_start = end;
    end += u.length;
    ++count;
  }
  if (end == text.size() || count == 1) return end - pos;
  return last_start - pos;
}

}  // namespace detail

// Calls piece(std::string_view) for each pre-token of text, in order; the pieces concatenate to text.
template <class Fn>
void for_each_gpt2_piece(std::string_view text, Fn&& piece) {
  for (std::size_t pos = 0; pos < text.size();) {
    const std::size_t n = detail::next_piece_length(text, pos);
    piece(text.substr(pos, n));
    pos += n;
  }
}

inline std::vector<std::string_view> gpt2_pre_tokenize(std::string_view text) {
  std::vector<std::string_view> pieces;
  for_each_gpt2_piece(text, [&](std::string_view p) { pieces.push_back(p); });
  return pieces;
}

}  // namespace larimar::tokenizer

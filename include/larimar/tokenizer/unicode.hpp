#pragma once
// The Unicode the tokenizers need, without ICU: UTF-8 decoding with the standard's "maximal subpart" rule for
// ill-formed bytes, General_Category and White_Space lookups, canonical decomposition (NFD) and lower-casing.
// The data come from tools/gen_unicode_tables.py (Python's unicodedata) in unicode_tables.hpp.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>

#include "larimar/core/utf8.hpp"
#include "larimar/tokenizer/unicode_tables.hpp"

namespace larimar::tokenizer::unicode {

namespace tables = ::larimar::tokenizer::detail::tables;

// General_Category, in the order the generator writes (tables::general_category_runs).
enum class general_category : std::uint8_t {
  Cn, Lu, Ll, Lt, Lm, Lo, Mn, Mc, Me, Nd, Nl, No, Pc, Pd, Ps, Pe, Pi, Pf, Po, Sm, Sc, Sk, So, Zs, Zl, Zp,
  Cc, Cf, Cs, Co
};

inline constexpr char32_t max_code_point = 0x10FFFF;
using ::larimar::detail::replacement_character;

namespace detail {

// Finds the run containing `cp` in a table of runs packed as start << shift | value; the first run starts at 0.
template <std::size_t N>
constexpr std::uint32_t run_value(const std::uint32_t (&runs)[N], char32_t cp, unsigned shift) {
  const std::uint32_t key = (static_cast<std::uint32_t>(cp) << shift) | ((1u << shift) - 1u);
  const auto* it = std::upper_bound(std::begin(runs), std::end(runs), key);
  return *(it - 1) & ((1u << shift) - 1u);
}

// A sorted key table with a parallel index (pool offset << 4 | length) into a pool of code points.
template <std::size_t K, std::size_t P, class Out>
constexpr bool append_mapping(const std::uint32_t (&keys)[K], const std::uint32_t (&index)[K],
                              const std::uint32_t (&pool)[P], char32_t cp, Out& out) {
  const auto* it = std::lower_bound(std::begin(keys), std::end(keys), static_cast<std::uint32_t>(cp));
  if (it == std::end(keys) || *it != cp) return false;
  const std::uint32_t packed = index[it - std::begin(keys)];
  for (std::uint32_t i = 0; i < (packed & 15u); ++i) out.push_back(static_cast<char32_t>(pool[(packed >> 4) + i]));
  return true;
}

}  // namespace detail

inline general_category category(char32_t cp) {
  if (cp > max_code_point) return general_category::Cn;
  return static_cast<general_category>(detail::run_value(tables::general_category_runs, cp, 5));
}

inline bool is_letter(char32_t cp) {  // \p{L}
  if (cp < 0x80) return (cp | 0x20) >= U'a' && (cp | 0x20) <= U'z';
  const auto c = category(cp);
  return c >= general_category::Lu && c <= general_category::Lo;
}
inline bool is_number(char32_t cp) {  // \p{N}
  if (cp < 0x80) return cp >= U'0' && cp <= U'9';
  const auto c = category(cp);
  return c >= general_category::Nd && c <= general_category::No;
}
inline bool is_punctuation(char32_t cp) {  // \p{P}
  const auto c = category(cp);
  return c >= general_category::Pc && c <= general_category::Po;
}
inline bool is_nonspacing_mark(char32_t cp) { return category(cp) == general_category::Mn; }

// The White_Space property: what regex \s and Rust's char::is_whitespace mean.
inline bool is_white_space(char32_t cp) {
  if (cp < 0x80) return cp == U' ' || (cp >= 0x09 && cp <= 0x0D);
  for (std::uint32_t packed : tables::white_space_ranges) {
    const char32_t first = packed >> 11;
    if (cp >= first && cp <= first + (packed & 0x7FFu)) return true;
  }
  return false;
}

inline std::uint8_t combining_class(char32_t cp) {
  if (cp < 0x300 || cp > max_code_point) return 0;
  return static_cast<std::uint8_t>(detail::run_value(tables::combining_class_runs, cp, 8));
}

// ---- UTF-8 ----------------------------------------------------------------------------------------------

// Decoding (core/utf8.hpp): a code point, or an ill-formed unit spanning the maximal subpart of an ill-formed
// sequence.
using ::larimar::detail::decode_utf8;
using ::larimar::detail::utf8_unit;

inline void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

inline bool is_valid_utf8(std::string_view text) {
  for (std::size_t pos = 0; pos < text.size();) {
    const utf8_unit u = decode_utf8(text, pos);
    if (!u.valid) return false;
    pos += u.length;
  }
  return true;
}

// Well-formed UTF-8 with every maximal ill-formed subpart replaced by U+FFFD (as Python's errors="replace").
inline std::string repair_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t pos = 0; pos < text.size();) {
    const utf8_unit u = decode_utf8(text, pos);
    if (u.valid)
      out.append(text.substr(pos, u.length));
    else
      append_utf8(out, replacement_character);
    pos += u.length;
  }
  return out;
}

// Code points of `text`, ill-formed subparts as U+FFFD.
inline std::u32string to_code_points(std::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (std::size_t pos = 0; pos < text.size();) {
    const utf8_unit u = decode_utf8(text, pos);
    out.push_back(u.code_point);
    pos += u.length;
  }
  return out;
}

inline std::string to_utf8(std::u32string_view code_points) {
  std::string out;
  out.reserve(code_points.size());
  for (char32_t cp : code_points) append_utf8(out, cp);
  return out;
}

// ---- normalisation and case ------------------------------------------------------------------------------

// Appends the full canonical decomposition of one code point (Hangul syllables algorithmically).
inline void append_canonical_decomposition(std::u32string& out, char32_t cp) {
  constexpr char32_t s_base = 0xAC00, l_base = 0x1100, v_base = 0x1161, t_base = 0x11A7;
  constexpr char32_t t_count = 28, n_count = 21 * 28, s_count = 19 * 21 * 28;
  if (cp >= s_base && cp < s_base + s_count) {
    const char32_t s = cp - s_base;
    out.push_back(l_base + s / n_count);
    out.push_back(v_base + (s % n_count) / t_count);
    if (s % t_count != 0) out.push_back(t_base + s % t_count);
    return;
  }
  if (cp < 0xC0 || !detail::append_mapping(tables::decomposition_keys, tables::decomposition_index,
                                           tables::decomposition_pool, cp, out))
    out.push_back(cp);
}

// NFD: full canonical decomposition, then the canonical ordering of combining marks (a stable sort of each run
// of non-starters by combining class).
inline std::u32string nfd(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (char32_t cp : text) append_canonical_decomposition(out, cp);
  for (std::size_t i = 0; i < out.size();) {
    if (combining_class(out[i]) == 0) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < out.size() && combining_class(out[j]) != 0) ++j;
    if (j - i > 1)
      std::stable_sort(out.begin() + static_cast<std::ptrdiff_t>(i), out.begin() + static_cast<std::ptrdiff_t>(j),
                       [](char32_t a, char32_t b) { return combining_class(a) < combining_class(b); });
    i = j;
  }
  return out;
}

// Appends the lower case of one code point (full mapping without context: U+0130 gives two code points).
inline void append_lowercase(std::u32string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(cp >= U'A' && cp <= U'Z' ? cp + 32 : cp);
    return;
  }
  if (!detail::append_mapping(tables::lowercase_keys, tables::lowercase_index, tables::lowercase_pool, cp, out))
    out.push_back(cp);
}

}  // namespace larimar::tokenizer::unicode

#pragma once
// UTF-8 decoding, one unit at a time, with the standard's "maximal subpart" rule for ill-formed bytes: what the
// tokenizers read text with, and what error messages use to tell well-formed text from bytes to escape.
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace larimar::detail {

inline constexpr char32_t replacement_character = 0xFFFD;

// One step of decoding: a code point, or an ill-formed unit (valid == false) spanning the maximal subpart of an
// ill-formed sequence (Unicode §3.9 D93b, what Python's errors="replace" and WHATWG decoders use), at least 1 byte.
struct utf8_unit {
  char32_t code_point;  // replacement_character when !valid
  std::uint32_t length;  // bytes consumed, 1..4
  bool valid;
};

inline utf8_unit decode_utf8(std::string_view text, std::size_t pos) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(pos);
  if (lead < 0x80) return {lead, 1, true};
  std::uint32_t need = 0;
  char32_t cp = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // the allowed range of the second byte (Unicode Table 3-7)
  if (lead >= 0xC2 && lead <= 0xDF) {
    need = 1, cp = lead & 0x1Fu;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    need = 2, cp = lead & 0x0Fu;
    if (lead == 0xE0) lo = 0xA0;
    if (lead == 0xED) hi = 0x9F;  // no surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    need = 3, cp = lead & 0x07u;
    if (lead == 0xF0) lo = 0x90;
    if (lead == 0xF4) hi = 0x8F;
  } else {
    return {replacement_character, 1, false};
  }
  std::uint32_t used = 1;
  for (std::uint32_t k = 0; k < need; ++k, lo = 0x80, hi = 0xBF) {
    if (pos + used >= text.size()) return {replacement_character, used, false};
    const unsigned char b = byte(pos + used);
    if (b < lo || b > hi) return {replacement_character, used, false};
    cp = (cp << 6) | (b & 0x3Fu);
    ++used;
  }
  return {cp, used, true};
}

}  // namespace larimar::detail

#pragma once
// IEEE 754 binary16 ("f16") and bfloat16 ("bf16") <-> binary32 conversions, bit-exact and portable: weights come
// in either half format and the runtime computes in f32. Narrowing rounds to nearest, ties to even (as numpy and
// torch do), keeps the sign of zero, maps overflow to infinity and keeps NaN a (quiet) NaN.
#include <bit>
#include <cstdint>

namespace larimar {

// binary16 bits -> float (exact: every f16 value, subnormals included, is representable in f32).
constexpr float f16_to_f32(std::uint16_t h) noexcept {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exponent = (h >> 10) & 0x1fu;
  std::uint32_t mantissa = h & 0x3ffu;
  std::uint32_t bits = 0;
  if (exponent == 0x1fu) {  // inf / NaN: widen the payload so a NaN stays a NaN
    bits = sign | 0x7f800000u | (mantissa << 13);
  } else if (exponent != 0) {  // normal: re-bias the exponent from 15 to 127
    bits = sign | ((exponent + 112u) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {  // signed zero
    bits = sign;
  } else {  // subnormal: mantissa * 2^-24 becomes a normal f32; its top bit sets the exponent
    const int top = std::bit_width(mantissa) - 1;  // 0..9
    mantissa = (mantissa << (23 - top)) & 0x7fffffu;
    bits = sign | (static_cast<std::uint32_t>(top + 103) << 23) | mantissa;
  }
  return std::bit_cast<float>(bits);
}

// bfloat16 bits -> float: bf16 is the top half of an f32, so this is exact.
constexpr float bf16_to_f32(std::uint16_t b) noexcept {
  return std::bit_cast<float>(static_cast<std::uint32_t>(b) << 16);
}

// float -> binary16 bits, round to nearest even.
constexpr std::uint16_t f32_to_f16(float f) noexcept {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(f);
  const auto sign = static_cast<std::uint16_t>((bits >> 16) & 0x8000u);
  const std::uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude > 0x7f800000u)  // NaN: keep the top payload bits, force the quiet bit so it cannot become inf
    return static_cast<std::uint16_t>(sign | 0x7e00u | ((magnitude >> 13) & 0x3ffu));
  if (magnitude >= 0x477ff000u)  // >= 65520 (halfway past the largest f16, 65504) rounds to inf; inf stays inf
    return static_cast<std::uint16_t>(sign | 0x7c00u);
  if (magnitude < 0x38800000u) {  // below 2^-14: an f16 subnormal or zero
    if (magnitude <= 0x33000000u) return sign;  // <= 2^-25, half the smallest subnormal: ties to even = 0
    const std::uint32_t exponent = magnitude >> 23;                      // 102..112
    const std::uint32_t significand = (magnitude & 0x7fffffu) | 0x800000u;
    const std::uint32_t shift = 126u - exponent;                         // value * 2^24 = significand >> shift
    std::uint32_t result = significand >> shift;
    const std::uint32_t rest = significand & ((1u << shift) - 1u);
    const std::uint32_t half = 1u << (shift - 1u);
    if (rest > half || (rest == half && (result & 1u))) ++result;  // may carry into the smallest normal: correct
    return static_cast<std::uint16_t>(sign | result);
  }
  std::uint32_t rebased = magnitude - 0x38000000u;  // exponent 127 -> 15 bias
  const std::uint32_t rest = rebased & 0x1fffu;
  rebased >>= 13;
  if (rest > 0x1000u || (rest == 0x1000u && (rebased & 1u))) ++rebased;  // a carry bumps the exponent: correct
  return static_cast<std::uint16_t>(sign | rebased);
}

// float -> bfloat16 bits, round to nearest even.
constexpr std::uint16_t f32_to_bf16(float f) noexcept {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(f);
  if ((bits & 0x7fffffffu) > 0x7f800000u)  // NaN: truncating could clear every payload bit, so force quiet
    return static_cast<std::uint16_t>((bits >> 16) | 0x0040u);
  const std::uint32_t rounded = bits + 0x7fffu + ((bits >> 16) & 1u);  // overflow lands exactly on inf
  return static_cast<std::uint16_t>(rounded >> 16);
}

}  // namespace larimar

#pragma once
// Run-time dispatch on what the processor has. A header-only library is compiled by its user, usually without
// -march, so the hand-vectorised x86-64 kernels are functions with __attribute__((target(...))) and a caller picks
// one at run time; a plain C++ path serves every other CPU and compiler (and is always tested). The pattern is the
// one memory/bf16_scan.hpp started (its lane sum lives here now, shared).
//
// The levels a kernel may have a path for, each including the one below:
//   generic — plain C++ (whatever the compiler makes of it for the baseline target);
//   avx2    — AVX2 + FMA + F16C (x86-64-v3: Haswell, Zen 1 and later);
//   avx512  — AVX-512 F + BW + VL, with FMA and F16C (Skylake-SP, Ice Lake, Zen 4 and later).
// LARIMAR_CPU_ISA=generic|avx2|avx512 in the environment caps the level (read once, at the first use): a cap above
// what the processor has means the processor's level; an unknown spelling is a value_error. Tests force a level
// by passing it to the kernels (available_cpu_isas() lists the ones this processor can run).
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "larimar/core/error.hpp"
#include "larimar/core/precision.hpp"  // cpu_has_f16c

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__CUDACC__)
#define LARIMAR_HAVE_X86_DISPATCH 1
#include <immintrin.h>
#endif

namespace larimar {

enum class cpu_isa : std::uint8_t { generic = 0, avx2 = 1, avx512 = 2 };

constexpr const char* cpu_isa_name(cpu_isa isa) {
  return isa == cpu_isa::avx512 ? "avx512" : isa == cpu_isa::avx2 ? "avx2" : "generic";
}
inline std::optional<cpu_isa> parse_cpu_isa(std::string_view name) {
  for (const cpu_isa isa : {cpu_isa::generic, cpu_isa::avx2, cpu_isa::avx512})
    if (name == cpu_isa_name(isa)) return isa;
  return std::nullopt;
}

// The highest level this processor (and this compiler) has a path for.
inline cpu_isa detected_cpu_isa() {
#if defined(LARIMAR_HAVE_X86_DISPATCH)
  static const cpu_isa isa = [] {
    const bool v3 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && detail::cpu_has_f16c();
    if (!v3) return cpu_isa::generic;
    const bool v4 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                    __builtin_cpu_supports("avx512vl");
    return v4 ? cpu_isa::avx512 : cpu_isa::avx2;
  }();
  return isa;
#else
  return cpu_isa::generic;
#endif
}

// `detected` capped by a LARIMAR_CPU_ISA value (null or empty: no cap).
inline cpu_isa cap_cpu_isa(cpu_isa detected, const char* cap) {
  if (cap == nullptr || *cap == '\0') return detected;
  const auto parsed = parse_cpu_isa(cap);
  if (!parsed)
    throw value_error(std::string("LARIMAR_CPU_ISA: '") + cap + "' is not one of generic, avx2, avx512");
  return std::min(detected, *parsed);
}

// The level the dispatched kernels use by default: detected_cpu_isa() capped by LARIMAR_CPU_ISA.
inline cpu_isa cpu_isa_in_use() {
  static const cpu_isa isa = cap_cpu_isa(detected_cpu_isa(), std::getenv("LARIMAR_CPU_ISA"));
  return isa;
}

// generic, ..., detected_cpu_isa(): every level a kernel can be run at here (what the parity tests loop over).
inline std::vector<cpu_isa> available_cpu_isas() {
  std::vector<cpu_isa> out;
  for (auto i = static_cast<int>(cpu_isa::generic); i <= static_cast<int>(detected_cpu_isa()); ++i)
    out.push_back(static_cast<cpu_isa>(i));
  return out;
}

#if defined(LARIMAR_HAVE_X86_DISPATCH)
namespace detail::simd {

// The sum of the 16 lanes, in a fixed order. (Full-mask forms: GCC 12's plain shuffles and _mm512_reduce_add_ps
// start from _mm512_undefined_ps, which trips -Wuninitialized once inlined.)
__attribute__((target("avx512f"))) inline float lane_sum(__m512 v) {
  constexpr __mmask16 all = 0xFFFF;
  v = _mm512_add_ps(v, _mm512_mask_shuffle_f32x4(v, all, v, v, 0x4E));  // + the other 256-bit half
  v = _mm512_add_ps(v, _mm512_mask_shuffle_f32x4(v, all, v, v, 0xB1));  // + the neighbouring 128-bit quarter
  v = _mm512_add_ps(v, _mm512_mask_permute_ps(v, all, v, 0x4E));        // + the other 64 bits of the quarter
  v = _mm512_add_ps(v, _mm512_mask_permute_ps(v, all, v, 0xB1));        // + the neighbouring lane
  return _mm512_cvtss_f32(v);
}

// The sum of the 8 lanes, in a fixed order.
__attribute__((target("avx2"))) inline float lane_sum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));  // + the other 128-bit half
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));                                          // + the other 64 bits
  s = _mm_add_ss(s, _mm_movehdup_ps(s));                                           // + the neighbouring lane
  return _mm_cvtss_f32(s);
}

}  // namespace detail::simd
#endif

}  // namespace larimar

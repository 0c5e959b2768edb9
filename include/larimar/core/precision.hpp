#pragma once
// The number formats a memory can store its lookup vectors in (memory_config::lookup_precision). Sums never
// accumulate in the narrow format: rows are widened to the memory's element type T (float or double) before the
// GEMM, or (bf16 rows on an AVX512-BF16 CPU, memory/bf16_scan.hpp; 16-bit rows on CUDA, cublasGemmEx) multiplied
// as 16-bit values with the query rounded to the same format and accumulated in fp32 — a second u on the query side.
//   full — T itself;
//   fp16 — IEEE binary16: 11 significant bits, unit roundoff u = 2⁻¹¹ ≈ 4.9e-4, range ±65504;
//   bf16 — bfloat16: 8 significant bits, u = 2⁻⁸ ≈ 3.9e-3, fp32's range.
// Lookup vectors are stored unit-normalised, so each stored element is within u·|x| of its exact value and a
// cosine score moves by at most u (|q·δl| ≤ ‖q‖·‖δl‖ ≤ u for unit q, l): a nearest-neighbour hit can change
// only where the two best scores are within 2u of each other.
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "larimar/core/half.hpp"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__CUDACC__)
#include <cpuid.h>
#include <immintrin.h>
#endif

namespace larimar {

enum class precision : std::uint8_t { full = 0, fp16 = 1, bf16 = 2 };

constexpr const char* precision_name(precision p) {
  return p == precision::fp16 ? "fp16" : p == precision::bf16 ? "bf16" : "full";
}
// The unit roundoff of the stored format (0 for full: the element type's own rounding only).
constexpr double unit_roundoff(precision p) {
  return p == precision::fp16 ? 1.0 / 2048 : p == precision::bf16 ? 1.0 / 256 : 0.0;
}

namespace detail {
// Element-wise conversions as functors that thrust can run on either system (host and device code).
template <class T>
struct narrow_op {
  const T* src;
  std::uint16_t* dst;
  precision p;
#if defined(__CUDACC__)
  __host__ __device__
#endif
  void operator()(std::size_t i) const {
    const float x = static_cast<float>(src[i]);
    dst[i] = p == precision::fp16 ? larimar::f32_to_f16(x) : larimar::f32_to_bf16(x);
  }
};
template <class T>
struct widen_op {
  const std::uint16_t* src;
  T* dst;
  precision p;
#if defined(__CUDACC__)
  __host__ __device__
#endif
  void operator()(std::size_t i) const {
    dst[i] = static_cast<T>(p == precision::fp16 ? larimar::f16_to_f32(src[i]) : larimar::bf16_to_f32(src[i]));
  }
};

// Bulk conversions on host memory (storage::host, and storage::device on thrust's OpenMP/CPP system). On x86-64
// CPUs with F16C (checked at run time) fp16 goes through the hardware conversion, 8 values per instruction with
// round-to-nearest-even: bit-identical to larimar::f32_to_f16/f16_to_f32, which serve everywhere else.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__CUDACC__)
#define LARIMAR_HAVE_F16C_PATH 1
__attribute__((target("avx,f16c"))) inline void widen_f16_f16c(const std::uint16_t* src, std::size_t n, float* dst) {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
  for (; i < n; ++i) dst[i] = larimar::f16_to_f32(src[i]);
}
__attribute__((target("avx,f16c"))) inline void narrow_f16_f16c(const float* src, std::size_t n, std::uint16_t* dst) {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  for (; i < n; ++i) dst[i] = larimar::f32_to_f16(src[i]);
}
inline bool cpu_has_f16c() {
  // F16C is CPUID leaf 1, ECX bit 29 (clang 14's __builtin_cpu_supports does not know "f16c").
  static const bool has = [] {
    unsigned a = 0, b = 0, c = 0, d = 0;
    return __builtin_cpu_supports("avx") && __get_cpuid(1, &a, &b, &c, &d) != 0 && (c & (1u << 29)) != 0;
  }();
  return has;
}
#endif

template <class T>
void narrow_on_host(const T* src, std::size_t n, std::uint16_t* dst, precision p) {
#if defined(LARIMAR_HAVE_F16C_PATH)
  if constexpr (std::is_same_v<T, float>)
    if (p == precision::fp16 && cpu_has_f16c()) return narrow_f16_f16c(src, n, dst);
#endif
  const narrow_op<T> op{src, dst, p};
  for (std::size_t i = 0; i < n; ++i) op(i);
}
template <class T>
void widen_on_host(const std::uint16_t* src, std::size_t n, T* dst, precision p) {
#if defined(LARIMAR_HAVE_F16C_PATH)
  if constexpr (std::is_same_v<T, float>)
    if (p == precision::fp16 && cpu_has_f16c()) return widen_f16_f16c(src, n, dst);
#endif
  const widen_op<T> op{src, dst, p};
  for (std::size_t i = 0; i < n; ++i) op(i);
}
}  // namespace detail

}  // namespace larimar

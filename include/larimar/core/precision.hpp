#pragma once
// The number formats a memory can store its lookup vectors in (memory_config::lookup_precision). Arithmetic never
// happens in the narrow format: rows are widened to the memory's element type T (float or double) before the
// GEMM, so products and sums accumulate in at least fp32; only the stored values are rounded, once, when written.
//   full — T itself;
//   fp16 — IEEE binary16: 11 significant bits, unit roundoff u = 2⁻¹¹ ≈ 4.9e-4, range ±65504;
//   bf16 — bfloat16: 8 significant bits, u = 2⁻⁸ ≈ 3.9e-3, fp32's range.
// Lookup vectors are stored unit-normalised, so each stored element is within u·|x| of its exact value and a
// cosine score moves by at most u (|q·δl| ≤ ‖q‖·‖δl‖ ≤ u for unit q, l): a nearest-neighbour hit can change
// only where the two best scores are within 2u of each other.
#include <cstddef>
#include <cstdint>

#include "larimar/io/half.hpp"

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
    dst[i] = p == precision::fp16 ? io::f32_to_f16(x) : io::f32_to_bf16(x);
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
    dst[i] = static_cast<T>(p == precision::fp16 ? io::f16_to_f32(src[i]) : io::bf16_to_f32(src[i]));
  }
};
}  // namespace detail

}  // namespace larimar

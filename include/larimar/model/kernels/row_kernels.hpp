#pragma once
// Host row kernels of the element-wise passes around the GEMMs, with run-time dispatch (core/cpu_dispatch.hpp):
//   softmax    — s[0, valid) ← softmax(s[0, valid)), s[valid, total) ← 0 (a causal row of a score matrix);
//   bias_gelu  — x[j] ← gelu_tanh(x[j] + b[j]) (GPT-2's MLP activation);
//   layer_norm — x[j] += b[j] (when b is set), then out = (x − mean)/sqrt(var + eps)·gamma + beta (out may be x).
// The library is compiled without -march, so without these the compiler's baseline (SSE2) runs one expf at a
// time and one scalar sum per row. Numerics: the vector exponential is a degree-7 polynomial on |r| ≤ ln2/2 after
// Cody–Waite reduction (relative error ≤ 2·2⁻²³ against expf, measured in the tests), the sums keep 16 (AVX-512)
// or 8 (AVX2, plain) partial sums; results differ between levels by a few ulps, never in what they compute.
#include <algorithm>
#include <cmath>
#include <cstddef>

#include "larimar/core/cpu_dispatch.hpp"

namespace larimar::model::row_kernels {

namespace plain {

inline float gelu(float x) {  // the same form as kernels::gelu_tanh: x·sigmoid(2u)
  constexpr float k = 2.f * 0.7978845608028654f;
  return x / (1.f + std::exp(-k * (x + 0.044715f * x * x * x)));
}

inline void softmax(float* s, std::size_t valid, std::size_t total) {
  float best = -INFINITY;
  for (std::size_t t = 0; t < valid; ++t) best = std::max(best, s[t]);
  float acc[8] = {};
  std::size_t t = 0;
  for (; t < valid; ++t) {
    s[t] = std::exp(s[t] - best);
    acc[t % 8] += s[t];
  }
  const float inv = 1.f / (((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7])));
  for (t = 0; t < valid; ++t) s[t] *= inv;
  for (; t < total; ++t) s[t] = 0.f;
}

inline void bias_gelu(float* x, const float* b, std::size_t n) {
  for (std::size_t j = 0; j < n; ++j) x[j] = gelu(x[j] + b[j]);
}

inline void layer_norm(float* x, const float* b, float* out, const float* gamma, const float* beta, std::size_t n,
                       float eps) {
  float acc[8] = {};
  for (std::size_t j = 0; j < n; ++j) {
    if (b) x[j] += b[j];
    acc[j % 8] += x[j];
  }
  const auto total = [](const float* a) {
    return ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]));
  };
  const float mean = total(acc) / static_cast<float>(n);
  float sq[8] = {};
  for (std::size_t j = 0; j < n; ++j) {
    const float d = x[j] - mean;
    sq[j % 8] += d * d;
  }
  const float inv = 1.f / std::sqrt(total(sq) / static_cast<float>(n) + eps);
  for (std::size_t j = 0; j < n; ++j) out[j] = (x[j] - mean) * inv * gamma[j] + beta[j];
}

}  // namespace plain

#if defined(LARIMAR_HAVE_X86_DISPATCH)
#define LARIMAR_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,fma,f16c")))
#define LARIMAR_TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))

// Cody–Waite constants: ln2 split so that n·ln2_hi is exact for |n| < 2⁹.
inline constexpr float log2e = 1.44269504088896341f, ln2_hi = 0.693145751953125f, ln2_lo = 1.42860682030941723e-6f;
inline constexpr float gelu_k = 2.f * 0.7978845608028654f;

namespace avx512 {

// Full-mask maskz forms: the plain max/min/roundscale/scalef start from _mm512_undefined_ps (GCC 12 flags it).
constexpr __mmask16 all = 0xFFFF;

LARIMAR_TARGET_AVX512 inline __m512 exp16(__m512 x) {
  x = _mm512_maskz_max_ps(all, _mm512_maskz_min_ps(all, x, _mm512_set1_ps(88.7f)), _mm512_set1_ps(-104.f));
  const __m512 n = _mm512_maskz_roundscale_ps(all, _mm512_mul_ps(x, _mm512_set1_ps(log2e)),
                                              _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(ln2_hi), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(ln2_lo), r);
  __m512 p = _mm512_set1_ps(1.f / 5040);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 720));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 120));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 24));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 6));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f));
  return _mm512_maskz_scalef_ps(all, p, n);  // p·2ⁿ, down to 0 and up to inf without integer tricks
}

LARIMAR_TARGET_AVX512 inline __mmask16 tail_mask(std::size_t left) {
  return left >= 16 ? all : static_cast<__mmask16>((1u << left) - 1u);
}

LARIMAR_TARGET_AVX512 inline float lane_max(__m512 v) {
  v = _mm512_maskz_max_ps(all, v, _mm512_mask_shuffle_f32x4(v, all, v, v, 0x4E));
  v = _mm512_maskz_max_ps(all, v, _mm512_mask_shuffle_f32x4(v, all, v, v, 0xB1));
  v = _mm512_maskz_max_ps(all, v, _mm512_mask_permute_ps(v, all, v, 0x4E));
  v = _mm512_maskz_max_ps(all, v, _mm512_mask_permute_ps(v, all, v, 0xB1));
  return _mm512_cvtss_f32(v);
}

LARIMAR_TARGET_AVX512 inline void softmax(float* s, std::size_t valid, std::size_t total) {
  __m512 best = _mm512_set1_ps(-INFINITY);
  for (std::size_t t = 0; t < valid; t += 16)
    best = _mm512_mask_max_ps(best, tail_mask(valid - t), best, _mm512_maskz_loadu_ps(tail_mask(valid - t), s + t));
  const __m512 m = _mm512_set1_ps(lane_max(best));
  __m512 sum = _mm512_setzero_ps();
  for (std::size_t t = 0; t < valid; t += 16) {
    const __mmask16 k = tail_mask(valid - t);
    const __m512 e = _mm512_maskz_mov_ps(k, exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, s + t), m)));
    sum = _mm512_add_ps(sum, e);
    _mm512_mask_storeu_ps(s + t, k, e);
  }
  const __m512 inv = _mm512_set1_ps(1.f / larimar::detail::simd::lane_sum(sum));
  for (std::size_t t = 0; t < valid; t += 16) {
    const __mmask16 k = tail_mask(valid - t);
    _mm512_mask_storeu_ps(s + t, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, s + t), inv));
  }
  for (std::size_t t = valid; t < total; ++t) s[t] = 0.f;
}

LARIMAR_TARGET_AVX512 inline void bias_gelu(float* x, const float* b, std::size_t n) {
  for (std::size_t j = 0; j < n; j += 16) {
    const __mmask16 k = tail_mask(n - j);
    const __m512 v = _mm512_add_ps(_mm512_maskz_loadu_ps(k, x + j), _mm512_maskz_loadu_ps(k, b + j));
    const __m512 v3 = _mm512_mul_ps(_mm512_mul_ps(v, v), v);
    const __m512 u = _mm512_mul_ps(_mm512_set1_ps(-gelu_k), _mm512_fmadd_ps(_mm512_set1_ps(0.044715f), v3, v));
    _mm512_mask_storeu_ps(x + j, k, _mm512_div_ps(v, _mm512_add_ps(_mm512_set1_ps(1.f), exp16(u))));
  }
}

LARIMAR_TARGET_AVX512 inline void layer_norm(float* x, const float* b, float* out, const float* gamma,
                                             const float* beta, std::size_t n, float eps) {
  __m512 sum = _mm512_setzero_ps();
  for (std::size_t j = 0; j < n; j += 16) {
    const __mmask16 k = tail_mask(n - j);
    __m512 v = _mm512_maskz_loadu_ps(k, x + j);
    if (b) {
      v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(k, b + j));
      _mm512_mask_storeu_ps(x + j, k, v);
    }
    sum = _mm512_add_ps(sum, v);
  }
  const float mean = larimar::detail::simd::lane_sum(sum) / static_cast<float>(n);
  const __m512 m = _mm512_set1_ps(mean);
  __m512 sq = _mm512_setzero_ps();
  for (std::size_t j = 0; j < n; j += 16) {
    const __mmask16 k = tail_mask(n - j);
    const __m512 d = _mm512_maskz_sub_ps(k, _mm512_maskz_loadu_ps(k, x + j), m);
    sq = _mm512_fmadd_ps(d, d, sq);
  }
  const __m512 inv =
      _mm512_set1_ps(1.f / std::sqrt(larimar::detail::simd::lane_sum(sq) / static_cast<float>(n) + eps));
  for (std::size_t j = 0; j < n; j += 16) {
    const __mmask16 k = tail_mask(n - j);
    const __m512 d = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + j), m), inv);
    _mm512_mask_storeu_ps(out + j, k,
                          _mm512_fmadd_ps(d, _mm512_maskz_loadu_ps(k, gamma + j), _mm512_maskz_loadu_ps(k, beta + j)));
  }
}

}  // namespace avx512

namespace avx2 {

// exp on [-87.3, 88.3] (inputs outside clamped: e⁻⁸⁷·³ ≈ 1.2e-38 stands in for anything smaller), 2ⁿ built in the
// exponent field.
LARIMAR_TARGET_AVX2 inline __m256 exp8(__m256 x) {
  x = _mm256_max_ps(_mm256_min_ps(x, _mm256_set1_ps(88.3f)), _mm256_set1_ps(-87.3f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(log2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(ln2_hi), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(ln2_lo), r);
  __m256 p = _mm256_set1_ps(1.f / 5040);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.f / 720));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.f / 120));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.f / 24));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.f / 6));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.f));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

LARIMAR_TARGET_AVX2 inline void softmax(float* s, std::size_t valid, std::size_t total) {
  float best = -INFINITY;
  std::size_t t = 0;
  __m256 b8 = _mm256_set1_ps(-INFINITY);
  for (; t + 8 <= valid; t += 8) b8 = _mm256_max_ps(b8, _mm256_loadu_ps(s + t));
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, b8);
  for (const float v : lanes) best = std::max(best, v);
  for (; t < valid; ++t) best = std::max(best, s[t]);
  const __m256 m = _mm256_set1_ps(best);
  __m256 sum = _mm256_setzero_ps();
  for (t = 0; t + 8 <= valid; t += 8) {
    const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(s + t), m));
    sum = _mm256_add_ps(sum, e);
    _mm256_storeu_ps(s + t, e);
  }
  float rest = 0.f;
  for (; t < valid; ++t) rest += (s[t] = std::exp(s[t] - best));
  const float inv = 1.f / (larimar::detail::simd::lane_sum(sum) + rest);
  const __m256 i8 = _mm256_set1_ps(inv);
  for (t = 0; t + 8 <= valid; t += 8) _mm256_storeu_ps(s + t, _mm256_mul_ps(_mm256_loadu_ps(s + t), i8));
  for (; t < valid; ++t) s[t] *= inv;
  for (; t < total; ++t) s[t] = 0.f;
}

LARIMAR_TARGET_AVX2 inline void bias_gelu(float* x, const float* b, std::size_t n) {
  std::size_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const __m256 v = _mm256_add_ps(_mm256_loadu_ps(x + j), _mm256_loadu_ps(b + j));
    const __m256 v3 = _mm256_mul_ps(_mm256_mul_ps(v, v), v);
    const __m256 u = _mm256_mul_ps(_mm256_set1_ps(-gelu_k), _mm256_fmadd_ps(_mm256_set1_ps(0.044715f), v3, v));
    _mm256_storeu_ps(x + j, _mm256_div_ps(v, _mm256_add_ps(_mm256_set1_ps(1.f), exp8(u))));
  }
  for (; j < n; ++j) x[j] = plain::gelu(x[j] + b[j]);
}

LARIMAR_TARGET_AVX2 inline void layer_norm(float* x, const float* b, float* out, const float* gamma, const float* beta,
                                           std::size_t n, float eps) {
  __m256 sum = _mm256_setzero_ps();
  std::size_t j = 0;
  for (; j + 8 <= n; j += 8) {
    __m256 v = _mm256_loadu_ps(x + j);
    if (b) {
      v = _mm256_add_ps(v, _mm256_loadu_ps(b + j));
      _mm256_storeu_ps(x + j, v);
    }
    sum = _mm256_add_ps(sum, v);
  }
  float rest = 0.f;
  for (; j < n; ++j) rest += (b ? (x[j] += b[j]) : x[j]);
  const float mean = (larimar::detail::simd::lane_sum(sum) + rest) / static_cast<float>(n);
  const __m256 m = _mm256_set1_ps(mean);
  __m256 sq = _mm256_setzero_ps();
  for (j = 0; j + 8 <= n; j += 8) {
    const __m256 d = _mm256_sub_ps(_mm256_loadu_ps(x + j), m);
    sq = _mm256_fmadd_ps(d, d, sq);
  }
  float sq_rest = 0.f;
  for (; j < n; ++j) sq_rest += (x[j] - mean) * (x[j] - mean);
  const float inv = 1.f / std::sqrt((larimar::detail::simd::lane_sum(sq) + sq_rest) / static_cast<float>(n) + eps);
  const __m256 i8 = _mm256_set1_ps(inv);
  for (j = 0; j + 8 <= n; j += 8) {
    const __m256 d = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + j), m), i8);
    _mm256_storeu_ps(out + j, _mm256_fmadd_ps(d, _mm256_loadu_ps(gamma + j), _mm256_loadu_ps(beta + j)));
  }
  for (; j < n; ++j) out[j] = (x[j] - mean) * inv * gamma[j] + beta[j];
}

}  // namespace avx2
#undef LARIMAR_TARGET_AVX512
#undef LARIMAR_TARGET_AVX2
#endif  // LARIMAR_HAVE_X86_DISPATCH

// The dispatched forms; `isa` above detected_cpu_isa() falls back to it.
inline void softmax(cpu_isa isa, float* s, std::size_t valid, std::size_t total) {
  isa = std::min(isa, detected_cpu_isa());
#if defined(LARIMAR_HAVE_X86_DISPATCH)
  if (isa == cpu_isa::avx512) return avx512::softmax(s, valid, total);
  if (isa == cpu_isa::avx2) return avx2::softmax(s, valid, total);
#endif
  plain::softmax(s, valid, total);
}
inline void bias_gelu(cpu_isa isa, float* x, const float* b, std::size_t n) {
  isa = std::min(isa, detected_cpu_isa());
#if defined(LARIMAR_HAVE_X86_DISPATCH)
  if (isa == cpu_isa::avx512) return avx512::bias_gelu(x, b, n);
  if (isa == cpu_isa::avx2) return avx2::bias_gelu(x, b, n);
#endif
  plain::bias_gelu(x, b, n);
}
inline void layer_norm(cpu_isa isa, float* x, const float* b, float* out, const float* gamma, const float* beta,
                       std::size_t n, float eps) {
  isa = std::min(isa, detected_cpu_isa());
#if defined(LARIMAR_HAVE_X86_DISPATCH)
  if (isa == cpu_isa::avx512) return avx512::layer_norm(x, b, out, gamma, beta, n, eps);
  if (isa == cpu_isa::avx2) return avx2::layer_norm(x, b, out, gamma, beta, n, eps);
#endif
  plain::layer_norm(x, b, out, gamma, beta, n, eps);
}

}  // namespace larimar::model::row_kernels

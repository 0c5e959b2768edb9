#pragma once
// Host kernels that read weights in their stored format (model/weight_matrix.hpp) and accumulate in fp32, with
// run-time dispatch (core/cpu_dispatch.hpp): an AVX-512 path, an AVX2 + FMA + F16C path and plain C++.
//   gemv       — y[r, o] = Σ_i x[r, i]·W[o, i] (+ beta·y[r, o]) for R ≤ max_rows input rows, output rows [o0, o1):
//                the batch-1 (and small-batch) decode product, one pass over the weights for all R rows, so it
//                reads weight_format_bytes per weight instead of 4;
//   widen_rows — rows [o0, o1) as fp32 into a scratch panel (int8: s·q, exactly weight_view::at), for the sgemm
//                of a prefill or a batch (model/weight_product.hpp).
// Numerics: products of a widened weight (exact for f16/bf16/f32; s·q is applied after the sum for int8) and an
// fp32 input, summed in fp32. The vector paths keep 16 (AVX-512) or 8 (AVX2) partial sums per output, added in a
// fixed order at the end; the plain path 8. For every path |ŷ − y| ≤ γ_(n+2)·Σ_i |x_i·ŵ_oi| (+ beta·y's rounding)
// against exact arithmetic on the stored values, γ_m = m·2⁻²⁴/(1 − m·2⁻²⁴), n = cols; results do not depend on
// how output rows are split over threads (each output is one thread's), only on the path.
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "larimar/core/cpu_dispatch.hpp"
#include "larimar/model/weight_matrix.hpp"

namespace larimar::model::weight_kernels {

inline constexpr std::size_t max_rows = 4;  // R of the fused GEMV
// How far ahead of the rows being read the vector paths prefetch (bytes). A block reads 4 rows of 0.75–6 KiB in
// step, short streams the hardware prefetcher is slow to pick up; 16 KiB ahead doubled the one-thread GEMV rate
// for int8 on a Zen 5 (1.5 → 3 weight bytes per ns) and helped f16/f32 less.
inline constexpr std::size_t prefetch_distance = 16384;

namespace plain {

// binary16 -> float without branches, so that the plain loops vectorise (larimar::f16_to_f32 branches on the kind of
// value): the 15 magnitude bits moved to binary32's place and scaled by 2^112 is exact for normals and subnormals
// (a power-of-two scaling); exponent 31 (inf/NaN) maps to 255 with the payload kept. Bit-identical to
// larimar::f16_to_f32 on all 65,536 patterns (tested) unless the program flushes denormal inputs to zero (DAZ, e.g.
// linked with -ffast-math), which turns f16 subnormals into zeros.
inline float f16_to_f32(std::uint16_t h) {
  const std::uint32_t magnitude = static_cast<std::uint32_t>(h & 0x7fffu) << 13;
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t scaled = std::bit_cast<std::uint32_t>(std::bit_cast<float>(magnitude) * 0x1p112f);
  const std::uint32_t bits = (h & 0x7c00u) == 0x7c00u ? (magnitude | 0x7f800000u) : scaled;
  return std::bit_cast<float>(bits | sign);
}

template <weight_format F>
inline float load(const void* data, std::size_t i) {
  if constexpr (F == weight_format::f16) return f16_to_f32(static_cast<const std::uint16_t*>(data)[i]);
  else if constexpr (F == weight_format::bf16) return larimar::bf16_to_f32(static_cast<const std::uint16_t*>(data)[i]);
  else if constexpr (F == weight_format::int8) return static_cast<float>(static_cast<const std::int8_t*>(data)[i]);
  else return static_cast<const float*>(data)[i];
}

template <weight_format F, std::size_t R>
void gemv(const weight_view& w, const float* x, std::size_t ldx, float beta, float* y, std::size_t ldy,
          std::size_t o0, std::size_t o1) {
  const std::size_t n = w.cols;
  for (std::size_t o = o0; o < o1; ++o) {
    const std::size_t base = o * n;
    float acc[R][8] = {};
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8)
      for (std::size_t j = 0; j < 8; ++j) {
        const float wv = load<F>(w.data, base + i + j);
        for (std::size_t r = 0; r < R; ++r) acc[r][j] += x[r * ldx + i + j] * wv;
      }
    for (std::size_t j = 0; i < n; ++i, ++j) {  // the tail goes into the partial sums in turn
      const float wv = load<F>(w.data, base + i);
      for (std::size_t r = 0; r < R; ++r) acc[r][j] += x[r * ldx + i] * wv;
    }
    for (std::size_t r = 0; r < R; ++r) {
      const float* a = acc[r];
      float s = ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]));
      if constexpr (F == weight_format::int8) s *= w.scale[o];
      float& out = y[r * ldy + o];
      out = beta == 0.f ? s : s + beta * out;
    }
  }
}

template <weight_format F>
void widen_rows(const weight_view& w, std::size_t o0, std::size_t o1, float* dst) {
  for (std::size_t o = o0; o < o1; ++o) {
    float* d = dst + (o - o0) * w.cols;
    const float scale = F == weight_format::int8 ? w.scale[o] : 1.f;
    for (std::size_t i = 0; i < w.cols; ++i) {
      const float v = load<F>(w.data, o * w.cols + i);
      d[i] = F == weight_format::int8 ? scale * v : v;
    }
  }
}

}  // namespace plain

#if defined(LARIMAR_HAVE_X86_DISPATCH)
#define LARIMAR_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,fma,f16c")))
#define LARIMAR_TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace avx512 {

// 16 values from element i on, as fp32 (int8: the integers; the scale comes after the sum). Full-mask maskz
// forms throughout: the plain conversions start from _mm512_undefined_*, which GCC 12 flags once inlined.
// 16 values from element i on, all present: plain loads (byte- and word-masked loads of a whole vector cost more
// than a plain one on some cores, Zen 5 among them: the masked forms are for the tail only).
template <weight_format F>
LARIMAR_TARGET_AVX512 inline __m512 load16(const void* data, std::size_t i) {
  if constexpr (F == weight_format::f16) {
    return _mm512_maskz_cvtph_ps(0xFFFF, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const std::uint16_t*>(data) + i)));
  } else if constexpr (F == weight_format::bf16) {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const std::uint16_t*>(data) + i));
    return _mm512_castsi512_ps(_mm512_maskz_slli_epi32(0xFFFF, _mm512_maskz_cvtepu16_epi32(0xFFFF, h), 16));
  } else if constexpr (F == weight_format::int8) {
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const std::int8_t*>(data) + i));
    return _mm512_maskz_cvtepi32_ps(0xFFFF, _mm512_maskz_cvtepi8_epi32(0xFFFF, b));
  } else {
    return _mm512_loadu_ps(static_cast<const float*>(data) + i);
  }
}

template <weight_format F>
LARIMAR_TARGET_AVX512 inline __m512 load16(const void* data, std::size_t i, __mmask16 m) {
  if constexpr (F == weight_format::f16) {
    const __m256i h = _mm256_maskz_loadu_epi16(m, static_cast<const std::uint16_t*>(data) + i);
    return _mm512_maskz_cvtph_ps(0xFFFF, h);
  } else if constexpr (F == weight_format::bf16) {
    const __m256i h = _mm256_maskz_loadu_epi16(m, static_cast<const std::uint16_t*>(data) + i);
    return _mm512_castsi512_ps(_mm512_maskz_slli_epi32(0xFFFF, _mm512_maskz_cvtepu16_epi32(0xFFFF, h), 16));
  } else if constexpr (F == weight_format::int8) {
    const __m128i b = _mm_maskz_loadu_epi8(m, static_cast<const std::int8_t*>(data) + i);
    return _mm512_maskz_cvtepi32_ps(0xFFFF, _mm512_maskz_cvtepi8_epi32(0xFFFF, b));
  } else {
    return _mm512_maskz_loadu_ps(m, static_cast<const float*>(data) + i);
  }
}

template <weight_format F, int R, int OB>
LARIMAR_TARGET_AVX512 inline void block(const weight_view& w, const float* x, std::size_t ldx, float beta, float* y,
                                        std::size_t ldy, std::size_t o) {
  const std::size_t n = w.cols;
  __m512 acc[R][OB];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int j = 0; j < OB; ++j) acc[r][j] = _mm512_setzero_ps();
  const auto* bytes = static_cast<const char*>(w.data);
  constexpr std::size_t size = F == weight_format::f32 ? 4 : F == weight_format::int8 ? 1 : 2;
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 wv[OB];
#pragma GCC unroll 4
    for (int j = 0; j < OB; ++j)
      _mm_prefetch(bytes + ((o + static_cast<std::size_t>(j)) * n + i) * size + prefetch_distance, _MM_HINT_T0);
#pragma GCC unroll 4
    for (int j = 0; j < OB; ++j) wv[j] = load16<F>(w.data, (o + static_cast<std::size_t>(j)) * n + i);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const __m512 xv = _mm512_loadu_ps(x + static_cast<std::size_t>(r) * ldx + i);
#pragma GCC unroll 4
      for (int j = 0; j < OB; ++j) acc[r][j] = _mm512_fmadd_ps(xv, wv[j], acc[r][j]);
    }
  }
  if (i < n) {
    const auto m = static_cast<__mmask16>((1u << (n - i)) - 1u);
    __m512 wv[OB];
#pragma GCC unroll 4
    for (int j = 0; j < OB; ++j) wv[j] = load16<F>(w.data, (o + static_cast<std::size_t>(j)) * n + i, m);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const __m512 xv = _mm512_maskz_loadu_ps(m, x + static_cast<std::size_t>(r) * ldx + i);
#pragma GCC unroll 4
      for (int j = 0; j < OB; ++j) acc[r][j] = _mm512_fmadd_ps(xv, wv[j], acc[r][j]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int j = 0; j < OB; ++j) {
      float s = larimar::detail::simd::lane_sum(acc[r][j]);
      if constexpr (F == weight_format::int8) s *= w.scale[o + static_cast<std::size_t>(j)];
      float& out = y[static_cast<std::size_t>(r) * ldy + o + static_cast<std::size_t>(j)];
      out = beta == 0.f ? s : s + beta * out;
    }
}

template <weight_format F, int R>
LARIMAR_TARGET_AVX512 void gemv(const weight_view& w, const float* x, std::size_t ldx, float beta, float* y,
                                std::size_t ldy, std::size_t o0, std::size_t o1) {
  std::size_t o = o0;
  for (; o + 4 <= o1; o += 4) block<F, R, 4>(w, x, ldx, beta, y, ldy, o);
  for (; o < o1; ++o) block<F, R, 1>(w, x, ldx, beta, y, ldy, o);
}

template <weight_format F>
LARIMAR_TARGET_AVX512 void widen_rows(const weight_view& w, std::size_t o0, std::size_t o1, float* dst) {
  const std::size_t n = w.cols;
  for (std::size_t o = o0; o < o1; ++o) {
    float* d = dst + (o - o0) * n;
    const __m512 s = _mm512_set1_ps(F == weight_format::int8 ? w.scale[o] : 1.f);
    std::size_t i = 0;
    for (; i + 16 <= n; i += 16) {
      __m512 v = load16<F>(w.data, o * n + i);
      if constexpr (F == weight_format::int8) v = _mm512_mul_ps(s, v);
      _mm512_storeu_ps(d + i, v);
    }
    if (i < n) {
      const auto m = static_cast<__mmask16>((1u << (n - i)) - 1u);
      __m512 v = load16<F>(w.data, o * n + i, m);
      if constexpr (F == weight_format::int8) v = _mm512_mul_ps(s, v);
      _mm512_mask_storeu_ps(d + i, m, v);
    }
  }
}

}  // namespace avx512

namespace avx2 {

template <weight_format F>
LARIMAR_TARGET_AVX2 inline __m256 load8(const void* data, std::size_t i) {
  if constexpr (F == weight_format::f16) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const std::uint16_t*>(data) + i)));
  } else if constexpr (F == weight_format::bf16) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const std::uint16_t*>(data) + i));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  } else if constexpr (F == weight_format::int8) {
    const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(static_cast<const std::int8_t*>(data) + i));
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b));
  } else {
    return _mm256_loadu_ps(static_cast<const float*>(data) + i);
  }
}

// 12 to 13 of the 16 ymm registers: R·OB accumulators, OB weights, one input.
template <int R>
inline constexpr int block_rows = R <= 2 ? 4 : 2;

template <weight_format F, int R, int OB>
LARIMAR_TARGET_AVX2 inline void block(const weight_view& w, const float* x, std::size_t ldx, float beta, float* y,
                                      std::size_t ldy, std::size_t o) {
  const std::size_t n = w.cols;
  __m256 acc[R][OB];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int j = 0; j < OB; ++j) acc[r][j] = _mm256_setzero_ps();
  const auto* bytes = static_cast<const char*>(w.data);
  constexpr std::size_t size = F == weight_format::f32 ? 4 : F == weight_format::int8 ? 1 : 2;
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 wv[OB];
#pragma GCC unroll 4
    for (int j = 0; j < OB; ++j)
      _mm_prefetch(bytes + ((o + static_cast<std::size_t>(j)) * n + i) * size + prefetch_distance, _MM_HINT_T0);
#pragma GCC unroll 4
    for (int j = 0; j < OB; ++j) wv[j] = load8<F>(w.data, (o + static_cast<std::size_t>(j)) * n + i);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const __m256 xv = _mm256_loadu_ps(x + static_cast<std::size_t>(r) * ldx + i);
#pragma GCC unroll 4
      for (int j = 0; j < OB; ++j) acc[r][j] = _mm256_fmadd_ps(xv, wv[j], acc[r][j]);
    }
  }
  float tail[R][OB] = {};  // the last n % 8 products, summed in order
  for (; i < n; ++i)
    for (int j = 0; j < OB; ++j) {
      const float wv = plain::load<F>(w.data, (o + static_cast<std::size_t>(j)) * n + i);
      for (int r = 0; r < R; ++r)  // an explicit FMA: the same rounding in every block shape
        tail[r][j] = std::fma(x[static_cast<std::size_t>(r) * ldx + i], wv, tail[r][j]);
    }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int j = 0; j < OB; ++j) {
      float s = larimar::detail::simd::lane_sum(acc[r][j]) + tail[r][j];
      if constexpr (F == weight_format::int8) s *= w.scale[o + static_cast<std::size_t>(j)];
      float& out = y[static_cast<std::size_t>(r) * ldy + o + static_cast<std::size_t>(j)];
      out = beta == 0.f ? s : s + beta * out;
    }
}

template <weight_format F, int R>
LARIMAR_TARGET_AVX2 void gemv(const weight_view& w, const float* x, std::size_t ldx, float beta, float* y,
                              std::size_t ldy, std::size_t o0, std::size_t o1) {
  constexpr int OB = block_rows<R>;
  std::size_t o = o0;
  for (; o + OB <= o1; o += OB) block<F, R, OB>(w, x, ldx, beta, y, ldy, o);
  for (; o < o1; ++o) block<F, R, 1>(w, x, ldx, beta, y, ldy, o);
}

template <weight_format F>
LARIMAR_TARGET_AVX2 void widen_rows(const weight_view& w, std::size_t o0, std::size_t o1, float* dst) {
  const std::size_t n = w.cols;
  for (std::size_t o = o0; o < o1; ++o) {
    float* d = dst + (o - o0) * n;
    const float scale = F == weight_format::int8 ? w.scale[o] : 1.f;
    const __m256 s = _mm256_set1_ps(scale);
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      __m256 v = load8<F>(w.data, o * n + i);
      if constexpr (F == weight_format::int8) v = _mm256_mul_ps(s, v);
      _mm256_storeu_ps(d + i, v);
    }
    for (; i < n; ++i) d[i] = w.at(o, i);
  }
}

}  // namespace avx2
#undef LARIMAR_TARGET_AVX512
#undef LARIMAR_TARGET_AVX2
#endif  // LARIMAR_HAVE_X86_DISPATCH

namespace detail {

// fn.template operator()<F, R>() for the run-time format and row count.
template <std::size_t R, class Fn>
void with_format(weight_format f, Fn&& fn) {
  switch (f) {
    case weight_format::f16: return fn.template operator()<weight_format::f16, R>();
    case weight_format::bf16: return fn.template operator()<weight_format::bf16, R>();
    case weight_format::int8: return fn.template operator()<weight_format::int8, R>();
    default: return fn.template operator()<weight_format::f32, R>();
  }
}
template <class Fn>
void with_format_and_rows(weight_format f, std::size_t rows, Fn&& fn) {
  switch (rows) {
    case 1: return with_format<1>(f, fn);
    case 2: return with_format<2>(f, fn);
    case 3: return with_format<3>(f, fn);
    default: return with_format<4>(f, fn);
  }
}

}  // namespace detail

// y[r·ldy + o] = Σ_i x[r·ldx + i]·W[o, i] (+ beta·y[r·ldy + o]; beta == 0: y is only written) for r < R and
// o ∈ [o0, o1). 1 ≤ R ≤ max_rows; host pointers; `isa` at most detected_cpu_isa() (higher falls back to it).
inline void gemv(cpu_isa isa, const weight_view& w, std::size_t R, const float* x, std::size_t ldx, float beta,
                 float* y, std::size_t ldy, std::size_t o0, std::size_t o1) {
  if (R == 0 || o0 >= o1) return;
  if (R > max_rows) throw value_error("weight_kernels::gemv: " + std::to_string(R) + " rows; at most 4");
  isa = std::min(isa, detected_cpu_isa());
  detail::with_format_and_rows(w.format, R, [&]<weight_format F, std::size_t N>() {
#if defined(LARIMAR_HAVE_X86_DISPATCH)
    if (isa == cpu_isa::avx512) return avx512::gemv<F, static_cast<int>(N)>(w, x, ldx, beta, y, ldy, o0, o1);
    if (isa == cpu_isa::avx2) return avx2::gemv<F, static_cast<int>(N)>(w, x, ldx, beta, y, ldy, o0, o1);
#endif
    plain::gemv<F, N>(w, x, ldx, beta, y, ldy, o0, o1);
  });
}

// dst[(o − o0)·cols + i] = W[o, i] as fp32, o ∈ [o0, o1). Host pointers.
inline void widen_rows(cpu_isa isa, const weight_view& w, std::size_t o0, std::size_t o1, float* dst) {
  if (o0 >= o1) return;
  if (w.format == weight_format::f32) {
    std::memcpy(dst, static_cast<const float*>(w.data) + o0 * w.cols, (o1 - o0) * w.cols * sizeof(float));
    return;
  }
  isa = std::min(isa, detected_cpu_isa());
  detail::with_format<1>(w.format, [&]<weight_format F, std::size_t>() {
#if defined(LARIMAR_HAVE_X86_DISPATCH)
    if (isa == cpu_isa::avx512) return avx512::widen_rows<F>(w, o0, o1, dst);
    if (isa == cpu_isa::avx2) return avx2::widen_rows<F>(w, o0, o1, dst);
#endif
    plain::widen_rows<F>(w, o0, o1, dst);
  });
}

}  // namespace larimar::model::weight_kernels

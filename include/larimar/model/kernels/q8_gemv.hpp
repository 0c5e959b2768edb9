#pragma once
// The int8 GEMV with the input quantised to int8 too (llama.cpp's q8_0 scheme for the activations), so the inner
// loop is 8-bit integer dot products: a quarter of the fp32 path's instructions per weight, which a one-core
// decode needs to stream int8 weights at memory speed. For R ≤ max_rows input rows and int8 weights (per-row
// scale s_o, q ∈ [−127, 127] as weight_matrix quantises them):
//   input   — per block of 32 values, t_b = max|x_b| / 127 and p_i = round(x_i / t_b) (nearest, ties to even);
//   product — y[r, o] = s_o · Σ_g t_(g/8) · Σ_(i ∈ g) p_i·q_oi over groups g of 4 consecutive inputs (one 32-bit
//             lane of the vector paths; the group sums are exact integers), + beta·y[r, o].
// Error against the fp32 product on the stored weights: |x_i − t_b·p_i| ≤ t_b/2, so
//   |ŷ − Σ_i x_i·ŵ_oi| ≤ s_o·Σ_b (t_b/2)·Σ_(i ∈ b) |q_oi| + γ_(n/4+2)·Σ_i |x_i·ŵ_oi| (+ beta·y's rounding),
// i.e. at most half an input step per block, weighted by the row's weights (tested against that bound).
// Paths: AVX-512 VNNI (vpdpbusd), AVX-512 BW (vpmaddubsw + vpmaddwd), AVX2 (the same in 256 bits), plain C++; all
// compute the same group sums exactly and differ only in the order of the fp32 additions.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "larimar/core/cpu_dispatch.hpp"
#include "larimar/model/kernels/weight_kernels.hpp"  // prefetch_distance
#include "larimar/model/weight_matrix.hpp"

namespace larimar::model::q8_gemv {

inline constexpr std::size_t block = 32;  // inputs per scale
inline constexpr std::size_t chunk = 64;  // inputs per padded unit (one zmm of int8)
inline constexpr std::size_t max_rows = 4;

// The quantised input rows: p (int8), |p| (uint8: the unsigned operand of the byte dot products) and one scale
// per group of 4, each row padded with zeros to a multiple of `chunk`.
struct quantized_input {
  std::size_t rows = 0, cols = 0, padded = 0;
  std::vector<std::int8_t> p;
  std::vector<std::uint8_t> magnitude;
  std::vector<float> group_scale;  // [rows × padded / 4]

  const std::int8_t* p_row(std::size_t r) const { return p.data() + r * padded; }
  const std::uint8_t* magnitude_row(std::size_t r) const { return magnitude.data() + r * padded; }
  const float* scale_row(std::size_t r) const { return group_scale.data() + r * padded / 4; }
};

// Rows r < R of x (stride ldx, cols values) quantised into q (its buffers reused across calls).
inline void quantize(const float* x, std::size_t ldx, std::size_t R, std::size_t cols, quantized_input& q) {
  q.rows = R;
  q.cols = cols;
  q.padded = (cols + chunk - 1) / chunk * chunk;
  q.p.assign(R * q.padded, 0);
  q.magnitude.assign(R * q.padded, 0);
  q.group_scale.assign(R * q.padded / 4, 0.f);
  for (std::size_t r = 0; r < R; ++r) {
    const float* xr = x + r * ldx;
    for (std::size_t b0 = 0; b0 < cols; b0 += block) {
      const std::size_t b1 = std::min(cols, b0 + block);
      float amax = 0.f;
      for (std::size_t i = b0; i < b1; ++i) amax = std::max(amax, std::fabs(xr[i]));
      const float t = amax / 127.f;
      const float inv = t > 0.f ? 1.f / t : 0.f;
      for (std::size_t i = b0; i < b1; ++i) {
        const auto v = static_cast<std::int8_t>(std::clamp(std::nearbyint(xr[i] * inv), -127.f, 127.f));
        q.p[r * q.padded + i] = v;
        q.magnitude[r * q.padded + i] = static_cast<std::uint8_t>(v < 0 ? -v : v);
      }
      for (std::size_t g = b0 / 4; g < (b0 + block) / 4; ++g) q.group_scale[r * q.padded / 4 + g] = t;
    }
  }
}

namespace plain {

inline void gemv(const weight_view& w, const quantized_input& x, float beta, float* y, std::size_t ldy,
                 std::size_t o0, std::size_t o1) {
  const std::size_t n = w.cols;
  const auto* q = static_cast<const std::int8_t*>(w.data);
  for (std::size_t o = o0; o < o1; ++o)
    for (std::size_t r = 0; r < x.rows; ++r) {
      const std::int8_t* p = x.p_row(r);
      const float* t = x.scale_row(r);
      float acc[8] = {};
      for (std::size_t g = 0; g * 4 < n; ++g) {
        std::int32_t s = 0;
        for (std::size_t i = g * 4; i < std::min(n, g * 4 + 4); ++i)
          s += static_cast<std::int32_t>(p[i]) * static_cast<std::int32_t>(q[o * n + i]);
        acc[g % 8] += t[g] * static_cast<float>(s);
      }
      const float sum = (((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]))) * w.scale[o];
      float& out = y[r * ldy + o];
      out = beta == 0.f ? sum : sum + beta * out;
    }
}

}  // namespace plain

#if defined(LARIMAR_HAVE_X86_DISPATCH)

namespace avx512 {

// The 16 group sums of one 64-input chunk: |p|·(sign(p)·q) (vpmaddubsw saturates at ±32767, never reached:
// 2·127·127 = 32258).
template <bool Vnni>
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"))) inline __m512i group_sums(__m512i magnitude,
                                                                                           __m512i signed_q) {
  if constexpr (Vnni) {
    return _mm512_dpbusd_epi32(_mm512_setzero_si512(), magnitude, signed_q);
  } else {
    return _mm512_madd_epi16(_mm512_maddubs_epi16(magnitude, signed_q), _mm512_set1_epi16(1));
  }
}

template <bool Vnni, int R, int OB>
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"))) inline void block_rows(
    const weight_view& w, const quantized_input& x, float beta, float* y, std::size_t ldy, std::size_t o) {
  const std::size_t n = w.cols;
  const auto* q = static_cast<const std::int8_t*>(w.data);
  __m512 acc[R][OB];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int j = 0; j < OB; ++j) acc[r][j] = _mm512_setzero_ps();
  for (std::size_t i = 0; i < n; i += chunk) {
    __m512i wq[OB];
    if (n - i >= chunk) {  // plain loads: a byte-masked load of a whole vector is slower on some cores (Zen 5)
#pragma GCC unroll 4
      for (int j = 0; j < OB; ++j) {
        const std::int8_t* at = q + (o + static_cast<std::size_t>(j)) * n + i;
        _mm_prefetch(reinterpret_cast<const char*>(at) + weight_kernels::prefetch_distance, _MM_HINT_T0);
        wq[j] = _mm512_loadu_si512(at);
      }
    } else {
      const __mmask64 m = (__mmask64(1) << (n - i)) - 1;
#pragma GCC unroll 4
      for (int j = 0; j < OB; ++j) wq[j] = _mm512_maskz_loadu_epi8(m, q + (o + static_cast<std::size_t>(j)) * n + i);
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const auto rr = static_cast<std::size_t>(r);
      const __m512i mag = _mm512_loadu_si512(x.magnitude_row(rr) + i);
      const __mmask64 negative = _mm512_movepi8_mask(_mm512_loadu_si512(x.p_row(rr) + i));
      const __m512 t = _mm512_loadu_ps(x.scale_row(rr) + i / 4);
#pragma GCC unroll 4
      for (int j = 0; j < OB; ++j) {
        const __m512i sq = _mm512_mask_sub_epi8(wq[j], negative, _mm512_setzero_si512(), wq[j]);
        const __m512 s = _mm512_maskz_cvtepi32_ps(0xFFFF, group_sums<Vnni>(mag, sq));
        acc[r][j] = _mm512_fmadd_ps(t, s, acc[r][j]);
      }
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int j = 0; j < OB; ++j) {
      const std::size_t oo = o + static_cast<std::size_t>(j);
      const float s = larimar::detail::simd::lane_sum(acc[r][j]) * w.scale[oo];
      float& out = y[static_cast<std::size_t>(r) * ldy + oo];
      out = beta == 0.f ? s : s + beta * out;
    }
}

template <bool Vnni, int R>
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"))) void gemv(const weight_view& w,
                                                                           const quantized_input& x, float beta,
                                                                           float* y, std::size_t ldy, std::size_t o0,
                                                                           std::size_t o1) {
  std::size_t o = o0;
  for (; o + 4 <= o1; o += 4) block_rows<Vnni, R, 4>(w, x, beta, y, ldy, o);
  for (; o < o1; ++o) block_rows<Vnni, R, 1>(w, x, beta, y, ldy, o);
}

}  // namespace avx512

namespace avx2 {

template <int R, int OB>
__attribute__((target("avx2,fma,f16c"))) inline void block_rows(const weight_view& w, const quantized_input& x,
                                                               float beta, float* y, std::size_t ldy, std::size_t o) {
  const std::size_t n = w.cols;
  const auto* q = static_cast<const std::int8_t*>(w.data);
  __m256 acc[R][OB];
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < OB; ++j) acc[r][j] = _mm256_setzero_ps();
  const __m256i ones = _mm256_set1_epi16(1);
  for (std::size_t i = 0; i < n; i += 32) {
    __m256i wq[OB];
    if (n - i >= 32) {
      for (int j = 0; j < OB; ++j) {
        const std::int8_t* at = q + (o + static_cast<std::size_t>(j)) * n + i;
        _mm_prefetch(reinterpret_cast<const char*>(at) + weight_kernels::prefetch_distance, _MM_HINT_T0);
        wq[j] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(at));
      }
    } else {  // the tail through a zeroed copy: AVX2 has no byte-masked load
      for (int j = 0; j < OB; ++j) {
        alignas(32) std::int8_t tail[32] = {};
        std::memcpy(tail, q + (o + static_cast<std::size_t>(j)) * n + i, n - i);
        wq[j] = _mm256_load_si256(reinterpret_cast<const __m256i*>(tail));
      }
    }
    for (int r = 0; r < R; ++r) {
      const auto rr = static_cast<std::size_t>(r);
      const __m256i mag = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.magnitude_row(rr) + i));
      const __m256i p = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.p_row(rr) + i));
      const __m256 t = _mm256_loadu_ps(x.scale_row(rr) + i / 4);
      for (int j = 0; j < OB; ++j) {
        const __m256i sums = _mm256_madd_epi16(_mm256_maddubs_epi16(mag, _mm256_sign_epi8(wq[j], p)), ones);
        acc[r][j] = _mm256_fmadd_ps(t, _mm256_cvtepi32_ps(sums), acc[r][j]);
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < OB; ++j) {
      const std::size_t oo = o + static_cast<std::size_t>(j);
      const float s = larimar::detail::simd::lane_sum(acc[r][j]) * w.scale[oo];
      float& out = y[static_cast<std::size_t>(r) * ldy + oo];
      out = beta == 0.f ? s : s + beta * out;
    }
}

template <int R>
__attribute__((target("avx2,fma,f16c"))) void gemv(const weight_view& w, const quantized_input& x, float beta,
                                                   float* y, std::size_t ldy, std::size_t o0, std::size_t o1) {
  constexpr int OB = R <= 2 ? 4 : 2;
  std::size_t o = o0;
  for (; o + OB <= o1; o += OB) block_rows<R, OB>(w, x, beta, y, ldy, o);
  for (; o < o1; ++o) block_rows<R, 1>(w, x, beta, y, ldy, o);
}

}  // namespace avx2
#endif  // LARIMAR_HAVE_X86_DISPATCH

// Whether the AVX-512 level can use VNNI here (Cascade Lake, Ice Lake, Zen 4 and later).
inline bool cpu_has_avx512_vnni() {
#if defined(LARIMAR_HAVE_X86_DISPATCH)
  static const bool has = __builtin_cpu_supports("avx512vnni");
  return has;
#else
  return false;
#endif
}

// y[r·ldy + o] = the product above for r < x.rows, o ∈ [o0, o1); w int8. `isa` at most detected_cpu_isa();
// vnni false forces the AVX-512 BW form where the CPU has VNNI (tests).
inline void gemv(cpu_isa isa, const weight_view& w, const quantized_input& x, float beta, float* y, std::size_t ldy,
                 std::size_t o0, std::size_t o1, bool vnni = true) {
  if (x.rows == 0 || o0 >= o1) return;
  isa = std::min(isa, detected_cpu_isa());
#if defined(LARIMAR_HAVE_X86_DISPATCH)
  const auto run = [&]<int R>() {
    if (isa == cpu_isa::avx512) {
      if (vnni && cpu_has_avx512_vnni()) return avx512::gemv<true, R>(w, x, beta, y, ldy, o0, o1);
      return avx512::gemv<false, R>(w, x, beta, y, ldy, o0, o1);
    }
    return avx2::gemv<R>(w, x, beta, y, ldy, o0, o1);
  };
  if (isa != cpu_isa::generic) {
    switch (x.rows) {
      case 1: return run.template operator()<1>();
      case 2: return run.template operator()<2>();
      case 3: return run.template operator()<3>();
      default: return run.template operator()<4>();
    }
  }
#else
  (void)vnni;
#endif
  plain::gemv(w, x, beta, y, ldy, o0, o1);
}

}  // namespace larimar::model::q8_gemv

#pragma once
// Causal attention of a prompt's rows as small GEMMs (host): for each head, and each block of `block_rows` query
// rows, S = scale·Q·Kᵀ over the cache slots up to the block's last row (Q read in place from the q|k|v rows,
// stride 3·width; K transposed once per head into a scratch, so 16 keys fill a vector), each row's softmax over
// its own slots with the later ones zeroed (the causal mask; row_kernels::softmax), then O = S·V written in place
// into the context rows (stride width). The per-(row, head) scans of kernels::cached_causal_attention do the same
// arithmetic one dot product at a time at the compiler's baseline.
//
// Heads are shared out over the OpenMP team, each computed by one thread from start to end: one fork per layer.
// (The BLAS would thread each of the ~100 small products per layer instead, and on shared cores every one of those
// joins waits for a descheduled thread: a two-thread prefill ran 2× slower than one thread that way.)
// Kernels: AVX-512 register tiles (4 rows × 32 keys for S, 4 rows × 64 values for O), and a plain C++ form whose
// inner loops run along keys / values (they vectorise without reassociation), compiled as it is for the generic
// level and with AVX2 + FMA enabled for the avx2 level.
//
// A "run" is a stretch of packed rows of one sequence at consecutive slots (a prompt); rows [r0, r0 + n) of the
// run attend to slots [0, slot0 + i] (the latent slots and any earlier context included).
#include <algorithm>
#include <cstddef>
#include <vector>

#include "larimar/backend/system.hpp"
#include "larimar/core/cpu_dispatch.hpp"
#include "larimar/model/kernels/row_kernels.hpp"

namespace larimar::model::kernels {

struct prompt_attention_shape {
  std::size_t width, head_dim, heads, capacity;
  float scale;
};

inline constexpr std::size_t prompt_attention_block_rows = 16;
inline constexpr std::size_t prompt_attention_key_tile = 32;  // keys per S tile (the transposed K's padding)

namespace prompt_attention_detail {

// The plain bodies are inlined into the avx2 wrappers so that they are compiled (vectorised) for that target.
#if defined(LARIMAR_HAVE_X86_DISPATCH)
#define LARIMAR_PLAIN_BODY [[gnu::always_inline]] inline
#else
#define LARIMAR_PLAIN_BODY inline
#endif

// s[i, t] = scale·Σ_d q[i, d]·kt[d, t] for i < rows, t < m.
LARIMAR_PLAIN_BODY void scores_plain(const float* q, std::size_t ldq, std::size_t rows, const float* kt,
                                                std::size_t ldk, std::size_t D, std::size_t m, float scale,
                                                float* s, std::size_t lds) {
  for (std::size_t i = 0; i < rows; ++i) {
    float* si = s + i * lds;
    for (std::size_t t = 0; t < m; ++t) si[t] = 0.f;
    for (std::size_t d = 0; d < D; ++d) {
      const float qd = q[i * ldq + d];
      const float* kd = kt + d * ldk;
      for (std::size_t t = 0; t < m; ++t) si[t] += qd * kd[t];
    }
    for (std::size_t t = 0; t < m; ++t) si[t] *= scale;
  }
}

// o[i, d] = Σ_t s[i, t]·v[t, d] for i < rows, d < D.
LARIMAR_PLAIN_BODY void values_plain(const float* s, std::size_t lds, std::size_t rows, const float* v,
                                                std::size_t D, std::size_t m, float* o, std::size_t ldo) {
  for (std::size_t i = 0; i < rows; ++i) {
    float* oi = o + i * ldo;
    for (std::size_t d = 0; d < D; ++d) oi[d] = 0.f;
    for (std::size_t t = 0; t < m; ++t) {
      const float p = s[i * lds + t];
      const float* vt = v + t * D;
      for (std::size_t d = 0; d < D; ++d) oi[d] += p * vt[d];
    }
  }
}

#if defined(LARIMAR_HAVE_X86_DISPATCH)
__attribute__((target("avx2,fma,f16c"))) inline void scores_avx2(const float* q, std::size_t ldq, std::size_t rows,
                                                             const float* kt, std::size_t ldk, std::size_t D,
                                                             std::size_t m, float scale, float* s, std::size_t lds) {
  scores_plain(q, ldq, rows, kt, ldk, D, m, scale, s, lds);
}
__attribute__((target("avx2,fma,f16c"))) inline void values_avx2(const float* s, std::size_t lds, std::size_t rows,
                                                             const float* v, std::size_t D, std::size_t m, float* o,
                                                             std::size_t ldo) {
  values_plain(s, lds, rows, v, D, m, o, ldo);
}

#define LARIMAR_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,fma,f16c")))

template <int RB>
LARIMAR_TARGET_AVX512 inline void scores_tile(const float* q, std::size_t ldq, const float* kt, std::size_t ldk,
                                              std::size_t D, std::size_t t0, std::size_t m, float scale, float* s,
                                              std::size_t lds) {
  __m512 acc[RB][2];
#pragma GCC unroll 4
  for (int r = 0; r < RB; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (std::size_t d = 0; d < D; ++d) {  // kt rows are padded to the key tile: whole loads
    const __m512 k0 = _mm512_loadu_ps(kt + d * ldk + t0), k1 = _mm512_loadu_ps(kt + d * ldk + t0 + 16);
#pragma GCC unroll 4
    for (int r = 0; r < RB; ++r) {
      const __m512 qb = _mm512_set1_ps(q[static_cast<std::size_t>(r) * ldq + d]);
      acc[r][0] = _mm512_fmadd_ps(qb, k0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(qb, k1, acc[r][1]);
    }
  }
  const __m512 sc = _mm512_set1_ps(scale);
  const __mmask16 m0 = row_kernels::avx512::tail_mask(m - t0);
  const __mmask16 m1 = m - t0 > 16 ? row_kernels::avx512::tail_mask(m - t0 - 16) : __mmask16(0);
#pragma GCC unroll 4
  for (int r = 0; r < RB; ++r) {
    float* sr = s + static_cast<std::size_t>(r) * lds + t0;
    _mm512_mask_storeu_ps(sr, m0, _mm512_mul_ps(acc[r][0], sc));
    _mm512_mask_storeu_ps(sr + 16, m1, _mm512_mul_ps(acc[r][1], sc));
  }
}

template <int RB>
LARIMAR_TARGET_AVX512 inline void scores_rows(const float* q, std::size_t ldq, const float* kt, std::size_t ldk,
                                              std::size_t D, std::size_t m, float scale, float* s, std::size_t lds) {
  for (std::size_t t0 = 0; t0 < m; t0 += prompt_attention_key_tile)
    scores_tile<RB>(q, ldq, kt, ldk, D, t0, m, scale, s, lds);
}

LARIMAR_TARGET_AVX512 inline void scores_avx512(const float* q, std::size_t ldq, std::size_t rows, const float* kt,
                                                std::size_t ldk, std::size_t D, std::size_t m, float scale, float* s,
                                                std::size_t lds) {
  std::size_t i = 0;
  for (; i + 4 <= rows; i += 4) scores_rows<4>(q + i * ldq, ldq, kt, ldk, D, m, scale, s + i * lds, lds);
  for (; i < rows; ++i) scores_rows<1>(q + i * ldq, ldq, kt, ldk, D, m, scale, s + i * lds, lds);
}

// Up to 64 outputs (4 vectors) of RB rows; Full: all 64 present (plain loads: masked ones are slow on some cores).
template <int RB, bool Full>
LARIMAR_TARGET_AVX512 inline void values_tile(const float* s, std::size_t lds, const float* v, std::size_t D,
                                              std::size_t c0, std::size_t m, float* o, std::size_t ldo) {
  __m512 acc[RB][4];
  __mmask16 mask[4];
#pragma GCC unroll 4
  for (int j = 0; j < 4; ++j) {
    const std::size_t at = c0 + 16 * static_cast<std::size_t>(j);
    mask[j] = at < D ? row_kernels::avx512::tail_mask(D - at) : __mmask16(0);
  }
#pragma GCC unroll 4
  for (int r = 0; r < RB; ++r)
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) acc[r][j] = _mm512_setzero_ps();
  for (std::size_t t = 0; t < m; ++t) {
    __m512 vv[4];
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {
      const float* at = v + t * D + c0 + 16 * static_cast<std::size_t>(j);
      vv[j] = Full ? _mm512_loadu_ps(at) : _mm512_maskz_loadu_ps(mask[j], at);
    }
#pragma GCC unroll 4
    for (int r = 0; r < RB; ++r) {
      const __m512 p = _mm512_set1_ps(s[static_cast<std::size_t>(r) * lds + t]);
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j) acc[r][j] = _mm512_fmadd_ps(p, vv[j], acc[r][j]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < RB; ++r)
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j)
      _mm512_mask_storeu_ps(o + static_cast<std::size_t>(r) * ldo + c0 + 16 * static_cast<std::size_t>(j), mask[j],
                            acc[r][j]);
}

template <int RB>
LARIMAR_TARGET_AVX512 inline void values_rows(const float* s, std::size_t lds, const float* v, std::size_t D,
                                              std::size_t m, float* o, std::size_t ldo) {
  std::size_t c0 = 0;
  for (; c0 + 64 <= D; c0 += 64) values_tile<RB, true>(s, lds, v, D, c0, m, o, ldo);
  if (c0 < D) values_tile<RB, false>(s, lds, v, D, c0, m, o, ldo);
}

LARIMAR_TARGET_AVX512 inline void values_avx512(const float* s, std::size_t lds, std::size_t rows, const float* v,
                                                std::size_t D, std::size_t m, float* o, std::size_t ldo) {
  std::size_t i = 0;
  for (; i + 4 <= rows; i += 4) values_rows<4>(s + i * lds, lds, v, D, m, o + i * ldo, ldo);
  for (; i < rows; ++i) values_rows<1>(s + i * lds, lds, v, D, m, o + i * ldo, ldo);
}
#undef LARIMAR_TARGET_AVX512
#endif  // LARIMAR_HAVE_X86_DISPATCH

inline void scores(cpu_isa isa, const float* q, std::size_t ldq, std::size_t rows, const float* kt, std::size_t ldk,
                   std::size_t D, std::size_t m, float scale, float* s, std::size_t lds) {
#if defined(LARIMAR_HAVE_X86_DISPATCH)
  if (isa == cpu_isa::avx512) return scores_avx512(q, ldq, rows, kt, ldk, D, m, scale, s, lds);
  if (isa == cpu_isa::avx2) return scores_avx2(q, ldq, rows, kt, ldk, D, m, scale, s, lds);
#endif
  (void)isa;
  scores_plain(q, ldq, rows, kt, ldk, D, m, scale, s, lds);
}
inline void values(cpu_isa isa, const float* s, std::size_t lds, std::size_t rows, const float* v, std::size_t D,
                   std::size_t m, float* o, std::size_t ldo) {
#if defined(LARIMAR_HAVE_X86_DISPATCH)
  if (isa == cpu_isa::avx512) return values_avx512(s, lds, rows, v, D, m, o, ldo);
  if (isa == cpu_isa::avx2) return values_avx2(s, lds, rows, v, D, m, o, ldo);
#endif
  (void)isa;
  values_plain(s, lds, rows, v, D, m, o, ldo);
}

#undef LARIMAR_PLAIN_BODY
}  // namespace prompt_attention_detail

// keys/values: this layer's cache block. block_rows: tests make it small to cover the block edges on a small model.
// `isa` at most detected_cpu_isa() (higher falls back to it).
inline void prompt_causal_attention(cpu_isa isa, const prompt_attention_shape& p, const float* qkv, const float* keys,
                                    const float* values, std::size_t sequence, std::size_t r0, std::size_t slot0,
                                    std::size_t n, float* out,
                                    std::size_t block_rows = prompt_attention_block_rows) {
  namespace pa = prompt_attention_detail;
  isa = std::min(isa, detected_cpu_isa());
  const std::size_t E = p.width, D = p.head_dim, B = std::max<std::size_t>(block_rows, 1);
  const std::size_t ld = slot0 + n;  // every slot a row of the run may see
  const std::size_t ldk = (ld + prompt_attention_key_tile - 1) / prompt_attention_key_tile * prompt_attention_key_tile;
  const auto heads = static_cast<std::ptrdiff_t>(p.heads);
  const bool parallel = p.heads > 1 && n * ld * D >= backend::serial_work_limit;
#if defined(_OPENMP)
#pragma omp parallel if (parallel)
#endif
  {
    std::vector<float> kt(D * ldk, 0.f), s(B * ld);  // per thread: K of one head transposed (padding zero), S
#if defined(_OPENMP)
#pragma omp for schedule(dynamic)
#endif
    for (std::ptrdiff_t hh = 0; hh < heads; ++hh) {
      const auto h = static_cast<std::size_t>(hh);
      const std::size_t base = (sequence * p.heads + h) * p.capacity * D;
      const float* k = keys + base;
      const float* v = values + base;
      for (std::size_t t = 0; t < ld; ++t)
        for (std::size_t d = 0; d < D; ++d) kt[d * ldk + t] = k[t * D + d];
      for (std::size_t a = 0; a < n; a += B) {
        const std::size_t rows = std::min(B, n - a), m = slot0 + a + rows;
        pa::scores(isa, qkv + (r0 + a) * 3 * E + h * D, 3 * E, rows, kt.data(), ldk, D, m, p.scale, s.data(), ld);
        for (std::size_t i = 0; i < rows; ++i) row_kernels::softmax(isa, s.data() + i * ld, slot0 + a + i + 1, m);
        pa::values(isa, s.data(), ld, rows, v, D, m, out + (r0 + a) * E + h * D, E);
      }
    }
  }
  (void)parallel;
}

}  // namespace larimar::model::kernels

#pragma once
// Exact batched nearest-neighbour scan over bf16 rows with AVX512-BF16 (vdpbf16ps: 32 bf16 products accumulated
// into 16 fp32 lanes per instruction), fused with the arg-max: no q×n score matrix, a running best per query.
// nearest_index uses it for lookup_precision bf16 with T = float on host-accessible storage when the CPU has
// avx512bf16 (checked at run time); elsewhere the rows are widened to fp32 for an sgemm (nearest_index.hpp).
//
// Numerics: the query is rounded to bf16 once per search (the instruction multiplies bf16 by bf16), so the score
// drift against fp32 has a query-side term too: |(q̂ − q)·r̂| ≤ u·‖q‖·‖r̂‖ ≈ u = 2⁻⁸ for a unit query, on top of
// the rows' own u (core/precision.hpp): 2u + u² in all, and a hit is decided where the top-2 gap exceeds twice that. Products of two bf16 values are exact in fp32; they are summed in
// fp32, dim/16 additions per lane and a 16-lane tree, i.e. γ_(dim/16+5)·Σ|q̂_j·r̂_j| with γ_m = m·2⁻²⁴/(1 − m·2⁻²⁴),
// about 3e-6 at dim = 768. vdpbf16ps flushes denormal inputs and results to zero (≤ 2⁻¹²⁶ per term).
//
// Layout: the rows stay as stored (row-major, n×dim, no extra copy: 0 extra bytes in the index; the scratch is the
// rounded queries, q×dim×2 bytes, and one best per query per thread); each step reads 32 bf16 of block_rows rows
// and of block_queries queries and keeps block_queries×block_rows accumulators in registers (24 of 32 zmm).
// Work is split over tiles of tile_rows rows, dynamically over the OpenMP team (a thread that the OS deschedules
// holds up one tile, not half the table); ties go to the lowest position however the tiles were shared out (argmax),
// or to the lowest key (top_k: the entry ids the caller passes).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "larimar/core/cpu_dispatch.hpp"
#include "larimar/core/half.hpp"
#include "larimar/memory/detail/top_k_select.hpp"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__CUDACC__)
#define LARIMAR_HAVE_BF16_SCAN 1
#include <immintrin.h>
#endif

namespace larimar::detail::bf16_scan {

struct hit {
  float score;
  std::size_t position;
};
// The order that makes the result independent of how the rows were split: higher score, then lower position.
inline bool better(float score, std::size_t position, const hit& h) {
  return score > h.score || (score == h.score && position < h.position);
}

#if defined(LARIMAR_HAVE_BF16_SCAN)
constexpr std::size_t block_queries = 6, block_rows = 4, tile_rows = 128;

inline bool supported() {
  static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512bf16");
  return has;
}

using simd::lane_sum;  // core/cpu_dispatch.hpp

// out[i·RB + j] = q_i · r_j for QB queries (stride dim) and RB rows (stride dim), all bf16.
template <int QB, int RB>
__attribute__((target("avx512f,avx512bw,avx512bf16"))) inline void dots(const std::uint16_t* q, const std::uint16_t* r,
                                                                        std::size_t dim, float* out) {
  __m512 acc[QB][RB];
#pragma GCC unroll 8
  for (int i = 0; i < QB; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < RB; ++j) acc[i][j] = _mm512_setzero_ps();
  std::size_t k = 0;
  for (; k + 32 <= dim; k += 32) {
    __m512bh a[QB];
#pragma GCC unroll 8
    for (int i = 0; i < QB; ++i) a[i] = (__m512bh)_mm512_loadu_si512(q + static_cast<std::size_t>(i) * dim + k);
#pragma GCC unroll 8
    for (int j = 0; j < RB; ++j) {
      const __m512bh b = (__m512bh)_mm512_loadu_si512(r + static_cast<std::size_t>(j) * dim + k);
#pragma GCC unroll 8
      for (int i = 0; i < QB; ++i) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], a[i], b);
    }
  }
  if (k < dim) {  // the last dim % 32 values: masked loads read nothing past the row and put zeros in the lanes
    const auto m = static_cast<__mmask32>((std::uint64_t{1} << (dim - k)) - 1);
    __m512bh a[QB];
#pragma GCC unroll 8
    for (int i = 0; i < QB; ++i) a[i] = (__m512bh)_mm512_maskz_loadu_epi16(m, q + static_cast<std::size_t>(i) * dim + k);
#pragma GCC unroll 8
    for (int j = 0; j < RB; ++j) {
      const __m512bh b = (__m512bh)_mm512_maskz_loadu_epi16(m, r + static_cast<std::size_t>(j) * dim + k);
#pragma GCC unroll 8
      for (int i = 0; i < QB; ++i) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], a[i], b);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < QB; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < RB; ++j) out[i * RB + j] = lane_sum(acc[i][j]);
}

// The same for nq ≤ block_queries queries (the last block of a batch).
template <int RB>
inline void dots_n(std::size_t nq, const std::uint16_t* q, const std::uint16_t* r, std::size_t dim, float* out) {
  switch (nq) {
    case 1: return dots<1, RB>(q, r, dim, out);
    case 2: return dots<2, RB>(q, r, dim, out);
    case 3: return dots<3, RB>(q, r, dim, out);
    case 4: return dots<4, RB>(q, r, dim, out);
    case 5: return dots<5, RB>(q, r, dim, out);
    default: return dots<6, RB>(q, r, dim, out);
  }
}
static_assert(block_queries == 6, "dots_n dispatches 1..6 queries");

// Rows [r0, r1) against every query, in increasing order: keep(i, score, row) for each pair.
template <class Keep>
inline void scan_tile(const std::uint16_t* q, std::size_t nq_all, const std::uint16_t* rows, std::size_t dim,
                      std::size_t r0, std::size_t r1, Keep&& keep) {
  float s[block_queries * block_rows];
  for (std::size_t i0 = 0; i0 < nq_all; i0 += block_queries) {
    const std::size_t nq = std::min(block_queries, nq_all - i0);
    const std::uint16_t* qb = q + i0 * dim;
    std::size_t r = r0;
    for (; r + block_rows <= r1; r += block_rows) {
      dots_n<block_rows>(nq, qb, rows + r * dim, dim, s);
      for (std::size_t i = 0; i < nq; ++i)
        for (std::size_t j = 0; j < block_rows; ++j) keep(i0 + i, s[i * block_rows + j], r + j);
    }
    for (; r < r1; ++r) {
      dots_n<1>(nq, qb, rows + r * dim, dim, s);
      for (std::size_t i = 0; i < nq; ++i) keep(i0 + i, s[i], r);
    }
  }
}

inline std::vector<std::uint16_t> rounded_queries(const float* queries, std::size_t n) {
  std::vector<std::uint16_t> qb(n);  // the one rounding of the queries
  for (std::size_t i = 0; i < n; ++i) qb[i] = larimar::f32_to_bf16(queries[i]);
  return qb;
}

// The best row for each of q fp32 queries (host pointer, q×dim) among n bf16 rows (host pointer, n×dim); n > 0.
// Only call when supported().
inline std::vector<hit> argmax(const float* queries, std::size_t q, const std::uint16_t* rows, std::size_t n,
                               std::size_t dim) {
  const auto qb = rounded_queries(queries, q * dim);
  const hit none{-std::numeric_limits<float>::infinity(), 0};
  std::vector<hit> best(q, none);
  const auto tiles = static_cast<std::ptrdiff_t>((n + tile_rows - 1) / tile_rows);
#if defined(_OPENMP)  // serial without -fopenmp
#pragma omp parallel if (tiles > 1)
#endif
  {
    std::vector<hit> mine(q, none);
    auto keep = [&mine](std::size_t i, float score, std::size_t r) {
      if (better(score, r, mine[i])) mine[i] = hit{score, r};
    };
#if defined(_OPENMP)
#pragma omp for schedule(dynamic) nowait
#endif
    for (std::ptrdiff_t t = 0; t < tiles; ++t) {
      const std::size_t r0 = static_cast<std::size_t>(t) * tile_rows;
      scan_tile(qb.data(), q, rows, dim, r0, std::min(n, r0 + tile_rows), keep);
    }
#if defined(_OPENMP)
#pragma omp critical(larimar_bf16_scan_merge)
#endif
    for (std::size_t i = 0; i < q; ++i)
      if (better(mine[i].score, mine[i].position, best[i])) best[i] = mine[i];
  }
  return best;
}

// The k best rows (k ≤ n) for each of q queries, best first: q×k hits, query i's at [i·k, i·k + k). Equal scores
// put the row with the lower keys[row] first (top_k_select.hpp), however the tiles were shared out.
inline std::vector<hit> top_k(const float* queries, std::size_t q, const std::uint16_t* rows, std::size_t n,
                              std::size_t dim, std::size_t k, const std::size_t* keys) {
  const auto qb = rounded_queries(queries, q * dim);
  std::vector<top_k_list<float>> best(q, top_k_list<float>(k));
  const auto tiles = static_cast<std::ptrdiff_t>((n + tile_rows - 1) / tile_rows);
#if defined(_OPENMP)
#pragma omp parallel if (tiles > 1)
#endif
  {
    std::vector<top_k_list<float>> mine(q, top_k_list<float>(k));
    auto keep = [&mine, keys](std::size_t i, float score, std::size_t r) { mine[i].offer(score, keys[r], r); };
#if defined(_OPENMP)
#pragma omp for schedule(dynamic) nowait
#endif
    for (std::ptrdiff_t t = 0; t < tiles; ++t) {
      const std::size_t r0 = static_cast<std::size_t>(t) * tile_rows;
      scan_tile(qb.data(), q, rows, dim, r0, std::min(n, r0 + tile_rows), keep);
    }
#if defined(_OPENMP)
#pragma omp critical(larimar_bf16_scan_merge)
#endif
    for (std::size_t i = 0; i < q; ++i) best[i].merge(mine[i]);
  }
  std::vector<hit> out;
  out.reserve(q * k);
  for (auto& list : best)
    for (const auto& c : list.take_sorted()) out.push_back(hit{c.score, c.position});
  return out;
}
#else
inline bool supported() { return false; }
#endif

}  // namespace larimar::detail::bf16_scan

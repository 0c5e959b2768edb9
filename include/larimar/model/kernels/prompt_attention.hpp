#pragma once
// Causal attention of a prompt's rows as GEMMs (host): for each head, and each block of `block_rows` query rows,
// S = scale·Q·Kᵀ over the cache slots up to the block's last row (one sgemm: Q read in place from the q|k|v rows,
// stride 3·width; K from the cache), each row's softmax over its own slots with the later ones zeroed (the causal
// mask; row_kernels::softmax), then O = S·V (one sgemm, written in place into the context rows, stride width).
// The per-(row, head) scans of kernels::cached_causal_attention do the same arithmetic one dot product at a time
// at the compiler's baseline; as GEMMs it runs at the BLAS rate, and the blocks keep the work above the diagonal
// to block_rows/2 per row. The BLAS threads each sgemm; the softmax rows are shared out over the OpenMP team.
//
// A "run" is a stretch of packed rows of one sequence at consecutive slots (a prompt); rows [r0, r0 + n) of the
// run attend to slots [0, slot[r0] + i] (the latent slots and any earlier context included).
#include <algorithm>
#include <cstddef>

#include "larimar/backend/blas.hpp"
#include "larimar/backend/system.hpp"
#include "larimar/core/cpu_dispatch.hpp"
#include "larimar/model/kernels/row_kernels.hpp"

namespace larimar::model::kernels {

struct prompt_attention_shape {
  std::size_t width, head_dim, heads, capacity;
  float scale;
};

inline constexpr std::size_t prompt_attention_block_rows = 64;

// scores: at least n·(slot0 + n) floats of scratch. keys/values: this layer's cache block. block_rows: tests
// make it small to cover the block edges on a small model.
inline void prompt_causal_attention(const backend::blas<backend::host>& blas, cpu_isa isa,
                                    const prompt_attention_shape& p, const float* qkv, const float* keys,
                                    const float* values, std::size_t sequence, std::size_t r0, std::size_t slot0,
                                    std::size_t n, float* scores, float* out,
                                    std::size_t block_rows = prompt_attention_block_rows) {
  using backend::transpose;
  const std::size_t E = p.width, D = p.head_dim, B = std::max<std::size_t>(block_rows, 1);
  const std::size_t ld = slot0 + n;  // score row stride: every slot a row of the run may see
  for (std::size_t h = 0; h < p.heads; ++h) {
    const std::size_t base = (sequence * p.heads + h) * p.capacity * D;
    const float* k = keys + base;
    const float* v = values + base;
    for (std::size_t a = 0; a < n; a += B) {
      const std::size_t rows = std::min(B, n - a), m = slot0 + a + rows;
      blas.gemm(transpose::no, transpose::yes, rows, m, D, p.scale, qkv + (r0 + a) * 3 * E + h * D, 3 * E, k, D, 0.f,
                scores + a * ld, ld);
    }
    const auto count = static_cast<std::ptrdiff_t>(n);
    const bool parallel = n * ld >= backend::serial_work_limit / 8;
#if defined(_OPENMP)
#pragma omp parallel for schedule(static) if (parallel)
#endif
    for (std::ptrdiff_t i = 0; i < count; ++i) {
      const auto row = static_cast<std::size_t>(i);
      const std::size_t block_end = std::min(n, (row / B + 1) * B);
      row_kernels::softmax(isa, scores + row * ld, slot0 + row + 1, slot0 + block_end);
    }
    (void)parallel;
    for (std::size_t a = 0; a < n; a += B) {
      const std::size_t rows = std::min(B, n - a), m = slot0 + a + rows;
      blas.gemm(transpose::no, transpose::no, rows, D, m, 1.f, scores + a * ld, ld, v, D, 0.f,
                out + (r0 + a) * E + h * D, E);
    }
  }
}

}  // namespace larimar::model::kernels

#pragma once
// The products that use weights: y[R × rows] = x[R × cols]·Wᵀ (+ beta·y) for a weight_matrix W in any format,
// on backend buffers. Row strides ldx / ldy are in elements; beta 0 (overwrite) or 1 (accumulate into a
// residual stream) in the model code, any value allowed.
//   host, R ≤ 4          — the fused GEMV (model/kernels/weight_kernels.hpp): one pass over the weights for all R
//                          rows, output rows shared out over the OpenMP team in tiles (decode); f32 included above
//                          the generic level (it streams the weights faster than OpenBLAS's sgemv); int8 weights
//                          with fp32 inputs (exact on the stored weights) or, use_int8_activations(true), with the
//                          inputs quantised to int8 as well (model/kernels/q8_gemv.hpp, its error bound there);
//   f32 weights          — otherwise the BLAS (sgemm; cuBLAS);
//   otherwise, narrow    — panels of output rows widened to fp32 into a scratch buffer (panel_elements values at
//                          most), each followed by one sgemm against it: the BLAS rate for prefills and batches,
//                          with a scratch that stays in L2/L3 on the host (2 MiB: narrower panels made the sgemm
//                          calls too thin for 3072-wide rows) and is 64 MiB on CUDA.
// One object per decoder / encoder (the scratch is mutable state: one thread at a time, like the cuBLAS handle).
#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string>

#include "larimar/backend/blas.hpp"
#include "larimar/backend/system.hpp"
#include "larimar/core/cpu_dispatch.hpp"
#include "larimar/core/error.hpp"
#include "larimar/model/kernels/q8_gemv.hpp"
#include "larimar/model/kernels/weight_kernels.hpp"
#include "larimar/model/weight_matrix.hpp"

namespace larimar::model {

namespace kernels {
// dst[i] = W[o0 + i / cols, i % cols] as fp32: a panel of rows, widened on the backend (the CUDA path).
struct widen_weight_rows {
  weight_view w;
  std::size_t o0;
  float* dst;
  LARIMAR_HOST_DEVICE void operator()(std::size_t i) const { dst[i] = w.at(o0 + i / w.cols, i % w.cols); }
};
}  // namespace kernels

template <backend::thrust_backend Backend>
class weight_product {
 public:
  static constexpr std::size_t fused_max_rows = weight_kernels::max_rows;
  static constexpr std::size_t default_panel_elements =
      std::same_as<Backend, backend::omp> ? std::size_t{1} << 19 : std::size_t{1} << 24;
  static constexpr std::size_t tile_rows = 64;  // output rows per OpenMP work item of the fused GEMV

  // The instruction-set level of the host kernels (default cpu_isa_in_use()); above detected_cpu_isa() is a
  // value_error. Tests and benchmarks force generic / avx2 / avx512 with it.
  void use_cpu_isa(cpu_isa isa) {
    if (isa > detected_cpu_isa())
      throw value_error(std::string("weight_product: this processor has no ") + cpu_isa_name(isa) + " path (it has " +
                        cpu_isa_name(detected_cpu_isa()) + ")");
    isa_ = isa;
  }
  cpu_isa isa() const { return isa_; }
  // int8 weights in the fused GEMV: keep the input rows fp32 (default) or quantise them to int8 too.
  void use_int8_activations(bool on) { int8_activations_ = on; }
  bool int8_activations() const { return int8_activations_; }
  // The largest panel widened for one sgemm (values; at least one row is always taken).
  void set_panel_elements(std::size_t n) { panel_elements_ = std::max<std::size_t>(n, 1); }
  std::size_t panel_elements() const { return panel_elements_; }

  void operator()(const backend::blas<Backend>& blas, const weight_matrix<Backend>& w, std::size_t R, const float* x,
                  std::size_t ldx, float beta, float* y, std::size_t ldy) const {
    using backend::transpose;
    const std::size_t rows = w.rows(), cols = w.cols();
    if (R == 0 || rows == 0) return;
    if constexpr (std::same_as<Backend, backend::omp>) {
      // f32 at the generic level stays with the BLAS's sgemv (vectorised for CPUs we have no path for)
      if (R <= fused_max_rows && (w.format() != weight_format::f32 || isa_ != cpu_isa::generic)) {
        fused(w.view(), R, x, ldx, beta, y, ldy);
        return;
      }
    }
    if (w.format() == weight_format::f32) {
      blas.gemm(transpose::no, transpose::yes, R, rows, cols, 1.f, x, ldx, w.f32_data(), cols, beta, y, ldy);
      return;
    }
    const weight_view v = w.view();
    const std::size_t panel_rows = std::clamp<std::size_t>(panel_elements_ / std::max<std::size_t>(cols, 1), 1, rows);
    backend::ensure_size(panel_, panel_rows * cols);
    float* panel = backend::raw<float>(panel_);
    for (std::size_t o0 = 0; o0 < rows; o0 += panel_rows) {
      const std::size_t o1 = std::min(rows, o0 + panel_rows);
      widen(v, o0, o1, panel);
      blas.gemm(transpose::no, transpose::yes, R, o1 - o0, cols, 1.f, x, ldx, panel, cols, beta, y + o0, ldy);
    }
  }

 private:
  void fused(const weight_view& v, std::size_t R, const float* x, std::size_t ldx, float beta, float* y,
             std::size_t ldy) const {
    const std::size_t tiles = (v.rows + tile_rows - 1) / tile_rows;
    const cpu_isa isa = isa_;
    const bool parallel = tiles > 1 && R * v.rows * v.cols >= backend::serial_work_limit;
    const auto count = static_cast<std::ptrdiff_t>(tiles);
    if (v.format == weight_format::int8 && int8_activations_) {
      q8_gemv::quantize(x, ldx, R, v.cols, q8_input_);
      const q8_gemv::quantized_input& q = q8_input_;
#if defined(_OPENMP)
#pragma omp parallel for schedule(dynamic) if (parallel)
#endif
      for (std::ptrdiff_t t = 0; t < count; ++t) {
        const std::size_t o0 = static_cast<std::size_t>(t) * tile_rows;
        q8_gemv::gemv(isa, v, q, beta, y, ldy, o0, std::min(v.rows, o0 + tile_rows));
      }
      return;
    }
#if defined(_OPENMP)
#pragma omp parallel for schedule(dynamic) if (parallel)
#endif
    for (std::ptrdiff_t t = 0; t < count; ++t) {
      const std::size_t o0 = static_cast<std::size_t>(t) * tile_rows;
      weight_kernels::gemv(isa, v, R, x, ldx, beta, y, ldy, o0, std::min(v.rows, o0 + tile_rows));
    }
    (void)parallel;
  }

  void widen(const weight_view& v, std::size_t o0, std::size_t o1, float* panel) const {
    if constexpr (std::same_as<Backend, backend::omp>) {
      const std::size_t n = o1 - o0, chunk = 16;
      const auto count = static_cast<std::ptrdiff_t>((n + chunk - 1) / chunk);
      const bool parallel = count > 1 && n * v.cols >= backend::serial_work_limit;
      const cpu_isa isa = isa_;
#if defined(_OPENMP)
#pragma omp parallel for schedule(static) if (parallel)
#endif
      for (std::ptrdiff_t c = 0; c < count; ++c) {
        const std::size_t a = o0 + static_cast<std::size_t>(c) * chunk;
        weight_kernels::widen_rows(isa, v, a, std::min(o1, a + chunk), panel + (a - o0) * v.cols);
      }
      (void)parallel;
    } else {
      backend::for_each_index<Backend>((o1 - o0) * v.cols, kernels::widen_weight_rows{v, o0, panel});
    }
  }

  cpu_isa isa_ = cpu_isa_in_use();
  std::size_t panel_elements_ = default_panel_elements;
  bool int8_activations_ = false;
  mutable backend::device_buffer<Backend, float> panel_;
  mutable q8_gemv::quantized_input q8_input_;  // host: the quantised input rows of the last int8 GEMV
};

}  // namespace larimar::model

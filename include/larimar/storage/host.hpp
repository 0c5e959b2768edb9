#pragma once
// storage::host — the memory in host RAM as xtensor matrices, with OpenBLAS/LAPACK underneath.
// This is where the paper keeps the memory: it grows with the context and never touches the GPU.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "larimar/core/error.hpp"
#include "larimar/core/precision.hpp"
#include "larimar/storage/concepts.hpp"
#include "larimar/storage/detail/host_lapack.hpp"

namespace larimar::storage {

struct host {
  static constexpr const char* name = "host";
  static constexpr bool host_accessible = true;  // storage pointers are host pointers

  template <class T>
  using matrix = xt::xtensor<T, 2>;

  template <class T>
  static matrix<T> make(std::size_t rows, std::size_t cols) {
    return matrix<T>(std::array<std::size_t, 2>{rows, cols}, T(0));
  }
  template <class T>
  static std::size_t rows(const matrix<T>& m) { return m.shape()[0]; }
  template <class T>
  static std::size_t cols(const matrix<T>& m) { return m.shape()[1]; }
  template <class T>
  static T* data(matrix<T>& m) { return m.data(); }
  template <class T>
  static const T* data(const matrix<T>& m) { return m.data(); }

  template <class T>
  static void resize_rows(matrix<T>& m, std::size_t new_rows) {
    if (new_rows == rows(m)) return;
    matrix<T> grown = make<T>(new_rows, cols(m));
    const std::size_t keep = std::min(new_rows, rows(m)) * cols(m);
    if (keep) std::memcpy(grown.data(), m.data(), keep * sizeof(T));
    m = std::move(grown);
  }

  template <class T>
  static void upload(const T* src, std::size_t n, T* dst) { if (n) std::memmove(dst, src, n * sizeof(T)); }
  template <class T>
  static void download(const T* src, std::size_t n, T* dst) { if (n) std::memmove(dst, src, n * sizeof(T)); }
  template <class T>
  static void copy(const T* src, std::size_t n, T* dst) { if (n) std::memmove(dst, src, n * sizeof(T)); }
  template <class T>
  static void fill(T* dst, std::size_t n, T value) { std::fill_n(dst, n, value); }
  template <class T>
  static void transpose(const T* a, std::size_t rows, std::size_t cols, T* out) {
    constexpr std::size_t tile = 32;  // cache blocking
    for (std::size_t i0 = 0; i0 < rows; i0 += tile)
      for (std::size_t j0 = 0; j0 < cols; j0 += tile)
        for (std::size_t i = i0; i < std::min(rows, i0 + tile); ++i)
          for (std::size_t j = j0; j < std::min(cols, j0 + tile); ++j) out[j * rows + i] = a[i * cols + j];
  }
  template <class T>
  static void set_identity(T* dst, std::size_t rows, std::size_t cols, T diag) {
    std::fill_n(dst, rows * cols, T(0));
    for (std::size_t i = 0; i < std::min(rows, cols); ++i) dst[i * cols + i] = diag;
  }

  template <class T>
  static void gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, T alpha, const T* a,
                   std::size_t lda, const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc) {
    detail::gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
  template <class T>
  static void axpby(std::size_t n, T a, const T* x, T b, T* y) {
    for (std::size_t i = 0; i < n; ++i) y[i] = a * x[i] + b * y[i];
  }
  template <class T>
  static T dot(std::size_t n, const T* x, const T* y) {
    T s(0);
    for (std::size_t i = 0; i < n; ++i) s += x[i] * y[i];
    return s;
  }
  template <class T>
  static void normalize_rows(T* a, std::size_t rows, std::size_t cols) {
    for (std::size_t i = 0; i < rows; ++i) {
      T* r = a + i * cols;
      const T norm = std::sqrt(dot(cols, r, r));
      if (norm > T(0))
        for (std::size_t j = 0; j < cols; ++j) r[j] /= norm;
    }
  }
  template <class T>
  static void row_argmax(const T* s, std::size_t rows, std::size_t cols, std::size_t* idx, T* val) {
    for (std::size_t i = 0; i < rows; ++i) {
      const T* r = s + i * cols;
      const auto best = std::max_element(r, r + cols) - r;
      idx[i] = static_cast<std::size_t>(best);
      val[i] = r[best];
    }
  }
  template <class T>
  static bool all_finite(const T* a, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i)
      if (!std::isfinite(a[i])) return false;
    return true;
  }

  // Stored-format conversions (core/precision.hpp): dst = round(src) and dst = widen(src), n elements.
  template <class T>
  static void narrow(const T* src, std::size_t n, std::uint16_t* dst, precision p) {
    larimar::detail::narrow_on_host(src, n, dst, p);
  }
  template <class T>
  static void widen(const std::uint16_t* src, std::size_t n, T* dst, precision p) {
    larimar::detail::widen_on_host(src, n, dst, p);
  }

  // out (n×m, row-major) = pinv(a (m×n, row-major)); singular values below rcond·σ_max are treated as zero.
  template <class T>
  static void pinv(const T* a, std::size_t m, std::size_t n, T rcond, T* out) {
    detail::pinv(a, m, n, rcond, out);
  }
  // Solves (A·Aᵀ)·X = B by Cholesky (see detail::cholesky_solve_gram); false when A·Aᵀ is not clearly SPD.
  template <class T>
  static bool cholesky_solve_gram(const T* a, std::size_t m, std::size_t n, T* b, std::size_t nrhs) {
    return detail::cholesky_solve_gram(a, m, n, b, nrhs);
  }
};

static_assert(storage_policy<host, float> && storage_policy<host, double>);

}  // namespace larimar::storage

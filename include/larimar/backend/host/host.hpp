#pragma once
// backend::host — plain C++ loops on the calling thread, GEMMs through OpenBLAS (backend/cblas.hpp) and the
// factorisations through LAPACK (host/lapack.hpp). The backend of storage::host: no thrust, no OpenMP region of
// its own (OpenBLAS threads inside its GEMMs), so a memory of vectors needs nothing else.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "larimar/backend/cblas.hpp"
#include "larimar/backend/concepts.hpp"
#include "larimar/backend/host/lapack.hpp"
#include "larimar/core/error.hpp"
#include "larimar/core/precision.hpp"

namespace larimar::backend {

struct host {
  static constexpr const char* name = "host (C++ + OpenBLAS/LAPACK)";
  static constexpr bool host_accessible = true;

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
    cblas_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
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
  static void scale_columns(T* a, std::size_t rows, std::size_t cols, const T* s) {
    for (std::size_t i = 0; i < rows; ++i)
      for (std::size_t j = 0; j < cols; ++j) a[i * cols + j] *= s[j];
  }
  template <class T>
  static void diagonal(const T* a, std::size_t n, T* d) {
    for (std::size_t i = 0; i < n; ++i) d[i] = a[i * n + i];
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
  // Stored-format conversions (core/precision.hpp), F16C where the CPU has it.
  template <class T>
  static void narrow(const T* src, std::size_t n, std::uint16_t* dst, precision p) {
    larimar::detail::narrow_on_host(src, n, dst, p);
  }
  template <class T>
  static void widen(const std::uint16_t* src, std::size_t n, T* dst, precision p) {
    larimar::detail::widen_on_host(src, n, dst, p);
  }

  // Row-major a (m×n) is column-major aᵀ (n×m); LAPACK's gesdd of aᵀ = U·S·Vᵀ gives a = V·S·Uᵀ, and its
  // column-major outputs are already the row-major factors asked for: U (n×r) is vt, Vᵀ (r×m) is u.
  template <class T>
  static void svd(const T* a, std::size_t m, std::size_t n, T* s, T* u, T* vt) {
    if (m == 0 || n == 0) return;
    const int bm = lapack::to_int(n, "rows"), bn = lapack::to_int(m, "cols");
    const int r = std::min(bm, bn);
    std::vector<T> b(a, a + m * n), work;  // gesdd overwrites its input
    std::vector<int> iwork;
    const int info = lapack::gesdd(bm, bn, b.data(), bm, s, vt, bm, u, r, work, iwork);
    if (info != 0)
      throw error("svd: LAPACK gesdd failed (info " + std::to_string(info) + ") on a " + std::to_string(m) + "x" +
                  std::to_string(n) + " matrix");
  }
  // A symmetric matrix is its own transpose, so the row-major g is LAPACK's column-major g.
  template <class T>
  static bool cholesky(T* g, std::size_t n) {
    const int N = lapack::to_int(n, "n");
    return lapack::potrf('U', N, g, N) == 0;
  }
  template <class T>
  static bool cholesky_solve(const T* g, std::size_t n, T* b, std::size_t nrhs) {
    const int N = lapack::to_int(n, "n");
    return lapack::potrs('U', N, lapack::to_int(nrhs, "nrhs"), g, N, b, N) == 0;
  }
};

static_assert(linalg_backend<host, float> && linalg_backend<host, double>);

}  // namespace larimar::backend

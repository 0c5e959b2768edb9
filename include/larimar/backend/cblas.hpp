#pragma once
// Row-major GEMM on host memory through CBLAS (OpenBLAS), float and double: the one place the library calls a
// host BLAS for a matrix product. backend::host, backend::omp and backend::blas<omp>
// (the model code) all come here. A single row (m = 1) goes to gemv, the batch-1 hot path.
#include <cblas.h>

#include <concepts>
#include <cstddef>
#include <string>

#include "larimar/core/error.hpp"

namespace larimar::backend {

template <class T>
concept blas_scalar = std::same_as<T, float> || std::same_as<T, double>;

// A BLAS dimension as the int the interface takes.
inline int blas_int(std::size_t v, const char* what) {
  if (v > static_cast<std::size_t>(2147483647))
    throw shape_error(std::string("BLAS: ") + what + " = " + std::to_string(v) + " exceeds 32-bit indexing");
  return static_cast<int>(v);
}

// C[m×n] = alpha·op(A)·op(B) + beta·C; lda/ldb/ldc are row strides (elements) of A, B, C as stored.
template <blas_scalar T>
void cblas_gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, T alpha, const T* a, std::size_t lda,
                const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc) {
  if (m == 0 || n == 0) return;
  constexpr bool f = std::same_as<T, float>;
  if (m == 1 && !ta) {
    // c[1×n] = a[1×k]·op(B): op(B) = B (k×n) -> y = Bᵀx; op(B) = Bᵀ (B is n×k) -> y = B·x
    const auto op = tb ? CblasNoTrans : CblasTrans;
    const int rows = blas_int(tb ? n : k, "rows"), cols = blas_int(tb ? k : n, "cols");
    if constexpr (f)
      cblas_sgemv(CblasRowMajor, op, rows, cols, alpha, b, blas_int(ldb, "ldb"), a, 1, beta, c, 1);
    else
      cblas_dgemv(CblasRowMajor, op, rows, cols, alpha, b, blas_int(ldb, "ldb"), a, 1, beta, c, 1);
    return;
  }
  const auto opa = ta ? CblasTrans : CblasNoTrans, opb = tb ? CblasTrans : CblasNoTrans;
  const int M = blas_int(m, "m"), N = blas_int(n, "n"), K = blas_int(k, "k");
  const int LA = blas_int(lda, "lda"), LB = blas_int(ldb, "ldb"), LC = blas_int(ldc, "ldc");
  if constexpr (f)
    cblas_sgemm(CblasRowMajor, opa, opb, M, N, K, alpha, a, LA, b, LB, beta, c, LC);
  else
    cblas_dgemm(CblasRowMajor, opa, opb, M, N, K, alpha, a, LA, b, LB, beta, c, LC);
}

}  // namespace larimar::backend

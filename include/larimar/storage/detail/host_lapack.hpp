#pragma once
// The few BLAS/LAPACK routines host storage needs, typed for float and double. BLAS through backend/cblas.hpp,
// LAPACK through its Fortran symbols (declared here so no LAPACKE package is needed).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "larimar/backend/cblas.hpp"
#include "larimar/core/error.hpp"

extern "C" {
void sgesdd_(const char* jobz, const int* m, const int* n, float* a, const int* lda, float* s, float* u,
             const int* ldu, float* vt, const int* ldvt, float* work, const int* lwork, int* iwork, int* info);
void dgesdd_(const char* jobz, const int* m, const int* n, double* a, const int* lda, double* s, double* u,
             const int* ldu, double* vt, const int* ldvt, double* work, const int* lwork, int* iwork, int* info);
void sgeqrf_(const int* m, const int* n, float* a, const int* lda, float* tau, float* work, const int* lwork,
             int* info);
void dgeqrf_(const int* m, const int* n, double* a, const int* lda, double* tau, double* work, const int* lwork,
             int* info);
void sorgqr_(const int* m, const int* n, const int* k, float* a, const int* lda, const float* tau, float* work,
             const int* lwork, int* info);
void dorgqr_(const int* m, const int* n, const int* k, double* a, const int* lda, const double* tau, double* work,
             const int* lwork, int* info);
void spotrf_(const char* uplo, const int* n, float* a, const int* lda, int* info);
void dpotrf_(const char* uplo, const int* n, double* a, const int* lda, int* info);
void spotrs_(const char* uplo, const int* n, const int* nrhs, const float* a, const int* lda, float* b,
             const int* ldb, int* info);
void dpotrs_(const char* uplo, const int* n, const int* nrhs, const double* a, const int* lda, double* b,
             const int* ldb, int* info);
}

namespace larimar::storage::detail {

inline int to_int(std::size_t v, const char* what) { return backend::blas_int(v, what); }

// Row-major C[m×n] = alpha·op(A)·op(B) + beta·C.
template <class T>
void gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, T alpha, const T* a, std::size_t lda,
          const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc) {
  backend::cblas_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

// Column-major divide-and-conquer SVD, thin (jobz = 'S'). a is overwritten.
template <class T>
int gesdd(int m, int n, T* a, int lda, T* s, T* u, int ldu, T* vt, int ldvt, std::vector<T>& work,
          std::vector<int>& iwork) {
  const char jobz = 'S';
  int info = 0, lwork = -1;
  T query{};
  iwork.resize(8 * static_cast<std::size_t>(std::min(m, n)) + 1);
  auto call = [&](T* w, int lw) {
    if constexpr (std::is_same_v<T, float>)
      sgesdd_(&jobz, &m, &n, a, &lda, s, u, &ldu, vt, &ldvt, w, &lw, iwork.data(), &info);
    else
      dgesdd_(&jobz, &m, &n, a, &lda, s, u, &ldu, vt, &ldvt, w, &lw, iwork.data(), &info);
  };
  call(&query, lwork);
  if (info != 0) return info;
  lwork = static_cast<int>(query) + 1;
  work.resize(static_cast<std::size_t>(lwork));
  call(work.data(), lwork);
  return info;
}

// Column-major a (m×n, m ≥ n) ← the Q factor of its QR decomposition (orthonormal columns).
template <class T>
int orthonormalize_columns(int m, int n, T* a, int lda) {
  std::vector<T> tau(static_cast<std::size_t>(n));
  int info = 0, lwork = -1;
  T query{};
  if constexpr (std::is_same_v<T, float>)
    sgeqrf_(&m, &n, a, &lda, tau.data(), &query, &lwork, &info);
  else
    dgeqrf_(&m, &n, a, &lda, tau.data(), &query, &lwork, &info);
  if (info != 0) return info;
  lwork = static_cast<int>(query) + 1;
  std::vector<T> work(static_cast<std::size_t>(lwork));
  if constexpr (std::is_same_v<T, float>)
    sgeqrf_(&m, &n, a, &lda, tau.data(), work.data(), &lwork, &info);
  else
    dgeqrf_(&m, &n, a, &lda, tau.data(), work.data(), &lwork, &info);
  if (info != 0) return info;
  lwork = -1;
  if constexpr (std::is_same_v<T, float>)
    sorgqr_(&m, &n, &n, a, &lda, tau.data(), &query, &lwork, &info);
  else
    dorgqr_(&m, &n, &n, a, &lda, tau.data(), &query, &lwork, &info);
  if (info != 0) return info;
  lwork = static_cast<int>(query) + 1;
  work.resize(static_cast<std::size_t>(lwork));
  if constexpr (std::is_same_v<T, float>)
    sorgqr_(&m, &n, &n, a, &lda, tau.data(), work.data(), &lwork, &info);
  else
    dorgqr_(&m, &n, &n, a, &lda, tau.data(), work.data(), &lwork, &info);
  return info;
}

template <class T>
int potrf(char uplo, int n, T* a, int lda) {
  int info = 0;
  if constexpr (std::is_same_v<T, float>)
    spotrf_(&uplo, &n, a, &lda, &info);
  else
    dpotrf_(&uplo, &n, a, &lda, &info);
  return info;
}

template <class T>
int potrs(char uplo, int n, int nrhs, const T* a, int lda, T* b, int ldb) {
  int info = 0;
  if constexpr (std::is_same_v<T, float>)
    spotrs_(&uplo, &n, &nrhs, a, &lda, b, &ldb, &info);
  else
    dpotrs_(&uplo, &n, &nrhs, a, &lda, b, &ldb, &info);
  return info;
}

// out (n×m, row-major) = pinv(a (m×n, row-major)); singular values below rcond·σ_max are treated as zero.
template <class T>
void pinv(const T* a, std::size_t m, std::size_t n, T rcond, T* out) {
  if (m == 0 || n == 0) return;
  // Row-major a (m×n) is column-major b = aᵀ (n×m). SVD b = U·S·Vᵀ gives a⁺ = U·S⁺·Vᵀ (n×m), whose
  // row-major storage is the column-major (m×n) matrix V·S⁺·Uᵀ = (S⁺·Vᵀ)ᵀ·Uᵀ.
  const int bm = to_int(n, "rows"), bn = to_int(m, "cols");
  const int r = std::min(bm, bn);
  std::vector<T> b(a, a + m * n), s(static_cast<std::size_t>(r)), u(n * static_cast<std::size_t>(r)),
      vt(static_cast<std::size_t>(r) * m), work;
  std::vector<int> iwork;
  const int info = gesdd(bm, bn, b.data(), bm, s.data(), u.data(), bm, vt.data(), r, work, iwork);
  if (info != 0)
    throw error("pinv: LAPACK gesdd failed (info " + std::to_string(info) + ") on a " +
                std::to_string(m) + "x" + std::to_string(n) + " matrix");
  const T cutoff = rcond * (r > 0 ? s[0] : T(0));
  for (int i = 0; i < r; ++i) {
    const T inv = s[static_cast<std::size_t>(i)] > cutoff ? T(1) / s[static_cast<std::size_t>(i)] : T(0);
    for (std::size_t j = 0; j < m; ++j) vt[static_cast<std::size_t>(i) + j * static_cast<std::size_t>(r)] *= inv;
  }
  // column-major out (m×n) = vtᵀ (m×r) · uᵀ (r×n): in row-major terms out (n×m) = u (n×r) · vt (r×m),
  // with u column-major n×r = row-major r×n (transposed) and vt column-major r×m = row-major m×r (transposed).
  gemm(true, true, n, m, static_cast<std::size_t>(r), T(1), u.data(), n, vt.data(),
               static_cast<std::size_t>(r), T(0), out, m);
}

// Whether a Cholesky factor with this diagonal (host pointer, m values) is trusted: its diagonal must not span
// more than ε^(-1/4) in scale (cond(A) ≈ that span, cond(A·Aᵀ) its square), else the normal equations would lose
// more than half the digits and the caller falls back to the SVD. Shared by the LAPACK and cuSOLVER paths.
template <class T>
bool cholesky_factor_acceptable(const T* diag, std::size_t m) {
  T dmax(0), dmin = std::numeric_limits<T>::max();
  for (std::size_t i = 0; i < m; ++i) {
    dmax = std::max(dmax, std::abs(diag[i]));
    dmin = std::min(dmin, std::abs(diag[i]));
  }
  return dmin > T(0) && dmax / dmin <= T(1) / std::sqrt(std::sqrt(std::numeric_limits<T>::epsilon()));
}

// Solves (A·Aᵀ)·X = B for X (m×nrhs) by Cholesky, A being m×n row-major: the normal equations of a wide
// full-row-rank A, so that A⁺·B = Aᵀ·X. Returns false (B untouched semantics not guaranteed) when A·Aᵀ is not
// numerically positive definite; the caller then falls back to the SVD.
template <class T>
bool cholesky_solve_gram(const T* a, std::size_t m, std::size_t n, T* b, std::size_t nrhs) {
  std::vector<T> g(m * m);
  gemm(false, true, m, m, n, T(1), a, n, a, n, T(0), g.data(), m);
  const int M = to_int(m, "m");
  if (potrf('U', M, g.data(), M) != 0) return false;
  std::vector<T> diag(m);
  for (std::size_t i = 0; i < m; ++i) diag[i] = g[i * m + i];
  if (!cholesky_factor_acceptable(diag.data(), m)) return false;
  // b is row-major m×nrhs = column-major nrhs×m: solve with the transposed layout, column by column of bᵀ.
  std::vector<T> bt(m * nrhs);
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t j = 0; j < nrhs; ++j) bt[j * m + i] = b[i * nrhs + j];
  if (potrs('U', M, to_int(nrhs, "nrhs"), g.data(), M, bt.data(), M) != 0) return false;
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t j = 0; j < nrhs; ++j) b[i * nrhs + j] = bt[j * m + i];
  return true;
}

}  // namespace larimar::storage::detail

#pragma once
// The few LAPACK routines the host backends need, typed for float and double, through their Fortran symbols
// (declared here so no LAPACKE package is needed). Column-major, as LAPACK is; backend::host turns them into
// row-major primitives.
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

namespace larimar::backend::lapack {

inline int to_int(std::size_t v, const char* what) { return backend::blas_int(v, what); }

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

}  // namespace larimar::backend::lapack

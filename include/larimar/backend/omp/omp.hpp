#pragma once
// backend::omp — thrust's OpenMP system (CPP when the compiler has no OpenMP): element-wise primitives and
// reductions as parallel loops, GEMMs through OpenBLAS, the factorisations through LAPACK on the same host
// pointers (backend::host's). The model code's host backend, and storage::device's when not compiled by nvcc.
#include <cstddef>
#include <cstdint>

#if defined(_OPENMP)
#include <thrust/system/omp/execution_policy.h>
#include <thrust/system/omp/vector.h>
#else
#include <thrust/system/cpp/execution_policy.h>
#include <thrust/system/cpp/vector.h>
#endif

#include "larimar/backend/cblas.hpp"
#include "larimar/backend/concepts.hpp"
#include "larimar/backend/detail/thrust_linalg.hpp"
#include "larimar/backend/host/host.hpp"
#include "larimar/backend/thrust_system.hpp"

namespace larimar::backend {

struct omp : detail::thrust_linalg<omp> {
#if defined(_OPENMP)
  template <class T>
  using vector = thrust::omp::vector<T>;
  static auto policy() { return thrust::omp::par; }
#else
  template <class T>
  using vector = thrust::cpp::vector<T>;
  static auto policy() { return thrust::cpp::par; }
#endif
  static constexpr const char* name = "omp (thrust OpenMP/CPP + OpenBLAS)";
  static constexpr bool host_accessible = true;

  template <class T>
  static void gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, T alpha, const T* a,
                   std::size_t lda, const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc) {
    cblas_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
  // Bulk conversions on the host (F16C where the CPU has it): faster than an element-wise loop here.
  template <class T>
  static void narrow(const T* src, std::size_t n, std::uint16_t* dst, precision p) {
    host::narrow(src, n, dst, p);
  }
  template <class T>
  static void widen(const std::uint16_t* src, std::size_t n, T* dst, precision p) {
    host::widen(src, n, dst, p);
  }
  template <class T>
  static void svd(const T* a, std::size_t m, std::size_t n, T* s, T* u, T* vt) {
    host::svd(a, m, n, s, u, vt);
  }
  template <class T>
  static bool cholesky(T* g, std::size_t n) { return host::cholesky(g, n); }
  template <class T>
  static bool cholesky_solve(const T* g, std::size_t n, T* b, std::size_t nrhs) {
    return host::cholesky_solve(g, n, b, nrhs);
  }
};

static_assert(thrust_backend<omp> && linalg_backend<omp, float> && linalg_backend<omp, double>);

}  // namespace larimar::backend

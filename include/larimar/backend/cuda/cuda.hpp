#pragma once
// backend::cuda — thrust's CUDA system: element-wise primitives as grids, GEMMs through cuBLAS, the SVD through
// cuSOLVER's Jacobi gesvdj and the Cholesky factor and solve through cuSOLVER potrf/potrs, all on the calling
// thread's stream; only small vectors (singular values, a factor's diagonal, info words) cross to the host.
// Only in translation units compiled by nvcc.
#if !defined(__CUDACC__)
#error "larimar/backend/cuda/cuda.hpp needs nvcc (backend::cuda is thrust's CUDA system)"
#endif
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>

#include <thrust/system/cuda/execution_policy.h>
#include <thrust/system/cuda/vector.h>

#include "larimar/backend/blas.hpp"
#include "larimar/backend/concepts.hpp"
#include "larimar/backend/detail/thrust_linalg.hpp"
#include "larimar/backend/thrust_system.hpp"
#include "larimar/core/error.hpp"
#include "larimar/core/gpu_status.hpp"
#include "larimar/core/precision.hpp"

namespace larimar::backend {

namespace detail {
// One cuSOLVER handle per thread, created on first use (handles are not thread-safe to share).
inline cusolverDnHandle_t cusolver_handle() {
  thread_local struct holder {
    cusolverDnHandle_t h = nullptr;
    holder() {  // on the thread's own stream, as backend::cuda::policy() and the cuBLAS handles
      LARIMAR_GPU_CALL(cusolverDnCreate, &h);
      try {
        LARIMAR_GPU_CALL(cusolverDnSetStream, h, cudaStreamPerThread);
      } catch (...) {
        cusolverDnDestroy(h);
        throw;
      }
    }
    ~holder() {
      if (h) cusolverDnDestroy(h);
    }
  } handle;
  return handle.h;
}
inline int cuda_dim(std::size_t v) { return blas_int(v, "cuSOLVER dimension"); }
}  // namespace detail

struct cuda : detail::thrust_linalg<cuda> {
  template <class T>
  using vector = thrust::cuda::vector<T>;
  // The calling thread's stream: work issued from different host threads (recall_pipeline::ask_async's worker
  // and the caller) may overlap on the GPU. Our CUDA targets also compile with --default-stream per-thread, so
  // that thrust's own vector copies use the same stream.
  static auto policy() { return thrust::cuda::par.on(cudaStreamPerThread); }
  static constexpr const char* name = "cuda (thrust CUDA + cuBLAS/cuSOLVER)";
  static constexpr bool host_accessible = false;

  template <class T>
  static void gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, T alpha, const T* a,
                   std::size_t lda, const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc) {
    thread_blas<cuda>().gemm(ta ? transpose::yes : transpose::no, tb ? transpose::yes : transpose::no, m, n, k, alpha,
                             a, lda, b, ldb, beta, c, ldc);
  }
  template <class T>
  static void narrow(const T* src, std::size_t n, std::uint16_t* dst, precision p) {
    for_each_index<cuda>(n, larimar::detail::narrow_op<T>{src, dst, p});
  }
  template <class T>
  static void widen(const std::uint16_t* src, std::size_t n, T* dst, precision p) {
    for_each_index<cuda>(n, larimar::detail::widen_op<T>{src, dst, p});
  }
  // Scores against rows kept in 16 bits (nearest_index's packed lookups): c[m×n] = a[m×k] · b[n×k]ᵀ, b in p's
  // format: a is rounded to the same format and one cublasGemmEx multiplies the 16-bit operands with fp32
  // accumulation (tensor cores), swapped operands as in blas<cuda>::gemm.
  static void gemm_packed_rows(std::size_t m, std::size_t n, std::size_t k, const float* a, const std::uint16_t* b,
                               precision p, float* c) {
    if (m == 0 || n == 0) return;
    auto a16 = scratch<cuda, std::uint16_t>(m * k);
    auto* a16p = raw<std::uint16_t>(a16);
    for_each_index<cuda>(m * k, larimar::detail::narrow_op<float>{a, a16p, p});
    const auto type = p == precision::fp16 ? CUDA_R_16F : CUDA_R_16BF;
    const float one = 1.0f, zero = 0.0f;
    const auto dim = [](std::size_t v) { return blas_int(v, "cuBLAS dimension"); };
    LARIMAR_GPU_CALL(cublasGemmEx, thread_blas<cuda>().handle(), CUBLAS_OP_T, CUBLAS_OP_N, dim(n), dim(m), dim(k),
                     &one, b, type, dim(k), a16p, type, dim(k), &zero, c, CUDA_R_32F, dim(n), CUBLAS_COMPUTE_32F,
                     CUBLAS_GEMM_DEFAULT);
  }

  // Row-major a (m×n) is column-major B = aᵀ (n×m); gesvdj gives B = U·S·Vᵀ with U (n×r) and V (m×r) column-major,
  // so a = V·S·Uᵀ: U's storage is the row-major vt asked for, and V's (row-major r×m) is u transposed.
  template <class T>
  static void svd(const T* a, std::size_t m, std::size_t n, T* s, T* u, T* vt) {
    if (m == 0 || n == 0) return;
    const int bm = detail::cuda_dim(n), bn = detail::cuda_dim(m), r = std::min(bm, bn);
    auto b = allocate_buffer<cuda, T>(m * n, [&](auto& buf) {  // a copy: gesvdj overwrites it
      buf.assign(thrust::device_pointer_cast(a), thrust::device_pointer_cast(a) + m * n);
    });
    auto v = scratch<cuda, T>(m * static_cast<std::size_t>(r));
    auto info = scratch<cuda, int>(1, 0);
    gesvdjInfo_t params = nullptr;
    LARIMAR_GPU_CALL(cusolverDnCreateGesvdjInfo, &params);
    struct params_guard {
      gesvdjInfo_t p;
      ~params_guard() { cusolverDnDestroyGesvdjInfo(p); }
    } guard{params};
    const auto jobz = CUSOLVER_EIG_MODE_VECTOR;
    const int econ = 1;
    int lwork = 0;
    T* B = raw<T>(b);
    T* V = raw<T>(v);
    if constexpr (std::is_same_v<T, float>) {
      LARIMAR_GPU_CALL(cusolverDnSgesvdj_bufferSize, detail::cusolver_handle(), jobz, econ, bm, bn, B, bm, s, vt, bm,
                       V, bn, &lwork, params);
      auto work = scratch<cuda, T>(static_cast<std::size_t>(lwork));
      LARIMAR_GPU_CALL(cusolverDnSgesvdj, detail::cusolver_handle(), jobz, econ, bm, bn, B, bm, s, vt, bm, V, bn,
                       raw<T>(work), lwork, raw<int>(info), params);
    } else {
      LARIMAR_GPU_CALL(cusolverDnDgesvdj_bufferSize, detail::cusolver_handle(), jobz, econ, bm, bn, B, bm, s, vt, bm,
                       V, bn, &lwork, params);
      auto work = scratch<cuda, T>(static_cast<std::size_t>(lwork));
      LARIMAR_GPU_CALL(cusolverDnDgesvdj, detail::cusolver_handle(), jobz, econ, bm, bn, B, bm, s, vt, bm, V, bn,
                       raw<T>(work), lwork, raw<int>(info), params);
    }
    if (const int i = read_info(info, "cusolverDn gesvdj"); i != 0)
      throw device_error("svd: cuSOLVER gesvdj did not converge (info " + std::to_string(i) + ") on a " +
                         std::to_string(m) + "x" + std::to_string(n) + " matrix");
    transpose(static_cast<const T*>(V), static_cast<std::size_t>(r), m, u);
  }
  // A symmetric matrix is its own transpose: the row-major g is cuSOLVER's column-major g.
  template <class T>
  static bool cholesky(T* g, std::size_t n) {
    if (n == 0) return true;
    const int N = detail::cuda_dim(n);
    const auto upper = CUBLAS_FILL_MODE_UPPER;
    auto info = scratch<cuda, int>(1, 0);
    int lwork = 0;
    if constexpr (std::is_same_v<T, float>)
      LARIMAR_GPU_CALL(cusolverDnSpotrf_bufferSize, detail::cusolver_handle(), upper, N, g, N, &lwork);
    else
      LARIMAR_GPU_CALL(cusolverDnDpotrf_bufferSize, detail::cusolver_handle(), upper, N, g, N, &lwork);
    auto work = scratch<cuda, T>(static_cast<std::size_t>(std::max(lwork, 1)));
    if constexpr (std::is_same_v<T, float>)
      LARIMAR_GPU_CALL(cusolverDnSpotrf, detail::cusolver_handle(), upper, N, g, N, raw<T>(work), lwork,
                       raw<int>(info));
    else
      LARIMAR_GPU_CALL(cusolverDnDpotrf, detail::cusolver_handle(), upper, N, g, N, raw<T>(work), lwork,
                       raw<int>(info));
    return read_info(info, "cusolverDn potrf") == 0;  // > 0: not positive definite
  }
  template <class T>
  static bool cholesky_solve(const T* g, std::size_t n, T* b, std::size_t nrhs) {
    if (n == 0) return true;
    const int N = detail::cuda_dim(n), NRHS = detail::cuda_dim(nrhs);
    auto info = scratch<cuda, int>(1, 0);
    if constexpr (std::is_same_v<T, float>)
      LARIMAR_GPU_CALL(cusolverDnSpotrs, detail::cusolver_handle(), CUBLAS_FILL_MODE_UPPER, N, NRHS, g, N, b, N,
                       raw<int>(info));
    else
      LARIMAR_GPU_CALL(cusolverDnDpotrs, detail::cusolver_handle(), CUBLAS_FILL_MODE_UPPER, N, NRHS, g, N, b, N,
                       raw<int>(info));
    return read_info(info, "cusolverDn potrs") == 0;
  }

 private:
  // A cuSOLVER info word (device int) to the host; negative: argument |info| was invalid.
  static int read_info(const vector<int>& info, const char* call) {
    const int v = info[0];
    if (v < 0) throw device_error(std::string(call) + ": argument " + std::to_string(-v) + " was invalid");
    return v;
  }
};

static_assert(thrust_backend<cuda> && linalg_backend<cuda, float> && linalg_backend<cuda, double>);

}  // namespace larimar::backend

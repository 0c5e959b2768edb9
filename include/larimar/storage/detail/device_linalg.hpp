#pragma once
// The dense linear algebra behind storage::device. On thrust's OpenMP/CPP system the device pointers are host
// pointers and the host BLAS/LAPACK run on them directly. Under nvcc (CUDA system) everything stays on the GPU:
// GEMMs through cuBLAS (backend::blas<cuda>), the pseudoinverse through cuSOLVER's Jacobi SVD (gesvdj) with the
// same relative cut-off rule as the host's gesdd path, the Cholesky solve through cuSOLVER potrf/potrs with the
// same acceptance rule as the host's (cholesky_factor_acceptable). Only small vectors (singular values, the
// factor's diagonal, info codes) cross to the host.
#include <algorithm>
#include <cstddef>
#include <new>
#include <string>
#include <type_traits>
#include <vector>

#include <thrust/copy.h>
#include <thrust/device_ptr.h>

#include "larimar/backend/blas.hpp"
#include "larimar/backend/system.hpp"
#include "larimar/core/error.hpp"
#include "larimar/core/gpu_status.hpp"
#include "larimar/core/precision.hpp"
#include "larimar/storage/detail/host_lapack.hpp"

namespace larimar::storage::detail {

// Functors for thrust kernels: at namespace scope, since CUDA kernels cannot name private types.
template <class T>
struct transpose_op {
  const T* a;
  T* out;
  std::size_t rows, cols;
  LARIMAR_HOST_DEVICE void operator()(std::size_t k) const {
    const std::size_t i = k / cols, j = k % cols;
    out[j * rows + i] = a[k];
  }
};
template <class T>
struct scale_columns_op {  // column-major a (rows×cols): column j *= s[j]
  T* a;
  const T* s;
  std::size_t rows;
  LARIMAR_HOST_DEVICE void operator()(std::size_t k) const { a[k] *= s[k / rows]; }
};
template <class T>
struct take_diagonal_op {
  const T* a;
  std::size_t n;
  T* out;
  LARIMAR_HOST_DEVICE void operator()(std::size_t i) const { out[i] = a[i * n + i]; }
};

// A new buffer of n elements of the active system, filled by `fill`; its std::bad_alloc (thrust's CUDA bad_alloc
// derives from it) becomes out_of_memory naming the bytes asked for — for matrices and an operation's scratch alike.
template <class T, class Fill>
backend::device_buffer<backend::active, T> allocate_buffer(std::size_t n, Fill&& fill) {
  backend::device_buffer<backend::active, T> b;
  try {
    fill(b);
  } catch (const std::bad_alloc& e) {
    throw out_of_memory("storage::device: allocating " + std::to_string(n * sizeof(T)) + " bytes (" +
                            std::to_string(n) + " elements) failed: " + e.what(),
                        n * sizeof(T));
  }
  return b;
}
// Scratch for one operation: n elements set to `value`.
template <class T>
backend::device_buffer<backend::active, T> scratch(std::size_t n, T value = T()) {
  return allocate_buffer<T>(n, [&](auto& b) { b.resize(n, value); });
}

template <class T>
void device_transpose(const T* a, std::size_t rows, std::size_t cols, T* out) {
  backend::for_each_index<backend::active>(rows * cols, transpose_op<T>{a, out, rows, cols});
}

template <class T>
void device_gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, T alpha, const T* a, std::size_t lda,
                 const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc) {
  using backend::transpose;
  backend::thread_blas<backend::active>().gemm(ta ? transpose::yes : transpose::no, tb ? transpose::yes : transpose::no,
                                               m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

#if THRUST_DEVICE_SYSTEM == THRUST_DEVICE_SYSTEM_CUDA
template <class T>
using gpu_buffer = backend::device_buffer<backend::cuda, T>;

// c[m×n] = a[m×k] · b[n×k]ᵀ (row-major) with b 16-bit rows in p's format: a is rounded to the same format and
// one cublasGemmEx multiplies the 16-bit operands with fp32 accumulation into fp32 c (swapped operands, as in
// backend::blas<cuda>::gemm).
inline void device_gemm_packed_rows(std::size_t m, std::size_t n, std::size_t k, const float* a, const std::uint16_t* b,
                                    precision p, float* c) {
  if (m == 0 || n == 0) return;
  auto a16 = scratch<std::uint16_t>(m * k);
  auto* a16p = thrust::raw_pointer_cast(a16.data());
  backend::for_each_index<backend::cuda>(m * k, larimar::detail::narrow_op<float>{a, a16p, p});
  const auto type = p == precision::fp16 ? CUDA_R_16F : CUDA_R_16BF;
  const float one = 1.0f, zero = 0.0f;
  const auto dim = [](std::size_t v) { return backend::blas_int(v, "cuBLAS dimension"); };
  LARIMAR_GPU_CALL(cublasGemmEx, backend::thread_blas<backend::cuda>().handle(), CUBLAS_OP_T, CUBLAS_OP_N, dim(n),
                   dim(m), dim(k), &one, b, type, dim(k), a16p, type, dim(k), &zero, c, CUDA_R_32F, dim(n),
                   CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
}

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

// A cuSOLVER info word (device int) to the host; negative: argument |info| was invalid.
inline int read_info(const gpu_buffer<int>& info, const char* call) {
  const int v = info[0];
  if (v < 0) throw device_error(std::string(call) + ": argument " + std::to_string(-v) + " was invalid");
  return v;
}
#endif

// out (n×m, row-major) = pinv(a (m×n, row-major)); singular values below rcond·σ_max are treated as zero.
template <class T>
void device_pinv(const T* a, std::size_t m, std::size_t n, T rcond, T* out) {
#if THRUST_DEVICE_SYSTEM == THRUST_DEVICE_SYSTEM_CUDA
  if (m == 0 || n == 0) return;
  // Row-major a (m×n) is column-major B = aᵀ (n×m). With B = U·S·Vᵀ (thin, r = min(m, n)), a⁺ = U·S⁺·Vᵀ (n×m),
  // whose row-major storage is the column-major m×n matrix (a⁺)ᵀ = V·S⁺·Uᵀ.
  const int bm = to_int(n, "rows"), bn = to_int(m, "cols"), r = std::min(bm, bn);
  auto b = allocate_buffer<T>(m * n, [&](auto& buf) {  // a copy: gesvdj overwrites it
    buf.assign(thrust::device_pointer_cast(a), thrust::device_pointer_cast(a) + m * n);
  });
  auto s = scratch<T>(static_cast<std::size_t>(r));
  auto u = scratch<T>(n * static_cast<std::size_t>(r)), v = scratch<T>(m * static_cast<std::size_t>(r));
  auto info = scratch<int>(1, 0);
  gesvdjInfo_t params = nullptr;
  LARIMAR_GPU_CALL(cusolverDnCreateGesvdjInfo, &params);
  struct params_guard {
    gesvdjInfo_t p;
    ~params_guard() { cusolverDnDestroyGesvdjInfo(p); }
  } guard{params};
  const auto jobz = CUSOLVER_EIG_MODE_VECTOR;
  const int econ = 1;
  int lwork = 0;
  T* B = backend::raw<T>(b);
  T *S = backend::raw<T>(s), *U = backend::raw<T>(u), *V = backend::raw<T>(v);
  if constexpr (std::is_same_v<T, float>) {
    LARIMAR_GPU_CALL(cusolverDnSgesvdj_bufferSize, cusolver_handle(), jobz, econ, bm, bn, B, bm, S, U, bm, V, bn,
                     &lwork, params);
    auto work = scratch<T>(static_cast<std::size_t>(lwork));
    LARIMAR_GPU_CALL(cusolverDnSgesvdj, cusolver_handle(), jobz, econ, bm, bn, B, bm, S, U, bm, V, bn,
                     backend::raw<T>(work), lwork, backend::raw<int>(info), params);
  } else {
    LARIMAR_GPU_CALL(cusolverDnDgesvdj_bufferSize, cusolver_handle(), jobz, econ, bm, bn, B, bm, S, U, bm, V, bn,
                     &lwork, params);
    auto work = scratch<T>(static_cast<std::size_t>(lwork));
    LARIMAR_GPU_CALL(cusolverDnDgesvdj, cusolver_handle(), jobz, econ, bm, bn, B, bm, S, U, bm, V, bn,
                     backend::raw<T>(work), lwork, backend::raw<int>(info), params);
  }
  if (const int i = read_info(info, "cusolverDn gesvdj"); i != 0)
    throw device_error("pinv: cuSOLVER gesvdj did not converge (info " + std::to_string(i) + ") on a " +
                       std::to_string(m) + "x" + std::to_string(n) + " matrix");
  // S⁺ with the host path's rule: σ ≤ rcond·σ_max counts as zero.
  std::vector<T> sh(static_cast<std::size_t>(r));
  thrust::copy(s.begin(), s.end(), sh.begin());
  const T cutoff = rcond * *std::max_element(sh.begin(), sh.end());
  for (auto& x : sh) x = x > cutoff ? T(1) / x : T(0);
  thrust::copy(sh.begin(), sh.end(), s.begin());
  backend::for_each_index<backend::active>(m * static_cast<std::size_t>(r), scale_columns_op<T>{V, S, m});  // V·S⁺
  // column-major out (m×n) = (V·S⁺) (m×r) · Uᵀ (r×n)
  const T one(1), zero(0);
  if constexpr (std::is_same_v<T, float>)
    LARIMAR_GPU_CALL(cublasSgemm, backend::thread_blas<backend::cuda>().handle(), CUBLAS_OP_N, CUBLAS_OP_T, bn, bm, r,
                     &one, V, bn, U, bm, &zero, out, bn);
  else
    LARIMAR_GPU_CALL(cublasDgemm, backend::thread_blas<backend::cuda>().handle(), CUBLAS_OP_N, CUBLAS_OP_T, bn, bm, r,
                     &one, V, bn, U, bm, &zero, out, bn);
#else
  pinv(a, m, n, rcond, out);
#endif
}

// Solves (A·Aᵀ)·X = B (m×nrhs, row-major, in place) by Cholesky; false when A·Aᵀ is not clearly positive
// definite (host_lapack.hpp's rule), B then being unspecified.
template <class T>
bool device_cholesky_solve_gram(const T* a, std::size_t m, std::size_t n, T* b, std::size_t nrhs) {
#if THRUST_DEVICE_SYSTEM == THRUST_DEVICE_SYSTEM_CUDA
  if (m == 0) return true;
  const int M = to_int(m, "m"), NRHS = to_int(nrhs, "nrhs");
  auto g = scratch<T>(m * m);
  T* G = backend::raw<T>(g);
  device_gemm(false, true, m, m, n, T(1), a, n, a, n, T(0), G, m);  // symmetric: row- and column-major alike
  auto info = scratch<int>(1, 0);
  const auto upper = CUBLAS_FILL_MODE_UPPER;
  int lwork = 0;
  if constexpr (std::is_same_v<T, float>)
    LARIMAR_GPU_CALL(cusolverDnSpotrf_bufferSize, cusolver_handle(), upper, M, G, M, &lwork);
  else
    LARIMAR_GPU_CALL(cusolverDnDpotrf_bufferSize, cusolver_handle(), upper, M, G, M, &lwork);
  auto work = scratch<T>(static_cast<std::size_t>(std::max(lwork, 1)));
  if constexpr (std::is_same_v<T, float>)
    LARIMAR_GPU_CALL(cusolverDnSpotrf, cusolver_handle(), upper, M, G, M, backend::raw<T>(work), lwork,
                     backend::raw<int>(info));
  else
    LARIMAR_GPU_CALL(cusolverDnDpotrf, cusolver_handle(), upper, M, G, M, backend::raw<T>(work), lwork,
                     backend::raw<int>(info));
  if (read_info(info, "cusolverDn potrf") != 0) return false;  // not positive definite
  auto d = scratch<T>(m);
  backend::for_each_index<backend::active>(m, take_diagonal_op<T>{G, m, backend::raw<T>(d)});
  std::vector<T> dh(m);
  thrust::copy(d.begin(), d.end(), dh.begin());
  if (!cholesky_factor_acceptable(dh.data(), m)) return false;
  // b row-major m×nrhs -> column-major m×nrhs (= row-major nrhs×m), solve, and back.
  auto bt = scratch<T>(m * nrhs);
  device_transpose(static_cast<const T*>(b), m, nrhs, backend::raw<T>(bt));
  if constexpr (std::is_same_v<T, float>)
    LARIMAR_GPU_CALL(cusolverDnSpotrs, cusolver_handle(), upper, M, NRHS, G, M, backend::raw<T>(bt), M,
                     backend::raw<int>(info));
  else
    LARIMAR_GPU_CALL(cusolverDnDpotrs, cusolver_handle(), upper, M, NRHS, G, M, backend::raw<T>(bt), M,
                     backend::raw<int>(info));
  if (read_info(info, "cusolverDn potrs") != 0) return false;
  device_transpose(static_cast<const T*>(backend::raw<T>(bt)), nrhs, m, b);
  return true;
#else
  return cholesky_solve_gram(a, m, n, b, nrhs);
#endif
}

}  // namespace larimar::storage::detail

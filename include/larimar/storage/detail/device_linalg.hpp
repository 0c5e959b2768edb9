#pragma once
// The dense linear algebra behind storage::device. On thrust's OpenMP/CPP system the device pointers are host
// pointers and the host BLAS/LAPACK run on them directly. Under nvcc (CUDA system) GEMMs go to cuBLAS; the
// pseudoinverse and the Cholesky solve (cold paths: once per block write) are computed by LAPACK on a host copy
// for now — cuSOLVER (gesvdj, potrf) is the planned replacement, see docs/memory.md.
#include <cstddef>
#include <string>
#include <type_traits>
#include <vector>

#include <thrust/copy.h>
#include <thrust/device_ptr.h>

#include "larimar/core/error.hpp"
#include "larimar/storage/detail/host_lapack.hpp"

#if THRUST_DEVICE_SYSTEM == THRUST_DEVICE_SYSTEM_CUDA
#include <cublas_v2.h>
#include <cuda_runtime.h>
#endif

namespace larimar::storage::detail {

#if THRUST_DEVICE_SYSTEM == THRUST_DEVICE_SYSTEM_CUDA
inline void check_cublas_status(cublasStatus_t s, const char* call) {
  if (s != CUBLAS_STATUS_SUCCESS)
    throw error(std::string("storage::device: ") + call + " failed with cuBLAS status " +
                std::to_string(static_cast<int>(s)));
}
// One handle per thread, created on first use (handles are not thread-safe to share).
inline cublasHandle_t cublas_handle() {
  thread_local struct holder {
    cublasHandle_t h = nullptr;
    holder() { check_cublas_status(cublasCreate(&h), "cublasCreate"); }
    ~holder() {
      if (h) cublasDestroy(h);
    }
  } handle;
  return handle.h;
}
#endif

template <class T>
void device_gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, T alpha, const T* a, std::size_t lda,
                 const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc) {
#if THRUST_DEVICE_SYSTEM == THRUST_DEVICE_SYSTEM_CUDA
  if (m == 0 || n == 0) return;
  // Row-major C = op(A)·op(B) is column-major Cᵀ = op(B)ᵀ·op(A)ᵀ: swap the operands, keep the flags.
  const auto opa = ta ? CUBLAS_OP_T : CUBLAS_OP_N, opb = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int M = to_int(n, "n"), N = to_int(m, "m"), K = to_int(k, "k");
  if constexpr (std::is_same_v<T, float>)
    check_cublas_status(cublasSgemm(cublas_handle(), opb, opa, M, N, K, &alpha, b, to_int(ldb, "ldb"), a,
                                    to_int(lda, "lda"), &beta, c, to_int(ldc, "ldc")),
                        "cublasSgemm");
  else
    check_cublas_status(cublasDgemm(cublas_handle(), opb, opa, M, N, K, &alpha, b, to_int(ldb, "ldb"), a,
                                    to_int(lda, "lda"), &beta, c, to_int(ldc, "ldc")),
                        "cublasDgemm");
#else
  gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
#endif
}

template <class T>
void device_pinv(const T* a, std::size_t m, std::size_t n, T rcond, T* out) {
#if THRUST_DEVICE_SYSTEM == THRUST_DEVICE_SYSTEM_CUDA
  std::vector<T> ha(m * n), hout(n * m);
  thrust::copy(thrust::device_pointer_cast(a), thrust::device_pointer_cast(a) + m * n, ha.begin());
  pinv(ha.data(), m, n, rcond, hout.data());
  thrust::copy(hout.begin(), hout.end(), thrust::device_pointer_cast(out));
#else
  pinv(a, m, n, rcond, out);
#endif
}

template <class T>
bool device_cholesky_solve_gram(const T* a, std::size_t m, std::size_t n, T* b, std::size_t nrhs) {
#if THRUST_DEVICE_SYSTEM == THRUST_DEVICE_SYSTEM_CUDA
  std::vector<T> ha(m * n), hb(m * nrhs);
  thrust::copy(thrust::device_pointer_cast(a), thrust::device_pointer_cast(a) + m * n, ha.begin());
  thrust::copy(thrust::device_pointer_cast(static_cast<const T*>(b)), thrust::device_pointer_cast(static_cast<const T*>(b)) + m * nrhs, hb.begin());
  if (!cholesky_solve_gram(ha.data(), m, n, hb.data(), nrhs)) return false;
  thrust::copy(hb.begin(), hb.end(), thrust::device_pointer_cast(b));
  return true;
#else
  return cholesky_solve_gram(a, m, n, b, nrhs);
#endif
}

}  // namespace larimar::storage::detail

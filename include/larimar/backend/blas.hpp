#pragma once
// GEMM dispatch for the model code: row-major C[m×n] = alpha·op(A)[m×k]·op(B)[k×n] + beta·C on backend buffers.
// backend::omp calls OpenBLAS (backend/cblas.hpp; a single row goes to gemv, the batch-1 decode hot path);
// backend::cuda calls cuBLAS with one handle per blas object (not shared between threads). float and double.
// Kept apart from the backends' static gemm (backend/concepts.hpp): the model holds one blas object per decoder.
#include <concepts>
#include <cstddef>
#include <limits>
#include <string>

#include "larimar/backend/cblas.hpp"
#include "larimar/core/error.hpp"
#include "larimar/core/gpu_status.hpp"

namespace larimar::backend {

enum class transpose : bool { no = false, yes = true };

struct omp;
struct cuda;

template <class B>
class blas;

template <>
class blas<omp> {
 public:
  // lda/ldb/ldc are row strides (elements) of A, B, C as stored.
  template <blas_scalar T>
  void gemm(transpose ta, transpose tb, std::size_t m, std::size_t n, std::size_t k, T alpha, const T* a,
            std::size_t lda, const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc) const {
    cblas_gemm(ta == transpose::yes, tb == transpose::yes, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
};

#if defined(__CUDACC__)
template <>
class blas<cuda> {
 public:
  // On the calling thread's stream (cudaStreamPerThread, as backend::cuda::policy()), resolved at each call: a
  // handle created on one thread and used on another (ask_async's worker) issues to the user's stream, not the
  // legacy default one.
  blas() {
    LARIMAR_GPU_CALL(cublasCreate, &handle_);
    try {
      LARIMAR_GPU_CALL(cublasSetStream, handle_, cudaStreamPerThread);
    } catch (...) {
      cublasDestroy(handle_);
      throw;
    }
  }
  blas(const blas&) = delete;
  blas& operator=(const blas&) = delete;
  blas(blas&& other) noexcept : handle_(other.handle_) { other.handle_ = nullptr; }
  blas& operator=(blas&& other) noexcept {
    if (this != &other) {
      if (handle_) cublasDestroy(handle_);
      handle_ = other.handle_;
      other.handle_ = nullptr;
    }
    return *this;
  }
  ~blas() {
    if (handle_) cublasDestroy(handle_);
  }
  cublasHandle_t handle() const { return handle_; }

  // Row-major C = op(A)·op(B) is column-major Cᵀ = op(B)ᵀ·op(A)ᵀ: swap the operands, keep the flags.
  template <blas_scalar T>
  void gemm(transpose ta, transpose tb, std::size_t m, std::size_t n, std::size_t k, T alpha, const T* a,
            std::size_t lda, const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc) const {
    if (m == 0 || n == 0) return;
    const auto opa = ta == transpose::yes ? CUBLAS_OP_T : CUBLAS_OP_N;
    const auto opb = tb == transpose::yes ? CUBLAS_OP_T : CUBLAS_OP_N;
    if constexpr (std::same_as<T, float>)
      LARIMAR_GPU_CALL(cublasSgemm, handle_, opb, opa, int_(n), int_(m), int_(k), &alpha, b, int_(ldb), a, int_(lda),
                       &beta, c, int_(ldc));
    else
      LARIMAR_GPU_CALL(cublasDgemm, handle_, opb, opa, int_(n), int_(m), int_(k), &alpha, b, int_(ldb), a, int_(lda),
                       &beta, c, int_(ldc));
  }

 private:
  static int int_(std::size_t v) { return blas_int(v, "cuBLAS dimension"); }
  cublasHandle_t handle_ = nullptr;
};
#endif

// One BLAS object per thread for code without an object to keep it in (backend::cuda's static operations):
// handles are not safe to share between threads.
template <class B>
const blas<B>& thread_blas() {
  thread_local const blas<B> instance;
  return instance;
}

}  // namespace larimar::backend

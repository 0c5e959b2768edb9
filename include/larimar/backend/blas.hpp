#pragma once
// GEMM dispatch for the model code: row-major C[m×n] = alpha·op(A)[m×k]·op(B)[k×n] + beta·C on backend buffers.
// backend::host calls OpenBLAS (cblas; a single row goes to sgemv, the batch-1 decode hot path);
// backend::cuda calls cuBLAS with one handle per blas object (not shared between threads).
#include <cstddef>
#include <limits>
#include <string>

#include <cblas.h>

#include "larimar/backend/system.hpp"
#include "larimar/core/error.hpp"

#if defined(__CUDACC__)
#include <cublas_v2.h>
#endif

namespace larimar::backend {

enum class transpose : bool { no = false, yes = true };

template <thrust_backend B>
class blas;

template <>
class blas<host> {
 public:
  // lda/ldb/ldc are row strides (elements) of A, B, C as stored.
  void gemm(transpose ta, transpose tb, std::size_t m, std::size_t n, std::size_t k, float alpha, const float* a,
            std::size_t lda, const float* b, std::size_t ldb, float beta, float* c, std::size_t ldc) const {
    if (m == 0 || n == 0) return;
    if (m == 1 && ta == transpose::no) {
      // c[1×n] = a[1×k]·op(B): op(B) = B (k×n) -> y = Bᵀx; op(B) = Bᵀ (B is n×k) -> y = B·x
      if (tb == transpose::no)
        cblas_sgemv(CblasRowMajor, CblasTrans, int_(k), int_(n), alpha, b, int_(ldb), a, 1, beta, c, 1);
      else
        cblas_sgemv(CblasRowMajor, CblasNoTrans, int_(n), int_(k), alpha, b, int_(ldb), a, 1, beta, c, 1);
      return;
    }
    cblas_sgemm(CblasRowMajor, ta == transpose::yes ? CblasTrans : CblasNoTrans,
                tb == transpose::yes ? CblasTrans : CblasNoTrans, int_(m), int_(n), int_(k), alpha, a, int_(lda), b,
                int_(ldb), beta, c, int_(ldc));
  }

 private:
  static int int_(std::size_t v) {
    if (v > static_cast<std::size_t>(std::numeric_limits<int>::max()))
      throw value_error(std::string("blas::gemm: dimension ") + std::to_string(v) + " exceeds the BLAS int range");
    return static_cast<int>(v);
  }
};

#if defined(__CUDACC__)
namespace detail {
inline const char* cublas_status_name(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    default: return "unknown cuBLAS status";
  }
}
inline void check_cublas(cublasStatus_t s, const char* call) {
  if (s != CUBLAS_STATUS_SUCCESS)
    throw larimar::error(std::string("blas<cuda>: ") + call + " failed: " + cublas_status_name(s) + " (" +
                         std::to_string(static_cast<int>(s)) + ")");
}
}  // namespace detail

template <>
class blas<cuda> {
 public:
  blas() { detail::check_cublas(cublasCreate(&handle_), "cublasCreate"); }
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

  // Row-major C = op(A)·op(B) is column-major Cᵀ = op(B)ᵀ·op(A)ᵀ: swap the operands, keep the flags.
  void gemm(transpose ta, transpose tb, std::size_t m, std::size_t n, std::size_t k, float alpha, const float* a,
            std::size_t lda, const float* b, std::size_t ldb, float beta, float* c, std::size_t ldc) const {
    if (m == 0 || n == 0) return;
    detail::check_cublas(
        cublasSgemm(handle_, tb == transpose::yes ? CUBLAS_OP_T : CUBLAS_OP_N,
                    ta == transpose::yes ? CUBLAS_OP_T : CUBLAS_OP_N, static_cast<int>(n), static_cast<int>(m),
                    static_cast<int>(k), &alpha, b, static_cast<int>(ldb), a, static_cast<int>(lda), &beta, c,
                    static_cast<int>(ldc)),
        "cublasSgemm");
  }

 private:
  cublasHandle_t handle_ = nullptr;
};
#endif

}  // namespace larimar::backend

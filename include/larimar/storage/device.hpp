#pragma once
// storage::device — the memory in thrust device vectors: on the GPU when compiled by nvcc (THRUST_DEVICE_SYSTEM
// CUDA: GEMMs through cuBLAS, the pseudoinverse through cuSOLVER), and on thrust's OpenMP/CPP system otherwise,
// where "device" memory is host memory and BLAS/LAPACK do the work. It satisfies the same storage_policy concept
// as storage::host, so every memory algorithm runs on it unchanged.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include <thrust/copy.h>
#include <thrust/fill.h>

#include "larimar/backend/system.hpp"
#include "larimar/core/error.hpp"
#include "larimar/storage/concepts.hpp"
#include "larimar/storage/detail/device_linalg.hpp"

namespace larimar::storage {

// A row-major matrix in the active thrust system's memory.
template <class T>
class device_matrix {
 public:
  device_matrix() = default;
  device_matrix(std::size_t rows, std::size_t cols) : data_(rows * cols, T(0)), rows_(rows), cols_(cols) {}
  std::size_t rows() const { return rows_; }
  std::size_t cols() const { return cols_; }
  T* data() { return thrust::raw_pointer_cast(data_.data()); }
  const T* data() const { return thrust::raw_pointer_cast(data_.data()); }
  void resize_rows(std::size_t rows) {
    data_.resize(rows * cols_, T(0));  // keeps the leading rows
    rows_ = rows;
  }
  // The whole matrix copied to the host, row-major.
  std::vector<T> to_host() const {
    std::vector<T> out(data_.size());
    thrust::copy(data_.begin(), data_.end(), out.begin());
    return out;
  }

 private:
  backend::device_buffer<backend::active, T> data_;
  std::size_t rows_ = 0, cols_ = 0;
};

namespace detail {
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
struct diagonal_op {
  T* dst;
  std::size_t cols;
  T diag;
  LARIMAR_HOST_DEVICE void operator()(std::size_t i) const { dst[i * cols + i] = diag; }
};
template <class T>
struct axpby_op {
  T a;
  const T* x;
  T b;
  T* y;
  LARIMAR_HOST_DEVICE void operator()(std::size_t i) const { y[i] = a * x[i] + b * y[i]; }
};
template <class T>
struct normalize_op {
  T* a;
  std::size_t cols;
  LARIMAR_HOST_DEVICE void operator()(std::size_t r) const {
    T* row = a + r * cols;
    T s(0);
    for (std::size_t j = 0; j < cols; ++j) s += row[j] * row[j];
    if (s > T(0)) {
      const T inv = T(1) / std::sqrt(s);
      for (std::size_t j = 0; j < cols; ++j) row[j] *= inv;
    }
  }
};
template <class T>
struct argmax_op {
  const T* s;
  std::size_t cols;
  std::size_t* idx;
  T* val;
  LARIMAR_HOST_DEVICE void operator()(std::size_t r) const {
    const T* row = s + r * cols;
    std::size_t best = 0;
    for (std::size_t j = 1; j < cols; ++j)
      if (row[j] > row[best]) best = j;
    idx[r] = best;
    val[r] = row[best];
  }
};
template <class T>
struct dot_chunk_op {
  const T* x;
  const T* y;
  std::size_t n, chunks;
  T* partial;
  LARIMAR_HOST_DEVICE void operator()(std::size_t c) const {
    T s(0);
    for (std::size_t i = c * n / chunks; i < (c + 1) * n / chunks; ++i) s += x[i] * y[i];
    partial[c] = s;
  }
};
template <class T>
struct nonfinite_chunk_op {
  const T* a;
  std::size_t n, chunks;
  int* bad;
  LARIMAR_HOST_DEVICE void operator()(std::size_t c) const {
    int b = 0;
    for (std::size_t i = c * n / chunks; i < (c + 1) * n / chunks; ++i) b |= !std::isfinite(a[i]);
    bad[c] = b;
  }
};
}  // namespace detail

struct device {
  static constexpr const char* name = "device";
  // With the OpenMP/CPP system the device pointers are host pointers (host-side scans may use them).
  static constexpr bool host_accessible = THRUST_DEVICE_SYSTEM != THRUST_DEVICE_SYSTEM_CUDA;

  template <class T>
  using matrix = device_matrix<T>;

  static constexpr std::size_t reduction_chunks = 256;
  // The execution policy of the active thrust system (defined first: its return type is deduced).
  static auto policy() { return backend::active::policy(); }

  template <class T>
  static matrix<T> make(std::size_t rows, std::size_t cols) { return matrix<T>(rows, cols); }
  template <class T>
  static std::size_t rows(const matrix<T>& m) { return m.rows(); }
  template <class T>
  static std::size_t cols(const matrix<T>& m) { return m.cols(); }
  template <class T>
  static T* data(matrix<T>& m) { return m.data(); }
  template <class T>
  static const T* data(const matrix<T>& m) { return m.data(); }
  template <class T>
  static void resize_rows(matrix<T>& m, std::size_t rows) { m.resize_rows(rows); }

  template <class T>
  static void upload(const T* src, std::size_t n, T* dst) {
    if (n) thrust::copy(src, src + n, thrust::device_pointer_cast(dst));
  }
  template <class T>
  static void download(const T* src, std::size_t n, T* dst) {
    if (n) thrust::copy(thrust::device_pointer_cast(src), thrust::device_pointer_cast(src) + n, dst);
  }
  template <class T>
  static void copy(const T* src, std::size_t n, T* dst) {
    if (n == 0 || src == dst) return;
    thrust::copy(policy(), thrust::device_pointer_cast(src), thrust::device_pointer_cast(src) + n,
                 thrust::device_pointer_cast(dst));
  }
  template <class T>
  static void fill(T* dst, std::size_t n, T value) {
    if (n) thrust::fill_n(policy(), thrust::device_pointer_cast(dst), n, value);
  }
  template <class T>
  static void transpose(const T* a, std::size_t rows, std::size_t cols, T* out) {
    backend::for_each_index<backend::active>(rows * cols, detail::transpose_op<T>{a, out, rows, cols});
  }
  template <class T>
  static void set_identity(T* dst, std::size_t rows, std::size_t cols, T diag) {
    fill(dst, rows * cols, T(0));
    backend::for_each_index<backend::active>(rows < cols ? rows : cols, detail::diagonal_op<T>{dst, cols, diag});
  }

  template <class T>
  static void gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, T alpha, const T* a,
                   std::size_t lda, const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc) {
    detail::device_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
  template <class T>
  static void axpby(std::size_t n, T a, const T* x, T b, T* y) {
    backend::for_each_index<backend::active>(n, detail::axpby_op<T>{a, x, b, y});
  }
  // Reductions as chunked partial results + a host sum, not thrust::reduce: its OpenMP path binds a reference
  // through a null policy pointer (undefined behaviour that UBSan reports inside CCCL).
  template <class T>
  static T dot(std::size_t n, const T* x, const T* y) {
    if (n == 0) return T(0);
    const std::size_t chunks = std::min<std::size_t>(reduction_chunks, n);
    backend::device_buffer<backend::active, T> partial(chunks);
    backend::for_each_index<backend::active>(
        chunks, detail::dot_chunk_op<T>{x, y, n, chunks, thrust::raw_pointer_cast(partial.data())}, n / chunks + 1);
    std::vector<T> h(chunks);
    thrust::copy(partial.begin(), partial.end(), h.begin());
    T s(0);
    for (T v : h) s += v;
    return s;
  }
  template <class T>
  static void normalize_rows(T* a, std::size_t rows, std::size_t cols) {
    backend::for_each_index<backend::active>(rows, detail::normalize_op<T>{a, cols}, cols);
  }
  template <class T>
  static void row_argmax(const T* s, std::size_t rows, std::size_t cols, std::size_t* idx, T* val) {
    backend::device_buffer<backend::active, std::size_t> di(rows);
    backend::device_buffer<backend::active, T> dv(rows);
    backend::for_each_index<backend::active>(
        rows, detail::argmax_op<T>{s, cols, thrust::raw_pointer_cast(di.data()), thrust::raw_pointer_cast(dv.data())}, cols);
    thrust::copy(di.begin(), di.end(), idx);
    thrust::copy(dv.begin(), dv.end(), val);
  }
  template <class T>
  static bool all_finite(const T* a, std::size_t n) {
    if (n == 0) return true;
    const std::size_t chunks = std::min<std::size_t>(reduction_chunks, n);
    backend::device_buffer<backend::active, int> bad(chunks, 0);
    backend::for_each_index<backend::active>(
        chunks, detail::nonfinite_chunk_op<T>{a, n, chunks, thrust::raw_pointer_cast(bad.data())}, n / chunks + 1);
    std::vector<int> h(chunks);
    thrust::copy(bad.begin(), bad.end(), h.begin());
    for (int b : h)
      if (b) return false;
    return true;
  }
  template <class T>
  static void pinv(const T* a, std::size_t m, std::size_t n, T rcond, T* out) {
    detail::device_pinv(a, m, n, rcond, out);
  }
  template <class T>
  static bool cholesky_solve_gram(const T* a, std::size_t m, std::size_t n, T* b, std::size_t nrhs) {
    return detail::device_cholesky_solve_gram(a, m, n, b, nrhs);
  }


};

static_assert(storage_policy<device, float> && storage_policy<device, double>);

}  // namespace larimar::storage

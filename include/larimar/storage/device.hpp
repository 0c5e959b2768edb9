#pragma once
// storage::device — the memory in thrust device vectors: on the GPU when compiled by nvcc (THRUST_DEVICE_SYSTEM
// CUDA: GEMMs through cuBLAS, the pseudoinverse and the Cholesky solve through cuSOLVER), and on thrust's
// OpenMP/CPP system otherwise, where "device" memory is host memory and BLAS/LAPACK do the work. It satisfies the same storage_policy concept
// as storage::host, so every memory algorithm runs on it unchanged.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include <thrust/copy.h>
#include <thrust/fill.h>

#include "larimar/backend/system.hpp"
#include "larimar/core/error.hpp"
#include "larimar/core/precision.hpp"
#include "larimar/storage/concepts.hpp"
#include "larimar/storage/detail/device_linalg.hpp"

namespace larimar::storage {

// What the matrices of storage::device hold, and an optional cap on it: a memory that shares a GPU with a decoder
// can be kept to its share. Every device_matrix allocation counts (the memory's blocks, logs, index and the
// scratch matrices of its operations), across all threads; a thrust scratch vector inside one primitive does not.
// An allocation past the limit, or one the device refuses, throws out_of_memory naming the bytes asked for,
// before anything is changed.
class device_memory {
 public:
  static std::size_t in_use() { return used().load(); }
  static std::size_t limit() { return cap().load(); }  // 0: no limit
  static void set_limit(std::size_t bytes) { cap().store(bytes); }

  // Reserves `bytes` against the limit (throws out_of_memory past it); release() gives them back.
  static void acquire(std::size_t bytes) {
    if (bytes == 0) return;
    const std::size_t before = used().fetch_add(bytes);
    const std::size_t lim = limit();
    if (lim != 0 && before + bytes > lim) {
      used().fetch_sub(bytes);
      throw out_of_memory("storage::device: allocating " + std::to_string(bytes) + " bytes would pass the memory limit (" +
                              std::to_string(before) + " of " + std::to_string(lim) + " bytes in use)",
                          bytes);
    }
  }
  static void release(std::size_t bytes) { used().fetch_sub(bytes); }

 private:
  static std::atomic<std::size_t>& used() {
    static std::atomic<std::size_t> v{0};
    return v;
  }
  static std::atomic<std::size_t>& cap() {
    static std::atomic<std::size_t> v{0};
    return v;
  }
};

namespace detail {
// Bytes of a rows×cols matrix of T; a product past size_t is an allocation no device can serve.
template <class T>
std::size_t matrix_bytes(std::size_t rows, std::size_t cols) {
  if (cols != 0 && rows > std::numeric_limits<std::size_t>::max() / cols / sizeof(T))
    throw out_of_memory("storage::device: a " + std::to_string(rows) + "x" + std::to_string(cols) +
                            " matrix needs more bytes than size_t can count",
                        std::numeric_limits<std::size_t>::max());
  return rows * cols * sizeof(T);
}
// Bytes held against device_memory's limit by one matrix: acquired on construction, given back on destruction.
class device_bytes {
 public:
  device_bytes() = default;
  explicit device_bytes(std::size_t n) : n_(n) { device_memory::acquire(n); }
  device_bytes(const device_bytes& o) : device_bytes(o.n_) {}
  device_bytes(device_bytes&& o) noexcept : n_(std::exchange(o.n_, 0)) {}
  device_bytes& operator=(device_bytes o) noexcept {
    std::swap(n_, o.n_);
    return *this;
  }
  ~device_bytes() { device_memory::release(n_); }
  std::size_t size() const { return n_; }

 private:
  std::size_t n_ = 0;
};
}  // namespace detail

// A row-major matrix in the active thrust system's memory. Allocation failures throw out_of_memory with the size.
template <class T>
class device_matrix {
  using buffer = backend::device_buffer<backend::active, T>;

 public:
  device_matrix() = default;
  device_matrix(std::size_t rows, std::size_t cols)
      : bytes_(detail::matrix_bytes<T>(rows, cols)), data_(detail::scratch<T>(rows * cols)), rows_(rows), cols_(cols) {}
  device_matrix(const device_matrix& o)
      : bytes_(o.bytes_), data_(detail::allocate_buffer<T>(o.data_.size(), [&](buffer& b) { b = o.data_; })),
        rows_(o.rows_), cols_(o.cols_) {}
  device_matrix(device_matrix&&) noexcept = default;
  device_matrix& operator=(const device_matrix& o) {
    if (this != &o) {
      device_matrix copy(o);  // allocate first: on failure *this is unchanged
      *this = std::move(copy);
    }
    return *this;
  }
  device_matrix& operator=(device_matrix&&) noexcept = default;
  ~device_matrix() = default;

  std::size_t rows() const { return rows_; }
  std::size_t cols() const { return cols_; }
  T* data() { return thrust::raw_pointer_cast(data_.data()); }
  const T* data() const { return thrust::raw_pointer_cast(data_.data()); }
  void resize_rows(std::size_t rows) {  // keeps the leading rows; on failure the matrix is unchanged
    if (rows == rows_) return;
    detail::device_bytes bytes(detail::matrix_bytes<T>(rows, cols_));
    buffer grown = detail::scratch<T>(rows * cols_);
    const std::size_t keep = std::min(rows, rows_) * cols_;
    if (keep) thrust::copy(data_.begin(), data_.begin() + static_cast<std::ptrdiff_t>(keep), grown.begin());
    data_.swap(grown);
    bytes_ = std::move(bytes);
    rows_ = rows;
  }
  // The whole matrix copied to the host, row-major.
  std::vector<T> to_host() const {
    std::vector<T> out(data_.size());
    thrust::copy(data_.begin(), data_.end(), out.begin());
    return out;
  }

 private:
  detail::device_bytes bytes_;  // first: the limit is checked before the allocation
  buffer data_;
  std::size_t rows_ = 0, cols_ = 0;
};

namespace detail {
// Functors for thrust kernels: at namespace scope, since CUDA kernels cannot name private types.
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
// Arg-max of one slice of one row: slice c of row r covers columns [c·cols/slices, (c+1)·cols/slices).
template <class T>
struct argmax_slice_op {
  const T* s;
  std::size_t cols, slices;
  std::size_t* idx;
  T* val;
  LARIMAR_HOST_DEVICE void operator()(std::size_t k) const {
    const std::size_t r = k / slices, c = k % slices;
    const std::size_t begin = c * cols / slices, end = (c + 1) * cols / slices;
    const T* row = s + r * cols;
    std::size_t best = begin;
    for (std::size_t j = begin + 1; j < end; ++j)
      if (row[j] > row[best]) best = j;
    idx[k] = best;
    val[k] = row[best];
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
    detail::device_transpose(a, rows, cols, out);
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
    auto partial = detail::scratch<T>(chunks);
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
  // Every row is cut into slices of about argmax_slice columns, each slice's arg-max is one thread (so one query
  // over 50,000 scores is ~200 threads, not one), and the host picks the best slice of each row; ties go to the
  // lowest column, as std::max_element on the host storage.
  static constexpr std::size_t argmax_slice = 256;
  template <class T>
  static void row_argmax(const T* s, std::size_t rows, std::size_t cols, std::size_t* idx, T* val) {
    if (rows == 0 || cols == 0) return;
    const std::size_t slices = (cols + argmax_slice - 1) / argmax_slice;
    auto di = detail::scratch<std::size_t>(rows * slices);
    auto dv = detail::scratch<T>(rows * slices);
    backend::for_each_index<backend::active>(
        rows * slices,
        detail::argmax_slice_op<T>{s, cols, slices, thrust::raw_pointer_cast(di.data()), thrust::raw_pointer_cast(dv.data())},
        argmax_slice);
    std::vector<std::size_t> hi(rows * slices);
    std::vector<T> hv(rows * slices);
    thrust::copy(di.begin(), di.end(), hi.begin());
    thrust::copy(dv.begin(), dv.end(), hv.begin());
    for (std::size_t r = 0; r < rows; ++r) {
      std::size_t best = r * slices;
      for (std::size_t k = best + 1; k < (r + 1) * slices; ++k)
        if (hv[k] > hv[best]) best = k;
      idx[r] = hi[best];
      val[r] = hv[best];
    }
  }
  template <class T>
  static bool all_finite(const T* a, std::size_t n) {
    if (n == 0) return true;
    const std::size_t chunks = std::min<std::size_t>(reduction_chunks, n);
    auto bad = detail::scratch<int>(chunks, 0);
    backend::for_each_index<backend::active>(
        chunks, detail::nonfinite_chunk_op<T>{a, n, chunks, thrust::raw_pointer_cast(bad.data())}, n / chunks + 1);
    std::vector<int> h(chunks);
    thrust::copy(bad.begin(), bad.end(), h.begin());
    for (int b : h)
      if (b) return false;
    return true;
  }
  // Stored-format conversions (core/precision.hpp): element-parallel kernels on the GPU; on the OpenMP/CPP system
  // the host's bulk conversions (F16C where the CPU has it) on the host-accessible pointers.
  template <class T>
  static void narrow(const T* src, std::size_t n, std::uint16_t* dst, precision p) {
    if constexpr (host_accessible)
      larimar::detail::narrow_on_host(src, n, dst, p);
    else
      backend::for_each_index<backend::active>(n, larimar::detail::narrow_op<T>{src, dst, p});
  }
  template <class T>
  static void widen(const std::uint16_t* src, std::size_t n, T* dst, precision p) {
    if constexpr (host_accessible)
      larimar::detail::widen_on_host(src, n, dst, p);
    else
      backend::for_each_index<backend::active>(n, larimar::detail::widen_op<T>{src, dst, p});
  }
#if THRUST_DEVICE_SYSTEM == THRUST_DEVICE_SYSTEM_CUDA
  // Scores against rows kept in 16 bits (nearest_index's packed lookups): c[m×n] = a[m×k] · b[n×k]ᵀ, b in p's
  // format, in one cublasGemmEx on 16-bit operands with fp32 accumulation (tensor cores; a is rounded to p's
  // format first, so the query side rounds too). Without it (OpenMP/CPP system) nearest_index widens b and calls
  // gemm, as for host storage.
  static void gemm_packed_rows(std::size_t m, std::size_t n, std::size_t k, const float* a, const std::uint16_t* b,
                               precision p, float* c) {
    detail::device_gemm_packed_rows(m, n, k, a, b, p, c);
  }
#endif
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

#pragma once
// storage::device — the memory in the vectors of the active thrust backend (backend::active): on the GPU when
// compiled by nvcc (backend::cuda: cuBLAS, cuSOLVER), and on thrust's OpenMP/CPP system otherwise (backend::omp),
// where "device" memory is host memory and BLAS/LAPACK do the work. It satisfies the same storage_policy concept
// as storage::host, so every memory algorithm runs on it unchanged. storage::device_on<B> is the same over any
// thrust backend B (the models' own, so that a latent batch stays in one memory space).
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <thrust/copy.h>

#include "larimar/backend/system.hpp"
#include "larimar/core/error.hpp"
#include "larimar/storage/concepts.hpp"

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

// A row-major matrix in thrust backend B's memory. Allocation failures throw out_of_memory with the size.
template <backend::thrust_backend B, class T>
class device_matrix_on {
  using buffer = backend::device_buffer<B, T>;

 public:
  device_matrix_on() = default;
  device_matrix_on(std::size_t rows, std::size_t cols)
      : bytes_(detail::matrix_bytes<T>(rows, cols)), data_(backend::scratch<B, T>(rows * cols)), rows_(rows),
        cols_(cols) {}
  device_matrix_on(const device_matrix_on& o)
      : bytes_(o.bytes_), data_(backend::allocate_buffer<B, T>(o.data_.size(), [&](buffer& b) { b = o.data_; })),
        rows_(o.rows_), cols_(o.cols_) {}
  device_matrix_on(device_matrix_on&&) noexcept = default;
  device_matrix_on& operator=(const device_matrix_on& o) {
    if (this != &o) {
      device_matrix_on copy(o);  // allocate first: on failure *this is unchanged
      *this = std::move(copy);
    }
    return *this;
  }
  device_matrix_on& operator=(device_matrix_on&&) noexcept = default;
  ~device_matrix_on() = default;

  std::size_t rows() const { return rows_; }
  std::size_t cols() const { return cols_; }
  T* data() { return thrust::raw_pointer_cast(data_.data()); }
  const T* data() const { return thrust::raw_pointer_cast(data_.data()); }
  void resize_rows(std::size_t rows) {  // keeps the leading rows; on failure the matrix is unchanged
    if (rows == rows_) return;
    detail::device_bytes bytes(detail::matrix_bytes<T>(rows, cols_));
    buffer grown = backend::scratch<B, T>(rows * cols_);
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

template <class T>
using device_matrix = device_matrix_on<backend::active, T>;

template <backend::thrust_backend B>
struct device_on {
  static constexpr const char* name = "device";
  using linalg = B;
  // With the OpenMP/CPP system the device pointers are host pointers (host-side scans may use them).
  static constexpr bool host_accessible = linalg::host_accessible;

  template <class T>
  using matrix = device_matrix_on<B, T>;

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
  static void upload(const T* src, std::size_t n, T* dst) { backend::copy_to_device<B>(src, n, dst); }
  template <class T>
  static void download(const T* src, std::size_t n, T* dst) { backend::copy_to_host<B>(src, n, dst); }
  template <class T>
  static void copy(const T* src, std::size_t n, T* dst) {
    if (n == 0 || src == dst) return;
    thrust::copy(linalg::policy(), src, src + n, dst);  // raw pointers under B's policy: B's memory
  }
};

// A struct, not an alias, so that light headers can declare it (runtime/spec.hpp).
struct device : device_on<backend::active> {};

static_assert(storage_policy<device, float> && storage_policy<device, double>);

}  // namespace larimar::storage

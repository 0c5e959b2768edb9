#pragma once
// The element-wise and reduction primitives of the thrust backends, written once over the backend tag B (its
// parallel loop and scratch buffers): backend::omp and backend::cuda inherit them and add their GEMM and
// factorisations. Reductions are chunked partial results summed on the host, not thrust::reduce: its OpenMP path
// binds a reference through a null policy pointer (undefined behaviour that UBSan reports inside CCCL).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include <thrust/copy.h>
#include <thrust/device_ptr.h>
#include <thrust/fill.h>

#include "larimar/backend/thrust_system.hpp"

namespace larimar::backend::detail {

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
struct take_diagonal_op {
  const T* a;
  std::size_t n;
  T* out;
  LARIMAR_HOST_DEVICE void operator()(std::size_t i) const { out[i] = a[i * n + i]; }
};
template <class T>
struct scale_columns_op {  // row-major a (rows×cols): column j *= s[j]
  T* a;
  const T* s;
  std::size_t cols;
  LARIMAR_HOST_DEVICE void operator()(std::size_t k) const { a[k] *= s[k % cols]; }
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

template <class B>
struct thrust_linalg {
  static constexpr std::size_t reduction_chunks = 256;

  template <class T>
  static void fill(T* dst, std::size_t n, T value) {
    if (n) thrust::fill_n(B::policy(), thrust::device_pointer_cast(dst), n, value);
  }
  template <class T>
  static void transpose(const T* a, std::size_t rows, std::size_t cols, T* out) {
    for_each_index<B>(rows * cols, transpose_op<T>{a, out, rows, cols});
  }
  template <class T>
  static void set_identity(T* dst, std::size_t rows, std::size_t cols, T diag) {
    fill(dst, rows * cols, T(0));
    for_each_index<B>(rows < cols ? rows : cols, diagonal_op<T>{dst, cols, diag});
  }
  template <class T>
  static void axpby(std::size_t n, T a, const T* x, T b, T* y) {
    for_each_index<B>(n, axpby_op<T>{a, x, b, y});
  }
  template <class T>
  static T dot(std::size_t n, const T* x, const T* y) {
    if (n == 0) return T(0);
    const std::size_t chunks = std::min<std::size_t>(reduction_chunks, n);
    auto partial = scratch<B, T>(chunks);
    for_each_index<B>(chunks, dot_chunk_op<T>{x, y, n, chunks, raw<T>(partial)}, n / chunks + 1);
    std::vector<T> h(chunks);
    thrust::copy(partial.begin(), partial.end(), h.begin());
    T s(0);
    for (T v : h) s += v;
    return s;
  }
  template <class T>
  static void normalize_rows(T* a, std::size_t rows, std::size_t cols) {
    for_each_index<B>(rows, normalize_op<T>{a, cols}, cols);
  }
  template <class T>
  static void scale_columns(T* a, std::size_t rows, std::size_t cols, const T* s) {
    for_each_index<B>(rows * cols, scale_columns_op<T>{a, s, cols});
  }
  template <class T>
  static void diagonal(const T* a, std::size_t n, T* d) {
    for_each_index<B>(n, take_diagonal_op<T>{a, n, d});
  }
  // Every row is cut into slices of about argmax_slice columns, each slice's arg-max is one thread (so one query
  // over 50,000 scores is ~200 threads, not one), and the host picks the best slice of each row; ties go to the
  // lowest column, as std::max_element does for backend::host.
  static constexpr std::size_t argmax_slice = 256;
  template <class T>
  static void row_argmax(const T* s, std::size_t rows, std::size_t cols, std::size_t* idx, T* val) {
    if (rows == 0 || cols == 0) return;
    const std::size_t slices = (cols + argmax_slice - 1) / argmax_slice;
    auto di = scratch<B, std::size_t>(rows * slices);
    auto dv = scratch<B, T>(rows * slices);
    for_each_index<B>(rows * slices, argmax_slice_op<T>{s, cols, slices, raw<std::size_t>(di), raw<T>(dv)},
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
    auto bad = scratch<B, int>(chunks, 0);
    for_each_index<B>(chunks, nonfinite_chunk_op<T>{a, n, chunks, raw<int>(bad)}, n / chunks + 1);
    std::vector<int> h(chunks);
    thrust::copy(bad.begin(), bad.end(), h.begin());
    for (int b : h)
      if (b) return false;
    return true;
  }
};

}  // namespace larimar::backend::detail

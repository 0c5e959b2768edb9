#pragma once
// storage::host — the memory in host RAM as xtensor matrices; its primitives are backend::host's (plain loops,
// OpenBLAS, LAPACK). This is where the paper keeps the memory: it grows with the context and never touches the GPU.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstring>

#include <xtensor/xtensor.hpp>

#include "larimar/backend/host/host.hpp"
#include "larimar/storage/concepts.hpp"

namespace larimar::storage {

struct host {
  static constexpr const char* name = "host";
  using linalg = backend::host;
  static constexpr bool host_accessible = linalg::host_accessible;  // storage pointers are host pointers

  template <class T>
  using matrix = xt::xtensor<T, 2>;

  template <class T>
  static matrix<T> make(std::size_t rows, std::size_t cols) {
    return matrix<T>(std::array<std::size_t, 2>{rows, cols}, T(0));
  }
  template <class T>
  static std::size_t rows(const matrix<T>& m) { return m.shape()[0]; }
  template <class T>
  static std::size_t cols(const matrix<T>& m) { return m.shape()[1]; }
  template <class T>
  static T* data(matrix<T>& m) { return m.data(); }
  template <class T>
  static const T* data(const matrix<T>& m) { return m.data(); }

  template <class T>
  static void resize_rows(matrix<T>& m, std::size_t new_rows) {
    if (new_rows == rows(m)) return;
    matrix<T> grown = make<T>(new_rows, cols(m));
    const std::size_t keep = std::min(new_rows, rows(m)) * cols(m);
    if (keep) std::memcpy(grown.data(), m.data(), keep * sizeof(T));
    m = std::move(grown);
  }

  template <class T>
  static void upload(const T* src, std::size_t n, T* dst) { if (n) std::memmove(dst, src, n * sizeof(T)); }
  template <class T>
  static void download(const T* src, std::size_t n, T* dst) { if (n) std::memmove(dst, src, n * sizeof(T)); }
  template <class T>
  static void copy(const T* src, std::size_t n, T* dst) { if (n) std::memmove(dst, src, n * sizeof(T)); }
};

static_assert(storage_policy<host, float> && storage_policy<host, double>);

}  // namespace larimar::storage

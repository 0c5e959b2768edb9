#pragma once
// A non-owning view of a row-major matrix in host memory: how callers hand latents and lookup vectors to the
// memory without committing to a container. xtensor containers, std::vector with explicit dims, and single
// vectors (one row) all convert.
#include <concepts>
#include <cstddef>
#include <span>
#include <string>
#include <type_traits>

#include "larimar/core/error.hpp"

namespace larimar {

template <class T>
struct matrix_ref {
  T* data = nullptr;
  std::size_t rows = 0;
  std::size_t cols = 0;

  constexpr matrix_ref() = default;
  constexpr matrix_ref(T* d, std::size_t r, std::size_t c) : data(d), rows(r), cols(c) {}

  // One row: a vector is a 1×n matrix.
  template <class U>
    requires std::convertible_to<U (*)[], T (*)[]>
  constexpr matrix_ref(std::span<U> row) : data(row.data()), rows(1), cols(row.size()) {}

  // Any contiguous row-major 2-D container with data() and shape() (xt::xtensor<T, 2>, xt::xarray<T>).
  template <class C>
    requires(!std::is_same_v<std::remove_cvref_t<C>, matrix_ref>) && requires(C& c) {
      { c.data() } -> std::convertible_to<T*>;
      c.shape();
      c.dimension();
    }
  matrix_ref(C&& c) : data(c.data()) {  // NOLINT(google-explicit-constructor): views convert implicitly
    if (c.dimension() == 1) {
      rows = 1;
      cols = c.shape()[0];
    } else if (c.dimension() == 2) {
      rows = c.shape()[0];
      cols = c.shape()[1];
    } else {
      throw shape_error("matrix_ref: expected a 1-D or 2-D array, got " + std::to_string(c.dimension()) +
                        " dimensions");
    }
  }

  template <class U>
    requires std::convertible_to<U*, T*>
  constexpr matrix_ref(matrix_ref<U> o) : data(o.data), rows(o.rows), cols(o.cols) {}

  constexpr std::size_t size() const { return rows * cols; }
  constexpr bool empty() const { return size() == 0; }
  constexpr T* row(std::size_t i) const { return data + i * cols; }
  constexpr std::span<T> row_span(std::size_t i) const { return {row(i), cols}; }
};

template <class C>
matrix_ref(C&&) -> matrix_ref<std::remove_pointer_t<decltype(std::declval<C&>().data())>>;

}  // namespace larimar

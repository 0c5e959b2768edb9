#pragma once
// Input checks shared by every operation: each names the operation so the message says where it failed.
#include <cmath>
#include <cstddef>
#include <string>
#include <string_view>

#include "larimar/core/error.hpp"
#include "larimar/core/matrix_ref.hpp"

namespace larimar::detail {

inline std::string shape_str(std::size_t r, std::size_t c) {
  return std::to_string(r) + "x" + std::to_string(c);
}

template <class T>
void require_cols(std::string_view op, std::string_view what, matrix_ref<const T> m, std::size_t cols,
                  std::string_view expected_name) {
  if (m.cols != cols)
    throw shape_error(std::string(op) + ": " + std::string(what) + " have " + std::to_string(m.cols) +
                      " columns, expected " + std::string(expected_name) + " " + std::to_string(cols));
}

template <class T>
void require_nonempty(std::string_view op, std::string_view what, matrix_ref<const T> m) {
  if (m.rows == 0 || m.cols == 0)
    throw shape_error(std::string(op) + ": " + std::string(what) + " are empty (" + shape_str(m.rows, m.cols) + ")");
}

template <class T>
void require_same_rows(std::string_view op, std::string_view a_name, matrix_ref<const T> a, std::string_view b_name,
                       matrix_ref<const T> b) {
  if (a.rows != b.rows)
    throw shape_error(std::string(op) + ": " + std::string(a_name) + " have " + std::to_string(a.rows) + " rows but " +
                      std::string(b_name) + " have " + std::to_string(b.rows));
}

template <class T>
void require_finite(std::string_view op, std::string_view what, matrix_ref<const T> m) {
  for (std::size_t i = 0; i < m.rows; ++i)
    for (std::size_t j = 0; j < m.cols; ++j)
      if (!std::isfinite(m.data[i * m.cols + j]))
        throw value_error(std::string(op) + ": " + std::string(what) + " contain a non-finite value (" +
                          std::to_string(m.data[i * m.cols + j]) + ") at row " + std::to_string(i) + ", column " +
                          std::to_string(j));
}

}  // namespace larimar::detail

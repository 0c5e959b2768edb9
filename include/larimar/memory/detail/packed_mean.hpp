#pragma once
// A block's K×C mean at rest in 16 bits (memory_precision fp16/bf16): rounded once when a change commits, and
// widened back to T before any product, so every product accumulates in T. Empty for a mean kept in T.
#include <cstddef>
#include <cstdint>

#include "larimar/core/precision.hpp"
#include "larimar/storage/concepts.hpp"

namespace larimar::detail {

template <class S>
class packed_mean {
 public:
  packed_mean() = default;
  // `mean` (k×c, in S's space) rounded to `format` (fp16 or bf16).
  template <class T>
  packed_mean(const T* mean, std::size_t k, std::size_t c, precision format)
      : values_(S::template make<std::uint16_t>(k, c)), format_(format) {
    S::linalg::narrow(mean, k * c, S::data(values_), format_);
  }

  bool empty() const { return format_ == precision::full; }
  std::size_t rows() const { return S::rows(values_); }
  std::size_t cols() const { return S::cols(values_); }
  std::size_t bytes() const { return rows() * cols() * sizeof(std::uint16_t); }
  // Widens the rounded mean into `out` (rows()×cols() values of T, in S's space).
  template <class T>
  void widen(T* out) const {
    S::linalg::widen(S::data(values_), rows() * cols(), out, format_);
  }

 private:
  typename S::template matrix<std::uint16_t> values_ = S::template make<std::uint16_t>(0, 0);
  precision format_ = precision::full;
};

}  // namespace larimar::detail

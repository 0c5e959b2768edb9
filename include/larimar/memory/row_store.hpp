#pragma once
// A growable row-major matrix in a storage policy's memory space: rows are appended at the end and removed by
// moving the last row into the hole (order carries no meaning for least squares or nearest-neighbour search).
#include <algorithm>
#include <cstddef>

#include "larimar/storage/concepts.hpp"

namespace larimar {

// T is the element type: the memory's own, or std::uint16_t for rows kept in fp16/bf16 (core/precision.hpp).
template <class T, class S>
  requires requires { typename S::template matrix<T>; }
class row_store {
 public:
  using matrix = typename S::template matrix<T>;

  explicit row_store(std::size_t cols = 0) : rows_(S::template make<T>(0, cols)) {}

  std::size_t size() const { return size_; }
  std::size_t cols() const { return S::cols(rows_); }
  std::size_t capacity() const { return S::rows(rows_); }
  bool empty() const { return size_ == 0; }
  T* data() { return S::data(rows_); }
  const T* data() const { return S::data(rows_); }
  T* row(std::size_t i) { return data() + i * cols(); }
  const T* row(std::size_t i) const { return data() + i * cols(); }

  // Room for at least `rows` rows. Growing past the capacity at least doubles it: a writer that reserves
  // size() + n before every append (as each write of a batch does) then copies each row O(1) times in all,
  // not once per batch (a 1M-token context in batches of 256 moved the whole index ~500 times).
  void reserve(std::size_t rows) {
    if (rows > capacity()) S::resize_rows(rows_, std::max(rows, capacity() * 2));
  }
  // Appends n rows and returns a pointer to the first, for the caller to fill in place.
  T* append(std::size_t n) {
    if (size_ + n > capacity()) reserve(size_ + n);
    T* first = row(size_);
    size_ += n;
    return first;
  }
  void append_from(const T* src, std::size_t n) { S::copy(src, n * cols(), append(n)); }
  void swap_remove(std::size_t i) {
    if (i + 1 != size_) S::copy(row(size_ - 1), cols(), row(i));
    --size_;
  }
  void pop_back(std::size_t n) { size_ -= std::min(n, size_); }
  void clear() { size_ = 0; }

 private:
  matrix rows_;
  std::size_t size_ = 0;
};

}  // namespace larimar

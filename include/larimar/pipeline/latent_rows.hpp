#pragma once
// The latents a recall pipeline holds between its memory and its decoder (rows × cols floats): in the models'
// backend memory when the memory lives there too (the latent path: nothing crosses to the host), on the host
// otherwise. Rows are copied and compared where they are.
#include <algorithm>
#include <cstddef>
#include <span>
#include <type_traits>
#include <vector>

#include <thrust/equal.h>

#include "larimar/backend/device_ref.hpp"
#include "larimar/backend/thrust_system.hpp"

namespace larimar::pipeline {

template <backend::thrust_backend Backend, bool OnDevice>
class latent_rows {
 public:
  latent_rows() = default;
  latent_rows(std::size_t rows, std::size_t cols) : values_(rows * cols), rows_(rows), cols_(cols) {}

  std::size_t rows() const { return rows_; }
  std::size_t cols() const { return cols_; }
  bool empty() const { return rows_ == 0; }
  float* row(std::size_t i) { return data() + i * cols_; }
  const float* row(std::size_t i) const { return data() + i * cols_; }

  // What the decoder takes: a view of the backend's memory, or a host span.
  auto view() const {
    if constexpr (OnDevice) return backend::device_view<Backend>(data(), rows_, cols_);
    else return std::span<const float>(values_);
  }
  // n rows of `cols` values copied from `src`, a pointer into the memory these rows live in.
  void assign(const float* src, std::size_t n, std::size_t cols) {
    *this = latent_rows(n, cols);
    copy(src, n * cols, data());
  }
  // Row i of `src` appended.
  void push_back(const latent_rows& src, std::size_t i) {
    if (empty()) cols_ = src.cols_;
    values_.resize((rows_ + 1) * cols_);
    copy(src.row(i), cols_, row(rows_));
    ++rows_;
  }
  // Host-accessible rows are compared on the host: thrust's OpenMP reductions bind a reference through a null
  // policy pointer (undefined behaviour UBSan reports inside CCCL).
  bool row_equals(std::size_t i, const latent_rows& o, std::size_t j) const {
    if constexpr (OnDevice && !Backend::host_accessible)
      return thrust::equal(Backend::policy(), row(i), row(i) + cols_, o.row(j));
    else
      return std::equal(row(i), row(i) + cols_, o.row(j));
  }

 private:
  using container = std::conditional_t<OnDevice, backend::device_buffer<Backend, float>, std::vector<float>>;
  float* data() { return backend::raw<float>(values_); }
  const float* data() const { return backend::raw<float>(values_); }
  static void copy(const float* src, std::size_t n, float* dst) {
    if (n == 0) return;
    if constexpr (OnDevice) thrust::copy(Backend::policy(), src, src + n, dst);
    else std::copy(src, src + n, dst);
  }

  container values_;
  std::size_t rows_ = 0, cols_ = 0;
};

}  // namespace larimar::pipeline

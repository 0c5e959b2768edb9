#pragma once
// A weight matrix held in its compute format (model/weight_format.hpp): f32, f16, bf16 or int8 with one fp32
// scale per row. Always [rows × cols] row-major with row o = output o's weights (nn.Linear's layout), so every
// product is y = x·Wᵀ (model/weight_product.hpp) and an int8 scale belongs to one output; GPT-2's Conv1D weights
// ([in, out] in the file) are transposed once at load.
//
// weight_view is what kernels see: the format, the backend pointers and the shape, with at(r, c) reading one value
// as fp32 (host and device code: the embedding gathers read wte / word embeddings through it).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "larimar/backend/system.hpp"
#include "larimar/core/error.hpp"
#include "larimar/core/half.hpp"
#include "larimar/io/safetensors.hpp"
#include "larimar/model/weight_format.hpp"

namespace larimar::model {

struct weight_view {
  weight_format format = weight_format::f32;
  const void* data = nullptr;     // rows × cols values in `format`, row-major (backend memory)
  const float* scale = nullptr;   // int8: one per row; otherwise null
  std::size_t rows = 0, cols = 0;

  LARIMAR_HOST_DEVICE float at(std::size_t r, std::size_t c) const {
    const std::size_t i = r * cols + c;
    switch (format) {
      case weight_format::f16: return larimar::f16_to_f32(static_cast<const std::uint16_t*>(data)[i]);
      case weight_format::bf16: return larimar::bf16_to_f32(static_cast<const std::uint16_t*>(data)[i]);
      case weight_format::int8: return scale[r] * static_cast<float>(static_cast<const std::int8_t*>(data)[i]);
      default: return static_cast<const float*>(data)[i];
    }
  }
};

namespace detail {

// The values of a matrix in one format, on the host (before the upload).
struct host_weights {
  std::vector<float> f32;
  std::vector<std::uint16_t> half;
  std::vector<std::int8_t> q;
  std::vector<float> scale;
};

// Symmetric per-row int8: s = max|w| / 127 (0 for an all-zero row), q = round(w / s) (ties away from zero).
inline void quantize_rows(std::span<const float> values, std::size_t rows, std::size_t cols, host_weights& out,
                          const std::string& what) {
  out.q.resize(rows * cols);
  out.scale.resize(rows);
  for (std::size_t o = 0; o < rows; ++o) {
    const float* w = values.data() + o * cols;
    float amax = 0.f;
    for (std::size_t i = 0; i < cols; ++i) {
      if (!std::isfinite(w[i]))
        throw value_error(what + ": cannot quantise to int8: row " + std::to_string(o) + " has a non-finite value at " +
                          std::to_string(i));
      amax = std::max(amax, std::fabs(w[i]));
    }
    const float s = amax / 127.f;
    out.scale[o] = s;
    std::int8_t* q = out.q.data() + o * cols;
    for (std::size_t i = 0; i < cols; ++i) {
      const float r = s > 0.f ? std::round(w[i] / s) : 0.f;
      q[i] = static_cast<std::int8_t>(std::clamp(r, -127.f, 127.f));
    }
  }
}

inline void narrow_rows(std::span<const float> values, weight_format format, host_weights& out, const std::string& what) {
  out.half.resize(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    const float v = values[i];
    const std::uint16_t h = format == weight_format::f16 ? larimar::f32_to_f16(v) : larimar::f32_to_bf16(v);
    if (format == weight_format::f16 && std::isfinite(v) && (h & 0x7fffu) == 0x7c00u)
      throw value_error(what + ": value " + std::to_string(v) + " at " + std::to_string(i) +
                        " is beyond f16's range (±65504); keep these weights in f32 or bf16");
    out.half[i] = h;
  }
}

// dst[o·cols + i] = src[i·rows + o]: a [cols × rows] matrix as [rows × cols].
template <class T>
std::vector<T> transposed(std::span<const T> src, std::size_t rows, std::size_t cols) {
  std::vector<T> dst(src.size());
  for (std::size_t i = 0; i < cols; ++i)
    for (std::size_t o = 0; o < rows; ++o) dst[o * cols + i] = src[i * rows + o];
  return dst;
}

inline std::optional<weight_format> file_format(io::dtype type) {
  switch (type) {
    case io::dtype::f32: return weight_format::f32;
    case io::dtype::f16: return weight_format::f16;
    case io::dtype::bf16: return weight_format::bf16;
    default: return std::nullopt;
  }
}

}  // namespace detail

template <backend::thrust_backend Backend>
class weight_matrix {
  template <class T>
  using buffer = backend::device_buffer<Backend, T>;

 public:
  weight_matrix() = default;

  // values: [rows × cols] row-major, row o = output o; stored in `format` (rounded or quantised as documented in
  // weight_format.hpp). `what` names the matrix in errors.
  static weight_matrix from_f32(std::span<const float> values, std::size_t rows, std::size_t cols,
                                weight_format format, const std::string& what = "weight_matrix") {
    if (values.size() != rows * cols)
      throw shape_error(what + ": " + std::to_string(values.size()) + " values for a " + std::to_string(rows) + " × " +
                        std::to_string(cols) + " matrix");
    detail::host_weights h;
    if (format == weight_format::int8) {
      detail::quantize_rows(values, rows, cols, h, what);
    } else if (format != weight_format::f32) {
      detail::narrow_rows(values, format, h, what);
    }
    weight_matrix m(rows, cols, format);
    if (format == weight_format::f32) m.upload(values, m.f32_);
    else m.upload_host(h);
    return m;
  }

  // A 2-D safetensors tensor: [rows, cols] as stored, or with `transposed` its transpose ([cols, rows] in the file:
  // GPT-2's Conv1D layout [in, out]). format nullopt: the file's own (F32, F16 or BF16; the bits are kept as they
  // are); otherwise converted (f16/bf16 values are widened exactly first).
  static weight_matrix from_tensor(const io::tensor_view& view, bool transposed, std::optional<weight_format> format) {
    if (view.shape.size() != 2)
      throw shape_error("weight_matrix: tensor " + view.name + " has " + std::to_string(view.shape.size()) +
                        " dimensions, expected 2");
    const std::size_t rows = transposed ? view.shape[1] : view.shape[0];
    const std::size_t cols = transposed ? view.shape[0] : view.shape[1];
    const auto stored = detail::file_format(view.type);
    const weight_format want = format ? *format : stored.value_or(weight_format::f32);
    if (stored && *stored == want && (want == weight_format::f16 || want == weight_format::bf16) &&
        view.size_bytes == rows * cols * 2) {  // keep the file's bits
      std::vector<std::uint16_t> bits(rows * cols);
      if (!bits.empty()) std::memcpy(bits.data(), view.data, bits.size() * 2);
      if (transposed) bits = detail::transposed(std::span<const std::uint16_t>(bits), rows, cols);
      weight_matrix m(rows, cols, want);
      m.upload(std::span<const std::uint16_t>(bits), m.half_);
      return m;
    }
    std::vector<float> values = io::to_f32(view);  // value_error for a non-float dtype, as before
    if (transposed) values = detail::transposed(std::span<const float>(values), rows, cols);
    return from_f32(values, rows, cols, want, "weight_matrix: tensor " + view.name);
  }

  std::size_t rows() const { return rows_; }
  std::size_t cols() const { return cols_; }
  weight_format format() const { return format_; }
  bool empty() const { return rows_ == 0 || cols_ == 0; }
  // Bytes the values and scales occupy: what one full product reads.
  std::size_t bytes() const {
    return rows_ * cols_ * weight_format_bytes(format_) + (format_ == weight_format::int8 ? rows_ * sizeof(float) : 0);
  }
  // Bytes of one row (a gathered embedding), scale included.
  std::size_t row_bytes() const {
    return cols_ * weight_format_bytes(format_) + (format_ == weight_format::int8 ? sizeof(float) : 0);
  }

  weight_view view() const {
    weight_view v;
    v.format = format_;
    v.rows = rows_;
    v.cols = cols_;
    switch (format_) {
      case weight_format::f32: v.data = backend::raw<float>(f32_); break;
      case weight_format::int8:
        v.data = backend::raw<std::int8_t>(q_);
        v.scale = backend::raw<float>(scale_);
        break;
      default: v.data = backend::raw<std::uint16_t>(half_); break;
    }
    return v;
  }
  // The f32 values (only for format f32; the BLAS path).
  const float* f32_data() const { return backend::raw<float>(f32_); }

  // The values as the products see them (int8: s·q), on the host: [rows × cols].
  std::vector<float> to_f32() const {
    std::vector<float> out(rows_ * cols_);
    switch (format_) {
      case weight_format::f32: backend::download(f32_, 0, std::span<float>(out)); break;
      case weight_format::int8: {
        std::vector<std::int8_t> q(q_.size());
        std::vector<float> s(scale_.size());
        backend::download(q_, 0, std::span<std::int8_t>(q));
        backend::download(scale_, 0, std::span<float>(s));
        for (std::size_t i = 0; i < out.size(); ++i) out[i] = s[i / cols_] * static_cast<float>(q[i]);
        break;
      }
      default: {
        std::vector<std::uint16_t> h(half_.size());
        backend::download(half_, 0, std::span<std::uint16_t>(h));
        for (std::size_t i = 0; i < out.size(); ++i)
          out[i] = format_ == weight_format::f16 ? larimar::f16_to_f32(h[i]) : larimar::bf16_to_f32(h[i]);
        break;
      }
    }
    return out;
  }

 private:
  weight_matrix(std::size_t rows, std::size_t cols, weight_format format) : rows_(rows), cols_(cols), format_(format) {}

  template <class T>
  static void upload(std::span<const T> from, buffer<T>& to) {
    to.resize(from.size());
    backend::upload(from, to);
  }
  void upload_host(const detail::host_weights& h) {
    if (format_ == weight_format::int8) {
      upload(std::span<const std::int8_t>(h.q), q_);
      upload(std::span<const float>(h.scale), scale_);
    } else {
      upload(std::span<const std::uint16_t>(h.half), half_);
    }
  }

  std::size_t rows_ = 0, cols_ = 0;
  weight_format format_ = weight_format::f32;
  buffer<float> f32_;
  buffer<std::uint16_t> half_;
  buffer<std::int8_t> q_;
  buffer<float> scale_;
};

}  // namespace larimar::model

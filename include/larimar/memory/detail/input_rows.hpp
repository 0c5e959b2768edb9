#pragma once
// The rows a write or a read takes in: host values (matrix_ref), or values already in the storage's memory space
// (backend::device_ref over S::linalg, e.g. the encoder's latents on the same GPU), and what each needs: the
// finiteness check where the values are, and the copy into a storage matrix (an upload only from the host).
#include <cstddef>
#include <string>
#include <vector>

#include "larimar/backend/device_ref.hpp"
#include "larimar/core/matrix_ref.hpp"
#include "larimar/core/validate.hpp"

namespace larimar::detail {

template <class T>
struct input_rows {
  matrix_ref<const T> values;  // in_storage: a pointer into the storage's memory
  bool in_storage = false;

  input_rows(matrix_ref<const T> host) : values(host) {}  // NOLINT(google-explicit-constructor)
  template <class B>
  input_rows(backend::device_ref<B, const T> d) : values(d.data, d.rows, d.cols), in_storage(true) {}  // NOLINT
  std::size_t rows() const { return values.rows; }
  std::size_t size() const { return values.size(); }
};

// No NaN or Inf: checked on the host, or by the backend where the values are (only a failure brings them to the
// host, to name the row and column).
template <class S, class T>
void require_finite_rows(const std::string& op, const char* what, const input_rows<T>& in) {
  if (!in.in_storage) return require_finite(op, what, in.values);
  if (in.size() == 0 || S::linalg::all_finite(in.values.data, in.size())) return;
  std::vector<T> host(in.size());
  S::download(in.values.data, host.size(), host.data());
  require_finite(op, what, matrix_ref<const T>(host.data(), in.values.rows, in.values.cols));
}

// dst (size() values in S) = the rows: a copy within the storage, or an upload, which for a storage on a thrust
// backend is a latent batch crossing to its device.
template <class S, class T>
void stage_rows(const input_rows<T>& in, T* dst) {
  if (in.in_storage) return S::copy(in.values.data, in.size(), dst);
  S::upload(in.values.data, in.size(), dst);
  backend::note_latent_crossing<typename S::linalg>(backend::crossing::to_device, in.size());
}

}  // namespace larimar::detail

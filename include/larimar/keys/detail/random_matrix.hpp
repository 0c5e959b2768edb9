#pragma once
// Seeded host matrices for fixed keys and priors; generated on the host, then uploaded to any storage.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "larimar/core/error.hpp"
#include "larimar/core/random.hpp"
#include "larimar/storage/detail/host_lapack.hpp"

namespace larimar::keys::detail {

// rows×cols row-major with N(0, scale²) entries.
template <class T>
std::vector<T> gaussian(std::size_t rows, std::size_t cols, double scale, std::uint64_t seed) {
  std::vector<T> out(rows * cols);
  splitmix64 rng(seed);
  for (auto& x : out) x = static_cast<T>(scale * rng.normal());
  return out;
}

// rows×cols row-major with orthonormal rows (rows ≤ cols): the Q factor of a Gaussian matrix, which is
// Haar-distributed. Row-major with orthonormal rows = column-major with orthonormal columns.
template <class T>
std::vector<T> orthonormal_rows(std::size_t rows, std::size_t cols, std::uint64_t seed) {
  if (rows > cols)
    throw value_error("keys: " + std::to_string(rows) + " orthonormal addresses cannot exist in " +
                      std::to_string(cols) + " dimensions; use key_basis::gaussian for superposition");
  auto a = gaussian<T>(rows, cols, 1.0, seed);
  const int info = storage::detail::orthonormalize_columns(storage::detail::to_int(cols, "slots"),
                                                           storage::detail::to_int(rows, "addresses"), a.data(),
                                                           storage::detail::to_int(cols, "slots"));
  if (info != 0) throw error("keys: QR orthonormalisation failed (LAPACK info " + std::to_string(info) + ")");
  return a;
}

}  // namespace larimar::keys::detail

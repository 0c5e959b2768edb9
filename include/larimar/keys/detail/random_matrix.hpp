#pragma once
// Orthonormal fixed keys: the Q factor of a seeded Gaussian (a QR of K×K costs ~10 ms at K = 512, so results are
// kept like the Gaussian matrices of core/seeded_matrix.hpp).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "larimar/core/error.hpp"
#include "larimar/core/seeded_matrix.hpp"
#include "larimar/backend/host/lapack.hpp"

namespace larimar::keys::detail {

using larimar::detail::gaussian;
using larimar::detail::remembered;

// rows×cols row-major with orthonormal rows (rows ≤ cols): the Q factor of a Gaussian matrix, which is
// Haar-distributed. Row-major with orthonormal rows = column-major with orthonormal columns.
template <class T>
std::vector<T> orthonormal_rows(std::size_t rows, std::size_t cols, std::uint64_t seed) {
  if (rows > cols)
    throw value_error("keys: " + std::to_string(rows) + " orthonormal addresses cannot exist in " +
                      std::to_string(cols) + " dimensions; use key_basis::gaussian for superposition");
  return remembered<T>('q', rows, cols, 1.0, seed, [&] {
    auto a = larimar::detail::draw_gaussian<T>(rows, cols, 1.0, seed);
    const int info = backend::lapack::orthonormalize_columns(backend::lapack::to_int(cols, "slots"),
                                                             backend::lapack::to_int(rows, "addresses"), a.data(),
                                                             backend::lapack::to_int(cols, "slots"));
    if (info != 0) throw error("keys: QR orthonormalisation failed (LAPACK info " + std::to_string(info) + ")");
    return a;
  });
}

}  // namespace larimar::keys::detail

#pragma once
// Latent rows moved within a backend's memory (the latent path: encoder → memory → decoder never visits the host).
#include <cstddef>
#include <cstdint>

#include "larimar/backend/thrust_system.hpp"

namespace larimar::model::kernels {

// out[b] = the mean half of the latent head's row b (its [B × 2C] output: mean, then log-variance).
struct latent_means {
  float* out;
  const float* head;
  std::size_t latent;  // C

  LARIMAR_HOST_DEVICE void operator()(std::size_t i) const {
    const std::size_t b = i / latent, c = i % latent;
    out[i] = head[b * 2 * latent + c];
  }
};

// out[i] = row index[i] of `first` (index < first_rows) or row index[i] − first_rows of `second`.
struct gather_rows_of_two {
  float* out;
  const float* first;
  std::size_t first_rows;
  const float* second;
  const std::int64_t* index;
  std::size_t cols;

  LARIMAR_HOST_DEVICE void operator()(std::size_t i) const {
    const std::size_t r = i / cols, c = i % cols, s = static_cast<std::size_t>(index[r]);
    out[i] = s < first_rows ? first[s * cols + c] : second[(s - first_rows) * cols + c];
  }
};

}  // namespace larimar::model::kernels

#pragma once
// Row-wise LayerNorm fused with the bias add and residual that precede it in both GPT-2 and BERT blocks.
#include <cmath>
#include <cstddef>

#include "larimar/backend/system.hpp"

namespace larimar::model::kernels {

// Per row r: x[r] += bias (when bias is set; x already holds residual + GEMM output), then
// out[r] = (x[r] - mean) / sqrt(var + eps) * gamma + beta. out may alias x (BERT's post-LN).
struct bias_residual_layer_norm {
  float* x;
  const float* bias;  // nullable
  float* out;
  const float* gamma;
  const float* beta;
  std::size_t width;
  float eps;

  LARIMAR_HOST_DEVICE void operator()(std::size_t r) const {
    float* xr = x + r * width;
    float* o = out + r * width;
    float sum = 0.f;
    for (std::size_t j = 0; j < width; ++j) {
      if (bias) xr[j] += bias[j];
      sum += xr[j];
    }
    const float mean = sum / static_cast<float>(width);
    float sq = 0.f;
    for (std::size_t j = 0; j < width; ++j) {
      const float d = xr[j] - mean;
      sq += d * d;
    }
    const float inv = 1.f / sqrtf(sq / static_cast<float>(width) + eps);
    for (std::size_t j = 0; j < width; ++j) o[j] = (xr[j] - mean) * inv * gamma[j] + beta[j];
  }
};

}  // namespace larimar::model::kernels

#pragma once
// Elementwise bias + activation, applied in place right after a GEMM (one pass over the output).
#include <cmath>
#include <cstddef>

#include "larimar/backend/system.hpp"

namespace larimar::model::kernels {

struct gelu_tanh {  // GPT-2's "gelu_new": 0.5·x·(1 + tanh(u)), u = sqrt(2/pi)·(x + 0.044715·x³)
  // computed as x·sigmoid(2u) (the same function): one expf instead of tanhf, which glibc evaluates through
  // expm1f at several times the cost; GELU was a fifth of the prefill time with tanhf.
  LARIMAR_HOST_DEVICE float operator()(float x) const {
    constexpr float k = 2.f * 0.7978845608028654f;  // 2·sqrt(2 / pi)
    return x / (1.f + expf(-k * (x + 0.044715f * x * x * x)));
  }
};
struct gelu_erf {  // BERT's exact GELU
  LARIMAR_HOST_DEVICE float operator()(float x) const { return 0.5f * x * (1.f + erff(x * 0.7071067811865476f)); }
};
struct tanh_activation {  // BERT pooler
  LARIMAR_HOST_DEVICE float operator()(float x) const { return tanhf(x); }
};
struct identity_activation {
  LARIMAR_HOST_DEVICE float operator()(float x) const { return x; }
};

// x[i] = act(x[i] + bias[i % width]) over a [rows × width] buffer.
template <class Activation>
struct bias_activation {
  float* x;
  const float* bias;
  std::size_t width;
  Activation act;

  LARIMAR_HOST_DEVICE void operator()(std::size_t i) const { x[i] = act(x[i] + bias[i % width]); }
};

}  // namespace larimar::model::kernels

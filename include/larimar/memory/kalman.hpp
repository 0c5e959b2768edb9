#pragma once
// One Kalman step of the sequential write (docs/design.md), and its exact inverse for forget.
//   update:   Δ = z − w·M;  wU = w·U;  σ_z = wU·wᵀ + σ_ξ²;  c = wU/σ_z;  M ← M + cᵀ·Δ;  U ← U − cᵀ·wU
//   downdate: the same step with the noise term's sign reversed, σ_z = wU·wᵀ − σ_ξ². By Sherman–Morrison this
//             removes the observation (w, z) from the posterior exactly (information form: U⁻¹ loses wᵀw/σ_ξ²),
//             whatever the order the observations were made in. It needs σ_ξ² > 0: a noise-free observation
//             carries infinite information and cannot be subtracted (the caller replays the rest instead).
#include <cmath>
#include <cstddef>
#include <limits>

#include "larimar/storage/concepts.hpp"

namespace larimar {

enum class kalman_direction { update, downdate };

// M (K×C), U (K×K), w (1×K), z (1×C) in S's memory; scratch holds 2K + C elements. Returns false, leaving M and
// U untouched, when σ_z is too small to divide by: the address lies in a direction the memory already knows
// exactly (noise-free), so the observation adds nothing.
template <class S, class T>
bool kalman_step(T* mean, T* cov, std::size_t K, std::size_t C, const T* w, const T* z, T noise_var,
                 kalman_direction direction, T* scratch) {
  T* wu = scratch;          // 1×K
  T* delta = scratch + K;   // 1×C
  S::linalg::gemm(false, false, 1, K, K, T(1), w, K, cov, K, T(0), wu, K);          // wU = w·U
  S::copy(z, C, delta);
  S::linalg::gemm(false, false, 1, C, K, T(-1), w, K, mean, C, T(1), delta, C);     // Δ = z − w·M
  const T wuw = S::linalg::dot(K, wu, w);
  const T sigma = direction == kalman_direction::update ? wuw + noise_var : wuw - noise_var;
  const T ww = S::linalg::dot(K, w, w);
  const T floor = T(64) * std::numeric_limits<T>::epsilon() * (std::abs(wuw) + noise_var + ww);
  if (!(std::abs(sigma) > floor)) return false;
  S::linalg::gemm(true, false, K, C, 1, T(1) / sigma, wu, K, delta, C, T(1), mean, C);  // M += cᵀ·Δ
  S::linalg::gemm(true, false, K, K, 1, T(-1) / sigma, wu, K, wu, K, T(1), cov, K);     // U −= cᵀ·wU
  return true;
}

}  // namespace larimar

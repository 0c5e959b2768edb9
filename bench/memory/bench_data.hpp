#pragma once
// Seeded inputs shared by the memory benchmarks (host and CUDA; no xtensor, so .cu files can use it too).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "larimar/core/matrix_ref.hpp"
#include "larimar/core/random.hpp"

namespace larimar::bench {

inline std::vector<float> gaussian(std::size_t n, std::uint64_t seed) {
  std::vector<float> v(n);
  splitmix64 rng(seed);
  for (auto& x : v) x = static_cast<float>(rng.normal());
  return v;
}
// The vector as a rows×(size/rows) matrix.
inline matrix_ref<const float> view(const std::vector<float>& v, std::size_t rows) {
  return {v.data(), rows, v.size() / rows};
}

}  // namespace larimar::bench

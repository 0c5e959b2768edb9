#pragma once
// A seeded generator whose stream is the same on every platform and compiler (std::normal_distribution is not),
// so fixed keys drawn from a seed are reproducible across builds.
#include <cmath>
#include <cstdint>
#include <numbers>

namespace larimar {

class splitmix64 {
 public:
  explicit constexpr splitmix64(std::uint64_t seed) : state_(seed) {}
  constexpr std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in (0, 1]: never 0, so log() below is finite.
  constexpr double uniform() { return (static_cast<double>(next() >> 11) + 1.0) * (1.0 / 9007199254740992.0); }
  // Box–Muller; one normal per call (the pair's second half is dropped for simplicity of state).
  double normal() {
    const double u1 = uniform(), u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  }

 private:
  std::uint64_t state_;
};

}  // namespace larimar

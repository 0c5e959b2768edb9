#pragma once
// token_sketch — lookup_kind::tokens' lookup vector: a signed feature hash of a token prefix, unit length.
//
// Each position i contributes the feature (i, t_i) and, but for the last, (i, t_i, t_i+1); a feature adds ±1 to
// one of the C dimensions, both drawn from a hash of it. Two equal prefixes give the same vector (cosine 1); a
// prefix that differs in one of its n tokens loses up to three of its 2n − 1 features (cosine about 1 − 1.5/n),
// so the exact prefix wins a nearest-neighbour lookup however alike the encoder finds the two (RULER's multikey
// haystacks: thousands of needles that differ in one key word). No encoder pass: the vector costs O(n + C).
// Nothing is learned, so a query must repeat the fact's own first tokens; a paraphrase is the encoder's to find.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>

#include "larimar/core/error.hpp"
#include "larimar/model/token.hpp"

namespace larimar::pipeline {

namespace detail {
constexpr std::uint64_t sketch_mix(std::uint64_t z) {  // splitmix64's finaliser
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
constexpr std::uint64_t sketch_feature(std::uint64_t kind, std::size_t pos, model::token_id a, model::token_id b) {
  std::uint64_t h = sketch_mix(kind * 0x9e3779b97f4a7c15ULL + pos);
  h = sketch_mix(h ^ static_cast<std::uint32_t>(a));
  return sketch_mix(h ^ (static_cast<std::uint64_t>(static_cast<std::uint32_t>(b)) << 1));
}
}  // namespace detail

// The sketch of `ids` into `out` (its size is C, at least 1).
inline void token_sketch(std::span<const model::token_id> ids, std::span<float> out) {
  if (out.empty()) throw shape_error("token_sketch: the output has no dimension");
  if (ids.empty()) throw value_error("token_sketch: no tokens to sketch");
  for (auto& v : out) v = 0;
  const std::size_t C = out.size();
  const auto add = [&](std::uint64_t h) { out[h % C] += (h >> 63) ? -1.0f : 1.0f; };
  for (std::size_t i = 0; i < ids.size(); ++i) {
    add(detail::sketch_feature(1, i, ids[i], 0));
    if (i + 1 < ids.size()) add(detail::sketch_feature(2, i, ids[i], ids[i + 1]));
  }
  double norm = 0;
  for (const float v : out) norm += static_cast<double>(v) * v;
  if (norm == 0) {  // every feature cancelled another: any fixed unit vector keeps the lookup defined
    out[0] = 1;
    return;
  }
  const auto scale = static_cast<float>(1.0 / std::sqrt(norm));
  for (auto& v : out) v *= scale;
}

}  // namespace larimar::pipeline

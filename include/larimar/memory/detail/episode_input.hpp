#pragma once
// What a write takes in, before it changes anything: the checks of its latents, lookups and extra lookup vectors
// (each error names the call), and its latents staged in S's memory space, with observation noise if asked.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "larimar/core/config.hpp"
#include "larimar/core/error.hpp"
#include "larimar/core/matrix_ref.hpp"
#include "larimar/core/random.hpp"
#include "larimar/core/validate.hpp"
#include "larimar/keys/lookup_indexed.hpp"
#include "larimar/memory/detail/input_rows.hpp"
#include "larimar/memory/extra_lookups.hpp"

namespace larimar::detail {

template <class Keys, class S, class T>
void check_episode(const std::string& op, const memory_config& cfg, const input_rows<T>& latents,
                   const input_rows<T>& lookups) {
  require_nonempty(op, "latents", latents.values);
  require_cols(op, "latents", latents.values, cfg.code_size, "code_size");
  require_finite_rows<S>(op, "latents", latents);
  if constexpr (!Keys::lookups_are_latents) {
    require_nonempty(op, "lookup vectors", lookups.values);
    require_same_rows(op, "latents", latents.values, "lookup vectors", lookups.values);
    require_cols(op, "lookup vectors", lookups.values, cfg.lookup_dim(), "lookup size");
    require_finite_rows<S>(op, "lookup vectors", lookups);
  }
}

// Extra lookup vectors for a write of n rows: only keys whose index holds lookups take them; one row each, of
// the lookup size, finite, naming a row of the write.
template <class Keys, class T, class S>
void check_extra(const std::string& op, const memory_config& cfg, const extra_lookups<T>& more, std::size_t n) {
  if constexpr (!keys::lookup_indexed<Keys, T, S>) {
    throw value_error(op + ": key policy " + Keys::name +
                      " takes no extra lookup vectors (its index does not hold each entry's lookup)");
  } else {
    if (more.vectors.rows != more.rows.size())
      throw shape_error(op + ": " + std::to_string(more.vectors.rows) + " extra lookup vectors but " +
                        std::to_string(more.rows.size()) + " rows naming their entries");
    if (more.rows.empty()) return;
    require_cols(op, "extra lookup vectors", more.vectors, cfg.lookup_dim(), "lookup size");
    require_finite(op, "extra lookup vectors", more.vectors);
    for (std::size_t i = 0; i < more.rows.size(); ++i)
      if (more.rows[i] >= n)
        throw value_error(op + ": extra lookup vector " + std::to_string(i) + " names row " +
                          std::to_string(more.rows[i]) + " of a write of " + std::to_string(n) + " rows");
  }
}

// The latents a write stores, in S: as given, or with draw number `draw` of the observation noise added
// (sample_noise), seeded so that a memory and its reloaded copy draw the same noise. Latents already in S stay
// there: the noise is drawn on the host and added in S.
template <class S, class T>
typename S::template matrix<T> staged_latents(const memory_config& cfg, const input_rows<T>& latents,
                                              std::uint64_t draw) {
  auto z = S::template make<T>(latents.rows(), cfg.code_size);
  if (cfg.sample_noise && cfg.observation_noise > 0) {
    splitmix64 rng(cfg.seed ^ (0x6e6f697365ULL + 0x9e3779b97f4a7c15ULL * draw));
    if (latents.in_storage) {
      std::vector<T> noise(latents.size());
      for (auto& x : noise) x = static_cast<T>(cfg.observation_noise * rng.normal());
      S::upload(noise.data(), noise.size(), S::data(z));
      S::linalg::axpby(noise.size(), T(1), latents.values.data, T(1), S::data(z));
      return z;
    }
    std::vector<T> noisy(latents.values.data, latents.values.data + latents.size());
    for (auto& x : noisy) x += static_cast<T>(cfg.observation_noise * rng.normal());
    S::upload(noisy.data(), noisy.size(), S::data(z));
    backend::note_latent_crossing<typename S::linalg>(backend::crossing::to_device, noisy.size());
  } else {
    stage_rows<S>(latents, S::data(z));  // no host copy on the deterministic path
  }
  return z;
}

}  // namespace larimar::detail

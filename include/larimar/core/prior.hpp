#pragma once
// The prior of a block (docs/design.md): mean M₀ (K×C) and covariance U₀ = σ₀²·I (K×K).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "larimar/core/config.hpp"
#include "larimar/core/seeded_matrix.hpp"

namespace larimar {

// M₀ on the host: the rectangular identity (ones on the diagonal), or N(0, 1) entries from the seed.
template <class T>
std::vector<T> prior_mean(const memory_config& cfg) {
  if (cfg.prior == prior_kind::gaussian)
    return detail::gaussian<T>(cfg.slots, cfg.code_size, 1.0, cfg.seed ^ 0x7072696f72ULL);  // "prior"
  std::vector<T> m(cfg.slots * cfg.code_size, T(0));
  for (std::size_t i = 0; i < std::min(cfg.slots, cfg.code_size); ++i) m[i * cfg.code_size + i] = T(1);
  return m;
}

// σ₀² = exp(memory_logvar) + 1e-6, as the reference.
inline double prior_variance(const memory_config& cfg) { return std::exp(cfg.memory_logvar) + 1e-6; }

}  // namespace larimar

#pragma once
// The parameters of one memory (one block of a sharded memory): docs/design.md in code.
#include <cstddef>
#include <cstdint>

#include "larimar/core/precision.hpp"

namespace larimar {

enum class prior_kind : std::uint8_t { identity, gaussian };   // M₀: K×C rectangular identity, or N(0, 1)
enum class key_basis : std::uint8_t { orthonormal, gaussian };  // fixed keys: QR-orthonormalised or N(0, 1/K)

struct memory_config {
  std::size_t slots = 512;             // K: rows of the memory, the length of an address
  std::size_t code_size = 768;         // C: latent size
  std::size_t lookup_size = 0;         // L: lookup/prefix vector size; 0 means code_size (full-latent lookups)
  std::uint64_t seed = 0;              // fixed keys, the Gaussian prior and observation noise derive from it
  prior_kind prior = prior_kind::identity;
  double memory_logvar = 0;            // prior covariance U₀ = σ₀²·I with σ₀² = exp(memory_logvar) + 1e-6
  double observation_noise = 0;        // σ_ξ: the Kalman write's observation variance is σ_ξ²
  bool sample_noise = false;           // also perturb written latents, Z_ξ = Z + ξ with ξ ~ N(0, σ_ξ²) drawn
                                       // from the seed (the reference's training-time write); off: deterministic
  key_basis keys = key_basis::orthonormal;
  std::size_t addresses = 0;           // fixed keys: how many addresses (0 means slots); more than slots writes
                                       // past the exact capacity (superposition, for the capacity study)
  bool quantized_lookup = false;       // single-query lookups scan an int8 copy of the index and rescore the
                                       // best 32 in full precision (4x fewer bytes; host storage only)
  precision lookup_precision = precision::full;  // the format the nearest-neighbour index stores its (unit)
                                       // lookup vectors in: fp16/bf16 halve its bytes; scores accumulate in T.
                                       // Either this or quantized_lookup, not both
  precision memory_precision = precision::full;  // the format one-shot blocks keep their K×C memory in at rest
                                       // (fp16/bf16: half the bytes); reads and writes widen it and accumulate in
                                       // T. (One-shot blocks keep no K×K covariance in any format: it is the prior)
  double write_tolerance = 0;          // sharded prefix_encoding: a block takes segments only while its least-
                                       // squares write reads every latent back within this relative error; the
                                       // rest open new blocks (0: √ε of the element type, 3.5e-4 in float)

  constexpr std::size_t lookup_dim() const { return lookup_size ? lookup_size : code_size; }
  constexpr std::size_t address_count() const { return addresses ? addresses : slots; }
};

}  // namespace larimar

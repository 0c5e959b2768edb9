#pragma once
// keys::content — Larimar's own addressing (the reference GPM): a segment is written at w = z·M₀⁺ against the
// prior memory M₀, and a query latent reads at w = q·M⁺ against the current memory; both pseudoinverses come from
// the memory's solver policy. Lookup vectors are the latents themselves. Reads blend every slot; kept for parity with the reference and for the capacity study.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "larimar/core/config.hpp"
#include "larimar/keys/concepts.hpp"
#include "larimar/memory/prior.hpp"
#include "larimar/solver/pseudoinverse.hpp"

namespace larimar::keys {


struct content {
  static constexpr const char* name = "content";
  static constexpr addressing mode = addressing::by_content;

  template <class T, class S>
  class state {
   public:
    using matrix = typename S::template matrix<T>;
    // M₀⁺ by the memory's solver (the reference's iterative steps included), or exactly without one.
    template <class Solver>
    state(const memory_config& cfg, const Solver& solver) : prior_pinv_(S::template make<T>(cfg.code_size, cfg.slots)) {
      const auto host = prior_mean<T>(cfg);
      auto m0 = S::template make<T>(cfg.slots, cfg.code_size);
      S::upload(host.data(), host.size(), S::data(m0));
      solver.template pinv<S>(S::data(m0), cfg.slots, cfg.code_size, S::data(prior_pinv_));
    }
    explicit state(const memory_config& cfg) : state(cfg, solver::pseudoinverse{}) {}
    std::size_t address_count() const { return S::cols(prior_pinv_); }
    const matrix& address_matrix() const { return prior_pinv_; }  // M₀⁺ (C×K)
    matrix& address_matrix() { return prior_pinv_; }  // replaced by the state-file loader

   private:
    matrix prior_pinv_;
  };
};

}  // namespace larimar::keys

#pragma once
// keys::content — Larimar's own addressing (the reference GPM): a segment is written at w = z·M₀⁺ against the
// prior memory M₀, and a query latent reads at w = q·M⁺ against the current memory; both pseudoinverses come from
// the memory's solver policy. Lookup vectors are the latents themselves. Reads blend every slot; kept for parity
// with the reference and for the capacity study.
//
// A sequential write addresses each segment against the current memory instead, by a content-address policy:
//   keys::content        = basic_content<address::pseudoinverse>: w = z·M⁺ (the memory's solver), the read's rule;
//   keys::content_ridge  = basic_content<address::ridge>: w = z·Mᵀ(M·Mᵀ + σ_ξ²I)⁻¹, exact, the reference's
//                          sequential write (equal to z·M⁺ when σ_ξ = 0 and M has full row rank).
#include <algorithm>
#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "larimar/core/config.hpp"
#include "larimar/core/prior.hpp"
#include "larimar/keys/concepts.hpp"
#include "larimar/keys/content_address.hpp"
#include "larimar/solver/pseudoinverse.hpp"

namespace larimar::keys {

namespace address {

// w = z·M⁺, M⁺ from the memory's solver.
struct pseudoinverse {
  static constexpr const char* name = "pseudoinverse";
  template <class S, class T, class Solver>
  static void map(const Solver& solver, const T* mean, std::size_t k, std::size_t c, T, T* out) {
    solver.template pinv<S>(mean, k, c, out);
  }
};

// w = z·Mᵀ(M·Mᵀ + σ²I)⁻¹, whatever the solver: with a = [M | σI] (K×(C+K)), a·aᵀ = M·Mᵀ + σ²I and the first C
// rows of a⁺ = aᵀ(a·aᵀ)⁻¹ are the map. Cholesky on a·aᵀ, the SVD where that is not clearly positive definite
// (σ = 0 with K > C: then the map is M⁺, the limit σ → 0).
struct ridge {
  static constexpr const char* name = "ridge";
  template <class S, class T, class Solver>
  static void map(const Solver&, const T* mean, std::size_t k, std::size_t c, T sigma, T* out) {
    auto at = S::template make<T>(c + k, k);  // aᵀ = [Mᵀ; σI], stacked rows
    S::linalg::transpose(mean, k, c, S::data(at));
    S::linalg::set_identity(S::data(at) + c * k, k, k, sigma);
    auto a = S::template make<T>(k, c + k);
    S::linalg::transpose(S::data(at), c + k, k, S::data(a));
    auto ap = S::template make<T>(c + k, k);
    solver::pseudoinverse{.how = solver::pseudoinverse::method::cholesky}.template pinv<S>(S::data(a), k, c + k,
                                                                                             S::data(ap));
    S::copy(S::data(ap), c * k, out);
  }
};

}  // namespace address

namespace detail {
// "content" for the default address, "content_<address>" otherwise: the name state files record.
template <class Address>
struct content_name {
  static constexpr std::string_view base = "content", tail = Address::name;
  static constexpr std::array<char, base.size() + 1 + tail.size() + 1> joined = [] {
    std::array<char, base.size() + 1 + tail.size() + 1> s{};
    std::size_t i = 0;
    for (char ch : base) s[i++] = ch;
    s[i++] = '_';
    for (char ch : tail) s[i++] = ch;
    return s;
  }();
  static constexpr const char* value = tail == address::pseudoinverse::name ? "content" : joined.data();
};
}  // namespace detail

template <class Address>
struct basic_content {
  static constexpr const char* name = detail::content_name<Address>::value;
  static constexpr bool lookups_are_latents = true;
  // Every read blends every slot of one memory: there is nothing to choose a block by.
  static constexpr bool shardable = false;
  static std::size_t lookup_cols(const memory_config& cfg) { return cfg.code_size; }
  static std::size_t index_dim(const memory_config& cfg) { return cfg.slots; }  // the index holds addresses
  static std::pair<std::size_t, std::size_t> address_matrix_shape(const memory_config& cfg) {
    return {cfg.code_size, cfg.slots};  // M₀⁺: a latent times it is an address
  }
  using sequential_address = Address;

  template <class T, class S>
  class state {
    static_assert(content_address_policy<Address, T, S>,
                  "keys::basic_content<Address>: Address must satisfy content_address_policy "
                  "(a name, and map<S>(solver, mean, K, C, sigma, out) giving the C×K map of w = z·map)");

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
    bool orthonormal() const { return false; }

    // One block (the memory); rows are appended, a slot only numbers an entry.
    std::size_t block_capacity(const memory_config&, std::size_t) const { return std::numeric_limits<std::size_t>::max(); }
    std::size_t slot_map_size() const { return 0; }
    void free_slots(std::span<const std::uint8_t>, std::span<const std::size_t> taken, std::size_t room,
                    std::size_t wanted, std::vector<std::size_t>& out) const {
      const std::size_t next = taken.empty() ? 0 : *std::max_element(taken.begin(), taken.end()) + 1;
      for (std::size_t i = 0; i < std::min(room, wanted); ++i) out.push_back(next + i);
    }

    // A one-shot write addresses against the prior, w = z·M₀⁺.
    void write_addresses(std::span<const std::size_t>, const T* latents, const T*, std::size_t n, T* out) const {
      times(latents, n, S::data(prior_pinv_), out);
    }
    const T* index_vectors(const T*, const T* addresses) const { return addresses; }
    // A query latent reads at w = q·M⁺, M⁺ the block's read map.
    matrix query_addresses(const T* queries, std::size_t q, const T* read_map) const {
      auto w = S::template make<T>(q, address_count());
      times(queries, q, read_map, S::data(w));
      return w;
    }

    // M⁺ (C×K) of a block's mean (K×C), by the memory's solver.
    template <class Solver>
    matrix read_map(const Solver& solver, const T* mean, std::size_t k, std::size_t c) const {
      matrix mp = S::template make<T>(c, k);
      solver.template pinv<S>(mean, k, c, S::data(mp));
      return mp;
    }
    // A sequential write's row: w = z·A against the mean as the rows before it left it, A from the content-address
    // policy. The pseudoinverse address is the read's M⁺, so it reuses (or makes) the block's read map.
    template <class Solver>
    void sequential_address(const Solver& solver, const T* latent, const T* mean, std::size_t k, std::size_t c,
                            T sigma, std::optional<matrix>& map, T* out) const {
      if constexpr (std::same_as<Address, address::pseudoinverse>) {
        if (!map) map = read_map(solver, mean, k, c);
        times(latent, 1, S::data(*map), out);
      } else {
        auto own = S::template make<T>(c, k);
        Address::template map<S>(solver, mean, k, c, sigma, S::data(own));
        times(latent, 1, S::data(own), out);
      }
    }

   private:
    void times(const T* rows, std::size_t n, const T* map, T* out) const {  // out (n×K) = rows (n×C)·map (C×K)
      const std::size_t c = S::rows(prior_pinv_), k = S::cols(prior_pinv_);
      S::linalg::gemm(false, false, n, k, c, T(1), rows, c, map, k, T(0), out, k);
    }
    matrix prior_pinv_;
  };
};

using content = basic_content<address::pseudoinverse>;
using content_ridge = basic_content<address::ridge>;

}  // namespace larimar::keys

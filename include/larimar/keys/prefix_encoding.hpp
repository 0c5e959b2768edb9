#pragma once
// keys::prefix_encoding — no lookup table: the address is computed from the encoding of the segment's prefix,
// w = k·P with P = M_k⁺ for a fixed Gaussian key memory M_k (K×L), as Larimar's content addressing does against
// a fixed memory. A query's address is the same map applied to the encoding of its prefix, so a read blends
// slots by prefix similarity and is exact only when the prefixes match. W = K_enc·P has rank ≤ min(K, L): one
// block holds at most min(K, L) segments exactly, and a sharded memory's block fewer when the encodings are
// numerically dependent (memory_config::write_tolerance).
#include <cstddef>
#include <cstdint>

#include "larimar/core/config.hpp"
#include "larimar/keys/concepts.hpp"
#include "larimar/keys/detail/random_matrix.hpp"
#include "larimar/solver/pseudoinverse.hpp"

namespace larimar::keys {

struct prefix_encoding {
  static constexpr const char* name = "prefix_encoding";
  static constexpr addressing mode = addressing::by_projection;

  template <class T, class S>
  class state {
   public:
    using matrix = typename S::template matrix<T>;
    explicit state(const memory_config& cfg) : projection_(S::template make<T>(cfg.lookup_dim(), cfg.slots)) {
      const auto host = detail::gaussian<T>(cfg.slots, cfg.lookup_dim(), 1.0, cfg.seed ^ kSalt);
      auto key_memory = S::template make<T>(cfg.slots, cfg.lookup_dim());
      S::upload(host.data(), host.size(), S::data(key_memory));
      solver::pseudoinverse{}.template pinv<S>(S::data(key_memory), cfg.slots, cfg.lookup_dim(), S::data(projection_));
    }
    std::size_t address_count() const { return S::cols(projection_); }
    const matrix& address_matrix() const { return projection_; }  // P (L×K)
    matrix& address_matrix() { return projection_; }  // replaced by the state-file loader

   private:
    static constexpr std::uint64_t kSalt = 0x70726566ULL;  // "pref"
    matrix projection_;
  };
};

}  // namespace larimar::keys

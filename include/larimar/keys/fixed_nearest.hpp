#pragma once
// keys::fixed_nearest — a fixed key memory: address rows a_1..a_A drawn once from the seed (orthonormalised by
// default), never learned. The segment in slot s is written at a_s; a query is matched to the written entry whose
// lookup vector is nearest by cosine, and reads at that entry's key. With orthonormal keys and at most K
// segments per block, W·W⁺ = I and a read at a_s returns z_s exactly.
// The lookup vector is the caller's: the segment's full latent ("no prefix") or the encoding of its first tokens.
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "larimar/core/config.hpp"
#include "larimar/keys/concepts.hpp"
#include "larimar/keys/detail/random_matrix.hpp"

namespace larimar::keys {

struct fixed_nearest {
  static constexpr const char* name = "fixed_nearest";
  static constexpr addressing mode = addressing::by_slot;

  template <class T, class S>
  class state {
   public:
    using matrix = typename S::template matrix<T>;
    explicit state(const memory_config& cfg)
        : keys_(S::template make<T>(cfg.address_count(), cfg.slots)),
          orthonormal_(cfg.keys == key_basis::orthonormal) {
      const auto host = orthonormal_ ? detail::orthonormal_rows<T>(cfg.address_count(), cfg.slots, cfg.seed ^ kSalt)
                                     : detail::gaussian<T>(cfg.address_count(), cfg.slots,
                                                           1.0 / std::sqrt(static_cast<double>(cfg.slots)),
                                                           cfg.seed ^ kSalt);
      S::upload(host.data(), host.size(), S::data(keys_));
    }
    std::size_t address_count() const { return S::rows(keys_); }
    const matrix& address_matrix() const { return keys_; }
    matrix& address_matrix() { return keys_; }  // replaced by the state-file loader
    // W·Wᵀ = I for any subset of rows: the least-squares write is then M = Wᵀ·Z.
    bool orthonormal() const { return orthonormal_; }

   private:
    static constexpr std::uint64_t kSalt = 0x6b657973ULL;  // "keys"
    matrix keys_;
    bool orthonormal_;
  };
};

}  // namespace larimar::keys

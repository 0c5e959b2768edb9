#pragma once
// keys::fixed_nearest — a fixed key memory: address rows a_1..a_A drawn once from the seed (orthonormalised by
// default), never learned. The segment in slot s is written at a_s; a query is matched to the written entry whose
// lookup vector is nearest by cosine, and reads at that entry's key. With orthonormal keys and at most K
// segments per block, W·W⁺ = I and a read at a_s returns z_s exactly.
// The lookup vector is the caller's: the segment's full latent ("no prefix") or the encoding of its first tokens.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "larimar/core/config.hpp"
#include "larimar/keys/concepts.hpp"
#include "larimar/keys/detail/random_matrix.hpp"

namespace larimar::keys {

struct fixed_nearest {
  static constexpr const char* name = "fixed_nearest";
  static constexpr bool lookups_are_latents = false;
  static constexpr bool shardable = true;  // the nearest entry names its block
  static constexpr bool index_holds_lookups = true;  // an entry may carry extra lookup rows (keys/lookup_indexed.hpp)
  static std::size_t lookup_cols(const memory_config& cfg) { return cfg.lookup_dim(); }
  static std::size_t index_dim(const memory_config& cfg) { return cfg.lookup_dim(); }  // the index holds lookups
  static std::pair<std::size_t, std::size_t> address_matrix_shape(const memory_config& cfg) {
    return {cfg.address_count(), cfg.slots};  // one key row per address
  }

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

    // A block holds one entry per key; forgetting frees the key for the next write, lowest free first.
    std::size_t block_capacity(const memory_config&, std::size_t) const { return address_count(); }
    std::size_t slot_map_size() const { return address_count(); }
    void free_slots(std::span<const std::uint8_t> used, std::span<const std::size_t>, std::size_t,
                    std::size_t wanted, std::vector<std::size_t>& out) const {
      for (std::size_t s = 0; s < address_count() && out.size() < wanted; ++s)
        if (used.empty() || used[s] == 0) out.push_back(s);
    }

    void write_addresses(std::span<const std::size_t> slots, const T*, const T*, std::size_t n, T* out) const {
      const std::size_t k = S::cols(keys_);
      for (std::size_t i = 0; i < n; ++i) S::copy(S::data(keys_) + slots[i] * k, k, out + i * k);
    }
    const T* index_vectors(const T* lookups, const T*) const { return lookups; }
    // A query has no address of its own: it reads at the key of the entry whose lookup it matches.
    matrix query_addresses(const T*, std::size_t, const T*) const { return S::template make<T>(0, S::cols(keys_)); }

   private:
    static constexpr std::uint64_t kSalt = 0x6b657973ULL;  // "keys"
    matrix keys_;
    bool orthonormal_;
  };
};

}  // namespace larimar::keys

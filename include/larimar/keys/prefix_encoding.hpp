#pragma once
// keys::prefix_encoding — no lookup table: the address is computed from the encoding of the segment's prefix,
// w = k·P with P = M_k⁺ for a fixed Gaussian key memory M_k (K×L), as Larimar's content addressing does against
// a fixed memory. A query's address is the same map applied to the encoding of its prefix, so a read blends
// slots by prefix similarity and is exact only when the prefixes match. W = K_enc·P has rank ≤ min(K, L): one
// block holds at most min(K, L) segments exactly, and a sharded memory's block fewer when the encodings are
// numerically dependent (memory_config::write_tolerance; prefix_encoding/exact_fill.hpp).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <utility>
#include <vector>

#include "larimar/core/config.hpp"
#include "larimar/keys/block_fill.hpp"
#include "larimar/keys/concepts.hpp"
#include "larimar/keys/detail/random_matrix.hpp"
#include "larimar/keys/prefix_encoding/exact_fill.hpp"
#include "larimar/solver/pseudoinverse.hpp"

namespace larimar::keys {

struct prefix_encoding {
  static constexpr const char* name = "prefix_encoding";
  static constexpr bool lookups_are_latents = false;
  static constexpr bool shardable = true;  // the nearest address names its block
  static std::size_t lookup_cols(const memory_config& cfg) { return cfg.lookup_dim(); }
  static std::size_t index_dim(const memory_config& cfg) { return cfg.slots; }  // the index holds addresses
  static std::pair<std::size_t, std::size_t> address_matrix_shape(const memory_config& cfg) {
    return {cfg.lookup_dim(), cfg.slots};  // P: a lookup times it is an address
  }

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
    bool orthonormal() const { return false; }

    // One block is the whole of a plain memory; a sharded memory's block holds at most the rank of W = K_enc·P.
    std::size_t block_capacity(const memory_config& cfg, std::size_t max_blocks) const {
      return max_blocks == 1 ? std::numeric_limits<std::size_t>::max() : rank_bound(cfg);
    }
    // Rows are appended: a slot only numbers an entry within its block.
    std::size_t slot_map_size() const { return 0; }
    void free_slots(std::span<const std::uint8_t>, std::span<const std::size_t> taken, std::size_t room,
                    std::size_t wanted, std::vector<std::size_t>& out) const {
      const std::size_t next = taken.empty() ? 0 : *std::max_element(taken.begin(), taken.end()) + 1;
      for (std::size_t i = 0; i < std::min(room, wanted); ++i) out.push_back(next + i);
    }

    void write_addresses(std::span<const std::size_t>, const T*, const T* lookups, std::size_t n, T* out) const {
      project(lookups, n, out);
    }
    const T* index_vectors(const T*, const T* addresses) const { return addresses; }
    matrix query_addresses(const T* queries, std::size_t q, const T*) const {
      auto w = S::template make<T>(q, S::cols(projection_));
      project(queries, q, S::data(w));
      return w;
    }

    // A sharded memory's blocks take rows while their write stays exact.
    bool fills_exactly(std::size_t max_blocks) const { return max_blocks > 1; }
    std::size_t offer(const memory_config&, const block_fill& fill, std::size_t capacity) const {
      return prefix::exact_fill<T, S>::offer(fill, capacity);
    }
    template <block_trial<T> Trial>
    std::size_t fill_block(const memory_config& cfg, Trial& b, std::size_t first, std::size_t count,
                           block_fill& fill) const {
      return prefix::exact_fill<T, S>(cfg).fit(b, first, count, fill, rank_bound(cfg));
    }

   private:
    static std::size_t rank_bound(const memory_config& cfg) { return std::min(cfg.slots, cfg.lookup_dim()); }
    void project(const T* lookups, std::size_t n, T* out) const {  // w = k·P, n rows
      const std::size_t l = S::rows(projection_), k = S::cols(projection_);
      S::linalg::gemm(false, false, n, k, l, T(1), lookups, l, S::data(projection_), k, T(0), out, k);
    }
    static constexpr std::uint64_t kSalt = 0x70726566ULL;  // "pref"
    matrix projection_;
  };
};

}  // namespace larimar::keys

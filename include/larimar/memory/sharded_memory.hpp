#pragma once
// larimar::sharded_memory — a context of any length as a sequence of blocks of K slots (docs/design.md). Each
// block is written one-shot as its segments arrive; one nearest-neighbour index over every entry chooses block and
// slot for a query. Cost grows linearly with the number of segments; the memory stays in its storage (host RAM
// for storage::host).
//
// Block choice per key policy: fixed_nearest — the block of the entry whose lookup vector is nearest;
// prefix_encoding — the block of the entry whose address k·P is nearest (cosine) to the query's address q·P,
// then the read blends that block's slots at q·P; a block takes at most min(K, L) entries, and only as many as
// its least-squares write reads back within memory_config::write_tolerance (real prefixes are dependent sooner).
// Keys that are not shardable (keys::content: its reads blend every slot of one memory) are not offered.
#include <cstddef>
#include <span>
#include <vector>

#include "larimar/memory/memory.hpp"

namespace larimar {

template <class T, class Storage, class Keys, class Solver>
  requires memory_policies<T, Storage, Keys, Solver> && (Keys::shardable)
class sharded_memory : public detail::memory_base<T, Storage, Keys, Solver> {
  using base = detail::memory_base<T, Storage, Keys, Solver>;
  using base::store_;

 public:
  using typename base::matrix;

  static constexpr std::size_t max_blocks = static_cast<std::size_t>(-1);  // as many as the context needs

  explicit sharded_memory(const memory_config& cfg, Solver solver = {})
      : base(cfg, max_blocks, std::move(solver), "sharded_memory") {}
  // For io::load: the key matrix a state file holds (not drawn again).
  sharded_memory(detail::stored_keys_t tag, const memory_config& cfg, Solver solver, matrix keys)
      : base(tag, cfg, max_blocks, std::move(solver), "sharded_memory", std::move(keys)) {}

  std::size_t block_capacity() const { return store_.block_capacity(); }  // the most one block takes
  matrix block_mean(std::size_t b) const { return store_.block_mean(b); }  // K×C in T
  std::size_t block_size(std::size_t b) const { return store_.block_at(b).size(); }  // entries held in block b
  // How block b was written (none once every entry of it is forgotten); a write in the other mode opens a new block.
  write_mode block_mode(std::size_t b) const { return store_.block_at(b).mode; }
  // Drops the blocks from `keep` on, which must be empty (a write's rows forgotten again: how the distributed
  // memory undoes a write that failed on another rank); a state_error names a block that is not.
  void drop_empty_blocks(std::size_t keep) { store_.drop_empty_blocks(keep); }
};

}  // namespace larimar

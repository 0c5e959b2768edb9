#pragma once
// Where a write's rows go: block by block in row order, the last block topped up first (its free slots, as the
// key policy gives them), then new blocks. A block's placement is a value; when a block takes fewer rows than it
// was offered (keys::exact_filling), the write plans the rest again from the next block.
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <numeric>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "larimar/core/error.hpp"
#include "larimar/memory/write_mode.hpp"

namespace larimar::detail {

struct block_placement {
  std::size_t block;
  std::vector<std::size_t> slots;  // one per row placed in the block
  std::size_t count() const { return slots.size(); }
};

struct write_plan {
  std::vector<block_placement> blocks;

  std::size_t rows() const {
    return std::accumulate(blocks.begin(), blocks.end(), std::size_t{0},
                           [](std::size_t n, const block_placement& p) { return n + p.count(); });
  }
  // Every row's slot, in row order.
  std::vector<std::size_t> slots() const {
    std::vector<std::size_t> out;
    out.reserve(rows());
    for (const auto& p : blocks) out.insert(out.end(), p.slots.begin(), p.slots.end());
    return out;
  }
  // Block s took `kept` of its rows: the plan ends there.
  void cut(std::size_t s, std::size_t kept) {
    blocks.resize(s + 1);
    blocks[s].slots.resize(kept);
  }
  void extend(write_plan more) {
    blocks.insert(blocks.end(), std::make_move_iterator(more.blocks.begin()), std::make_move_iterator(more.blocks.end()));
  }
};

// Places n rows from block `from` on, each block offered room for `capacity` rows; a sharded memory (max_blocks
// above 1) opens a new block rather than mix write modes in one. A state_error names `op` when the memory's
// blocks have no room for all n.
template <class KeyState, class Block>
write_plan plan_write(const std::string& op, std::size_t n, write_mode how, const std::vector<Block>& blocks,
                      std::size_t max_blocks, const KeyState& keys, std::size_t capacity, std::size_t from) {
  write_plan plan;
  std::size_t remaining = n, room_seen = 0;
  for (std::size_t b = from; remaining > 0; ++b) {
    if (b >= max_blocks)
      throw state_error(op + ": no room for " + std::to_string(n) + " segments: " + std::to_string(room_seen) +
                        " free slots left" + (max_blocks == 1 ? " (a memory holds one block; use sharded_memory)" : ""));
    const bool exists = b < blocks.size();
    if (exists && blocks[b].mode != write_mode::none && blocks[b].mode != how && max_blocks > 1) continue;
    const std::size_t have = exists ? blocks[b].size() : 0;
    const std::size_t room = capacity > have ? capacity - have : 0;
    block_placement p{b, {}};
    keys.free_slots(exists ? std::span<const std::uint8_t>(blocks[b].used) : std::span<const std::uint8_t>{},
                    exists ? std::span<const std::size_t>(blocks[b].slot) : std::span<const std::size_t>{}, room,
                    remaining, p.slots);
    room_seen += p.count();
    remaining -= p.count();
    if (p.count() > 0) plan.blocks.push_back(std::move(p));
  }
  return plan;
}

}  // namespace larimar::detail

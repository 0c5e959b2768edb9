#pragma once
// What every rank knows about the whole distributed memory, kept identical on all of them because every rank makes
// the same calls: the blocks (owner and slots used), which block each range of entry ids went to, which entries
// are alive. From it each rank computes, without communication, where the rows of a write go: the rule of the
// single-process sharded memory with fixed keys (top up the last block with its free slots, then open new blocks
// of A slots each; a last block written in the other mode is not topped up), so that every block receives the same
// rows, in the same order, in the same calls.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "larimar/core/error.hpp"
#include "larimar/memory/write_mode.hpp"

namespace larimar::distributed::detail {

struct block_info {
  std::uint32_t owner;                 // rank
  std::uint32_t used;                  // slots in use
  write_mode mode = write_mode::none;  // none exactly when used == 0, as in the block's local memory
};

// Entry ids [first, first + count) were written to `block`.
struct id_range {
  std::uint64_t first, count, block;
};

// A write's rows [row, row + count) go to `block` (a new one when block == blocks().size() at the time, and so on).
struct planned_segment {
  std::size_t block, row, count;
};

class directory {
 public:
  directory() = default;
  explicit directory(std::size_t block_slots) : slots_(block_slots) {}

  std::size_t block_slots() const { return slots_; }
  std::size_t block_count() const { return blocks_.size(); }
  const std::vector<block_info>& blocks() const { return blocks_; }
  const std::vector<id_range>& ranges() const { return ranges_; }
  std::uint64_t next_entry() const { return next_entry_; }
  std::size_t size() const { return live_; }
  bool contains(std::uint64_t id) const { return id < alive_.size() && alive_[id]; }
  // Owner of a new block: round robin over the ranks the memory runs on.
  static std::uint32_t new_block_owner(std::size_t block, int ranks) {
    return static_cast<std::uint32_t>(block % static_cast<std::size_t>(ranks));
  }

  // Where n rows of a write in mode `how` go: the last block's free slots first (unless it holds entries of the
  // other mode: a block keeps one mode, so sharded_memory opens a new one), then new blocks.
  std::vector<planned_segment> plan(std::size_t n, write_mode how) const {
    std::vector<planned_segment> out;
    std::size_t row = 0, b = blocks_.empty() ? 0 : blocks_.size() - 1;
    if (!blocks_.empty() && blocks_[b].mode != write_mode::none && blocks_[b].mode != how) ++b;
    while (row < n) {
      const std::size_t room = b < blocks_.size() ? slots_ - blocks_[b].used : slots_;
      const std::size_t take = std::min(room, n - row);
      if (take > 0) out.push_back({b, row, take});
      row += take;
      ++b;
    }
    return out;
  }

  // Records a write planned by plan(n, how); new blocks go to new_block_owner.
  void commit(const std::vector<planned_segment>& segments, std::size_t n, int ranks, write_mode how) {
    for (const auto& s : segments) {
      if (s.block == blocks_.size()) blocks_.push_back({new_block_owner(s.block, ranks), 0});
      blocks_[s.block].used += static_cast<std::uint32_t>(s.count);
      blocks_[s.block].mode = how;
      ranges_.push_back({next_entry_ + s.row, s.count, s.block});
    }
    alive_.resize(alive_.size() + n, 1);
    next_entry_ += n;
    live_ += n;
  }

  std::size_t block_of(const std::string& op, std::uint64_t id) const {
    if (!contains(id))
      throw state_error(op + ": no entry " + std::to_string(id) + " in the memory (never written, or forgotten)");
    auto it = std::upper_bound(ranges_.begin(), ranges_.end(), id,
                               [](std::uint64_t v, const id_range& r) { return v < r.first; });
    return static_cast<std::size_t>((it - 1)->block);
  }
  std::uint32_t owner_of_block(std::size_t b) const { return blocks_.at(b).owner; }
  write_mode mode_of_block(std::size_t b) const { return blocks_.at(b).mode; }

  void forget(std::uint64_t id, std::size_t block) {
    alive_[id] = 0;
    --live_;
    if (--blocks_[block].used == 0) blocks_[block].mode = write_mode::none;  // an emptied block takes either mode
  }

  // The state files' view.
  const std::vector<std::uint8_t>& alive() const { return alive_; }
  void restore(std::vector<block_info> blocks, std::vector<id_range> ranges, std::vector<std::uint8_t> alive) {
    blocks_ = std::move(blocks);
    ranges_ = std::move(ranges);
    alive_ = std::move(alive);
    next_entry_ = alive_.size();
    live_ = static_cast<std::size_t>(std::count(alive_.begin(), alive_.end(), std::uint8_t{1}));
  }
  void set_owner(std::size_t b, std::uint32_t rank) { blocks_.at(b).owner = rank; }

 private:
  std::size_t slots_ = 0;
  std::vector<block_info> blocks_;
  std::vector<id_range> ranges_;     // by first id, ascending
  std::vector<std::uint8_t> alive_;  // per entry id
  std::uint64_t next_entry_ = 0;
  std::size_t live_ = 0;
};

}  // namespace larimar::distributed::detail

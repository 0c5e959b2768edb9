#pragma once
// A write in two phases: everything is computed on copies (staged blocks, their entries, the fill), then committed
// by moves into space reserved while staging, so the commit cannot fail and a failure before it leaves the memory
// as it was.
#include <cstddef>
#include <span>
#include <utility>
#include <vector>

#include "larimar/keys/block_fill.hpp"
#include "larimar/memory/detail/block.hpp"
#include "larimar/memory/detail/entry_directory.hpp"
#include "larimar/memory/detail/placement.hpp"

namespace larimar::detail {

// Rows [row, row + count) of one write, appended to a block's log (addresses, latents, entry ids, slots).
template <class T, class S>
struct staged_rows {
  std::span<const std::size_t> slots;  // the block's placement
  const T* w;                          // the write's addresses (n×K) and latents (n×C)
  const T* z;
  std::size_t row;                     // the block's first row in the write
  std::size_t first_id;                // the write's first entry id

  void append(block_state<T, S>& b, std::size_t count) const {
    const std::size_t k = b.addresses.cols(), c = b.latents.cols();
    b.addresses.append_from(w + row * k, count);
    b.latents.append_from(z + row * c, count);
    for (std::size_t i = 0; i < count; ++i) {
      b.entry.push_back(first_id + row + i);
      b.slot.push_back(slots[i]);
      if (slots[i] < b.used.size()) b.used[slots[i]] = 1;
    }
  }
  void truncate(block_state<T, S>& b, std::size_t size) const {
    const std::size_t drop = b.size() - size;
    b.addresses.pop_back(drop);
    b.latents.pop_back(drop);
    for (std::size_t i = 0; i < drop; ++i) {
      if (b.slot.back() < b.used.size()) b.used[b.slot.back()] = 0;
      b.entry.pop_back();
      b.slot.pop_back();
    }
  }
};

// A block under trial for keys::exact_filling (keys/block_trial.hpp): its `first` earlier rows and a prefix of the
// offered ones, solved by `solve` (the store's one-shot write).
template <class T, class S, class Solve>
struct staged_trial {
  block_state<T, S>& b;
  const staged_rows<T, S>& rows;
  std::size_t first;
  Solve solve_block;

  std::size_t size() const { return b.size(); }
  const T* addresses() const { return b.addresses.data(); }
  const T* latents() const { return b.latents.data(); }
  const T* mean() const { return S::data(b.mean); }
  void take(std::size_t m) {
    rows.truncate(b, first);
    rows.append(b, m);
  }
  void solve() { solve_block(b); }
};

template <class T, class S>
struct write_transaction {
  write_plan plan;                       // staged[s] is the new state of plan.blocks[s].block
  std::vector<block_state<T, S>> staged;
  entry_directory::staged entries;
  keys::block_fill fill;

  // The entries of the staged blocks, ids from first_id on, index rows from index_base on; room for the new blocks.
  void stage_entries(entry_directory& dir, std::vector<block_state<T, S>>& blocks, std::size_t index_base) {
    entries = dir.stage(plan.rows());
    std::size_t row = 0, opened = 0;
    for (std::size_t s = 0; s < staged.size(); ++s) {
      const auto& p = plan.blocks[s];
      opened += p.block >= blocks.size();
      for (std::size_t i = 0; i < p.count(); ++i) {
        const std::size_t id = dir.next_id() + row + i;
        entries.where.emplace(id, entry_location{p.block, staged[s].size() - p.count() + i, index_base + row + i});
        entries.ids.push_back(id);
      }
      row += p.count();
    }
    blocks.reserve(blocks.size() + opened);
  }

  void commit(std::vector<block_state<T, S>>& blocks, entry_directory& dir, keys::block_fill& fill_out) noexcept {
    for (std::size_t s = 0; s < staged.size(); ++s) {
      if (plan.blocks[s].block < blocks.size())
        blocks[plan.blocks[s].block] = std::move(staged[s]);
      else
        blocks.push_back(std::move(staged[s]));
    }
    dir.commit(entries);
    fill_out = fill;
  }
};

}  // namespace larimar::detail

#pragma once
// Where a write's rows go, block by block: each block is offered its capacity, or — for key policies that fill a
// block only while its write stays exact (keys::exact_filling, in a sharded memory) — what the fill offers, and
// then keeps as many of the offered rows as stay exact. A view over the store, made per write.
#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include "larimar/core/config.hpp"
#include "larimar/keys/block_fill.hpp"
#include "larimar/keys/concepts.hpp"
#include "larimar/memory/detail/block.hpp"
#include "larimar/memory/detail/block_solver.hpp"
#include "larimar/memory/detail/placement.hpp"
#include "larimar/memory/detail/write_transaction.hpp"
#include "larimar/memory/write_mode.hpp"

namespace larimar::detail {

template <class T, class S, class Keys, class Solver>
struct block_filler {
  using keys_state = typename Keys::template state<T, S>;
  using block = block_state<T, S>;

  const memory_config& cfg;
  const keys_state& keys;
  const std::vector<block>& blocks;
  std::size_t max_blocks;
  std::size_t capacity;  // rows per block
  block_solver<T, S, Keys, Solver> solve;

  // Blocks and slots for n rows from block `from` on.
  write_plan place(const std::string& op, std::size_t n, write_mode how, const keys::block_fill& fill,
                   std::size_t from) const {
    const std::size_t cap = fills_while_exact() && how == write_mode::one_shot ? offer(fill) : capacity;
    return plan_write(op, n, how, blocks, max_blocks, keys, cap, from);
  }
  bool fills_while_exact() const {
    if constexpr (keys::exact_filling<Keys, T, S>) return keys.fills_exactly(max_blocks);
    return false;
  }
  // Rows the next block is offered under this fill.
  std::size_t offer(const keys::block_fill& f) const {
    if constexpr (keys::exact_filling<Keys, T, S>) return keys.offer(cfg, f, capacity);
    return capacity;
  }
  // Block s of the plan keeps the offered rows that stay exact; the plan past it is dropped when it kept fewer or
  // the fill changed (the write plans the rest under the new fill). False: not such keys, nothing done.
  bool fill_exactly(write_transaction<T, S>& tx, std::size_t s, block& next, const staged_rows<T, S>& rows,
                    std::size_t first) const {
    if constexpr (keys::exact_filling<Keys, T, S>) {
      if (!fills_while_exact()) return false;
      const keys::block_fill before = tx.fill;
      auto one_shot = [this](block& b) { solve.solve_one_shot(b); };
      staged_trial<T, S, decltype(one_shot)> trial{next, rows, first, one_shot};
      const std::size_t offered = tx.plan.blocks[s].count();
      const std::size_t kept = keys.fill_block(cfg, trial, first, offered, tx.fill);
      if (kept < offered || tx.fill != before) tx.plan.cut(s, kept);
      return true;
    }
    return false;
  }
};

}  // namespace larimar::detail

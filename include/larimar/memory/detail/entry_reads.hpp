#pragma once
// Reads by entry id: what a memory returns at the address an entry was written at, and the entry as written.
#include <cstddef>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "larimar/core/config.hpp"
#include "larimar/core/error.hpp"
#include "larimar/memory/detail/block.hpp"
#include "larimar/memory/detail/entry_directory.hpp"

namespace larimar::detail {

// z = w·M at the address each of these entries was written at (n×C).
template <class T, class S>
typename S::template matrix<T> read_at_entries(const std::string& op, std::span<const std::size_t> ids,
                                               const memory_config& cfg, const std::vector<block_state<T, S>>& blocks,
                                               const entry_directory& entries) {
  if (entries.empty()) throw state_error(op + ": the memory is empty; write an episode first");
  auto out = S::template make<T>(ids.size(), cfg.code_size);
  typename S::template matrix<T> wide;
  std::size_t widened = static_cast<std::size_t>(-1);  // the block whose mean `wide` holds
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const auto& loc = entries.locate(op, ids[i]);
    const auto& b = blocks[loc.block];
    const T* mean = b.is_packed() && widened == loc.block ? S::data(wide) : b.mean_in(wide);
    if (b.is_packed()) widened = loc.block;
    S::linalg::gemm(false, false, 1, cfg.code_size, cfg.slots, T(1), b.addresses.row(loc.row), cfg.slots, mean,
                    cfg.code_size, T(0), S::data(out) + i * cfg.code_size, cfg.code_size);
  }
  return out;
}

// The address (1×K) entry `id` was written at, and its latent as written (1×C).
template <class T, class S>
std::pair<typename S::template matrix<T>, typename S::template matrix<T>> entry_as_written(
    const std::string& op, std::size_t id, const memory_config& cfg, const std::vector<block_state<T, S>>& blocks,
    const entry_directory& entries) {
  const auto& loc = entries.locate(op, id);
  const auto& b = blocks[loc.block];
  auto w = S::template make<T>(1, cfg.slots);
  auto z = S::template make<T>(1, cfg.code_size);
  S::copy(b.addresses.row(loc.row), cfg.slots, S::data(w));
  S::copy(b.latents.row(loc.row), cfg.code_size, S::data(z));
  return {std::move(w), std::move(z)};
}

}  // namespace larimar::detail

#pragma once
// The k best entries of each query of a batch, best first: what memory::read(queries, k) returns
// (docs/memory.md, "Top-k reads"). The order is by score, descending; equal scores put the earlier written entry
// (the lower entry id) first. Each entry appears at most once per query, and k is min(k asked, entries written).
#include <cstddef>
#include <span>
#include <vector>

#include "larimar/memory/hit.hpp"

namespace larimar {

// Latents: the storage's matrix type (a memory's own reads), or std::vector<T> on the host (the run-time facade
// and the pipeline).
template <class T, class Latents>
struct top_k_result {
  Latents latents;            // (Q·k)×C, row-major: row q·k + j is what query q reads at its j-th best entry
  std::vector<hit<T>> hits;   // Q·k in the same order: hits[q·k + j] is query q's j-th best entry
  std::size_t k = 0;          // entries per query

  std::size_t queries() const { return k == 0 ? 0 : hits.size() / k; }
  // Query q's k hits, best first.
  std::span<const hit<T>> hits_of(std::size_t q) const { return std::span<const hit<T>>(hits).subspan(q * k, k); }
};

// A top-k read brought to the host.
template <class T>
using host_top_k = top_k_result<T, std::vector<T>>;

}  // namespace larimar

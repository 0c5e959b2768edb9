#pragma once
// read() and read(queries, k): the index's k best rows per query, as hits, and the reads at them. Row q·k + j of
// the latents reads query q at its j-th hit: at the query's own address in the hit's block, for key policies that
// give queries one (hits in one block then read the same latent), else at the address the hit's entry was written
// at. Entries with extra lookup rows: a query's k best are the k best entries by their best row (their own or an
// extra one), each once; hit::lookup says which row matched.
#include <algorithm>
#include <cstddef>
#include <numeric>
#include <string>
#include <vector>

#include "larimar/core/config.hpp"
#include "larimar/core/error.hpp"
#include "larimar/core/matrix_ref.hpp"
#include "larimar/core/validate.hpp"
#include "larimar/memory/detail/block.hpp"
#include "larimar/memory/detail/entry_directory.hpp"
#include "larimar/memory/detail/extra_lookup_rows.hpp"
#include "larimar/memory/detail/input_rows.hpp"
#include "larimar/memory/detail/top_k_select.hpp"
#include "larimar/memory/hit.hpp"
#include "larimar/memory/nearest_index.hpp"
#include "larimar/memory/top_k.hpp"

namespace larimar::detail {

// Each query's k hits (its entries' own rows, best first) merged with its best extra rows: the k best entries,
// each by its best row, in the rank of memory/top_k.hpp (a tie between an entry's own row and an extra one goes to
// its own).
template <class T, class S>
void merge_extra_rows(std::vector<hit<T>>& hits, std::size_t q, std::size_t k,
                      const std::vector<std::vector<typename nearest_index<T, S>::match>>& extra_matches,
                      const extra_lookup_rows<T, S>& extra, const entry_directory& entries,
                      const std::vector<block_state<T, S>>& blocks) {
  std::vector<hit<T>> candidates;
  for (std::size_t i = 0; i < q; ++i) {
    candidates.assign(hits.begin() + static_cast<std::ptrdiff_t>(i * k),
                      hits.begin() + static_cast<std::ptrdiff_t>((i + 1) * k));
    for (const auto& m : extra_matches[i]) {
      const std::size_t id = extra.owners()[m.position];
      const auto& loc = entries.at(id);
      candidates.push_back(hit<T>{id, loc.block, blocks[loc.block].slot[loc.row], m.score, extra.ordinals()[m.position]});
    }
    top_k_list<T> best(k, true);
    for (std::size_t c = 0; c < candidates.size(); ++c) best.offer(candidates[c].score, candidates[c].entry, c);
    const auto kept = best.take_sorted();
    for (std::size_t j = 0; j < kept.size(); ++j) hits[i * k + j] = candidates[kept[j].position];
  }
}

template <class Keys, class T, class S>
top_k_result<T, typename S::template matrix<T>> ranked_read(
    const std::string& op, const input_rows<T>& queries, std::size_t k, const memory_config& cfg,
    const typename Keys::template state<T, S>& keys, const std::vector<block_state<T, S>>& blocks,
    const entry_directory& entries, const nearest_index<T, S>& index, const extra_lookup_rows<T, S>& extra) {
  using matrix = typename S::template matrix<T>;
  const std::size_t cols = Keys::lookup_cols(cfg);
  require_nonempty(op, "queries", queries.values);
  require_cols(op, "queries", queries.values, cols, Keys::lookups_are_latents ? "the code size" : "lookup size");
  require_finite_rows<S>(op, "queries", queries);
  if (entries.empty()) throw state_error(op + ": the memory is empty; write an episode first");
  const std::size_t q = queries.rows();
  k = std::min(k, entries.size());
  auto qd = S::template make<T>(q, cols);
  stage_rows<S>(queries, S::data(qd));

  // The queries' own addresses, for policies that give them one (none: read at the matched entry's address).
  const auto& first_map = blocks.front().read_map;
  const auto wq = keys.query_addresses(S::data(qd), q, first_map ? S::data(*first_map) : nullptr);
  const bool own_address = S::rows(wq) != 0;
  const auto matches = index.search(own_address ? S::data(wq) : S::data(qd), q, k, entries.by_position().data());
  const std::size_t n = q * k;
  top_k_result<T, matrix> out{S::template make<T>(n, cfg.code_size), std::vector<hit<T>>(n), k};
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t id = entries.at_position(matches[i].position);
    const auto& loc = entries.at(id);
    out.hits[i] = hit<T>{id, loc.block, blocks[loc.block].slot[loc.row], matches[i].score};
  }
  if (!extra.empty() && !own_address) merge_extra_rows(out.hits, q, k, extra.search(S::data(qd), q, k), extra, entries, blocks);
  // Group the rows by block so each block is one GEMM.
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return out.hits[a].block < out.hits[b].block; });
  auto wg = S::template make<T>(n, cfg.slots);
  auto zg = S::template make<T>(n, cfg.code_size);
  matrix wide;  // a packed block's mean, widened for its GEMM
  for (std::size_t i = 0; i < n; ++i) {
    const auto& h = out.hits[order[i]];
    const T* src = own_address ? S::data(wq) + (order[i] / k) * cfg.slots
                               : blocks[h.block].addresses.row(entries.at(h.entry).row);
    S::copy(src, cfg.slots, S::data(wg) + i * cfg.slots);
  }
  for (std::size_t start = 0; start < n;) {
    const std::size_t b = out.hits[order[start]].block;
    std::size_t end = start;
    while (end < n && out.hits[order[end]].block == b) ++end;
    S::linalg::gemm(false, false, end - start, cfg.code_size, cfg.slots, T(1), S::data(wg) + start * cfg.slots,
                    cfg.slots, blocks[b].mean_in(wide), cfg.code_size, T(0), S::data(zg) + start * cfg.code_size,
                    cfg.code_size);
    start = end;
  }
  for (std::size_t i = 0; i < n; ++i)
    S::copy(S::data(zg) + i * cfg.code_size, cfg.code_size, S::data(out.latents) + order[i] * cfg.code_size);
  return out;
}

}  // namespace larimar::detail

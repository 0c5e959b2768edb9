#pragma once
// larimar::distributed::distributed_memory — one episodic memory whose blocks live on the ranks of an MPI
// communicator, with the calls of sharded_memory (docs/distributed.md). Every rank makes the same calls with the
// same arguments (SPMD); each keeps its own blocks in a sharded_memory of its own, through that memory's public
// API, and every result is returned on every rank.
//
//   MPI_Init(&argc, &argv);
//   using Memory = larimar::distributed::distributed_memory<float, larimar::storage::host,
//                                                           larimar::keys::fixed_nearest,
//                                                           larimar::solver::pseudoinverse>;
//   Memory mem(MPI_COMM_WORLD, {.slots = 512, .code_size = 768, .seed = 7});
//   auto ids = mem.write(latents, lookups);   // the same episode on every rank; each keeps its blocks' rows
//   auto top = mem.read(queries, 4);          // the same queries everywhere; the same result everywhere
//
// Placement: global block b is written on rank b mod R (R ranks), and a write fills blocks exactly as the
// single-process sharded_memory does (the last block's free slots, then new blocks), so each block gets the same
// rows, in the same order, in the same calls: reads are sharded_memory's (to float rounding), and entry ids are
// the same numbers. A read ranks each rank's k best per query, merges the lists in one reduction (score
// descending, equal scores by lower entry id), then gathers the winners' latents from their owners to all ranks.
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "larimar/core/config.hpp"
#include "larimar/core/error.hpp"
#include "larimar/core/matrix_ref.hpp"
#include "larimar/core/validate.hpp"
#include "larimar/distributed/candidate.hpp"
#include "larimar/distributed/communicator.hpp"
#include "larimar/distributed/directory.hpp"
#include "larimar/distributed/error.hpp"
#include "larimar/io/checksum.hpp"
#include "larimar/memory/hit.hpp"
#include "larimar/memory/sharded_memory.hpp"
#include "larimar/memory/top_k.hpp"
#include "larimar/memory/write_mode.hpp"

namespace larimar::distributed {

struct options {
  // How long a collective waits for every rank before it reports a rank_failure (a rank died or stalled).
  std::chrono::milliseconds timeout{30000};
};

namespace detail {
template <class T>
MPI_Datatype mpi_type() {
  if constexpr (std::is_same_v<T, float>) return MPI_FLOAT;
  else return MPI_DOUBLE;
}
// Entry ids [global_first, + count) are the local memory's ids [local_first, + count).
struct local_range {
  std::uint64_t global_first, local_first, count;
};
}  // namespace detail

template <class T, class Storage, class Keys, class Solver>
  requires memory_policies<T, Storage, Keys, Solver>
class distributed_memory {
  static_assert(Keys::shardable && !keys::exact_filling<Keys, T, Storage> && !keys::mean_addressed<Keys, T, Storage>,
                "distributed_memory supports fixed keys (keys::fixed_nearest) only: with prefix encoding a block's "
                "fill depends on the data of the blocks before it (the exact-fill state runs across blocks), so "
                "blocks written on separate ranks could not be bit-identical to sharded_memory's; content keys have "
                "no blocks to distribute");

 public:
  using value_type = T;
  using storage_type = Storage;
  using keys_type = Keys;
  using solver_type = Solver;
  using local_memory = sharded_memory<T, Storage, Keys, Solver>;
  using matrix = typename Storage::template matrix<T>;
  struct read_result {
    matrix latents;             // Q×C
    std::vector<hit<T>> hits;   // one per query; block is the global block
  };
  using top_k_result = larimar::top_k_result<T, matrix>;

  // A run: consecutive blocks of this rank in one local sharded memory. A rank has one, unless its last block still
  // has free slots while writes moved on to other blocks (after a forget there, or after a write of the other mode
  // opened blocks past it): when a write of that block's mode gives this rank a new block, the local memory would
  // top the old one up, the global rule does not, so the new block starts a new run.
  struct run {
    local_memory mem;
    std::vector<std::size_t> blocks;            // global block of each local block
    std::vector<detail::local_range> ranges;     // ascending in both ids
  };

  // Collective over `comm` (duplicated: the memory's traffic never mixes with the caller's).
  distributed_memory(MPI_Comm comm, const memory_config& cfg, options opt = {}, Solver solver = {})
      : comm_(std::make_unique<communicator>(comm, opt.timeout)), cfg_(cfg), solver_(solver) {
    if (cfg.sample_noise && cfg.observation_noise > 0)
      throw value_error("distributed_memory: config: sample_noise draws noise per write call of each local memory, "
                        "which would differ from sharded_memory's draws; it is not offered");
    runs_.push_back(run{local_memory(cfg, solver), {}, {}});  // validates the config on every rank
    dir_ = detail::directory(runs_.front().mem.block_capacity());
  }

  // Over MPI_COMM_WORLD with the default options, for generic code that makes a memory from its config alone
  // (recall_pipeline, whose clear() makes a new one). Collective.
  explicit distributed_memory(const memory_config& cfg) : distributed_memory(MPI_COMM_WORLD, cfg) {}

  int rank() const { return comm_->rank(); }
  int ranks() const { return comm_->size(); }
  const memory_config& config() const { return cfg_; }
  std::size_t size() const { return dir_.size(); }
  bool empty() const { return dir_.size() == 0; }
  bool contains(std::size_t id) const { return dir_.contains(id); }
  std::size_t block_count() const { return dir_.block_count(); }
  std::size_t block_capacity() const { return dir_.block_slots(); }
  // Where global block b lives.
  int block_owner(std::size_t b) const { return static_cast<int>(dir_.owner_of_block(b)); }
  // How global block b was written (none once all its entries are forgotten), on every rank.
  write_mode block_mode(std::size_t b) const { return dir_.mode_of_block(b); }
  // Entries held on this rank.
  std::size_t local_size() const {
    std::size_t n = 0;
    for (const auto& r : runs_) n += r.mem.size();
    return n;
  }
  void set_timeout(std::chrono::milliseconds t) { comm_->set_timeout(t); }

  // One-shot write of an episode (N×C latents, N×L lookups), the same on every rank. Returns the entry ids, the
  // ones sharded_memory would return. A failure on any rank fails the call on every rank, and the rows written
  // elsewhere are forgotten again (docs/distributed.md: the means may then differ from before by rounding).
  std::vector<std::size_t> write(matrix_ref<const T> latents, matrix_ref<const T> lookups) {
    return write_episode("distributed_memory::write", latents, lookups, write_mode::one_shot);
  }
  // Sequential write (one Kalman step per segment, from the prior), placed and failing as write() does. A block
  // keeps one mode: a write in the other mode opens a new block, as in sharded_memory.
  std::vector<std::size_t> write_sequential(matrix_ref<const T> latents, matrix_ref<const T> lookups) {
    return write_episode("distributed_memory::write_sequential", latents, lookups, write_mode::sequential);
  }

  read_result read(matrix_ref<const T> queries) const {
    auto r = ranked_read(queries, 1);
    return read_result{std::move(r.latents), std::move(r.hits)};
  }
  // Each query's k best entries over every rank, best first (score descending, equal scores by lower entry id);
  // k > size() gives every entry; k = 0 is a value_error.
  top_k_result read(matrix_ref<const T> queries, std::size_t k) const {
    if (k == 0)
      throw value_error("distributed_memory::read: k must be at least 1 (the number of entries to return per "
                        "query), got 0");
    return ranked_read(queries, k);
  }

  // The same reads with the latents gathered to one rank only (the caller that runs the decoder): `root` gets
  // read()'s result; every other rank gets the same hits and no latents (0×C). The winners' latents cross the
  // network once instead of to every rank. Every rank passes the same root (a collective, as every call here); a
  // root outside [0, ranks()) is a value_error on every rank.
  read_result read_on(int root, matrix_ref<const T> queries) const {
    auto r = ranked_read(queries, 1, root_of(root));
    return read_result{std::move(r.latents), std::move(r.hits)};
  }
  top_k_result read_on(int root, matrix_ref<const T> queries, std::size_t k) const {
    if (k == 0)
      throw value_error("distributed_memory::read_on: k must be at least 1 (the number of entries to return per "
                        "query), got 0");
    return ranked_read(queries, k, root_of(root));
  }

  // Removes one entry (on its owner; the others update their directory): reads no longer return it.
  void forget(std::size_t id) {
    const std::string op = "distributed_memory::forget";
    comm_->require_usable(op);
    const std::size_t b = dir_.block_of(op, id);
    if (block_owner(b) == rank()) {
      run& r = runs_[block_run_.at(b)];
      r.mem.forget(static_cast<std::size_t>(to_local(r, id)));
    }
    dir_.forget(id, b);
  }

  // The address (1×K) an entry was written at and its latent as written, on every rank (sent by its owner).
  std::pair<matrix, matrix> entry(std::size_t id) const {
    const std::string op = "distributed_memory::entry";
    comm_->require_usable(op);
    const std::size_t b = dir_.block_of(op, id);
    const int owner = block_owner(b);
    const std::size_t k = cfg_.slots, c = cfg_.code_size;
    std::vector<T> buf(k + c);
    if (owner == rank()) {
      const run& r = runs_[block_run_.at(b)];
      auto [w, z] = r.mem.entry(static_cast<std::size_t>(to_local(r, id)));
      Storage::download(Storage::data(w), k, buf.data());
      Storage::download(Storage::data(z), c, buf.data() + k);
    }
    comm_->bcast(buf.data(), static_cast<int>(k + c), detail::mpi_type<T>(), owner, op);
    auto w = Storage::template make<T>(1, k);
    auto z = Storage::template make<T>(1, c);
    Storage::upload(buf.data(), k, Storage::data(w));
    Storage::upload(buf.data() + k, c, Storage::data(z));
    return {std::move(w), std::move(z)};
  }

  // Reads at the addresses these entries were written at (ids.size()×C), on every rank: each owner reads its own.
  matrix read_entries(std::span<const std::size_t> ids) const {
    const std::string op = "distributed_memory::read_entries";
    comm_->require_usable(op);
    if (empty()) throw state_error(op + ": the memory is empty; write an episode first");
    const std::size_t c = cfg_.code_size;
    const int nr = ranks(), me = rank();
    std::vector<int> owner(ids.size()), counts(static_cast<std::size_t>(nr), 0), displs(static_cast<std::size_t>(nr), 0);
    std::vector<std::vector<std::size_t>> per_run(runs_.size());
    std::vector<std::size_t> local;  // this rank's ids in order, as (run, position in per_run)
    for (std::size_t i = 0; i < ids.size(); ++i) {
      owner[i] = block_owner(dir_.block_of(op, ids[i]));
      counts[static_cast<std::size_t>(owner[i])] += static_cast<int>(c);
      if (owner[i] != me) continue;
      const std::size_t r = block_run_.at(dir_.block_of(op, ids[i]));
      local.push_back(r);
      per_run[r].push_back(static_cast<std::size_t>(to_local(runs_[r], ids[i])));
    }
    std::vector<std::vector<T>> read(runs_.size());
    for (std::size_t r = 0; r < runs_.size(); ++r) {
      if (per_run[r].empty()) continue;
      const auto m = runs_[r].mem.read_entries(per_run[r]);
      read[r].resize(per_run[r].size() * c);
      Storage::download(Storage::data(m), read[r].size(), read[r].data());
    }
    std::vector<T> send;
    std::vector<std::size_t> taken(runs_.size(), 0);
    for (std::size_t r : local) {
      send.insert(send.end(), read[r].begin() + static_cast<std::ptrdiff_t>(taken[r] * c),
                  read[r].begin() + static_cast<std::ptrdiff_t>((taken[r] + 1) * c));
      ++taken[r];
    }
    for (int r = 1; r < nr; ++r)
      displs[static_cast<std::size_t>(r)] = displs[static_cast<std::size_t>(r - 1)] + counts[static_cast<std::size_t>(r - 1)];
    std::vector<T> gathered(ids.size() * c), out(ids.size() * c);
    comm_->allgatherv(send.data(), static_cast<int>(send.size()), detail::mpi_type<T>(), gathered.data(),
                      counts.data(), displs.data(), op + ": gathering the latents");
    std::vector<std::size_t> next(displs.begin(), displs.end());
    for (std::size_t i = 0; i < ids.size(); ++i) {
      auto& at = next[static_cast<std::size_t>(owner[i])];
      std::copy_n(gathered.data() + at, c, out.data() + i * c);
      at += c;
    }
    auto result = Storage::template make<T>(ids.size(), c);
    Storage::upload(out.data(), out.size(), Storage::data(result));
    return result;
  }

  // For the state files (distributed/state_files.hpp).
  const std::vector<run>& runs() const { return runs_; }
  const detail::directory& directory() const { return dir_; }
  communicator& comm() const { return *comm_; }
  const Solver& solver() const { return solver_; }
  // Replaces the whole state with a loaded one (every rank: its runs; the directory is the same on all).
  void restore(std::vector<run> runs, detail::directory dir) {
    if (runs.empty()) runs.push_back(run{local_memory(cfg_, solver_), {}, {}});
    runs_ = std::move(runs);
    dir_ = std::move(dir);
    block_run_.clear();
    for (std::size_t i = 0; i < runs_.size(); ++i)
      for (std::size_t b : runs_[i].blocks) block_run_[b] = i;
  }

 private:
  // Every rank must pass the same episode to the same call: a mismatch would split the directory silently.
  void same_everywhere(const std::string& op, matrix_ref<const T> latents, matrix_ref<const T> lookups,
                       write_mode how) {
    const std::uint64_t crc = (std::uint64_t{io::crc32(latents.data, latents.size() * sizeof(T))} << 32) |
                              io::crc32(lookups.data, lookups.size() * sizeof(T));
    const std::uint64_t mode = static_cast<std::uint64_t>(how);
    const std::uint64_t in[6] = {latents.rows, crc, mode, ~std::uint64_t{latents.rows}, ~crc, ~mode};
    std::uint64_t out[6] = {};  // the minimum of v and of ~v: equal everywhere exactly when out[i] == ~out[i + 3]
    comm_->allreduce(in, out, 6, MPI_UINT64_T, MPI_MIN, op + ": comparing the episode across ranks");
    if (out[2] != ~out[5])
      throw value_error(op + ": the ranks made different calls (write on some, write_sequential on others; every "
                        "rank must make the same call)");
    if (out[0] != ~out[3] || out[1] != ~out[4])
      throw value_error(op + ": the ranks passed different episodes (every rank must pass the same latents and "
                        "lookups; each keeps the rows of its own blocks)");
  }

  // write() and write_sequential(): the global placement, then one call per local memory of this rank.
  std::vector<std::size_t> write_episode(const std::string& op, matrix_ref<const T> latents,
                                         matrix_ref<const T> lookups, write_mode how) {
    comm_->require_usable(op);
    larimar::detail::require_nonempty(op, "latents", latents);
    larimar::detail::require_cols(op, "latents", latents, cfg_.code_size, "code_size");
    larimar::detail::require_nonempty(op, "lookup vectors", lookups);
    larimar::detail::require_same_rows(op, "latents", latents, "lookup vectors", lookups);
    larimar::detail::require_cols(op, "lookup vectors", lookups, cfg_.lookup_dim(), "lookup size");
    larimar::detail::require_finite(op, "latents", latents);
    larimar::detail::require_finite(op, "lookup vectors", lookups);
    same_everywhere(op, latents, lookups, how);

    const std::size_t n = latents.rows, c = cfg_.code_size, l = cfg_.lookup_dim();
    const auto plan = dir_.plan(n, how);
    const int me = rank();
    // This rank's segments, grouped by the run each goes to.
    std::vector<std::pair<std::size_t, std::vector<detail::planned_segment>>> work;  // (run, segments)
    std::vector<std::size_t> new_runs;
    std::size_t latest = latest_run();
    for (const auto& s : plan) {
      const bool exists = s.block < dir_.block_count();
      const int owner = exists ? block_owner(s.block) : static_cast<int>(detail::directory::new_block_owner(s.block, ranks()));
      if (owner != me) continue;
      std::size_t target;
      if (exists) {
        target = block_run_.at(s.block);
      } else {
        const run& r = runs_[latest];
        if (!r.blocks.empty() && tops_up(r.blocks.back(), plan, how)) {
          runs_.push_back(run{local_memory(cfg_, solver_), {}, {}});
          latest = runs_.size() - 1;
          new_runs.push_back(latest);
        }
        target = latest;
      }
      if (work.empty() || work.back().first != target) work.push_back({target, {}});
      work.back().second.push_back(s);
    }

    std::vector<std::vector<std::size_t>> local_ids(work.size());
    std::vector<std::size_t> blocks_before(work.size());
    for (std::size_t w = 0; w < work.size(); ++w) blocks_before[w] = runs_[work[w].first].mem.block_count();
    std::string failure;
    try {
      for (std::size_t w = 0; w < work.size(); ++w) {
        std::size_t rows = 0;
        for (const auto& s : work[w].second) rows += s.count;
        std::vector<T> z(rows * c), k(rows * l);
        std::size_t at = 0;
        for (const auto& s : work[w].second) {
          std::copy_n(latents.data + s.row * c, s.count * c, z.data() + at * c);
          std::copy_n(lookups.data + s.row * l, s.count * l, k.data() + at * l);
          at += s.count;
        }
        const matrix_ref<const T> zs(z.data(), rows, c), ks(k.data(), rows, l);
        local_memory& mem = runs_[work[w].first].mem;
        local_ids[w] = how == write_mode::one_shot ? mem.write(zs, ks) : mem.write_sequential(zs, ks);
      }
    } catch (const error& e) {
      failure = e.what();
    }
    if (const auto what = comm_->first_failure(failure, op + ": the outcome on every rank"); !what.empty()) {
      for (std::size_t w = 0; w < work.size(); ++w) {  // undo what this rank wrote, and the blocks it opened
        local_memory& mem = runs_[work[w].first].mem;
        for (auto it = local_ids[w].rbegin(); it != local_ids[w].rend(); ++it) mem.forget(*it);
        mem.drop_empty_blocks(blocks_before[w]);
      }
      for (auto it = new_runs.rbegin(); it != new_runs.rend(); ++it) runs_.erase(runs_.begin() + static_cast<std::ptrdiff_t>(*it));
      throw state_error(op + ": failed on " + what + "; nothing was written");
    }

    // Commit.
    const std::uint64_t first_id = dir_.next_entry();
    for (std::size_t w = 0; w < work.size(); ++w) {
      run& r = runs_[work[w].first];
      std::size_t at = 0;
      for (const auto& s : work[w].second) {
        if (r.blocks.empty() || r.blocks.back() != s.block) {
          r.blocks.push_back(s.block);
          block_run_[s.block] = work[w].first;
        }
        r.ranges.push_back({first_id + s.row, local_ids[w][at], s.count});
        at += s.count;
      }
    }
    dir_.commit(plan, n, ranks(), how);
    std::vector<std::size_t> ids(n);
    for (std::size_t i = 0; i < n; ++i) ids[i] = static_cast<std::size_t>(first_id + i);
    return ids;
  }

  // The run new blocks of this rank go to: the one holding this rank's highest block (or an empty one).
  std::size_t latest_run() const {
    std::size_t best = 0;
    bool found = false;
    std::size_t top = 0;
    for (std::size_t i = 0; i < runs_.size(); ++i) {
      if (runs_[i].blocks.empty()) {
        if (!found) best = i;
        continue;
      }
      if (!found || runs_[i].blocks.back() > top) best = i, top = runs_[i].blocks.back(), found = true;
    }
    return best;
  }
  // Whether a local memory whose last block is `block` would put this write's rows for a new block into it, where
  // the global rule opens a new one: `block` keeps free slots after the plan and holds no entries of the other mode
  // (sharded_memory skips such a block). Only then does the new block need a new run: a needless run would split
  // one rank's index in two, whose scores a BLAS rounds otherwise than one process's single index.
  bool tops_up(std::size_t block, const std::vector<detail::planned_segment>& plan, write_mode how) const {
    std::size_t used = dir_.blocks()[block].used;
    write_mode mode = dir_.mode_of_block(block);
    for (const auto& s : plan)
      if (s.block == block) used += s.count, mode = how;
    return used < dir_.block_slots() && (mode == write_mode::none || mode == how);
  }

  static std::uint64_t to_local(const run& r, std::uint64_t id) {
    auto it = std::upper_bound(r.ranges.begin(), r.ranges.end(), id,
                               [](std::uint64_t v, const detail::local_range& x) { return v < x.global_first; });
    return (it - 1)->local_first + (id - (it - 1)->global_first);
  }
  static std::uint64_t to_global(const run& r, std::uint64_t local) {
    auto it = std::upper_bound(r.ranges.begin(), r.ranges.end(), local,
                               [](std::uint64_t v, const detail::local_range& x) { return v < x.local_first; });
    return (it - 1)->global_first + (local - (it - 1)->local_first);
  }

  int root_of(int root) const {
    if (root < 0 || root >= ranks())
      throw value_error("distributed_memory::read_on: root " + std::to_string(root) + " is not a rank of this "
                        "memory (0.." + std::to_string(ranks() - 1) + ")");
    return root;
  }

  // k best per query over every rank; the latents to every rank (root < 0) or to `root` alone.
  top_k_result ranked_read(matrix_ref<const T> queries, std::size_t k, int root = -1) const {
    const std::string op = root < 0 ? "distributed_memory::read" : "distributed_memory::read_on";
    comm_->require_usable(op);
    larimar::detail::require_nonempty(op, "queries", queries);
    larimar::detail::require_cols(op, "queries", queries, cfg_.lookup_dim(), "lookup size");
    larimar::detail::require_finite(op, "queries", queries);
    if (empty()) throw state_error(op + ": the memory is empty; write an episode first");
    const std::size_t q = queries.rows, c = cfg_.code_size;
    k = std::min(k, size());
    if (q * k * c > static_cast<std::size_t>(INT_MAX))
      throw value_error(op + ": " + std::to_string(q) + " queries × k = " + std::to_string(k) +
                        " latents exceed what one MPI message carries; split the batch");

    // This rank's k best per query (merged over its runs), and where the latent each reads is: (run, row of that
    // run's result). Only the winners' latents are copied, later.
    std::vector<detail::candidate> mine(q * k, detail::no_candidate);
    std::vector<std::pair<std::size_t, std::size_t>> source(q * k);
    std::vector<top_k_result> got(runs_.size());
    std::vector<detail::candidate> merged(k);
    std::vector<std::pair<std::size_t, std::size_t>> merged_source(k);
    for (std::size_t ri = 0; ri < runs_.size(); ++ri) {
      const run& r = runs_[ri];
      if (r.mem.empty()) continue;
      got[ri] = r.mem.read(queries, std::min(k, r.mem.size()));
      for (std::size_t i = 0; i < q; ++i) {
        const auto hits = got[ri].hits_of(i);
        detail::candidate* old = mine.data() + i * k;
        const auto* old_source = source.data() + i * k;
        std::size_t a = 0, b = 0;
        for (std::size_t o = 0; o < k; ++o) {
          detail::candidate fresh = detail::no_candidate;
          if (b < hits.size())
            fresh = {static_cast<double>(hits[b].score), to_global(r, hits[b].entry), r.blocks[hits[b].block],
                     hits[b].slot};
          if (b >= hits.size() || (a < k && !detail::ranks_before(fresh, old[a]))) {
            merged[o] = old[a];
            merged_source[o] = old_source[a++];
          } else {
            merged[o] = fresh;
            merged_source[o] = {ri, i * got[ri].k + b++};
          }
        }
        std::copy(merged.begin(), merged.end(), old);
        std::copy(merged_source.begin(), merged_source.end(), source.begin() + static_cast<std::ptrdiff_t>(i * k));
      }
    }

    // One reduction picks the winners; every rank gets the same list.
    std::vector<detail::candidate> best(q * k);
    {
      detail::candidate_reduction red(k);
      comm_->allreduce(mine.data(), best.data(), static_cast<int>(q), red.type(), red.op(),
                       op + ": ranking the candidates");
    }
    // The owners send their winners' latents, in winner order, to every rank (or to the root).
    const int me = rank(), nr = ranks();
    std::vector<int> counts(static_cast<std::size_t>(nr), 0), displs(static_cast<std::size_t>(nr), 0);
    std::vector<T> send;
    send.reserve(q * k * c / static_cast<std::size_t>(nr) + c);
    for (std::size_t i = 0; i < q * k; ++i) {
      const int owner = block_owner(best[i].block);
      counts[static_cast<std::size_t>(owner)] += static_cast<int>(c);
      if (owner != me) continue;
      const std::size_t qi = i / k;
      const detail::candidate* own = mine.data() + qi * k;
      std::size_t j = 0;
      while (own[j].entry != best[i].entry) ++j;  // a winner of this rank is one of its candidates
      const auto [ri, row] = source[qi * k + j];
      send.resize(send.size() + c);
      Storage::download(Storage::data(got[ri].latents) + row * c, c, send.data() + send.size() - c);
    }
    for (int r = 1; r < nr; ++r)
      displs[static_cast<std::size_t>(r)] = displs[static_cast<std::size_t>(r - 1)] + counts[static_cast<std::size_t>(r - 1)];
    const bool receives = root < 0 || root == me;
    std::vector<T> gathered(receives ? q * k * c : 0);
    if (root < 0)
      comm_->allgatherv(send.data(), static_cast<int>(send.size()), detail::mpi_type<T>(), gathered.data(),
                        counts.data(), displs.data(), op + ": gathering the latents");
    else
      comm_->gatherv(send.data(), static_cast<int>(send.size()), detail::mpi_type<T>(), gathered.data(),
                     counts.data(), displs.data(), root, op + ": gathering the latents to rank " + std::to_string(root));

    std::vector<T> out(receives ? q * k * c : 0);
    std::vector<std::size_t> next(static_cast<std::size_t>(nr));
    for (int r = 0; r < nr; ++r) next[static_cast<std::size_t>(r)] = static_cast<std::size_t>(displs[static_cast<std::size_t>(r)]);
    top_k_result result{Storage::template make<T>(receives ? q * k : 0, c), std::vector<hit<T>>(q * k), k};
    for (std::size_t i = 0; i < q * k; ++i) {
      const auto owner = static_cast<std::size_t>(block_owner(best[i].block));
      if (receives) std::copy_n(gathered.data() + next[owner], c, out.data() + i * c);
      next[owner] += c;
      result.hits[i] = hit<T>{static_cast<std::size_t>(best[i].entry), static_cast<std::size_t>(best[i].block),
                              static_cast<std::size_t>(best[i].slot), static_cast<T>(best[i].score)};
    }
    if (receives) Storage::upload(out.data(), out.size(), Storage::data(result.latents));
    return result;
  }

  std::unique_ptr<communicator> comm_;
  memory_config cfg_;
  Solver solver_;
  std::vector<run> runs_;
  std::unordered_map<std::size_t, std::size_t> block_run_;  // global block of this rank -> its run
  detail::directory dir_;
};

}  // namespace larimar::distributed

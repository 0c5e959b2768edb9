#pragma once
// The machinery behind memory and sharded_memory: a sequence of blocks of K slots, one key-policy state shared
// by all blocks, and one nearest-neighbour index over every written entry that picks block and slot for a query.
// A plain memory is a store limited to one block. The parts: block.hpp (a block and its packed mean),
// block_solver.hpp (a block's memory from its log), episode_input.hpp (a write's checks and staged latents),
// block_filler.hpp and placement.hpp (where rows go), write_transaction.hpp, entry_directory.hpp, ranked_read.hpp
// and entry_reads.hpp; the key policy decides everything about addresses (keys/concepts.hpp).
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "larimar/core/config.hpp"
#include "larimar/core/error.hpp"
#include "larimar/core/matrix_ref.hpp"
#include "larimar/core/prior.hpp"
#include "larimar/core/validate_config.hpp"
#include "larimar/keys/block_fill.hpp"
#include "larimar/keys/concepts.hpp"
#include "larimar/keys/lookup_indexed.hpp"
#include "larimar/memory/detail/block.hpp"
#include "larimar/memory/detail/block_filler.hpp"
#include "larimar/memory/detail/block_solver.hpp"
#include "larimar/memory/detail/entry_directory.hpp"
#include "larimar/memory/detail/entry_reads.hpp"
#include "larimar/memory/detail/episode_input.hpp"
#include "larimar/memory/detail/extra_lookup_rows.hpp"
#include "larimar/memory/detail/placement.hpp"
#include "larimar/memory/detail/ranked_read.hpp"
#include "larimar/memory/detail/write_transaction.hpp"
#include "larimar/memory/extra_lookups.hpp"
#include "larimar/memory/hit.hpp"
#include "larimar/memory/nearest_index.hpp"
#include "larimar/memory/top_k.hpp"
#include "larimar/memory/write_mode.hpp"
#include "larimar/solver/concepts.hpp"

namespace larimar::detail {

// Selects the constructors that take a state file's key matrix.
struct stored_keys_t {
  explicit stored_keys_t() = default;
};
inline constexpr stored_keys_t stored_keys{};

template <class T, class S, class Keys, class Solver>
class episodic_store {
 public:
  using matrix = typename S::template matrix<T>;
  using keys_state = typename Keys::template state<T, S>;
  using block = block_state<T, S>;
  using fill_state = keys::block_fill;

  struct read_result {
    matrix latents;                // Q×C, in S's memory space
    std::vector<hit<T>> hits;      // one per query
  };

  episodic_store(const memory_config& cfg, std::size_t max_blocks, Solver solver, const char* who)
      : episodic_store(validated_config(cfg, who, Keys::lookups_are_latents), max_blocks, std::move(solver), who,
                       nullptr) {
    make_prior();
  }
  // The state-file loader's: the key state takes `keys`, the address matrix the file holds, rather than drawing
  // its own (up to K²·A operations for fixed keys: far more than reading the file), and M₀ waits for make_prior()
  // or the first write, so loading an empty memory allocates nothing of size K×C.
  episodic_store(stored_keys_t, const memory_config& cfg, std::size_t max_blocks, Solver solver, const char* who,
                 matrix keys)
      : episodic_store(validated_config(cfg, who, Keys::lookups_are_latents), max_blocks, std::move(solver), who,
                       &keys) {}

  const memory_config& config() const { return cfg_; }
  const keys_state& key_state() const { return keys_; }
  keys_state& mutable_key_state() { return keys_; }
  const Solver& solver() const { return solver_; }
  std::size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  bool contains(std::size_t entry) const { return entries_.contains(entry); }
  std::size_t block_count() const { return blocks_.size(); }
  const block& block_at(std::size_t b) const { return blocks_.at(b); }
  const std::vector<block>& blocks() const { return blocks_; }
  std::size_t block_capacity() const { return keys_.block_capacity(cfg_, max_blocks_); }
  const nearest_index<T, S>& index() const { return index_; }
  const std::vector<std::size_t>& index_entries() const { return entries_.by_position(); }
  const extra_lookup_rows<T, S>& extra_rows() const { return extra_; }
  std::size_t next_entry() const { return entries_.next_id(); }
  std::uint64_t noise_draws() const { return noise_draws_; }
  const fill_state& fill() const { return fill_; }

  // ---- writes -------------------------------------------------------------------------------------------------

  // `more`: extra lookup vectors of the written rows (keys::lookup_indexed only), or nullptr.
  // latents, lookups: host rows or rows in S (input_rows.hpp).
  std::vector<std::size_t> write(const input_rows<T>& latents, const input_rows<T>& lookups, write_mode how,
                                 const extra_lookups<T>* more = nullptr) {
    const std::string op = std::string(who_) + (how == write_mode::one_shot ? "::write" : "::write_sequential");
    check_episode<Keys, S>(op, cfg_, latents, lookups);
    if (more) check_extra<Keys, T, S>(op, cfg_, *more, latents.rows());
    make_prior();  // a memory loaded without blocks has none yet
    const std::size_t n = latents.rows();
    const auto filler =
        block_filler<T, S, Keys, Solver>{cfg_, keys_, blocks_, max_blocks_, block_capacity(), solver_view()};
    write_transaction<T, S> tx{{}, {}, {}, fill_};
    tx.plan = filler.place(op, n, how, tx.fill, blocks_.empty() ? 0 : blocks_.size() - 1);

    // Everything below works on copies until the commit, so a failure leaves the store as it was.
    const auto z = staged_latents<S>(cfg_, latents, noise_draws_ + 1);
    auto lk = S::template make<T>(n, lookup_cols());
    if constexpr (Keys::lookups_are_latents)
      S::copy(S::data(z), n * cfg_.code_size, S::data(lk));
    else
      stage_rows<S>(lookups, S::data(lk));
    auto w = S::template make<T>(n, cfg_.slots);
    keys_.write_addresses(tx.plan.slots(), S::data(z), S::data(lk), n, S::data(w));

    // The new state of each touched block, and new blocks, in plan order.
    const auto solve = solver_view();
    tx.staged.reserve(tx.plan.blocks.size());
    for (std::size_t s = 0, row = 0; s < tx.plan.blocks.size(); ++s) {
      const std::size_t at = tx.plan.blocks[s].block;
      block next = at < blocks_.size() ? blocks_[at].unpacked() : solve.fresh_block();
      const std::size_t first = next.size(), count = tx.plan.blocks[s].count();
      const staged_rows<T, S> rows{tx.plan.blocks[s].slots, S::data(w), S::data(z), row, entries_.next_id()};
      rows.append(next, count);
      if (how == write_mode::one_shot) {
        if (next.mode == write_mode::sequential)
          throw state_error(op + ": block " + std::to_string(at) +
                            " was written sequentially; one block keeps one write mode (forget undoes each differently)");
        if (next.mode == write_mode::none)  // M = W⁺·Z ignores the prior: start the sum from zero
          S::linalg::fill(S::data(next.mean), cfg_.slots * cfg_.code_size, T(0));
        next.mode = write_mode::one_shot;
        if (keys_.orthonormal() || !filler.fill_exactly(tx, s, next, rows, first)) solve.write_one_shot(next, first);
      } else {
        if (next.mode == write_mode::one_shot)
          throw state_error(op + ": block " + std::to_string(at) +
                            " was written one-shot; one block keeps one write mode (forget undoes each differently)");
        next.mode = write_mode::sequential;
        solve.write_sequential(next, first);
      }
      solve.settle(next);
      tx.staged.push_back(std::move(next));
      row += tx.plan.blocks[s].count();
      if (s + 1 == tx.plan.blocks.size() && row < n)  // the next block under the current fill: O(n) per write in all
        tx.plan.extend(filler.place(op, std::min(n - row, filler.offer(tx.fill)), how, tx.fill, at + 1));
    }
    // Index vectors, as the key policy chooses between each row's lookup and its address as written (a
    // sequential content write changes addresses as it goes). Rows added here are taken back on failure.
    const std::size_t index_base = index_.size(), extra_base = extra_.size();
    try {
      index_.reserve(index_base + n);
      for (std::size_t s = 0, row = 0; s < tx.staged.size(); ++s) {
        const std::size_t count = tx.plan.blocks[s].count(), first = tx.staged[s].size() - count;
        index_.add(keys_.index_vectors(S::data(lk) + row * lookup_cols(), tx.staged[s].addresses.row(first)), count);
        row += count;
      }
      if (more) extra_.add_write(*more, n, entries_.next_id());
      tx.stage_entries(entries_, blocks_, index_base);
    } catch (...) {
      index_.pop_back(index_.size() - index_base);
      extra_.truncate(extra_base);
      throw;
    }
    tx.commit(blocks_, entries_, fill_);
    if (cfg_.sample_noise && cfg_.observation_noise > 0) ++noise_draws_;
    return tx.entries.ids;
  }

  // ---- reads --------------------------------------------------------------------------------------------------

  read_result read(const input_rows<T>& queries) const {
    auto r = ranked_read<Keys>(std::string(who_) + "::read", queries, 1, cfg_, keys_, blocks_, entries_, index_, extra_);
    return read_result{std::move(r.latents), std::move(r.hits)};
  }
  // The k best entries of each query, best first (memory/top_k.hpp gives the order): their hits, and what the query
  // reads at each. k = 1 is read(). k larger than size() gives every entry.
  top_k_result<T, matrix> read(const input_rows<T>& queries, std::size_t k) const {
    const std::string op = std::string(who_) + "::read";
    if (k == 0)
      throw value_error(op + ": k must be at least 1 (the number of entries to return per query), got 0");
    return ranked_read<Keys>(op, queries, k, cfg_, keys_, blocks_, entries_, index_, extra_);
  }
  // z = w·M at the address each of these entries was written at.
  matrix read_entries(std::span<const std::size_t> ids) const {
    return read_at_entries(std::string(who_) + "::read_entries", ids, cfg_, blocks_, entries_);
  }
  // The address (1×K) an entry was written at, and its latent as written.
  std::pair<matrix, matrix> entry(std::size_t id) const {
    return entry_as_written(std::string(who_) + "::entry", id, cfg_, blocks_, entries_);
  }

  // ---- forget -------------------------------------------------------------------------------------------------

  void forget(std::size_t id) {
    const entry_location loc = entries_.locate(std::string(who_) + "::forget", id);
    const block& old = blocks_[loc.block];
    block next = solver_view().without_row(old, loc.row);

    // Commit.
    const bool moved = loc.row != old.size() - 1;
    blocks_[loc.block] = std::move(next);
    entries_.remove(id, moved ? blocks_[loc.block].entry[loc.row] : id, index_.size() - 1);
    index_.swap_remove(loc.position);
    extra_.remove_owner(id);
  }

  // Drops blocks [keep, block_count()), each of which must hold no entry: blocks a write opened, after its rows were
  // forgotten again (the distributed memory undoing a write that failed on another rank).
  void drop_empty_blocks(std::size_t keep) {
    for (std::size_t b = keep; b < blocks_.size(); ++b)
      if (blocks_[b].size() != 0)
        throw state_error(std::string(who_) + "::drop_empty_blocks: block " + std::to_string(b) + " holds " +
                          std::to_string(blocks_[b].size()) + " entries");
    if (keep < blocks_.size()) blocks_.erase(blocks_.begin() + static_cast<std::ptrdiff_t>(keep), blocks_.end());
  }

  // ---- blocks as stored, and what the state-file codec needs ----------------------------------------------------

  block fresh_block() const { return solver_view().fresh_block(); }
  // Block b's mean (K×C) and covariance (K×K) in T, whatever their stored format.
  matrix block_mean(std::size_t b) const {
    const auto& blk = blocks_.at(b);
    if (!blk.is_packed()) return blk.mean;
    matrix wide;
    blk.mean_in(wide);
    return wide;
  }
  matrix block_covariance(std::size_t b) const {
    const auto& blk = blocks_.at(b);
    return S::rows(blk.covariance) != 0 ? blk.covariance : solver_view().prior_covariance();  // one-shot: the prior
  }
  // Bytes held by the blocks' means and covariances as stored (their logs not included).
  std::size_t block_bytes() const {
    std::size_t n = 0;
    for (const auto& b : blocks_) n += b.bytes();
    return n;
  }
  // M₀, made once: at construction, or for a loaded memory by the loader (when the file holds blocks, which hold
  // K×C values each) or by the first write.
  void make_prior() {
    if (prior_.empty()) prior_ = prior_mean<T>(cfg_);
  }
  // A state file's blocks, index and counters become the store's; `context` prefixes the format_error for entries
  // and index rows that disagree, and for a mean this memory's solver cannot serve reads from.
  void restore(std::vector<block> blocks, nearest_index<T, S> index, std::vector<std::size_t> index_entry,
               std::size_t next_entry, std::uint64_t noise_draws, fill_state fill, const std::string& context,
               extra_lookup_rows<T, S> extra = {}) {
    if (blocks.size() > max_blocks_)
      throw format_error(context + std::to_string(blocks.size()) + " blocks; this memory holds at most " +
                         std::to_string(max_blocks_));
    auto entries = entry_directory::restored(blocks, std::move(index_entry), index.size(), next_entry, context);
    if (!extra.empty() && !keys::lookup_indexed<Keys, T, S>)
      throw format_error(context + std::to_string(extra.size()) + " extra lookup rows, but key policy " + Keys::name +
                         " takes none (its index does not hold lookups)");
    extra.check(entries, context);
    solver_view().restore(blocks, context);
    blocks_ = std::move(blocks);
    index_ = std::move(index);
    extra_ = std::move(extra);
    entries_ = std::move(entries);
    noise_draws_ = noise_draws;
    fill_ = {fill.size > 0 ? std::min(fill.size, block_capacity()) : block_capacity(), fill.streak};
  }

 private:
  // `cfg` is validated. A key state keeps its size in its address matrix, so one made for a single slot and handed
  // the stored matrix is the state the file's memory had.
  episodic_store(const memory_config& cfg, std::size_t max_blocks, Solver solver, const char* who, matrix* keys)
      : cfg_(cfg), max_blocks_(max_blocks), solver_(std::move(solver)),
        keys_(key_state_for(keys ? single_slot(cfg) : cfg, solver_)),
        index_(Keys::index_dim(cfg_), cfg_.quantized_lookup, cfg_.lookup_precision),
        extra_(Keys::index_dim(cfg_), cfg_.quantized_lookup, cfg_.lookup_precision), who_(who) {
    if (keys) {
      keys_.address_matrix() = std::move(*keys);
      fill_ = {block_capacity(), 0};
    }
  }
  static memory_config single_slot(memory_config cfg) {
    cfg.slots = cfg.code_size = 1;
    cfg.lookup_size = cfg.addresses = 0;
    return cfg;
  }
  static keys_state key_state_for(const memory_config& cfg, const Solver& solver) {
    if constexpr (std::constructible_from<keys_state, const memory_config&, const Solver&>)
      return keys_state(cfg, solver);  // a key state that solves for its addresses does it with our solver
    else
      return keys_state(cfg);
  }

  block_solver<T, S, Keys, Solver> solver_view() const { return {cfg_, solver_, keys_, prior_, who_}; }
  std::size_t lookup_cols() const { return Keys::lookup_cols(cfg_); }

  memory_config cfg_;
  std::size_t max_blocks_;
  Solver solver_;
  keys_state keys_;
  std::vector<block> blocks_;
  nearest_index<T, S> index_;
  extra_lookup_rows<T, S> extra_;  // extra lookup vectors of entries (keys::lookup_indexed), beside index_
  entry_directory entries_;
  std::vector<T> prior_;  // M₀ on the host (make_prior)
  std::uint64_t noise_draws_ = 0;
  // Exactly filling keys (block_filler); saved with the state, so a loaded memory places its next writes as the
  // original would.
  fill_state fill_{block_capacity(), 0};
  const char* who_;
};

}  // namespace larimar::detail

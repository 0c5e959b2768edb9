#pragma once
// The machinery behind memory and sharded_memory: a sequence of blocks of K slots, one key-policy state shared
// by all blocks, and one nearest-neighbour index over every written entry that picks block and slot for a query.
// A plain memory is a store limited to one block.
#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numeric>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "larimar/core/config.hpp"
#include "larimar/core/error.hpp"
#include "larimar/core/matrix_ref.hpp"
#include "larimar/core/random.hpp"
#include "larimar/core/validate.hpp"
#include "larimar/keys/concepts.hpp"
#include "larimar/keys/block_fill.hpp"
#include "larimar/memory/detail/block.hpp"
#include "larimar/memory/hit.hpp"
#include "larimar/memory/kalman.hpp"
#include "larimar/memory/nearest_index.hpp"
#include "larimar/core/prior.hpp"
#include "larimar/memory/top_k.hpp"
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

  struct read_result {
    matrix latents;                // Q×C, in S's memory space
    std::vector<hit<T>> hits;      // one per query
  };

  episodic_store(const memory_config& cfg, std::size_t max_blocks, Solver solver, const char* who)
      : episodic_store(validated(cfg, who), max_blocks, std::move(solver), who, nullptr) {
    make_prior();
  }
  // The state-file loader's: the key state takes `keys`, the address matrix the file holds, rather than drawing
  // its own (up to K²·A operations for fixed keys: far more than reading the file), and M₀ waits for make_prior()
  // or the first write, so loading an empty memory allocates nothing of size K×C.
  episodic_store(stored_keys_t, const memory_config& cfg, std::size_t max_blocks, Solver solver, const char* who,
                 matrix keys)
      : episodic_store(validated(cfg, who), max_blocks, std::move(solver), who, &keys) {}

  const memory_config& config() const { return cfg_; }
  const keys_state& key_state() const { return keys_; }
  keys_state& mutable_key_state() { return keys_; }
  const Solver& solver() const { return solver_; }
  std::size_t size() const { return where_.size(); }
  bool empty() const { return where_.empty(); }
  std::size_t block_count() const { return blocks_.size(); }
  const block_state<T, S>& block_at(std::size_t b) const { return blocks_.at(b); }
  std::size_t block_capacity() const { return keys_.block_capacity(cfg_, max_blocks_); }
  bool contains(std::size_t entry) const { return where_.contains(entry); }

  // ---- writes -------------------------------------------------------------------------------------------------

  std::vector<std::size_t> write(matrix_ref<const T> latents, matrix_ref<const T> lookups, write_mode how) {
    const std::string op = std::string(who_) + (how == write_mode::one_shot ? "::write" : "::write_sequential");
    check_episode(op, latents, lookups);
    make_prior();  // a memory loaded without blocks has none yet
    const std::size_t n = latents.rows;
    fill_state fill = fill_;  // committed with the write
    auto plan = place(op, n, how, fill);

    // Everything below works on copies until the commit, so a failure leaves the store as it was.
    auto z = S::template make<T>(n, cfg_.code_size);
    if (cfg_.sample_noise && cfg_.observation_noise > 0) {
      std::vector<T> noisy(latents.data, latents.data + latents.size());
      splitmix64 rng(cfg_.seed ^ (0x6e6f697365ULL + 0x9e3779b97f4a7c15ULL * (noise_draws_ + 1)));
      for (auto& x : noisy) x += static_cast<T>(cfg_.observation_noise * rng.normal());
      S::upload(noisy.data(), noisy.size(), S::data(z));
    } else {
      S::upload(latents.data, latents.size(), S::data(z));  // no host copy on the deterministic path
    }
    auto lk = S::template make<T>(n, lookup_cols());
    if constexpr (Keys::lookups_are_latents)
      S::copy(S::data(z), n * cfg_.code_size, S::data(lk));
    else
      S::upload(lookups.data, lookups.size(), S::data(lk));

    auto w = S::template make<T>(n, cfg_.slots);
    keys_.write_addresses(plan.slots, S::data(z), S::data(lk), n, S::data(w));

    // New blocks and the new state of each touched block, computed before anything is committed.
    std::vector<block_state<T, S>> staged;
    staged.reserve(plan.segments.size());
    std::size_t row = 0;
    for (std::size_t s = 0; s < plan.segments.size(); ++s) {
      auto& seg = plan.segments[s];
      block_state<T, S> next = seg.block < blocks_.size() ? unpacked(blocks_[seg.block]) : fresh_block();
      const std::size_t first = next.size();
      const staged_rows rows{plan, S::data(w), S::data(z), row, next_entry_};
      rows.append(next, seg.count);
      if (how == write_mode::one_shot) {
        if (next.mode == write_mode::sequential)
          throw state_error(op + ": block " + std::to_string(seg.block) +
                            " was written sequentially; one block keeps one write mode (forget undoes each differently)");
        if (next.mode == write_mode::none)  // M = W⁺·Z ignores the prior: start the sum from zero
          S::fill(S::data(next.mean), cfg_.slots * cfg_.code_size, T(0));
        next.mode = write_mode::one_shot;
        if (incremental_one_shot()) {
          S::gemm(true, false, cfg_.slots, cfg_.code_size, seg.count, T(1), next.addresses.row(first), cfg_.slots,
                  next.latents.row(first), cfg_.code_size, T(1), S::data(next.mean), cfg_.code_size);
        } else if (fills_while_exact()) {
          if constexpr (::larimar::keys::exact_filling<Keys, T, S>) {
            const fill_state before = fill;
            trial t{*this, next, rows, first};
            const std::size_t fits = keys_.fill_block(cfg_, t, first, seg.count, fill);
            if (fits < seg.count || fill != before) {  // drop the plan past this block: planned again below
              seg.count = fits;
              plan.segments.resize(s + 1);
              plan.slots.resize(row + fits);
            }
          }
        } else {
          solve_one_shot(next);
        }
      } else {
        if (next.mode == write_mode::one_shot)
          throw state_error(op + ": block " + std::to_string(seg.block) +
                            " was written one-shot; one block keeps one write mode (forget undoes each differently)");
        next.mode = write_mode::sequential;
        for (std::size_t i = first; i < next.size(); ++i) {
          if constexpr (::larimar::keys::mean_addressed<Keys, T, S>)
            keys_.sequential_address(solver_, next.latents.row(i), S::data(next.mean), cfg_.slots, cfg_.code_size,
                                     static_cast<T>(cfg_.observation_noise), next.mean_pinv, next.addresses.row(i));
          kalman(next, next.addresses.row(i), next.latents.row(i), kalman_direction::update);
          next.mean_pinv.reset();
        }
      }
      next.mean_pinv.reset();
      pack(next);
      refresh_read_map(next);
      staged.push_back(std::move(next));
      row += plan.segments[s].count;  // `seg` may dangle: the re-plan above can reallocate
      if (s + 1 == plan.segments.size() && row < n)  // the next block under the current fill: O(n) per write in all
        plan_next_block(plan, op, n - row, how, fill, plan.segments[s].block + 1);
    }
    // Index vectors, as the key policy chooses between each row's lookup and its address as written (a
    // sequential content write changes addresses as it goes).
    index_.reserve(index_.size() + n);
    const std::size_t index_base = index_.size();
    row = 0;
    for (std::size_t s = 0; s < staged.size(); ++s) {
      const std::size_t count = plan.segments[s].count, first = staged[s].size() - count;
      index_.add(keys_.index_vectors(S::data(lk) + row * lookup_cols(), staged[s].addresses.row(first)), count);
      row += count;
    }

    // Commit (no throwing operations past this point but allocation in the maps).
    std::vector<std::size_t> ids(n);
    row = 0;
    for (std::size_t s = 0; s < staged.size(); ++s) {
      const auto& seg = plan.segments[s];
      if (seg.block < blocks_.size())
        blocks_[seg.block] = std::move(staged[s]);
      else
        blocks_.push_back(std::move(staged[s]));
      const auto& b = blocks_[seg.block];
      for (std::size_t i = 0; i < seg.count; ++i) {
        const std::size_t id = next_entry_ + row + i;
        where_[id] = location{seg.block, b.size() - seg.count + i, index_base + row + i};
        index_entry_.push_back(id);
        ids[row + i] = id;
      }
      row += seg.count;
    }
    next_entry_ += n;
    fill_ = fill;
    if (cfg_.sample_noise && cfg_.observation_noise > 0) ++noise_draws_;
    return ids;
  }

  // ---- reads --------------------------------------------------------------------------------------------------

  read_result read(matrix_ref<const T> queries) const {
    auto r = ranked_read(std::string(who_) + "::read", queries, 1);
    return read_result{std::move(r.latents), std::move(r.hits)};
  }

  // The k best entries of each query, best first (memory/top_k.hpp gives the order): their hits, and what the query
  // reads at each. k = 1 is read(). k larger than size() gives every entry.
  top_k_result<T, matrix> read(matrix_ref<const T> queries, std::size_t k) const {
    const std::string op = std::string(who_) + "::read";
    if (k == 0)
      throw value_error(op + ": k must be at least 1 (the number of entries to return per query), got 0");
    return ranked_read(op, queries, k);
  }

  // z = w·M at the address each of these entries was written at.
  matrix read_entries(std::span<const std::size_t> entries) const {
    const std::string op = std::string(who_) + "::read_entries";
    if (empty()) throw state_error(op + ": the memory is empty; write an episode first");
    auto out = S::template make<T>(entries.size(), cfg_.code_size);
    matrix wide;
    std::size_t widened = static_cast<std::size_t>(-1);  // the block whose mean `wide` holds
    for (std::size_t i = 0; i < entries.size(); ++i) {
      const auto& loc = locate(op, entries[i]);
      const auto& b = blocks_[loc.block];
      const T* mean = b.packed && widened == loc.block ? S::data(wide) : mean_of(b, wide);
      if (b.packed) widened = loc.block;
      S::gemm(false, false, 1, cfg_.code_size, cfg_.slots, T(1), b.addresses.row(loc.row), cfg_.slots, mean,
              cfg_.code_size, T(0), S::data(out) + i * cfg_.code_size, cfg_.code_size);
    }
    return out;
  }

  // The address (1×K) an entry was written at, and its latent as written.
  std::pair<matrix, matrix> entry(std::size_t id) const {
    const auto& loc = locate(std::string(who_) + "::entry", id);
    const auto& b = blocks_[loc.block];
    auto w = S::template make<T>(1, cfg_.slots);
    auto z = S::template make<T>(1, cfg_.code_size);
    S::copy(b.addresses.row(loc.row), cfg_.slots, S::data(w));
    S::copy(b.latents.row(loc.row), cfg_.code_size, S::data(z));
    return {std::move(w), std::move(z)};
  }

  // ---- forget -------------------------------------------------------------------------------------------------

  void forget(std::size_t id) {
    const std::string op = std::string(who_) + "::forget";
    const location loc = locate(op, id);
    block_state<T, S> next = unpacked(blocks_[loc.block]);
    remove_log_row(next, loc.row);
    if (next.size() == 0) {
      reset_to_prior(next);
    } else if (next.mode == write_mode::one_shot) {
      if (incremental_one_shot()) {
        const auto& old = blocks_[loc.block];
        S::gemm(true, false, cfg_.slots, cfg_.code_size, 1, T(-1), old.addresses.row(loc.row), cfg_.slots,
                old.latents.row(loc.row), cfg_.code_size, T(1), S::data(next.mean), cfg_.code_size);
      } else {
        solve_one_shot(next);
      }
    } else if (cfg_.observation_noise > 0) {
      const auto& old = blocks_[loc.block];
      if (!kalman(next, old.addresses.row(loc.row), old.latents.row(loc.row), kalman_direction::downdate))
        replay(next);
    } else {
      replay(next);  // noise-free observations cannot be subtracted: rebuild from the prior without this one
    }
    next.mean_pinv.reset();
    pack(next);
    refresh_read_map(next);

    // Commit.
    const std::size_t moved_row = blocks_[loc.block].size() - 1;
    blocks_[loc.block] = std::move(next);
    if (loc.row != moved_row) where_[blocks_[loc.block].entry[loc.row]].row = loc.row;
    const std::size_t last_pos = index_.size() - 1;
    index_.swap_remove(loc.position);
    if (loc.position != last_pos) {
      index_entry_[loc.position] = index_entry_[last_pos];
      where_[index_entry_[loc.position]].position = loc.position;
    }
    index_entry_.pop_back();
    where_.erase(id);
  }

  // ---- persistence support ------------------------------------------------------------------------------------

  struct location {
    std::size_t block;
    std::size_t row;       // row in the block's log
    std::size_t position;  // row in the nearest-neighbour index
  };
  std::size_t next_entry() const { return next_entry_; }
  std::uint64_t noise_draws() const { return noise_draws_; }
  using fill_state = ::larimar::keys::block_fill;
  const fill_state& fill() const { return fill_; }
  const nearest_index<T, S>& index() const { return index_; }
  const std::vector<std::size_t>& index_entries() const { return index_entry_; }
  std::vector<block_state<T, S>>& mutable_blocks() { return blocks_; }
  const std::vector<block_state<T, S>>& blocks() const { return blocks_; }

  // The shape of the key policy's address matrix for `cfg`, from how this store uses it: rows of slot addresses
  // (A×K), or the matrix a lookup (L×K) or a latent (C×K) is multiplied by.
  static std::pair<std::size_t, std::size_t> key_matrix_shape(const memory_config& cfg) {
    return Keys::address_matrix_shape(cfg);
  }
  // M₀, made once: at construction, or for a loaded memory by the loader (when the file holds blocks, which hold
  // K×C values each) or by the first write.
  void make_prior() {
    if (prior_.empty()) prior_ = prior_mean<T>(cfg_);
  }

  // Rebuilds the index and entry map from the blocks' logs and index rows (used by the state-file loader, whose
  // `context` prefixes the format_error for entries and index rows that disagree).
  void restore(std::vector<block_state<T, S>> blocks, nearest_index<T, S> index, std::vector<std::size_t> index_entry,
               std::size_t next_entry, std::uint64_t noise_draws, fill_state fill, const std::string& context) {
    constexpr std::size_t unindexed = static_cast<std::size_t>(-1);
    if (blocks.size() > max_blocks_)
      throw format_error(context + std::to_string(blocks.size()) + " blocks; this memory holds at most " +
                         std::to_string(max_blocks_));
    std::unordered_map<std::size_t, location> where;
    for (std::size_t b = 0; b < blocks.size(); ++b)
      for (std::size_t r = 0; r < blocks[b].size(); ++r)
        if (const auto [it, fresh] = where.emplace(blocks[b].entry[r], location{b, r, unindexed}); !fresh)
          throw format_error(context + "entry " + std::to_string(blocks[b].entry[r]) + " is written twice (block " +
                             std::to_string(it->second.block) + " and block " + std::to_string(b) + ")");
    if (index_entry.size() != where.size() || index.size() != where.size())
      throw format_error(context + "the index holds " + std::to_string(index.size()) + " rows for " +
                         std::to_string(where.size()) + " entries");
    for (std::size_t p = 0; p < index_entry.size(); ++p) {
      auto it = where.find(index_entry[p]);
      if (it == where.end())
        throw format_error(context + "index row " + std::to_string(p) + " names entry " +
                           std::to_string(index_entry[p]) + ", which no block holds");
      if (it->second.position != unindexed)
        throw format_error(context + "index rows name entry " + std::to_string(index_entry[p]) + " twice");
      it->second.position = p;
      if (index_entry[p] >= next_entry)
        throw format_error(context + "entry " + std::to_string(index_entry[p]) + " is not below the entry counter " +
                           std::to_string(next_entry) + " (the next write would reuse its id)");
    }
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      pack(blocks[i]);
      try {  // the read map needs M⁺ from this memory's solver: a mean it cannot invert is not loadable
        refresh_read_map(blocks[i]);
      } catch (const format_error&) {
        throw;
      } catch (const error& e) {
        throw format_error(context + "block " + std::to_string(i) + "'s mean cannot serve reads: " + e.what());
      }
    }
    blocks_ = std::move(blocks);
    index_ = std::move(index);
    index_entry_ = std::move(index_entry);
    where_ = std::move(where);
    next_entry_ = next_entry;
    noise_draws_ = noise_draws;
    fill_ = {fill.size > 0 ? std::min(fill.size, block_capacity()) : block_capacity(), fill.streak};
  }

  block_state<T, S> fresh_block() const {
    block_state<T, S> b{S::template make<T>(cfg_.slots, cfg_.code_size), S::template make<T>(cfg_.slots, cfg_.slots),
                  row_store<T, S>(cfg_.slots), row_store<T, S>(cfg_.code_size), {}, {}, {}, write_mode::none, {},
                  S::template make<std::uint16_t>(0, cfg_.code_size), false};
    b.used.assign(keys_.slot_map_size(), 0);
    reset_to_prior(b);
    return b;
  }

  // Block b's mean (K×C) and covariance (K×K) in T, whatever their stored format.
  matrix block_mean(std::size_t b) const {
    const auto& blk = blocks_.at(b);
    if (!blk.packed) return blk.mean;
    matrix wide;
    mean_of(blk, wide);
    return wide;
  }
  matrix block_covariance(std::size_t b) const {
    const auto& blk = blocks_.at(b);
    return S::rows(blk.covariance) != 0 ? blk.covariance : prior_covariance();  // one-shot blocks: the prior
  }
  // Bytes held by the blocks' means and covariances as stored (their logs not included).
  std::size_t block_bytes() const {
    std::size_t n = 0;
    for (const auto& b : blocks_)
      n += b.packed ? S::rows(b.packed_mean) * S::cols(b.packed_mean) * sizeof(std::uint16_t)
                    : (S::rows(b.mean) * S::cols(b.mean) + S::rows(b.covariance) * S::cols(b.covariance)) * sizeof(T);
    return n;
  }

 private:
  // `cfg` is validated. A key state keeps its size in its address matrix, so one made for a single slot and handed
  // the stored matrix is the state the file's memory had.
  episodic_store(const memory_config& cfg, std::size_t max_blocks, Solver solver, const char* who, matrix* keys)
      : cfg_(cfg), max_blocks_(max_blocks), solver_(std::move(solver)), keys_(key_state_for(keys ? single_slot(cfg) : cfg, solver_)),
        index_(Keys::index_dim(cfg_), cfg_.quantized_lookup,
               cfg_.lookup_precision),
        who_(who) {
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

  // A one-shot block keeps no covariance at rest: it is always the prior U₀ (M = W⁺·Z does not change it), so the
  // K×K matrix — twice the mean's bytes at K = 512, C = 256 — is made again only when the block is reset.
  // memory_precision fp16/bf16 also stores its mean rounded; operations widen it back to T first and round it once
  // when they commit, so every product accumulates in T. Sequentially written blocks stay whole: their covariance
  // is live state.
  void pack(block_state<T, S>& b) const {
    if (b.mode != write_mode::one_shot) return;
    if (S::rows(b.covariance) != 0) b.covariance = S::template make<T>(0, cfg_.slots);
    if (cfg_.memory_precision == precision::full || b.packed) return;
    auto pm = S::template make<std::uint16_t>(cfg_.slots, cfg_.code_size);
    S::narrow(S::data(b.mean), cfg_.slots * cfg_.code_size, S::data(pm), cfg_.memory_precision);
    b.packed_mean = std::move(pm);
    b.mean = S::template make<T>(0, cfg_.code_size);
    b.packed = true;
  }
  // A copy of b with its mean in T, ready to be changed (a one-shot block's covariance stays empty: only
  // reset_to_prior needs it, and makes it).
  block_state<T, S> unpacked(const block_state<T, S>& b) const {
    block_state<T, S> out = b;
    if (!b.packed) return out;
    out.mean = S::template make<T>(cfg_.slots, cfg_.code_size);
    S::widen(S::data(b.packed_mean), cfg_.slots * cfg_.code_size, S::data(out.mean), cfg_.memory_precision);
    out.packed_mean = S::template make<std::uint16_t>(0, cfg_.code_size);
    out.packed = false;
    return out;
  }
  matrix prior_covariance() const {
    auto u = S::template make<T>(cfg_.slots, cfg_.slots);
    S::set_identity(S::data(u), cfg_.slots, cfg_.slots, static_cast<T>(prior_variance(cfg_)));
    return u;
  }
  // Pointer to b's mean in T: its own, or widened into `wide` when packed.
  const T* mean_of(const block_state<T, S>& b, matrix& wide) const {
    if (!b.packed) return S::data(b.mean);
    if (S::rows(wide) != cfg_.slots || S::cols(wide) != cfg_.code_size) wide = S::template make<T>(cfg_.slots, cfg_.code_size);
    S::widen(S::data(b.packed_mean), cfg_.slots * cfg_.code_size, S::data(wide), cfg_.memory_precision);
    return S::data(wide);
  }

  struct placement {
    struct segment {
      std::size_t block;
      std::size_t count;
    };
    std::vector<segment> segments;
    std::vector<std::size_t> slots;  // per row
  };

  static memory_config validated(const memory_config& cfg, const char* who) {
    const std::string op = std::string(who) + ": config";
    if (cfg.slots == 0) throw value_error(op + ": slots must be positive (got 0)");
    if (cfg.code_size == 0) throw value_error(op + ": code_size must be positive (got 0)");
    if (!std::isfinite(cfg.memory_logvar)) throw value_error(op + ": memory_logvar is not finite");
    if (!(cfg.observation_noise >= 0) || !std::isfinite(cfg.observation_noise))
      throw value_error(op + ": observation_noise must be a finite value >= 0");
    if (Keys::lookups_are_latents && cfg.lookup_size != 0 && cfg.lookup_size != cfg.code_size)
      throw value_error(op + ": content addressing looks up latents, so lookup_size must be 0 or code_size");
    if (cfg.lookup_precision != precision::full && cfg.lookup_precision != precision::fp16 &&
        cfg.lookup_precision != precision::bf16)
      throw value_error(op + ": lookup_precision must be full, fp16 or bf16");
    if (cfg.memory_precision != precision::full && cfg.memory_precision != precision::fp16 &&
        cfg.memory_precision != precision::bf16)
      throw value_error(op + ": memory_precision must be full, fp16 or bf16");
    if (!(cfg.write_tolerance >= 0) || !std::isfinite(cfg.write_tolerance))
      throw value_error(op + ": write_tolerance must be a finite value >= 0");
    if (cfg.quantized_lookup && cfg.lookup_precision != precision::full)
      throw value_error(op + ": quantized_lookup (int8 shortlist + exact rescoring) and lookup_precision " +
                        precision_name(cfg.lookup_precision) + " are alternatives; choose one");
    return cfg;
  }

  std::size_t lookup_cols() const { return Keys::lookup_cols(cfg_); }

  // The one-shot write reduces to M += Wᵀ·Z when the addresses are orthonormal rows.
  bool incremental_one_shot() const { return keys_.orthonormal(); }

  void check_episode(const std::string& op, matrix_ref<const T> latents, matrix_ref<const T> lookups) const {
    require_nonempty(op, "latents", latents);
    require_cols(op, "latents", latents, cfg_.code_size, "code_size");
    require_finite(op, "latents", latents);
    if constexpr (!Keys::lookups_are_latents) {
      require_nonempty(op, "lookup vectors", lookups);
      require_same_rows(op, "latents", latents, "lookup vectors", lookups);
      require_cols(op, "lookup vectors", lookups, cfg_.lookup_dim(), "lookup size");
      require_finite(op, "lookup vectors", lookups);
    }
  }

  // Blocks and slots for n new rows, from block `from` on (default: the last block, topped up first).
  placement place(const std::string& op, std::size_t n, write_mode how, const fill_state& fill,
                  std::size_t from = static_cast<std::size_t>(-1)) const {
    placement p;
    p.slots.reserve(n);
    std::size_t remaining = n, b = from != static_cast<std::size_t>(-1) ? from : blocks_.empty() ? 0 : blocks_.size() - 1;
    std::size_t total_room = 0;
    while (remaining > 0) {
      if (b >= max_blocks_) {
        throw state_error(op + ": no room for " + std::to_string(n) + " segments: " + std::to_string(total_room) +
                          " free slots left" + (max_blocks_ == 1 ? " (a memory holds one block; use sharded_memory)" : ""));
      }
      const bool exists = b < blocks_.size();
      if (exists && blocks_[b].mode != write_mode::none && blocks_[b].mode != how && max_blocks_ > 1) {
        ++b;  // a sharded memory opens a new block rather than mixing modes
        continue;
      }
      std::vector<std::size_t> free;
      const std::size_t have = exists ? blocks_[b].size() : 0;
      const std::size_t cap = fills_while_exact() && how == write_mode::one_shot ? fill_cap(fill) : block_capacity();
      const std::size_t room = cap > have ? cap - have : 0;
      keys_.free_slots(exists ? std::span<const std::uint8_t>(blocks_[b].used) : std::span<const std::uint8_t>{},
                       exists ? std::span<const std::size_t>(blocks_[b].slot) : std::span<const std::size_t>{}, room,
                       remaining, free);
      total_room += free.size();
      if (!free.empty()) {
        p.segments.push_back({b, free.size()});
        p.slots.insert(p.slots.end(), free.begin(), free.end());
        remaining -= free.size();
      }
      ++b;
    }
    return p;
  }

  // Appends the placement of the next block's worth (at most fill_cap(fill)) of `rest` rows, from block `from`.
  void plan_next_block(placement& plan, const std::string& op, std::size_t rest, write_mode how, const fill_state& fill,
                       std::size_t from) const {
    const auto next = place(op, std::min(rest, fill_cap(fill)), how, fill, from);
    plan.segments.insert(plan.segments.end(), next.segments.begin(), next.segments.end());
    plan.slots.insert(plan.slots.end(), next.slots.begin(), next.slots.end());
  }

  // M = W⁺·Z over every entry of the block.
  void solve_one_shot(block_state<T, S>& b) const {
    const std::size_t n = b.size();
    auto wp = S::template make<T>(cfg_.slots, n);
    solver_.template pinv<S>(b.addresses.data(), n, cfg_.slots, S::data(wp));
    S::gemm(false, false, cfg_.slots, cfg_.code_size, n, T(1), S::data(wp), n, b.latents.data(), cfg_.code_size, T(0),
            S::data(b.mean), cfg_.code_size);
    if (!S::all_finite(S::data(b.mean), cfg_.slots * cfg_.code_size))
      throw value_error(std::string(who_) + ": the " + Solver::name +
                        " solver produced a non-finite memory (an iterative solver outside its convergence region?)");
  }

  // Rows [row, row + count) of one write, appended to a block's log (addresses, latents, entry ids, slots).
  struct staged_rows {
    const placement& plan;
    const T* w;
    const T* z;
    std::size_t row;
    std::size_t next_entry;
    void append(block_state<T, S>& b, std::size_t count) const {
      const std::size_t k = b.addresses.cols(), c = b.latents.cols();
      b.addresses.append_from(w + row * k, count);
      b.latents.append_from(z + row * c, count);
      for (std::size_t i = 0; i < count; ++i) {
        b.entry.push_back(next_entry + row + i);
        b.slot.push_back(plan.slots[row + i]);
        if (plan.slots[row + i] < b.used.size()) b.used[plan.slots[row + i]] = 1;
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

  // Key policies whose blocks take rows only while the write stays exact (keys::exact_filling), in this memory.
  bool fills_while_exact() const {
    if constexpr (::larimar::keys::exact_filling<Keys, T, S>) return keys_.fills_exactly(max_blocks_);
    return false;
  }
  std::size_t fill_cap(const fill_state& f) const {
    if constexpr (::larimar::keys::exact_filling<Keys, T, S>) return keys_.offer(cfg_, f, block_capacity());
    return block_capacity();
  }

  // A block under trial for exact filling (keys/block_trial.hpp): its earlier rows and a prefix of the offered ones.
  struct trial {
    const episodic_store& store;
    block_state<T, S>& b;
    const staged_rows& rows;
    std::size_t first;
    std::size_t size() const { return b.size(); }
    const T* addresses() const { return b.addresses.data(); }
    const T* latents() const { return b.latents.data(); }
    const T* mean() const { return S::data(b.mean); }
    void take(std::size_t m) {
      rows.truncate(b, first);
      rows.append(b, m);
    }
    void solve() { store.solve_one_shot(b); }
  };

  bool kalman(block_state<T, S>& b, const T* w, const T* z, kalman_direction dir) const {
    auto scratch = S::template make<T>(1, 2 * cfg_.slots + cfg_.code_size);
    return kalman_step<S>(S::data(b.mean), S::data(b.covariance), cfg_.slots, cfg_.code_size, w, z,
                          static_cast<T>(cfg_.observation_noise * cfg_.observation_noise), dir, S::data(scratch));
  }

  void replay(block_state<T, S>& b) const {
    reset_to_prior(b);
    for (std::size_t i = 0; i < b.size(); ++i) kalman(b, b.addresses.row(i), b.latents.row(i), kalman_direction::update);
  }

  void reset_to_prior(block_state<T, S>& b) const {
    if (prior_.empty()) {  // only a loaded memory that was never written (mean() of an empty one): made, not kept
      const auto m0 = prior_mean<T>(cfg_);
      S::upload(m0.data(), m0.size(), S::data(b.mean));
    } else {
      S::upload(prior_.data(), prior_.size(), S::data(b.mean));
    }
    if (S::rows(b.covariance) == 0) b.covariance = S::template make<T>(cfg_.slots, cfg_.slots);
    S::set_identity(S::data(b.covariance), cfg_.slots, cfg_.slots, static_cast<T>(prior_variance(cfg_)));
    if (b.size() == 0) b.mode = write_mode::none;
  }

  void remove_log_row(block_state<T, S>& b, std::size_t row) const {
    if (b.slot[row] < b.used.size()) b.used[b.slot[row]] = 0;
    b.addresses.swap_remove(row);
    b.latents.swap_remove(row);
    b.entry[row] = b.entry.back();
    b.entry.pop_back();
    b.slot[row] = b.slot.back();
    b.slot.pop_back();
  }

  // read() and read(queries, k): the index's k best rows per query, as hits, and the reads at them. Row q·k + j of
  // the latents reads query q at its j-th hit: at that entry's key (fixed keys) or at the query's own address in
  // the hit's block (the other modes; hits in one block then read the same latent).
  top_k_result<T, matrix> ranked_read(const std::string& op, matrix_ref<const T> queries, std::size_t k) const {
    require_nonempty(op, "queries", queries);
    require_cols(op, "queries", queries, lookup_cols(), Keys::lookups_are_latents ? "the code size" : "lookup size");
    require_finite(op, "queries", queries);
    if (empty()) throw state_error(op + ": the memory is empty; write an episode first");
    const std::size_t q = queries.rows;
    k = std::min(k, size());
    auto qd = S::template make<T>(q, lookup_cols());
    S::upload(queries.data, queries.size(), S::data(qd));

    // The queries' own addresses, for policies that give them one (none: read at the matched entry's address).
    const auto& first_map = blocks_.front().mean_pinv;
    const auto wq = keys_.query_addresses(S::data(qd), q, first_map ? S::data(*first_map) : nullptr);
    const bool own_address = S::rows(wq) != 0;
    const T* searched = own_address ? S::data(wq) : S::data(qd);
    const auto matches = index_.search(searched, q, k, index_entry_.data());
    const std::size_t n = q * k;
    top_k_result<T, matrix> out{S::template make<T>(n, cfg_.code_size), std::vector<hit<T>>(n), k};
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t id = index_entry_[matches[i].position];
      const auto& loc = where_.at(id);
      out.hits[i] = hit<T>{id, loc.block, blocks_[loc.block].slot[loc.row], matches[i].score};
    }
    // Group the rows by block so each block is one GEMM.
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return out.hits[a].block < out.hits[b].block; });
    auto wg = S::template make<T>(n, cfg_.slots);
    auto zg = S::template make<T>(n, cfg_.code_size);
    matrix wide;  // a packed block's mean, widened for its GEMM
    for (std::size_t i = 0; i < n; ++i) {
      const auto& h = out.hits[order[i]];
      const T* src = own_address ? S::data(wq) + (order[i] / k) * cfg_.slots
                                 : blocks_[h.block].addresses.row(where_.at(h.entry).row);
      S::copy(src, cfg_.slots, S::data(wg) + i * cfg_.slots);
    }
    for (std::size_t start = 0; start < n;) {
      const std::size_t b = out.hits[order[start]].block;
      std::size_t end = start;
      while (end < n && out.hits[order[end]].block == b) ++end;
      S::gemm(false, false, end - start, cfg_.code_size, cfg_.slots, T(1), S::data(wg) + start * cfg_.slots,
              cfg_.slots, mean_of(blocks_[b], wide), cfg_.code_size, T(0), S::data(zg) + start * cfg_.code_size,
              cfg_.code_size);
      start = end;
    }
    for (std::size_t i = 0; i < n; ++i)
      S::copy(S::data(zg) + i * cfg_.code_size, cfg_.code_size, S::data(out.latents) + order[i] * cfg_.code_size);
    return out;
  }

  static keys_state key_state_for(const memory_config& cfg, const Solver& solver) {
    if constexpr (std::constructible_from<keys_state, const memory_config&, const Solver&>)
      return keys_state(cfg, solver);  // a key state that solves for its addresses does it with our solver
    else
      return keys_state(cfg);
  }

  // Content keys: M⁺ of b's mean by the solver (what reads address with), made whenever a block changes, so that
  // reads (const, possibly concurrent) only read it.
  void refresh_read_map(block_state<T, S>& b) const {
    if constexpr (::larimar::keys::mean_addressed<Keys, T, S>) {
      if (b.size() == 0) {
        b.mean_pinv.reset();
      } else if (!b.mean_pinv) {
        matrix wide;
        b.mean_pinv = keys_.read_map(solver_, mean_of(b, wide), cfg_.slots, cfg_.code_size);
      }
    }
  }

  const location& locate(const std::string& op, std::size_t id) const {
    auto it = where_.find(id);
    if (it == where_.end())
      throw state_error(op + ": no entry " + std::to_string(id) + " in the memory (never written, or forgotten)");
    return it->second;
  }

  memory_config cfg_;
  std::size_t max_blocks_;
  Solver solver_;
  keys_state keys_;
  std::vector<block_state<T, S>> blocks_;
  nearest_index<T, S> index_;
  std::vector<std::size_t> index_entry_;  // index row -> entry id
  std::unordered_map<std::size_t, location> where_;
  std::vector<T> prior_;  // M₀ on the host (make_prior)
  std::size_t next_entry_ = 0;
  std::uint64_t noise_draws_ = 0;
  // fills_while_exact (fit_exactly); saved with the state, so a loaded memory places its next writes as the
  // original would.
  fill_state fill_{block_capacity(), 0};
  const char* who_;
};

}  // namespace larimar::detail

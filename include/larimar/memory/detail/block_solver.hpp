#pragma once
// How a block's memory follows from its log: the one-shot least-squares write M = W⁺·Z (or, with orthonormal
// addresses, the additive M += W_newᵀ·Z_new), Kalman steps for sequential writes and their undoing, a replay from
// the prior, and the read map of mean-addressed keys. A view over the store's config, solver, key state and M₀,
// made where it is used (the store can move).
#include <cstddef>
#include <string>
#include <vector>

#include "larimar/core/config.hpp"
#include "larimar/core/error.hpp"
#include "larimar/core/prior.hpp"
#include "larimar/keys/concepts.hpp"
#include "larimar/memory/detail/block.hpp"
#include "larimar/memory/kalman.hpp"
#include "larimar/memory/row_store.hpp"

namespace larimar::detail {

template <class T, class S, class Keys, class Solver>
class block_solver {
 public:
  using block = block_state<T, S>;
  using matrix = typename S::template matrix<T>;
  using keys_state = typename Keys::template state<T, S>;

  block_solver(const memory_config& cfg, const Solver& solver, const keys_state& keys, const std::vector<T>& prior,
               const char* who)
      : cfg_(cfg), solver_(solver), keys_(keys), prior_(prior), who_(who) {}

  // An empty block at the prior, with the key policy's slot map.
  block fresh_block() const {
    block b{S::template make<T>(cfg_.slots, cfg_.code_size), S::template make<T>(cfg_.slots, cfg_.slots),
            row_store<T, S>(cfg_.slots), row_store<T, S>(cfg_.code_size), {}, {}, {}, write_mode::none, {}, {}};
    b.used.assign(keys_.slot_map_size(), 0);
    reset_to_prior(b);
    return b;
  }

  // The one-shot write of b's rows from `first` on (already in its log).
  void write_one_shot(block& b, std::size_t first) const {
    if (keys_.orthonormal()) {
      S::linalg::gemm(true, false, cfg_.slots, cfg_.code_size, b.size() - first, T(1), b.addresses.row(first),
                      cfg_.slots, b.latents.row(first), cfg_.code_size, T(1), S::data(b.mean), cfg_.code_size);
    } else {
      solve_one_shot(b);
    }
  }
  // One-shot forget of the row written at address w with latent z (already out of b's log).
  void forget_one_shot(block& b, const T* w, const T* z) const {
    if (keys_.orthonormal())
      S::linalg::gemm(true, false, cfg_.slots, cfg_.code_size, 1, T(-1), w, cfg_.slots, z, cfg_.code_size, T(1),
                      S::data(b.mean), cfg_.code_size);
    else
      solve_one_shot(b);
  }
  // M = W⁺·Z over every entry of the block.
  void solve_one_shot(block& b) const {
    const std::size_t n = b.size();
    auto wp = S::template make<T>(cfg_.slots, n);
    solver_.template pinv<S>(b.addresses.data(), n, cfg_.slots, S::data(wp));
    S::linalg::gemm(false, false, cfg_.slots, cfg_.code_size, n, T(1), S::data(wp), n, b.latents.data(), cfg_.code_size,
                    T(0), S::data(b.mean), cfg_.code_size);
    if (!S::linalg::all_finite(S::data(b.mean), cfg_.slots * cfg_.code_size))
      throw value_error(std::string(who_) + ": the " + Solver::name +
                        " solver produced a non-finite memory (an iterative solver outside its convergence region?)");
  }

  // Kalman steps for b's rows from `first` on; mean-addressed keys address each against the mean the step before
  // left.
  void write_sequential(block& b, std::size_t first) const {
    for (std::size_t i = first; i < b.size(); ++i) {
      if constexpr (keys::mean_addressed<Keys, T, S>)
        keys_.sequential_address(solver_, b.latents.row(i), S::data(b.mean), cfg_.slots, cfg_.code_size,
                                 static_cast<T>(cfg_.observation_noise), b.read_map, b.addresses.row(i));
      kalman(b, b.addresses.row(i), b.latents.row(i), kalman_direction::update);
      b.read_map.reset();
    }
  }
  bool kalman(block& b, const T* w, const T* z, kalman_direction dir) const {
    auto scratch = S::template make<T>(1, 2 * cfg_.slots + cfg_.code_size);
    return kalman_step<S>(S::data(b.mean), S::data(b.covariance), cfg_.slots, cfg_.code_size, w, z,
                          static_cast<T>(cfg_.observation_noise * cfg_.observation_noise), dir, S::data(scratch));
  }
  // Rebuilds b from the prior over the entries its log holds.
  void replay(block& b) const {
    reset_to_prior(b);
    for (std::size_t i = 0; i < b.size(); ++i) kalman(b, b.addresses.row(i), b.latents.row(i), kalman_direction::update);
  }
  void reset_to_prior(block& b) const {
    if (prior_.empty()) {  // only a loaded memory that was never written (mean() of an empty one): made, not kept
      const auto m0 = prior_mean<T>(cfg_);
      S::upload(m0.data(), m0.size(), S::data(b.mean));
    } else {
      S::upload(prior_.data(), prior_.size(), S::data(b.mean));
    }
    if (S::rows(b.covariance) == 0) b.covariance = S::template make<T>(cfg_.slots, cfg_.slots);
    S::linalg::set_identity(S::data(b.covariance), cfg_.slots, cfg_.slots, static_cast<T>(prior_variance(cfg_)));
    if (b.size() == 0) b.mode = write_mode::none;
  }
  matrix prior_covariance() const {
    auto u = S::template make<T>(cfg_.slots, cfg_.slots);
    S::linalg::set_identity(S::data(u), cfg_.slots, cfg_.slots, static_cast<T>(prior_variance(cfg_)));
    return u;
  }

  // The block `old` without its row `row`, settled: forget undoes a one-shot write by solving again (or
  // subtracting, for orthonormal keys), a noisy sequential one by a Kalman downdate, a noise-free one by replay.
  block without_row(const block& old, std::size_t row) const {
    block next = old.unpacked();
    next.remove_row(row);
    if (next.size() == 0) {
      reset_to_prior(next);
    } else if (next.mode == write_mode::one_shot) {
      forget_one_shot(next, old.addresses.row(row), old.latents.row(row));
    } else if (cfg_.observation_noise > 0) {
      if (!kalman(next, old.addresses.row(row), old.latents.row(row), kalman_direction::downdate)) replay(next);
    } else {
      replay(next);  // noise-free observations cannot be subtracted: rebuild from the prior without this one
    }
    settle(next);
    return next;
  }
  // A state file's blocks as this memory keeps them: packed, with their read maps; a mean this solver cannot
  // serve reads from is a format_error prefixed by `context`.
  void restore(std::vector<block>& blocks, const std::string& context) const {
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      blocks[i].pack(cfg_.memory_precision);
      try {  // the read map needs M⁺ from this memory's solver
        refresh_read_map(blocks[i]);
      } catch (const format_error&) {
        throw;
      } catch (const error& e) {
        throw format_error(context + "block " + std::to_string(i) + "'s mean cannot serve reads: " + e.what());
      }
    }
  }

  // b as it rests after a change: packed, with the read map of its new mean.
  void settle(block& b) const {
    b.read_map.reset();
    b.pack(cfg_.memory_precision);
    refresh_read_map(b);
  }
  // Mean-addressed keys: the read map of b's mean, made whenever the block changes, so that reads (const, possibly
  // concurrent) only read it.
  void refresh_read_map(block& b) const {
    if constexpr (keys::mean_addressed<Keys, T, S>) {
      if (b.size() == 0) {
        b.read_map.reset();
      } else if (!b.read_map) {
        matrix wide;
        b.read_map = keys_.read_map(solver_, b.mean_in(wide), cfg_.slots, cfg_.code_size);
      }
    }
  }

 private:
  const memory_config& cfg_;
  const Solver& solver_;
  const keys_state& keys_;
  const std::vector<T>& prior_;
  const char* who_;
};

}  // namespace larimar::detail

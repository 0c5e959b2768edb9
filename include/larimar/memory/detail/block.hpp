#pragma once
// One block of K slots: its mean and covariance, and the log of what was written into it (address and latent
// per entry), which forget needs to re-solve or to undo a Kalman step.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "larimar/core/precision.hpp"
#include "larimar/memory/detail/packed_mean.hpp"
#include "larimar/memory/row_store.hpp"
#include "larimar/memory/write_mode.hpp"

namespace larimar::detail {

template <class T, class S>
struct block_state {
  using matrix = typename S::template matrix<T>;

  matrix mean;                      // K×C in T (0×C while `packed` holds it)
  matrix covariance;                // K×K (0×K at rest for one-shot blocks)
  row_store<T, S> addresses;        // n×K, one row per entry, in log order
  row_store<T, S> latents;          // n×C, as written (observation noise included)
  std::vector<std::size_t> entry;   // log row -> entry id
  std::vector<std::size_t> slot;    // log row -> slot
  std::vector<std::uint8_t> used;   // slot -> occupied (key policies with a slot map)
  write_mode mode = write_mode::none;
  std::optional<matrix> read_map;   // mean-addressed keys: the map reads address with, made at every change of the mean
  packed_mean<S> packed;            // memory_precision fp16/bf16: a one-shot block's mean at rest

  std::size_t size() const { return entry.size(); }
  std::size_t free_slots() const {
    std::size_t n = 0;
    for (auto u : used) n += u == 0;
    return n;
  }
  bool is_packed() const { return !packed.empty(); }

  // At rest: a one-shot block keeps no covariance (it is always the prior U₀, M = W⁺·Z does not change it; the K×K
  // matrix is twice the mean's bytes at K = 512, C = 256) and with memory_precision fp16/bf16 keeps its mean
  // rounded. Sequentially written blocks stay whole: their covariance is live state.
  void pack(precision format) {
    if (mode != write_mode::one_shot) return;
    const std::size_t k = S::rows(mean), c = S::cols(mean);
    if (S::rows(covariance) != 0) covariance = S::template make<T>(0, k);
    if (format == precision::full || is_packed()) return;
    packed = packed_mean<S>(S::data(mean), k, c, format);
    mean = S::template make<T>(0, c);
  }
  // A copy with its mean in T, ready to be changed (a one-shot block's covariance stays empty: only a reset to the
  // prior needs it, and makes it).
  block_state unpacked() const {
    block_state out = *this;
    if (!is_packed()) return out;
    out.mean = S::template make<T>(packed.rows(), packed.cols());
    packed.widen(S::data(out.mean));
    out.packed = {};
    return out;
  }
  // The mean in T: its own, or widened into `wide` when packed.
  const T* mean_in(matrix& wide) const {
    if (!is_packed()) return S::data(mean);
    if (S::rows(wide) != packed.rows() || S::cols(wide) != packed.cols())
      wide = S::template make<T>(packed.rows(), packed.cols());
    packed.widen(S::data(wide));
    return S::data(wide);
  }
  // Removes log row `row`, the last row moving into its place (forget), and frees its slot.
  void remove_row(std::size_t row) {
    if (slot[row] < used.size()) used[slot[row]] = 0;
    addresses.swap_remove(row);
    latents.swap_remove(row);
    entry[row] = entry.back();
    entry.pop_back();
    slot[row] = slot.back();
    slot.pop_back();
  }
  // Bytes the mean and covariance take as stored (the log not included).
  std::size_t bytes() const {
    return is_packed() ? packed.bytes()
                       : (S::rows(mean) * S::cols(mean) + S::rows(covariance) * S::cols(covariance)) * sizeof(T);
  }
};

}  // namespace larimar::detail

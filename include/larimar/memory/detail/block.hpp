#pragma once
// One block of K slots: its mean and covariance, and the log of what was written into it (address and latent
// per entry), which forget needs to re-solve or to undo a Kalman step.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "larimar/memory/row_store.hpp"
#include "larimar/memory/write_mode.hpp"

namespace larimar::detail {

template <class T, class S>
struct block_state {
  using matrix = typename S::template matrix<T>;

  matrix mean;                      // K×C
  matrix covariance;                // K×K (0×K at rest for one-shot blocks)
  row_store<T, S> addresses;        // n×K, one row per entry, in log order
  row_store<T, S> latents;          // n×C, as written (observation noise included)
  std::vector<std::size_t> entry;   // log row -> entry id
  std::vector<std::size_t> slot;    // log row -> slot
  std::vector<std::uint8_t> used;   // slot -> occupied
  write_mode mode = write_mode::none;
  std::optional<matrix> mean_pinv;  // content keys: M⁺ of the mean (the read's map), made at every change of it
  // A one-shot block at rest has an empty `covariance` (always the prior, rebuilt when needed); with
  // memory_precision fp16/bf16 it keeps its mean here, rounded, and `mean` is empty too. See episodic_store::pack.
  typename S::template matrix<std::uint16_t> packed_mean{};
  bool packed = false;

  std::size_t size() const { return entry.size(); }
  std::size_t free_slots() const {
    std::size_t n = 0;
    for (auto u : used) n += u == 0;
    return n;
  }
};

}  // namespace larimar::detail

#pragma once
// Seeded host matrices (Gaussian fixed keys, the Gaussian prior), generated on the host, then uploaded to any
// storage. Every memory built from one config asks for the same matrices again (recall_pipeline::clear() starts
// each context with a new memory): the last few results are kept, per element type, and handed out as copies.
#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <vector>

#include "larimar/core/random.hpp"

namespace larimar::detail {

// make() once per (kind, rows, cols, scale, seed) among the most recent `kept` distinct requests.
template <class T, class Make>
std::vector<T> remembered(char kind, std::size_t rows, std::size_t cols, double scale, std::uint64_t seed, Make&& make) {
  struct entry {
    char kind;
    std::size_t rows, cols;
    double scale;
    std::uint64_t seed;
    std::vector<T> value;
  };
  constexpr std::size_t kept = 8;
  static std::mutex mutex;
  static std::list<entry> recent;  // most recent first
  {
    const std::lock_guard lock(mutex);
    for (auto it = recent.begin(); it != recent.end(); ++it)
      if (it->kind == kind && it->rows == rows && it->cols == cols && it->scale == scale && it->seed == seed) {
        recent.splice(recent.begin(), recent, it);
        return it->value;
      }
  }
  std::vector<T> value = make();  // outside the lock: another thread may make the same matrix, harmlessly
  const std::lock_guard lock(mutex);
  recent.push_front(entry{kind, rows, cols, scale, seed, value});
  if (recent.size() > kept) recent.pop_back();
  return value;
}

template <class T>
std::vector<T> draw_gaussian(std::size_t rows, std::size_t cols, double scale, std::uint64_t seed) {
  std::vector<T> out(rows * cols);
  larimar::splitmix64 rng(seed);
  for (auto& x : out) x = static_cast<T>(scale * rng.normal());
  return out;
}

// rows×cols row-major with N(0, scale²) entries.
template <class T>
std::vector<T> gaussian(std::size_t rows, std::size_t cols, double scale, std::uint64_t seed) {
  return remembered<T>('g', rows, cols, scale, seed, [&] { return draw_gaussian<T>(rows, cols, scale, seed); });
}

}  // namespace larimar::detail

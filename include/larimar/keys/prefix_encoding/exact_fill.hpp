#pragma once
// Prefix-encoded blocks of a sharded memory: W = K_enc·P has rank ≤ min(K, L), but encodings of real prefixes are
// numerically dependent well before that, and then the least-squares write blends neighbours (docs/memory.md,
// "Exact recall"). Such a block takes rows only while its write reproduces every latent it holds; the fill
// (keys/block_fill.hpp) remembers how full the last blocks could be, so the next one is offered about that much.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "larimar/core/config.hpp"
#include "larimar/core/precision.hpp"
#include "larimar/keys/block_fill.hpp"
#include "larimar/keys/block_trial.hpp"

namespace larimar::keys::prefix {

template <class T, class S>
class exact_fill {
 public:
  explicit exact_fill(const memory_config& cfg) : cfg_(cfg) {}

  // What the next block is offered: the fill's size, and a quarter more once `grow_after` blocks in a row took all
  // they were offered (content that got easier; a growth that holds is tried again at the next block).
  static constexpr std::size_t grow_after = 16;
  static std::size_t offer(const block_fill& f, std::size_t capacity) {
    return std::min(capacity, f.streak >= grow_after ? f.size + f.size / 4 + 1 : f.size);
  }

  // `b` holds `first` earlier rows and `count` new ones. Solves it with as many of the new rows as keep the write
  // exact and returns that count (a fresh block takes at least one), `b` left solved at that size. A row repeating
  // the prefix of one already in the block with another latent (no block can hold both) ends the offer before it,
  // without a search, and leaves the fill: it says nothing about the next block. When the offer fails to solve
  // exactly (conditioning): a growth attempt falls back to the size that held before if that still holds (one
  // extra solve); otherwise a search down from the top, and the fill's size becomes the block's.
  template <block_trial<T> Trial>
  std::size_t fit(Trial& b, std::size_t first, std::size_t count, block_fill& fill, std::size_t capacity) const {
    if (const std::size_t clash = first_repeat(b, first, count); clash < count) {
      b.take(clash);  // cut before the row no block can hold with one already in it: no search
      count = clash;
      if (count == 0) return 0;  // b is its earlier rows again, whose solution its mean still holds
    }
    const std::size_t offered = first + count;
    b.solve();
    if (reproduces_latents(b)) {
      if (offered >= offer(fill, capacity)) {  // took all it was offered
        fill.streak = offered > fill.size ? grow_after : fill.streak + 1;
        fill.size = std::max(fill.size, offered);
      }
      return count;
    }
    std::size_t good = first == 0 ? 1 : 0, bad = count, solved = count;
    auto probe = [&](std::size_t m) {
      b.take(m);
      b.solve();
      solved = m;
      (reproduces_latents(b) ? good : bad) = m;
    };
    if (offered > fill.size && fill.size > first + good) {
      probe(fill.size - first);
      if (good == fill.size - first) bad = good + 1;  // it holds: no search above it
    }
    // Down from the top in doubling steps (a block of alike content is cut a row or two below where the last one
    // was), then bisection between what passed and what failed.
    for (std::size_t step = 1; bad - good > step; step *= 2) {
      const std::size_t held = good;
      probe(bad - step);
      if (good != held) break;
    }
    while (bad - good > 1) probe(good + (bad - good) / 2);
    if (solved != good) {
      b.take(good);
      if (b.size() > 0) b.solve();
    }
    if (first + good < fill.size) fill.size = std::max<std::size_t>(first + good, 1);
    fill.streak = 0;
    return good;
  }

 private:
  // How many of the `count` new rows in b come before the first with the direction of an address already in b (or
  // earlier among them) but another latent: the same prefix written twice with different continuations (its
  // addresses equal up to the rounding of the GEMM that made them). One Gram matrix of the block's addresses.
  template <class Trial>
  std::size_t first_repeat(const Trial& b, std::size_t first, std::size_t count) const {
    const std::size_t k = cfg_.slots, c = cfg_.code_size, n = first + count;
    auto g = S::template make<T>(n, n);
    S::linalg::gemm(false, true, n, n, k, T(1), b.addresses(), k, b.addresses(), k, T(0), S::data(g), n);
    std::vector<T> gh(n * n), z(n * c);
    S::download(S::data(g), n * n, gh.data());
    S::download(b.latents(), n * c, z.data());
    const double same = 1 - 1e-6, tol = write_tolerance();
    for (std::size_t r = std::max<std::size_t>(first, 1); r < n; ++r)
      for (std::size_t j = 0; j < r; ++j) {
        const double grj = gh[r * n + j];
        if (grj <= 0 || grj * grj < same * same * double(gh[r * n + r]) * double(gh[j * n + j])) continue;
        double d = 0, zz = 0;
        for (std::size_t q = 0; q < c; ++q)
          d += std::pow(double(z[r * c + q]) - double(z[j * c + q]), 2), zz += double(z[j * c + q]) * double(z[j * c + q]);
        if (d > tol * tol * zz) return r - first;
      }
    return count;
  }

  // Every row's read at its own address, w_i·M, within write_tolerance of its latent (relative).
  template <class Trial>
  bool reproduces_latents(const Trial& b) const {
    const std::size_t n = b.size(), c = cfg_.code_size;
    auto r = S::template make<T>(n, c);
    S::copy(b.latents(), n * c, S::data(r));
    const T* mean = b.mean();
    typename S::template matrix<T> rounded;  // memory_precision fp16/bf16: the mean as the block will keep it
    if (cfg_.memory_precision != precision::full) {
      auto pm = S::template make<std::uint16_t>(cfg_.slots, c);
      S::linalg::narrow(b.mean(), cfg_.slots * c, S::data(pm), cfg_.memory_precision);
      rounded = S::template make<T>(cfg_.slots, c);
      S::linalg::widen(S::data(pm), cfg_.slots * c, S::data(rounded), cfg_.memory_precision);
      mean = S::data(rounded);
    }
    S::linalg::gemm(false, false, n, c, cfg_.slots, T(1), b.addresses(), cfg_.slots, mean, c, T(-1), S::data(r), c);
    std::vector<T> hr(n * c), hz(n * c);
    S::download(S::data(r), n * c, hr.data());
    S::download(b.latents(), n * c, hz.data());
    const double tol = write_tolerance();
    std::vector<double> r2(n, 0.0), z2(n, 0.0);
    double z2max = 0;
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t j = 0; j < c; ++j) {
        r2[i] += static_cast<double>(hr[i * c + j]) * hr[i * c + j];
        z2[i] += static_cast<double>(hz[i * c + j]) * hz[i * c + j];
      }
      z2max = std::max(z2max, z2[i]);
    }
    for (std::size_t i = 0; i < n; ++i)  // a zero latent is held to the block's scale
      if (!(r2[i] <= tol * tol * std::max(z2[i], 1e-6 * z2max))) return false;
    return true;
  }

  double write_tolerance() const {
    const double t = cfg_.write_tolerance > 0 ? cfg_.write_tolerance
                                              : std::sqrt(static_cast<double>(std::numeric_limits<T>::epsilon()));
    // a 16-bit mean cannot read back closer than its rounding (a few u, docs/memory.md: u·‖M‖_F at a unit key)
    return cfg_.memory_precision == precision::full ? t : std::max(t, 4 * unit_roundoff(cfg_.memory_precision));
  }

  const memory_config& cfg_;
};

}  // namespace larimar::keys::prefix

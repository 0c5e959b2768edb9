#pragma once
// Choosing the next token from a row of logits (host side; the decoder copies one row per sequence back).
//   temperature == 0            greedy: the first index of the largest logit
//   temperature > 0             softmax(logits / temperature), optionally cut to the top_k most likely tokens
//                               and then to the smallest set whose probability reaches top_p (nucleus),
//                               renormalised, and drawn with a seeded std::mt19937_64
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "larimar/core/error.hpp"
#include "larimar/model/token.hpp"

namespace larimar::model {

struct sampling_options {
  float temperature = 0.f;  // 0 = greedy
  std::size_t top_k = 0;    // 0 = no cut
  float top_p = 1.f;        // 1 = no cut
  std::uint64_t seed = 0;

  void validate(const std::string& op) const {
    if (!(temperature >= 0.f) || !std::isfinite(temperature))
      throw value_error(op + ": temperature must be a finite number >= 0 (got " + std::to_string(temperature) + ")");
    if (!(top_p > 0.f && top_p <= 1.f))
      throw value_error(op + ": top_p must be in (0, 1] (got " + std::to_string(top_p) + ")");
  }
};

class token_sampler {
 public:
  // `stream` separates the random streams of the sequences of one batch that share a seed.
  explicit token_sampler(const sampling_options& options, std::uint64_t stream = 0)
      : options_(options), rng_(make_engine(options.seed, stream)) {
    options_.validate("token_sampler");
  }

  const sampling_options& options() const { return options_; }

  // value_error if the logits hold NaN or +Inf (either would silently pick an arbitrary token); -Inf masks a token.
  token_id operator()(std::span<const float> logits) {
    if (logits.empty()) throw shape_error("token_sampler: empty logits row");
    for (const float v : logits)
      if (std::isnan(v) || v == HUGE_VALF) throw value_error("token_sampler: the logits contain NaN or +Inf");
    if (options_.temperature == 0.f || options_.top_k == 1) return argmax(logits);

    // Candidates: all ids, or the top_k largest (ties broken by the smaller id, so the cut is deterministic).
    order_.resize(logits.size());
    std::iota(order_.begin(), order_.end(), 0u);
    const auto by_logit = [&](std::uint32_t a, std::uint32_t b) {
      return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
    };
    std::size_t kept = logits.size();
    if (options_.top_k > 0 && options_.top_k < kept) {
      kept = options_.top_k;
      std::nth_element(order_.begin(), order_.begin() + static_cast<std::ptrdiff_t>(kept - 1), order_.end(),
                       by_logit);
    }
    if (options_.top_p < 1.f)  // the nucleus is a prefix of the candidates sorted by probability
      std::sort(order_.begin(), order_.begin() + static_cast<std::ptrdiff_t>(kept), by_logit);
    float top = logits[order_[0]];
    for (std::size_t i = 1; i < kept; ++i) top = std::max(top, logits[order_[i]]);
    probs_.resize(kept);
    double total = 0;
    for (std::size_t i = 0; i < kept; ++i) {
      probs_[i] = std::exp(static_cast<double>(logits[order_[i]] - top) / options_.temperature);
      total += probs_[i];
    }
    if (options_.top_p < 1.f) {  // smallest prefix (by probability) whose mass reaches top_p; at least one token
      double mass = 0;
      std::size_t n = 0;
      while (n < kept) {
        mass += probs_[n++] / total;
        if (mass >= static_cast<double>(options_.top_p)) break;
      }
      kept = n;
      total = 0;
      for (std::size_t i = 0; i < kept; ++i) total += probs_[i];
    }
    const double u = std::uniform_real_distribution<double>(0.0, total)(rng_);
    double acc = 0;
    for (std::size_t i = 0; i < kept; ++i) {
      acc += probs_[i];
      if (u < acc) return static_cast<token_id>(order_[i]);
    }
    return static_cast<token_id>(order_[kept - 1]);  // u == total after rounding
  }

  static std::mt19937_64 make_engine(std::uint64_t seed, std::uint64_t stream) {
    std::seed_seq seq{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32),
                      static_cast<std::uint32_t>(stream), static_cast<std::uint32_t>(stream >> 32)};
    return std::mt19937_64(seq);
  }

  static token_id argmax(std::span<const float> logits) {
    return static_cast<token_id>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  }

 private:
  sampling_options options_;
  std::mt19937_64 rng_;
  std::vector<std::uint32_t> order_;  // reused across calls: no per-token allocation once warm
  std::vector<double> probs_;
};

}  // namespace larimar::model

// The host row kernels (model/kernels/row_kernels.hpp) at every dispatch level this CPU has against a double
// reference, odd lengths and every tail; and the prompt attention as GEMMs (model/kernels/prompt_attention.hpp)
// against the per-(row, head) scan, through the decoder at every level.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "fixtures.hpp"
#include "larimar/core/cpu_dispatch.hpp"
#include "larimar/model/gpt2_decoder.hpp"
#include "larimar/model/kernels/attention.hpp"
#include "larimar/model/kernels/prompt_attention.hpp"
#include "larimar/model/kernels/row_kernels.hpp"

using namespace larimar;
using namespace larimar::model;
namespace fx = model_fixtures;

namespace {

std::vector<float> random_values(std::size_t n, std::uint64_t seed, float scale) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<float> d(0.f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(gen);
  return v;
}

constexpr std::size_t lengths[] = {1, 2, 7, 8, 9, 15, 16, 17, 31, 33, 64, 100, 257, 768, 3072};

double gelu_reference(double x) { return x / (1 + std::exp(-2 * 0.7978845608028654 * (x + 0.044715 * x * x * x))); }

}  // namespace

TEST_CASE("row kernels: softmax with a causal tail, every level vs double") {
  std::uint64_t seed = 1;
  for (const cpu_isa isa : available_cpu_isas()) {
    CAPTURE(std::string(cpu_isa_name(isa)));
    double worst = 0;
    for (const std::size_t total : lengths)
      for (const std::size_t valid : {std::size_t{1}, (total + 1) / 2, total}) {
        CAPTURE(total);
        CAPTURE(valid);
        // scores as attention makes them, and a wide range (large negative differences underflow to 0)
        for (const float scale : {1.f, 30.f}) {
          const auto s0 = random_values(total, ++seed, scale);
          auto s = s0;
          row_kernels::softmax(isa, s.data(), valid, total);
          // the reference takes the kernels' fp32 difference s − max (its rounding is the input's, not theirs)
          float best = -INFINITY;
          double sum = 0;
          for (std::size_t t = 0; t < valid; ++t) best = std::max(best, s0[t]);
          for (std::size_t t = 0; t < valid; ++t) sum += std::exp(double(s0[t] - best));
          for (std::size_t t = 0; t < total; ++t) {
            const double want = t < valid ? std::exp(double(s0[t] - best)) / sum : 0.0;
            const double err = std::fabs(s[t] - want);
            worst = std::max(worst, err);
            if (!(err <= 1e-6 * want + 1e-37)) {  // a few ulps relative (want ≤ 1), and exact zeros past `valid`
              CAPTURE(t);
              CHECK(s[t] == doctest::Approx(want));
              CHECK(err <= 1e-6 * want + 1e-37);
              break;
            }
          }
        }
      }
    MESSAGE(std::string(cpu_isa_name(isa)) << ": largest softmax error " << worst);
  }
}

TEST_CASE("row kernels: bias + GELU, every level vs double") {
  std::uint64_t seed = 100;
  for (const cpu_isa isa : available_cpu_isas()) {
    CAPTURE(std::string(cpu_isa_name(isa)));
    double worst = 0;
    for (const std::size_t n : lengths) {
      CAPTURE(n);
      auto x0 = random_values(n, ++seed, 3.f);
      if (n > 4) x0[0] = -60.f, x0[1] = 60.f, x0[2] = -9.f, x0[3] = 0.f;  // the saturated ends and zero
      const auto b = random_values(n, ++seed, 0.5f);
      auto x = x0;
      row_kernels::bias_gelu(isa, x.data(), b.data(), n);
      for (std::size_t j = 0; j < n; ++j) {
        const double v = double(float(x0[j] + b[j]));
        const double want = gelu_reference(v);
        const double err = std::fabs(x[j] - want);
        worst = std::max(worst, err);
        if (!(err <= 4e-7 * std::fabs(want) + 4e-7 * std::fabs(v) * 1e-2 + 1e-30)) {
          CAPTURE(j);
          CHECK(x[j] == doctest::Approx(want));
          break;
        }
      }
    }
    MESSAGE(std::string(cpu_isa_name(isa)) << ": largest GELU error " << worst);
  }
}

TEST_CASE("row kernels: bias + residual + LayerNorm (in place and not), every level vs double") {
  std::uint64_t seed = 200;
  for (const cpu_isa isa : available_cpu_isas()) {
    CAPTURE(std::string(cpu_isa_name(isa)));
    for (const std::size_t n : lengths)
      for (const bool with_bias : {false, true})
        for (const bool in_place : {false, true}) {
          CAPTURE(n);
          CAPTURE(with_bias);
          CAPTURE(in_place);
          const auto x0 = random_values(n, ++seed, 2.f);
          const auto bias = random_values(n, ++seed, 0.3f);
          const auto gamma = random_values(n, ++seed, 1.f);
          const auto beta = random_values(n, ++seed, 0.1f);
          auto x = x0;
          std::vector<float> out(n, 0.f);
          float* dst = in_place ? x.data() : out.data();
          row_kernels::layer_norm(isa, x.data(), with_bias ? bias.data() : nullptr, dst, gamma.data(), beta.data(), n,
                                  1e-5f);
          std::vector<double> v(n);
          double mean = 0, var = 0;
          for (std::size_t j = 0; j < n; ++j) mean += v[j] = double(with_bias ? float(x0[j] + bias[j]) : x0[j]);
          mean /= double(n);
          for (std::size_t j = 0; j < n; ++j) var += (v[j] - mean) * (v[j] - mean);
          const double inv = 1 / std::sqrt(var / double(n) + 1e-5);
          if (!in_place && with_bias)  // x keeps residual + bias for the caller
            for (std::size_t j = 0; j < n; ++j) REQUIRE(x[j] == float(x0[j] + bias[j]));
          for (std::size_t j = 0; j < n; ++j) {
            const double want = (v[j] - mean) * inv * gamma[j] + beta[j];
            const double bound = 1e-5 * (std::fabs((v[j] - mean) * inv * gamma[j]) + std::fabs(beta[j])) + 1e-6;
            if (!(std::fabs(dst[j] - want) <= bound)) {
              CAPTURE(j);
              CHECK(dst[j] == doctest::Approx(want));
              break;
            }
          }
        }
  }
}

// The kernel alone, with blocks small enough for a run to span several, against kernels::cached_causal_attention.
TEST_CASE("prompt_causal_attention: block edges, earlier slots, every level vs the per-(row, head) scan") {
  // shapes read at run time: constants let GCC inline the scan's dot product into a tail loop it then flags
  std::uint64_t seed = 300;
  for (const std::size_t dim : {20, 64, 80})  // a masked value tile only, one full tile, a full tile and a tail
  for (const cpu_isa isa : available_cpu_isas())
    for (const std::size_t block : {std::size_t{1}, std::size_t{5}, std::size_t{8}, std::size_t{64}})
      for (const std::size_t slot0 : {std::size_t{0}, std::size_t{3}})
        for (const std::size_t n : {std::size_t{1}, std::size_t{2}, std::size_t{17}, std::size_t{40}, std::size_t{57}}) {
          volatile std::size_t head_dim = dim;
          const std::size_t D = head_dim, H = 3, E = H * D, cap = 60, batch = 2;
          const float scale = 0.25f;
          CAPTURE(D);
          CAPTURE(std::string(cpu_isa_name(isa)));
          CAPTURE(block);
          CAPTURE(slot0);
          CAPTURE(n);
          const std::size_t sequence = 1, r0 = 2, R = r0 + n + 1;  // rows around the run stay untouched
          const auto qkv = random_values(R * 3 * E, ++seed, 1.f);
          const auto keys = random_values(batch * H * cap * D, ++seed, 1.f);
          const auto values = random_values(batch * H * cap * D, ++seed, 1.f);
          std::vector<int> seq(R, static_cast<int>(sequence)), slot(R, 0);
          for (std::size_t i = 0; i < n; ++i) slot[r0 + i] = static_cast<int>(slot0 + i);
          std::vector<float> want(R * E, -1.f), got(R * E, -1.f), scratch(R * H * cap, 0.f);
          const kernels::cached_causal_attention scan{qkv.data(), keys.data(), values.data(), seq.data(), slot.data(),
                                                      scratch.data(), want.data(), E, D, H, cap, scale};
          for (std::size_t i = 0; i < n * H; ++i) scan(r0 * H + i);
          kernels::prompt_causal_attention(isa, {E, D, H, cap, scale}, qkv.data(), keys.data(), values.data(),
                                           sequence, r0, slot0, n, got.data(), block);
          float worst = 0;
          for (std::size_t i = 0; i < R * E; ++i) worst = std::max(worst, std::fabs(got[i] - want[i]));
          CHECK(worst < 1e-5f);
        }
}

// Through the decoder: every length 2..45 (one block, every softmax tail), a latent slot before the prompt, a
// batch of runs, each level vs the split kernels.
TEST_CASE("prompt attention as GEMMs = the per-(row, head) kernels, every level, with and without a latent") {
  auto split = gpt2_decoder<>::load(fx::dir() / "tiny");
  split.use_attention_kernel(gpt2_decoder<>::attention_kernel::split);
  split.use_cpu_isa(cpu_isa::generic);
  std::vector<token_id> tokens(45);
  for (std::size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<token_id>((i * 37 + 5) % 1000);
  const std::vector<float> z = random_values(split.latent_size(), 9, 0.5f);
  for (const cpu_isa isa : available_cpu_isas()) {
    CAPTURE(std::string(cpu_isa_name(isa)));
    auto d = gpt2_decoder<>::load(fx::dir() / "tiny");
    d.use_cpu_isa(isa);
    float worst = 0;
    for (std::size_t n = 2; n <= tokens.size(); n += (n < 20 ? 1 : 7)) {
      CAPTURE(n);
      const std::vector<token_id> p(tokens.begin(), tokens.begin() + static_cast<std::ptrdiff_t>(n));
      const float plain = fx::max_abs_diff(d.logits(p), split.logits(p));
      const float latent = fx::max_abs_diff(d.logits(p, z), split.logits(p, z));
      worst = std::max({worst, plain, latent});
      CHECK(plain < 1e-4f);
      CHECK(latent < 1e-4f);
    }
    // three prompts in one batch: three runs, the scratch reused
    const std::vector<std::vector<token_id>> batch{{tokens.begin(), tokens.begin() + 5},
                                                   {tokens.begin() + 3, tokens.begin() + 30},
                                                   {tokens.begin() + 1, tokens.begin() + 12}};
    auto c1 = d.new_cache(3), c2 = split.new_cache(3);
    CHECK(fx::max_abs_diff(d.prefill(c1, batch), split.prefill(c2, batch)) < 1e-4f);
    MESSAGE(std::string(cpu_isa_name(isa)) << ": largest |logit diff| vs the split kernels " << worst);
  }
}

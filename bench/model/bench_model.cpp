// Decode tokens/s (batch 1, KV cache), prefill tokens/s and encoder sentences/s for GPT-2-small / BERT-base
// shapes with random weights, on the host backend; decode and prefill again with the weight matrices held in each
// format (f32, f16, bf16, int8: load_options), and the weight products alone at GPT-2-small shapes for each format
// and CPU dispatch level (these need no model directory). The model directory and prompts come from
// tools/bench_torch_reference.py (its JSON output holds the PyTorch figures for the same weights and prompts):
//   .venv/bin/python tools/bench_torch_reference.py            # writes build-bench/models/gpt2-small-random
//   OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 build/bench/bench_model
// Both default to build-bench/models/gpt2-small-random under the source tree this program was configured from
// (LARIMAR_BENCH_MODEL_DIR, from bench/model/bench.cmake); LARIMAR_BENCH_MODEL overrides the directory. Without the
// directory every model benchmark is skipped with a message. Prompt and generation lengths are cut to the model's
// context window (so LARIMAR_BENCH_MODEL=models/larimar-tiny, 42 positions, runs everything, briefly).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "larimar/model/bert_encoder.hpp"
#include "larimar/model/gpt2_decoder.hpp"
#include "larimar/model/weight_product.hpp"

namespace {

using larimar::model::token_id;
using larimar::model::weight_format;

#ifndef LARIMAR_BENCH_MODEL_DIR
#define LARIMAR_BENCH_MODEL_DIR "build-bench/models/gpt2-small-random"  // relative to the working directory
#endif

std::filesystem::path model_dir() {
  if (const char* env = std::getenv("LARIMAR_BENCH_MODEL")) return env;
  return LARIMAR_BENCH_MODEL_DIR;
}

bool have_model(benchmark::State& state) {
  if (std::filesystem::exists(model_dir() / "config.json")) return true;
  state.SkipWithError(("model directory " + model_dir().string() +
                       " absent: run tools/bench_torch_reference.py first (or set LARIMAR_BENCH_MODEL)")
                          .c_str());
  return false;
}

const nlohmann::json& prompts() {
  static const nlohmann::json j = [] {
    std::ifstream in(model_dir() / "prompts.json");
    return in ? nlohmann::json::parse(in) : nlohmann::json::object();
  }();
  return j;
}

std::vector<token_id> ids(const char* key, std::size_t fallback_length, std::size_t vocab) {
  if (prompts().contains(key)) return prompts()[key].get<std::vector<token_id>>();
  std::vector<token_id> out(fallback_length);
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<token_id>((i * 7919 + 13) % vocab);
  return out;
}

const larimar::model::gpt2_decoder<>& decoder() {
  static const auto d = larimar::model::gpt2_decoder<>::load(model_dir());
  return d;
}
// The decoder with its weight matrices in `f` (loaded once per format).
const larimar::model::gpt2_decoder<>& decoder_in(weight_format f) {
  static std::array<std::unique_ptr<larimar::model::gpt2_decoder<>>, 4> d;
  auto& slot = d[static_cast<std::size_t>(f)];
  if (!slot)
    slot = std::make_unique<larimar::model::gpt2_decoder<>>(
        larimar::model::gpt2_decoder<>::load(model_dir(), larimar::model::load_options{f}));
  return *slot;
}
const larimar::model::bert_encoder<>& encoder() {
  static const auto e = larimar::model::bert_encoder<>::load(model_dir());
  return e;
}

// One iteration: prefill the 32-token prompt (not timed), then `new_tokens` greedy steps (timed).
void decode(benchmark::State& state, const larimar::model::gpt2_decoder<>& d, bool with_latent) {
  const std::size_t window = d.config().n_positions;
  std::vector<std::vector<token_id>> prompt{ids("decode_prompt", 32, d.vocab_size())};
  prompt[0].resize(std::min(prompt[0].size(), window / 4));
  const std::size_t new_tokens = std::min<std::size_t>(128, window - prompt[0].size() - 1);
  std::vector<float> latent;
  if (with_latent) {
    latent.resize(d.latent_size());
    for (std::size_t i = 0; i < latent.size(); ++i) latent[i] = static_cast<float>((i % 17) - 8) * 0.1f;
  }
  auto cache = d.new_cache(1, prompt[0].size() + 1 + new_tokens);
  std::vector<float> logits(d.vocab_size());
  std::vector<token_id> next(1);
  for (auto _ : state) {
    d.prefill(cache, prompt, latent, logits);
    const auto t0 = std::chrono::steady_clock::now();
    for (std::size_t t = 0; t < new_tokens; ++t) {
      next[0] = larimar::model::token_sampler::argmax(logits);
      d.step(cache, next, logits);
    }
    const auto t1 = std::chrono::steady_clock::now();
    state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
    benchmark::DoNotOptimize(logits.data());
  }
  state.counters["tokens/s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * new_tokens), benchmark::Counter::kIsRate);
  state.counters["weight_MB/token"] = static_cast<double>(d.weight_bytes_per_token()) / 1e6;
}
void BM_decode_batch1(benchmark::State& state) {
  if (have_model(state)) decode(state, decoder(), false);
}
void BM_decode_batch1_latent(benchmark::State& state) {
  if (have_model(state)) decode(state, decoder(), true);
}
// range(0): the weight format (0 f32, 1 f16, 2 bf16, 3 int8)
void BM_decode_batch1_weights(benchmark::State& state) {
  if (!have_model(state)) return;
  const auto f = static_cast<weight_format>(state.range(0));
  state.SetLabel(larimar::model::weight_format_name(f));
  decode(state, decoder_in(f), false);
}

// int8 weights with the decode steps' inputs quantised to int8 as well (use_int8_activations: llama.cpp's q8_0
// scheme for the activations).
void BM_decode_batch1_int8_inputs(benchmark::State& state) {
  if (!have_model(state)) return;
  static auto d = [] {
    auto out = larimar::model::gpt2_decoder<>::load(model_dir(), larimar::model::load_options{weight_format::int8});
    out.use_int8_activations(true);
    return out;
  }();
  state.SetLabel("int8, int8 inputs");
  decode(state, d, false);
}

void prefill(benchmark::State& state, const larimar::model::gpt2_decoder<>& d) {
  std::vector<std::vector<token_id>> prompt{ids("prefill_prompt", 512, d.vocab_size())};
  prompt[0].resize(std::min(prompt[0].size(), d.config().n_positions));
  auto cache = d.new_cache(1, prompt[0].size());
  std::vector<float> logits(d.vocab_size());
  for (auto _ : state) {
    d.prefill(cache, prompt, {}, logits);
    benchmark::DoNotOptimize(logits.data());
  }
  state.counters["tokens/s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * prompt[0].size()), benchmark::Counter::kIsRate);
}
void BM_prefill_512(benchmark::State& state) {
  if (have_model(state)) prefill(state, decoder());
}
void BM_prefill_512_weights(benchmark::State& state) {
  if (!have_model(state)) return;
  const auto f = static_cast<weight_format>(state.range(0));
  state.SetLabel(larimar::model::weight_format_name(f));
  prefill(state, decoder_in(f));
}

// The weight products alone: y[R × rows] = x[R × cols]·Wᵀ for R = 1 with GPT-2-small's LM head (50257 × 768: 154 MB
// in f32, 39 MB in int8, more than a 32 MB L3, so the weights stream from memory as in decoding; the fused GEMV,
// f32: sgemv) and for R = 128 with its MLP shape (3072 × 768, c_fc: widened panels + sgemm; f32: sgemm).
// range(0): format, range(1): R, range(2): the CPU dispatch level (0 generic, 1 avx2, 2 avx512; skipped above what
// this CPU has).
void BM_weight_product(benchmark::State& state) {
  namespace m = larimar::model;
  const auto f = static_cast<weight_format>(state.range(0));
  const auto R = static_cast<std::size_t>(state.range(1));
  const auto isa = static_cast<larimar::cpu_isa>(state.range(2));
  if (isa > larimar::detected_cpu_isa()) {
    state.SkipWithError("this CPU has no such dispatch level");
    return;
  }
  const std::size_t rows = R == 1 ? 50257 : 3072, cols = 768;
  std::mt19937 gen(7);
  std::normal_distribution<float> dist(0.f, 0.05f);
  std::vector<float> w(rows * cols), x(R * cols), y(R * rows);
  for (auto& v : w) v = dist(gen);
  for (auto& v : x) v = dist(gen);
  const auto matrix = m::weight_matrix<larimar::backend::omp>::from_f32(w, rows, cols, f);
  m::weight_product<larimar::backend::omp> product;
  product.use_cpu_isa(isa);
  const larimar::backend::blas<larimar::backend::omp> blas;
  for (auto _ : state) {
    product(blas, matrix, R, x.data(), cols, 0.f, y.data(), rows);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetLabel(std::string(m::weight_format_name(f)) + " " + larimar::cpu_isa_name(isa));
  state.counters["weight_GB/s"] = benchmark::Counter(static_cast<double>(state.iterations() * matrix.bytes()) / 1e9,
                                                     benchmark::Counter::kIsRate);
  state.counters["GFLOP/s"] = benchmark::Counter(static_cast<double>(state.iterations() * 2 * R * rows * cols) / 1e9,
                                                 benchmark::Counter::kIsRate);
}

void BM_encoder_32x32(benchmark::State& state) {
  if (!have_model(state)) return;
  const auto& e = encoder();
  std::vector<std::vector<token_id>> batch;
  if (prompts().contains("encoder_batch")) {
    batch = prompts()["encoder_batch"].get<std::vector<std::vector<token_id>>>();
  } else {
    for (std::size_t b = 0; b < 32; ++b) batch.push_back(ids("none", 32, e.config().vocab_size));
  }
  for (auto _ : state) {
    auto out = e.encode(batch);
    benchmark::DoNotOptimize(out.latent.data());
  }
  state.counters["sentences/s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * batch.size()), benchmark::Counter::kIsRate);
}

}  // namespace

BENCHMARK(BM_decode_batch1)->UseManualTime()->Unit(benchmark::kMillisecond)->MinTime(3.0);
BENCHMARK(BM_decode_batch1_latent)->UseManualTime()->Unit(benchmark::kMillisecond)->MinTime(3.0);
BENCHMARK(BM_prefill_512)->UseRealTime()->Unit(benchmark::kMillisecond)->MinTime(3.0);
BENCHMARK(BM_decode_batch1_weights)
    ->DenseRange(0, 3)
    ->ArgName("format")
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->MinTime(3.0);
BENCHMARK(BM_decode_batch1_int8_inputs)->UseManualTime()->Unit(benchmark::kMillisecond)->MinTime(3.0);
BENCHMARK(BM_prefill_512_weights)
    ->DenseRange(0, 3)
    ->ArgName("format")
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond)
    ->MinTime(3.0);
BENCHMARK(BM_weight_product)
    ->ArgsProduct({{0, 1, 2, 3}, {1, 128}, {0, 1, 2}})
    ->ArgNames({"format", "R", "isa"})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond)
    ->MinTime(1.0);
BENCHMARK(BM_encoder_32x32)->UseRealTime()->Unit(benchmark::kMillisecond)->MinTime(3.0);
BENCHMARK_MAIN();

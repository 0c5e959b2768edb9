// Decode tokens/s (batch 1, KV cache), prefill tokens/s and encoder sentences/s for GPT-2-small / BERT-base
// shapes with random weights, on the host backend. The model directory and prompts come from
// tools/bench_torch_reference.py (its JSON output holds the PyTorch figures for the same weights and prompts):
//   .venv/bin/python tools/bench_torch_reference.py            # writes build-bench/models/gpt2-small-random
//   OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 build/bench/bench_model
// Both default to build-bench/models/gpt2-small-random under the source tree this program was configured from
// (LARIMAR_BENCH_MODEL_DIR, from bench/model/bench.cmake); LARIMAR_BENCH_MODEL overrides the directory. Without the
// directory every benchmark is skipped with a message.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "larimar/model/bert_encoder.hpp"
#include "larimar/model/gpt2_decoder.hpp"

namespace {

using larimar::model::token_id;

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
const larimar::model::bert_encoder<>& encoder() {
  static const auto e = larimar::model::bert_encoder<>::load(model_dir());
  return e;
}

// One iteration: prefill the 32-token prompt (not timed), then `new_tokens` greedy steps (timed).
void decode(benchmark::State& state, bool with_latent) {
  if (!have_model(state)) return;
  const auto& d = decoder();
  const std::size_t new_tokens = 128;
  const std::vector<std::vector<token_id>> prompt{ids("decode_prompt", 32, d.vocab_size())};
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
}
void BM_decode_batch1(benchmark::State& state) { decode(state, false); }
void BM_decode_batch1_latent(benchmark::State& state) { decode(state, true); }

void BM_prefill_512(benchmark::State& state) {
  if (!have_model(state)) return;
  const auto& d = decoder();
  const std::vector<std::vector<token_id>> prompt{ids("prefill_prompt", 512, d.vocab_size())};
  auto cache = d.new_cache(1, prompt[0].size());
  std::vector<float> logits(d.vocab_size());
  for (auto _ : state) {
    d.prefill(cache, prompt, {}, logits);
    benchmark::DoNotOptimize(logits.data());
  }
  state.counters["tokens/s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * prompt[0].size()), benchmark::Counter::kIsRate);
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
BENCHMARK(BM_encoder_32x32)->UseRealTime()->Unit(benchmark::kMillisecond)->MinTime(3.0);
BENCHMARK_MAIN();

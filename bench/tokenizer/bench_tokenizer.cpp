// Encode throughput of the tokenizers on the fixture texts (fortune lines, 3065 texts, mostly English), one
// text at a time on one thread, as MB/s of input. bench/tokenizer/compare_hf.py runs this and HF `tokenizers`
// on the same texts and files in one session.
#include <benchmark/benchmark.h>

#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "larimar/tokenizer/byte_level_bpe.hpp"
#include "larimar/tokenizer/wordpiece.hpp"

namespace {

using namespace larimar::tokenizer;

std::string fixture(const std::string& name) { return std::string(LARIMAR_FIXTURE_DIR) + "/tokenizer/" + name; }

const std::vector<std::string>& texts() {
  static const std::vector<std::string> t = [] {
    std::ifstream in(fixture("cases.json"));
    return nlohmann::json::parse(in)["texts"].get<std::vector<std::string>>();
  }();
  return t;
}

std::int64_t total_bytes() {
  std::int64_t n = 0;
  for (const auto& t : texts()) n += static_cast<std::int64_t>(t.size());
  return n;
}

void encode_all_bpe(benchmark::State& state, const byte_level_bpe& bpe) {
  std::size_t ids = 0;
  for (auto _ : state) {
    for (const auto& t : texts()) {
      auto v = bpe.encode(t);
      ids += v.size();
      benchmark::DoNotOptimize(v.data());
    }
  }
  state.SetBytesProcessed(state.iterations() * total_bytes());
  state.counters["ids_per_text"] = static_cast<double>(ids) / static_cast<double>(state.iterations() * texts().size());
}

void BM_bpe_encode(benchmark::State& state) {
  static const auto bpe = byte_level_bpe::from_files(fixture("gpt2_vocab.json"), fixture("gpt2_merges.txt"));
  encode_all_bpe(state, bpe);
}
BENCHMARK(BM_bpe_encode)->Unit(benchmark::kMillisecond);

void BM_bpe_encode_no_cache(benchmark::State& state) {
  byte_level_bpe::options opts;
  opts.cache_capacity = 0;
  static const auto bpe = byte_level_bpe::from_files(fixture("gpt2_vocab.json"), fixture("gpt2_merges.txt"), opts);
  encode_all_bpe(state, bpe);
}
BENCHMARK(BM_bpe_encode_no_cache)->Unit(benchmark::kMillisecond);

void BM_bpe_decode(benchmark::State& state) {
  static const auto bpe = byte_level_bpe::from_files(fixture("gpt2_vocab.json"), fixture("gpt2_merges.txt"));
  std::vector<std::vector<token_id>> ids;
  for (const auto& t : texts()) ids.push_back(bpe.encode(t));
  for (auto _ : state)
    for (const auto& v : ids) benchmark::DoNotOptimize(bpe.decode(v));
  state.SetBytesProcessed(state.iterations() * total_bytes());
}
BENCHMARK(BM_bpe_decode)->Unit(benchmark::kMillisecond);

// All texts joined by newlines into one document: per-call overheads vanish, the algorithms remain.
const std::string& document() {
  static const std::string d = [] {
    std::string out;
    for (const auto& t : texts()) out += t + "\n";
    return out;
  }();
  return d;
}

void BM_bpe_encode_document(benchmark::State& state) {
  static const auto bpe = byte_level_bpe::from_files(fixture("gpt2_vocab.json"), fixture("gpt2_merges.txt"));
  for (auto _ : state) benchmark::DoNotOptimize(bpe.encode(document()).data());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(document().size()));
}
BENCHMARK(BM_bpe_encode_document)->Unit(benchmark::kMillisecond);

void BM_wordpiece_encode_document(benchmark::State& state) {
  static const auto bert = wordpiece::from_file(fixture("bert_uncased_vocab.txt"));
  for (auto _ : state) benchmark::DoNotOptimize(bert.encode(document()).data());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(document().size()));
}
BENCHMARK(BM_wordpiece_encode_document)->Unit(benchmark::kMillisecond);

void BM_wordpiece_encode(benchmark::State& state) {
  static const auto bert = wordpiece::from_file(fixture("bert_uncased_vocab.txt"));
  for (auto _ : state)
    for (const auto& t : texts()) benchmark::DoNotOptimize(bert.encode_with_specials(t).data());
  state.SetBytesProcessed(state.iterations() * total_bytes());
}
BENCHMARK(BM_wordpiece_encode)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();

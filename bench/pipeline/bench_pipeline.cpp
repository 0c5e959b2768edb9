// A serving loop over several contexts with models/larimar-tiny: for each context, write it (segment, encode,
// memory write), then answer a batch of queries (read + greedy generation). Sequential: ask() after each write.
// Overlapped: ask_async() after each write, so context i's generation runs on a worker while context i+1 is
// segmented, encoded and written; the answers are collected before the next ask. Both loops give the same
// answers (checked here, and by test_pipeline_recall's ask_async test). In place: the sequential loop with the
// memory in the models' backend memory (storage::device: the latent path, no latent copied to the host).
//   ./build/bench/bench_pipeline --benchmark_counters_tabular=true
// Arguments: tokens per context, queries per context. Every run serves the same `contexts` contexts.
#include <benchmark/benchmark.h>

#include <future>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "larimar/keys/fixed_nearest.hpp"
#include "larimar/memory/sharded_memory.hpp"
#include "larimar/pipeline/pipeline.hpp"
#include "larimar/solver/pseudoinverse.hpp"
#include "larimar/storage/device.hpp"
#include "larimar/storage/host.hpp"

namespace {

using namespace larimar;
template <class Storage>
using pipeline_on = pipeline::recall_pipeline<sharded_memory<float, Storage, keys::fixed_nearest, solver::pseudoinverse>>;
using answers_t = std::vector<pipeline::recall_answer>;
constexpr std::size_t contexts = 4;

std::shared_ptr<const pipeline::recall_models<>> models() {
  static const auto m = std::make_shared<const pipeline::recall_models<>>(pipeline::recall_models<>::load(LARIMAR_MODEL_DIR));
  return m;
}

struct workload {
  std::vector<pipeline::recall_task> tasks;
  std::vector<std::vector<std::string>> queries;
};
workload make_workload(std::size_t tokens, std::size_t q) {
  workload w;
  for (std::size_t c = 0; c < contexts; ++c) {
    w.tasks.push_back(pipeline::passkey_task(5, tokens, 0.5, 100 + c));
    w.queries.emplace_back(q, w.tasks.back().query);  // q sequences decoded as one batch
  }
  return w;
}
template <class Pipeline>
Pipeline make_pipeline() {
  pipeline::pipeline_options o;
  o.prefix_tokens = models()->tokenizer().encode("The pass key is").size();
  return Pipeline(models(), o);
}
template <class Pipeline>
void write(Pipeline& p, const pipeline::recall_task& t) {
  p.clear();
  pipeline::context_stream<tokenizer::byte_level_bpe> cs(t, p.models().tokenizer(), p.options().cut());
  p.write(cs);
}

template <class Pipeline>
std::vector<answers_t> serve_sequential(Pipeline& p, const workload& w) {
  std::vector<answers_t> out;
  for (std::size_t c = 0; c < contexts; ++c) {
    write(p, w.tasks[c]);
    out.push_back(p.ask(w.queries[c]));
  }
  return out;
}
template <class Pipeline>
std::vector<answers_t> serve_overlapped(Pipeline& p, const workload& w) {
  std::vector<answers_t> out;
  std::future<answers_t> pending;
  for (std::size_t c = 0; c < contexts; ++c) {
    write(p, w.tasks[c]);  // overlaps the generation of context c-1
    if (pending.valid()) out.push_back(pending.get());
    pending = p.ask_async(w.queries[c]);
  }
  out.push_back(pending.get());
  return out;
}

template <bool Overlapped, class Storage = storage::host>
void BM_serve(benchmark::State& state) {
  using P = pipeline_on<Storage>;
  static_assert(P::latents_in_place == std::is_same_v<Storage, storage::device>);
  const auto w = make_workload(static_cast<std::size_t>(state.range(0)), static_cast<std::size_t>(state.range(1)));
  auto p = make_pipeline<P>();
  auto reference = serve_sequential(p, w);  // warms the encoder cache for both loops alike
  double write_s = 0, decode_s = 0;
  for (auto _ : state) {
    p.reset_timings();
    auto got = Overlapped ? serve_overlapped(p, w) : serve_sequential(p, w);
    const auto t = p.timings();
    write_s += t.segment + t.encode + t.write, decode_s += t.decode;
    for (std::size_t c = 0; c < contexts; ++c)
      if (got[c].front().tokens != reference[c].front().tokens) state.SkipWithError("answers differ from ask()'s");
    benchmark::DoNotOptimize(got);
  }
  const double n = static_cast<double>(state.iterations());
  state.counters["write_s"] = write_s / n;    // per loop of `contexts` contexts
  state.counters["decode_s"] = decode_s / n;  // generation time (on the worker when overlapped)
  state.counters["contexts/s"] = benchmark::Counter(static_cast<double>(contexts * state.iterations()),
                                                    benchmark::Counter::kIsRate);
}

void shapes(benchmark::internal::Benchmark* b) {
  for (const long tokens : {32768L, 131072L})
    for (const long q : {8L, 64L}) b->Args({tokens, q});
  b->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);
}
BENCHMARK(BM_serve<false>)->Name("BM_serve_sequential")->Apply(shapes);
BENCHMARK(BM_serve<true>)->Name("BM_serve_overlapped")->Apply(shapes);
BENCHMARK(BM_serve<false, storage::device>)->Name("BM_serve_in_place")->Apply(shapes);

}  // namespace

BENCHMARK_MAIN();

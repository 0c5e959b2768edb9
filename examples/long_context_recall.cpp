// A passkey hidden in a long context (default 1M tokens), written into a sharded memory segment by segment and
// recalled by the decoder from the query prefix "The pass key is" (docs/pipeline.md).
//   long_context_recall [model dir = models/larimar-small] [tokens = 1000000] [digits = 3] [depth % = 50] [seed = 1]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <larimar/keys/fixed_nearest.hpp>
#include <larimar/memory/sharded_memory.hpp>
#include <larimar/pipeline/pipeline.hpp>
#include <larimar/solver/pseudoinverse.hpp>
#include <larimar/storage/host.hpp>

int main(int argc, char** argv) try {
  using namespace larimar;
  const std::string dir = argc > 1 ? argv[1] : "models/larimar-small";
  const std::size_t tokens = argc > 2 ? std::stoul(argv[2]) : 1000000;
  const std::size_t digits = argc > 3 ? std::stoul(argv[3]) : 3;
  const double depth = argc > 4 ? std::stod(argv[4]) / 100 : 0.5;
  const std::uint64_t seed = argc > 5 ? std::stoull(argv[5]) : 1;

  // The memory on the host (the paper's setting), fixed keys, nearest-neighbour lookup on prefix encodings.
  using Memory = sharded_memory<float, storage::host, keys::fixed_nearest, solver::pseudoinverse>;
  const auto t0 = std::chrono::steady_clock::now();
  auto models = std::make_shared<const pipeline::recall_models<>>(pipeline::recall_models<>::load(dir));
  const auto task = pipeline::passkey_task(digits, tokens, depth, seed);
  pipeline::pipeline_options opt;
  opt.prefix_tokens = models->tokenizer().encode(task.query).size();  // the query prefix, whole
  pipeline::recall_pipeline<Memory> p(models, opt);
  const double load = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  pipeline::context_stream<tokenizer::byte_level_bpe> context(task, models->tokenizer(), p.options().cut());
  const auto needle = p.write(context);  // streamed: never the whole context in memory
  const auto a = p.ask(task.query);

  const auto& t = p.timings();
  std::printf("context: %zu tokens in %zu segments (%zu distinct encoded), needle at %.1f%% depth\n", p.tokens(),
              p.segments(), models->cache_misses(), 100 * context.actual_depth());
  std::printf("query:   \"%s\"\n", task.query.c_str());
  std::printf("answer:  \"%s\"\n", a.text.c_str());
  std::printf("truth:   %s   -> %s (the read %s the needle's entry)\n", task.answer.c_str(),
              pipeline::is_correct(task, a.text) ? "correct" : "wrong",
              a.matched.entry == needle.at(0) ? "hit" : "missed");
  std::printf("time:    load %.2f s, segment %.2f s, encode %.2f s, write %.2f s, read %.4f s, decode %.3f s\n", load,
              t.segment, t.encode, t.write, t.read, t.decode);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "long_context_recall: %s\n", e.what());
  return 1;
}

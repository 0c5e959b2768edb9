// recall_pipeline over the distributed memory, every rank running the encoder and decoder on the same text
// (SPMD): the same needle entry, the same read latent, the same answer as over sharded_memory. The context length
// comes from LARIMAR_DIST_PASSKEY_TOKENS (default 32,768; docs/distributed.md reports a 10M-token run).
#include <mpi.h>

#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "larimar/distributed/distributed_memory.hpp"
#include "larimar/keys/fixed_nearest.hpp"
#include "larimar/pipeline/pipeline.hpp"
#include "larimar/solver/pseudoinverse.hpp"
#include "larimar/storage/host.hpp"
#include "../pipeline/models.hpp"

using namespace larimar;
using namespace larimar::pipeline;

namespace {
using Dist = distributed::distributed_memory<float, storage::host, keys::fixed_nearest, solver::pseudoinverse>;
using Single = sharded_memory<float, storage::host, keys::fixed_nearest, solver::pseudoinverse>;

std::size_t context_tokens() {
  const char* s = std::getenv("LARIMAR_DIST_PASSKEY_TOKENS");
  return s ? static_cast<std::size_t>(std::atoll(s)) : 32768;
}

template <class P>
std::pair<std::vector<std::size_t>, recall_answer> run(P& p, const recall_task& task) {
  p.clear();
  context_stream<tokenizer::byte_level_bpe> cs(task, p.models().tokenizer(), p.options().segment_tokens);
  auto needles = p.write(cs);
  return {needles, p.ask(task.query)};
}
}  // namespace

TEST_CASE("recall_pipeline over the distributed memory answers as over sharded_memory") {
  const auto task = passkey_task(5, context_tokens(), 0.4, 21);
  recall_pipeline<Dist> dist(test::tiny());
  const auto t0 = std::chrono::steady_clock::now();
  const auto [needles, answer] = run(dist, task);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0)
    MESSAGE(dist.tokens() << " tokens, " << dist.segments() << " segments over " << dist.memory().ranks()
                          << " ranks, " << dist.memory().local_size() << " on rank 0; passkey " << task.answer
                          << " -> '" << answer.text << "' in " << seconds << " s (write + ask)");
  CHECK(is_correct(task, answer.text));
  REQUIRE(needles.size() == 1);
  CHECK(answer.matched.entry == needles[0]);
  if (context_tokens() <= 200000) {  // the single-process reference, where it is cheap
    recall_pipeline<Single> ref(test::tiny());
    const auto [ref_needles, ref_answer] = run(ref, task);
    CHECK(needles == ref_needles);
    CHECK(answer.text == ref_answer.text);
    CHECK(answer.matched.entry == ref_answer.matched.entry);
    CHECK(answer.matched.block == ref_answer.matched.block);
    CHECK(answer.matched.score == ref_answer.matched.score);
    const std::vector<std::string> q{task.query};
    const auto a = dist.read(q), b = ref.read(q);
    CHECK(std::memcmp(a.latents.data(), b.latents.data(), a.latents.size() * sizeof(float)) == 0);
  }
}

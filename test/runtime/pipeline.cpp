// runtime::make_pipeline: the spec's memory type and lookup, and a pipeline behind the interface that writes, reads
// and answers exactly as recall_pipeline of that type does (reads to the bit; generations token for token).
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "factories.hpp"  // runtime::make_memory/make_pipeline, compiled once (tools/factories)
#include "larimar/keys/fixed_nearest.hpp"
#include "larimar/keys/prefix_encoding.hpp"
#include "larimar/memory/memory.hpp"
#include "larimar/memory/sharded_memory.hpp"
#include "larimar/pipeline/pipeline.hpp"
#include "larimar/solver/iterative.hpp"
#include "larimar/solver/pseudoinverse.hpp"
#include "larimar/storage/device.hpp"
#include "larimar/storage/host.hpp"
#include "../pipeline/models.hpp"

using namespace larimar;
using namespace larimar::pipeline;

namespace {

using bpe = tokenizer::byte_level_bpe;
using test::random_models;
using test::tiny;

pipeline_options passkey_options() {
  pipeline_options o;
  o.prefix_tokens = random_models()->tokenizer().encode("The pass key is").size();
  return o;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// One context written through the pipeline's stream interface, then read with its query and a few others.
template <class P>
auto write_and_read(P& p, const recall_task& task) {
  p.clear();
  context_stream<bpe> cs(task, p.models().tokenizer(), p.options().segment_tokens);
  const auto needles = p.write(cs);
  REQUIRE(needles.size() == 1);
  const std::vector<std::string> queries{task.query, "The grass is", "There and back"};
  return std::make_pair(needles, p.read(queries));
}

template <class Memory>
void check_same_as_typed(const std::string& spec, const pipeline_options& typed_options, const recall_task& task) {
  CAPTURE(spec);
  recall_pipeline<Memory> typed(random_models(), typed_options);
  const auto made = larimar_factories::make_pipeline(spec, random_models(), passkey_options());
  REQUIRE(made->template target<recall_pipeline<Memory>>() != nullptr);
  REQUIRE(made->memory().template target<Memory>() != nullptr);
  CHECK(made->options().lookup == typed_options.lookup);
  CHECK(made->options().memory.memory_precision == typed_options.memory.memory_precision);
  const auto [needles_a, a] = write_and_read(typed, task);
  const auto [needles_b, b] = write_and_read(*made, task);
  CHECK(needles_a == needles_b);
  CHECK(a.hits[0].entry == needles_a[0]);  // the read found the needle: a real case
  CHECK(same_bits(a.latents, b.latents));
  for (std::size_t i = 0; i < a.hits.size(); ++i) {
    CHECK(a.hits[i].entry == b.hits[i].entry);
    CHECK(a.hits[i].score == b.hits[i].score);
  }
  CHECK(made->segments() == typed.segments());
  CHECK(made->tokens() == typed.tokens());
  CHECK(made->memory().size() == typed.memory().size());
  CHECK(same_bits(made->memory().entry(needles_b[0]).second, [&] {
    const auto z = typed.memory().entry(needles_a[0]).second;
    using S = typename Memory::storage_type;
    std::vector<float> h(S::rows(z) * S::cols(z));
    S::download(S::data(z), h.size(), h.data());
    return h;
  }()));
  CHECK(same_bits(made->query_lookups(std::vector<std::string>{task.query}),
                  typed.query_lookups(std::vector<std::string>{task.query})));
  // The top-k read through the interface is the typed one's, to the bit.
  const std::vector<std::string> queries{task.query, "The grass is", "There and back"};
  const auto ta = typed.read(queries, 6), tb = made->read(queries, 6);
  REQUIRE(ta.k == 6);
  CHECK(tb.k == ta.k);
  CHECK(ta.hits_of(0)[0].entry == needles_a[0]);
  CHECK(same_bits(ta.latents, tb.latents));
  REQUIRE(tb.hits.size() == ta.hits.size());
  for (std::size_t i = 0; i < ta.hits.size(); ++i) {
    CHECK(ta.hits[i].entry == tb.hits[i].entry);
    CHECK(ta.hits[i].score == tb.hits[i].score);
  }
}

}  // namespace

TEST_CASE("every pipeline spec makes the recall_pipeline of its type, which reads what the typed one reads") {
  const auto task = passkey_task(3, 8192, 0.4, 3);
  auto o = passkey_options();
  check_same_as_typed<sharded_memory<float, storage::host, keys::fixed_nearest, solver::pseudoinverse>>(
      "sharded,fixed_nearest/prefix,pinv,host", o, task);
  o.memory.lookup_precision = o.memory.memory_precision = precision::fp16;
  check_same_as_typed<sharded_memory<float, storage::device, keys::prefix_encoding, solver::pseudoinverse>>(
      "prefix_encoding,device,fp16", o, task);
  o = passkey_options();
  o.lookup = lookup_kind::full;
  check_same_as_typed<sharded_memory<float, storage::host, keys::fixed_nearest, solver::pseudoinverse>>(
      "fixed_nearest/full", o, task);
  o = passkey_options();
  check_same_as_typed<memory<float, storage::host, keys::fixed_nearest, solver::iterative<15, solver::init::safe>>>(
      "plain,iter15_safe", o, task);
}

TEST_CASE("describe(): the memory's canonical spec with the pipeline's lookup") {
  const auto p = larimar_factories::make_pipeline("device,prefix_encoding,lookup=bf16", random_models(), passkey_options());
  CHECK(p->describe() == "sharded,prefix_encoding/prefix,pinv,device,lookup=bf16,memory=fp32");
  CHECK(p->memory().describe() == "sharded,prefix_encoding,pinv,device,lookup=bf16,memory=fp32");
  auto o = passkey_options();
  o.lookup = lookup_kind::full;
  // Unnamed in the spec, the options' lookup and formats stay; named, the spec's replace them.
  CHECK(larimar_factories::make_pipeline("plain", random_models(), o)->describe() == "plain,fixed_nearest/full,pinv,host,fp32");
  CHECK(larimar_factories::make_pipeline("fixed_nearest/prefix", random_models(), o)->options().lookup == lookup_kind::prefix);
  const auto again = larimar_factories::make_pipeline(p->describe(), random_models(), passkey_options());
  CHECK(again->describe() == p->describe());
  CHECK_THROWS_WITH_AS(larimar_factories::make_pipeline("sharded,content/full", random_models(), o),
                       doctest::Contains("content keys need the plain layout"), value_error);
  CHECK_THROWS_WITH_AS(larimar_factories::make_pipeline("host,fixed_nearest/middle", random_models(), o),
                       doctest::Contains("unknown lookup 'middle'"), value_error);
}

TEST_CASE("write_segments, write_text, clear and timings through the interface") {
  const auto p = larimar_factories::make_pipeline("", random_models(), passkey_options());
  const auto ids = p->write_text("The grass is green. The sky is blue.\n\nMy locker code is 4471. Keep it safe.\n\n"
                                 "Here we go. There and back again.");
  REQUIRE(ids.size() == 3);
  CHECK(p->segments() == 3);
  CHECK(p->timings().encode > 0);
  const std::vector<std::string> q{"My locker code is"};
  CHECK(p->read(q).hits[0].entry == ids[1]);
  const auto segs = segment_text(p->models().tokenizer(), "One more line. And another.", p->options().segment_tokens);
  const auto more = p->write_segments(segs);
  CHECK(more == std::vector<std::size_t>{3});
  p->clear();
  CHECK(p->segments() == 0);
  CHECK(p->tokens() == 0);
  CHECK(p->memory().empty());
  CHECK(p->timings().encode == 0);
  CHECK_THROWS_AS(p->read(q), state_error);  // the memory's own refusal, through the view
}

TEST_CASE("end to end with larimar-tiny: ask, generate and ask_async answer as the typed pipeline does") {
  using M = sharded_memory<float, storage::device, keys::fixed_nearest, solver::pseudoinverse>;
  auto o = passkey_options();
  recall_pipeline<M> typed(tiny(), o);
  const auto made = larimar_factories::make_pipeline("fixed_nearest/prefix,device", tiny(), o);
  const auto task = passkey_task(4, 4096, 0.6, 21);
  write_and_read(typed, task);
  write_and_read(*made, task);
  const auto want = typed.ask(task.query);
  const auto got = made->ask(task.query);
  CHECK(got.tokens == want.tokens);
  CHECK(got.text == want.text);
  CHECK(got.matched.entry == want.matched.entry);
  CHECK(is_correct(task, got.text));  // the tiny model says the passkey: the tokens compared are a real answer
  CHECK(made->prompt(task.query) == typed.prompt(task.query));
  const std::vector<std::string> qs{task.query, "The grass is"};
  const auto r = made->read(qs);
  const auto g = made->generate(qs, r.latents);
  auto pending = made->ask_async(qs);
  made->clear();  // the worker holds its own latents
  const auto async = pending.get();
  REQUIRE(async.size() == 2);
  for (std::size_t i = 0; i < 2; ++i) CHECK(async[i].tokens == g[i].tokens);
  // Top-k ask through the interface answers as the typed pipeline's.
  write_and_read(*made, task);
  const auto want_k = typed.ask(qs, 3);
  const auto got_k = made->ask(qs, 3);
  REQUIRE(got_k.size() == 2);
  for (std::size_t i = 0; i < 2; ++i) {
    REQUIRE(got_k[i].size() == want_k[i].size());
    REQUIRE(!got_k[i].empty());
    for (std::size_t j = 0; j < got_k[i].size(); ++j) {
      CHECK(got_k[i][j].tokens == want_k[i][j].tokens);
      CHECK(got_k[i][j].matched.entry == want_k[i][j].matched.entry);
    }
  }
  CHECK(got_k[0][0].tokens == want.tokens);  // the first answer is ask()'s
  const auto one = made->ask(task.query, 2);
  REQUIRE(!one.empty());
  CHECK(one[0].tokens == want.tokens);
}

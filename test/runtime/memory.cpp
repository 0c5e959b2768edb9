// runtime::make_memory: each spec makes the compile-time type it names (checked against types written out here,
// not taken from the factory's tables), and the made memory behaves exactly like that type — the same reads, to
// the bit, on a seeded case; the interface's calls mirror the type's; state files cross between the two.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <string>
#include <tuple>
#include <unistd.h>
#include <vector>

#include "../memory/helpers.hpp"
#include "factories.hpp"  // runtime::make_memory/make_pipeline, compiled once (tools/factories)
#include "larimar/io/state_file.hpp"
#include "larimar/keys/content.hpp"
#include "larimar/keys/fixed_nearest.hpp"
#include "larimar/keys/prefix_encoding.hpp"
#include "larimar/memory/memory.hpp"
#include "larimar/memory/sharded_memory.hpp"
#include "larimar/solver/iterative.hpp"
#include "larimar/solver/pseudoinverse.hpp"
#include "larimar/storage/device.hpp"
#include "larimar/storage/host.hpp"

using namespace larimar;

namespace {

template <class T>
struct named {
  using type = T;
  const char* name;
};
// The vocabulary as this test knows it.
const auto layouts = std::make_tuple(named<runtime::plain_layout>{"plain"}, named<runtime::sharded_layout>{"sharded"});
const auto key_policies = std::make_tuple(named<keys::fixed_nearest>{"fixed_nearest"},
                                          named<keys::prefix_encoding>{"prefix_encoding"},
                                          named<keys::content>{"content"},
                                          named<keys::content_ridge>{"content_ridge"});
const auto solvers = std::make_tuple(named<solver::pseudoinverse>{"pinv"}, named<solver::iterative<3>>{"iter3"},
                                     named<solver::iterative<15, solver::init::safe>>{"iter15_safe"});
const auto storages = std::make_tuple(named<storage::host>{"host"}, named<storage::device>{"device"});

template <class Tuple, class F>
void each(const Tuple& t, F&& f) {
  std::apply([&](const auto&... x) { (f(x), ...); }, t);
}

template <bool Plain, class S, class Keys, class Solver>
struct memory_type {
  using type = memory<float, S, Keys, Solver>;
};
template <class S, class Keys, class Solver>
struct memory_type<false, S, Keys, Solver> {
  using type = sharded_memory<float, S, Keys, Solver>;
};

constexpr std::size_t K = 16, C = 8, L = 8, N = 12;

memory_config config() { return {.slots = K, .code_size = C, .lookup_size = L, .seed = 11}; }

// What a memory does with one seeded episode: reads of the written lookups (or latents, by content), reads at
// the entries, or the error it raised.
struct outcome {
  std::vector<float> latents, at_entries;
  std::vector<std::size_t> entries;
  std::vector<float> scores;
  std::vector<float> top_latents, top_scores;  // the top-k read (k = 5) of the same queries
  std::vector<std::size_t> top_entries;
  std::size_t top_k = 0;
  std::string error;
  bool operator==(const outcome&) const = default;
};

template <class S, class Matrix>
std::vector<float> on_host(const Matrix& m) {
  std::vector<float> out(S::rows(m) * S::cols(m));
  S::download(S::data(m), out.size(), out.data());
  return out;
}

// Bitwise comparison of float vectors (== on floats would let -0 pass for 0 and fail NaN against itself).
bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

template <class Memory>
outcome typed_run(Memory& m, const xt::xtensor<float, 2>& z, const xt::xtensor<float, 2>& look, bool content) {
  using S = typename Memory::storage_type;
  outcome o;
  try {
    const auto ids = m.write(z, look);
    const auto r = m.read(content ? z : look);
    o.latents = on_host<S>(r.latents);
    for (const auto& h : r.hits) o.entries.push_back(h.entry), o.scores.push_back(h.score);
    o.at_entries = on_host<S>(m.read_entries(ids));
    const auto top = m.read(content ? z : look, 5);
    o.top_latents = on_host<S>(top.latents);
    for (const auto& h : top.hits) o.top_entries.push_back(h.entry), o.top_scores.push_back(h.score);
    o.top_k = top.k;
  } catch (const std::exception& e) {
    o.error = e.what();
  }
  return o;
}

outcome facade_run(runtime::memory_interface& m, const xt::xtensor<float, 2>& z, const xt::xtensor<float, 2>& look,
                   bool content) {
  outcome o;
  try {
    const auto ids = m.write(z, look);
    const auto r = m.read(content ? matrix_ref<const float>(z) : matrix_ref<const float>(look));
    o.latents = r.latents;
    for (const auto& h : r.hits) o.entries.push_back(h.entry), o.scores.push_back(h.score);
    o.at_entries = m.read_entries(ids);
    const auto top = m.read(content ? matrix_ref<const float>(z) : matrix_ref<const float>(look), 5);
    o.top_latents = top.latents;
    for (const auto& h : top.hits) o.top_entries.push_back(h.entry), o.top_scores.push_back(h.score);
    o.top_k = top.k;
  } catch (const std::exception& e) {
    o.error = e.what();
  }
  return o;
}

std::filesystem::path temp_path(const char* name) {
  return std::filesystem::temp_directory_path() /
         (std::string("larimar-runtime-") + std::to_string(::getpid()) + "-" + name);
}

}  // namespace

TEST_CASE("every spec makes the type it names, and that memory reads what the type reads, to the bit") {
  const auto z = test::gaussian<float>(N, C, 1);
  const auto look = test::gaussian<float>(N, L, 2);
  std::size_t made = 0;
  each(layouts, [&](const auto& layout) {
    each(key_policies, [&](const auto& keys) {
      each(solvers, [&](const auto& solver) {
        each(storages, [&](const auto& storage) {
          using Layout = typename std::decay_t<decltype(layout)>::type;
          using Keys = typename std::decay_t<decltype(keys)>::type;
          using Solver = typename std::decay_t<decltype(solver)>::type;
          using S = typename std::decay_t<decltype(storage)>::type;
          constexpr bool plain = std::is_same_v<Layout, runtime::plain_layout>;
          constexpr bool content = std::is_same_v<Keys, keys::content> || std::is_same_v<Keys, keys::content_ridge>;
          const std::string types = std::string(layout.name) + "," + keys.name + "," + solver.name + "," + storage.name;
          if constexpr (!plain && content) {
            CHECK_THROWS_WITH_AS(larimar_factories::make_memory(types, config()),
                                 doctest::Contains((std::string(keys.name) + " keys need the plain layout").c_str()), value_error);
          } else {
            using M = typename memory_type<plain, S, Keys, Solver>::type;
            for (const char* formats : {"fp32", "lookup=fp16,memory=bf16", "lookup=int8,memory=fp32"}) {
              const std::string spec = types + "," + formats;
              CAPTURE(spec);
              memory_config cfg = config();
              runtime::apply(runtime::parse_memory_spec(formats), cfg);
              M typed(cfg);
              const auto made_one = larimar_factories::make_memory(spec, config());
              REQUIRE(made_one->template target<M>() != nullptr);
              CHECK(made_one->describe() == spec);
              CHECK(runtime::describe(typed) == spec);
              CHECK(larimar_factories::make_memory(made_one->describe(), config())->describe() == spec);  // round trip
              const auto a = typed_run(typed, z, look, content);
              const auto b = facade_run(*made_one, z, look, content);
              CHECK(a.error == b.error);
              CHECK(a.entries == b.entries);
              CHECK(same_bits(a.latents, b.latents));
              CHECK(same_bits(a.scores, b.scores));
              CHECK(same_bits(a.at_entries, b.at_entries));
              CHECK(a.top_k == b.top_k);
              CHECK(a.top_entries == b.top_entries);
              CHECK(same_bits(a.top_latents, b.top_latents));
              CHECK(same_bits(a.top_scores, b.top_scores));
              if (a.error.empty()) CHECK(a.top_entries.size() == N * 5);
              CHECK(made_one->size() == typed.size());
              CHECK(made_one->block_count() == typed.block_count());
              ++made;
            }
          }
        });
      });
    });
  });
  CHECK(made == (2 * 2 + 2) * 3 * 2 * 3);  // two plain-only content key policies
}

TEST_CASE("the seeded case is a real one: pinv reads every latent back through both memories") {
  const auto z = test::gaussian<float>(N, C, 1);
  const auto look = test::gaussian<float>(N, L, 2);
  for (const char* spec : {"plain,fixed_nearest", "sharded,prefix_encoding,device"}) {
    CAPTURE(spec);
    const auto m = larimar_factories::make_memory(spec, config());
    const auto o = facade_run(*m, z, look, false);
    REQUIRE(o.error.empty());
    CHECK(o.entries == std::vector<std::size_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
    xt::xtensor<float, 2> back = xt::zeros<float>({N, C});
    std::copy(o.latents.begin(), o.latents.end(), back.begin());
    CHECK(test::rel_error(back, z) < 1e-5);
  }
}

TEST_CASE("the interface's other calls: sequential writes, forget, entry, clear, block_count") {
  using M = memory<float, storage::host, keys::fixed_nearest, solver::pseudoinverse>;
  const auto z = test::gaussian<float>(6, C, 3);
  const auto look = test::gaussian<float>(6, L, 4);
  M typed(config());
  const auto m = larimar_factories::make_memory("plain,fixed_nearest,pinv,host", config());
  CHECK(m->empty());
  CHECK(m->block_count() == 0);
  const auto ids = m->write_sequential(z, look);
  CHECK(typed.write_sequential(z, look) == ids);
  CHECK(m->block_count() == 1);
  CHECK(m->target<M>()->mode() == write_mode::sequential);
  m->forget(ids[2]);
  typed.forget(ids[2]);
  CHECK_FALSE(m->contains(ids[2]));
  CHECK(m->contains(ids[3]));
  CHECK(m->size() == 5);
  const auto [w, latent] = m->entry(ids[3]);
  CHECK(same_bits(latent, on_host<storage::host>(typed.entry(ids[3]).second)));
  CHECK(same_bits(w, on_host<storage::host>(typed.entry(ids[3]).first)));
  CHECK(same_bits(m->read(look).latents, on_host<storage::host>(typed.read(look).latents)));
  CHECK_THROWS_WITH_AS(m->entry(ids[2]), doctest::Contains("no entry 2"), state_error);
  CHECK_THROWS_AS(m->write(z, look), state_error);  // one block keeps one write mode
  m->clear();
  CHECK(m->empty());
  CHECK(m->config().slots == K);
  CHECK(m->write(z, look) == std::vector<std::size_t>{0, 1, 2, 3, 4, 5});  // a fresh memory: ids from 0
  const auto& as_reader = static_cast<const runtime::memory_reader&>(*m);
  CHECK(as_reader.target<M>() == m->target<M>());
  using other_type = sharded_memory<float, storage::host, keys::fixed_nearest, solver::pseudoinverse>;
  CHECK(as_reader.target<other_type>() == nullptr);
}

TEST_CASE("state files cross between the interface and the compile-time type") {
  using M = sharded_memory<float, storage::device, keys::prefix_encoding, solver::pseudoinverse>;
  const auto z = test::gaussian<float>(N, C, 5);
  const auto look = test::gaussian<float>(N, L, 6);
  const auto m = larimar_factories::make_memory("sharded,prefix_encoding,pinv,device,memory=fp16", config());
  m->write(z, look);
  const auto path = temp_path("facade.lrm");
  m->save(path);
  const auto typed = io::load<M>(path);
  CHECK(runtime::describe(typed) == "sharded,prefix_encoding,pinv,device,lookup=fp32,memory=fp16");
  CHECK(same_bits(on_host<storage::device>(typed.read(look).latents), m->read(look).latents));
  // load() replaces the memory and its config with the file's.
  const auto other =
      larimar_factories::make_memory("sharded,prefix_encoding,pinv,device", {.slots = 4, .code_size = C, .lookup_size = L});
  other->load(path);
  CHECK(other->config().slots == K);
  CHECK(other->describe() == m->describe());
  CHECK(same_bits(other->read(look).latents, m->read(look).latents));
  // A file of another type is the loader's format_error, and the memory stays as it was.
  const auto fixed = larimar_factories::make_memory("sharded,fixed_nearest,pinv,device", config());
  CHECK_THROWS_WITH_AS(fixed->load(path), doctest::Contains("key policy"), format_error);
  CHECK(fixed->empty());
  std::filesystem::remove(path);
}

TEST_CASE("make_memory refuses a pipeline's lookup, names bad words, and leaves a bad config to the memory") {
  CHECK_THROWS_WITH_AS(larimar_factories::make_memory("fixed_nearest/full", config()),
                       doctest::Contains("a lookup (/prefix, /full, /tokens) belongs to a pipeline spec"), value_error);
  CHECK_THROWS_WITH_AS(larimar_factories::make_memory("sharded,iter4", config()), doctest::Contains("unknown token 'iter4'"),
                       value_error);
  CHECK_THROWS_WITH_AS(larimar_factories::make_memory("device", {.slots = 0, .code_size = C}),
                       doctest::Contains("slots must be positive"), value_error);
  // The spec's formats replace the config's; what it does not name stays.
  memory_config cfg = config();
  cfg.memory_precision = precision::bf16;
  CHECK(larimar_factories::make_memory("lookup=fp16", cfg)->describe() ==
        "sharded,fixed_nearest,pinv,host,lookup=fp16,memory=bf16");
}

// Reads are const and may run concurrently (docs/memory.md, "Thread safety"): four threads read one memory at
// once, for every key policy, memory and sharded memory, host and device storage, and every result equals the one
// a single thread gets from an identical memory. The concurrent reads are the memory's first: anything a read
// would fill in lazily is still empty when they start. scripts/test.sh also runs this under ThreadSanitizer.
#include <doctest/doctest.h>

#include <cstddef>
#include <thread>
#include <vector>

#include "helpers.hpp"
#include "larimar/larimar.hpp"

using namespace larimar;
using test::host;

namespace {

constexpr int kThreads = 4, kRounds = 3;

struct outcome {
  std::vector<std::vector<std::size_t>> entries;  // per read: the entry each query hit
  std::vector<xt::xtensor<float, 2>> latents;     // per read: the latents read, then read_entries' result
};

template <class Memory>
outcome read_all(const Memory& mem, const xt::xtensor<float, 2>& queries, const std::vector<std::size_t>& ids) {
  outcome out;
  for (int round = 0; round < kRounds; ++round) {
    const auto r = mem.read(queries);
    std::vector<std::size_t> hit;
    for (const auto& h : r.hits) hit.push_back(h.entry);
    out.entries.push_back(hit);
    out.latents.push_back(host(r.latents));
    out.latents.push_back(host(mem.read_entries(ids)));
  }
  return out;
}

// `make` builds and writes a memory; two of them are identical. One is read by one thread, the other by four.
template <class Make>
void check_concurrent_reads(Make&& make, const xt::xtensor<float, 2>& queries) {
  const auto single = make();
  const auto shared = make();
  std::vector<std::size_t> ids(single.size());
  for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = i;
  const outcome expected = read_all(single, queries, ids);
  std::vector<outcome> got(kThreads);
  std::vector<std::thread> readers;
  for (int t = 0; t < kThreads; ++t) readers.emplace_back([&, t] { got[t] = read_all(shared, queries, ids); });
  for (auto& r : readers) r.join();
  for (int t = 0; t < kThreads; ++t) {
    CAPTURE(t);
    REQUIRE(got[t].entries.size() == expected.entries.size());
    for (std::size_t i = 0; i < expected.entries.size(); ++i) CHECK(got[t].entries[i] == expected.entries[i]);
    REQUIRE(got[t].latents.size() == expected.latents.size());
    for (std::size_t i = 0; i < expected.latents.size(); ++i) {
      REQUIRE(got[t].latents[i].shape() == expected.latents[i].shape());
      CHECK(got[t].latents[i] == expected.latents[i]);  // the same operations on the same data: the same bits
    }
  }
}

// A maker of identical memories, written from `rows` (latents, and lookups where the key policy takes them).
template <class Memory, class... Rows>
auto written(const memory_config& cfg, write_mode how, const Rows&... rows) {
  return [=] {
    Memory m(cfg);
    if (how == write_mode::sequential) m.write_sequential(rows...);
    else m.write(rows...);
    return m;
  };
}

}  // namespace

TEST_CASE_TEMPLATE("four threads read one memory at once, for every key policy", P, LARIMAR_FLOAT_SETUPS) {
  using S = typename P::S;
  const std::size_t K = 32, C = 24, L = 16, N = 20;
  const auto z = test::gaussian<float>(N, C, 41);
  const auto look = test::gaussian<float>(N, L, 42);
  const xt::xtensor<float, 2> near = look + test::gaussian<float>(N, L, 43, 0.05);  // perturbed lookups as queries
  const xt::xtensor<float, 2> zq = z + test::gaussian<float>(N, C, 44, 0.05);
  const memory_config cfg{.slots = K, .code_size = C, .lookup_size = L, .seed = 9};
  const memory_config content{.slots = K, .code_size = C, .seed = 9, .prior = prior_kind::gaussian, .observation_noise = 0.1};
  using pinv = solver::pseudoinverse;
  SUBCASE("fixed_nearest") {
    check_concurrent_reads(written<memory<float, S, keys::fixed_nearest, pinv>>(cfg, write_mode::one_shot, z, look), near);
  }
  SUBCASE("prefix_encoding") {
    check_concurrent_reads(written<memory<float, S, keys::prefix_encoding, pinv>>(cfg, write_mode::one_shot, z, look), near);
  }
  SUBCASE("content, one-shot") {
    check_concurrent_reads(written<memory<float, S, keys::content, pinv>>(content, write_mode::one_shot, z), zq);
  }
  SUBCASE("content, sequential") {
    check_concurrent_reads(
        written<memory<float, S, keys::content, solver::iterative<15>>>(content, write_mode::sequential, z), zq);
  }
  SUBCASE("content_ridge, sequential") {
    check_concurrent_reads(written<memory<float, S, keys::content_ridge, pinv>>(content, write_mode::sequential, z), zq);
  }
}

TEST_CASE_TEMPLATE("four threads read one sharded memory at once, for every key policy it offers", P, LARIMAR_FLOAT_SETUPS) {
  using S = typename P::S;
  const std::size_t K = 8, C = 24, L = 16, N = 30;  // four blocks of 8
  const auto z = test::gaussian<float>(N, C, 45);
  const auto look = test::gaussian<float>(N, L, 46);
  const xt::xtensor<float, 2> near = look + test::gaussian<float>(N, L, 47, 0.05);
  const memory_config cfg{.slots = K, .code_size = C, .lookup_size = L, .seed = 9};
  SUBCASE("fixed_nearest") {
    const auto make = written<sharded_memory<float, S, keys::fixed_nearest, solver::pseudoinverse>>(cfg, write_mode::one_shot, z, look);
    REQUIRE(make().block_count() == 4);
    check_concurrent_reads(make, near);
  }
  SUBCASE("prefix_encoding") {
    const auto make = written<sharded_memory<float, S, keys::prefix_encoding, solver::pseudoinverse>>(cfg, write_mode::one_shot, z, look);
    REQUIRE(make().block_count() == 4);
    check_concurrent_reads(make, near);
  }
}

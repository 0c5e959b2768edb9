// Top-k reads (memory::read(queries, k)): the k best entries of each query, best first, on both storages, plain
// and sharded, every key mode; checked against a brute-force scan written here over seeded data.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "helpers.hpp"
#include "larimar/larimar.hpp"

using namespace larimar;
using test::host;

namespace {

// One candidate of the brute-force scan: an entry and its cosine with the query, in double.
struct scored {
  std::size_t entry;
  double score;
};

double cosine(const double* a, const double* b, std::size_t n) {
  double ab = 0, aa = 0, bb = 0;
  for (std::size_t i = 0; i < n; ++i) ab += a[i] * b[i], aa += a[i] * a[i], bb += b[i] * b[i];
  return ab / std::sqrt(aa * bb);
}

// Every (entry, vector) scored against `query`, sorted by the rule top-k reads promise: score descending, equal
// scores by lower entry id.
std::vector<scored> brute_force(const std::vector<std::pair<std::size_t, std::vector<double>>>& vectors,
                                const std::vector<double>& query) {
  std::vector<scored> out;
  for (const auto& [id, v] : vectors) out.push_back({id, cosine(v.data(), query.data(), query.size())});
  std::sort(out.begin(), out.end(), [](const scored& a, const scored& b) {
    return a.score > b.score || (a.score == b.score && a.entry < b.entry);
  });
  return out;
}

template <class M>
std::vector<double> row_of(const M& m, std::size_t i) {
  std::vector<double> out(m.shape()[1]);
  for (std::size_t j = 0; j < out.size(); ++j) out[j] = static_cast<double>(m(i, j));
  return out;
}

template <class T>
double score_tolerance() {
  return std::is_same_v<T, float> ? 2e-6 : 1e-13;
}

// The k hits of one query against the brute-force ranking `want` (sorted): the same scores position by position,
// distinct entries, and each entry the brute-force one wherever its score is apart from its neighbours' by more
// than rounding (where two scores are that close, either order is the scan's to choose, and both are checked to
// be those scores).
template <class T>
void check_ranking(std::span<const hit<T>> got, const std::vector<scored>& want) {
  const double tol = score_tolerance<T>();
  REQUIRE(got.size() <= want.size());
  std::vector<std::size_t> seen;
  for (std::size_t j = 0; j < got.size(); ++j) {
    CAPTURE(j);
    CHECK(std::abs(static_cast<double>(got[j].score) - want[j].score) <= tol);
    const bool apart = (j == 0 || want[j - 1].score - want[j].score > 4 * tol) &&
                       (j + 1 == want.size() || want[j].score - want[j + 1].score > 4 * tol);
    if (apart) {
      CHECK(got[j].entry == want[j].entry);
    } else {
      const auto it = std::find_if(want.begin(), want.end(), [&](const scored& s) { return s.entry == got[j].entry; });
      REQUIRE(it != want.end());
      CHECK(std::abs(it->score - want[j].score) <= 4 * tol);
    }
    seen.push_back(got[j].entry);
  }
  std::sort(seen.begin(), seen.end());
  CHECK(std::adjacent_find(seen.begin(), seen.end()) == seen.end());
}

// k = 1 is read(): the same hits and the same latents, to the bit.
template <class Mem, class Q>
void check_k1_is_read(const Mem& mem, const Q& queries) {
  const auto one = mem.read(queries, 1);
  const auto r = mem.read(queries);
  REQUIRE(one.k == 1);
  REQUIRE(one.hits.size() == r.hits.size());
  for (std::size_t i = 0; i < r.hits.size(); ++i) {
    CHECK(one.hits[i].entry == r.hits[i].entry);
    CHECK(one.hits[i].block == r.hits[i].block);
    CHECK(one.hits[i].slot == r.hits[i].slot);
    CHECK(one.hits[i].score == r.hits[i].score);
  }
  CHECK(host(one.latents) == host(r.latents));
}

// A batch read equals its queries read one by one: the same entries and blocks, scores and latents to rounding.
template <class T, class Mem>
void check_batch_is_one_by_one(const Mem& mem, const xt::xtensor<T, 2>& queries, std::size_t k) {
  const auto all = mem.read(queries, k);
  const auto lat = host(all.latents);
  for (std::size_t q = 0; q < queries.shape()[0]; ++q) {
    CAPTURE(q);
    const xt::xtensor<T, 2> one_query = xt::view(queries, xt::range(q, q + 1), xt::all());
    const auto one = mem.read(one_query, k);
    REQUIRE(one.k == all.k);
    const auto one_lat = host(one.latents);
    for (std::size_t j = 0; j < one.k; ++j) {
      CHECK(one.hits[j].entry == all.hits_of(q)[j].entry);
      CHECK(one.hits[j].block == all.hits_of(q)[j].block);
      CHECK(std::abs(static_cast<double>(one.hits[j].score - all.hits_of(q)[j].score)) <= score_tolerance<T>());
      CHECK(test::rel_error(row_of(one_lat, j), row_of(lat, q * all.k + j)) <= 10 * score_tolerance<T>());
    }
  }
}

}  // namespace

TEST_CASE_TEMPLATE("top-k, fixed keys, plain and sharded: the k best entries in order, as a brute-force scan ranks them",
                   P, LARIMAR_ALL_SETUPS) {
  using T = typename P::T;
  using S = typename P::S;
  const std::size_t C = 24, L = 16, Q = 7;
  const auto z = test::gaussian<T>(150, C, 61);
  const auto look = test::gaussian<T>(150, L, 62);
  // Queries: four written lookups with noise (their entry should rank first) and three unrelated vectors.
  xt::xtensor<T, 2> queries = test::gaussian<T>(Q, L, 63);
  for (std::size_t q = 0; q < 4; ++q)
    for (std::size_t j = 0; j < L; ++j) queries(q, j) = look(10 + 30 * q, j) + T(0.1) * queries(q, j);

  memory<T, S, keys::fixed_nearest, solver::pseudoinverse> plain({.slots = 64, .code_size = C, .lookup_size = L, .seed = 3});
  sharded_memory<T, S, keys::fixed_nearest, solver::pseudoinverse> sharded({.slots = 32, .code_size = C, .lookup_size = L, .seed = 3});
  const xt::xtensor<T, 2> z60 = xt::view(z, xt::range(0, 60), xt::all());
  const xt::xtensor<T, 2> look60 = xt::view(look, xt::range(0, 60), xt::all());
  const auto plain_ids = plain.write(z60, look60);
  auto sharded_ids = sharded.write(z, look);
  // Forget a few so that the index's rows are no longer in the order of the entry ids (forget moves the last row
  // into the hole), then write again into the freed slots.
  for (std::size_t i : {3u, 40u, 77u}) sharded.forget(sharded_ids[i]);
  const xt::xtensor<T, 2> again_z = test::gaussian<T>(3, C, 64), again_look = test::gaussian<T>(3, L, 65);
  const auto again = sharded.write(again_z, again_look);
  CHECK(sharded.size() == 150);
  CHECK(sharded.block_count() == 5);

  // What each memory holds, for the brute force: (entry, lookup vector) and (entry, latent).
  auto written = [&](const std::vector<std::size_t>& ids, const xt::xtensor<T, 2>& lk, const xt::xtensor<T, 2>& lat,
                     const auto& keep, std::vector<std::pair<std::size_t, std::vector<double>>>& lookups,
                     std::vector<std::pair<std::size_t, std::vector<double>>>& latents) {
    for (std::size_t i = 0; i < ids.size(); ++i)
      if (keep(i)) {
        lookups.emplace_back(ids[i], row_of(lk, i));
        latents.emplace_back(ids[i], row_of(lat, i));
      }
  };
  std::vector<std::pair<std::size_t, std::vector<double>>> plain_look, plain_lat, sharded_look, sharded_lat;
  written(plain_ids, look60, z60, [](std::size_t) { return true; }, plain_look, plain_lat);
  written(sharded_ids, look, z, [](std::size_t i) { return i != 3 && i != 40 && i != 77; }, sharded_look, sharded_lat);
  written(again, again_look, again_z, [](std::size_t) { return true; }, sharded_look, sharded_lat);

  auto check = [&](const auto& mem, const auto& lookups, const auto& latents) {
    for (const std::size_t k : {std::size_t{1}, std::size_t{2}, std::size_t{5}, std::size_t{17}, mem.size(), mem.size() + 9}) {
      CAPTURE(k);
      const auto r = mem.read(queries, k);
      REQUIRE(r.k == std::min(k, mem.size()));
      REQUIRE(r.queries() == Q);
      REQUIRE(r.hits.size() == Q * r.k);
      REQUIRE(host(r.latents).shape()[0] == Q * r.k);
      const auto lat = host(r.latents);
      for (std::size_t q = 0; q < Q; ++q) {
        CAPTURE(q);
        const auto want = brute_force(lookups, row_of(queries, q));
        check_ranking<T>(r.hits_of(q), want);
        if (q < 4) CHECK(r.hits_of(q)[0].entry == want[0].entry);  // the noisy query finds its entry first
        for (std::size_t j = 0; j < r.k; ++j) {
          const auto& h = r.hits_of(q)[j];
          const auto it = std::find_if(latents.begin(), latents.end(), [&](const auto& e) { return e.first == h.entry; });
          REQUIRE(it != latents.end());
          // Fixed keys read at the hit entry's key: its latent exactly (N ≤ K in every block).
          CHECK(test::rel_error(row_of(lat, q * r.k + j), it->second) <= 1e-4);
        }
      }
    }
    check_k1_is_read(mem, queries);
    check_batch_is_one_by_one<T>(mem, queries, 5);
    check_batch_is_one_by_one<T>(mem, queries, mem.size());
  };
  SUBCASE("plain") { check(plain, plain_look, plain_lat); }
  SUBCASE("sharded, after forgets") { check(sharded, sharded_look, sharded_lat); }
}

TEST_CASE_TEMPLATE("top-k, prefix encoding, sharded: ranked by the nearest written address, each hit read at the query's "
                   "address in its block", P, LARIMAR_ALL_SETUPS) {
  using T = typename P::T;
  using S = typename P::S;
  const std::size_t C = 24, L = 20, N = 100, Q = 5;
  sharded_memory<T, S, keys::prefix_encoding, solver::pseudoinverse> mem({.slots = 32, .code_size = C, .lookup_size = L});
  const auto z = test::gaussian<T>(N, C, 71);
  const auto prefix = test::gaussian<T>(N, L, 72);
  const auto ids = mem.write(z, prefix);
  REQUIRE(mem.block_count() == 5);
  xt::xtensor<T, 2> queries = test::gaussian<T>(Q, L, 73);
  for (std::size_t j = 0; j < L; ++j) queries(0, j) = prefix(42, j);  // a written prefix: exact read of entry 42
  // The brute force ranks the written addresses w = k·P against the query's address q·P.
  const auto p = host(test::store_of(mem).key_state().address_matrix());  // P, L×K
  auto address = [&](const std::vector<double>& k) {
    std::vector<double> w(32, 0.0);
    for (std::size_t i = 0; i < L; ++i)
      for (std::size_t s = 0; s < 32; ++s) w[s] += k[i] * static_cast<double>(p(i, s));
    return w;
  };
  std::vector<std::pair<std::size_t, std::vector<double>>> addresses;
  for (std::size_t i = 0; i < N; ++i) addresses.emplace_back(ids[i], row_of(host(mem.entry(ids[i]).first), 0));
  for (const std::size_t k : {std::size_t{1}, std::size_t{3}, std::size_t{20}, N + 1}) {
    CAPTURE(k);
    const auto r = mem.read(queries, k);
    REQUIRE(r.k == std::min(k, N));
    const auto lat = host(r.latents);
    for (std::size_t q = 0; q < Q; ++q) {
      CAPTURE(q);
      const auto wq = address(row_of(queries, q));
      check_ranking<T>(r.hits_of(q), brute_force(addresses, wq));
      for (std::size_t j = 0; j < r.k; ++j) {  // z = (q·P)·M_b of the hit's block b
        const auto m = host(mem.block_mean(r.hits_of(q)[j].block));
        std::vector<double> want(C, 0.0);
        for (std::size_t s = 0; s < 32; ++s)
          for (std::size_t c = 0; c < C; ++c) want[c] += wq[s] * static_cast<double>(m(s, c));
        CHECK(test::rel_error(row_of(lat, q * r.k + j), want) <= 1e-4);
      }
    }
    CHECK(r.hits_of(0)[0].entry == ids[42]);
    CHECK(test::rel_error(row_of(lat, 0), row_of(z, 42)) <= 1e-4);
  }
  check_k1_is_read(mem, queries);
  check_batch_is_one_by_one<T>(mem, queries, 7);
}

TEST_CASE_TEMPLATE("top-k, content keys: the hits are ranked by address; every hit reads the query's projection", P,
                   LARIMAR_DOUBLE_SETUPS) {
  using S = typename P::S;
  memory<double, S, keys::content, solver::pseudoinverse> mem({.slots = 16, .code_size = 12});
  const auto z = test::gaussian<double>(8, 12, 81);
  mem.write(z);
  const auto queries = test::gaussian<double>(3, 12, 82);
  const auto r = mem.read(queries, 4);
  REQUIRE(r.k == 4);
  const auto lat = host(r.latents), one = host(mem.read(queries).latents);
  for (std::size_t q = 0; q < 3; ++q) {
    for (std::size_t j = 0; j + 1 < 4; ++j) CHECK(r.hits_of(q)[j].score >= r.hits_of(q)[j + 1].score);
    for (std::size_t j = 0; j < 4; ++j) CHECK(test::rel_error(row_of(lat, q * 4 + j), row_of(one, q)) <= 1e-12);
  }
  check_k1_is_read(mem, queries);
}

TEST_CASE_TEMPLATE("top-k ties: equal scores put the earlier written entry first, after forgets too, in every scan", P,
                   LARIMAR_ALL_SETUPS) {
  using T = typename P::T;
  using S = typename P::S;
  // Lookups of four ones in eight: their unit vectors hold 0 and 0.5, so every score is a multiple of 1/4 and
  // exact in any summation order and in every stored format (fp16, bf16, int8 + exact rescoring).
  const std::vector<std::vector<T>> pattern{{1, 1, 1, 1, 0, 0, 0, 0}, {1, 1, 0, 0, 1, 1, 0, 0}, {0, 0, 0, 0, 1, 1, 1, 1}};
  auto rows = [&](std::initializer_list<int> which) {
    xt::xtensor<T, 2> m = xt::zeros<T>({which.size(), std::size_t{8}});
    std::size_t i = 0;
    for (int w : which) {
      for (std::size_t j = 0; j < 8; ++j) m(i, j) = pattern[static_cast<std::size_t>(w)][j];
      ++i;
    }
    return m;
  };
  auto check = [&](auto& mem) {
    const std::size_t C = 6;
    // Entries 0..5 with patterns A B A C A B; entry 0 forgotten (entry 5, a B, moves into its index row), then
    // entry 6, an A.
    const auto first = rows({0, 1, 0, 2, 0, 1});
    mem.write(test::gaussian<T>(6, C, 91), first);
    mem.forget(0);
    mem.write(test::gaussian<T>(1, C, 92), rows({0}));
    const auto queries = rows({0, 1, 2});
    const auto r = mem.read(queries, 10);
    REQUIRE(r.k == 6);
    auto entries = [&](std::size_t q) {
      std::vector<std::size_t> out;
      for (const auto& h : r.hits_of(q)) out.push_back(h.entry);
      return out;
    };
    auto scores = [&](std::size_t q) {
      std::vector<double> out;
      for (const auto& h : r.hits_of(q)) out.push_back(static_cast<double>(h.score));
      return out;
    };
    CHECK(entries(0) == std::vector<std::size_t>{2, 4, 6, 1, 5, 3});  // A: the three As, then B (1/2), then C (0)
    CHECK(scores(0) == std::vector<double>{1, 1, 1, 0.5, 0.5, 0});
    CHECK(entries(1) == std::vector<std::size_t>{1, 5, 2, 3, 4, 6});  // B: both Bs, then four ties at 1/2
    CHECK(scores(1) == std::vector<double>{1, 1, 0.5, 0.5, 0.5, 0.5});
    CHECK(entries(2) == std::vector<std::size_t>{3, 1, 5, 2, 4, 6});  // C: C, the Bs (1/2), the As (0)
    CHECK(scores(2) == std::vector<double>{1, 0.5, 0.5, 0, 0, 0});
    // read() follows the same rule: B's best is entry 1, though entry 5 now sits first in the index.
    const auto one = mem.read(queries);
    CHECK(one.hits[0].entry == 2);
    CHECK(one.hits[1].entry == 1);
    CHECK(one.hits[2].entry == 3);
    check_k1_is_read(mem, queries);
    // k = 2 is the first two of k = 10.
    const auto two = mem.read(queries, 2);
    for (std::size_t q = 0; q < 3; ++q)
      for (std::size_t j = 0; j < 2; ++j) CHECK(two.hits_of(q)[j].entry == entries(q)[j]);
  };
  for (const precision p : {precision::full, precision::fp16, precision::bf16}) {
    CAPTURE(precision_name(p));
    memory<T, S, keys::fixed_nearest, solver::pseudoinverse> plain({.slots = 16, .code_size = 6, .lookup_size = 8, .lookup_precision = p});
    check(plain);
    sharded_memory<T, S, keys::fixed_nearest, solver::pseudoinverse> sharded({.slots = 2, .code_size = 6, .lookup_size = 8, .lookup_precision = p});
    check(sharded);
  }
  if constexpr (nearest_index<T, S>::host_accessible) {  // the int8 copy needs host-accessible rows
    memory<T, S, keys::fixed_nearest, solver::pseudoinverse> quantized({.slots = 16, .code_size = 6, .lookup_size = 8, .quantized_lookup = true});
    check(quantized);
  }
}

TEST_CASE_TEMPLATE("top-k over 16-bit and int8 lookups: the fp32 ranking within the format's rounding", P, LARIMAR_FLOAT_SETUPS) {
  using S = typename P::S;
  const std::size_t N = 300, L = 64, C = 16;
  const auto z = test::gaussian<float>(N, C, 101);
  const auto look = test::gaussian<float>(N, L, 102);
  xt::xtensor<float, 2> queries = test::gaussian<float>(6, L, 103);
  for (std::size_t j = 0; j < L; ++j) queries(0, j) = look(17, j) + 0.05f * queries(0, j);
  std::vector<std::pair<std::size_t, std::vector<double>>> lookups;
  struct format {
    precision p;
    bool quantized;
    double bound;      // how far a score returned may be from the exact one
    double shortlist;  // how far above the k-th an entry left out may score (the int8 shortlist's error)
  };
  // fp16/bf16: u of the rows, and of the query too where the fused bf16 kernel rounds it; int8: the shortlist is
  // rescored exactly, so every score returned is exact, but an entry the int8 scores ranked just below the
  // shortlist stays out (quantisation error ~1e-2 of a cosine).
  for (const format f : {format{precision::fp16, false, 2 * 4.9e-4, 0}, format{precision::bf16, false, 2 * 3.9e-3 + 1e-5, 0},
                         format{precision::full, true, 1e-5, 0.03}}) {
    if (f.quantized && !nearest_index<float, S>::host_accessible) continue;
    CAPTURE(precision_name(f.p));
    CAPTURE(f.quantized);
    sharded_memory<float, S, keys::fixed_nearest, solver::pseudoinverse> mem(
        {.slots = 64, .code_size = C, .lookup_size = L, .quantized_lookup = f.quantized, .lookup_precision = f.p});
    const auto ids = mem.write(z, look);
    lookups.clear();
    for (std::size_t i = 0; i < N; ++i) lookups.emplace_back(ids[i], row_of(look, i));
    for (const std::size_t k : {std::size_t{1}, std::size_t{8}, std::size_t{40}}) {
      CAPTURE(k);
      // One query at a time takes the int8 shortlist (up to 4 queries), the batch the fp32 GEMM.
      for (const std::size_t batch : {std::size_t{1}, std::size_t{6}}) {
        const xt::xtensor<float, 2> qs = xt::view(queries, xt::range(0, batch), xt::all());
        const auto r = mem.read(qs, k);
        REQUIRE(r.k == k);
        for (std::size_t q = 0; q < batch; ++q) {
          const auto want = brute_force(lookups, row_of(qs, q));
          const auto got = r.hits_of(q);
          std::vector<std::size_t> in;
          for (std::size_t j = 0; j < k; ++j) {
            if (j + 1 < k) CHECK(got[j].score >= got[j + 1].score);
            const auto it = std::find_if(want.begin(), want.end(), [&](const scored& s) { return s.entry == got[j].entry; });
            REQUIRE(it != want.end());
            CHECK(std::abs(static_cast<double>(got[j].score) - it->score) <= f.bound);
            in.push_back(got[j].entry);
          }
          // Nothing left out scores clearly above what came in (the k-th exact score, past twice the rounding).
          const double kth = std::find_if(want.begin(), want.end(), [&](const scored& s) { return s.entry == got[k - 1].entry; })->score;
          const double margin = 2 * f.bound + (batch <= nearest_index<float, S>::quantized_max_queries ? f.shortlist : 0);
          for (const auto& s : want)
            if (std::find(in.begin(), in.end(), s.entry) == in.end()) CHECK(s.score <= kth + margin);
        }
        if (batch == 1) CHECK(r.hits_of(0)[0].entry == ids[17]);
        check_k1_is_read(mem, qs);
      }
    }
  }
}

TEST_CASE_TEMPLATE("top-k: k = 0 and an empty memory are refused with the problem named; k past the size gives every entry",
                   P, LARIMAR_FLOAT_SETUPS) {
  using S = typename P::S;
  sharded_memory<float, S, keys::fixed_nearest, solver::pseudoinverse> mem({.slots = 8, .code_size = 4, .lookup_size = 4});
  const auto q = test::gaussian<float>(2, 4, 111);
  CHECK_THROWS_WITH_AS(mem.read(q, 3), "sharded_memory::read: the memory is empty; write an episode first", state_error);
  const auto z = test::gaussian<float>(5, 4, 112), look = test::gaussian<float>(5, 4, 113);
  mem.write(z, look);
  const auto before = host(mem.read(q, 5).latents);
  CHECK_THROWS_WITH_AS(mem.read(q, 0), "sharded_memory::read: k must be at least 1 (the number of entries to return per query), got 0",
                       value_error);
  CHECK(mem.size() == 5);
  CHECK(host(mem.read(q, 5).latents) == before);  // unchanged
  const xt::xtensor<float, 2> wide = test::gaussian<float>(2, 5, 114);
  CHECK_THROWS_AS(mem.read(wide, 2), shape_error);  // the read's own checks: queries of the lookup size
  const auto all = mem.read(q, 1000);
  CHECK(all.k == 5);
  CHECK(all.hits.size() == 10);
  for (std::size_t i = 0; i < 2; ++i) {
    std::vector<std::size_t> e;
    for (const auto& h : all.hits_of(i)) e.push_back(h.entry);
    std::sort(e.begin(), e.end());
    CHECK(e == std::vector<std::size_t>{0, 1, 2, 3, 4});
  }
  memory<float, S, keys::fixed_nearest, solver::pseudoinverse> plain({.slots = 8, .code_size = 4, .lookup_size = 4});
  CHECK_THROWS_WITH_AS(plain.read(q, 1), "memory::read: the memory is empty; write an episode first", state_error);
}

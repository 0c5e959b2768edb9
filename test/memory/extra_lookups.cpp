// Extra lookup rows (memory/extra_lookups.hpp): an entry found by any of its lookup vectors, read at its one
// address; top-k over entries, not rows (checked against a brute-force scan); forget drops every row of an entry;
// a write with bad extra vectors changes nothing; state files keep the rows (both storages, plain and sharded).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "helpers.hpp"
#include "larimar/larimar.hpp"

using namespace larimar;
using test::host;

namespace {

double cosine(const double* a, const double* b, std::size_t n) {
  double ab = 0, aa = 0, bb = 0;
  for (std::size_t i = 0; i < n; ++i) ab += a[i] * b[i], aa += a[i] * a[i], bb += b[i] * b[i];
  return ab / std::sqrt(aa * bb);
}

template <class T>
std::vector<double> row_of(const xt::xtensor<T, 2>& m, std::size_t i) {
  std::vector<double> out(m.shape()[1]);
  for (std::size_t j = 0; j < out.size(); ++j) out[j] = static_cast<double>(m(i, j));
  return out;
}

// Each entry's best cosine with the query over all its lookup vectors, best first (equal: lower entry first).
std::vector<std::pair<std::size_t, double>> brute_force(const std::vector<std::pair<std::size_t, std::vector<double>>>& rows,
                                                        const std::vector<double>& query) {
  std::vector<std::pair<std::size_t, double>> best;
  for (const auto& [id, v] : rows) {
    const double s = cosine(v.data(), query.data(), query.size());
    auto it = std::find_if(best.begin(), best.end(), [&](const auto& b) { return b.first == id; });
    if (it == best.end()) best.emplace_back(id, s);
    else it->second = std::max(it->second, s);
  }
  std::sort(best.begin(), best.end(), [](const auto& a, const auto& b) {
    return a.second > b.second || (a.second == b.second && a.first < b.first);
  });
  return best;
}

template <class T, class S>
using fixed_sharded = sharded_memory<T, S, keys::fixed_nearest, solver::pseudoinverse>;
template <class T, class S>
using fixed_plain = memory<T, S, keys::fixed_nearest, solver::pseudoinverse>;

// 40 entries; entry i carries i % 4 extra rows (0 to 3), all Gaussian.
struct episode {
  static constexpr std::size_t n = 40, C = 12, L = 10;
  std::vector<std::size_t> owners;
  template <class T>
  static xt::xtensor<T, 2> latents() { return test::gaussian<T>(n, C, 71); }
  template <class T>
  static xt::xtensor<T, 2> lookups() { return test::gaussian<T>(n, L, 72); }
  episode() {
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < i % 4; ++j) owners.push_back(i);
  }
  template <class T>
  xt::xtensor<T, 2> extra() const { return test::gaussian<T>(owners.size(), L, 73); }
};

const memory_config kConfig{.slots = 16, .code_size = episode::C, .lookup_size = episode::L, .seed = 5};

// The episode written once into a sharded memory with its extra rows: what most cases start from.
template <class T, class S>
struct written {
  episode e;
  xt::xtensor<T, 2> z = episode::latents<T>(), look = episode::lookups<T>(), extra = e.extra<T>();
  fixed_sharded<T, S> mem{kConfig};
  std::vector<std::size_t> ids = mem.write(z, look, extra_lookups<T>{extra, e.owners});
};

}  // namespace

TEST_CASE_TEMPLATE("extra lookup rows: a query that matches an entry's extra row reads that entry, exactly", P,
                   LARIMAR_ALL_SETUPS) {
  using T = typename P::T;
  using S = typename P::S;
  written<T, S> w;
  auto& [e, z, look, extra, mem, ids] = w;
  CHECK(mem.size() == episode::n);
  CHECK(mem.extra_lookup_count() == e.owners.size());
  CHECK(mem.block_count() == 3);
  // Every extra row as a query: its owner, at the ordinal it was given, with its latent read back.
  const auto r = mem.read(extra);
  std::vector<std::size_t> ordinal(episode::n, 0);
  for (std::size_t i = 0; i < e.owners.size(); ++i) {
    CAPTURE(i);
    CHECK(r.hits[i].entry == ids[e.owners[i]]);
    CHECK(r.hits[i].lookup == ++ordinal[e.owners[i]]);
    CHECK(r.hits[i].score == doctest::Approx(1).epsilon(1e-5));
    const auto got = host(r.latents);
    double err = 0;
    for (std::size_t c = 0; c < episode::C; ++c) err = std::max(err, std::abs(double(got(i, c)) - double(z(e.owners[i], c))));
    CHECK(err < 1e-4);
  }
  // Their own lookups still find them, as their own row (lookup 0).
  const auto own = mem.read(look);
  for (std::size_t i = 0; i < episode::n; ++i) {
    CHECK(own.hits[i].entry == ids[i]);
    CHECK(own.hits[i].lookup == 0);
  }
}

TEST_CASE_TEMPLATE("extra lookup rows: top-k gives k distinct entries, each by its best row, as a brute-force scan "
                   "ranks them", P, LARIMAR_ALL_SETUPS) {
  using T = typename P::T;
  using S = typename P::S;
  const episode e;
  const auto z = episode::latents<T>();
  const auto look = episode::lookups<T>();
  // Extra rows near one another and near the queries, so several rows of one entry compete for the top.
  auto extra = e.extra<T>();
  const auto base = test::gaussian<T>(1, episode::L, 74);
  for (std::size_t i = 0; i < e.owners.size(); ++i)
    for (std::size_t j = 0; j < episode::L; ++j) extra(i, j) = base(0, j) + T(0.3) * extra(i, j);
  xt::xtensor<T, 2> queries = test::gaussian<T>(5, episode::L, 75);
  for (std::size_t q = 0; q < 5; ++q)
    for (std::size_t j = 0; j < episode::L; ++j) queries(q, j) = base(0, j) + T(0.2) * queries(q, j);
  fixed_sharded<T, S> sharded(kConfig);
  fixed_plain<T, S> plain({.slots = 64, .code_size = episode::C, .lookup_size = episode::L, .seed = 5});
  const auto ids = sharded.write(z, look, extra_lookups<T>{extra, e.owners});
  plain.write(z, look, extra_lookups<T>{extra, e.owners});
  std::vector<std::pair<std::size_t, std::vector<double>>> rows;
  for (std::size_t i = 0; i < episode::n; ++i) rows.emplace_back(ids[i], row_of(look, i));
  for (std::size_t i = 0; i < e.owners.size(); ++i) rows.emplace_back(ids[e.owners[i]], row_of(extra, i));
  const double tol = std::is_same_v<T, float> ? 2e-6 : 1e-12;
  auto check = [&](const auto& mem) {
    for (std::size_t k : {1u, 3u, 8u, 40u, 100u}) {
      const auto r = mem.read(queries, k);
      CHECK(r.k == std::min<std::size_t>(k, episode::n));
      for (std::size_t q = 0; q < 5; ++q) {
        CAPTURE(k);
        CAPTURE(q);
        const auto want = brute_force(rows, row_of(queries, q));
        const auto got = r.hits_of(q);
        std::vector<std::size_t> seen;
        for (std::size_t j = 0; j < got.size(); ++j) {
          CHECK(std::find(seen.begin(), seen.end(), got[j].entry) == seen.end());  // distinct entries
          seen.push_back(got[j].entry);
          CHECK(double(got[j].score) == doctest::Approx(want[j].second).epsilon(tol));
          const bool apart = (j == 0 || want[j - 1].second - want[j].second > 10 * tol) &&
                             (j + 1 == want.size() || want[j].second - want[j + 1].second > 10 * tol);
          if (apart) CHECK(got[j].entry == want[j].first);
        }
      }
    }
  };
  check(sharded);
  check(plain);
}

TEST_CASE_TEMPLATE("extra lookup rows: forget removes every row of the entry", P, LARIMAR_FLOAT_SETUPS) {
  using T = typename P::T;
  using S = typename P::S;
  written<T, S> w;
  auto& [e, z, look, extra, mem, ids] = w;
  // Entry 7 has 3 extra rows (the owners list holds 7 three times, at rows 9, 10, 11 of `extra`).
  const std::size_t first = static_cast<std::size_t>(std::find(e.owners.begin(), e.owners.end(), 7) - e.owners.begin());
  const auto q = xt::xtensor<T, 2>(xt::view(extra, xt::range(first, first + 3), xt::all()));
  for (std::size_t i = 0; i < 3; ++i) CHECK(mem.read(q).hits[i].entry == ids[7]);
  mem.forget(ids[7]);
  CHECK(mem.extra_lookup_count() == e.owners.size() - 3);
  const auto r = mem.read(q, 40);
  for (const auto& h : r.hits) CHECK(h.entry != ids[7]);
  CHECK(r.k == episode::n - 1);
  for (std::size_t i = 0; i < 3; ++i) CHECK(r.hits_of(i)[0].score < T(0.99));  // another entry, not a copy
  // The other entries' extra rows still lead to them.
  const auto all = mem.read(extra);
  for (std::size_t i = 0; i < e.owners.size(); ++i)
    if (e.owners[i] != 7) CHECK(all.hits[i].entry == ids[e.owners[i]]);
}

TEST_CASE_TEMPLATE("extra lookup rows: a bad write is refused by name and changes nothing", P, LARIMAR_FLOAT_SETUPS) {
  using T = typename P::T;
  using S = typename P::S;
  const episode e;
  const auto z = episode::latents<T>();
  const auto look = episode::lookups<T>();
  auto extra = e.extra<T>();
  fixed_sharded<T, S> mem(kConfig);
  mem.write(xt::xtensor<T, 2>(xt::view(z, xt::range(0, 5), xt::all())),
            xt::xtensor<T, 2>(xt::view(look, xt::range(0, 5), xt::all())));
  const auto before = io::detail::encode(mem);
  std::vector<std::size_t> owners = e.owners;
  owners[3] = episode::n;  // beyond the write
  CHECK_THROWS_WITH_AS(mem.write(z, look, extra_lookups<T>{extra, owners}),
                       doctest::Contains("names row 40 of a write of 40 rows"), value_error);
  CHECK_THROWS_WITH_AS(mem.write(z, look, extra_lookups<T>{extra, std::span(e.owners).first(3)}),
                       doctest::Contains("extra lookup vectors but 3 rows"), shape_error);
  extra(2, 1) = std::nan("");
  CHECK_THROWS_AS(mem.write(z, look, extra_lookups<T>{extra, e.owners}), value_error);
  CHECK(io::detail::encode(mem) == before);
  CHECK(mem.size() == 5);
  CHECK(mem.extra_lookup_count() == 0);
}

TEST_CASE_TEMPLATE("extra lookup rows: save and load keep them (version 3); a memory without them is saved as "
                   "version 2", P, LARIMAR_ALL_SETUPS) {
  using T = typename P::T;
  using S = typename P::S;
  written<T, S> w;
  auto& [e, z, look, extra, mem, ids] = w;
  mem.forget(ids[3]);  // owner positions no longer in write order
  const auto bytes = io::detail::encode(mem);
  std::uint32_t version = 0;
  std::memcpy(&version, bytes.data() + 8, 4);
  CHECK(version == 3);
  const auto back = io::load_bytes<fixed_sharded<T, S>>(bytes);
  CHECK(back.extra_lookup_count() == mem.extra_lookup_count());
  const auto a = mem.read(extra, 3), b = back.read(extra, 3);
  for (std::size_t i = 0; i < a.hits.size(); ++i) {
    CHECK(a.hits[i].entry == b.hits[i].entry);
    CHECK(a.hits[i].lookup == b.hits[i].lookup);
  }
  CHECK(test::rel_error(host(a.latents), host(b.latents)) < 1e-12);
  CHECK(io::detail::encode(back) == bytes);

  fixed_plain<T, S> plain({.slots = 64, .code_size = episode::C, .lookup_size = episode::L, .seed = 5});
  plain.write(z, look, extra_lookups<T>{extra, e.owners});
  const auto pb = io::detail::encode(plain);
  CHECK(io::load_bytes<fixed_plain<T, S>>(pb).read(extra).hits[5].entry == plain.read(extra).hits[5].entry);

  fixed_sharded<T, S> none(kConfig);
  none.write(z, look);
  const auto nb = io::detail::encode(none);
  std::memcpy(&version, nb.data() + 8, 4);
  CHECK(version == 2);
}

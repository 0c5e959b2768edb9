// The distributed memory against the single-process sharded_memory: the same calls give the same entry ids and
// hits, and the same scores and latents (bit for bit on one rank, to float rounding on more), on any number of
// ranks (run by CTest under mpirun -np 1..4).
#include <mpi.h>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "larimar/core/random.hpp"
#include "larimar/distributed/distributed_memory.hpp"
#include "larimar/distributed/state_files.hpp"
#include "larimar/keys/fixed_nearest.hpp"
#include "larimar/solver/pseudoinverse.hpp"
#include "larimar/storage/device.hpp"
#include "larimar/storage/host.hpp"

namespace {

using Dist = larimar::distributed::distributed_memory<float, larimar::storage::host, larimar::keys::fixed_nearest,
                                                      larimar::solver::pseudoinverse>;
using Single = larimar::sharded_memory<float, larimar::storage::host, larimar::keys::fixed_nearest,
                                       larimar::solver::pseudoinverse>;

const larimar::memory_config kCfg{.slots = 16, .code_size = 24, .lookup_size = 12, .seed = 11};

struct episode {
  std::vector<float> z, k;
  std::size_t n;
};
episode make_episode(std::size_t n, std::uint64_t seed) {
  larimar::splitmix64 rng(seed);
  episode e{std::vector<float>(n * kCfg.code_size), std::vector<float>(n * kCfg.lookup_size), n};
  for (auto& x : e.z) x = static_cast<float>(rng.normal());
  for (auto& x : e.k) x = static_cast<float>(rng.normal());
  return e;
}
larimar::matrix_ref<const float> latents(const episode& e) { return {e.z.data(), e.n, kCfg.code_size}; }
larimar::matrix_ref<const float> lookups(const episode& e) { return {e.k.data(), e.n, kCfg.lookup_size}; }

// Queries: noisy copies of written lookups (so hits are meaningful), plus exact copies (ties between duplicates).
std::vector<float> make_queries(const std::vector<episode>& eps, std::size_t q, std::uint64_t seed) {
  larimar::splitmix64 rng(seed);
  std::vector<float> out;
  for (std::size_t i = 0; i < q; ++i) {
    const auto& e = eps[rng.next() % eps.size()];
    const std::size_t r = rng.next() % e.n;
    for (std::size_t j = 0; j < kCfg.lookup_size; ++j)
      out.push_back(e.k[r * kCfg.lookup_size + j] + (i % 3 == 0 ? 0.0f : 0.3f * static_cast<float>(rng.normal())));
  }
  return out;
}

bool same_bits(const float* a, const float* b, std::size_t n) { return std::memcmp(a, b, n * sizeof(float)) == 0; }
// Equal to float rounding: a rank's blocks and index rows sit at other offsets in its BLAS calls than in one
// process's, and an AVX-512 OpenBLAS rounds a product differently by its place (seen: 2.4e-7 on unit-size
// latents, on 2 ranks). A memory written on one rank is checked bit for bit (`exact`).
bool exact = false;
bool same_values(const float* a, const float* b, std::size_t n) {
  if (exact) return same_bits(a, b, n);
  for (std::size_t i = 0; i < n; ++i)
    if (!(std::abs(a[i] - b[i]) <= 1e-6f * std::max(1.0f, std::abs(b[i])))) return false;
  return true;
}
bool same_score(float a, float b) { return same_values(&a, &b, 1); }

// Every read of `dist` equals `ref`'s: top-1 and top-k (k = 1, 3, 7, and more than the entries).
template <class D, class R>
void check_reads(const D& dist, const R& ref, const std::vector<float>& queries) {
  const std::size_t q = queries.size() / kCfg.lookup_size;
  larimar::matrix_ref<const float> qs(queries.data(), q, kCfg.lookup_size);
  REQUIRE(dist.size() == ref.size());
  REQUIRE(dist.block_count() == ref.block_count());
  const auto a = dist.read(qs);
  const auto b = ref.read(qs);
  REQUIRE(a.hits.size() == q);
  for (std::size_t i = 0; i < q; ++i) {
    CHECK(a.hits[i].entry == b.hits[i].entry);
    CHECK(a.hits[i].block == b.hits[i].block);
    CHECK(a.hits[i].slot == b.hits[i].slot);
    CHECK(same_score(a.hits[i].score, b.hits[i].score));
  }
  CHECK(same_values(a.latents.data(), b.latents.data(), q * kCfg.code_size));
  for (std::size_t k : {std::size_t{1}, std::size_t{3}, std::size_t{7}, ref.size() + 5}) {
    const auto ta = dist.read(qs, k);
    const auto tb = ref.read(qs, k);
    REQUIRE(ta.k == tb.k);
    REQUIRE(ta.hits.size() == tb.hits.size());
    std::size_t differ = 0;
    std::string first;  // the first hit that differs, for the report
    for (std::size_t i = 0; i < ta.hits.size(); ++i) {
      const bool bad = ta.hits[i].entry != tb.hits[i].entry || ta.hits[i].block != tb.hits[i].block ||
                       ta.hits[i].slot != tb.hits[i].slot || !same_score(ta.hits[i].score, tb.hits[i].score);
      if (bad && differ++ == 0) {
        char scores[64];
        std::snprintf(scores, sizeof scores, "%a vs %a", static_cast<double>(ta.hits[i].score),
                      static_cast<double>(tb.hits[i].score));
        first = "k " + std::to_string(k) + " hit " + std::to_string(i) + ": entry " + std::to_string(ta.hits[i].entry) +
                " vs " + std::to_string(tb.hits[i].entry) + ", score " + scores;
      }
    }
    INFO(first);
    CHECK(differ == 0);
    CHECK(same_values(ta.latents.data(), tb.latents.data(), ta.hits.size() * kCfg.code_size));
  }
}

int world_size() {
  int n = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  return n;
}
int world_rank() {
  int n = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &n);
  return n;
}

// The context every test writes: episodes of uneven sizes, so that blocks are topped up and cut mid-episode.
std::vector<episode> context() {
  std::vector<episode> eps;
  std::uint64_t seed = 100;
  for (std::size_t n : {7u, 40u, 3u, 16u, 33u, 1u, 50u}) eps.push_back(make_episode(n, seed++));
  return eps;
}

}  // namespace

TEST_CASE("distributed writes and reads are sharded_memory's") {
  exact = world_size() == 1;  // written on one rank: the same BLAS calls as one process
  Dist dist(MPI_COMM_WORLD, kCfg);
  Single ref(kCfg);
  const auto eps = context();
  for (const auto& e : eps) CHECK(dist.write(latents(e), lookups(e)) == ref.write(latents(e), lookups(e)));
  CHECK(dist.size() == 150);
  CHECK(dist.block_count() == 10);  // ceil(150 / 16)
  for (std::size_t b = 0; b < dist.block_count(); ++b) CHECK(dist.block_owner(b) == static_cast<int>(b % static_cast<std::size_t>(world_size())));
  // This rank holds its blocks' entries only.
  std::size_t held = 0, mine = 0;
  MPI_Allreduce(&(mine = dist.local_size()), &held, 1, MPI_UNSIGNED_LONG, MPI_SUM, MPI_COMM_WORLD);
  CHECK(held == 150);
  check_reads(dist, ref, make_queries(eps, 64, 5));
  const std::vector<std::size_t> some{149, 0, 17, 18, 63, 64, 100, 5};
  const auto ra = dist.read_entries(some);
  const auto rb = ref.read_entries(some);
  CHECK(same_values(ra.data(), rb.data(), some.size() * kCfg.code_size));
  CHECK_THROWS_WITH_AS(dist.read_entries(std::vector<std::size_t>{3, 150}), doctest::Contains("no entry 150"),
                       larimar::state_error);
  for (std::size_t id : {0u, 17u, 149u}) {
    const auto [w, z] = dist.entry(id);
    const auto [rw, rz] = ref.entry(id);
    CHECK(same_bits(w.data(), rw.data(), kCfg.slots));
    CHECK(same_bits(z.data(), rz.data(), kCfg.code_size));  // the latent as written: no arithmetic
  }
}

TEST_CASE("distributed read_on: the latents to one rank, the same hits everywhere") {
  Dist dist(MPI_COMM_WORLD, kCfg);
  const auto eps = context();
  for (const auto& e : eps) dist.write(latents(e), lookups(e));
  const auto qv = make_queries(eps, 48, 9);
  const larimar::matrix_ref<const float> qs(qv.data(), qv.size() / kCfg.lookup_size, kCfg.lookup_size);
  const std::size_t c = kCfg.code_size;
  for (const int root : {0, world_size() - 1})
    for (const std::size_t k : {1u, 3u}) {
      CAPTURE(root);
      CAPTURE(k);
      const auto all = dist.read(qs, k);
      const auto one = dist.read_on(root, qs, k);
      REQUIRE(one.hits.size() == all.hits.size());
      std::size_t differ = 0;
      for (std::size_t i = 0; i < all.hits.size(); ++i)
        differ += one.hits[i].entry != all.hits[i].entry || one.hits[i].score != all.hits[i].score;
      CHECK(differ == 0);
      if (world_rank() == root) {
        REQUIRE(one.latents.shape()[0] == all.hits.size());
        CHECK(same_bits(one.latents.data(), all.latents.data(), all.hits.size() * c));  // the same bytes, moved once
      } else {
        CHECK(one.latents.shape()[0] == 0);
      }
    }
  const auto top1 = dist.read_on(0, qs);
  const auto ref1 = dist.read(qs);
  CHECK(top1.hits.size() == ref1.hits.size());
  if (world_rank() == 0) CHECK(same_bits(top1.latents.data(), ref1.latents.data(), ref1.hits.size() * c));
  CHECK_THROWS_WITH_AS(dist.read_on(world_size(), qs, 2), doctest::Contains("is not a rank of this memory"),
                       larimar::value_error);
  CHECK_THROWS_WITH_AS(dist.read_on(-1, qs), doctest::Contains("is not a rank of this memory"), larimar::value_error);
  CHECK_THROWS_WITH_AS(dist.read_on(0, qs, 0), doctest::Contains("k must be at least 1"), larimar::value_error);
}

TEST_CASE("distributed forget, then writes that fill what it freed, stay sharded_memory's") {
  exact = world_size() == 1;  // written on one rank: the same BLAS calls as one process
  Dist dist(MPI_COMM_WORLD, kCfg);
  Single ref(kCfg);
  auto eps = context();
  for (const auto& e : eps) dist.write(latents(e), lookups(e)), ref.write(latents(e), lookups(e));
  // In early blocks, in each of the last blocks (a rank's last block that is not the global last: the case that
  // splits a rank's blocks into runs), and in the global last block (whose freed slot the next write reuses).
  for (std::size_t id : {3u, 20u, 21u, 100u, 120u, 130u, 145u, 149u}) {
    dist.forget(id);
    ref.forget(id);
  }
  CHECK_FALSE(dist.contains(20));
  CHECK(dist.contains(22));
  CHECK(dist.size() == 142);
  CHECK_THROWS_AS(dist.forget(20), larimar::state_error);
  CHECK_THROWS_WITH_AS(dist.entry(3), doctest::Contains("no entry 3"), larimar::state_error);
  for (std::size_t n : {2u, 30u, 17u}) {
    eps.push_back(make_episode(n, 500 + n));
    CHECK(dist.write(latents(eps.back()), lookups(eps.back())) == ref.write(latents(eps.back()), lookups(eps.back())));
  }
  check_reads(dist, ref, make_queries(eps, 96, 6));
  // Forget everything of one block, and read on.
  for (std::size_t id = 48; id < 64; ++id) dist.forget(id), ref.forget(id);
  check_reads(dist, ref, make_queries(eps, 32, 7));
}

TEST_CASE("distributed memory: bad calls are refused on every rank, with the memory unchanged") {
  exact = world_size() == 1;  // written on one rank: the same BLAS calls as one process
  Dist dist(MPI_COMM_WORLD, kCfg);
  const auto e = make_episode(5, 1);
  std::vector<float> q(kCfg.lookup_size, 1.0f);
  CHECK_THROWS_WITH_AS(dist.read(larimar::matrix_ref<const float>(q.data(), 1, kCfg.lookup_size)),
                       doctest::Contains("the memory is empty"), larimar::state_error);
  CHECK_THROWS_WITH_AS(dist.write(latents(e), larimar::matrix_ref<const float>(e.k.data(), 5, 11)),
                       doctest::Contains("lookup vectors have 11 columns"), larimar::shape_error);
  dist.write(latents(e), lookups(e));
  CHECK_THROWS_WITH_AS(dist.read(larimar::matrix_ref<const float>(q.data(), 1, kCfg.lookup_size), 0),
                       doctest::Contains("k must be at least 1"), larimar::value_error);
  if (world_size() > 1) {  // rank 1 passes another episode: refused everywhere, nothing written
    const auto other = make_episode(5, world_rank() == 1 ? 2 : 1);
    CHECK_THROWS_WITH_AS(dist.write(latents(other), lookups(other)), doctest::Contains("different episodes"),
                         larimar::value_error);
    // Rank 1 calls write_sequential where the others call write: refused too.
    const auto same = make_episode(4, 3);
    CHECK_THROWS_WITH_AS(world_rank() == 1 ? dist.write_sequential(latents(same), lookups(same))
                                           : dist.write(latents(same), lookups(same)),
                         doctest::Contains("the ranks made different calls"), larimar::value_error);
  }
  CHECK(dist.size() == 5);
  CHECK(dist.block_mode(0) == larimar::write_mode::one_shot);
  auto cfg = kCfg;
  cfg.sample_noise = true;
  cfg.observation_noise = 0.1;
  CHECK_THROWS_WITH_AS(Dist(MPI_COMM_WORLD, cfg), doctest::Contains("sample_noise"), larimar::value_error);
}

namespace {
std::filesystem::path save_root() { return std::filesystem::path(LARIMAR_DIST_DIR); }
// The memory every save test writes, and its reference.
void fill(Dist& dist, Single& ref, std::vector<episode>& eps) {
  eps = context();
  for (const auto& e : eps) dist.write(latents(e), lookups(e)), ref.write(latents(e), lookups(e));
  for (std::size_t id : {4u, 60u, 130u, 141u}) dist.forget(id), ref.forget(id);
}
void fresh_dir(const std::filesystem::path& dir) {
  if (world_rank() == 0) std::filesystem::remove_all(dir);
  MPI_Barrier(MPI_COMM_WORLD);
}
}  // namespace

TEST_CASE("distributed save and load on the same ranks: the same reads, and writes go on as before") {
  exact = world_size() == 1;  // written on one rank: the same BLAS calls as one process
  Dist dist(MPI_COMM_WORLD, kCfg);
  Single ref(kCfg);
  std::vector<episode> eps;
  fill(dist, ref, eps);
  const auto dir = save_root() / ("saved-np" + std::to_string(world_size()));
  fresh_dir(dir);
  larimar::distributed::save(dist, dir);
  larimar::distributed::save(dist, dir);  // a second save replaces the first generation's files
  if (world_rank() == 0) {
    std::size_t files = 0;
    for (const auto& f : std::filesystem::directory_iterator(dir)) files += f.path().extension() == ".lrm";
    CHECK(files >= static_cast<std::size_t>(world_size()));
    for (const auto& f : std::filesystem::directory_iterator(dir))
      if (f.path().extension() == ".lrm") CHECK(f.path().filename().string().starts_with("g2."));
  }
  MPI_Barrier(MPI_COMM_WORLD);
  auto back = larimar::distributed::load<Dist>(MPI_COMM_WORLD, dir);
  check_reads(back, ref, make_queries(eps, 48, 8));
  const auto more = make_episode(21, 900);
  CHECK(back.write(latents(more), lookups(more)) == ref.write(latents(more), lookups(more)));
  eps.push_back(more);
  check_reads(back, ref, make_queries(eps, 48, 9));
}

namespace {
// Sequential writes with observation noise: forget undoes a Kalman step by a downdate (noise-free ones replay).
const larimar::memory_config kSeqCfg = [] {
  auto c = kCfg;
  c.observation_noise = 0.1;
  return c;
}();
// Calls of both modes, so that blocks are cut by mode changes as well as by size (152 entries in 14 blocks).
struct call {
  std::size_t n;
  bool sequential;
};
const std::vector<call> kMixed{{7, false}, {40, true}, {3, false}, {16, false},
                               {33, true}, {1, true},  {50, false}, {2, true}};
template <class M>
std::vector<std::size_t> write_as(M& mem, const episode& e, bool sequential) {
  return sequential ? mem.write_sequential(latents(e), lookups(e)) : mem.write(latents(e), lookups(e));
}
void check_modes(const Dist& dist, const Single& ref) {
  REQUIRE(dist.block_count() == ref.block_count());
  for (std::size_t b = 0; b < ref.block_count(); ++b) {
    CAPTURE(b);
    CHECK(dist.block_mode(b) == ref.block_mode(b));
  }
}
// The mixed context, written to both, with reads checked after every other call.
void fill_mixed(Dist& dist, Single& ref, std::vector<episode>& eps) {
  std::uint64_t seed = 300;
  for (std::size_t i = 0; i < kMixed.size(); ++i) {
    eps.push_back(make_episode(kMixed[i].n, seed++));
    CHECK(write_as(dist, eps.back(), kMixed[i].sequential) == write_as(ref, eps.back(), kMixed[i].sequential));
    if (i % 2 == 1) check_reads(dist, ref, make_queries(eps, 40, 20 + i));
  }
}
// What the mixed test saves, after the context: forgets in one-shot and sequential blocks (a Kalman downdate) and
// of all of the last block (it then takes either mode), then a one-shot and a sequential write.
const std::vector<std::size_t> kMixedForget{2, 9, 30, 47, 99, 130, 150, 151};
const std::vector<call> kMixedAfter{{5, false}, {20, true}};
// The saved mixed memory's reference, in one process.
Single mixed_reference(std::vector<episode>& eps) {
  Single ref(kSeqCfg);
  std::uint64_t seed = 300;
  for (const call& c : kMixed) eps.push_back(make_episode(c.n, seed++)), write_as(ref, eps.back(), c.sequential);
  for (std::size_t id : kMixedForget) ref.forget(id);
  seed = 400;
  for (const call& c : kMixedAfter) eps.push_back(make_episode(c.n, seed++)), write_as(ref, eps.back(), c.sequential);
  return ref;
}
}  // namespace

TEST_CASE("distributed write_sequential: mixed modes are sharded_memory's, through forget, save and load") {
  exact = world_size() == 1;  // written on one rank: the same BLAS calls as one process
  Dist dist(MPI_COMM_WORLD, kSeqCfg);
  Single ref(kSeqCfg);
  std::vector<episode> eps;
  fill_mixed(dist, ref, eps);
  CHECK(dist.size() == 152);
  CHECK(dist.block_count() == 14);
  if (world_size() == 1) CHECK(dist.runs().size() == 1);  // mode changes start no run: one index, as in one process
  check_modes(dist, ref);
  using larimar::write_mode;
  CHECK(dist.block_mode(0) == write_mode::one_shot);
  CHECK(dist.block_mode(1) == write_mode::sequential);  // block 0 had room, but holds one-shot entries
  CHECK(dist.block_mode(4) == write_mode::one_shot);
  CHECK(dist.block_mode(13) == write_mode::sequential);
  // A read changes nothing: the same queries give the same bits again.
  const auto queries = make_queries(eps, 48, 30);
  const larimar::matrix_ref<const float> qs(queries.data(), 48, kCfg.lookup_size);
  const auto first = dist.read(qs, 5);
  const auto again = dist.read(qs, 5);
  CHECK(same_bits(first.latents.data(), again.latents.data(), first.hits.size() * kCfg.code_size));
  for (std::size_t i = 0; i < first.hits.size(); ++i) CHECK(same_bits(&first.hits[i].score, &again.hits[i].score, 1));

  // Forget in one-shot and sequential blocks (a Kalman downdate), and all of the last block: it takes either mode.
  for (std::size_t id : kMixedForget) dist.forget(id), ref.forget(id);
  CHECK(dist.block_mode(13) == write_mode::none);
  check_modes(dist, ref);
  check_reads(dist, ref, make_queries(eps, 64, 31));
  std::uint64_t seed = 400;
  for (const call& c : kMixedAfter) {
    eps.push_back(make_episode(c.n, seed++));
    CHECK(write_as(dist, eps.back(), c.sequential) == write_as(ref, eps.back(), c.sequential));
    if (!c.sequential) CHECK(dist.block_count() == 14);  // the emptied block took the one-shot rows
  }
  CHECK(dist.block_count() == 16);
  check_modes(dist, ref);
  {
    std::vector<episode> again_eps;
    const auto replayed = mixed_reference(again_eps);
    check_reads(dist, replayed, make_queries(eps, 16, 36));  // the reference the reload runs rebuild is this one
  }
  check_reads(dist, ref, make_queries(eps, 64, 32));
  const std::vector<std::size_t> some{0, 10, 40, 60, 128, 149, 152, 160, 176};
  CHECK(same_values(dist.read_entries(some).data(), ref.read_entries(some).data(), some.size() * kCfg.code_size));

  // Saved here (the reload runs load it on other rank counts), and loaded on one rank fewer.
  const auto dir = save_root() / ("mixed-np" + std::to_string(world_size()));
  fresh_dir(dir);
  larimar::distributed::save(dist, dir);
  MPI_Barrier(MPI_COMM_WORLD);
  const int fewer = std::max(1, world_size() - 1);
  MPI_Comm sub;
  MPI_Comm_split(MPI_COMM_WORLD, world_rank() < fewer ? 0 : MPI_UNDEFINED, world_rank(), &sub);
  if (sub != MPI_COMM_NULL) {
    exact = world_size() == 1;  // one rank's save on one rank: the same single run
    auto back = larimar::distributed::load<Dist>(sub, dir);
    CHECK(back.ranks() == fewer);
    check_modes(back, ref);
    check_reads(back, ref, make_queries(eps, 64, 33));
    auto ref2 = ref;
    auto eps2 = eps;
    seed = 410;
    for (const call& c : {call{9, true}, call{12, false}, call{30, true}}) {
      eps2.push_back(make_episode(c.n, seed++));
      CHECK(write_as(back, eps2.back(), c.sequential) == write_as(ref2, eps2.back(), c.sequential));
    }
    for (std::size_t id : {1u, 35u, 157u, 180u, 200u}) back.forget(id), ref2.forget(id);
    check_modes(back, ref2);
    check_reads(back, ref2, make_queries(eps2, 64, 34));
    MPI_Comm_free(&sub);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  exact = world_size() == 1;
  check_reads(dist, ref, make_queries(eps, 32, 35));  // the saved memory is as it was
}

TEST_CASE("distributed load of saves made on other numbers of ranks") {
  exact = world_size() == 1;  // written on one rank: the same BLAS calls as one process
  // Each run of this suite saved its own (test above); CTest runs 1, 2, 3 ranks before the reloads.
  Single ref(kCfg);
  std::vector<episode> eps;
  {
    Dist unused(MPI_COMM_WORLD, kCfg);
    fill(unused, ref, eps);
  }
  std::size_t loaded = 0;
  for (int r = 1; r <= 4; ++r) {
    const auto dir = save_root() / ("saved-np" + std::to_string(r));
    if (!std::filesystem::exists(dir / "manifest.lrmd")) continue;
    CAPTURE(r);
    exact = world_size() == 1 && r == 1;
    auto back = larimar::distributed::load<Dist>(MPI_COMM_WORLD, dir);
    CHECK(back.ranks() == world_size());
    check_reads(back, ref, make_queries(eps, 48, 10));
    auto ref2 = ref;
    const auto more = make_episode(37, 901);
    CHECK(back.write(latents(more), lookups(more)) == ref2.write(latents(more), lookups(more)));
    auto eps2 = eps;
    eps2.push_back(more);
    check_reads(back, ref2, make_queries(eps2, 48, 11));
    ++loaded;
  }
  CHECK(loaded >= 1);
  // The mixed-mode saves (write_sequential test): their block modes come back, and writes of both modes go on.
  std::vector<episode> mixed_eps;
  const Single mixed = mixed_reference(mixed_eps);
  loaded = 0;
  for (int r = 1; r <= 4; ++r) {
    const auto dir = save_root() / ("mixed-np" + std::to_string(r));
    if (!std::filesystem::exists(dir / "manifest.lrmd")) continue;
    CAPTURE(r);
    exact = world_size() == 1 && r == 1;
    auto back = larimar::distributed::load<Dist>(MPI_COMM_WORLD, dir);
    check_modes(back, mixed);
    check_reads(back, mixed, make_queries(mixed_eps, 48, 12));
    auto ref2 = mixed;
    auto eps2 = mixed_eps;
    std::uint64_t seed = 920;
    for (const call& c : {call{3, true}, call{18, false}}) {
      eps2.push_back(make_episode(c.n, seed++));
      CHECK(write_as(back, eps2.back(), c.sequential) == write_as(ref2, eps2.back(), c.sequential));
    }
    back.forget(170), ref2.forget(170);
    check_modes(back, ref2);
    check_reads(back, ref2, make_queries(eps2, 48, 13));
    ++loaded;
  }
  CHECK(loaded >= 1);
}

TEST_CASE("distributed load refuses a corrupt manifest and a replaced state file, naming them") {
  exact = world_size() == 1;  // written on one rank: the same BLAS calls as one process
  Dist dist(MPI_COMM_WORLD, kCfg);
  Single ref(kCfg);
  std::vector<episode> eps;
  fill(dist, ref, eps);
  const auto dir = save_root() / ("corrupt-np" + std::to_string(world_size()));
  fresh_dir(dir);
  larimar::distributed::save(dist, dir);
  MPI_Barrier(MPI_COMM_WORLD);
  std::string manifest_bytes;
  if (world_rank() == 0) {  // flip one byte of the manifest
    std::ifstream in(dir / "manifest.lrmd", std::ios::binary);
    manifest_bytes.assign(std::istreambuf_iterator<char>(in), {});
    auto bad = manifest_bytes;
    bad[20] = static_cast<char>(bad[20] ^ 1);
    std::ofstream(dir / "manifest.lrmd", std::ios::binary).write(bad.data(), static_cast<std::streamsize>(bad.size()));
  }
  MPI_Barrier(MPI_COMM_WORLD);
  CHECK_THROWS_WITH_AS(larimar::distributed::load<Dist>(MPI_COMM_WORLD, dir), doctest::Contains("checksum mismatch"),
                       larimar::format_error);
  if (world_rank() == 0) {  // restore it, and replace a state file by another run's
    std::ofstream(dir / "manifest.lrmd", std::ios::binary)
        .write(manifest_bytes.data(), static_cast<std::streamsize>(manifest_bytes.size()));
    Single other(kCfg);
    other.write(latents(eps[0]), lookups(eps[0]));
    larimar::io::save(other, dir / "g1.rank0.run0.lrm");
  }
  MPI_Barrier(MPI_COMM_WORLD);
  CHECK_THROWS_WITH_AS(larimar::distributed::load<Dist>(MPI_COMM_WORLD, dir),
                       doctest::Contains("is not the one the manifest names"), larimar::format_error);
  CHECK_THROWS_AS(larimar::distributed::load<Dist>(MPI_COMM_WORLD, dir / "missing"), larimar::io_error);
}

namespace {
std::string file_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}
void put_file(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}
// A manifest body with a valid CRC-32 trailer: hostile content that the checksum does not catch.
std::string sealed(std::string body) {
  const std::uint32_t crc = larimar::io::crc32(body.data(), body.size());
  body.append(reinterpret_cast<const char*>(&crc), 4);
  return body;
}
// The block table starts after magic (8), version (4), element bytes (4), generation, ranks, block slots and the
// block count (8 each); a version-2 block is u32 owner, u32 slots used, u8 mode.
constexpr std::size_t kBlockTable = 48;
std::uint64_t manifest_blocks(const std::string& m) {
  std::uint64_t n = 0;
  std::memcpy(&n, m.data() + 40, 8);
  return n;
}
std::string with_mode(const std::string& m, std::size_t block, std::uint8_t mode) {
  std::string body = m.substr(0, m.size() - 4);
  body[kBlockTable + 9 * block + 8] = static_cast<char>(mode);
  return sealed(body);
}
std::uint32_t block_used(const std::string& m, std::size_t block) {
  std::uint32_t u = 0;
  std::memcpy(&u, m.data() + kBlockTable + 9 * block + 4, 4);
  return u;
}
std::string with_used(const std::string& m, std::size_t block, std::uint32_t used) {
  std::string body = m.substr(0, m.size() - 4);
  std::memcpy(body.data() + kBlockTable + 9 * block + 4, &used, 4);
  return sealed(body);
}
// The same manifest in version 1 (no modes), as saves made before write_sequential are.
std::string as_version1(const std::string& m) {
  const std::uint64_t n = manifest_blocks(m);
  std::string body = m.substr(0, kBlockTable);
  const std::uint32_t one = 1;
  std::memcpy(body.data() + 8, &one, 4);
  for (std::uint64_t b = 0; b < n; ++b) body += m.substr(kBlockTable + 9 * b, 8);
  body += m.substr(kBlockTable + 9 * n, m.size() - 4 - (kBlockTable + 9 * n));
  return sealed(body);
}
// Rank 0 puts `bytes` as the manifest of `dir`; every rank then expects load to refuse it with `what`.
void check_refused(const std::filesystem::path& dir, const std::string& bytes, const char* what) {
  if (world_rank() == 0) put_file(dir / "manifest.lrmd", bytes);
  MPI_Barrier(MPI_COMM_WORLD);
  const std::string expected = what;
  CAPTURE(expected);
  CHECK_THROWS_WITH_AS(larimar::distributed::load<Dist>(MPI_COMM_WORLD, dir), doctest::Contains(what),
                       larimar::format_error);
  MPI_Barrier(MPI_COMM_WORLD);
}
}  // namespace

TEST_CASE("distributed load: manifest version 2's block modes are checked, version 1 still loads as one-shot") {
  exact = world_size() == 1;  // written on one rank: the same BLAS calls as one process
  Dist dist(MPI_COMM_WORLD, kSeqCfg);
  Single ref(kSeqCfg);
  std::vector<episode> eps;
  fill_mixed(dist, ref, eps);
  const auto dir = save_root() / ("hostile-np" + std::to_string(world_size()));
  fresh_dir(dir);
  larimar::distributed::save(dist, dir);
  MPI_Barrier(MPI_COMM_WORLD);
  // Every rank reads the manifest (rank 0 alone writes it) so that each can build the same hostile bytes.
  const std::string good = file_bytes(dir / "manifest.lrmd");
  MPI_Barrier(MPI_COMM_WORLD);  // every rank has read it before rank 0 replaces it
  REQUIRE(good.size() > kBlockTable + 9 * 14);
  std::uint32_t version = 0;
  std::memcpy(&version, good.data() + 8, 4);
  CHECK(version == 2);
  CHECK(manifest_blocks(good) == 14);
  CHECK(static_cast<int>(good[kBlockTable + 8]) == 1);       // block 0: one-shot
  CHECK(static_cast<int>(good[kBlockTable + 9 + 8]) == 2);   // block 1: sequential

  check_refused(dir, with_mode(good, 0, 7), "block 0 has unknown write mode 7");
  check_refused(dir, with_mode(good, 3, 0), "block 3 holds entries but no write mode");
  check_refused(dir, with_mode(good, 1, 1), "block 1 is one-shot in the manifest but sequential in state file");
  check_refused(dir, with_mode(good, 4, 2), "block 4 is sequential in the manifest but one-shot in state file");
  {  // one slot of use moved from one block to another: every total still agrees, the blocks' own fills do not
    std::size_t from = 14, to = 14;
    for (std::size_t b = 0; b < 14; ++b) {
      if (from == 14 && block_used(good, b) >= 2) from = b;
      else if (to == 14 && block_used(good, b) >= 1 && block_used(good, b) < kSeqCfg.slots) to = b;
    }
    REQUIRE(from < 14);
    REQUIRE(to < 14);
    const auto moved = with_used(with_used(good, from, block_used(good, from) - 1), to, block_used(good, to) + 1);
    check_refused(dir, moved, "slots in the manifest but");
  }
  check_refused(dir, sealed(good.substr(0, 30)), "truncated at ranks");
  check_refused(dir, sealed(good.substr(0, kBlockTable + 9 * 5 + 3)), "blocks: 14 claimed, the file is too short");
  check_refused(dir, sealed(good.substr(0, good.size() - 4 - 9)), "the file is too short");
  {
    std::string v3 = good.substr(0, good.size() - 4);
    v3[8] = 3;
    check_refused(dir, sealed(v3), "manifest version 3, this build reads versions 1 and 2");
  }
  // Version 1 knew one-shot blocks only: a save with sequential blocks is not one.
  check_refused(dir, as_version1(good), "is one-shot in the manifest but sequential in state file");

  // The refusals changed nothing: the memory, and its save, read as before.
  if (world_rank() == 0) put_file(dir / "manifest.lrmd", good);
  MPI_Barrier(MPI_COMM_WORLD);
  check_reads(dist, ref, make_queries(eps, 32, 40));
  auto back = larimar::distributed::load<Dist>(MPI_COMM_WORLD, dir);
  check_modes(back, ref);
  check_reads(back, ref, make_queries(eps, 32, 41));

  // A one-shot memory saved with a version-1 manifest: its blocks load as one-shot (none where emptied), and
  // sequential writes then open new blocks as in sharded_memory.
  Dist old(MPI_COMM_WORLD, kCfg);
  Single old_ref(kCfg);
  std::vector<episode> old_eps;
  fill(old, old_ref, old_eps);
  const auto v1 = save_root() / ("version1-np" + std::to_string(world_size()));
  fresh_dir(v1);
  larimar::distributed::save(old, v1);
  MPI_Barrier(MPI_COMM_WORLD);
  const std::string v1_bytes = as_version1(file_bytes(v1 / "manifest.lrmd"));
  MPI_Barrier(MPI_COMM_WORLD);
  if (world_rank() == 0) put_file(v1 / "manifest.lrmd", v1_bytes);
  MPI_Barrier(MPI_COMM_WORLD);
  auto loaded = larimar::distributed::load<Dist>(MPI_COMM_WORLD, v1);
  for (std::size_t b = 0; b < loaded.block_count(); ++b) CHECK(loaded.block_mode(b) == larimar::write_mode::one_shot);
  check_modes(loaded, old_ref);
  check_reads(loaded, old_ref, make_queries(old_eps, 32, 42));
  for (const call& c : {call{6, true}, call{4, false}, call{19, true}}) {
    old_eps.push_back(make_episode(c.n, 950 + c.n));
    CHECK(write_as(loaded, old_eps.back(), c.sequential) == write_as(old_ref, old_eps.back(), c.sequential));
  }
  check_modes(loaded, old_ref);
  check_reads(loaded, old_ref, make_queries(old_eps, 48, 43));
}

TEST_CASE("distributed reads stay sharded_memory's when the index is scanned in several chunks") {
  exact = world_size() == 1;  // written on one rank: the same BLAS calls as one process
  // 16,384 queries make the index scan in chunks of 1,024 rows, at other offsets on each rank than in one process.
  const larimar::memory_config cfg{.slots = 32, .code_size = 16, .lookup_size = 24, .seed = 5};
  Dist dist(MPI_COMM_WORLD, cfg);
  Single ref(cfg);
  larimar::splitmix64 rng(77);
  std::vector<float> k(3000 * 24), z(3000 * 16);
  for (auto& x : k) x = static_cast<float>(rng.normal());
  for (auto& x : z) x = static_cast<float>(rng.normal());
  for (std::size_t at = 0; at < 3000; at += 1000) {
    larimar::matrix_ref<const float> zs(z.data() + at * 16, 1000, 16), ks(k.data() + at * 24, 1000, 24);
    CHECK(dist.write(zs, ks) == ref.write(zs, ks));
  }
  std::vector<float> q(16384 * 24);
  for (std::size_t i = 0; i < 16384; ++i)
    for (std::size_t j = 0; j < 24; ++j) q[i * 24 + j] = k[(i % 3000) * 24 + j] + 0.5f * static_cast<float>(rng.normal());
  larimar::matrix_ref<const float> qs(q.data(), 16384, 24);
  for (std::size_t kk : {std::size_t{1}, std::size_t{3}}) {
    const auto a = dist.read(qs, kk);
    const auto b = ref.read(qs, kk);
    std::size_t differ = 0;
    for (std::size_t i = 0; i < a.hits.size(); ++i)
      differ += a.hits[i].entry != b.hits[i].entry || !same_score(a.hits[i].score, b.hits[i].score);
    CHECK(differ == 0);
    CHECK(same_values(a.latents.data(), b.latents.data(), a.hits.size() * 16));
  }
}


TEST_CASE("distributed write that fails on one rank: every rank keeps its memory as it was, no empty block left") {
  // The device storage's memory limit, set on the last rank only, makes that rank's part of the write fail while
  // the others' succeed: they must take their rows back and drop the blocks they opened.
  using DistDev = larimar::distributed::distributed_memory<float, larimar::storage::device,
                                                           larimar::keys::fixed_nearest, larimar::solver::pseudoinverse>;
  using SingleDev = larimar::sharded_memory<float, larimar::storage::device, larimar::keys::fixed_nearest,
                                           larimar::solver::pseudoinverse>;
  exact = world_size() == 1;
  DistDev dist(MPI_COMM_WORLD, kCfg);
  SingleDev ref(kCfg);
  std::vector<episode> eps{make_episode(20, 500)};
  CHECK(dist.write(latents(eps[0]), lookups(eps[0])) == ref.write(latents(eps[0]), lookups(eps[0])));
  const std::size_t blocks = dist.block_count(), size = dist.size();
  // Rows for a block on every rank: each rank has a part of the failing write.
  const auto big = make_episode(kCfg.slots * static_cast<std::size_t>(world_size() + 1), 501);
  if (world_rank() == world_size() - 1) larimar::storage::device_memory::set_limit(larimar::storage::device_memory::in_use() + 64);
  CHECK_THROWS_WITH_AS(dist.write(latents(big), lookups(big)), doctest::Contains("nothing was written"),
                       larimar::state_error);
  larimar::storage::device_memory::set_limit(0);
  CHECK(dist.size() == size);
  CHECK(dist.block_count() == blocks);
  unsigned long local_blocks = 0, all_blocks = 0;  // the ranks' blocks together are the directory's: none empty
  for (const auto& r : dist.runs()) local_blocks += r.mem.block_count();
  MPI_Allreduce(&local_blocks, &all_blocks, 1, MPI_UNSIGNED_LONG, MPI_SUM, MPI_COMM_WORLD);
  CHECK(all_blocks == blocks);
  check_reads(dist, ref, make_queries(eps, 24, 31));
  // The memory goes on as if the failed write had not been made; saved, it loads.
  CHECK(dist.write(latents(big), lookups(big)) == ref.write(latents(big), lookups(big)));
  eps.push_back(big);
  check_reads(dist, ref, make_queries(eps, 40, 32));
  const auto dir = save_root() / ("failed-write-np" + std::to_string(world_size()));
  fresh_dir(dir);
  larimar::distributed::save(dist, dir);
  auto back = larimar::distributed::load<DistDev>(MPI_COMM_WORLD, dir);
  check_reads(back, ref, make_queries(eps, 40, 33));
}

// Save and load: a written context survives the process; corrupt or truncated files are refused.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "helpers.hpp"
#include "larimar/larimar.hpp"
#include "temp_path.hpp"

using namespace larimar;
using test::host;

namespace {
using larimar::test::temp_path;
std::vector<char> slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}
void spit(const std::filesystem::path& p, const std::vector<char>& b) {
  std::ofstream(p, std::ios::binary).write(b.data(), static_cast<std::streamsize>(b.size()));
}
}  // namespace

TEST_CASE_TEMPLATE("a sharded memory round-trips through a state file, then keeps working", P, LARIMAR_FLOAT_SETUPS) {
  using S = typename P::S;
  using M = sharded_memory<float, S, keys::fixed_nearest, solver::pseudoinverse>;
  M mem({.slots = 16, .code_size = 12, .lookup_size = 8, .seed = 4});
  const auto z = test::gaussian<float>(40, 12, 41);
  const auto look = test::gaussian<float>(40, 8, 42);
  const auto ids = mem.write(z, look);
  mem.forget(ids[5]);
  const auto path = temp_path("sharded.lrm");
  io::save(mem, path);
  for (const auto& e : std::filesystem::directory_iterator(path.parent_path()))  // the temporary was renamed
    CHECK_FALSE(e.path().filename().string().starts_with("." + path.filename().string() + ".tmp-"));
  auto loaded = io::load<M>(path);
  CHECK(loaded.size() == mem.size());
  CHECK(loaded.block_count() == mem.block_count());
  const auto a = mem.read(look), b = loaded.read(look);
  CHECK(xt::amax(xt::abs(host(a.latents) - host(b.latents)))() == 0.0f);
  for (std::size_t i = 0; i < 40; ++i) CHECK(a.hits[i].entry == b.hits[i].entry);
  // Entry ids continue where they left off, and forget still works on the loaded memory.
  const auto more = loaded.write(xt::xtensor<float, 2>(xt::view(z, xt::range(0, 2), xt::all())),
                                 xt::xtensor<float, 2>(xt::view(look, xt::range(0, 2), xt::all())));
  CHECK(more[0] == ids.back() + 1);
  loaded.forget(ids[6]);
  CHECK_FALSE(loaded.contains(ids[6]));
  std::filesystem::remove(path);
}

TEST_CASE_TEMPLATE("a prefix-encoded sharded memory keeps its write tolerance and block fill; version 1 files still load", P, LARIMAR_DOUBLE_SETUPS) {
  using S = typename P::S;
  using M = sharded_memory<double, S, keys::prefix_encoding, solver::pseudoinverse>;
  // Prefixes of rank 6 in L = 16: blocks stop at 6 entries (test_memory_sharded), so the fill is 6, not min(K, L).
  const std::size_t N = 40, rank = 6;
  const auto prefix = test::low_rank<double>(N, 16, rank, 45);
  const auto z = test::gaussian<double>(N, 10, 47);
  auto first = [](const auto& x, std::size_t n) { return xt::xtensor<double, 2>(xt::view(x, xt::range(0, n), xt::all())); };
  auto rest = [](const auto& x, std::size_t n) { return xt::xtensor<double, 2>(xt::view(x, xt::range(n, x.shape(0)), xt::all())); };
  M mem({.slots = 24, .code_size = 10, .lookup_size = 16, .write_tolerance = 1e-6});
  mem.write(first(z, 20), first(prefix, 20));
  CHECK(test::store_of(mem).fill().size == rank);
  const auto path = temp_path("fill.lrm");
  io::save(mem, path);
  auto loaded = io::load<M>(path);
  CHECK(loaded.config().write_tolerance == 1e-6);
  CHECK(test::store_of(loaded).fill() == test::store_of(mem).fill());
  // The next episode lands in the same blocks in both: the loaded memory does not restart from min(K, L).
  mem.write(rest(z, 20), rest(prefix, 20));
  loaded.write(rest(z, 20), rest(prefix, 20));
  CHECK(loaded.block_count() == mem.block_count());
  CHECK(xt::amax(xt::abs(host(loaded.read(prefix).latents) - z))() < 1e-8);

  // Edited copies of the file: its body (all but the CRC) changed, then written with a CRC that matches.
  const auto v2 = slurp(path);
  const std::vector<char> body(v2.begin(), v2.end() - 4);
  const std::size_t tol_at = 8 + 4 + 4 + 4 + 32 + 32 + 5 * 8 + 4 * 4 + 2 * 8, fill_at = tol_at + 8 + 2 * 8;  // fill: 2 x u64
  const auto spit_with_crc = [&](std::vector<char> b) {
    const std::uint32_t crc = io::crc32(b.data(), b.size());
    b.insert(b.end(), reinterpret_cast<const char*>(&crc), reinterpret_cast<const char*>(&crc) + 4);
    spit(path, b);
  };
  // A tolerance that no save() writes is the file's fault: format_error, like every other inconsistency.
  auto bad = body;
  const double minus_one = -1;
  std::memcpy(bad.data() + tol_at, &minus_one, 8);
  spit_with_crc(bad);
  CHECK_THROWS_WITH_AS(io::load<M>(path), doctest::Contains("write_tolerance"), format_error);
  // The same file as version 1 wrote it (no write_tolerance, no fill): loads with the defaults.
  std::vector<char> v1(body.begin(), body.begin() + static_cast<long>(tol_at));
  v1.insert(v1.end(), body.begin() + static_cast<long>(tol_at + 8), body.begin() + static_cast<long>(fill_at));
  v1.insert(v1.end(), body.begin() + static_cast<long>(fill_at + 16), body.end());
  const std::uint32_t version = 1;
  std::memcpy(v1.data() + 8, &version, 4);
  spit_with_crc(v1);
  const auto old = io::load<M>(path);
  CHECK(old.config().write_tolerance == 0.0);
  CHECK(test::store_of(old).fill().size == old.block_capacity());
  CHECK(old.size() == 20);
  std::filesystem::remove(path);
}

TEST_CASE_TEMPLATE("a sequential memory with covariance round-trips exactly", P, LARIMAR_DOUBLE_SETUPS) {
  using S = typename P::S;
  using M = memory<double, S, keys::prefix_encoding, solver::pseudoinverse>;
  M mem({.slots = 16, .code_size = 10, .lookup_size = 12, .observation_noise = 0.2});
  const auto z = test::gaussian<double>(9, 10, 43);
  const auto p = test::gaussian<double>(9, 12, 44);
  mem.write_sequential(z, p);
  const auto path = temp_path("seq.lrm");
  io::save(mem, path);
  const auto loaded = io::load<M>(path);
  CHECK(xt::amax(xt::abs(host(loaded.mean()) - host(mem.mean())))() == 0.0);
  CHECK(xt::amax(xt::abs(host(loaded.covariance()) - host(mem.covariance())))() == 0.0);
  CHECK(loaded.mode() == write_mode::sequential);
  std::filesystem::remove(path);
}

TEST_CASE_TEMPLATE("truncated, corrupt or mismatched state files are refused with a clear error", P, LARIMAR_FLOAT_SETUPS) {
  using S = typename P::S;
  using M = memory<float, S, keys::fixed_nearest, solver::pseudoinverse>;
  M mem({.slots = 16, .code_size = 8});
  const auto z = test::gaussian<float>(10, 8, 45);
  mem.write(z, z);
  const auto path = temp_path("bad.lrm");
  io::save(mem, path);
  const auto good = slurp(path);

  CHECK_THROWS_WITH_AS(io::load<M>(temp_path("missing.lrm")), doctest::Contains("cannot open"), io_error);
  for (std::size_t cut : {std::size_t{0}, std::size_t{7}, std::size_t{40}, good.size() / 2, good.size() - 1}) {
    CAPTURE(cut);
    spit(path, std::vector<char>(good.begin(), good.begin() + static_cast<long>(cut)));
    CHECK_THROWS_AS(io::load<M>(path), format_error);
  }
  auto flipped = good;
  flipped[flipped.size() / 2] ^= 0x10;
  spit(path, flipped);
  CHECK_THROWS_WITH_AS(io::load<M>(path), doctest::Contains("checksum mismatch"), format_error);
  auto magic = good;
  magic[0] = 'X';
  spit(path, magic);
  CHECK_THROWS_WITH_AS(io::load<M>(path), doctest::Contains("bad magic"), format_error);
  spit(path, good);
  using Other = memory<float, S, keys::prefix_encoding, solver::pseudoinverse>;
  CHECK_THROWS_WITH_AS(io::load<Other>(path), doctest::Contains("key policy 'fixed_nearest'"), format_error);
  using Wide = memory<double, S, keys::fixed_nearest, solver::pseudoinverse>;
  CHECK_THROWS_WITH_AS(io::load<Wide>(path), doctest::Contains("elements are 4 bytes"), format_error);
  using Sharded = sharded_memory<float, S, keys::fixed_nearest, solver::pseudoinverse>;
  CHECK_THROWS_WITH_AS(io::load<Sharded>(path), doctest::Contains("not a sharded_memory"), format_error);
  // Saving over an existing file and failing leaves the old one intact.
  CHECK_THROWS_AS(io::save(mem, std::filesystem::path("/nonexistent-dir/x.lrm")), io_error);
  CHECK(slurp(path) == good);
  std::filesystem::remove(path);
}

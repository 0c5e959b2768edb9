// The sharded memory: contexts beyond one block, block choice per key policy, and the 1M-token scale.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "helpers.hpp"
#include "larimar/larimar.hpp"

using namespace larimar;
using test::host;

TEST_CASE_TEMPLATE("fixed keys: segments spill into new blocks and each is found and read back exactly", P, LARIMAR_FLOAT_SETUPS) {
  using S = typename P::S;
  sharded_memory<float, S, keys::fixed_nearest, solver::pseudoinverse> mem({.slots = 32, .code_size = 24, .lookup_size = 16});
  const auto z = test::gaussian<float>(150, 24, 31);
  const auto look = test::gaussian<float>(150, 16, 32);
  // Written as three episodes of uneven size: the last block is topped up, then new ones open.
  std::vector<std::size_t> ids;
  for (auto [a, b] : {std::pair<std::size_t, std::size_t>{0, 20}, {20, 90}, {90, 150}}) {
    auto part = mem.write(xt::xtensor<float, 2>(xt::view(z, xt::range(a, b), xt::all())),
                          xt::xtensor<float, 2>(xt::view(look, xt::range(a, b), xt::all())));
    ids.insert(ids.end(), part.begin(), part.end());
  }
  CHECK(mem.block_count() == 5);  // ceil(150 / 32)
  const auto r = mem.read(look);
  for (std::size_t i = 0; i < 150; ++i) {
    CHECK(r.hits[i].entry == ids[i]);
    CHECK(r.hits[i].block == i / 32);
  }
  for (double e : test::row_rel_errors(host(r.latents), z)) CHECK(e < 1e-4);
  mem.forget(ids[40]);
  CHECK(mem.read(xt::xtensor<float, 2>(xt::view(look, xt::range(40, 41), xt::all()))).hits[0].entry != ids[40]);
}

TEST_CASE_TEMPLATE("prefix encoding: blocks of min(K, L) segments, block chosen by the nearest address", P, LARIMAR_DOUBLE_SETUPS) {
  using S = typename P::S;
  sharded_memory<double, S, keys::prefix_encoding, solver::pseudoinverse> mem({.slots = 32, .code_size = 24, .lookup_size = 20});
  CHECK(mem.block_capacity() == 20);
  const auto z = test::gaussian<double>(100, 24, 33);
  const auto prefix = test::gaussian<double>(100, 20, 34);
  const auto ids = mem.write(z, prefix);
  CHECK(mem.block_count() == 5);
  const auto r = mem.read(prefix);
  for (std::size_t i = 0; i < 100; ++i) CHECK(r.hits[i].entry == ids[i]);
  for (double e : test::row_rel_errors(host(r.latents), z)) CHECK(e < 1e-8);
}

TEST_CASE_TEMPLATE("prefix encoding: a block stops taking prefixes once they are dependent, so every read stays exact", P, LARIMAR_DOUBLE_SETUPS) {
  using S = typename P::S;
  // Prefixes of rank 8 in L = 20 (real prefix encodings are numerically dependent long before min(K, L)): a 9th
  // row in a block would make its least-squares write blend. Written in three episodes (the last block topped up).
  sharded_memory<double, S, keys::prefix_encoding, solver::pseudoinverse> mem({.slots = 32, .code_size = 24, .lookup_size = 20});
  const std::size_t N = 100, rank = 8;
  const auto prefix = test::low_rank<double>(N, 20, rank, 41);
  const auto z = test::gaussian<double>(N, 24, 43);
  std::vector<std::size_t> ids;
  for (auto [a, b] : {std::pair<std::size_t, std::size_t>{0, 5}, {5, 61}, {61, 100}}) {
    auto part = mem.write(xt::xtensor<double, 2>(xt::view(z, xt::range(a, b), xt::all())),
                          xt::xtensor<double, 2>(xt::view(prefix, xt::range(a, b), xt::all())));
    ids.insert(ids.end(), part.begin(), part.end());
  }
  CHECK(mem.block_count() == 13);  // ceil(100 / 8): every block holds rank-many rows, none more
  const auto r = mem.read(prefix);
  for (std::size_t i = 0; i < N; ++i) CHECK(r.hits[i].entry == ids[i]);
  for (double e : test::row_rel_errors(host(r.latents), z)) CHECK(e < 1e-8);

  // Without the rule (a block filled to min(K, L) = 20) the same rows blend: what the rule prevents.
  sharded_memory<double, S, keys::prefix_encoding, solver::pseudoinverse> loose(
      {.slots = 32, .code_size = 24, .lookup_size = 20, .write_tolerance = 1e9});
  loose.write(z, prefix);
  CHECK(loose.block_count() == 5);
  const auto worst = test::row_rel_errors(host(loose.read(prefix).latents), z);
  CHECK(*std::max_element(worst.begin(), worst.end()) > 0.1);
}

TEST_CASE_TEMPLATE("prefix encoding: repeated prefixes with the same latent do not cut a block short", P, LARIMAR_FLOAT_SETUPS) {
  using S = typename P::S;
  // A passkey haystack repeats a few filler segments: dependent rows, but a consistent system, so exact.
  sharded_memory<float, S, keys::prefix_encoding, solver::pseudoinverse> mem({.slots = 32, .code_size = 24, .lookup_size = 20});
  const auto distinct_z = test::gaussian<float>(4, 24, 44);
  const auto distinct_p = test::gaussian<float>(4, 20, 45);
  xt::xtensor<float, 2> z = xt::zeros<float>({std::size_t{60}, std::size_t{24}});
  xt::xtensor<float, 2> prefix = xt::zeros<float>({std::size_t{60}, std::size_t{20}});
  for (long i = 0; i < 60; ++i) {
    xt::row(z, i) = xt::row(distinct_z, i % 4);
    xt::row(prefix, i) = xt::row(distinct_p, i % 4);
  }
  mem.write(z, prefix);
  CHECK(mem.block_count() == 3);  // 20 per block, as the rank bound allows
  for (double e : test::row_rel_errors(host(mem.read(prefix).latents), z)) CHECK(e < 1e-4);
}

TEST_CASE_TEMPLATE("prefix encoding: a prefix repeated with another latent cuts one block, not the ones after it", P, LARIMAR_DOUBLE_SETUPS) {
  using S = typename P::S;
  // Row 3 repeats row 1's prefix with its own latent: no block can hold both, so block 0 ends at 3 rows; the
  // independent prefixes after it fill blocks to min(K, L) = 32 as before.
  sharded_memory<double, S, keys::prefix_encoding, solver::pseudoinverse> mem({.slots = 48, .code_size = 12, .lookup_size = 32});
  const std::size_t N = 200;
  auto prefix = test::gaussian<double>(N, 32, 51);
  xt::row(prefix, 3) = xt::row(prefix, 1);
  const auto z = test::gaussian<double>(N, 12, 52);
  const auto ids = mem.write(z, prefix);
  CHECK(mem.block_count() == 1 + (N - 3 + 31) / 32);
  CHECK(test::store_of(mem).fill().size == 32);
  for (double e : test::row_rel_errors(host(mem.read_entries(ids)), z)) CHECK(e < 1e-8);
  // The same with the repeat off by rounding (as the GEMM that makes addresses leaves identical prefixes): found by
  // its direction, not its bits.
  sharded_memory<double, S, keys::prefix_encoding, solver::pseudoinverse> near({.slots = 48, .code_size = 12, .lookup_size = 32});
  auto nudged = prefix;
  nudged(3, 0) *= 1 + 1e-12;
  const auto ids2 = near.write(z, nudged);
  CHECK(near.block_count() == mem.block_count());
  CHECK(test::store_of(near).fill().size == 32);
  for (double e : test::row_rel_errors(host(near.read_entries(ids2)), z)) CHECK(e < 1e-8);
}

TEST_CASE_TEMPLATE("prefix encoding with a 16-bit memory: blocks are judged as they will be stored", P, LARIMAR_FLOAT_SETUPS) {
  using S = typename P::S;
  // Nearly dependent prefixes make a block's mean large; rounded to 16 bits it would read back far off, so the
  // check rounds it first (and cannot ask for less than a few units of the format's roundoff).
  const auto noise = test::gaussian<float>(256, 32, 54, 3e-3);
  const xt::xtensor<float, 2> prefix = test::low_rank<float>(256, 32, 8, 53) + noise;
  const auto z = test::gaussian<float>(256, 16, 55);
  for (precision p : {precision::fp16, precision::bf16}) {
    CAPTURE(std::string(precision_name(p)));
    sharded_memory<float, S, keys::prefix_encoding, solver::pseudoinverse> mem(
        {.slots = 64, .code_size = 16, .lookup_size = 32, .memory_precision = p});
    const auto ids = mem.write(z, prefix);
    const auto err = test::row_rel_errors(host(mem.read_entries(ids)), z);
    CHECK(*std::max_element(err.begin(), err.end()) <= 4 * unit_roundoff(p) * 1.01);
  }
}

TEST_CASE("1M-token scale: 50,000 segments at C = 768 are written and read back") {
  using S = storage::host;  // the device storage runs the same code (tested above); one 1M run keeps CI short
  const std::size_t N = 50000, C = 768;
  sharded_memory<float, S, keys::fixed_nearest, solver::pseudoinverse> mem({.slots = 512, .code_size = C, .seed = 3});
  const auto z = test::gaussian<float>(N, C, 35);
  const auto t0 = std::chrono::steady_clock::now();
  const auto ids = mem.write(z, z);  // full-latent lookups
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  MESSAGE("wrote 50,000 x 768 into " << mem.block_count() << " blocks in " << secs << " s");
  CHECK(mem.size() == N);
  CHECK(mem.block_count() == 98);  // ceil(50000 / 512)
  // A sample of 500 segments spread over every block, through the nearest-neighbour lookup.
  std::vector<std::size_t> rows;
  for (std::size_t i = 0; i < N; i += 100) rows.push_back(i + (i / 100) % 100);
  xt::xtensor<float, 2> q = xt::zeros<float>({rows.size(), C});
  for (std::size_t j = 0; j < rows.size(); ++j) xt::row(q, static_cast<long>(j)) = xt::row(z, static_cast<long>(rows[j]));
  const auto r = mem.read(q);
  for (std::size_t j = 0; j < rows.size(); ++j) {
    CHECK(r.hits[j].entry == ids[rows[j]]);
    CHECK(test::rel_error(xt::xtensor<float, 1>(xt::row(host(r.latents), static_cast<long>(j))),
                          xt::xtensor<float, 1>(xt::row(q, static_cast<long>(j)))) < 1e-4);
  }
}

TEST_CASE("quantized single-query lookups find the same entries as the fp32 scan") {
  using S = storage::host;  // the int8 scan is a host-side structure
  const std::size_t N = 20000, C = 64, L = 256;
  using M = sharded_memory<float, S, keys::fixed_nearest, solver::pseudoinverse>;
  M exact({.slots = 512, .code_size = C, .lookup_size = L});
  M quant({.slots = 512, .code_size = C, .lookup_size = L, .quantized_lookup = true});
  const auto z = test::gaussian<float>(N, C, 36);
  const auto look = test::gaussian<float>(N, L, 37);
  exact.write(z, look);
  const auto ids = quant.write(z, look);
  // Noisy queries (cosine to their source ≈ 0.9): the near ties the int8 shortlist must survive.
  const auto noise = test::gaussian<float>(300, L, 38, 0.5);
  std::size_t agree = 0, own = 0;
  for (std::size_t i = 0; i < 300; ++i) {
    const std::size_t src = (i * 6007) % N;
    xt::xtensor<float, 2> q = xt::view(look, xt::range(src, src + 1), xt::all());
    q += xt::view(noise, xt::range(i, i + 1), xt::all());
    const auto a = exact.read(q), b = quant.read(q);
    agree += a.hits[0].entry == b.hits[0].entry;
    own += b.hits[0].entry == ids[src];
    CHECK(b.hits[0].score == doctest::Approx(a.hits[0].score).epsilon(1e-5));
  }
  CHECK(agree == 300);
  CHECK(own == 300);
}

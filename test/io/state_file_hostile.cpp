// State files as hostile input: every crafted file (re-stamped checksum, so the parser sees the edit) is refused
// fast with a format_error naming what is wrong, or loads into a memory that works; nothing else happens.
#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../fuzz/state_file_types.hpp"
#include "../memory/helpers.hpp"
#include "larimar/larimar.hpp"
#include "larimar/tokenizer/unicode.hpp"

using namespace larimar;
using test::host;

namespace {

using M = memory<float, storage::host, keys::fixed_nearest, solver::pseudoinverse>;
using Sharded = sharded_memory<float, storage::host, keys::fixed_nearest, solver::pseudoinverse>;
using bytes_t = std::vector<char>;

std::filesystem::path temp_path(const std::string& name) {
  return std::filesystem::temp_directory_path() / ("larimar-hostile-" + std::to_string(::getpid()) + "-" + name);
}
bytes_t slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}
void spit(const std::filesystem::path& p, const bytes_t& b) {
  std::ofstream(p, std::ios::binary).write(b.data(), static_cast<std::streamsize>(b.size()));
}
// The CRC trailer recomputed, so that an edit reaches the parser instead of stopping at the checksum.
bytes_t restamped(bytes_t b) {
  if (b.size() < 4) return b;
  const std::uint32_t crc = io::crc32(b.data(), b.size() - 4);
  std::memcpy(b.data() + b.size() - 4, &crc, 4);
  return b;
}
template <class V>
bytes_t with(bytes_t b, std::size_t at, V v) {
  std::memcpy(b.data() + at, &v, sizeof(V));
  return restamped(std::move(b));
}
template <class V>
V read_at(const bytes_t& b, std::size_t at) {
  V v;
  std::memcpy(&v, b.data() + at, sizeof(V));
  return v;
}

// Where the fields of a version-2 file of a one-block memory<float> with fixed keys are (docs/formats.md).
struct layout {
  std::size_t K, C, L, n;
  static constexpr std::size_t e = sizeof(float);
  static constexpr std::size_t slots = 84, code_size = 92, lookup_size = 100, addresses = 116, next_entry = 164,
                               key_rows = 196, key_cols = 204, key_data = 212;
  std::size_t block_count() const { return key_data + K * K * e; }
  std::size_t mode() const { return block_count() + 8; }
  std::size_t entries() const { return mode() + 4; }
  std::size_t mean() const { return entries() + 8; }
  std::size_t covariance() const { return mean() + K * C * e; }
  std::size_t address_rows() const { return covariance() + K * K * e; }
  std::size_t latents() const { return address_rows() + n * K * e; }
  std::size_t entry_ids() const { return latents() + n * C * e; }
  std::size_t slot_ids() const { return entry_ids() + 8 * n; }
  std::size_t slot_map_size() const { return slot_ids() + 8 * n; }
  std::size_t slot_map() const { return slot_map_size() + 8; }
  std::size_t index_rows() const { return slot_map() + K; }
  std::size_t index_dim() const { return index_rows() + 8; }
  std::size_t index_data() const { return index_dim() + 8; }
  std::size_t index_entries() const { return index_data() + n * L * e; }
  std::size_t size() const { return index_entries() + 8 * n + 4; }
};

// What loading `b` (as if read from `path`) does: the message of its format_error ("" if it loaded), and how long it took.
struct outcome {
  std::string message;
  double seconds;
  bool loaded;
};
template <class Memory = M>
outcome load_outcome(const std::filesystem::path& path, const bytes_t& b) {
  const auto t0 = std::chrono::steady_clock::now();
  outcome out{"", 0, false};
  try {
    (void)io::load_bytes<Memory>(b, {}, path.string());
    out.loaded = true;
  } catch (const format_error& e) {
    out.message = e.what();
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}
// Refused with a format_error whose message contains `what`, in under a second.
template <class Memory = M>
void refused(const std::filesystem::path& path, const bytes_t& b, const std::string& what) {
  const auto o = load_outcome<Memory>(path, b);
  CAPTURE(o.message);
  CHECK_FALSE(o.loaded);
  CHECK(o.message.find(what) != std::string::npos);
  CHECK(o.seconds < 1.0);
}

// Runs fn in a child process and says whether it returned true within `seconds` (a call that would block forever
// fails the test instead of hanging it).
template <class Fn>
bool in_child_within(double seconds, Fn fn) {
  const ::pid_t child = ::fork();
  if (child == 0) ::_exit(fn() ? 0 : 1);
  const auto t0 = std::chrono::steady_clock::now();
  int status = 0;
  while (::waitpid(child, &status, WNOHANG) == 0) {
    if (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() > seconds) {
      ::kill(child, SIGKILL);
      ::waitpid(child, &status, 0);
      return false;
    }
    ::usleep(10'000);
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

struct fixture {
  static constexpr std::size_t K = 16, C = 8, L = 6, n = 10;
  layout at{K, C, L, n};
  xt::xtensor<float, 2> z = test::gaussian<float>(n, C, 71), look = test::gaussian<float>(n, L, 72);
  M mem{{.slots = K, .code_size = C, .lookup_size = L, .seed = 3}};
  std::filesystem::path path = temp_path("m.lrm");
  bytes_t good;
  fixture() {
    mem.write(z, look);
    io::save(mem, path);
    good = slurp(path);
    REQUIRE(good.size() == at.size());
  }
  ~fixture() { std::filesystem::remove(path); }
  void refused(const bytes_t& b, const std::string& what) const { ::refused<M>(path, b, what); }
  outcome load(const bytes_t& b) const { return load_outcome<M>(path, b); }
};

}  // namespace

TEST_CASE("crafted dimensions are refused before any work, naming the field") {
  fixture f;
  const auto& at = f.at;
  // slots = 8000 once cost 39 s of key drawing (an 8000 x 8000 QR) before the sizes were checked; 10^6 ran out
  // of memory. Now the stored key matrix must match the config and fit in the file before anything is made.
  f.refused(with<std::uint64_t>(f.good, at.slots, 8000), "expected 8000x8000 for slots = 8000");
  f.refused(with<std::uint64_t>(f.good, at.slots, 1'000'000), "slots = 1000000");
  f.refused(with<std::uint64_t>(f.good, at.slots, std::uint64_t{1} << 62), "does not fit in memory");
  // The key matrix claiming the size too: the bytes are not there.
  auto big = with<std::uint64_t>(f.good, at.slots, 8000);
  big = with<std::uint64_t>(big, at.key_rows, 8000);
  big = with<std::uint64_t>(big, at.key_cols, 8000);
  f.refused(big, "8000 x 8000 items of 4 bytes do not fit");
  f.refused(with<std::uint64_t>(f.good, at.addresses, 5'000'000), "addresses = 5000000");
  // code_size only shows in the blocks: a block of 16 x 2^40 values is not in the file.
  f.refused(with<std::uint64_t>(f.good, at.code_size, std::uint64_t{1} << 40), "code_size = 1099511627776");
  f.refused(with<std::uint64_t>(f.good, at.lookup_size, 1u << 30), "index vectors have 6 values, expected 1073741824");
  f.refused(with<std::uint64_t>(f.good, at.block_count(), std::uint64_t{1} << 40), "block count");
  f.refused(with<std::uint64_t>(f.good, at.entries(), std::uint64_t{1} << 50), "block 0 entries");
  f.refused(with<std::uint64_t>(f.good, at.slot_map_size(), std::uint64_t{1} << 60), "block 0 slot map");
  f.refused(with<std::uint64_t>(f.good, at.index_rows(), std::uint64_t{1} << 58), "the index");
  f.refused(with<std::uint64_t>(f.good, at.next_entry, std::uint64_t{1} << 63), "entry counter");
  // Every one-byte length or count field near its edge: the same, never a crash or a bad_alloc.
  for (const std::size_t field : {at.slots, at.code_size, at.lookup_size, at.addresses, at.key_rows, at.key_cols,
                                  at.block_count(), at.entries(), at.slot_map_size(), at.index_rows(), at.index_dim()})
    for (const std::uint64_t v : {std::uint64_t{0}, std::uint64_t{1}, read_at<std::uint64_t>(f.good, field) + 1,
                                  std::numeric_limits<std::uint64_t>::max(), std::uint64_t{1} << 32}) {
      CAPTURE(field);
      CAPTURE(v);
      if (v == read_at<std::uint64_t>(f.good, field)) continue;
      const auto o = f.load(with(f.good, field, v));
      CHECK_FALSE(o.loaded);
      CHECK(o.seconds < 1.0);
    }
}

TEST_CASE("in a file large enough to pass per-field checks, crafted slots are refused in milliseconds") {
  // 8 MB (1024 x 1024 keys): slots = 8000 once spent a minute drawing an 8000 x 8000 orthonormal key matrix
  // before it was refused, slots = 10^6 threw std::bad_alloc; checked as products against the file, both fail fast.
  M big({.slots = 1024, .code_size = 16, .lookup_size = 8, .seed = 3});
  big.write(test::gaussian<float>(4, 16, 81), test::gaussian<float>(4, 8, 82));
  const auto path = temp_path("big.lrm");
  io::save(big, path);
  const auto good = slurp(path);
  std::filesystem::remove(path);
  REQUIRE(good.size() > 8'000'000);
  refused(path, with<std::uint64_t>(good, layout::slots, 8000), "expected 8000x8000 for slots = 8000");
  refused(path, with<std::uint64_t>(good, layout::slots, 1'000'000), "expected 1000000x1000000 for slots = 1000000");
  auto claimed = with<std::uint64_t>(good, layout::slots, 8000);
  claimed = with<std::uint64_t>(claimed, layout::key_rows, 8000);
  refused(path, with<std::uint64_t>(claimed, layout::key_cols, 8000), "8000 x 8000 items of 4 bytes do not fit");
  CHECK(io::load_bytes<M>(good).size() == 4);
}

TEST_CASE("a state file truncated at any byte is refused, with or without a re-stamped checksum") {
  fixture f;
  for (std::size_t cut = 0; cut < f.good.size(); ++cut) {
    CAPTURE(cut);
    const bytes_t part(f.good.begin(), f.good.begin() + static_cast<long>(cut));
    CHECK_FALSE(f.load(part).loaded);
    CHECK_FALSE(f.load(restamped(part)).loaded);
  }
}

TEST_CASE("byte flips with a re-stamped checksum load into a working memory or are refused") {
  fixture f;
  splitmix64 rng(99);
  std::size_t loaded = 0, refused = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    auto b = f.good;
    const std::size_t at = rng.next() % (b.size() - 4);
    b[at] = static_cast<char>(b[at] ^ static_cast<char>(1u << (rng.next() % 8)));
    CAPTURE(at);
    try {
      auto m = io::load_bytes<M>(restamped(b));
      ++loaded;
      // What loaded is a memory that keeps its invariants: a read, a forget and a write all behave.
      if (!m.empty()) {
        const auto r = m.read(f.look);
        CHECK(r.hits.size() == f.n);
        m.forget(r.hits[0].entry);
      }
      try {
        const auto ids = m.write(xt::xtensor<float, 2>(xt::view(f.z, xt::range(0, 1), xt::all())),
                                 xt::xtensor<float, 2>(xt::view(f.look, xt::range(0, 1), xt::all())));
        CHECK(m.contains(ids[0]));
      } catch (const state_error& e) {  // a flip to the sequential mode: a one-shot write is refused, as it should be
        CHECK(std::string(e.what()).find("written sequentially") != std::string::npos);
      }
    } catch (const format_error&) {
      ++refused;
    }
  }
  MESSAGE("flips: " << loaded << " loaded, " << refused << " refused");
  CHECK(loaded > 0);  // payload bits (a latent's low bits) are no inconsistency
  CHECK(refused > 0);
}

TEST_CASE("slot maps, slots, entries and index that disagree are refused, naming what disagrees") {
  fixture f;
  const auto& at = f.at;
  // The used-slot map zeroed: it once loaded, and the next write overwrote the slots of entries 0, 1, ...
  auto zeroed = f.good;
  std::memset(zeroed.data() + at.slot_map(), 0, f.K);
  f.refused(restamped(zeroed), "marks slot");
  f.refused(restamped(zeroed), "free, but entry row");
  // A slot marked used that holds no entry (10 entries in 16 slots: slot 15 is free).
  REQUIRE(f.good[at.slot_map() + 15] == 0);
  f.refused(with<std::uint8_t>(f.good, at.slot_map() + 15, 1), "marks slot 15 used, but no entry is written there");
  f.refused(with<std::uint8_t>(f.good, at.slot_map() + 0, 7), "slot map value 7");
  // Two entries at one slot, a slot past the addresses.
  const auto slot1 = read_at<std::uint64_t>(f.good, at.slot_ids() + 8);
  f.refused(with<std::uint64_t>(f.good, at.slot_ids(), slot1), "share slot");
  f.refused(with<std::uint64_t>(f.good, at.slot_ids(), 16), "beyond its 16 addresses");
  // Entry ids: written twice, unknown to the index, at or past the counter.
  const auto entry1 = read_at<std::uint64_t>(f.good, at.entry_ids() + 8);
  f.refused(with<std::uint64_t>(f.good, at.entry_ids(), entry1), "is written twice");
  f.refused(with<std::uint64_t>(f.good, at.index_entries(), 999), "index row 0 names entry 999, which no block holds");
  f.refused(with<std::uint64_t>(f.good, at.index_entries(), entry1), "index rows name entry 1 twice");
  f.refused(with<std::uint64_t>(f.good, at.next_entry, 5), "is not below the entry counter 5");
  // A block with entries and no write mode.
  f.refused(with<std::uint32_t>(f.good, at.mode(), 0), "holds entries but no write mode");
  f.refused(with<std::uint32_t>(f.good, at.mode(), 9), "unknown write mode 9");
}

TEST_CASE("a memory file with two blocks, or a sharded one whose blocks disagree, is refused") {
  Sharded mem({.slots = 8, .code_size = 4, .lookup_size = 4, .seed = 5});
  const auto z = test::gaussian<float>(12, 4, 73), look = test::gaussian<float>(12, 4, 74);
  mem.write(z, look);
  REQUIRE(mem.block_count() == 2);
  const auto path = temp_path("two.lrm");
  io::save(mem, path);
  const auto good = slurp(path);
  refused(path, with<std::uint32_t>(good, 12, 1), "a memory holds one block, the file has 2");
  // Block 1's first entry id made block 0's: one entry in two blocks.
  const layout first{8, 4, 4, 8};
  const std::size_t block1 = first.index_rows();
  const std::size_t block1_entries = block1 + 12 + (8 * 4 + 8 * 8) * 4 + 4 * (8 + 4) * 4;
  REQUIRE(read_at<std::uint64_t>(good, block1_entries) == 8);
  refused<Sharded>(path, with<std::uint64_t>(good, block1_entries, 0), "entry 0 is written twice (block 0 and block 1)");
  std::filesystem::remove(path);
}

TEST_CASE("extra lookup rows (version 3) whose owners, ordinals or counts disagree are refused, naming what") {
  fixture f;
  const auto& at = f.at;
  // Four extra rows: two for row 1, one each for rows 5 and 9 (entries 1, 1, 5, 9; ordinals 1, 2, 1, 1).
  const std::vector<std::size_t> rows{1, 1, 5, 9};
  const auto extra = test::gaussian<float>(rows.size(), fixture::L, 75);
  M mem({.slots = fixture::K, .code_size = fixture::C, .lookup_size = fixture::L, .seed = 3});
  mem.write(f.z, f.look, extra_lookups<float>{extra, rows});
  const bytes_t good = io::detail::encode(mem);
  const std::size_t count = at.size() - 4, vectors = count + 8, owners = vectors + rows.size() * fixture::L * 4,
                    ordinals = owners + 8 * rows.size();
  REQUIRE(good.size() == ordinals + 8 * rows.size() + 4);
  REQUIRE(read_at<std::uint32_t>(good, 8) == 3);
  REQUIRE(read_at<std::uint64_t>(good, count) == rows.size());
  REQUIRE(read_at<std::uint64_t>(good, owners + 8) == 1);
  REQUIRE(read_at<std::uint64_t>(good, ordinals + 8) == 2);
  CHECK(io::load_bytes<M>(good).extra_lookup_count() == rows.size());
  f.refused(with<std::uint64_t>(good, owners, 999), "extra lookup row 0 names entry 999, which no block holds");
  f.refused(with<std::uint64_t>(good, ordinals, 0), "extra lookup row 0 has ordinal 0");
  f.refused(with<std::uint64_t>(good, ordinals + 8, 1), "extra lookup rows name entry 1's row 1 twice");
  f.refused(with<std::uint64_t>(good, ordinals + 16, std::uint64_t{1} << 40), "has ordinal 1099511627776");
  f.refused(with<std::uint64_t>(good, count, std::uint64_t{1} << 58), "the extra lookup rows");
  f.refused(with<std::uint64_t>(good, count, 0), "holds extra lookup rows, this one none");
  f.refused(with<std::uint64_t>(good, count, 3), "unexpected trailing bytes");
  f.refused(with(good, vectors + 4 * 7, std::numeric_limits<float>::quiet_NaN()), "extra lookup vectors");
  f.refused(with<std::uint32_t>(good, 8, 4), "unsupported version 4");
  f.refused(with<std::uint32_t>(f.good, 8, 3), "load ");  // a version-2 body read as 3: its section is missing
  for (std::size_t n = 0; n + 1 < good.size(); n += 7) {
    CAPTURE(n);
    CHECK_FALSE(load_outcome<M>(f.path, restamped(bytes_t(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n)))).loaded);
  }
  // A key policy whose index holds no lookups takes no extra rows: a prefix-encoding file given a well-formed
  // section (one row of its index's K values, owner entry 0, ordinal 1) is refused.
  using P = memory<float, storage::host, keys::prefix_encoding, solver::pseudoinverse>;
  P pre({.slots = fixture::K, .code_size = fixture::C, .lookup_size = fixture::L, .seed = 3});
  pre.write(f.z, f.look);
  bytes_t grafted = io::detail::encode(pre);
  grafted.resize(grafted.size() - 4);
  auto put = [&grafted](auto v) {
    const auto* b = reinterpret_cast<const char*>(&v);
    grafted.insert(grafted.end(), b, b + sizeof(v));
  };
  put(std::uint64_t{1});
  for (std::size_t i = 0; i < fixture::K; ++i) put(i == 0 ? 1.0f : 0.0f);
  put(std::uint64_t{0});
  put(std::uint64_t{1});
  grafted.resize(grafted.size() + 4);
  const std::uint32_t three = 3;
  std::memcpy(grafted.data() + 8, &three, 4);
  refused<P>(f.path, restamped(grafted), "key policy prefix_encoding takes none");
}

TEST_CASE("non-finite values in a state file are refused, naming where they are") {
  fixture f;
  const auto& at = f.at;
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  f.refused(with(f.good, at.mean() + 4 * 5, nan), "block 0 mean holds a non-finite value (nan) at element 5");
  f.refused(with(f.good, at.covariance(), -inf), "block 0 covariance holds a non-finite value (-inf)");
  f.refused(with(f.good, at.address_rows() + 4, inf), "block 0 addresses holds a non-finite value");
  f.refused(with(f.good, at.latents(), nan), "block 0 latents");
  f.refused(with(f.good, at.key_data + 4 * 17, nan), "the key matrix");
  f.refused(with(f.good, at.key_data + 4 * 17, nan), "at element 17");
  f.refused(with(f.good, at.index_data(), nan), "index vectors");
  f.refused(with(f.good, std::size_t{140}, std::numeric_limits<double>::infinity()), "memory_logvar is not finite");
}

TEST_CASE("a failed load leaves the memory it was to replace as it was") {
  fixture f;
  M target({.slots = 16, .code_size = 8, .lookup_size = 6, .seed = 3});
  const auto z = test::gaussian<float>(4, 8, 75), look = test::gaussian<float>(4, 6, 76);
  const auto ids = target.write(z, look);
  const auto before = host(target.read(look).latents);
  auto bad = f.good;
  std::memset(bad.data() + f.at.slot_map(), 0, f.K);
  spit(f.path, restamped(bad));
  CHECK_THROWS_AS(target = io::load<M>(f.path), format_error);
  CHECK(target.size() == 4);
  CHECK(target.contains(ids[3]));
  CHECK(xt::amax(xt::abs(host(target.read(look).latents) - before))() == 0.0f);
  // The file that was refused is still there, untouched.
  CHECK(slurp(f.path) == restamped(bad));
}

TEST_CASE("a key policy or solver name with a NUL or invalid UTF-8 is quoted escaped in the message") {
  fixture f;
  auto b = f.good;
  const char name[] = "fixed\0near\xff\xfe";
  std::memcpy(b.data() + 20, name, sizeof name);  // the key policy field: "fixed" ends at the NUL
  f.refused(restamped(b), "key policy 'fixed'");
  b = f.good;
  const char bad[] = "fix\xff\x01\n";
  std::memcpy(b.data() + 20, bad, sizeof bad);
  const auto o = f.load(restamped(b));
  CHECK(o.message.find(R"(key policy 'fix\xff\x01\n')") != std::string::npos);
  CHECK(tokenizer::unicode::is_valid_utf8(o.message));
}

TEST_CASE("a state file whose memory has no blocks loads without making its K x C prior") {
  // An empty memory's file holds its key matrix only; its prior M0 (K x C) is made by the first write, so a
  // file of a few kilobytes cannot make the loader allocate code_size times more.
  using P = memory<float, storage::host, keys::prefix_encoding, solver::pseudoinverse>;
  P empty({.slots = 8, .code_size = 4, .lookup_size = 2, .prior = prior_kind::gaussian});
  const auto path = temp_path("empty.lrm");
  io::save(empty, path);
  auto b = slurp(path);
  const std::size_t key_bytes = 2 * 8 * sizeof(float);
  REQUIRE(b.size() == 212 + key_bytes + 8 + 16 + 4);
  const auto t0 = std::chrono::steady_clock::now();
  auto loaded = io::load<P>(path);  // the real file: loads, and works
  CHECK(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < 1.0);
  // Its prior, before any write, is the one the saved memory had (made on the spot, not kept).
  CHECK(xt::amax(xt::abs(host(loaded.mean()) - host(empty.mean())))() == 0.0f);
  const auto z = test::gaussian<float>(2, 4, 77), p = test::gaussian<float>(2, 2, 78);
  loaded.write(z, p);
  empty.write(z, p);
  CHECK(xt::amax(xt::abs(host(loaded.mean()) - host(empty.mean())))() == 0.0f);
  // code_size 2^33 in the same 300 bytes: loads fast (nothing K x C is made); the first write asks for the memory.
  spit(path, with<std::uint64_t>(b, 92, std::uint64_t{1} << 33));
  const auto t1 = std::chrono::steady_clock::now();
  auto huge = io::load<P>(path);
  CHECK(std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count() < 1.0);
  CHECK(huge.config().code_size == std::uint64_t{1} << 33);
  CHECK(huge.empty());
  std::filesystem::remove(path);
}

TEST_CASE("load refuses a directory or a FIFO with an io_error naming it") {
  const auto dir = temp_path("dir.lrm");
  std::filesystem::create_directories(dir);
  // A directory once reached read_whole, which trusted tellg(): std::bad_alloc, and an ASan abort.
  CHECK_THROWS_WITH_AS(io::load<M>(dir), doctest::Contains((dir.string() + "' is a directory, not a regular file").c_str()),
                       io_error);
  std::filesystem::remove(dir);
  // A FIFO would block the open until a writer came: refused at once (in a child, so that a block fails the test).
  const auto fifo = temp_path("fifo.lrm");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  const auto refuses = [&](auto open) {
    return in_child_within(5.0, [&] {
      try {
        open();
      } catch (const io_error& e) {
        return std::string(e.what()).find("is a FIFO, not a regular file") != std::string::npos;
      }
      return false;
    });
  };
  CHECK(refuses([&] { (void)io::load<M>(fifo); }));
  CHECK(refuses([&] { (void)io::safetensors_file::open(fifo); }));
  CHECK(refuses([&] { (void)tokenizer::wordpiece::from_file(fifo); }));
  std::filesystem::remove(fifo);
}

TEST_CASE("the fuzz target's seeds are real saves of every type it loads: each loads and saves back the same") {
  const auto dir = std::filesystem::path(LARIMAR_FUZZ_CORPUS_DIR) / "state_file";
  std::size_t seen[fuzzing::state_type_count] = {};
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    CAPTURE(entry.path().string());
    const auto b = slurp(entry.path());
    REQUIRE(b.size() > 13);
    const auto selector = static_cast<std::uint8_t>(b[0]);
    const bytes_t file(b.begin() + 1, b.end());
    ++seen[(selector & 0x7f) % fuzzing::state_type_count];
    fuzzing::with_state_type(selector, [&]<class Memory>(std::type_identity<Memory>) {
      const auto mem = io::load_bytes<Memory>(file);
      if (read_at<std::uint32_t>(file, 8) >= 2) CHECK(io::detail::encode(mem) == file);  // a version-1 file saves as 2
    });
  }
  for (const std::size_t n : seen) CHECK(n > 0);
}

TEST_CASE("the fuzzer's finds stay rejected: fuzz/regressions/state_file/ (format_error, never a crash)") {
  // Inputs that once escaped the loader (the file name says how); each must now be refused as a format_error.
  const auto dir = std::filesystem::path(LARIMAR_FUZZ_CORPUS_DIR).parent_path() / "regressions" / "state_file";
  std::size_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    CAPTURE(entry.path().string());
    const auto b = slurp(entry.path());
    REQUIRE(!b.empty());
    const auto selector = static_cast<std::uint8_t>(b[0]);
    bytes_t file(b.begin() + 1, b.end());
    if ((selector & fuzzing::restamp_bit) != 0 && file.size() >= 4) {  // as the fuzz target does
      const std::uint32_t crc = io::crc32(file.data(), file.size() - 4);
      std::memcpy(file.data() + file.size() - 4, &crc, 4);
    }
    fuzzing::with_state_type(selector, [&]<class Memory>(std::type_identity<Memory>) {
      CHECK_THROWS_AS(io::load_bytes<Memory>(file), format_error);
    });
    ++n;
  }
  CHECK(n >= 1);
}

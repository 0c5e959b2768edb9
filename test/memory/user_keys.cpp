// Key policies defined here, outside the library, work with memory and sharded_memory unchanged: the memory asks a
// policy only what keys/concepts.hpp names. Two shapes of policy: one whose queries are matched to an entry and
// read at its key (as fixed_nearest), one whose queries carry their own address (as prefix_encoding).
#include <doctest/doctest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

#include "helpers.hpp"
#include "larimar/io/state_file.hpp"
#include "larimar/keys/concepts.hpp"
#include "larimar/memory/memory.hpp"
#include "larimar/memory/sharded_memory.hpp"
#include "larimar/solver/pseudoinverse.hpp"
#include "temp_path.hpp"

using namespace larimar;
using test::host;

namespace {

// One-hot keys: slot s is written at e_s, so row s of M is the latent of slot s; a query is matched to the entry
// with the nearest lookup vector and reads at that entry's key. Orthonormal: the write is additive.
struct one_hot {
  static constexpr const char* name = "test_one_hot";
  static constexpr bool lookups_are_latents = false;
  static constexpr bool shardable = true;
  static std::size_t lookup_cols(const memory_config& cfg) { return cfg.lookup_dim(); }
  static std::size_t index_dim(const memory_config& cfg) { return cfg.lookup_dim(); }
  static std::pair<std::size_t, std::size_t> address_matrix_shape(const memory_config& cfg) {
    return {cfg.slots, cfg.slots};
  }

  template <class T, class S>
  class state {
   public:
    using matrix = typename S::template matrix<T>;
    explicit state(const memory_config& cfg) : keys_(S::template make<T>(cfg.slots, cfg.slots)) {
      S::linalg::set_identity(S::data(keys_), cfg.slots, cfg.slots, T(1));
    }
    std::size_t address_count() const { return S::rows(keys_); }
    const matrix& address_matrix() const { return keys_; }
    matrix& address_matrix() { return keys_; }
    bool orthonormal() const { return true; }
    std::size_t block_capacity(const memory_config&, std::size_t) const { return address_count(); }
    std::size_t slot_map_size() const { return address_count(); }
    void free_slots(std::span<const std::uint8_t> used, std::span<const std::size_t>, std::size_t, std::size_t wanted,
                    std::vector<std::size_t>& out) const {
      for (std::size_t s = 0; s < address_count() && out.size() < wanted; ++s)
        if (used.empty() || used[s] == 0) out.push_back(s);
    }
    void write_addresses(std::span<const std::size_t> slots, const T*, const T*, std::size_t n, T* out) const {
      const std::size_t k = S::cols(keys_);
      for (std::size_t i = 0; i < n; ++i) S::copy(S::data(keys_) + slots[i] * k, k, out + i * k);
    }
    const T* index_vectors(const T* lookups, const T*) const { return lookups; }
    matrix query_addresses(const T*, std::size_t, const T*) const { return S::template make<T>(0, S::cols(keys_)); }

   private:
    matrix keys_;
  };
};

// Direct addresses: the caller's lookup vector (of length K) is the address, for writes and queries alike; the index
// holds the addresses and a query reads at its own one in the block of its nearest entry. A block holds K entries,
// the most whose addresses can be independent.
struct direct {
  static constexpr const char* name = "test_direct";
  static constexpr bool lookups_are_latents = false;
  static constexpr bool shardable = true;
  static std::size_t lookup_cols(const memory_config& cfg) { return cfg.slots; }
  static std::size_t index_dim(const memory_config& cfg) { return cfg.slots; }
  static std::pair<std::size_t, std::size_t> address_matrix_shape(const memory_config& cfg) {
    return {cfg.slots, cfg.slots};
  }

  template <class T, class S>
  class state {
   public:
    using matrix = typename S::template matrix<T>;
    explicit state(const memory_config& cfg) : identity_(S::template make<T>(cfg.slots, cfg.slots)) {
      S::linalg::set_identity(S::data(identity_), cfg.slots, cfg.slots, T(1));
    }
    std::size_t address_count() const { return S::cols(identity_); }
    const matrix& address_matrix() const { return identity_; }
    matrix& address_matrix() { return identity_; }
    bool orthonormal() const { return false; }
    std::size_t block_capacity(const memory_config& cfg, std::size_t max_blocks) const {
      return max_blocks == 1 ? std::numeric_limits<std::size_t>::max() : cfg.slots;
    }
    std::size_t slot_map_size() const { return 0; }
    void free_slots(std::span<const std::uint8_t>, std::span<const std::size_t> taken, std::size_t room,
                    std::size_t wanted, std::vector<std::size_t>& out) const {
      const std::size_t next = taken.empty() ? 0 : *std::max_element(taken.begin(), taken.end()) + 1;
      for (std::size_t i = 0; i < std::min(room, wanted); ++i) out.push_back(next + i);
    }
    void write_addresses(std::span<const std::size_t>, const T*, const T* lookups, std::size_t n, T* out) const {
      S::copy(lookups, n * address_count(), out);
    }
    const T* index_vectors(const T*, const T* addresses) const { return addresses; }
    matrix query_addresses(const T* queries, std::size_t q, const T*) const {
      auto w = S::template make<T>(q, address_count());
      S::copy(queries, q * address_count(), S::data(w));
      return w;
    }

   private:
    matrix identity_;
  };
};

static_assert(key_policy<one_hot, float, storage::host> && key_policy<direct, double, storage::host>);
static_assert(!keys::mean_addressed<one_hot, float, storage::host> && !keys::exact_filling<direct, float, storage::host>);

using larimar::test::temp_path;

constexpr std::size_t K = 16, C = 12;

template <class Memory>
void write_read_forget_save_load(std::size_t n, std::size_t blocks, const char* file) {
  using T = typename Memory::value_type;
  Memory mem({.slots = K, .code_size = C, .lookup_size = K, .seed = 3});
  const auto z = test::gaussian<T>(n, C, 11);
  const auto look = test::gaussian<T>(n, K, 12);
  const auto ids = mem.write(z, look);
  REQUIRE(ids.size() == n);
  CHECK(mem.size() == n);
  if constexpr (requires { mem.block_count(); }) CHECK(mem.block_count() == blocks);

  // read: every query finds its entry and reads its latent back (at most K entries per block: exact)
  const auto r = mem.read(look);
  const auto zr = host(r.latents);
  for (std::size_t i = 0; i < n; ++i) {
    CHECK(r.hits[i].entry == ids[i]);
    CHECK(test::rel_error(xt::xtensor<T, 1>(xt::row(zr, static_cast<long>(i))),
                          xt::xtensor<T, 1>(xt::row(z, static_cast<long>(i)))) < 1e-4);
  }
  // top-k: the entry first, three distinct entries per query
  const auto top = mem.read(look, 3);
  CHECK(top.k == 3);
  for (std::size_t i = 0; i < n; ++i) {
    const auto h = top.hits_of(i);
    CHECK(h[0].entry == ids[i]);
    CHECK(h[1].entry != h[0].entry);
    CHECK(h[2].entry != h[1].entry);
  }
  // forget: the entry is gone, the others still read back
  mem.forget(ids[2]);
  CHECK(mem.size() == n - 1);
  CHECK_FALSE(mem.contains(ids[2]));
  const auto after = mem.read(look);
  CHECK(after.hits[2].entry != ids[2]);
  CHECK(after.hits[3].entry == ids[3]);

  // a state file: the same reads to the bit, and the loaded memory keeps working
  const auto path = temp_path(file);
  io::save(mem, path);
  auto loaded = io::load<Memory>(path);
  std::filesystem::remove(path);
  CHECK(loaded.size() == mem.size());
  const auto a = host(mem.read(look).latents), b = host(loaded.read(look).latents);
  CHECK(std::equal(a.begin(), a.end(), b.begin()));
  const auto more = loaded.write(xt::xtensor<T, 2>(xt::view(z, xt::range(0, 1), xt::all())),
                                 xt::xtensor<T, 2>(xt::view(look, xt::range(0, 1), xt::all())));
  CHECK(more.front() == ids.back() + 1);
}

}  // namespace

TEST_CASE_TEMPLATE("a key policy defined outside the library works with a memory", Keys, one_hot, direct) {
  write_read_forget_save_load<memory<float, storage::host, Keys, solver::pseudoinverse>>(10, 1, "user-keys.lrm");
  write_read_forget_save_load<memory<double, storage::device, Keys, solver::pseudoinverse>>(10, 1, "user-keys-d.lrm");
}

TEST_CASE_TEMPLATE("a key policy defined outside the library works with a sharded memory", Keys, one_hot, direct) {
  write_read_forget_save_load<sharded_memory<float, storage::host, Keys, solver::pseudoinverse>>(40, 3, "user-keys-s.lrm");
  write_read_forget_save_load<sharded_memory<double, storage::device, Keys, solver::pseudoinverse>>(40, 3,
                                                                                                    "user-keys-sd.lrm");
}

TEST_CASE("a state file of one key policy is refused by a memory of another, by name") {
  using A = memory<float, storage::host, one_hot, solver::pseudoinverse>;
  using B = memory<float, storage::host, direct, solver::pseudoinverse>;
  A mem({.slots = K, .code_size = C, .lookup_size = K});
  mem.write(test::gaussian<float>(4, C, 1), test::gaussian<float>(4, K, 2));
  const auto path = temp_path("user-keys-other.lrm");
  io::save(mem, path);
  CHECK_THROWS_WITH_AS(io::load<B>(path), doctest::Contains("written with key policy 'test_one_hot'"), format_error);
  std::filesystem::remove(path);
}

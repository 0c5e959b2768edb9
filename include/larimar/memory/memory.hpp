#pragma once
// larimar::memory — one block of K slots: Larimar's episodic memory with its key, solver and storage policies.
//
//   using Memory = larimar::memory<float, larimar::storage::host, larimar::keys::fixed_nearest,
//                                  larimar::solver::pseudoinverse>;
//   Memory mem{{.slots = 512, .code_size = 768, .seed = 7}};
//   auto ids = mem.write(latents, lookups);     // N×C and N×L, one row per segment
//   auto r = mem.read(query_lookups);           // r.latents: Q×C, r.hits: which entry each query matched
//
// A memory holds at most as many segments as its key policy has addresses; sharded_memory grows past that.
#include <cstddef>
#include <span>
#include <vector>

#include "larimar/core/config.hpp"
#include "larimar/keys/concepts.hpp"
#include "larimar/memory/detail/episodic_store.hpp"
#include "larimar/solver/concepts.hpp"
#include "larimar/storage/concepts.hpp"

namespace larimar {

template <class T, class Storage, class Keys, class Solver>
concept memory_policies =
    (std::same_as<T, float> || std::same_as<T, double>) && storage_policy<Storage, T> &&
    key_policy<Keys, T, Storage> && solver_policy<Solver, T, Storage>;

template <class T, class Storage, class Keys, class Solver>
  requires memory_policies<T, Storage, Keys, Solver>
class memory {
  using store = detail::episodic_store<T, Storage, Keys, Solver>;

 public:
  using value_type = T;
  using storage_type = Storage;
  using keys_type = Keys;
  using solver_type = Solver;
  using matrix = typename Storage::template matrix<T>;
  using read_result = typename store::read_result;

  explicit memory(const memory_config& cfg, Solver solver = {}) : store_(cfg, 1, std::move(solver), "memory") {}

  // One-shot write of an episode: addresses from the key policy, then M = W⁺·Z over everything in the memory.
  // Returns the entry id of each row. With keys::content the lookups are ignored (pass the latents, or {}).
  std::vector<std::size_t> write(matrix_ref<const T> latents, matrix_ref<const T> lookups) {
    return store_.write(latents, lookups, write_mode::one_shot);
  }
  std::vector<std::size_t> write(matrix_ref<const T> latents) requires(Keys::mode == keys::addressing::by_content) {
    return store_.write(latents, latents, write_mode::one_shot);
  }
  // Sequential write: one Kalman step (mean and covariance) per segment, from the prior (M₀, U₀).
  std::vector<std::size_t> write_sequential(matrix_ref<const T> latents, matrix_ref<const T> lookups) {
    return store_.write(latents, lookups, write_mode::sequential);
  }
  std::vector<std::size_t> write_sequential(matrix_ref<const T> latents)
    requires(Keys::mode == keys::addressing::by_content)
  {
    return store_.write(latents, latents, write_mode::sequential);
  }

  // Batched read: each query row is looked up (key policy) and read back, z = w·M.
  read_result read(matrix_ref<const T> queries) const { return store_.read(queries); }
  // Reads at the addresses these entries were written at.
  matrix read_entries(std::span<const std::size_t> ids) const { return store_.read_entries(ids); }
  // Removes one entry so that reads at its address no longer return it (see docs/memory.md for the exact rule).
  void forget(std::size_t id) { store_.forget(id); }

  std::size_t size() const { return store_.size(); }
  bool empty() const { return store_.empty(); }
  std::size_t capacity() const { return store_.block_capacity(); }
  bool contains(std::size_t id) const { return store_.contains(id); }
  const memory_config& config() const { return store_.config(); }
  write_mode mode() const { return blocks_or_fresh().mode; }
  // M (K×C) and U (K×K); the prior before the first write.
  matrix mean() const { return blocks_or_fresh().mean; }
  matrix covariance() const { return blocks_or_fresh().covariance; }
  std::pair<matrix, matrix> entry(std::size_t id) const { return store_.entry(id); }

  store& internals() { return store_; }              // for the state-file codec
  const store& internals() const { return store_; }

 private:
  detail::block_state<T, Storage> blocks_or_fresh() const {
    return store_.block_count() ? store_.block_at(0) : store_.fresh_block();
  }
  store store_;
};

}  // namespace larimar

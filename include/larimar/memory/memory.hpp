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
#include "larimar/memory/detail/memory_base.hpp"
#include "larimar/solver/concepts.hpp"
#include "larimar/storage/concepts.hpp"

namespace larimar {

template <class T, class Storage, class Keys, class Solver>
concept memory_policies =
    (std::same_as<T, float> || std::same_as<T, double>) && storage_policy<Storage, T> &&
    key_policy<Keys, T, Storage> && solver_policy<Solver, T, Storage>;

template <class T, class Storage, class Keys, class Solver>
  requires memory_policies<T, Storage, Keys, Solver>
class memory : public detail::memory_base<T, Storage, Keys, Solver> {
  using base = detail::memory_base<T, Storage, Keys, Solver>;
  using base::store_;

 public:
  using typename base::matrix;
  using base::write;
  using base::write_sequential;

  static constexpr std::size_t max_blocks = 1;  // sharded_memory: no limit

  explicit memory(const memory_config& cfg, Solver solver = {}) : base(cfg, max_blocks, std::move(solver), "memory") {}
  // For io::load: the key matrix a state file holds (not drawn again).
  memory(detail::stored_keys_t tag, const memory_config& cfg, Solver solver, matrix keys)
      : base(tag, cfg, max_blocks, std::move(solver), "memory", std::move(keys)) {}

  // Keys that look up latents (keys::content): the lookups are the latents themselves.
  std::vector<std::size_t> write(matrix_ref<const T> latents) requires(Keys::lookups_are_latents) {
    return store_.write(latents, latents, write_mode::one_shot);
  }
  std::vector<std::size_t> write_sequential(matrix_ref<const T> latents)
    requires(Keys::lookups_are_latents)
  {
    return store_.write(latents, latents, write_mode::sequential);
  }

  std::size_t capacity() const { return store_.block_capacity(); }
  write_mode mode() const { return store_.block_count() ? store_.block_at(0).mode : write_mode::none; }
  // M (K×C) and U (K×K) in T (widened when memory_precision rounds them at rest); the prior before the first write.
  matrix mean() const { return store_.block_count() ? store_.block_mean(0) : store_.fresh_block().mean; }
  matrix covariance() const {
    return store_.block_count() ? store_.block_covariance(0) : store_.fresh_block().covariance;
  }
};

}  // namespace larimar

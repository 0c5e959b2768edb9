// Must NOT compile: a key policy without query_addresses(). CTest checks that the compiler names the unmet concept.
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include <larimar/memory/memory.hpp>
#include <larimar/solver/pseudoinverse.hpp>
#include <larimar/storage/host.hpp>

struct half_a_key_policy {
  static constexpr const char* name = "half_a_key_policy";
  static constexpr bool lookups_are_latents = false;
  static constexpr bool shardable = true;
  static std::size_t lookup_cols(const larimar::memory_config& cfg) { return cfg.lookup_dim(); }
  static std::size_t index_dim(const larimar::memory_config& cfg) { return cfg.lookup_dim(); }
  static std::pair<std::size_t, std::size_t> address_matrix_shape(const larimar::memory_config& cfg) {
    return {cfg.slots, cfg.slots};
  }
  template <class T, class S>
  struct state {
    explicit state(const larimar::memory_config&) {}
    typename S::template matrix<T> keys;
    std::size_t address_count() const { return 1; }
    const typename S::template matrix<T>& address_matrix() const { return keys; }
    typename S::template matrix<T>& address_matrix() { return keys; }
    bool orthonormal() const { return true; }
    std::size_t block_capacity(const larimar::memory_config&, std::size_t) const { return 1; }
    std::size_t slot_map_size() const { return 1; }
    void free_slots(std::span<const std::uint8_t>, std::span<const std::size_t>, std::size_t, std::size_t,
                    std::vector<std::size_t>&) const {}
    void write_addresses(std::span<const std::size_t>, const T*, const T*, std::size_t, T*) const {}
    const T* index_vectors(const T* lookups, const T*) const { return lookups; }
    // no query_addresses: the memory would not know how a query finds what to read
  };
};

int main() {
  larimar::memory<float, larimar::storage::host, half_a_key_policy, larimar::solver::pseudoinverse> mem(
      {.slots = 4, .code_size = 4});
  return static_cast<int>(mem.size());
}

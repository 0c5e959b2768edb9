#pragma once
// larimar::runtime::memory_interface — a float memory whose type is chosen at run time (docs/runtime.md).
// runtime/factory.hpp makes one from a spec string; memory_model<Memory> wraps any compile-time memory type.
// Reads come back to the host whatever the storage. The compile-time types stay the primary API: target<M>()
// hands back the typed memory behind the interface.
//
//   auto mem = larimar::runtime::make_memory("sharded,prefix_encoding,pinv,device,fp16",
//                                            {.slots = 512, .code_size = 768});
//   auto ids = mem->write(latents, lookups);    // matrix_ref<const float>: N×C, N×L
//   auto r = mem->read(queries);                // r.latents (Q×C, host), r.hits
//   auto top = mem->read(queries, 10);          // top.hits_of(q): query q's 10 best entries, best first
//   mem->describe();                            // "sharded,prefix_encoding,pinv,device,fp16"
#include <concepts>
#include <cstddef>
#include <filesystem>
#include <span>
#include <string>
#include <typeinfo>
#include <utility>
#include <vector>

#include "larimar/core/config.hpp"
#include "larimar/core/matrix_ref.hpp"
#include "larimar/io/state_file.hpp"
#include "larimar/memory/host_reading.hpp"
#include "larimar/memory/top_k.hpp"
#include "larimar/runtime/spec.hpp"

namespace larimar::runtime {

// What can be asked of a memory without changing it (a pipeline's memory is written through the pipeline).
class memory_reader {
 public:
  virtual ~memory_reader() = default;
  memory_reader(const memory_reader&) = delete;
  memory_reader& operator=(const memory_reader&) = delete;

  // Batched read (Q×L queries, or Q×C with content keys): the latents and the entry each query matched.
  virtual host_reading<float> read(matrix_ref<const float> queries) const = 0;
  // Top-k read: each query's k best entries, best first, and the latent read at each ((Q·k)×C, host); the memory's
  // read(queries, k).
  virtual host_top_k<float> read(matrix_ref<const float> queries, std::size_t k) const = 0;
  // Reads at the addresses these entries were written at (n×C).
  virtual std::vector<float> read_entries(std::span<const std::size_t> ids) const = 0;
  // The address (1×K) an entry was written at, and its latent as written.
  virtual std::pair<std::vector<float>, std::vector<float>> entry(std::size_t id) const = 0;
  virtual std::size_t size() const = 0;
  bool empty() const { return size() == 0; }
  virtual bool contains(std::size_t id) const = 0;
  virtual std::size_t block_count() const = 0;
  virtual const memory_config& config() const = 0;
  virtual void save(const std::filesystem::path& path) const = 0;  // io::save's state file
  // The resolved spec of this memory, and its canonical string (make_memory of it makes the same type).
  virtual memory_spec spec() const = 0;
  std::string describe() const { return to_string(spec()); }

  // The compile-time memory behind the interface, or nullptr when it is another type.
  template <class Memory>
  const Memory* target() const {
    return static_cast<const Memory*>(target_of(typeid(Memory)));
  }

 protected:
  memory_reader() = default;
  virtual const void* target_of(const std::type_info& type) const = 0;
};

class memory_interface : public memory_reader {
 public:
  // One-shot write of an episode (N×C latents, N×L lookups; content keys ignore the lookups): the entry ids.
  virtual std::vector<std::size_t> write(matrix_ref<const float> latents, matrix_ref<const float> lookups) = 0;
  // Kalman steps, one per segment, from the prior.
  virtual std::vector<std::size_t> write_sequential(matrix_ref<const float> latents,
                                                    matrix_ref<const float> lookups) = 0;
  virtual void forget(std::size_t id) = 0;
  virtual void clear() = 0;  // empty again, same config
  // Replaces the memory with a state file's (io::load: the file must hold this type; its config comes along).
  virtual void load(const std::filesystem::path& path) = 0;

  using memory_reader::target;
  template <class Memory>
  Memory* target() {
    return const_cast<Memory*>(std::as_const(*this).template target<Memory>());
  }
};

namespace detail {

template <class S, class Matrix>
std::vector<float> to_host(const Matrix& m) {
  std::vector<float> out(S::rows(m) * S::cols(m));
  S::download(S::data(m), out.size(), out.data());
  return out;
}

// The const half of the interface over `Owner::memory()`, shared by the owning model and the pipeline's view.
template <class Owner, class Memory, class Interface>
class reader_of : public Interface {
  using S = typename Memory::storage_type;
  const Memory& m() const { return static_cast<const Owner&>(*this).memory(); }

 public:
  host_reading<float> read(matrix_ref<const float> queries) const override {
    auto r = m().read(queries);
    return {to_host<S>(r.latents), std::move(r.hits)};
  }
  host_top_k<float> read(matrix_ref<const float> queries, std::size_t k) const override {
    auto r = m().read(queries, k);
    return {to_host<S>(r.latents), std::move(r.hits), r.k};
  }
  std::vector<float> read_entries(std::span<const std::size_t> ids) const override {
    return to_host<S>(m().read_entries(ids));
  }
  std::pair<std::vector<float>, std::vector<float>> entry(std::size_t id) const override {
    const auto [w, z] = m().entry(id);
    return {to_host<S>(w), to_host<S>(z)};
  }
  std::size_t size() const override { return m().size(); }
  bool contains(std::size_t id) const override { return m().contains(id); }
  std::size_t block_count() const override { return m().block_count(); }
  const memory_config& config() const override { return m().config(); }
  void save(const std::filesystem::path& path) const override { io::save(m(), path); }
  memory_spec spec() const override { return spec_of(m()); }

 protected:
  const void* target_of(const std::type_info& type) const override {
    return type == typeid(Memory) ? &m() : nullptr;
  }
};

}  // namespace detail

// A compile-time memory behind the interface (owned).
template <class Memory>
  requires std::same_as<typename Memory::value_type, float>
class memory_model final : public detail::reader_of<memory_model<Memory>, Memory, memory_interface> {
 public:
  explicit memory_model(const memory_config& cfg, typename Memory::solver_type solver = {})
      : memory_(cfg, std::move(solver)) {}
  explicit memory_model(Memory m) : memory_(std::move(m)) {}

  const Memory& memory() const { return memory_; }

  std::vector<std::size_t> write(matrix_ref<const float> latents, matrix_ref<const float> lookups) override {
    return memory_.write(latents, lookups);
  }
  std::vector<std::size_t> write_sequential(matrix_ref<const float> latents,
                                            matrix_ref<const float> lookups) override {
    return memory_.write_sequential(latents, lookups);
  }
  void forget(std::size_t id) override { memory_.forget(id); }
  void clear() override { memory_ = Memory(memory_.config(), memory_.solver()); }
  void load(const std::filesystem::path& path) override {
    memory_ = io::load<Memory>(path, memory_.solver());
  }

 private:
  Memory memory_;
};

// A memory someone else owns, seen through the const half of the interface (recall_pipeline's).
template <class Memory>
  requires std::same_as<typename Memory::value_type, float>
class memory_view final : public detail::reader_of<memory_view<Memory>, Memory, memory_reader> {
 public:
  explicit memory_view(const Memory& m) : memory_(&m) {}
  const Memory& memory() const { return *memory_; }

 private:
  const Memory* memory_;
};

}  // namespace larimar::runtime

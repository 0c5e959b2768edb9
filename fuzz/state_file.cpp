// libFuzzer target: io::load_bytes on arbitrary bytes (the first byte picks the memory type and whether the
// checksum is re-stamped: fuzz/state_file_types.hpp), then the memory it gave is used. Loading either throws
// larimar::format_error or gives a memory that saves to bytes which load back and save to the same bytes, and
// whose reads, forgets and writes work or throw a larimar::error (a full memory, a mixed write mode). A crash, a
// sanitizer report, any other exception or a broken round trip is a bug. Seeds: fuzz/corpus/state_file/, written
// by fuzz/seeds/state_file.cpp.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "state_file_types.hpp"

namespace {

void require(bool ok, const char* what) {
  if (!ok) {
    std::printf("invariant violated: %s\n", what);
    std::abort();
  }
}

template <class Memory>
void exercise(Memory& mem) {
  using T = typename Memory::value_type;
  const auto& cfg = mem.config();
  const bool by_content = Memory::keys_type::lookups_are_latents;
  const std::size_t query_cols = by_content ? cfg.code_size : cfg.lookup_dim();
  if (query_cols > 4096 || cfg.code_size > 4096) return;  // a few kB of input can claim more; not worth the time
  const std::vector<T> query(query_cols, T(0.5)), latent(cfg.code_size, T(0.25));
  try {
    if (!mem.empty()) {
      const auto r = mem.read(larimar::matrix_ref<const T>{query.data(), 1, query_cols});
      require(mem.contains(r.hits[0].entry), "a read hits an entry the memory holds");
      const std::size_t first = r.hits[0].entry;
      (void)mem.read_entries(std::span<const std::size_t>(&first, 1));
      mem.forget(first);
      require(!mem.contains(first), "forget removes the entry");
    }
    if (cfg.slots <= 64) {
      const auto ids = mem.write(larimar::matrix_ref<const T>{latent.data(), 1, cfg.code_size},
                                 larimar::matrix_ref<const T>{query.data(), 1, query_cols});
      require(mem.contains(ids[0]), "a write adds its entry");
    }
  } catch (const larimar::error&) {
    // the memory refused an operation it cannot serve: fine
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::vector<char> file(reinterpret_cast<const char*>(data) + 1, reinterpret_cast<const char*>(data) + size);
  if ((data[0] & larimar::fuzzing::restamp_bit) != 0 && file.size() >= 4) {
    const std::uint32_t crc = larimar::io::crc32(file.data(), file.size() - 4);
    std::memcpy(file.data() + file.size() - 4, &crc, 4);
  }
  larimar::fuzzing::with_state_type(data[0], [&]<class Memory>(std::type_identity<Memory>) {
    try {
      auto mem = larimar::io::load_bytes<Memory>(file);
      const auto saved = larimar::io::detail::encode(mem);
      const auto again = larimar::io::load_bytes<Memory>(saved);
      require(larimar::io::detail::encode(again) == saved, "what a loaded memory saves loads back to the same bytes");
      exercise(mem);
    } catch (const larimar::format_error&) {
      // expected for malformed input
    }
  });
  return 0;
}

// Writes the seed corpus of the state-file fuzz target: small real saves of every memory type the target loads
// (fuzz/state_file_types.hpp), in full and 16-bit precisions, empty, written, forgotten from, written sequentially,
// with extra lookup rows (version 3), and one in the version-1 layout.
// Each seed is the selector byte (with the re-stamp bit set, so the fuzzer's mutations reach the parser) followed
// by the file. Run: build/test/make_state_file_corpus fuzz/corpus/state_file
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "../state_file_types.hpp"
#include "larimar/core/random.hpp"

namespace {

using namespace larimar;
using namespace larimar::fuzzing;

template <class T>
std::vector<T> gaussian(std::size_t n, std::uint64_t seed) {
  splitmix64 rng(seed);
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(rng.normal());
  return v;
}

std::filesystem::path out_dir;
int written = 0;

// The same memory as version 1 wrote it: no write_tolerance (8 bytes at 156), no block fill and streak (16 at 180).
std::vector<char> as_version_1(std::vector<char> b) {
  b.erase(b.begin() + 180, b.begin() + 196);
  b.erase(b.begin() + 156, b.begin() + 164);
  const std::uint32_t version = 1;
  std::memcpy(b.data() + 8, &version, 4);
  const std::uint32_t crc = io::crc32(b.data(), b.size() - 4);
  std::memcpy(b.data() + b.size() - 4, &crc, 4);
  return b;
}

template <class Memory>
void seed(std::uint8_t selector, const std::string& name, const Memory& mem, bool version_1 = false) {
  const auto bytes = version_1 ? as_version_1(io::detail::encode(mem)) : io::detail::encode(mem);
  std::ofstream out(out_dir / name, std::ios::binary);
  const char first = static_cast<char>(selector | restamp_bit);
  out.write(&first, 1);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ++written;
}

// n rows written one-shot (or sequentially) with lookups of the memory's lookup size.
template <class Memory>
std::vector<std::size_t> write(Memory& mem, std::size_t n, std::uint64_t seed, bool sequential = false) {
  using T = typename Memory::value_type;
  const auto& cfg = mem.config();
  const auto z = gaussian<T>(n * cfg.code_size, seed), l = gaussian<T>(n * cfg.lookup_dim(), seed + 1);
  const matrix_ref<const T> zr{z.data(), n, cfg.code_size}, lr{l.data(), n, cfg.lookup_dim()};
  return sequential ? mem.write_sequential(zr, lr) : mem.write(zr, lr);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus directory>\n", argv[0]);
    return 2;
  }
  out_dir = argv[1];
  std::filesystem::create_directories(out_dir);
  const memory_config small{.slots = 8, .code_size = 4, .lookup_size = 3, .seed = 1};
  {
    fixed_float empty(small), mem(small);
    seed(0, "fixed_float_empty", empty);
    const auto ids = write(mem, 5, 10);
    seed(0, "fixed_float", mem);
    mem.forget(ids[1]);
    seed(0, "fixed_float_forgot", mem);
    memory_config half = small;
    half.memory_precision = precision::fp16;
    half.lookup_precision = precision::bf16;
    fixed_float packed(half);
    write(packed, 4, 11);
    seed(0, "fixed_float_fp16_bf16", packed);
    memory_config quantized = small;
    quantized.quantized_lookup = true;
    quantized.addresses = 12;
    quantized.keys = key_basis::gaussian;
    fixed_float q(quantized);
    write(q, 10, 12);
    seed(0, "fixed_float_quantized_12_addresses", q);
    fixed_float keyed(small);
    const auto z = gaussian<float>(5 * 4, 13), l = gaussian<float>(5 * 3, 14), extra = gaussian<float>(4 * 3, 15);
    const std::size_t rows[] = {0, 2, 2, 4};
    const auto keyed_ids = keyed.write({z.data(), 5, 4}, {l.data(), 5, 3}, extra_lookups<float>{{extra.data(), 4, 3}, rows});
    keyed.forget(keyed_ids[0]);
    seed(0, "fixed_float_extra_rows", keyed);
  }
  {
    prefix_double mem(small), seq({.slots = 8, .code_size = 4, .lookup_size = 3, .observation_noise = 0.1});
    write(mem, 3, 20);
    seed(1, "prefix_double", mem);
    seed(1, "prefix_double_version_1", mem, true);
    write(seq, 3, 21, true);
    seed(1, "prefix_double_sequential", seq);
  }
  {
    memory_config cfg{.slots = 6, .code_size = 4, .prior = prior_kind::gaussian};
    content_float mem(cfg);
    write(mem, 3, 30);
    seed(2, "content_float", mem);
    cfg.memory_precision = precision::bf16;
    content_float packed(cfg);
    write(packed, 2, 31);
    seed(2, "content_float_bf16", packed);
    content_iterative it({.slots = 6, .code_size = 4});
    write(it, 2, 32);
    seed(3, "content_iterative", it);
  }
  {
    sharded_fixed mem({.slots = 4, .code_size = 3, .lookup_size = 3, .seed = 2});
    const auto ids = write(mem, 9, 40);
    mem.forget(ids[4]);
    seed(4, "sharded_fixed", mem);
    sharded_fixed keyed({.slots = 4, .code_size = 3, .lookup_size = 3, .seed = 2});
    const auto z = gaussian<float>(6 * 3, 42), l = gaussian<float>(6 * 3, 43), extra = gaussian<float>(3 * 3, 44);
    const std::size_t rows[] = {1, 4, 5};
    keyed.write({z.data(), 6, 3}, {l.data(), 6, 3}, extra_lookups<float>{{extra.data(), 3, 3}, rows});
    seed(4, "sharded_fixed_extra_rows", keyed);
    sharded_prefix pre({.slots = 6, .code_size = 3, .lookup_size = 2, .seed = 3});
    write(pre, 5, 41);
    seed(5, "sharded_prefix", pre);
  }
  std::printf("wrote %d seeds to %s\n", written, out_dir.c_str());
  return 0;
}

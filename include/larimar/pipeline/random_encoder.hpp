#pragma once
// A randomly initialised, deterministic BERT encoder with a latent head: memory-only recall (does the read hit the
// needle's slot) needs an encoder but no trained one. BERT's initialisation: weights N(0, 0.02²) drawn from the
// seed with splitmix64 (the same on every platform), biases 0, LayerNorm weights 1.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include <unistd.h>

#include "larimar/core/random.hpp"
#include "larimar/io/safetensors.hpp"
#include "larimar/model/bert_encoder.hpp"
#include "larimar/model/config.hpp"

namespace larimar::pipeline {

namespace detail {

struct random_tensors {
  std::vector<std::string> names;
  std::vector<std::vector<std::size_t>> shapes;
  std::vector<std::vector<float>> values;
  splitmix64 rng;
  explicit random_tensors(std::uint64_t seed) : rng(seed ^ 0x72616e64656e63ULL) {}
  void add(std::string name, std::vector<std::size_t> shape, char kind) {  // 'n' normal, '0' zeros, '1' ones
    std::size_t n = 1;
    for (const auto d : shape) n *= d;
    std::vector<float> v(n, kind == '1' ? 1.0f : 0.0f);
    if (kind == 'n')
      for (auto& x : v) x = static_cast<float>(0.02 * rng.normal());
    names.push_back(std::move(name));
    shapes.push_back(std::move(shape));
    values.push_back(std::move(v));
  }
};

}  // namespace detail

// Writes the weights of a random encoder for `config` with a latent head of `latent_size` to a safetensors file.
inline void write_random_encoder(const model::encoder_config& config, std::size_t latent_size, std::uint64_t seed,
                                 const std::filesystem::path& path) {
  const std::size_t H = config.hidden_size, I = config.intermediate_size;
  detail::random_tensors t(seed);
  t.add("embeddings.word_embeddings.weight", {config.vocab_size, H}, 'n');
  t.add("embeddings.position_embeddings.weight", {config.max_position_embeddings, H}, 'n');
  t.add("embeddings.token_type_embeddings.weight", {config.type_vocab_size, H}, 'n');
  t.add("embeddings.LayerNorm.weight", {H}, '1');
  t.add("embeddings.LayerNorm.bias", {H}, '0');
  for (std::size_t l = 0; l < config.num_hidden_layers; ++l) {
    const std::string e = "encoder.layer." + std::to_string(l) + ".";
    for (const char* part : {"query", "key", "value"}) {
      t.add(e + "attention.self." + part + ".weight", {H, H}, 'n');
      t.add(e + "attention.self." + part + ".bias", {H}, '0');
    }
    t.add(e + "attention.output.dense.weight", {H, H}, 'n');
    t.add(e + "attention.output.dense.bias", {H}, '0');
    t.add(e + "attention.output.LayerNorm.weight", {H}, '1');
    t.add(e + "attention.output.LayerNorm.bias", {H}, '0');
    t.add(e + "intermediate.dense.weight", {I, H}, 'n');
    t.add(e + "intermediate.dense.bias", {I}, '0');
    t.add(e + "output.dense.weight", {H, I}, 'n');
    t.add(e + "output.dense.bias", {H}, '0');
    t.add(e + "output.LayerNorm.weight", {H}, '1');
    t.add(e + "output.LayerNorm.bias", {H}, '0');
  }
  t.add("pooler.dense.weight", {H, H}, 'n');
  t.add("pooler.dense.bias", {H}, '0');
  t.add("latent_head.weight", {2 * latent_size, config.pooled_size()}, 'n');
  std::vector<io::tensor_to_save> out;
  for (std::size_t i = 0; i < t.names.size(); ++i)
    out.push_back({t.names[i], io::dtype::f32, t.shapes[i], std::as_bytes(std::span<const float>(t.values[i]))});
  io::save_safetensors(path, out);
}

// A random encoder with the architecture of `config` (e.g. a model directory's encoder section).
template <backend::thrust_backend Backend = backend::active>
model::bert_encoder<Backend> random_encoder(const model::encoder_config& config, std::size_t latent_size,
                                            std::uint64_t seed) {
  std::error_code ec;
  const auto dir = std::filesystem::temp_directory_path();
  const auto path = dir / ("larimar-random-encoder-" + std::to_string(seed) + "-" +
                           std::to_string(static_cast<long>(::getpid())) + "-" +
                           std::to_string(reinterpret_cast<std::uintptr_t>(&config)) + ".safetensors");
  write_random_encoder(config, latent_size, seed, path);
  try {
    model::bert_encoder<Backend> enc(config, latent_size, io::safetensors_file::open(path));
    std::filesystem::remove(path, ec);
    return enc;
  } catch (...) {
    std::filesystem::remove(path, ec);
    throw;
  }
}

}  // namespace larimar::pipeline

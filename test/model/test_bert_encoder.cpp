// BERT encoder + Larimar latent head vs Hugging Face transformers (fixtures from tools/make_model_fixtures.py).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "fixtures.hpp"
#include "larimar/model/bert_encoder.hpp"

using namespace larimar;
using model::bert_encoder;
using model::token_id;
namespace fx = model_fixtures;

namespace {

constexpr float tolerance = 1e-4f;

const bert_encoder<>& tiny() {
  static const auto encoder = bert_encoder<>::load(fx::dir() / "tiny");
  return encoder;
}

struct padded_batch {
  std::vector<token_id> ids, types;
  std::vector<std::int64_t> mask;
  std::vector<std::size_t> lengths;
  std::size_t batch = 0, length = 0;
  std::vector<std::vector<token_id>> sequences, type_sequences;
};

padded_batch batch() {
  const auto& j = fx::info()["encoder_batch"];
  padded_batch p;
  p.lengths = j["lengths"].get<std::vector<std::size_t>>();
  p.batch = p.lengths.size();
  p.length = j["input_ids"][0].size();
  for (std::size_t b = 0; b < p.batch; ++b) {
    const auto ids = fx::ids(j["input_ids"][b]);
    const auto types = fx::ids(j["token_type_ids"][b]);
    const auto mask = j["attention_mask"][b].get<std::vector<std::int64_t>>();
    p.ids.insert(p.ids.end(), ids.begin(), ids.end());
    p.types.insert(p.types.end(), types.begin(), types.end());
    p.mask.insert(p.mask.end(), mask.begin(), mask.end());
    p.sequences.emplace_back(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(p.lengths[b]));
    p.type_sequences.emplace_back(types.begin(), types.begin() + static_cast<std::ptrdiff_t>(p.lengths[b]));
  }
  return p;
}

void check_against_fixture(const model::encoding& e, const padded_batch& p, const std::vector<float>& latent_ref) {
  const auto hidden = fx::tensor("enc.hidden");  // [B, T, H], padded
  const auto pooled = fx::tensor("enc.pooled");
  const std::size_t H = e.hidden_size;
  REQUIRE(e.batch == p.batch);
  for (std::size_t b = 0; b < p.batch; ++b) {
    CAPTURE(b);
    REQUIRE(e.offsets[b + 1] - e.offsets[b] == p.lengths[b]);
    float worst = 0;
    for (std::size_t t = 0; t < p.lengths[b]; ++t) {  // padding positions are not part of our output
      const std::span<const float> want(hidden.data() + (b * p.length + t) * H, H);
      worst = std::max(worst, fx::max_abs_diff(e.hidden(b, t), want));
    }
    CHECK(worst < tolerance);
    CHECK(fx::max_abs_diff(e.latent_mean(b), std::span<const float>(latent_ref).subspan(b * 40, 20)) < tolerance);
    CHECK(fx::max_abs_diff(e.latent_logvar(b), std::span<const float>(latent_ref).subspan(b * 40 + 20, 20)) <
          tolerance);
    if (tiny().config().pooling == model::pooling::cls_tanh)
      CHECK(fx::max_abs_diff(e.pooled_output(b), std::span<const float>(pooled).subspan(b * H, H)) < tolerance);
  }
}

}  // namespace

TEST_CASE("config of the tiny encoder") {
  const auto& c = tiny().config();
  CHECK(c.hidden_size == 72);
  CHECK(c.num_attention_heads == 6);
  CHECK(c.num_hidden_layers == 3);
  CHECK(c.intermediate_size == 148);
  CHECK(tiny().latent_size() == 20);
}

TEST_CASE("packed batch: hidden states, pooler and latent head match transformers") {
  const auto p = batch();
  const auto e = tiny().encode(p.sequences, p.type_sequences);
  check_against_fixture(e, p, fx::tensor("enc.latent.cls"));
  CHECK(e.latent_means().size() == 3 * 20);
  CHECK(e.latent_means()[20] == e.latent_mean(1)[0]);
}

TEST_CASE("padded input with an attention mask gives the same") {
  const auto p = batch();
  const auto e = tiny().encode_padded(p.ids, p.mask, p.types, p.batch, p.length);
  check_against_fixture(e, p, fx::tensor("enc.latent.cls"));
}

TEST_CASE("a sequence encodes the same alone as in a batch") {
  const auto p = batch();
  const std::vector<std::vector<token_id>> one{p.sequences[1]}, one_type{p.type_sequences[1]};
  const auto alone = tiny().encode(one, one_type);
  const auto all = tiny().encode(p.sequences, p.type_sequences);
  CHECK(fx::max_abs_diff(alone.latent_mean(0), all.latent_mean(1)) < 1e-5f);
  // token types matter: all-zero types change the result of sequence 0 (which has type-1 tokens)
  const std::vector<std::vector<token_id>> first{p.sequences[0]};
  CHECK(fx::max_abs_diff(tiny().encode(first).latent_mean(0), all.latent_mean(0)) > 1e-3f);
}

TEST_CASE("mean pooling over the mask") {
  const auto file = io::safetensors_file::open(fx::dir() / "tiny" / "encoder.safetensors");
  auto cfg = *model::load_model_config(fx::dir() / "tiny" / "config.json").encoder;
  cfg.pooling = model::pooling::mean;
  const bert_encoder<> mean_encoder(cfg, 20, file);
  const auto p = batch();
  const auto e = mean_encoder.encode(p.sequences, p.type_sequences);
  const auto ref = fx::tensor("enc.latent.mean");
  for (std::size_t b = 0; b < p.batch; ++b) {
    CAPTURE(b);
    CHECK(fx::max_abs_diff(e.latent_mean(b), std::span<const float>(ref).subspan(b * 40, 20)) < tolerance);
    CHECK(fx::max_abs_diff(e.latent_logvar(b), std::span<const float>(ref).subspan(b * 40 + 20, 20)) < tolerance);
  }
}

TEST_CASE("encoder bad input") {
  const auto& enc = tiny();
  const std::vector<std::vector<token_id>> bad_id{{5, 1000}};
  CHECK_THROWS_WITH_AS(enc.encode(bad_id), doctest::Contains("outside the vocabulary"), value_error);
  const std::vector<std::vector<token_id>> empty{{}};
  CHECK_THROWS_AS(enc.encode(empty), shape_error);
  CHECK_THROWS_AS(enc.encode({}), shape_error);
  const std::vector<std::vector<token_id>> too_long{std::vector<token_id>(49, 5)};
  CHECK_THROWS_WITH_AS(enc.encode(too_long), doctest::Contains("max_position_embeddings"), shape_error);
  const std::vector<std::vector<token_id>> ok{{5, 6, 7}}, bad_type{{0, 2, 0}}, short_type{{0, 1}};
  CHECK_THROWS_AS(enc.encode(ok, bad_type), value_error);
  CHECK_THROWS_AS(enc.encode(ok, short_type), shape_error);
  const std::vector<token_id> ids{5, 6, 7, 8};
  const std::vector<std::int64_t> holes{1, 0, 1, 0};
  CHECK_THROWS_WITH_AS(enc.encode_padded(ids, holes, {}, 1, 4), doctest::Contains("right padding"), value_error);
  const std::vector<std::int64_t> short_mask{1, 1};
  CHECK_THROWS_AS(enc.encode_padded(ids, short_mask, {}, 1, 4), shape_error);
  // the encoder still works after the rejected calls
  CHECK(enc.encode(ok).latent.size() == 40);

  const auto file = io::safetensors_file::open(fx::dir() / "tiny" / "encoder.safetensors");
  auto cfg = *model::load_model_config(fx::dir() / "tiny" / "config.json").encoder;
  CHECK_THROWS_WITH_AS(bert_encoder<>(cfg, 21, file), doctest::Contains("latent_head.weight"), shape_error);
  cfg.intermediate_size = 150;
  CHECK_THROWS_WITH_AS(bert_encoder<>(cfg, 20, file), doctest::Contains("encoder.layer.0.intermediate.dense.weight"),
                       shape_error);
  // tiny-f16 holds a config with an encoder section but only the decoder weights
  CHECK_THROWS_WITH_AS(bert_encoder<>::load(fx::dir() / "tiny-f16"), doctest::Contains("encoder.safetensors"), io_error);
}

#pragma once
// Model configuration: our model directory's config.json (docs/model.md, "format": "larimar-model") and plain
// Hugging Face GPT-2 / BERT config.json files. Every field is checked; errors name the file and the field.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "larimar/core/error.hpp"
#include "larimar/core/quote.hpp"
#include "larimar/io/regular_file.hpp"
#include "larimar/model/token.hpp"

namespace larimar::model {

// How the decoder sees a latent z (docs/model.md): none (plain GPT-2), kv (latent_slots extra key/value positions
// per layer), kv_embedding (kv, and latent_emb(z) added to every token's input embedding).
enum class latent_mode { none, kv, kv_embedding };
// cls_tanh: BERT's pooler on [CLS]; mean: masked mean of the last hidden states; positions: the last hidden states
// of all max_position_embeddings positions concatenated (zeros past a sequence's end), so that the latent head is
// a position-wise linear map (larimar-tiny's choice, docs/training.md).
enum class pooling { cls_tanh, mean, positions };

struct decoder_config {
  std::size_t vocab_size = 0, n_embd = 0, n_layer = 0, n_head = 0, n_positions = 0;
  float layer_norm_epsilon = 1e-5f;
  std::optional<token_id> bos_token_id, eos_token_id, pad_token_id;
  std::string tokenizer = "bpe";
  std::size_t head_dim() const { return n_head ? n_embd / n_head : 0; }
};

struct encoder_config {
  std::size_t vocab_size = 0, hidden_size = 0, num_hidden_layers = 0, num_attention_heads = 0,
              intermediate_size = 0, max_position_embeddings = 0, type_vocab_size = 2;
  float layer_norm_eps = 1e-12f;
  model::pooling pooling = model::pooling::cls_tanh;
  std::string tokenizer = "wordpiece";
  bool lowercase = true;
  std::optional<token_id> cls_token_id, sep_token_id, pad_token_id;
  std::size_t head_dim() const { return num_attention_heads ? hidden_size / num_attention_heads : 0; }
  // Width of the pooled output (the latent head's input).
  std::size_t pooled_size() const {
    return pooling == model::pooling::positions ? hidden_size * max_position_embeddings : hidden_size;
  }
};

// A whole model directory's config.json. For a plain Hugging Face directory exactly one of encoder/decoder is
// set, latent_size is 0 and mode is none.
struct model_config {
  int version = 1;
  std::size_t latent_size = 0;
  latent_mode mode = latent_mode::none;
  std::size_t latent_slots = 1;  // key/value positions the latent fills in every decoder layer
  // How a pipeline should cut text for this model, where the directory says (0: it does not): the segment budget
  // the model says back exactly, and the tokens each later piece of a longer sentence repeats (docs/model.md).
  std::size_t segment_tokens = 0, segment_overlap = 0;
  std::optional<encoder_config> encoder;
  std::optional<decoder_config> decoder;
};

namespace detail {

using ::larimar::detail::quote;  // how messages quote values read from a file

using json = nlohmann::json;

struct field_reader {
  const json& object;
  std::string where;  // e.g. "model config 'dir/config.json': decoder"

  [[noreturn]] void fail(const std::string& field, const std::string& problem) const {
    throw format_error(where + ": field '" + field + "' " + problem);
  }
  const json* find(const std::string& field) const {
    const auto it = object.find(field);
    return it == object.end() || it->is_null() ? nullptr : &*it;
  }
  std::size_t positive(const std::string& field) const {
    const json* v = find(field);
    if (!v) fail(field, "is missing");
    if (!v->is_number_integer() || v->get<std::int64_t>() <= 0)
      fail(field, std::string("must be a positive integer (got ") + v->dump() + ")");
    return v->get<std::size_t>();
  }
  std::size_t positive_or(const std::string& field, std::size_t fallback) const {
    return find(field) ? positive(field) : fallback;
  }
  std::size_t count_or(const std::string& field, std::size_t fallback) const {
    const json* v = find(field);
    if (!v) return fallback;
    if (!v->is_number_integer() || v->get<std::int64_t>() < 0)
      fail(field, std::string("must be a non-negative integer (got ") + v->dump() + ")");
    return v->get<std::size_t>();
  }
  float positive_real_or(const std::string& field, float fallback) const {
    const json* v = find(field);
    if (!v) return fallback;
    if (!v->is_number() || !(v->get<double>() > 0) || !std::isfinite(v->get<double>()))
      fail(field, std::string("must be a positive number (got ") + v->dump() + ")");
    return static_cast<float>(v->get<double>());
  }
  std::optional<token_id> token_or_none(const std::string& field, std::size_t vocab) const {
    const json* v = find(field);
    if (!v) return std::nullopt;
    if (v->is_array()) {  // some HF configs list several EOS ids; the first is the one generation stops on
      if (v->empty()) return std::nullopt;
      v = &v->front();
    }
    if (!v->is_number_integer() || v->get<std::int64_t>() < 0 ||
        v->get<std::uint64_t>() >= static_cast<std::uint64_t>(vocab))
      fail(field, std::string("must be a token id in [0, ") + std::to_string(vocab) + ") (got " + v->dump() + ")");
    return static_cast<token_id>(v->get<std::int64_t>());
  }
  std::string string_or(const std::string& field, std::string fallback) const {
    const json* v = find(field);
    if (!v) return fallback;
    if (!v->is_string()) fail(field, std::string("must be a string (got ") + v->dump() + ")");
    return v->get<std::string>();
  }
  bool bool_or(const std::string& field, bool fallback) const {
    const json* v = find(field);
    if (!v) return fallback;
    if (!v->is_boolean()) fail(field, std::string("must be true or false (got ") + v->dump() + ")");
    return v->get<bool>();
  }
};

inline void require_divisible(const field_reader& r, std::size_t width, std::size_t heads, const char* width_name,
                              const char* heads_name) {
  if (width % heads != 0)
    r.fail(width_name, std::string("(") + std::to_string(width) + ") must be a multiple of " + heads_name + " (" +
                           std::to_string(heads) + ")");
}

inline json read_json_file(const std::filesystem::path& path, const std::string& op) {
  json parsed = json::parse(io::detail::read_regular_file(path, op), nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object())
    throw format_error(op + ": '" + path.string() + "' is not a JSON object");
  return parsed;
}

}  // namespace detail

// The "decoder" object of our config.json, or a Hugging Face GPT-2 config.json (same field names).
inline decoder_config parse_decoder_config(const nlohmann::json& j, const std::string& where = "decoder config") {
  if (!j.is_object()) throw format_error(where + ": expected a JSON object");
  const detail::field_reader r{j, where};
  decoder_config c;
  c.vocab_size = r.positive("vocab_size");
  c.n_embd = r.positive("n_embd");
  c.n_layer = r.positive("n_layer");
  c.n_head = r.positive("n_head");
  c.n_positions = r.positive("n_positions");
  c.layer_norm_epsilon = r.positive_real_or("layer_norm_epsilon", 1e-5f);
  c.bos_token_id = r.token_or_none("bos_token_id", c.vocab_size);
  c.eos_token_id = r.token_or_none("eos_token_id", c.vocab_size);
  c.pad_token_id = r.token_or_none("pad_token_id", c.vocab_size);
  c.tokenizer = r.string_or("tokenizer", "bpe");
  detail::require_divisible(r, c.n_embd, c.n_head, "n_embd", "n_head");
  // Hugging Face fields we do not implement must hold GPT-2's values.
  if (const auto act = r.string_or("activation_function", "gelu_new"); act != "gelu_new")
    r.fail("activation_function",
           "is " + detail::quote(act) + "; only GPT-2's 'gelu_new' (GELU, tanh form) is supported");
  if (r.find("n_inner") && r.positive("n_inner") != 4 * c.n_embd)
    r.fail("n_inner", std::string("must be 4 * n_embd (") + std::to_string(4 * c.n_embd) + ")");
  if (r.bool_or("scale_attn_by_inverse_layer_idx", false))
    r.fail("scale_attn_by_inverse_layer_idx", "is not supported");
  if (!r.bool_or("scale_attn_weights", true)) r.fail("scale_attn_weights", "must be true");
  return c;
}

// The "encoder" object of our config.json, or a Hugging Face BERT config.json (same field names).
inline encoder_config parse_encoder_config(const nlohmann::json& j, const std::string& where = "encoder config") {
  if (!j.is_object()) throw format_error(where + ": expected a JSON object");
  const detail::field_reader r{j, where};
  encoder_config c;
  c.vocab_size = r.positive("vocab_size");
  c.hidden_size = r.positive("hidden_size");
  c.num_hidden_layers = r.positive("num_hidden_layers");
  c.num_attention_heads = r.positive("num_attention_heads");
  c.intermediate_size = r.positive("intermediate_size");
  c.max_position_embeddings = r.positive("max_position_embeddings");
  c.type_vocab_size = r.positive_or("type_vocab_size", 2);
  c.layer_norm_eps = r.positive_real_or("layer_norm_eps", 1e-12f);
  const std::string pool = r.string_or("pooling", "cls_tanh");
  if (pool == "cls_tanh")
    c.pooling = pooling::cls_tanh;
  else if (pool == "mean")
    c.pooling = pooling::mean;
  else if (pool == "positions")
    c.pooling = pooling::positions;
  else
    r.fail("pooling", "is " + detail::quote(pool) + "; expected \"cls_tanh\", \"mean\" or \"positions\"");
  c.tokenizer = r.string_or("tokenizer", "wordpiece");
  c.lowercase = r.bool_or("lowercase", r.bool_or("do_lower_case", true));
  c.cls_token_id = r.token_or_none("cls_token_id", c.vocab_size);
  c.sep_token_id = r.token_or_none("sep_token_id", c.vocab_size);
  c.pad_token_id = r.token_or_none("pad_token_id", c.vocab_size);
  detail::require_divisible(r, c.hidden_size, c.num_attention_heads, "hidden_size", "num_attention_heads");
  if (const auto act = r.string_or("hidden_act", "gelu"); act != "gelu")
    r.fail("hidden_act", "is " + detail::quote(act) + "; only BERT's 'gelu' (exact, erf form) is supported");
  if (const auto pos = r.string_or("position_embedding_type", "absolute"); pos != "absolute")
    r.fail("position_embedding_type", "is " + detail::quote(pos) + "; only 'absolute' is supported");
  return c;
}

// Our config.json ("format": "larimar-model"), or a plain Hugging Face GPT-2 / BERT config.json (model_type
// "gpt2" / "bert", or recognised by its fields).
inline model_config parse_model_config(const nlohmann::json& j, const std::string& where = "model config") {
  if (!j.is_object()) throw format_error(where + ": expected a JSON object");
  const detail::field_reader r{j, where};
  model_config c;
  if (r.find("format")) {
    if (r.string_or("format", "") != "larimar-model")
      r.fail("format", std::string("is ") + j.at("format").dump() + ", expected \"larimar-model\"");
    c.version = static_cast<int>(r.positive("version"));
    if (c.version != 1) r.fail("version", std::string("is ") + std::to_string(c.version) + "; this library reads version 1");
    c.latent_size = r.positive("latent_size");
    const std::string mode = r.string_or("latent_mode", "kv");
    if (mode == "kv")
      c.mode = latent_mode::kv;
    else if (mode == "kv+embedding")
      c.mode = latent_mode::kv_embedding;
    else
      r.fail("latent_mode", "is " + detail::quote(mode) + "; expected \"kv\" or \"kv+embedding\"");
    c.latent_slots = r.positive_or("latent_slots", 1);
    c.segment_tokens = r.positive_or("segment_tokens", 0);
    c.segment_overlap = r.count_or("segment_overlap", 0);
    if (c.segment_tokens && c.segment_overlap >= c.segment_tokens)
      r.fail("segment_overlap", "(" + std::to_string(c.segment_overlap) + ") must be less than segment_tokens (" +
                                    std::to_string(c.segment_tokens) + ")");
    if (r.find("encoder")) c.encoder = parse_encoder_config(j.at("encoder"), where + ": encoder");
    if (r.find("decoder")) c.decoder = parse_decoder_config(j.at("decoder"), where + ": decoder");
    if (!c.encoder && !c.decoder) throw format_error(where + ": neither 'encoder' nor 'decoder' is present");
    return c;
  }
  const std::string type = r.string_or("model_type", "");
  if (type == "gpt2" || (type.empty() && r.find("n_embd")))
    c.decoder = parse_decoder_config(j, where);
  else if (type == "bert" || (type.empty() && r.find("hidden_size")))
    c.encoder = parse_encoder_config(j, where);
  else
    throw format_error(where + ": neither our format (\"format\": \"larimar-model\") nor a GPT-2/BERT config" +
                       (type.empty() ? std::string() : " (model_type " + detail::quote(type) + ")"));
  return c;
}

inline model_config load_model_config(const std::filesystem::path& file) {
  const std::string where = "model config '" + file.string() + "'";
  return parse_model_config(detail::read_json_file(file, "load_model_config"), where);
}

}  // namespace larimar::model

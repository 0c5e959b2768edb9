#pragma once
// BERT encoder with Larimar's latent head (docs/model.md, docs/model.md), over thrust like the decoder.
//
// Post-LayerNorm blocks, GELU (erf form), word + position + token-type embeddings; the pooled output is BERT's
// tanh pooler on [CLS] ("cls_tanh") or the mean of the last hidden states over the sequence ("mean"); the
// Larimar head maps it to 2C values: the first C are the latent mean, the last C the log-variance.
// Sequences of different lengths are packed back to back (no padding rows are computed); attention of a token
// covers exactly its own sequence, which is what HF's attention mask does for right-padded input.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "larimar/backend/blas.hpp"
#include "larimar/backend/device_ref.hpp"
#include "larimar/backend/system.hpp"
#include "larimar/core/error.hpp"
#include "larimar/io/safetensors.hpp"
#include "larimar/model/config.hpp"
#include "larimar/model/kernels/activation.hpp"
#include "larimar/model/kernels/attention.hpp"
#include "larimar/model/kernels/embedding.hpp"
#include "larimar/model/kernels/latent_rows.hpp"
#include "larimar/model/kernels/layer_norm.hpp"
#include "larimar/model/token.hpp"
#include "larimar/model/weight_format.hpp"
#include "larimar/model/weight_matrix.hpp"
#include "larimar/model/weight_product.hpp"
#include "larimar/model/weights.hpp"

namespace larimar::model {

// The result of one batched encode.
struct encoding {
  std::size_t batch = 0, hidden_size = 0, latent_size = 0;
  std::vector<std::size_t> offsets;   // batch + 1: sequence b owns hidden rows [offsets[b], offsets[b + 1])
  std::vector<float> hidden_states;   // [total tokens × hidden_size], last layer
  std::size_t pooled_size = 0;        // hidden_size, or hidden_size × positions for pooling::positions
  std::vector<float> pooled;          // [batch × pooled_size]
  std::vector<float> latent;          // [batch × 2·latent_size]: mean, then log-variance; empty without a head

  std::span<const float> hidden(std::size_t b, std::size_t t) const {
    return std::span<const float>(hidden_states).subspan((offsets.at(b) + t) * hidden_size, hidden_size);
  }
  std::span<const float> pooled_output(std::size_t b) const {
    return std::span<const float>(pooled).subspan(b * pooled_size, pooled_size);
  }
  std::span<const float> latent_mean(std::size_t b) const {
    return std::span<const float>(latent).subspan(b * 2 * latent_size, latent_size);
  }
  std::span<const float> latent_logvar(std::size_t b) const {
    return std::span<const float>(latent).subspan(b * 2 * latent_size + latent_size, latent_size);
  }
  // The latent means of all sequences, [batch × latent_size] (the rows the memory stores).
  std::vector<float> latent_means() const {
    std::vector<float> out;
    out.reserve(batch * latent_size);
    for (std::size_t b = 0; b < batch; ++b) {
      const auto m = latent_mean(b);
      out.insert(out.end(), m.begin(), m.end());
    }
    return out;
  }
};

template <backend::thrust_backend Backend = backend::active>
class bert_encoder {
  template <class T>
  using buffer = backend::device_buffer<Backend, T>;
  using transpose = backend::transpose;

 public:
  // A model directory: ours (config.json with an "encoder" section + encoder.safetensors) or a plain Hugging
  // Face BERT directory (config.json + model.safetensors; no latent head). options.weights: the format the
  // weight matrices are held in (default: the file's; docs/model.md, "Weight formats").
  static bert_encoder load(const std::filesystem::path& directory, const load_options& options = {}) {
    const model_config cfg = load_model_config(directory / "config.json");
    if (!cfg.encoder)
      throw format_error(std::string("bert_encoder::load: '") + (directory / "config.json").string() + "' has no encoder");
    auto weights = directory / "encoder.safetensors";
    if (!std::filesystem::exists(weights)) weights = directory / "model.safetensors";
    if (!std::filesystem::exists(weights))
      throw io_error("bert_encoder::load: neither encoder.safetensors nor model.safetensors in '" +
                     directory.string() + "'");
    return bert_encoder(*cfg.encoder, cfg.latent_size, io::safetensors_file::open(weights), options);
  }

  // latent_size 0: no Larimar head (encodings carry hidden states and pooled outputs only).
  bert_encoder(const encoder_config& config, std::size_t latent_size, const io::safetensors_file& file,
               const load_options& options = {})
      : config_(config), latent_size_(latent_size) {
    const std::string op = "bert_encoder";
    if (config.num_attention_heads == 0 || config.hidden_size % config.num_attention_heads != 0)
      throw value_error(op + ": hidden_size must be a positive multiple of num_attention_heads");
    const std::size_t H = config.hidden_size, I = config.intermediate_size;
    const std::string p = detail::find_prefix(file, "embeddings.word_embeddings.weight", {"bert."}, op);
    const auto load = [&](const std::string& name, std::initializer_list<std::size_t> shape) {
      return detail::load_tensor<Backend>(file, p + name, shape);
    };
    const auto matrix = [&](const std::string& name, std::initializer_list<std::size_t> shape) {
      return detail::load_matrix<Backend>(file, p + name, shape, false, options);
    };
    word_ = matrix("embeddings.word_embeddings.weight", {config.vocab_size, H});
    position_ = load("embeddings.position_embeddings.weight", {config.max_position_embeddings, H});
    token_type_ = load("embeddings.token_type_embeddings.weight", {config.type_vocab_size, H});
    embedding_ln_weight_ = load("embeddings.LayerNorm.weight", {H});
    embedding_ln_bias_ = load("embeddings.LayerNorm.bias", {H});
    layers_.reserve(config.num_hidden_layers);
    for (std::size_t l = 0; l < config.num_hidden_layers; ++l) {
      const std::string e = std::string("encoder.layer.") + std::to_string(l) + ".";
      layer ly;
      // q, k, v stacked into one [3H × H] weight so a single GEMM projects all three
      std::vector<float> qkv_w, qkv_b;
      const auto& query = file.at(p + e + "attention.self.query.weight", {H, H});
      const weight_format qkv_format =
          options.weights ? *options.weights : detail::file_format(query.type).value_or(weight_format::f32);
      for (const char* part : {"query", "key", "value"}) {
        const auto w = io::to_f32(file.at(p + e + "attention.self." + part + ".weight", {H, H}));
        const auto b = io::to_f32(file.at(p + e + "attention.self." + part + ".bias", {H}));
        qkv_w.insert(qkv_w.end(), w.begin(), w.end());
        qkv_b.insert(qkv_b.end(), b.begin(), b.end());
      }
      // f16/bf16 values widened exactly, so keeping the file's format narrows them back without rounding
      ly.qkv_weight =
          weight_matrix<Backend>::from_f32(qkv_w, 3 * H, H, qkv_format, op + ": layer " + std::to_string(l) + " q|k|v");
      ly.qkv_bias.resize(qkv_b.size());
      backend::upload(std::span<const float>(qkv_b), ly.qkv_bias);
      ly.attn_out_weight = matrix(e + "attention.output.dense.weight", {H, H});
      ly.attn_out_bias = load(e + "attention.output.dense.bias", {H});
      ly.attn_ln_weight = load(e + "attention.output.LayerNorm.weight", {H});
      ly.attn_ln_bias = load(e + "attention.output.LayerNorm.bias", {H});
      ly.inter_weight = matrix(e + "intermediate.dense.weight", {I, H});
      ly.inter_bias = load(e + "intermediate.dense.bias", {I});
      ly.out_weight = matrix(e + "output.dense.weight", {H, I});
      ly.out_bias = load(e + "output.dense.bias", {H});
      ly.out_ln_weight = load(e + "output.LayerNorm.weight", {H});
      ly.out_ln_bias = load(e + "output.LayerNorm.bias", {H});
      layers_.push_back(std::move(ly));
    }
    if (config.pooling == pooling::cls_tanh) {
      pooler_weight_ = matrix("pooler.dense.weight", {H, H});
      pooler_bias_ = load("pooler.dense.bias", {H});
    }
    if (latent_size_ > 0)
      latent_head_ = detail::load_matrix<Backend>(file, "latent_head.weight", {2 * latent_size_, config.pooled_size()},
                                                  false, options);
  }

  const encoder_config& config() const { return config_; }
  std::size_t latent_size() const { return latent_size_; }
  // The format the weight matrices are held in: load_options::weights, or the file's (the word embeddings', should
  // a file mix dtypes: each matrix then keeps its own tensor's).
  weight_format weights_format() const { return word_.format(); }
  // The instruction-set level of the host weight kernels (core/cpu_dispatch.hpp; tests and benchmarks).
  void use_cpu_isa(cpu_isa isa) { product_.use_cpu_isa(isa); }

  // Encodes a batch of token-id sequences (each non-empty, at most max_position_embeddings long);
  // token_types: empty (all 0) or one sequence of type ids per input, of the same length.
  encoding encode(std::span<const std::vector<token_id>> sequences,
                  std::span<const std::vector<token_id>> token_types = {}) const {
    const std::size_t max_length = stage("bert_encoder::encode", sequences, token_types);
    run(sequences.size(), max_length);
    return collect(sequences.size());
  }

  // Latents in this encoder's backend memory (rows × latent_size), as the latent path passes them on.
  using latent_view = backend::device_ref<Backend, float>;
  // The latent means of a batch written into `out` (sequences.size() × latent_size, in the backend's memory):
  // hidden states, pooled outputs and latents stay where they are (encode() brings them all to the host).
  void encode_latents(std::span<const std::vector<token_id>> sequences, latent_view out) const {
    const std::string op = "bert_encoder::encode_latents";
    if (latent_size_ == 0) throw state_error(op + ": this encoder has no latent head (latent_size 0)");
    if (out.rows != sequences.size() || out.cols != latent_size_)
      throw shape_error(op + ": the output is " + std::to_string(out.rows) + "x" + std::to_string(out.cols) + " for " +
                        std::to_string(sequences.size()) + " sequences of latent_size " + std::to_string(latent_size_));
    const std::size_t max_length = stage(op, sequences, {});
    run(sequences.size(), max_length);
    backend::for_each_index<Backend>(out.size(),
                                     kernels::latent_means{out.data, backend::raw<float>(work_.latent), latent_size_});
  }

 private:
  // Checks a batch and lays out its packed rows on the host (token, position, type, sequence start and length);
  // returns the longest sequence's length.
  std::size_t stage(const std::string& op, std::span<const std::vector<token_id>> sequences,
                    std::span<const std::vector<token_id>> token_types) const {
    if (sequences.empty()) throw shape_error(op + ": no sequences");
    if (!token_types.empty() && token_types.size() != sequences.size())
      throw shape_error(op + ": " + std::to_string(token_types.size()) + " token-type sequences for " +
                        std::to_string(sequences.size()) + " sequences");
    auto& w = work_;
    w.host_token.clear();
    w.host_position.clear();
    w.host_type.clear();
    w.host_start.clear();
    w.host_length.clear();
    w.host_seq_start.clear();
    w.host_seq_length.clear();
    std::size_t max_length = 0;
    for (std::size_t b = 0; b < sequences.size(); ++b) {
      const auto& s = sequences[b];
      if (s.empty()) throw shape_error(op + ": sequence " + std::to_string(b) + " is empty");
      if (s.size() > config_.max_position_embeddings)
        throw shape_error(op + ": sequence " + std::to_string(b) + " has " + std::to_string(s.size()) +
                          " tokens; max_position_embeddings is " + std::to_string(config_.max_position_embeddings));
      if (!token_types.empty() && token_types[b].size() != s.size())
        throw shape_error(op + ": token types of sequence " + std::to_string(b) + " have length " +
                          std::to_string(token_types[b].size()) + ", the sequence " + std::to_string(s.size()));
      max_length = std::max(max_length, s.size());
      for (std::size_t t = 0; t < s.size(); ++t) {
        if (s[t] < 0 || static_cast<std::size_t>(s[t]) >= config_.vocab_size)
          throw value_error(op + ": token id " + std::to_string(s[t]) + " (sequence " + std::to_string(b) +
                            ", position " + std::to_string(t) + ") is outside the vocabulary [0, " +
                            std::to_string(config_.vocab_size) + ")");
        const token_id type = token_types.empty() ? 0 : token_types[b][t];
        if (type < 0 || static_cast<std::size_t>(type) >= config_.type_vocab_size)
          throw value_error(op + ": token type " + std::to_string(type) + " (sequence " + std::to_string(b) +
                            ", position " + std::to_string(t) + ") is outside [0, " +
                            std::to_string(config_.type_vocab_size) + ")");
      }
    }
    for (std::size_t b = 0; b < sequences.size(); ++b) {
      const int start = static_cast<int>(w.host_token.size());
      w.host_seq_start.push_back(start);
      w.host_seq_length.push_back(static_cast<int>(sequences[b].size()));
      for (std::size_t t = 0; t < sequences[b].size(); ++t) {
        w.host_token.push_back(sequences[b][t]);
        w.host_position.push_back(static_cast<int>(t));
        w.host_type.push_back(token_types.empty() ? 0 : token_types[b][t]);
        w.host_start.push_back(start);
        w.host_length.push_back(static_cast<int>(sequences[b].size()));
      }
    }
    return max_length;
  }

 public:

  // Hugging Face style input: ids/mask/types are [batch × length] row-major; the mask must be right padding
  // (1...1 0...0 per row, at least one 1); types may be empty (all 0).
  encoding encode_padded(std::span<const token_id> ids, std::span<const std::int64_t> mask,
                         std::span<const token_id> types, std::size_t batch, std::size_t length) const {
    const std::string op = "bert_encoder::encode_padded";
    if (ids.size() != batch * length || mask.size() != batch * length ||
        (!types.empty() && types.size() != batch * length))
      throw shape_error(op + ": ids, mask and types must each hold batch × length = " +
                        std::to_string(batch * length) + " values");
    std::vector<std::vector<token_id>> seqs(batch), tts(types.empty() ? 0 : batch);
    for (std::size_t b = 0; b < batch; ++b) {
      std::size_t n = 0;
      while (n < length && mask[b * length + n] != 0) ++n;
      for (std::size_t t = n; t < length; ++t)
        if (mask[b * length + t] != 0)
          throw value_error(op + ": the attention mask of row " + std::to_string(b) +
                            " is not right padding (a 1 after a 0 at position " + std::to_string(t) + ")");
      seqs[b].assign(ids.begin() + static_cast<std::ptrdiff_t>(b * length),
                     ids.begin() + static_cast<std::ptrdiff_t>(b * length + n));
      if (!types.empty())
        tts[b].assign(types.begin() + static_cast<std::ptrdiff_t>(b * length),
                      types.begin() + static_cast<std::ptrdiff_t>(b * length + n));
    }
    return encode(seqs, tts);
  }

 private:
  struct layer {
    weight_matrix<Backend> qkv_weight;
    buffer<float> qkv_bias;
    weight_matrix<Backend> attn_out_weight;
    buffer<float> attn_out_bias, attn_ln_weight, attn_ln_bias;
    weight_matrix<Backend> inter_weight;
    buffer<float> inter_bias;
    weight_matrix<Backend> out_weight;
    buffer<float> out_bias, out_ln_weight, out_ln_bias;
  };

  // The forward pass of a staged batch of B sequences, up to the latent head's output (w.latent), on the backend.
  void run(std::size_t B, std::size_t max_length) const {
    auto& w = work_;
    const std::size_t R = w.host_token.size(), H = config_.hidden_size, I = config_.intermediate_size;
    const std::size_t heads = config_.num_attention_heads, D = config_.head_dim();
    backend::ensure_size(w.hidden, R * H);
    backend::ensure_size(w.qkv, R * 3 * H);
    backend::ensure_size(w.context, R * H);
    backend::ensure_size(w.inter, R * I);
    backend::ensure_size(w.scores, R * heads * max_length);
    for (auto* v : {&w.token, &w.position, &w.type, &w.start, &w.length}) backend::ensure_size(*v, R);
    backend::ensure_size(w.seq_start, B);
    backend::ensure_size(w.seq_length, B);
    backend::ensure_size(w.selected, B * H);
    backend::ensure_size(w.pooled, B * config_.pooled_size());
    backend::ensure_size(w.latent, B * 2 * latent_size_);
    backend::upload(std::span<const int>(w.host_token), w.token);
    backend::upload(std::span<const int>(w.host_position), w.position);
    backend::upload(std::span<const int>(w.host_type), w.type);
    backend::upload(std::span<const int>(w.host_start), w.start);
    backend::upload(std::span<const int>(w.host_length), w.length);
    backend::upload(std::span<const int>(w.host_seq_start), w.seq_start);
    backend::upload(std::span<const int>(w.host_seq_length), w.seq_length);

    float* hidden = backend::raw<float>(w.hidden);
    float* qkv = backend::raw<float>(w.qkv);
    float* context = backend::raw<float>(w.context);
    float* inter = backend::raw<float>(w.inter);
    const float eps = config_.layer_norm_eps;
    backend::for_each_index<Backend>(
        R * H, kernels::bert_embedding{hidden, word_.view(), backend::raw<float>(position_),
                                       backend::raw<float>(token_type_), backend::raw<int>(w.token),
                                       backend::raw<int>(w.position), backend::raw<int>(w.type), H});
    backend::for_each_index<Backend>(
        R, kernels::bias_residual_layer_norm{hidden, nullptr, hidden, backend::raw<float>(embedding_ln_weight_),
                                             backend::raw<float>(embedding_ln_bias_), H, eps},
        4 * H);
    const float scale = 1.f / std::sqrt(static_cast<float>(D));
    for (const layer& ly : layers_) {
      product_(blas_, ly.qkv_weight, R, hidden, H, 0.f, qkv, 3 * H);
      backend::for_each_index<Backend>(
          R * 3 * H,
          kernels::bias_activation<kernels::identity_activation>{qkv, backend::raw<float>(ly.qkv_bias), 3 * H, {}});
      backend::for_each_index<Backend>(
          R * heads, kernels::packed_bidirectional_attention{qkv, backend::raw<int>(w.start), backend::raw<int>(w.length),
                                                             backend::raw<float>(w.scores), context, H, D, heads,
                                                             max_length, scale},
          2 * D * max_length);
      product_(blas_, ly.attn_out_weight, R, context, H, 1.f, hidden, H);
      backend::for_each_index<Backend>(
          R, kernels::bias_residual_layer_norm{hidden, backend::raw<float>(ly.attn_out_bias), hidden,
                                               backend::raw<float>(ly.attn_ln_weight),
                                               backend::raw<float>(ly.attn_ln_bias), H, eps},
          4 * H);
      product_(blas_, ly.inter_weight, R, hidden, H, 0.f, inter, I);
      backend::for_each_index<Backend>(
          R * I, kernels::bias_activation<kernels::gelu_erf>{inter, backend::raw<float>(ly.inter_bias), I, {}});
      product_(blas_, ly.out_weight, R, inter, I, 1.f, hidden, H);
      backend::for_each_index<Backend>(
          R, kernels::bias_residual_layer_norm{hidden, backend::raw<float>(ly.out_bias), hidden,
                                               backend::raw<float>(ly.out_ln_weight),
                                               backend::raw<float>(ly.out_ln_bias), H, eps},
          4 * H);
    }
    float* pooled = backend::raw<float>(w.pooled);
    const std::size_t P = config_.pooled_size();
    if (config_.pooling == pooling::cls_tanh) {
      backend::for_each_index<Backend>(
          B * H, kernels::gather_rows{backend::raw<float>(w.selected), hidden, backend::raw<int>(w.seq_start), H});
      product_(blas_, pooler_weight_, B, backend::raw<float>(w.selected), H, 0.f, pooled, H);
      backend::for_each_index<Backend>(
          B * H, kernels::bias_activation<kernels::tanh_activation>{pooled, backend::raw<float>(pooler_bias_), H, {}});
    } else if (config_.pooling == pooling::positions) {
      backend::for_each_index<Backend>(B * P, kernels::positions_pool{pooled, hidden, backend::raw<int>(w.seq_start),
                                                                      backend::raw<int>(w.seq_length), H,
                                                                      config_.max_position_embeddings});
    } else {
      backend::for_each_index<Backend>(B * H, kernels::mean_pool{pooled, hidden, backend::raw<int>(w.seq_start),
                                                                 backend::raw<int>(w.seq_length), H});
    }
    if (latent_size_ > 0)
      product_(blas_, latent_head_, B, pooled, P, 0.f, backend::raw<float>(w.latent), 2 * latent_size_);
  }
  // A run's results brought to the host.
  encoding collect(std::size_t B) const {
    const auto& w = work_;
    const std::size_t R = w.host_token.size(), H = config_.hidden_size, P = config_.pooled_size();
    encoding out;
    out.batch = B;
    out.hidden_size = H;
    out.latent_size = latent_size_;
    out.offsets.resize(B + 1);
    for (std::size_t b = 0; b < B; ++b) out.offsets[b] = static_cast<std::size_t>(w.host_seq_start[b]);
    out.offsets[B] = R;
    out.hidden_states.resize(R * H);
    out.pooled_size = P;
    out.pooled.resize(B * P);
    backend::download(w.hidden, 0, std::span<float>(out.hidden_states));
    backend::download(w.pooled, 0, std::span<float>(out.pooled));
    if (latent_size_ > 0) {
      out.latent.resize(B * 2 * latent_size_);
      backend::download(w.latent, 0, std::span<float>(out.latent));
      backend::note_latent_crossing<Backend>(backend::crossing::to_host, out.latent.size());
    }
    return out;
  }

  encoder_config config_;
  std::size_t latent_size_;
  weight_matrix<Backend> word_, pooler_weight_, latent_head_;
  buffer<float> position_, token_type_, embedding_ln_weight_, embedding_ln_bias_, pooler_bias_;
  std::vector<layer> layers_;

  // Scratch reused across calls (grown, never shrunk): one encoder object per thread.
  struct workspace {
    buffer<float> hidden, qkv, context, inter, scores, selected, pooled, latent;
    buffer<int> token, position, type, start, length, seq_start, seq_length;
    std::vector<int> host_token, host_position, host_type, host_start, host_length, host_seq_start,
        host_seq_length;
  };
  mutable workspace work_;
  mutable backend::blas<Backend> blas_;
  weight_product<Backend> product_;  // the products with the weight matrices (their scratch panel)
};

}  // namespace larimar::model

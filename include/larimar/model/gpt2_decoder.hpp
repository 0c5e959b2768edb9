#pragma once
// GPT-2 decoder with Larimar's latent conditioning (docs/model.md, docs/model.md), one implementation over thrust:
// backend::omp (thrust OpenMP + OpenBLAS) or backend::cuda (CUDA + cuBLAS).
//
// Blocks are pre-LayerNorm with GELU (tanh form) and a fused q|k|v projection stored in GPT-2's Conv1D layout
// ([in, out]); the LM head is tied to the token embedding. A latent z (latent_size C) conditions the decoder:
//   h = latent_kv(z) (+ latent_kv.bias when the file has one; [n_layer·S·n_embd]); at layer l, cache slots
//   0..S-1 hold key = value = h_{l,s} split into heads (S = latent_slots, 1 unless config.json says more);
//   tokens take positions S, S+1, ...; in kv_embedding mode latent_emb(z) is added to every token's embedding.
// Without a latent the decoder is plain GPT-2 (positions 0, 1, ...).
//
// A forward pass works on "packed rows": the tokens of all sequences in the batch back to back, each row tagged
// with its sequence and cache slot, so batched prompts of different lengths need no padding.
#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstring>
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
#include "larimar/model/generation.hpp"
#include "larimar/model/kernels/activation.hpp"
#include "larimar/model/kernels/attention.hpp"
#include "larimar/model/kernels/embedding.hpp"
#include "larimar/model/kernels/layer_norm.hpp"
#include "larimar/model/kernels/prompt_attention.hpp"
#include "larimar/model/kernels/row_kernels.hpp"
#include "larimar/model/kv_cache.hpp"
#include "larimar/model/sampling.hpp"
#include "larimar/model/token.hpp"
#include "larimar/model/weight_format.hpp"
#include "larimar/model/weight_matrix.hpp"
#include "larimar/model/weight_product.hpp"
#include "larimar/model/weights.hpp"

namespace larimar::model {

template <backend::thrust_backend Backend = backend::active>
class gpt2_decoder {
  template <class T>
  using buffer = backend::device_buffer<Backend, T>;
  using transpose = backend::transpose;

 public:
  using cache_type = kv_cache<Backend>;
  // Latents in this decoder's backend memory (rows × latent_size): generate/prefill condition on them in place.
  using latent_view = backend::device_ref<Backend, const float>;

  // A model directory: ours (config.json with a "decoder" section + decoder.safetensors) or a plain Hugging Face
  // GPT-2 directory (config.json + model.safetensors). options.weights: the format the weight matrices are held
  // in (default: the file's; docs/model.md, "Weight formats").
  static gpt2_decoder load(const std::filesystem::path& directory, const load_options& options = {}) {
    const model_config cfg = load_model_config(directory / "config.json");
    if (!cfg.decoder)
      throw format_error(std::string("gpt2_decoder::load: '") + (directory / "config.json").string() + "' has no decoder");
    auto weights = directory / "decoder.safetensors";
    if (!std::filesystem::exists(weights)) weights = directory / "model.safetensors";
    if (!std::filesystem::exists(weights))
      throw io_error("gpt2_decoder::load: neither decoder.safetensors nor model.safetensors in '" +
                     directory.string() + "'");
    return gpt2_decoder(*cfg.decoder, cfg.latent_size, cfg.mode, io::safetensors_file::open(weights), options,
                        cfg.latent_slots);
  }

  // From a parsed config and an open weights file; mode none ignores any latent weights in the file.
  gpt2_decoder(const decoder_config& config, std::size_t latent_size, latent_mode mode,
               const io::safetensors_file& file, const load_options& options = {}, std::size_t latent_slots = 1)
      : config_(config),
        latent_size_(mode == latent_mode::none ? 0 : latent_size),
        slots_(mode == latent_mode::none ? 0 : latent_slots),
        mode_(mode) {
    const std::string op = "gpt2_decoder";
    if (mode != latent_mode::none && latent_size == 0)
      throw value_error(op + ": a latent mode needs latent_size > 0");
    if (mode != latent_mode::none && (latent_slots == 0 || latent_slots >= config.n_positions))
      throw value_error(op + ": latent_slots is " + std::to_string(latent_slots) + "; it must be at least 1 and " +
                        "leave room for tokens in n_positions = " + std::to_string(config.n_positions));
    if (config.n_head == 0 || config.n_embd % config.n_head != 0)
      throw value_error(op + ": n_embd must be a positive multiple of n_head");
    const std::size_t E = config.n_embd, V = config.vocab_size, L = config.n_layer;
    const std::string p = detail::find_prefix(file, "wte.weight", {"transformer."}, op);
    const auto load = [&](const std::string& name, std::initializer_list<std::size_t> shape) {
      return detail::load_tensor<Backend>(file, p + name, shape);
    };
    // Conv1D weights are [in, out] in the file, kept as [out, in] (weight_matrix.hpp)
    const auto matrix = [&](const std::string& name, std::initializer_list<std::size_t> shape, bool conv1d) {
      return detail::load_matrix<Backend>(file, p + name, shape, conv1d, options);
    };
    wte_ = matrix("wte.weight", {V, E}, false);
    wpe_ = load("wpe.weight", {config.n_positions, E});
    layers_.reserve(L);
    for (std::size_t l = 0; l < L; ++l) {
      const std::string h = std::string("h.") + std::to_string(l) + ".";
      layers_.push_back(layer{load(h + "ln_1.weight", {E}), load(h + "ln_1.bias", {E}),
                              matrix(h + "attn.c_attn.weight", {E, 3 * E}, true), load(h + "attn.c_attn.bias", {3 * E}),
                              matrix(h + "attn.c_proj.weight", {E, E}, true), load(h + "attn.c_proj.bias", {E}),
                              load(h + "ln_2.weight", {E}), load(h + "ln_2.bias", {E}),
                              matrix(h + "mlp.c_fc.weight", {E, 4 * E}, true), load(h + "mlp.c_fc.bias", {4 * E}),
                              matrix(h + "mlp.c_proj.weight", {4 * E, E}, true), load(h + "mlp.c_proj.bias", {E})});
    }
    ln_f_weight_ = load("ln_f.weight", {E});
    ln_f_bias_ = load("ln_f.bias", {E});
    if (file.contains("lm_head.weight")) {  // allowed only as a copy of wte (the head is tied)
      const auto head = io::to_f32(file.at("lm_head.weight", {V, E}));
      const auto wte = io::to_f32(file.at(p + "wte.weight"));
      if (head != wte) throw format_error(op + ": lm_head.weight differs from wte; only a tied LM head is supported");
    }
    if (mode != latent_mode::none) {
      latent_kv_ = detail::load_tensor<Backend>(file, "latent_kv.weight", {L * slots_ * E, latent_size});
      if (file.contains("latent_kv.bias"))
        latent_kv_bias_ = detail::load_tensor<Backend>(file, "latent_kv.bias", {L * slots_ * E});
    }
    if (mode == latent_mode::kv_embedding)
      latent_emb_ = detail::load_tensor<Backend>(file, "latent_emb.weight", {E, latent_size});
  }

  // How attention is computed: `fused`, one serial scan per (row, head) (the host default: contiguous, enough
  // work per item; on the host the rows of prompts go through kernels/prompt_attention.hpp as GEMMs), or `split`, three launches with one item per (row, head, slot) / (row, head) / output element
  // (the CUDA default: the parallelism a GPU needs). Both give the same results (tested on the host).
  enum class attention_kernel { fused, split };
  void use_attention_kernel(attention_kernel k) { attention_ = k; }
  attention_kernel attention() const { return attention_; }

  const decoder_config& config() const { return config_; }
  std::size_t latent_size() const { return latent_size_; }  // 0: no latent conditioning
  latent_mode mode() const { return mode_; }
  // Cache slots (and positions) a latent takes before the first token: latent_slots, or 0 without conditioning.
  std::size_t latent_slots() const { return slots_; }
  std::size_t vocab_size() const { return config_.vocab_size; }

  // The format the weight matrices are held in: load_options::weights, or the file's (wte's, should a file mix
  // dtypes: each matrix then keeps its own tensor's).
  weight_format weights_format() const { return wte_.format(); }
  // Weight bytes one batch-1 decode step reads: every block's four matrices, the tied LM head, one wte and one wpe
  // row, and the f32 biases and LayerNorm vectors (not the latent projections: once per prefill).
  std::size_t weight_bytes_per_token() const {
    const std::size_t E = config_.n_embd;
    std::size_t bytes = wte_.bytes() + wte_.row_bytes() + E * sizeof(float) + 2 * E * sizeof(float);
    for (const layer& ly : layers_)
      bytes += ly.attn_weight.bytes() + ly.attn_proj_weight.bytes() + ly.fc_weight.bytes() +
               ly.fc_proj_weight.bytes() + (3 * E + E + 4 * E + E + 4 * E) * sizeof(float);
    return bytes;
  }
  // The same from the shapes alone, for a decoder of `config` with its matrices in `format`.
  static std::size_t decode_weight_bytes(const decoder_config& config, weight_format format) {
    const std::size_t E = config.n_embd, V = config.vocab_size, b = weight_format_bytes(format);
    const std::size_t scale = format == weight_format::int8 ? sizeof(float) : 0;  // per matrix row
    const std::size_t per_layer = 12 * E * E * b + (3 * E + E + 4 * E + E) * scale + 13 * E * sizeof(float);
    return config.n_layer * per_layer + V * (E * b + scale) + (E * b + scale) + 3 * E * sizeof(float);
  }
  // The instruction-set level of the host weight kernels (core/cpu_dispatch.hpp; tests and benchmarks).
  void use_cpu_isa(cpu_isa isa) { product_.use_cpu_isa(isa); }
  // int8 weights: decode steps (≤ 4 rows) keep their inputs fp32 (default: the products exact on the stored
  // weights, as a prefill's are) or quantise them to int8 too (true; model/kernels/q8_gemv.hpp: the error bound).
  void use_int8_activations(bool on) { product_.use_int8_activations(on); }

  // A cache for `batch` sequences of up to `capacity` slots (0: the whole context window, n_positions).
  cache_type new_cache(std::size_t batch = 1, std::size_t capacity = 0) const {
    if (batch == 0) throw value_error("gpt2_decoder::new_cache: batch must be at least 1");
    if (capacity == 0) capacity = config_.n_positions;
    if (capacity > config_.n_positions)
      throw shape_error(std::string("gpt2_decoder::new_cache: capacity ") + std::to_string(capacity) +
                        " exceeds the context window n_positions = " + std::to_string(config_.n_positions));
    return cache_type(config_.n_layer, batch, config_.n_head, capacity, config_.head_dim());
  }

  // Starts cache.batch() sequences: latents is empty (plain GPT-2) or batch × latent_size (row b conditions
  // prompt b). Writes the logits of each prompt's last token to logits ([batch × vocab]).
  void prefill(cache_type& cache, std::span<const std::vector<token_id>> prompts, std::span<const float> latents,
               std::span<float> logits) const {
    prefill_from(cache, prompts, latents, logits);
  }
  // The same with the latents in this decoder's backend memory (the latent path: a memory read on the same device).
  void prefill(cache_type& cache, std::span<const std::vector<token_id>> prompts, latent_view latents,
               std::span<float> logits) const {
    prefill_from(cache, prompts, latents, logits);
  }
  std::vector<float> prefill(cache_type& cache, std::span<const std::vector<token_id>> prompts,
                             std::span<const float> latents = {}) const {
    std::vector<float> logits(prompts.size() * config_.vocab_size);
    prefill(cache, prompts, latents, logits);
    return logits;
  }

  // Appends one token to every sequence of a started cache; logits of the new tokens ([batch × vocab]).
  void step(cache_type& cache, std::span<const token_id> tokens, std::span<float> logits) const {
    if (tokens.size() != cache.batch())
      throw shape_error(std::string("gpt2_decoder::step: ") + std::to_string(tokens.size()) + " tokens for a cache of batch " +
                        std::to_string(cache.batch()));
    all_sequences_.resize(cache.batch());
    for (std::size_t b = 0; b < cache.batch(); ++b) all_sequences_[b] = b;
    step_some(cache, all_sequences_, tokens, logits);
  }
  std::vector<float> step(cache_type& cache, std::span<const token_id> tokens) const {
    std::vector<float> logits(tokens.size() * config_.vocab_size);
    step(cache, tokens, logits);
    return logits;
  }

  // Logits at every position of one sequence ([tokens × vocab]), optionally conditioned on a latent.
  std::vector<float> logits(std::span<const token_id> tokens, std::span<const float> latent = {}) const {
    const std::string op = "gpt2_decoder::logits";
    const std::vector<std::vector<token_id>> prompt{std::vector<token_id>(tokens.begin(), tokens.end())};
    check_prompts(op, prompt, latent, config_.n_positions);
    const std::size_t offset = latent.empty() ? 0 : slots_;
    cache_type cache = new_cache(1, offset + tokens.size());
    auto& w = cache.work_;
    for (std::size_t t = 0; t < tokens.size(); ++t) {
      w.host_token.push_back(tokens[t]);
      w.host_position.push_back(static_cast<int>(offset + t));
      w.host_sequence.push_back(0);
      w.host_logit_rows.push_back(static_cast<int>(t));
    }
    if (!latent.empty()) write_latents(cache, latent);
    cache.conditioned_ = !latent.empty();
    std::vector<float> out(tokens.size() * config_.vocab_size);
    forward(cache, out);
    return out;
  }

  // Generates a continuation of every prompt (latents: empty or prompts.size() × latent_size). Sequence b
  // samples with its own random stream (seed, b), so results do not depend on the batch composition.
  std::vector<generation> generate(std::span<const std::vector<token_id>> prompts, std::span<const float> latents,
                                   const generation_options& options) const {
    return generate_from(prompts, latents, options);
  }
  // The same with the latents in this decoder's backend memory: nothing crosses to the host but the sampled tokens'
  // logits.
  std::vector<generation> generate(std::span<const std::vector<token_id>> prompts, latent_view latents,
                                   const generation_options& options) const {
    return generate_from(prompts, latents, options);
  }
  generation generate(std::span<const token_id> prompt, std::span<const float> latent,
                      const generation_options& options) const {
    const std::vector<std::vector<token_id>> prompts{std::vector<token_id>(prompt.begin(), prompt.end())};
    return generate(std::span<const std::vector<token_id>>(prompts), latent, options).front();
  }

 private:
  // Latents as a call gives them: host values, or values already in the backend's memory (the latent path).
  struct latents_in {
    const float* data = nullptr;
    std::size_t values = 0;
    bool on_device = false;
    latents_in(std::span<const float> host) : data(host.data()), values(host.size()) {}  // NOLINT: both convert
    latents_in(latent_view d) : data(d.data), values(d.size()), on_device(true) {}     // NOLINT
    bool empty() const { return values == 0; }
    std::size_t size() const { return values; }
  };
  std::vector<float> download_values(const latents_in& latents) const {
    std::vector<float> host(latents.size());
    backend::copy_to_host<Backend>(latents.data, latents.size(), host.data());
    return host;
  }

  void prefill_from(cache_type& cache, std::span<const std::vector<token_id>> prompts, const latents_in& latents,
                    std::span<float> logits) const {
    const std::string op = "gpt2_decoder::prefill";
    check_prompts(op, prompts, latents, cache.capacity());
    if (prompts.size() != cache.batch())
      throw shape_error(op + ": " + std::to_string(prompts.size()) + " prompts for a cache of batch " +
                        std::to_string(cache.batch()));
    check_logits_size(op, logits, prompts.size());

    const bool conditioned = !latents.empty();
    const std::size_t offset = conditioned ? slots_ : 0;
    auto& w = cache.work_;
    w.host_token.clear();
    w.host_position.clear();
    w.host_sequence.clear();
    w.host_logit_rows.clear();
    for (std::size_t b = 0; b < prompts.size(); ++b) {
      for (std::size_t t = 0; t < prompts[b].size(); ++t) {
        w.host_token.push_back(prompts[b][t]);
        w.host_position.push_back(static_cast<int>(offset + t));
        w.host_sequence.push_back(static_cast<int>(b));
      }
      w.host_logit_rows.push_back(static_cast<int>(w.host_token.size() - 1));
    }
    if (conditioned) write_latents(cache, latents);
    cache.conditioned_ = conditioned;
    forward(cache, logits);
    for (std::size_t b = 0; b < prompts.size(); ++b) cache.length_[b] = offset + prompts[b].size();
    cache.started_ = true;
  }

  std::vector<generation> generate_from(std::span<const std::vector<token_id>> prompts, const latents_in& latents,
                                        const generation_options& options) const {
    const std::string op = "gpt2_decoder::generate";
    options.sampling.validate(op);
    check_prompts(op, prompts, latents, config_.n_positions);
    const std::optional<token_id> eos = options.eos_token ? options.eos_token : config_.eos_token_id;
    if (eos && (*eos < 0 || static_cast<std::size_t>(*eos) >= config_.vocab_size))
      throw value_error(op + ": eos token " + std::to_string(*eos) + " is outside the vocabulary");
    std::vector<generation> out(prompts.size());
    if (options.max_new_tokens == 0 || prompts.empty()) return out;

    const std::size_t offset = latents.empty() ? 0 : slots_;
    std::size_t capacity = 0;
    for (const auto& p : prompts) capacity = std::max(capacity, offset + p.size() + options.max_new_tokens - 1);
    cache_type cache = new_cache(prompts.size(), std::min(capacity, config_.n_positions));
    const std::size_t V = config_.vocab_size;
    std::vector<float> logits(prompts.size() * V);
    prefill_from(cache, prompts, latents, logits);

    std::vector<token_sampler> samplers;
    samplers.reserve(prompts.size());
    for (std::size_t b = 0; b < prompts.size(); ++b) samplers.emplace_back(options.sampling, b);
    std::vector<std::size_t> active(prompts.size()), still;
    for (std::size_t b = 0; b < prompts.size(); ++b) active[b] = b;
    std::vector<token_id> next;
    while (!active.empty()) {
      still.clear();
      next.clear();
      for (std::size_t i = 0; i < active.size(); ++i) {
        const std::size_t b = active[i];
        const token_id t = samplers[b](std::span<const float>(logits).subspan(i * V, V));
        if (options.stop_at_eos && eos && t == *eos) {
          out[b].reason = finish_reason::eos;
          continue;
        }
        out[b].tokens.push_back(t);
        if (out[b].tokens.size() >= options.max_new_tokens) {
          out[b].reason = finish_reason::max_tokens;
        } else if (cache.room(b) == 0) {
          out[b].reason = finish_reason::context_full;
        } else {
          still.push_back(b);
          next.push_back(t);
        }
      }
      active.swap(still);
      if (active.empty()) break;
      step_some(cache, active, next, std::span<float>(logits).first(active.size() * V));
    }
    return out;
  }

  struct layer {
    buffer<float> ln1_weight, ln1_bias;
    weight_matrix<Backend> attn_weight;
    buffer<float> attn_bias;
    weight_matrix<Backend> attn_proj_weight;
    buffer<float> attn_proj_bias, ln2_weight, ln2_bias;
    weight_matrix<Backend> fc_weight;
    buffer<float> fc_bias;
    weight_matrix<Backend> fc_proj_weight;
    buffer<float> fc_proj_bias;
  };

  // Everything a prefill/generate call could reject, before any state changes.
  void check_prompts(const std::string& op, std::span<const std::vector<token_id>> prompts,
                     const latents_in& latents, std::size_t capacity) const {
    if (!latents.empty()) {
      if (mode_ == latent_mode::none)
        throw state_error(op + ": this decoder has no latent projection (latent_mode none); pass no latent");
      if (latents.size() != prompts.size() * latent_size_)
        throw shape_error(op + ": " + std::to_string(latents.size()) + " latent values for " +
                          std::to_string(prompts.size()) + " prompts of latent_size " + std::to_string(latent_size_));
      // On the device the backend checks; only a failure brings the values to the host, to name the place.
      std::vector<float> host;
      const float* z = latents.data;
      if (latents.on_device) {
        if (Backend::all_finite(latents.data, latents.size())) z = nullptr;
        else host = download_values(latents), z = host.data();
      }
      for (std::size_t i = 0; z && i < latents.size(); ++i)
        if (!std::isfinite(z[i]))
          throw value_error(op + ": latent " + std::to_string(i / latent_size_) + " has a non-finite value at " +
                            std::to_string(i % latent_size_));
    }
    const std::size_t offset = latents.empty() ? 0 : slots_;
    const std::size_t window = std::min(capacity, config_.n_positions) - std::min(offset, capacity);
    for (std::size_t b = 0; b < prompts.size(); ++b) {
      if (prompts[b].empty())
        throw shape_error(op + ": prompt " + std::to_string(b) + " is empty (start it with a BOS token)");
      if (prompts[b].size() > window)
        throw shape_error(op + ": prompt " + std::to_string(b) + " has " + std::to_string(prompts[b].size()) +
                          " tokens; the context holds " + std::to_string(window) + " (n_positions " +
                          std::to_string(config_.n_positions) + (offset == 1   ? ", one position taken by the latent"
                                           : offset ? ", " + std::to_string(offset) + " positions taken by the latent"
                                                    : std::string()) +
                          ")");
      check_tokens(op, prompts[b], b);
    }
  }
  void check_tokens(const std::string& op, std::span<const token_id> tokens, std::size_t which) const {
    for (std::size_t t = 0; t < tokens.size(); ++t)
      if (tokens[t] < 0 || static_cast<std::size_t>(tokens[t]) >= config_.vocab_size)
        throw value_error(op + ": token id " + std::to_string(tokens[t]) + " (sequence " + std::to_string(which) +
                          ", position " + std::to_string(t) + ") is outside the vocabulary [0, " +
                          std::to_string(config_.vocab_size) + ")");
  }
  void check_logits_size(const std::string& op, std::span<float> logits, std::size_t rows) const {
    if (logits.size() != rows * config_.vocab_size)
      throw shape_error(op + ": logits output holds " + std::to_string(logits.size()) + " floats, expected " +
                        std::to_string(rows * config_.vocab_size));
  }

  // One new token for each listed sequence of a started cache.
  void step_some(cache_type& cache, std::span<const std::size_t> sequences, std::span<const token_id> tokens,
                 std::span<float> logits) const {
    const std::string op = "gpt2_decoder::step";
    if (!cache.started_) throw state_error(op + ": the cache has not been prefilled");
    check_logits_size(op, logits, sequences.size());
    for (std::size_t i = 0; i < sequences.size(); ++i) {
      const std::size_t b = sequences[i];
      if (tokens[i] < 0 || static_cast<std::size_t>(tokens[i]) >= config_.vocab_size)
        throw value_error(op + ": token id " + std::to_string(tokens[i]) + " for sequence " + std::to_string(b) +
                          " is outside the vocabulary [0, " + std::to_string(config_.vocab_size) + ")");
      if (cache.room(b) == 0)
        throw shape_error(op + ": sequence " + std::to_string(b) + " fills its cache (" +
                          std::to_string(cache.capacity()) + " slots); the context window is used up");
    }
    auto& w = cache.work_;
    w.host_token.assign(tokens.begin(), tokens.end());
    w.host_position.resize(sequences.size());
    w.host_sequence.resize(sequences.size());
    w.host_logit_rows.resize(sequences.size());
    for (std::size_t i = 0; i < sequences.size(); ++i) {
      w.host_position[i] = static_cast<int>(cache.length_[sequences[i]]);
      w.host_sequence[i] = static_cast<int>(sequences[i]);
      w.host_logit_rows[i] = static_cast<int>(i);
    }
    forward(cache, logits);
    for (const std::size_t b : sequences) ++cache.length_[b];
  }

  // latent_kv(z) (+ bias) into slots 0..S-1 of every layer; latent_emb(z) kept for the embedding mode.
  void write_latents(cache_type& cache, const latents_in& latents) const {
    const std::size_t B = latents.size() / latent_size_, E = config_.n_embd, L = config_.n_layer, S = slots_;
    auto& w = cache.work_;
    backend::ensure_size(w.latent_out, B * L * S * E);
    const float* z = latents.data;  // on the device: the projections read the caller's rows
    if (!latents.on_device) {
      backend::ensure_size(w.latent_in, latents.size());
      backend::upload(std::span<const float>(latents.data, latents.size()), w.latent_in);
      backend::note_latent_crossing<Backend>(backend::crossing::to_device, latents.size());
      z = backend::raw<float>(w.latent_in);
    }
    blas_.gemm(transpose::no, transpose::yes, B, L * S * E, latent_size_, 1.f, z,
               latent_size_, backend::raw<float>(latent_kv_), latent_size_, 0.f, backend::raw<float>(w.latent_out),
               L * S * E);
    backend::for_each_index<Backend>(
        B * L * S * E,
        kernels::latent_to_cache{backend::raw<float>(cache.keys_), backend::raw<float>(cache.values_),
                                 backend::raw<float>(w.latent_out),
                                 latent_kv_bias_.size() ? backend::raw<float>(latent_kv_bias_) : nullptr, L, S,
                                 cache.batch(), E, config_.head_dim(), config_.n_head, cache.capacity()});
    if (mode_ == latent_mode::kv_embedding) {
      backend::ensure_size(cache.latent_embedding_, cache.batch() * E);
      blas_.gemm(transpose::no, transpose::yes, B, E, latent_size_, 1.f, z,
                 latent_size_, backend::raw<float>(latent_emb_), latent_size_, 0.f,
                 backend::raw<float>(cache.latent_embedding_), E);
    }
  }

  // hidden[r] (+ bias) then LayerNorm into normed[r], for the R rows (kernels/layer_norm.hpp; the host's
  // dispatched row kernel).
  void layer_norm(std::size_t R, float* hidden, const float* bias, float* normed, const buffer<float>& gamma,
                  const buffer<float>& beta) const {
    const std::size_t E = config_.n_embd;
    const float eps = config_.layer_norm_epsilon;
    const float* g = backend::raw<float>(gamma);
    const float* b = backend::raw<float>(beta);
    if constexpr (std::same_as<Backend, backend::omp>) {
      const cpu_isa isa = product_.isa();
      host_rows(R, 4 * E, [&](std::size_t r) {
        row_kernels::layer_norm(isa, hidden + r * E, bias, normed + r * E, g, b, E, eps);
      });
    } else {
      backend::for_each_index<Backend>(R, kernels::bias_residual_layer_norm{hidden, bias, normed, g, b, E, eps}, 4 * E);
    }
  }

  // fn(r) for r < R on the host, over the OpenMP team when R·work_per_row is worth a fork.
  template <class Fn>
  static void host_rows(std::size_t R, std::size_t work_per_row, const Fn& fn) {
    const auto count = static_cast<std::ptrdiff_t>(R);
    const bool parallel = R > 1 && R * work_per_row >= backend::serial_work_limit;
#if defined(_OPENMP)
#pragma omp parallel for schedule(static) if (parallel)
#endif
    for (std::ptrdiff_t r = 0; r < count; ++r) fn(static_cast<std::size_t>(r));
    (void)parallel;
  }

  // Attention as GEMMs (kernels/prompt_attention.hpp) when every row is in a run of at least min_prompt_run rows
  // (a prefill, or a batch of prompts) and the fused attention kernel is selected; false (nothing done) otherwise.
  static constexpr std::size_t min_prompt_run = 2;
  bool host_prompt_attention(const std::vector<int>& sequence, const std::vector<int>& slot, const float* qkv,
                             const float* keys, const float* values, float* context,
                             const kernels::prompt_attention_shape& shape) const {
    if constexpr (std::same_as<Backend, backend::omp>) {
      if (attention_ != attention_kernel::fused) return false;
      const std::size_t R = sequence.size();
      const auto run_end = [&](std::size_t r0) {
        std::size_t r = r0 + 1;
        while (r < R && sequence[r] == sequence[r0] && slot[r] == slot[r - 1] + 1) ++r;
        return r;
      };
      for (std::size_t r0 = 0; r0 < R;) {
        const std::size_t r1 = run_end(r0);
        if (r1 - r0 < min_prompt_run) return false;
        r0 = r1;
      }
      for (std::size_t r0 = 0; r0 < R;) {
        const std::size_t r1 = run_end(r0);
        kernels::prompt_causal_attention(product_.isa(), shape, qkv, keys, values,
                                         static_cast<std::size_t>(sequence[r0]), r0,
                                         static_cast<std::size_t>(slot[r0]), r1 - r0, context);
        r0 = r1;
      }
      return true;
    } else {
      (void)sequence, (void)slot, (void)qkv, (void)keys, (void)values, (void)context, (void)shape;
      return false;
    }
  }

  // The forward pass over the rows staged in cache.work_ (host_token/position/sequence); writes the final
  // logits of rows host_logit_rows into `logits`. Positions are cache slots.
  void forward(cache_type& cache, std::span<float> logits) const {
    auto& w = cache.work_;
    const std::size_t R = w.host_token.size(), N = w.host_logit_rows.size();
    const std::size_t E = config_.n_embd, H = config_.n_head, D = config_.head_dim(), V = config_.vocab_size;
    const std::size_t cap = cache.capacity();
    backend::ensure_size(w.hidden, R * E);
    backend::ensure_size(w.normed, R * E);
    backend::ensure_size(w.qkv, R * 3 * E);
    backend::ensure_size(w.context, R * E);
    backend::ensure_size(w.mlp, R * 4 * E);
    backend::ensure_size(w.scores, R * H * cap);
    backend::ensure_size(w.token, R);
    backend::ensure_size(w.position, R);
    backend::ensure_size(w.sequence, R);
    backend::ensure_size(w.logit_rows, N);
    backend::ensure_size(w.selected, N * E);
    backend::ensure_size(w.logits, N * V);
    backend::upload(std::span<const int>(w.host_token), w.token);
    backend::upload(std::span<const int>(w.host_position), w.position);
    backend::upload(std::span<const int>(w.host_sequence), w.sequence);
    backend::upload(std::span<const int>(w.host_logit_rows), w.logit_rows);

    float* hidden = backend::raw<float>(w.hidden);
    float* normed = backend::raw<float>(w.normed);
    float* qkv = backend::raw<float>(w.qkv);
    float* context = backend::raw<float>(w.context);
    float* mlp = backend::raw<float>(w.mlp);
    const int* seq = backend::raw<int>(w.sequence);
    const int* pos = backend::raw<int>(w.position);
    const bool embedding_mode = mode_ == latent_mode::kv_embedding && cache.conditioned_;
    backend::for_each_index<Backend>(
        R * E, kernels::gpt2_embedding{hidden, wte_.view(), backend::raw<float>(wpe_),
                                       embedding_mode ? backend::raw<float>(cache.latent_embedding_) : nullptr,
                                       backend::raw<int>(w.token), pos, seq, E});
    const float scale = 1.f / std::sqrt(static_cast<float>(D));
    const std::size_t max_position =
        static_cast<std::size_t>(*std::max_element(w.host_position.begin(), w.host_position.end()));
    const float* pending_bias = nullptr;  // the previous block's MLP output bias, fused into the next LayerNorm
    for (std::size_t l = 0; l < layers_.size(); ++l) {
      const layer& ly = layers_[l];
      layer_norm(R, hidden, pending_bias, normed, ly.ln1_weight, ly.ln1_bias);
      product_(blas_, ly.attn_weight, R, normed, E, 0.f, qkv, 3 * E);
      float* keys = backend::raw<float>(cache.keys_) + l * cache.layer_block_;
      float* values = backend::raw<float>(cache.values_) + l * cache.layer_block_;
      if constexpr (std::same_as<Backend, backend::omp>) {
        // row by row: the bias add vectorises and the k, v head slices are plain copies (no index arithmetic
        // per element)
        const float* bias = backend::raw<float>(ly.attn_bias);
        host_rows(R, 3 * E, [&](std::size_t r) {
          float* row = qkv + r * 3 * E;
          for (std::size_t j = 0; j < 3 * E; ++j) row[j] += bias[j];
          const std::size_t at = static_cast<std::size_t>(seq[r]) * H * cap + static_cast<std::size_t>(pos[r]);
          for (std::size_t h = 0; h < H; ++h) {
            std::memcpy(keys + (at + h * cap) * D, row + E + h * D, D * sizeof(float));
            std::memcpy(values + (at + h * cap) * D, row + 2 * E + h * D, D * sizeof(float));
          }
        });
      } else {
        backend::for_each_index<Backend>(
            R * 3 * E, kernels::qkv_bias_to_cache{qkv, backend::raw<float>(ly.attn_bias), keys, values, seq, pos, E,
                                                  D, H, cap});
      }
      if (host_prompt_attention(w.host_sequence, w.host_position, qkv, keys, values, context,
                                {E, D, H, cap, scale})) {
        // done: every row was in a prompt run (kernels/prompt_attention.hpp)
      } else if (attention_ == attention_kernel::fused) {
        backend::for_each_index<Backend>(
            R * H, kernels::cached_causal_attention{qkv, keys, values, seq, pos, backend::raw<float>(w.scores),
                                                    context, E, D, H, cap, scale},
            2 * D * (max_position + 1));
      } else {
        float* scores = backend::raw<float>(w.scores);
        backend::for_each_index<Backend>(
            R * H * cap, kernels::attention_scores{qkv, keys, seq, pos, scores, E, D, H, cap, scale}, D);
        backend::for_each_index<Backend>(R * H, kernels::attention_softmax{scores, pos, H, cap}, 4 * max_position);
        backend::for_each_index<Backend>(
            R * E, kernels::attention_values{values, seq, pos, scores, context, E, D, H, cap}, max_position + 1);
      }
      // hidden += context · c_proj (beta = 1 accumulates straight into the residual stream)
      product_(blas_, ly.attn_proj_weight, R, context, E, 1.f, hidden, E);
      layer_norm(R, hidden, backend::raw<float>(ly.attn_proj_bias), normed, ly.ln2_weight, ly.ln2_bias);
      product_(blas_, ly.fc_weight, R, normed, E, 0.f, mlp, 4 * E);
      if constexpr (std::same_as<Backend, backend::omp>) {
        const float* bias = backend::raw<float>(ly.fc_bias);
        const cpu_isa isa = product_.isa();
        host_rows(R, 16 * E, [&](std::size_t r) { row_kernels::bias_gelu(isa, mlp + r * 4 * E, bias, 4 * E); });
      } else {
        backend::for_each_index<Backend>(
            R * 4 * E, kernels::bias_activation<kernels::gelu_tanh>{mlp, backend::raw<float>(ly.fc_bias), 4 * E, {}});
      }
      product_(blas_, ly.fc_proj_weight, R, mlp, 4 * E, 1.f, hidden, E);
      pending_bias = backend::raw<float>(ly.fc_proj_bias);
    }
    layer_norm(R, hidden, pending_bias, normed, ln_f_weight_, ln_f_bias_);
    // Only the rows whose logits are wanted go through the (large) tied LM head.
    const float* head_in = normed;
    bool identity = N == R;
    for (std::size_t i = 0; identity && i < N; ++i) identity = w.host_logit_rows[i] == static_cast<int>(i);
    if (!identity) {
      backend::for_each_index<Backend>(
          N * E, kernels::gather_rows{backend::raw<float>(w.selected), normed, backend::raw<int>(w.logit_rows), E});
      head_in = backend::raw<float>(w.selected);
    }
    product_(blas_, wte_, N, head_in, E, 0.f, backend::raw<float>(w.logits), V);
    backend::download(w.logits, 0, logits.first(N * V));
  }

  decoder_config config_;
  std::size_t latent_size_, slots_;
  latent_mode mode_;
  weight_matrix<Backend> wte_;  // the token embedding and the tied LM head
  buffer<float> wpe_, ln_f_weight_, ln_f_bias_, latent_kv_, latent_kv_bias_, latent_emb_;
  std::vector<layer> layers_;
  attention_kernel attention_ =
      std::same_as<Backend, backend::omp> ? attention_kernel::fused : attention_kernel::split;
  mutable backend::blas<Backend> blas_;          // cuBLAS handle: one decoder object per thread
  weight_product<Backend> product_;              // the products with the weight matrices (their scratch panel)
  mutable std::vector<std::size_t> all_sequences_;
};

}  // namespace larimar::model

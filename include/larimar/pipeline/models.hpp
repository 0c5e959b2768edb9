#pragma once
// The models a recall pipeline runs: the tokenizer, the encoder (with a cache of latents keyed by token ids, so
// a context that repeats its segments encodes each distinct one once) and, for end-to-end generation, the decoder.
// One recall_models object can serve several pipelines (e.g. one per key policy over the same context), one thread
// at a time: the cache is mutable state behind const calls. The one exception: a generation under lock_decoder()
// (recall_pipeline::ask_async runs one on a worker) may run while another thread encodes; the decoder and the
// encoder share no state.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "larimar/backend/device_ref.hpp"
#include "larimar/core/error.hpp"
#include "larimar/model/bert_encoder.hpp"
#include "larimar/model/config.hpp"
#include "larimar/model/gpt2_decoder.hpp"
#include "larimar/model/kernels/latent_rows.hpp"
#include "larimar/pipeline/random_encoder.hpp"
#include "larimar/tokenizer/byte_level_bpe.hpp"

namespace larimar::pipeline {

// What a model directory advises a pipeline to cut text into (config.json's segment_tokens and segment_overlap;
// 0: no advice).
struct segment_advice {
  std::size_t segment_tokens = 0, overlap = 0;
};

template <backend::thrust_backend Backend = backend::active>
class recall_models {
 public:
  using tokenizer_type = tokenizer::byte_level_bpe;

  // A model directory (config.json with encoder and decoder sections, encoder/decoder.safetensors, the BPE files
  // vocab.json + merges.txt that both sides share). Everything is read from config.json; `options` says the
  // format both models hold their weight matrices in (default: the files').
  static recall_models load(const std::filesystem::path& dir, const model::load_options& options = {}) {
    const auto cfg = checked_config(dir);
    std::optional<model::gpt2_decoder<Backend>> decoder;
    if (cfg.decoder) decoder.emplace(model::gpt2_decoder<Backend>::load(dir, options));
    return recall_models(load_tokenizer(dir), model::bert_encoder<Backend>::load(dir, options), std::move(decoder),
                         cfg.latent_size, advice_of(cfg));
  }
  // The directory's tokenizer and encoder architecture, with randomly initialised encoder weights (seeded) and
  // no decoder: memory-only recall.
  static recall_models load_random_encoder(const std::filesystem::path& dir, std::uint64_t seed) {
    const auto cfg = checked_config(dir);
    return recall_models(load_tokenizer(dir), random_encoder<Backend>(*cfg.encoder, cfg.latent_size, seed),
                         std::nullopt, cfg.latent_size, advice_of(cfg));
  }

  recall_models(tokenizer_type tok, model::bert_encoder<Backend> enc, std::optional<model::gpt2_decoder<Backend>> dec,
                std::size_t latent_size, segment_advice advice = {})
      : tok_(std::move(tok)), enc_(std::move(enc)), dec_(std::move(dec)), latent_(latent_size), advice_(advice) {
    if (latent_ == 0 || enc_.latent_size() != latent_)
      throw value_error("recall_models: the encoder has no latent head of size " + std::to_string(latent_));
    if (dec_ && dec_->latent_size() != latent_)
      throw value_error("recall_models: the decoder's latent size " + std::to_string(dec_->latent_size()) +
                        " differs from the encoder's " + std::to_string(latent_));
    const auto& ec = enc_.config();
    if (ec.cls_token_id) specials_.push_back(*ec.cls_token_id);
    if (ec.sep_token_id) ++specials_after_;
  }

  const tokenizer_type& tokenizer() const { return tok_; }
  const model::bert_encoder<Backend>& encoder() const { return enc_; }
  bool has_decoder() const { return dec_.has_value(); }
  const model::gpt2_decoder<Backend>& decoder() const {
    if (!dec_) throw state_error("recall_models: no decoder (a random encoder serves memory-only recall)");
    return *dec_;
  }
  // Held around every use of the decoder: its scratch and cuBLAS handle serve one generation at a time.
  std::unique_lock<std::mutex> lock_decoder() const { return std::unique_lock(*decoder_mutex_); }
  std::size_t latent_size() const { return latent_; }
  const segment_advice& advice() const { return advice_; }
  // The longest segment the encoder takes ([CLS] and [SEP] included in its positions).
  std::size_t max_segment_tokens() const {
    return enc_.config().max_position_embeddings - specials_.size() - specials_after_;
  }

  // Latents in the models' backend memory: how the latent path hands a batch to a memory and a decoder there.
  using latent_view = backend::device_ref<Backend, float>;

  // Latent means of token sequences (each 1..max_segment_tokens() ids, no special tokens), written row-major
  // into `out` (n × latent_size) in the backend's memory. Each distinct sequence is encoded once while it stays in
  // the cache, which is kept in the backend's memory too.
  void latents(std::span<const std::vector<model::token_id>> seqs, latent_view out) const {
    const std::size_t C = latent_;
    if (out.rows != seqs.size() || out.cols != C)
      throw shape_error("recall_models::latents: output is " + std::to_string(out.rows) + "x" +
                        std::to_string(out.cols) + ", expected " + std::to_string(seqs.size()) + "x" + std::to_string(C));
    std::vector<std::int64_t> source(seqs.size());  // row of the pool, or pool rows + row of the fresh latents
    std::vector<std::vector<model::token_id>> todo;
    std::unordered_map<std::string, std::size_t> pending;  // key -> index in todo
    const std::size_t pooled = cached_rows();
    for (std::size_t i = 0; i < seqs.size(); ++i) {
      if (seqs[i].empty() || seqs[i].size() > max_segment_tokens())
        throw shape_error("recall_models::latents: sequence " + std::to_string(i) + " has " +
                          std::to_string(seqs[i].size()) + " tokens; the encoder takes 1.." +
                          std::to_string(max_segment_tokens()));
      const auto key = key_of(seqs[i]);
      if (const auto it = cache_.find(key); it != cache_.end()) {
        source[i] = static_cast<std::int64_t>(it->second);
        ++hits_;
        continue;
      }
      const auto [it, fresh] = pending.emplace(key, todo.size());
      if (fresh) todo.push_back(with_specials(seqs[i]));
      source[i] = static_cast<std::int64_t>(pooled + it->second);
    }
    // Encode the misses in chunks, then gather every row from the pool or the fresh latents.
    auto fresh_latents = backend::scratch<Backend, float>(todo.size() * C);
    for (std::size_t at = 0; at < todo.size(); at += encode_chunk) {
      const std::size_t n = std::min(encode_chunk, todo.size() - at);
      enc_.encode_latents(std::span<const std::vector<model::token_id>>(todo).subspan(at, n),
                          backend::device_view<Backend>(backend::raw<float>(fresh_latents) + at * C, n, C));
    }
    misses_ += todo.size();
    gather(out.data, source, pooled, fresh_latents);
    if (cache_limit_ == 0) return;
    if (cache_.size() + todo.size() > cache_limit_) {
      cache_.clear();
      pool_.clear();
    }
    std::vector<std::int64_t> kept;  // rows of the fresh latents the cache keeps, in pool order
    for (const auto& [key, t] : pending) {
      if (cache_.size() >= cache_limit_) break;
      cache_.emplace(key, cached_rows() + kept.size());
      kept.push_back(static_cast<std::int64_t>(t));
    }
    if (kept.empty()) return;
    const std::size_t base = cached_rows(), need = (base + kept.size()) * C;
    if (pool_.capacity() < need) pool_.reserve(std::max(need, 2 * pool_.capacity()));
    pool_.resize(need);
    gather(backend::raw<float>(pool_) + base * C, kept, 0, fresh_latents);  // 0 pooled: all from the fresh rows
  }
  // The same into host memory: one crossing of the batch to the host.
  void latents(std::span<const std::vector<model::token_id>> seqs, std::span<float> out) const {
    if (out.size() != seqs.size() * latent_)
      throw shape_error("recall_models::latents: output has " + std::to_string(out.size()) + " values, expected " +
                        std::to_string(seqs.size() * latent_));
    auto on_device = backend::scratch<Backend, float>(out.size());
    latents(seqs, backend::device_view<Backend>(backend::raw<float>(on_device), seqs.size(), latent_));
    backend::download(on_device, 0, out);
    backend::note_latent_crossing<Backend>(backend::crossing::to_host, out.size());
  }
  std::vector<float> latents(std::span<const std::vector<model::token_id>> seqs) const {
    std::vector<float> out(seqs.size() * latent_);
    latents(seqs, out);
    return out;
  }

  // Cache statistics and control: hits/misses count sequences since construction or reset_stats().
  std::size_t cache_hits() const { return hits_; }
  std::size_t cache_misses() const { return misses_; }
  std::size_t cache_size() const { return cache_.size(); }
  void reset_stats() const { hits_ = misses_ = 0; }
  void set_cache_limit(std::size_t entries) {  // 0 disables the cache
    cache_limit_ = entries;
    cache_.clear();
    pool_.clear();
  }

  static constexpr std::size_t encode_chunk = 64;  // sequences per encoder call

 private:

  static model::model_config checked_config(const std::filesystem::path& dir) {
    const auto cfg = model::load_model_config(dir / "config.json");
    if (!cfg.encoder || cfg.latent_size == 0)
      throw format_error("recall_models: '" + (dir / "config.json").string() +
                         "' describes no encoder with a latent head (latent_size)");
    if (cfg.encoder->tokenizer != "bpe" || (cfg.decoder && cfg.decoder->tokenizer != "bpe"))
      throw format_error("recall_models: '" + (dir / "config.json").string() +
                         "': the pipeline needs one byte-level BPE tokenizer shared by encoder and decoder "
                         "(\"tokenizer\": \"bpe\")");
    return cfg;
  }
  static segment_advice advice_of(const model::model_config& cfg) {
    return {cfg.segment_tokens, cfg.segment_overlap};
  }
  static tokenizer_type load_tokenizer(const std::filesystem::path& dir) {
    return tokenizer_type::from_files(dir / "vocab.json", dir / "merges.txt");
  }
  std::size_t cached_rows() const { return pool_.size() / latent_; }
  // out[i] = pool row source[i] (source < pooled) or fresh row source[i] − pooled, in the backend's memory.
  void gather(float* out, const std::vector<std::int64_t>& source, std::size_t pooled,
              const backend::device_buffer<Backend, float>& fresh) const {
    if (source.empty()) return;
    auto index = backend::scratch<Backend, std::int64_t>(source.size());
    backend::upload(std::span<const std::int64_t>(source), index);
    backend::for_each_index<Backend>(source.size() * latent_,
                                     model::kernels::gather_rows_of_two{out, backend::raw<float>(pool_), pooled,
                                                                        backend::raw<float>(fresh),
                                                                        backend::raw<std::int64_t>(index), latent_});
  }
  static std::string key_of(const std::vector<model::token_id>& ids) {
    return std::string(reinterpret_cast<const char*>(ids.data()), ids.size() * sizeof(model::token_id));
  }
  std::vector<model::token_id> with_specials(const std::vector<model::token_id>& ids) const {
    std::vector<model::token_id> out(specials_);
    out.insert(out.end(), ids.begin(), ids.end());
    if (specials_after_) out.push_back(*enc_.config().sep_token_id);
    return out;
  }

  tokenizer_type tok_;
  model::bert_encoder<Backend> enc_;
  std::optional<model::gpt2_decoder<Backend>> dec_;
  std::size_t latent_;
  segment_advice advice_;
  std::vector<model::token_id> specials_;  // before the ids ([CLS])
  std::size_t specials_after_ = 0;         // [SEP]
  std::size_t cache_limit_ = std::size_t{1} << 17;
  mutable std::unordered_map<std::string, std::size_t> cache_;  // ids -> row in pool_
  mutable backend::device_buffer<Backend, float> pool_;         // the cached latents, in the backend's memory
  mutable std::size_t hits_ = 0, misses_ = 0;
  std::unique_ptr<std::mutex> decoder_mutex_ = std::make_unique<std::mutex>();  // movable models
};

}  // namespace larimar::pipeline

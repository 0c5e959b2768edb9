#pragma once
// larimar::pipeline::recall_pipeline — long-context recall end to end (docs/pipeline.md):
//
//   text → segments (segmenter) → encoder latents and lookup vectors (recall_models, cached by token ids)
//        → memory write (any memory / sharded_memory type: its storage and key policy are the pipeline's)
//   query prefix → lookup vector → memory read → decoder generation from the query prefix → answer.
//
//   using Memory = larimar::sharded_memory<float, larimar::storage::host, larimar::keys::fixed_nearest,
//                                          larimar::solver::pseudoinverse>;
//   auto p = larimar::pipeline::recall_pipeline<Memory>::load("models/larimar-tiny");
//   p.write_text(long_text);                    // or p.write(stream) for a context that is never held whole
//   auto a = p.ask("The pass key is");          // a.text: the decoder's continuation; a.hit: the entry read
//   auto all = p.ask("The pass key is", 4);     // the distinct answers of the 4 best entries, best first
//
// The memory's storage and the models' backend are independent template parameters: memory on the host with the
// models on the GPU (the paper's setting), everything on the GPU, or everything on the host. With the memory in
// the models' backend memory (storage::device_on<Backend>) the latents go encoder → memory → decoder in place and
// none crosses to the host (`latents_in_place`); with the memory elsewhere a batch crosses once each way: the
// encoder's latents to the memory, the read latents to the decoder.
//
// Overlap: ask_async() reads at once and generates on a worker thread, so the caller can clear() and write the
// next context while the decoder runs. Under nvcc with --default-stream per-thread (our CUDA targets) the worker's
// thrust and cuBLAS calls go to its own stream, and the encoder's and memory's to the caller's: GPU decoding
// overlaps the next context's encoding and writing. The decoder has one generation in flight at a time.
//
// Lookup vectors (docs/design.md): lookup_kind::prefix — the encoding of a segment's first P tokens, and of a
// query's first P tokens (P = prefix_tokens; a query of at most P tokens is encoded whole); lookup_kind::full —
// the segment's full latent, and the encoding of the whole query ("no prefix"); lookup_kind::tokens — a hash sketch
// of the first P token ids (token_sketch.hpp: an exact prefix always matches, and no encoder pass is spent on it).
// With keys::prefix_encoding the lookup vector is k (the prefix's encoding or sketch), and the memory addresses it
// by k·P.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "larimar/core/config.hpp"
#include "larimar/core/error.hpp"
#include "larimar/core/matrix_ref.hpp"
#include "larimar/memory/hit.hpp"
#include "larimar/memory/extra_lookups.hpp"
#include "larimar/memory/host_reading.hpp"
#include "larimar/memory/top_k.hpp"
#include "larimar/model/generation.hpp"
#include "larimar/pipeline/lookup_kind.hpp"
#include "larimar/pipeline/latent_rows.hpp"
#include "larimar/pipeline/models.hpp"
#include "larimar/pipeline/segmenter.hpp"
#include "larimar/pipeline/token_sketch.hpp"

namespace larimar::pipeline {

struct pipeline_options {
  lookup_kind lookup = lookup_kind::prefix;
  std::size_t prefix_tokens = 4;    // P: tokens of a segment (and of a query) whose encoding is the lookup vector
  std::size_t segment_tokens = 0;   // the token budget of a segment; 0: the model directory's segment_tokens, else
                                    // the most the models take (the encoder's positions less [CLS]/[SEP], the
                                    // decoder's window less BOS)
  std::optional<std::size_t> segment_overlap;  // tokens each later piece of a sentence longer than the budget repeats
                                               // from the piece before, so a contiguous read can be prompted with
                                               // them; unset: the model directory's segment_overlap (if less than
                                               // the budget), else 0
  segment_packing packing = segment_packing::greedy;  // write_text's rule; sentence_start: every sentence a
                                                      // segment; sentence_keys: greedy segments, every sentence start
                                                      // an extra lookup row (prefix or token lookups,
                                                      // keys::lookup_indexed)
  std::size_t batch = 256;          // segments encoded and written per step
  std::size_t max_new_tokens = 0;   // generation limit; 0: segment_tokens
  std::size_t continuation_tokens = 64;  // an answer that reaches its segment's end mid-sentence continues into the
                                         // entries written after it, each decoded from its start (prompted with
                                         // the answer's last tokens where the entry overlaps the one before), until
                                         // the sentence ends or this many tokens are added (0: answers end with
                                         // their segment)
  memory_config memory{};           // K, seed, keys, ...; code_size and lookup_size are set to the latent size

  // How write_text cuts a text, and how a context_stream or ruler_stream that feeds write() should: read it from
  // the pipeline's options(), where the budget and the overlap are resolved.
  segmenting cut() const { return {segment_tokens, packing, segment_overlap.value_or(0)}; }
};

// Anything that hands out segments one by one (context_stream, or a caller's own).
template <class S>
concept segment_source = requires(S& s) {
  { s.next() } -> std::same_as<std::optional<segment>>;
};

// ‖got − want‖ / ‖want‖: how far a read latent is from the latent that was written (memory-only recall counts a
// read as the needle's when it hit the needle's entry and this is at most 1e-3).
inline double latent_error(std::span<const float> got, std::span<const float> want) {
  if (got.size() != want.size())
    throw shape_error("latent_error: " + std::to_string(got.size()) + " values against " + std::to_string(want.size()));
  double num = 0, den = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    const double d = static_cast<double>(got[i]) - static_cast<double>(want[i]);
    num += d * d;
    den += static_cast<double>(want[i]) * static_cast<double>(want[i]);
  }
  return std::sqrt(num / (den > 0 ? den : 1));
}

// One query's answer: the decoder's continuation of the query prefix, conditioned on the latent the read returned.
struct recall_answer {
  std::string text;                 // the generated continuation of the query prefix
  std::vector<model::token_id> tokens;
  hit<float> matched{};             // what the read hit
  model::finish_reason reason = model::finish_reason::eos;
};

// Seconds spent in each stage since construction, clear() or reset_timings().
struct stage_timings {
  double segment = 0;  // tokenising and packing the context (when write() pulls from a stream)
  double encode = 0;   // encoder latents and lookup vectors (cache lookups included)
  double write = 0;    // memory writes
  double read = 0;     // query lookups encoded + memory reads, latents copied to the host
  double decode = 0;   // decoder generation
};

template <class Memory, backend::thrust_backend Backend = backend::active>
  requires std::same_as<typename Memory::value_type, float>
class recall_pipeline {
  using clock = std::chrono::steady_clock;
  using storage = typename Memory::storage_type;

 public:
  using memory_type = Memory;
  using models_type = recall_models<Backend>;

  using reading = host_reading<float>;  // latents Q×C on the host, and the entry each query matched
  using ranked_reading = host_top_k<float>;  // (Q·k)×C latents on the host, each query's k best entries
  using answer = recall_answer;

  // The latent path: the memory's storage is in the models' backend memory and takes rows there, so a latent
  // never visits the host between the encoder, the memory and the decoder.
  static constexpr bool latents_in_place =
      std::same_as<typename storage::linalg, Backend> &&
      requires(Memory& m, const Memory& cm, backend::device_ref<Backend, const float> d) {
        m.write(d, d);
        cm.read(d);
        cm.read(d, std::size_t{1});
      };

 private:
  // Latents between the memory and the decoder, where the latent path keeps them (latent_rows.hpp).
  using rows = latent_rows<Backend, latents_in_place>;
  // The encoder's output for a write: in the backend's memory on the latent path, else on the host.
  using latent_buffer =
      std::conditional_t<latents_in_place, backend::device_buffer<Backend, float>, std::vector<float>>;

 public:

  recall_pipeline(std::shared_ptr<const models_type> models, pipeline_options options = {})
      : models_(std::move(models)), opt_(checked(options, *models_)), memory_(memory_cfg()) {}

  // Loads a model directory (encoder, decoder, tokenizer) for this pipeline alone.
  static recall_pipeline load(const std::filesystem::path& model_dir, pipeline_options options = {}) {
    return recall_pipeline(std::make_shared<const models_type>(models_type::load(model_dir)), options);
  }

  const pipeline_options& options() const { return opt_; }  // as checked: budget and overlap resolved
  const models_type& models() const { return *models_; }
  const Memory& memory() const { return memory_; }
  std::size_t segments() const { return memory_.size(); }
  std::size_t tokens() const { return tokens_; }
  // Generations on the worker (ask_async) count in decode when they end.
  stage_timings timings() const {
    stage_timings t = time_;
    const std::lock_guard lock(decoding_->mutex);
    t.decode += decoding_->seconds;
    return t;
  }
  void reset_timings() {
    time_ = {};
    const std::lock_guard lock(decoding_->mutex);
    decoding_->seconds = 0;
  }
  // Empties the memory (a new context); the models and their cache stay. A generation in flight is not disturbed:
  // it holds its own copy of the read latents.
  void clear() {
    memory_ = Memory(memory_cfg());
    key_offsets_.clear();
    shapes_.clear();
    indexed_sentences_.clear();
    tokens_ = 0;
    reset_timings();
  }

  // Writes a batch of segments; returns the entry id of each.
  std::vector<std::size_t> write_segments(std::span<const segment> batch) {
    if (batch.empty()) return {};
    const std::size_t C = models_->latent_size(), n = batch.size();
    auto t0 = clock::now();
    std::vector<std::vector<model::token_id>> ids(n);
    for (std::size_t i = 0; i < n; ++i) {
      if (batch[i].ids.size() > opt_.segment_tokens)
        throw shape_error("recall_pipeline::write: segment " + std::to_string(i) + " has " +
                          std::to_string(batch[i].ids.size()) + " tokens, over the budget of " +
                          std::to_string(opt_.segment_tokens));
      if (batch[i].overlap != 0 && batch[i].overlap >= batch[i].ids.size())
        throw shape_error("recall_pipeline::write: segment " + std::to_string(i) + " repeats " +
                          std::to_string(batch[i].overlap) + " tokens of the one before but has only " +
                          std::to_string(batch[i].ids.size()));
      ids[i] = batch[i].ids;
    }
    latent_buffer latents = encode_all(ids, n);
    latent_buffer lookups;
    std::vector<std::size_t> key_rows;       // sentence_keys: the segment of each extra lookup row, encoded after the n
    std::vector<std::uint32_t> key_offset;   // and where its sentence begins in the segment
    std::unordered_set<std::string> sentences;  // the sentences this batch indexes
    if (looks_up_prefix(opt_.lookup)) {
      for (auto& s : ids) s.resize(std::min(s.size(), opt_.prefix_tokens));
      if (opt_.packing == segment_packing::sentence_keys)
        for (std::size_t i = 0; i < n; ++i) {
          const auto& whole = batch[i].ids;
          const std::size_t first = batch[i].keys.empty() ? whole.size() : batch[i].keys.front().offset;
          // The entry's own row is its first P tokens: it stands for its first sentence only when that sentence
          // has P tokens or more (a shorter one runs into the next sentence there, and keeps its rows elsewhere).
          if (first >= opt_.prefix_tokens || batch[i].keys.empty())
            sentences.insert(ids_key(std::span(whole).first(std::min(first, whole.size()))));
          for (const auto& k : batch[i].keys) {
            // A sentence indexed before, by this entry or an earlier one, would add a row that a query finds
            // only after (or instead of) the earlier one: the copy is skipped. Repetitive text (a passkey's
            // filler) would otherwise add an index row per repeated sentence and slow every read. Sentences that
            // only begin alike (RULER's four values of one key) each keep their row, for top-k reads.
            const auto key = ids_key(k.ids);
            if (indexed_sentences_.contains(key) || !sentences.insert(key).second) continue;
            ids.emplace_back(k.ids.begin(),
                             k.ids.begin() + static_cast<std::ptrdiff_t>(std::min(k.ids.size(), opt_.prefix_tokens)));
            key_rows.push_back(i);
            key_offset.push_back(static_cast<std::uint32_t>(k.offset));
          }
        }
      lookups = lookup_vectors(std::span(ids).first(n));
    }
    // Extra lookup rows (sentence keys) go to the memory's index from the host.
    std::vector<float> extra(ids.size() > n ? (ids.size() - n) * C : 0);
    if (!extra.empty()) host_lookup_vectors(std::span(ids).subspan(n), extra);
    auto t1 = clock::now();
    const auto& lk = looks_up_prefix(opt_.lookup) ? lookups : latents;
    const auto z = rows_of(latents, n), own = rows_of(lk, n);
    std::vector<std::size_t> entries;
    if constexpr (takes_sentence_keys) {
      if (!key_rows.empty())
        entries = memory_.write(z, own, extra_lookups<float>{{extra.data(), key_rows.size(), C}, key_rows});
      else
        entries = memory_.write(z, own);
    } else {
      entries = memory_.write(z, own);
    }
    for (const auto& s : batch) tokens_ += s.ids.size() - s.overlap;
    for (std::size_t i = 0; i < n; ++i) {
      if (entries[i] >= shapes_.size()) shapes_.resize(entries[i] + 1);
      shapes_[entries[i]] = {static_cast<std::uint32_t>(batch[i].ids.size()), static_cast<std::uint32_t>(batch[i].overlap)};
    }
    if (opt_.packing == segment_packing::sentence_keys) {  // only now written: a failed write records nothing
      for (std::size_t r = 0; r < key_rows.size(); ++r) {
        const std::size_t e = entries[key_rows[r]];
        if (e >= key_offsets_.size()) key_offsets_.resize(e + 1);
        key_offsets_[e].push_back(key_offset[r]);  // ordinal r' of entry e is its r'-th extra row, in this order
      }
      indexed_sentences_.merge(sentences);
    }
    time_.encode += seconds(t0, t1);
    time_.write += seconds(t1, clock::now());
    return entries;
  }

  // Streams segments from `source` into the memory, `batch` at a time; returns the entry ids of the segments
  // marked as needles (in order).
  template <segment_source Source>
  std::vector<std::size_t> write(Source& source) {
    std::vector<std::size_t> needles;
    std::vector<segment> batch;
    batch.reserve(opt_.batch);
    for (;;) {
      const auto t0 = clock::now();
      batch.clear();
      while (batch.size() < opt_.batch)
        if (auto s = source.next()) batch.push_back(std::move(*s));
        else break;
      time_.segment += seconds(t0, clock::now());
      if (batch.empty()) break;
      const auto ids = write_segments(batch);
      for (std::size_t i = 0; i < batch.size(); ++i)
        if (batch[i].needle) needles.push_back(ids[i]);
      if (batch.size() < opt_.batch) break;
    }
    return needles;
  }
  // Segments a text (the rule of sentences.hpp / segmenter.hpp) and writes it; returns the entry ids.
  std::vector<std::size_t> write_text(std::string_view text) {
    const auto t0 = clock::now();
    const auto segs = segment_text(models_->tokenizer(), text, opt_.cut());
    time_.segment += seconds(t0, clock::now());
    std::vector<std::size_t> out;
    for (std::size_t at = 0; at < segs.size(); at += opt_.batch) {
      const auto ids = write_segments(std::span<const segment>(segs).subspan(at, std::min(opt_.batch, segs.size() - at)));
      out.insert(out.end(), ids.begin(), ids.end());
    }
    return out;
  }

  // The lookup vectors of query prefixes (Q×C): the same map as for the written segments.
  std::vector<float> query_lookups(std::span<const std::string> queries) const {
    const auto ids = query_prefix_ids(queries);
    std::vector<float> out(ids.size() * models_->latent_size());
    host_lookup_vectors(ids, out);
    return out;
  }
  // The token ids each query's lookup vector encodes.
  std::vector<std::vector<model::token_id>> query_prefix_ids(std::span<const std::string> queries) const {
    std::vector<std::vector<model::token_id>> ids;
    ids.reserve(queries.size());
    for (const auto& q : queries) {
      auto t = query_ids(q);
      if (looks_up_prefix(opt_.lookup))  // only the first P tokens are looked up (at most a segment's, as the
        t.resize(std::min({t.size(), opt_.prefix_tokens, opt_.segment_tokens}));  // entries'): the rest may be any length
      else if (t.size() > models_->max_segment_tokens())
        throw value_error("recall_pipeline: the query prefix has " + std::to_string(t.size()) +
                          " tokens, more than the encoder's " + std::to_string(models_->max_segment_tokens()) +
                          " (full-latent lookups encode all of it)");
      ids.push_back(std::move(t));
    }
    return ids;
  }

  // Batched read: each query's lookup vector is matched and read; latents come back to the host.
  reading read(std::span<const std::string> queries) const {
    if (queries.empty()) return {};
    auto r = read_rows(queries, 1);
    reading out{std::vector<float>(r.latents.rows() * r.latents.cols()), std::move(r.hits)};
    to_host(r.latents, out.latents);
    return out;
  }

  // Top-k read: each query's k best entries, best first (the memory's read(queries, k): score descending, equal
  // scores by lower entry id; k past the memory's size gives every entry), and the latent read at each, on the host.
  ranked_reading read(std::span<const std::string> queries, std::size_t k) const {
    if (k == 0)
      throw value_error("recall_pipeline::read: k must be at least 1 (the number of entries to read per query), got 0");
    if (queries.empty()) return {{}, {}, std::min(k, memory_.size())};
    auto r = read_rows(queries, k);
    ranked_reading out{std::vector<float>(r.latents.rows() * r.latents.cols()), std::move(r.hits), r.k};
    to_host(r.latents, out.latents);
    return out;
  }

  // Greedy continuation of each query prefix, conditioned on the given latents (Q×C, host). Waits for a
  // generation in flight (ask_async) first.
  std::vector<model::generation> generate(std::span<const std::string> queries, std::span<const float> latents) const {
    return generate_with(*models_, *decoding_, prompts(queries), latents, max_new_tokens());
  }

  // Read, then generate: the answers to a batch of queries.
  std::vector<answer> ask(std::span<const std::string> queries) const {
    if (queries.empty()) return {};
    const auto r = read_rows(queries, 1);
    const auto p = hit_prompts(queries, 1, r.hits, r.latents);
    auto out = answers(*models_, r.hits, generate_with(*models_, *decoding_, p, r.latents.view(), max_new_tokens()));
    continue_answers(*models_, *decoding_, out, p, following(r.hits, p), opt_.continuation_tokens);
    return out;
  }
  answer ask(std::string_view query) const {
    const std::vector<std::string> q{std::string(query)};
    return ask(std::span<const std::string>(q)).front();
  }

  // Top-k ask: each query's k best entries are read (read(queries, k)), each latent read is decoded from the query
  // prefix, and the distinct answers come back in the order of the entries that gave them: per query, an answer for
  // every different text, the first (best-ranked) entry that gave it as `matched` (its score included). Latents read
  // more than once for one query (hits in one block with keys that read at the query's address) are decoded once.
  std::vector<std::vector<answer>> ask(std::span<const std::string> queries, std::size_t k) const {
    if (queries.empty()) return {};
    const auto r = read_rows(queries, k);
    // Distinct latents per query, each decoded once, all in one batch.
    std::vector<std::vector<model::token_id>> batch_prompts;
    rows batch_latents;
    std::vector<std::size_t> decoded(r.hits.size());  // hit -> row of the batch
    std::vector<std::size_t> first_row;               // query -> its first row of the batch
    const auto hit_prompt = hit_prompts(queries, r.k, r.hits, r.latents);
    for (std::size_t q = 0; q < queries.size(); ++q) {
      first_row.push_back(batch_prompts.size());
      for (std::size_t j = 0; j < r.k; ++j) {
        const std::size_t z = q * r.k + j;
        const auto& p = hit_prompt[z];
        std::size_t row = first_row.back();
        while (row < batch_prompts.size() &&
               (batch_prompts[row] != p || !r.latents.row_equals(z, batch_latents, row)))
          ++row;
        if (row == batch_prompts.size()) {
          batch_prompts.push_back(p);
          batch_latents.push_back(r.latents, z);
        }
        decoded[q * r.k + j] = row;
      }
    }
    const auto gens = generate_with(*models_, *decoding_, batch_prompts, batch_latents.view(), max_new_tokens());
    // Each decoded row's answer, continued past its segment where it stops mid-sentence; then the distinct texts.
    std::vector<hit<float>> row_hits(gens.size());
    for (std::size_t h = r.hits.size(); h-- > 0;) row_hits[decoded[h]] = r.hits[h];  // the best hit of each row
    auto rows = answers(*models_, row_hits, gens);
    continue_answers(*models_, *decoding_, rows, batch_prompts, following(row_hits, batch_prompts),
                     opt_.continuation_tokens);
    std::vector<std::vector<answer>> out(queries.size());
    for (std::size_t q = 0; q < queries.size(); ++q)
      for (std::size_t j = 0; j < r.k; ++j) {
        const auto& a = rows[decoded[q * r.k + j]];
        const bool seen = std::any_of(out[q].begin(), out[q].end(), [&](const answer& b) { return b.text == a.text; });
        if (!seen) out[q].push_back(answer{a.text, a.tokens, r.hits[q * r.k + j], a.reason});
      }
    return out;
  }
  std::vector<answer> ask(std::string_view query, std::size_t k) const {
    const std::vector<std::string> q{std::string(query)};
    return ask(std::span<const std::string>(q), k).front();
  }

  // ask() with the generation on a worker thread: the read is done (and its latents copied) before this returns,
  // so the memory may be cleared and rewritten at once; the answers come from the future. The worker uses only
  // the decoder and the tokenizer's decode, which no other call of the pipeline touches while it runs, except
  // generate()/ask(), which wait for it. Errors of the generation come out of the future's get().
  std::future<std::vector<answer>> ask_async(std::span<const std::string> queries) const {
    (void)models_->decoder();  // memory-only models: the state_error comes now, not from the future
    if (queries.empty()) return std::async(std::launch::deferred, [] { return std::vector<answer>{}; });
    auto r = read_rows(queries, 1);
    auto p = hit_prompts(queries, 1, r.hits, r.latents);
    auto next = following(r.hits, p);  // read now: the memory may change while the worker runs
    return std::async(std::launch::async, [models = models_, state = decoding_, p = std::move(p), r = std::move(r),
                                           next = std::move(next), n = max_new_tokens(),
                                           more = opt_.continuation_tokens] {
      auto out = answers(*models, r.hits, generate_with(*models, *state, p, r.latents.view(), n));
      continue_answers(*models, *state, out, p, next, more);
      return out;
    });
  }

  // The decoder's prompt for a query prefix: its BOS token (if the config names one) and the prefix's ids. (ask()
  // prompts a hit on a sentence inside a segment, segment_packing::sentence_keys, with the segment's start first.)
  std::vector<model::token_id> prompt(std::string_view query) const {
    std::vector<model::token_id> p;
    if (const auto bos = models_->decoder().config().bos_token_id) p.push_back(*bos);
    const auto ids = query_ids(query);
    p.insert(p.end(), ids.begin(), ids.end());
    return p;
  }

 private:
  // sentence_keys: a sentence's token ids as bytes, the key of indexed_sentences_.
  static std::string ids_key(std::span<const model::token_id> ids) {
    return {reinterpret_cast<const char*>(ids.data()), ids.size_bytes()};
  }
  // Where the sentence a hit matched begins in its segment (0: the segment's own prefix).
  std::size_t matched_offset(const hit<float>& h) const {
    if (h.lookup == 0 || h.entry >= key_offsets_.size() || h.lookup > key_offsets_[h.entry].size()) return 0;
    return key_offsets_[h.entry][h.lookup - 1];
  }
  // The decoder's prompt for each hit (hits[i] answers queries[i / k], read latent row i): prompt(query), unless
  // the hit is a sentence that begins at token t > 0 of its segment (sentence_keys). Then the decoder first says
  // the segment's first t tokens from the latent, and the prompt is BOS, those tokens and the query as it reads
  // inside running text, so the answer continues the matched sentence. (The plain prompt, tried on RULER with
  // larimar-tiny, answers as often but restarts the sentence instead: docs/results.md, section 6.)
  std::vector<std::vector<model::token_id>> hit_prompts(std::span<const std::string> queries, std::size_t k,
                                                        std::span<const hit<float>> hits,
                                                        const rows& latents) const {
    std::vector<std::vector<model::token_id>> out(hits.size());
    std::vector<std::size_t> lead_rows, lead_len;
    for (std::size_t i = 0; i < hits.size(); ++i) {
      out[i] = prompt(queries[i / k]);
      if (const std::size_t t = matched_offset(hits[i]); t > 0) {
        lead_rows.push_back(i);
        lead_len.push_back(t);
      }
    }
    if (lead_rows.empty()) return out;
    const auto bos = models_->decoder().config().bos_token_id;
    if (!bos) return out;
    // The segment's first t tokens, as the decoder reconstructs them from the latent, then the query as it reads
    // inside running text (after a space).
    rows z;
    for (const auto i : lead_rows) z.push_back(latents, i);
    const std::vector<std::vector<model::token_id>> starts(lead_rows.size(), std::vector<model::token_id>{*bos});
    const auto leads = generate_with(*models_, *decoding_, starts, z.view(),
                                     *std::max_element(lead_len.begin(), lead_len.end()));
    const auto& d = models_->decoder();
    const std::size_t window = d.config().n_positions - d.latent_slots();
    for (std::size_t j = 0; j < lead_rows.size(); ++j) {
      const auto& g = leads[j].tokens;
      const auto q = models_->tokenizer().encode(" " + queries[lead_rows[j] / k]);
      const std::size_t lead = std::min(g.size(), lead_len[j]);
      if (1 + lead + q.size() >= window) continue;  // no room to answer: the plain prompt
      auto& p = out[lead_rows[j]];
      p.assign(1, *bos);
      p.insert(p.end(), g.begin(), g.begin() + static_cast<std::ptrdiff_t>(lead));
      p.insert(p.end(), q.begin(), q.end());
    }
    return out;
  }


  latent_buffer encode_all(std::span<const std::vector<model::token_id>> ids, std::size_t n) const {
    latent_buffer out(n * models_->latent_size());
    if constexpr (latents_in_place)
      models_->latents(ids, backend::device_view<Backend>(backend::raw<float>(out), n, models_->latent_size()));
    else
      models_->latents(ids, std::span<float>(out));
    return out;
  }
  // The lookup vectors of token prefixes (rows in the order of `ids`), where encode_all puts latents: the encoder's
  // encodings, or their sketches (made on the host; on the latent path they then cross once, as a batch).
  latent_buffer lookup_vectors(std::span<const std::vector<model::token_id>> ids) const {
    if (opt_.lookup != lookup_kind::tokens) return encode_all(ids, ids.size());
    if constexpr (latents_in_place) {
      std::vector<float> host(ids.size() * models_->latent_size());
      host_lookup_vectors(ids, host);
      latent_buffer out(host.size());
      backend::copy_to_device<Backend>(host.data(), host.size(), backend::raw<float>(out));
      return out;
    } else {
      latent_buffer out(ids.size() * models_->latent_size());
      host_lookup_vectors(ids, out);
      return out;
    }
  }
  void host_lookup_vectors(std::span<const std::vector<model::token_id>> ids, std::span<float> out) const {
    if (opt_.lookup != lookup_kind::tokens) return models_->latents(ids, out);
    const std::size_t C = models_->latent_size();
    for (std::size_t i = 0; i < ids.size(); ++i) token_sketch(ids[i], out.subspan(i * C, C));
  }
  // The first n rows of an encoder output as the memory takes them (in place: a view of the backend's memory).
  auto rows_of(const latent_buffer& b, std::size_t n) const {
    if constexpr (latents_in_place)
      return backend::device_view<Backend>(backend::raw<float>(b), n, models_->latent_size());
    else
      return matrix_ref<const float>(b.data(), n, models_->latent_size());
  }
  // A storage matrix of n latents, as rows: a copy in place, or brought to the host.
  rows from_storage(const typename storage::template matrix<float>& m, std::size_t n) const {
    rows out;
    if constexpr (latents_in_place) {
      out.assign(storage::data(m), n, models_->latent_size());
    } else {
      out = rows(n, models_->latent_size());
      storage::download(storage::data(m), n * models_->latent_size(), out.row(0));  // storage::host: a copy
      backend::note_latent_crossing<typename storage::linalg>(backend::crossing::to_host, n * models_->latent_size());
    }
    return out;
  }
  void to_host(const rows& r, std::vector<float>& out) const {
    if (out.empty()) return;
    if constexpr (latents_in_place) {
      backend::copy_to_host<Backend>(r.row(0), out.size(), out.data());
      backend::note_latent_crossing<Backend>(backend::crossing::to_host, out.size());
    } else {
      std::copy(r.row(0), r.row(0) + out.size(), out.data());
    }
  }
  // The read of each query's k best entries, its latents where the latent path keeps them.
  struct rows_read {
    rows latents;
    std::vector<hit<float>> hits;
    std::size_t k = 1;
  };
  rows_read read_rows(std::span<const std::string> queries, std::size_t k) const {
    const auto t0 = clock::now();
    const std::size_t q = queries.size();
    const latent_buffer lk = lookup_vectors(query_prefix_ids(queries));
    rows_read out;
    if (k == 1) {
      auto r = memory_.read(rows_of(lk, q));
      out = rows_read{from_storage(r.latents, q), std::move(r.hits), 1};
    } else {
      auto r = memory_.read(rows_of(lk, q), k);
      out = rows_read{from_storage(r.latents, r.hits.size()), std::move(r.hits), r.k};
    }
    time_.read += seconds(t0, clock::now());
    return out;
  }

  // An entry's tokens and how many of them repeat the entry before (a later piece of a cut sentence).
  struct entry_shape {
    std::uint32_t tokens = 0, overlap = 0;
  };
  entry_shape shape_of(std::size_t entry) const { return entry < shapes_.size() ? shapes_[entry] : entry_shape{}; }

  // Whether the memory takes extra lookup rows (segment_packing::sentence_keys).
  static constexpr bool takes_sentence_keys = requires(Memory& m, matrix_ref<const float> a, const extra_lookups<float>& e) {
    m.write(a, a, e);
  };

  static double seconds(clock::time_point a, clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

  // The time this pipeline's generations took, shared with the workers of ask_async (which may outlive a call).
  struct decoder_state {
    std::mutex mutex;
    double seconds = 0;
  };

  std::vector<std::vector<model::token_id>> prompts(std::span<const std::string> queries) const {
    std::vector<std::vector<model::token_id>> out;
    out.reserve(queries.size());
    for (const auto& q : queries) out.push_back(prompt(q));
    return out;
  }
  std::size_t max_new_tokens() const { return opt_.max_new_tokens ? opt_.max_new_tokens : opt_.segment_tokens; }

  // latents: a host span or a view of the models' backend memory (rows::view()).
  template <class Latents>
  static std::vector<model::generation> generate_with(const models_type& models, decoder_state& state,
                                                      std::span<const std::vector<model::token_id>> prompts,
                                                      Latents latents, std::size_t max_new) {
    const auto decoder = models.lock_decoder();
    const auto t0 = clock::now();
    model::generation_options g;
    g.max_new_tokens = max_new;
    auto out = models.decoder().generate(prompts, latents, g);
    const std::lock_guard lock(state.mutex);
    state.seconds += seconds(t0, clock::now());
    return out;
  }
  // The latents of the entries written right after each hit's (the context's next segments: entries keep their
  // write order, and each is read at its own address), as many as continuation_tokens may need, on the host; a
  // hit's list stops at the first id the memory no longer holds.
  // A prompt longer than its entry (a query that runs into the next pieces of a cut sentence) needs as many more.
  struct followers {
    rows latents;                          // every hit's following entries, read at their own addresses
    std::vector<std::size_t> first, count;  // hit i's are rows [first[i], first[i] + count[i])
    std::vector<entry_shape> own, shape;   // per hit: its entry's shape; per row: the row's entry's
  };
  followers following(std::span<const hit<float>> hits, std::span<const std::vector<model::token_id>> prompts) const {
    followers out{{}, std::vector<std::size_t>(hits.size(), 0), std::vector<std::size_t>(hits.size(), 0),
                  std::vector<entry_shape>(hits.size()), {}};
    if (opt_.continuation_tokens == 0 || hits.empty() || !models_->has_decoder()) return out;
    const std::size_t fresh = opt_.segment_tokens - *opt_.segment_overlap;  // new tokens per entry, at least
    std::vector<std::size_t> ids;
    for (std::size_t i = 0; i < hits.size(); ++i) {
      out.first[i] = ids.size();
      out.own[i] = shape_of(hits[i].entry);
      const std::size_t most = (opt_.continuation_tokens + prompts[i].size() + fresh - 1) / fresh;  // a prompt
      // may run into the entries after its own
      for (std::size_t n = 1; n <= most && memory_.contains(hits[i].entry + n); ++n, ++out.count[i]) {
        ids.push_back(hits[i].entry + n);
        out.shape.push_back(shape_of(ids.back()));
      }
    }
    if (ids.empty()) return out;
    const auto t0 = clock::now();
    out.latents = from_storage(memory_.read_entries(ids), ids.size());
    time_.read += seconds(t0, clock::now());
    return out;
  }

  // Answers that stop at their segment's end (EOS) without ending a sentence go on into the following entries, each
  // decoded and its tokens appended up to the first sentence end, until the sentence ends, `limit` tokens are
  // added, or the entries run out. The entries are taken as one run of text: entry j holds its tokens from
  // position pos_j on (pos_0 = 0; pos_{j+1} = pos_j + tokens_j - overlap_{j+1}, overlap_j the tokens it repeats of
  // the one before: a later piece of a cut sentence), and what was said (the prompt less BOS, then the answer) is
  // the run's start. An entry is prompted with BOS + what was said from pos_j on where that reaches past the entry's
  // overlap (the overlap itself, or more where the query runs into the entry), and says what follows; a later piece
  // that what was said does not reach is prompted with the last overlap_j tokens said (a query tokenized alone can
  // be a token shorter than the same words inside the sentence; BOS alone would repeat the overlap); any other entry
  // with BOS alone, the model's reconstruction of it from its start. An entry that what was said covers whole is
  // skipped, and a prompt at least as long as the hit entry has no answer there: it starts in the entry where the
  // prompt ends (a query longer than the first piece of a cut sentence, or than a short sentence's segment).
  static void continue_answers(const models_type& models, decoder_state& state, std::vector<answer>& out,
                               std::span<const std::vector<model::token_id>> prompts, const followers& follow,
                               std::size_t limit) {
    if (limit == 0 || !models.has_decoder()) return;
    const auto bos = models.decoder().config().bos_token_id;
    if (!bos) return;
    const auto& tok = models.tokenizer();
    const std::size_t n_out = out.size();
    std::vector<std::size_t> open, step(n_out, 0), added(n_out, 0), pos(n_out, 0), len(n_out, 0);
    for (std::size_t i = 0; i < n_out; ++i) {
      if (follow.count[i] == 0) continue;
      len[i] = follow.own[i].tokens;
      if (len[i] != 0 && prompts[i].size() > len[i]) {  // BOS + a prompt that covers the entry
        out[i].tokens.clear();
        out[i].text.clear();
        open.push_back(i);
      } else if (out[i].reason == model::finish_reason::eos && !ends_sentence(out[i].text)) {
        open.push_back(i);
      }
    }
    const std::size_t window = models.decoder().config().n_positions - models.decoder().latent_slots() - 1;
    while (!open.empty()) {
      std::vector<std::vector<model::token_id>> starts;
      std::vector<std::size_t> going;  // the answers decoded in this round, in the order of starts
      rows latents;
      for (const std::size_t i : open) {
        const auto said = said_so_far(prompts[i], out[i].tokens);
        std::size_t row = 0, overlap = 0;
        for (;;) {  // to the first entry of the run that what was said does not cover
          row = follow.first[i] + step[i];
          overlap = follow.shape[row].overlap;
          pos[i] += len[i] - std::min<std::size_t>(len[i], overlap);
          len[i] = follow.shape[row].tokens;
          if (said.size() < pos[i] + len[i] || step[i] + 1 >= follow.count[i]) break;
          ++step[i];
        }
        if (said.size() >= pos[i] + len[i]) continue;  // covered to the last entry read: nothing more to say
        std::vector<model::token_id> p{*bos};
        if (said.size() >= pos[i] + std::max<std::size_t>(overlap, 1))
          p.insert(p.end(), said.begin() + static_cast<std::ptrdiff_t>(pos[i]), said.end());
        else  // what was said ends before the overlap: its last `overlap` tokens stand for it (none: BOS alone)
          p.insert(p.end(), said.end() - static_cast<std::ptrdiff_t>(std::min(said.size(), overlap)), said.end());
        if (p.size() >= window) continue;
        starts.push_back(std::move(p));
        latents.push_back(follow.latents, row);
        going.push_back(i);
      }
      if (going.empty()) break;
      open.swap(going);
      const auto gens = generate_with(models, state, starts, latents.view(), window);
      std::vector<std::size_t> still;
      for (std::size_t j = 0; j < open.size(); ++j) {
        const std::size_t i = open[j];
        const auto& g = gens[j];
        // the piece up to and including the token that ends the sentence, within the limit
        const std::string whole = tok.decode(g.tokens);
        const std::size_t end = sentence_end(whole);
        std::size_t n = 0;
        while (n < g.tokens.size() && n < limit - added[i] &&
               (end == std::string::npos || tok.decode(std::span(g.tokens).first(n)).size() < end))
          ++n;
        const auto piece = std::span(g.tokens).first(n);
        const std::string text = tok.decode(piece);
        out[i].tokens.insert(out[i].tokens.end(), piece.begin(), piece.end());
        out[i].text += text;
        added[i] += n;
        ++step[i];
        if (end != std::string::npos && text.size() >= end) out[i].reason = model::finish_reason::eos;
        else if (added[i] >= limit) out[i].reason = model::finish_reason::max_tokens;
        else if (step[i] < follow.count[i] && g.reason == model::finish_reason::eos) still.push_back(i);
      }
      open.swap(still);
    }
  }
  // What was said: the prompt less its first token (BOS), then the answer.
  static std::vector<model::token_id> said_so_far(const std::vector<model::token_id>& prompt,
                                                  const std::vector<model::token_id>& answer) {
    std::vector<model::token_id> out(prompt.begin() + (prompt.empty() ? 0 : 1), prompt.end());
    out.insert(out.end(), answer.begin(), answer.end());
    return out;
  }
  static std::vector<answer> answers(const models_type& models, std::span<const hit<float>> hits,
                                     const std::vector<model::generation>& gens) {
    std::vector<answer> out(gens.size());
    for (std::size_t i = 0; i < out.size(); ++i) {
      out[i].tokens = gens[i].tokens;
      out[i].text = models.tokenizer().decode(gens[i].tokens);
      out[i].matched = hits[i];
      out[i].reason = gens[i].reason;
    }
    return out;
  }

  static pipeline_options checked(pipeline_options o, const models_type& m) {
    const std::string op = "recall_pipeline";
    const std::size_t most = max_segment_tokens(m);
    const auto& advice = m.advice();
    if (advice.segment_tokens > most)
      throw value_error(op + ": the model directory advises segments of " + std::to_string(advice.segment_tokens) +
                        " tokens (segment_tokens), more than its models take (" + std::to_string(most) + ")");
    if (o.segment_tokens == 0) o.segment_tokens = advice.segment_tokens ? advice.segment_tokens : most;
    if (o.segment_tokens > most)
      throw value_error(op + ": segment_tokens must be in [1, " + std::to_string(most) +
                        "] (what the encoder's positions and the decoder's window take), got " +
                        std::to_string(o.segment_tokens));
    if (!o.segment_overlap) o.segment_overlap = advice.overlap < o.segment_tokens ? advice.overlap : 0;
    if (*o.segment_overlap >= o.segment_tokens)
      throw value_error(op + ": segment_overlap must be less than segment_tokens (" + std::to_string(o.segment_tokens) +
                        "), got " + std::to_string(*o.segment_overlap));
    if (looks_up_prefix(o.lookup) && o.prefix_tokens == 0)
      throw value_error(op + ": prefix_tokens must be positive for prefix and token lookups");
    if (o.batch == 0) throw value_error(op + ": batch must be positive");
    if (o.packing == segment_packing::sentence_keys && (!takes_sentence_keys || !looks_up_prefix(o.lookup)))
      throw value_error(op + ": sentence_keys packing needs prefix or token lookups and a memory whose index holds "
                             "them (keys::fixed_nearest), this one is " + std::string(Memory::keys_type::name) +
                        (o.lookup == lookup_kind::full     ? " with full lookups"
                         : o.lookup == lookup_kind::tokens ? " with token lookups"
                                                           : " with prefix lookups"));
    o.memory.code_size = m.latent_size();
    o.memory.lookup_size = m.latent_size();
    return o;
  }
  memory_config memory_cfg() const { return opt_.memory; }
  static std::size_t max_segment_tokens(const models_type& m) {
    std::size_t most = m.max_segment_tokens();
    if (m.has_decoder()) {  // BOS + the segment, after the latent's slots
      const auto& d = m.decoder().config();
      const std::size_t window = d.n_positions - m.decoder().latent_slots() - (d.bos_token_id ? 1 : 0);
      most = std::min(most, window);
    }
    return most;
  }

  std::vector<model::token_id> query_ids(std::string_view query) const {
    auto ids = models_->tokenizer().encode(query);
    if (ids.empty()) throw value_error("recall_pipeline: the query prefix is empty");
    return ids;  // as a prompt, the decoder's window bounds it (gpt2_decoder names both lengths)
  }

  std::shared_ptr<const models_type> models_;
  pipeline_options opt_;
  Memory memory_;
  std::size_t tokens_ = 0;
  std::vector<std::vector<std::uint32_t>> key_offsets_;  // sentence_keys: each extra row's offset, by entry, ordinal
  std::vector<entry_shape> shapes_;                      // by entry id
  std::unordered_set<std::string> indexed_sentences_;    // sentence_keys: every sentence the memory indexes
  mutable stage_timings time_;  // decode: in decoding_
  std::shared_ptr<decoder_state> decoding_ = std::make_shared<decoder_state>();
};

}  // namespace larimar::pipeline

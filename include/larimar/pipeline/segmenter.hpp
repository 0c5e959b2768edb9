#pragma once
// Sentences → segments under a token budget (docs/pipeline.md, "The segmentation rule", step 4):
//
//   Consecutive sentences of a paragraph are packed greedily into one segment while the tokenization of their
//   text (joined by single spaces) has at most `budget` tokens; a paragraph break always ends a segment; a sentence
//   that alone exceeds the budget is cut into consecutive pieces of `budget` tokens, each after the first
//   beginning with the last `overlap` tokens of the one before.
//
// The overlap is what lets a reader go on from one piece to the next: the decoder, prompted with the tokens it
// has just said, continues the next piece as it continues a query (larimar-small says back a 24-token piece of a
// 40-word sentence exactly as often as a short sentence; prompted with nothing, a piece that starts mid-sentence
// or mid-uuid often goes wrong at its first token: docs/pipeline.md, "Pieces and their overlap").
//
// With segment_packing::sentence_start no sentence joins another's segment: every sentence starts a segment, so
// a prefix lookup finds a fact wherever it sits in the running text (at the cost of more, shorter entries).
// With segment_packing::sentence_keys the segments are greedy's, and each names the sentences that begin inside
// it after its first (token offset, and the sentence's own tokenization): the pipeline gives each a lookup row of
// the segment's entry, so every sentence start is a key without more entries.
//
// A segment's ids are exactly the tokenization of its text (no special tokens), so what the encoder sees is what
// the decoder would say.
#include <algorithm>
#include <concepts>
#include <cstddef>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "larimar/core/error.hpp"
#include "larimar/model/token.hpp"
#include "larimar/pipeline/sentences.hpp"

namespace larimar::pipeline {

using model::token_id;

// What the pipeline needs of a tokenizer: text → ids and back (tokenizer::byte_level_bpe is one).
template <class T>
concept text_tokenizer = requires(const T& t, std::string_view s, std::span<const token_id> ids) {
  { t.encode(s) } -> std::same_as<std::vector<token_id>>;
  { t.decode(ids) } -> std::convertible_to<std::string>;
};

// How sentences share segments.
enum class segment_packing {
  greedy,          // consecutive sentences of a paragraph while they fit the budget: the fewest entries
  sentence_start,  // one sentence per segment (a long one in budget-sized pieces): every sentence is a key
  sentence_keys,   // greedy segments, every sentence start inside one an extra lookup row of its entry
};

inline constexpr segment_packing all_segment_packings[] = {segment_packing::greedy, segment_packing::sentence_start,
                                                           segment_packing::sentence_keys};

inline const char* to_string(segment_packing p) {
  switch (p) {
    case segment_packing::greedy: return "greedy";
    case segment_packing::sentence_start: return "sentence_start";
    case segment_packing::sentence_keys: return "sentence_keys";
  }
  return "?";
}
// The packing named as to_string names it; a value_error naming the choices otherwise.
inline segment_packing parse_segment_packing(std::string_view name) {
  std::string choices;
  for (const auto p : all_segment_packings) {
    if (name == to_string(p)) return p;
    choices += std::string(choices.empty() ? "" : ", ") + to_string(p);
  }
  throw value_error("segment packing '" + std::string(name) + "' is none of " + choices);
}

// A sentence that begins inside a segment after its first (segment_packing::sentence_keys).
struct sentence_key {
  std::size_t offset = 0;          // where it begins in the segment's ids
  std::vector<token_id> ids;       // its own tokenization (as a query's would be: no leading space), at most the budget
};

struct segment {
  std::string text;
  std::vector<token_id> ids;  // the tokenization of text, at most the budget
  bool needle = false;        // set by the task generator on the segment that holds the needle
  std::vector<sentence_key> keys{};  // segment_packing::sentence_keys: the sentences after the first, in order
  std::size_t overlap = 0;    // leading ids repeated from the segment before (a later piece of a cut sentence)
};

// How a text is cut: the token budget of a segment, how sentences share segments, and how many tokens each later
// piece of a sentence longer than the budget repeats from the piece before.
struct segmenting {
  std::size_t budget = 0;
  segment_packing packing = segment_packing::greedy;
  std::size_t overlap = 0;
};

// The segments a run of n tokens is cut into (n > 0; `s` as segmenter::checked passes it: overlap < budget).
inline std::size_t piece_count(std::size_t n, const segmenting& s) {
  return n <= s.budget ? 1 : 1 + (n - s.budget + (s.budget - s.overlap) - 1) / (s.budget - s.overlap);
}

template <text_tokenizer Tokenizer>
class segmenter {
 public:
  segmenter(const Tokenizer& tokenizer, segmenting how) : tok_(&tokenizer), how_(checked(how)) {}
  segmenter(const Tokenizer& tokenizer, std::size_t budget, segment_packing packing = segment_packing::greedy)
      : segmenter(tokenizer, segmenting{budget, packing, 0}) {}
  const segmenting& how() const { return how_; }
  std::size_t budget() const { return how_.budget; }
  segment_packing packing() const { return how_.packing; }

  // The reasons a cut cannot be made, as value_errors naming them.
  static segmenting checked(segmenting how) {
    if (how.budget == 0) throw value_error("segmenter: the token budget per segment must be positive");
    if (how.overlap >= how.budget)
      throw value_error("segmenter: the overlap of cut pieces (" + std::to_string(how.overlap) +
                        " tokens) must be less than the segment budget (" + std::to_string(how.budget) + ")");
    return how;
  }

  void add(const text_unit& u) {
    if (u.paragraph_break) {
      flush();
      return;
    }
    add_sentence(u.text);
  }
  void add_sentence(std::string_view s) {
    if (s.empty()) return;
    if (how_.packing == segment_packing::sentence_start) flush();
    if (!text_.empty()) {
      std::string joined = text_ + " " + std::string(s);
      auto ids = tok_->encode(joined);
      if (ids.size() <= how_.budget) {
        if (how_.packing == segment_packing::sentence_keys) keys_.push_back(key_of(s, ids));
        text_ = std::move(joined);
        ids_ = std::move(ids);
        return;
      }
      flush();
    }
    auto ids = tok_->encode(s);
    if (ids.size() <= how_.budget) {
      text_ = std::string(s);
      ids_ = std::move(ids);
      return;
    }
    emit_pieces(ids, false);  // an over-long sentence: budget-sized pieces
  }
  // Ends the current segment (if any).
  void flush() {
    if (text_.empty()) return;
    emit(segment{std::move(text_), std::move(ids_), false, std::move(keys_)});
    text_.clear();
    ids_.clear();
    keys_.clear();
  }
  // A finished segment handed over unchanged (the needle: a paragraph of its own, one segment); one longer than the
  // budget is cut as an over-long sentence is, its first piece keeping the needle flag.
  void add_whole(segment s) {
    flush();
    if (s.ids.size() <= how_.budget) emit(std::move(s));
    else emit_pieces(s.ids, s.needle);
  }
  std::optional<segment> take() {
    if (out_.empty()) return std::nullopt;
    segment s = std::move(out_.front());
    out_.pop_front();
    return s;
  }
  bool has_output() const { return !out_.empty(); }
  // Tokens of the text in every segment produced so far, the unfinished one included (overlaps counted once).
  std::size_t tokens() const { return produced_ + ids_.size(); }

 private:
  // Sentence s joining the segment, whose ids become `joined`: it begins where `joined` leaves the segment's ids
  // so far (BPE merges no token across the joining space, but the first that differs is the safe place).
  sentence_key key_of(std::string_view s, const std::vector<token_id>& joined) const {
    const auto differs = std::mismatch(ids_.begin(), ids_.end(), joined.begin(), joined.end());
    auto own = tok_->encode(s);
    if (own.size() > how_.budget) own.resize(how_.budget);
    return sentence_key{static_cast<std::size_t>(differs.first - ids_.begin()), std::move(own)};
  }
  void emit(segment s) {
    produced_ += s.ids.size() - s.overlap;
    out_.push_back(std::move(s));
  }
  // ids in budget-sized pieces, each its own segment and each after the first starting `overlap` tokens back;
  // `first_needle` flags the first.
  void emit_pieces(const std::vector<token_id>& ids, bool first_needle) {
    for (std::size_t at = 0, end = 0; end < ids.size(); at = end - how_.overlap) {
      end = std::min(ids.size(), at + how_.budget);
      std::vector<token_id> piece(ids.begin() + static_cast<std::ptrdiff_t>(at),
                                  ids.begin() + static_cast<std::ptrdiff_t>(end));
      emit(segment{std::string(tok_->decode(piece)), std::move(piece), first_needle && at == 0, {},
                   at == 0 ? 0 : how_.overlap});
    }
  }

  const Tokenizer* tok_;
  segmenting how_;
  std::string text_;
  std::vector<token_id> ids_;
  std::vector<sentence_key> keys_;
  std::deque<segment> out_;
  std::size_t produced_ = 0;
};

// All segments of a text (tests, short inputs).
template <text_tokenizer Tokenizer>
std::vector<segment> segment_text(const Tokenizer& tokenizer, std::string_view text, segmenting how) {
  segmenter<Tokenizer> seg(tokenizer, how);
  for (const auto& u : split_sentences(text)) seg.add(u);
  seg.flush();
  std::vector<segment> out;
  while (auto s = seg.take()) out.push_back(std::move(*s));
  return out;
}
template <text_tokenizer Tokenizer>
std::vector<segment> segment_text(const Tokenizer& tokenizer, std::string_view text, std::size_t budget,
                                  segment_packing packing = segment_packing::greedy) {
  return segment_text(tokenizer, text, segmenting{budget, packing, 0});
}

}  // namespace larimar::pipeline

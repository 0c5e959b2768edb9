#pragma once
// Seeded recall tasks and the context stream that realises one (docs/pipeline.md, "Tasks").
//
//   passkey: the filler "The grass is green. The sky is blue. ..." repeated, with the needle
//            "The pass key is N. Remember it. N is the pass key." (N: `digits` digits drawn from the seed);
//            query prefix "The pass key is"; correct when the first number generated is N.
//   needle:  any text files as the haystack (cycled, from a seeded starting paragraph), any needle sentence and
//            query prefix; the default is the "San Francisco" needle over held-out fortune prose; correct when the
//            generated continuation starts with the answer (the needle after the query prefix), spaces ignored.
//
// The context has `target_tokens` tokens (the tokenizer's, counted over the written segments); the needle is a
// paragraph of its own placed after depth·(target − needle tokens) haystack tokens, at the next sentence boundary,
// so it is exactly one segment (a needle longer than the budget: budget-sized pieces, the first flagged as the
// needle's). context_stream hands out the segments one by one: nothing of the context is held beyond the segment
// being packed.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "larimar/core/error.hpp"
#include "larimar/core/random.hpp"
#include "larimar/pipeline/segmenter.hpp"
#include "larimar/pipeline/sentences.hpp"

namespace larimar::pipeline {

enum class answer_rule {
  first_number,  // the first run of digits in the generated text equals the answer (passkeys)
  continuation   // the generated text starts with the answer, ignoring leading and repeated whitespace
};

struct recall_task {
  std::string name;          // "passkey-3", "needle", ...
  std::string needle;        // the sentence(s) hidden in the haystack
  std::string query;         // the query prefix: addresses the memory and prompts the decoder
  std::string answer;        // what a correct generation says
  answer_rule rule = answer_rule::continuation;
  std::size_t target_tokens = 4096;
  double depth = 0.5;        // 0: the needle opens the context, 1: it closes it
  std::uint64_t seed = 0;
  std::vector<std::string> filler;              // the repeated haystack (passkey), or
  std::vector<std::filesystem::path> haystack;  // text files cycled as the haystack
};

inline constexpr std::string_view sf_needle =
    "The best thing to do in San Francisco is eat a sandwich and sit in Dolores Park on a sunny day.";
inline constexpr std::string_view sf_query = "The best thing to do in San Francisco is";

namespace detail {

inline void check_depth(const char* op, double depth) {
  if (!(depth >= 0 && depth <= 1))
    throw value_error(std::string(op) + ": depth must be in [0, 1], got " + std::to_string(depth));
}
inline std::string trim_left(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size() && is_space(s[i])) ++i;
  return std::string(s.substr(i));
}
// Whitespace runs to one space, leading/trailing removed.
inline std::string squeeze(std::string_view s) {
  std::string out;
  for (const char c : s) {
    if (is_space(c)) {
      if (!out.empty() && out.back() != ' ') out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

}  // namespace detail

// The passkey task: N has `digits` digits (first digit non-zero), drawn from the seed.
inline recall_task passkey_task(std::size_t digits, std::size_t target_tokens, double depth, std::uint64_t seed) {
  if (digits < 1 || digits > 18) throw value_error("passkey_task: digits must be in [1, 18], got " + std::to_string(digits));
  detail::check_depth("passkey_task", depth);
  splitmix64 rng(seed * 0x9e3779b97f4a7c15ULL + digits);
  std::uint64_t lo = 1;
  for (std::size_t i = 1; i < digits; ++i) lo *= 10;
  const std::uint64_t n = digits == 1 ? rng.next() % 10 : lo + rng.next() % (9 * lo);
  const std::string key = std::to_string(n);
  recall_task t;
  t.name = "passkey-" + std::to_string(digits);
  t.needle = "The pass key is " + key + ". Remember it. " + key + " is the pass key.";
  t.query = "The pass key is";
  t.answer = key;
  t.rule = answer_rule::first_number;
  t.target_tokens = target_tokens;
  t.depth = depth;
  t.seed = seed;
  t.filler = filler_source::passkey_filler();
  return t;
}

// A needle in a haystack of text files. The answer defaults to the needle after the query prefix (the query must
// then be a prefix of the needle); give it explicitly otherwise.
inline recall_task needle_task(std::vector<std::filesystem::path> haystack, std::string needle, std::string query,
                               std::size_t target_tokens, double depth, std::uint64_t seed,
                               std::optional<std::string> answer = std::nullopt) {
  const char* op = "needle_task";
  detail::check_depth(op, depth);
  if (haystack.empty()) throw value_error(std::string(op) + ": no haystack files given");
  if (detail::squeeze(needle).empty()) throw value_error(std::string(op) + ": the needle is empty");
  if (detail::squeeze(query).empty()) throw value_error(std::string(op) + ": the query prefix is empty");
  recall_task t;
  t.name = "needle";
  t.needle = detail::squeeze(needle);
  t.query = detail::squeeze(query);
  if (answer) {
    t.answer = detail::squeeze(*answer);
  } else {
    if (t.needle.rfind(t.query, 0) != 0)
      throw value_error(std::string(op) + ": the query prefix '" + t.query + "' does not start the needle '" +
                        t.needle + "'; give the expected answer explicitly");
    t.answer = detail::squeeze(std::string_view(t.needle).substr(t.query.size()));
  }
  if (t.answer.empty()) throw value_error(std::string(op) + ": the expected answer is empty");
  t.rule = answer_rule::continuation;
  t.target_tokens = target_tokens;
  t.depth = depth;
  t.seed = seed;
  t.haystack = std::move(haystack);
  return t;
}

// Whether a generated continuation (the text after the query prefix) answers the task.
inline bool is_correct(const recall_task& task, std::string_view generated) {
  if (task.rule == answer_rule::first_number) {
    std::size_t i = 0;
    while (i < generated.size() && !std::isdigit(static_cast<unsigned char>(generated[i]))) ++i;
    std::size_t j = i;
    while (j < generated.size() && std::isdigit(static_cast<unsigned char>(generated[j]))) ++j;
    return i < generated.size() && generated.substr(i, j - i) == task.answer;
  }
  return detail::squeeze(generated).rfind(task.answer, 0) == 0;
}

// The segments of one task's context, in order, one at a time.
template <text_tokenizer Tokenizer>
class context_stream {
 public:
  context_stream(const recall_task& task, const Tokenizer& tokenizer, std::size_t budget,
                 segment_packing packing = segment_packing::greedy)
      : context_stream(task, tokenizer, segmenting{budget, packing, 0}) {}
  context_stream(const recall_task& task, const Tokenizer& tokenizer, segmenting how)
      : segmenter_(tokenizer, how), source_(make_source(task)) {
    const char* op = "context_stream";
    detail::check_depth(op, task.depth);
    if (task.target_tokens == 0) throw value_error(std::string(op) + ": the context length must be positive");
    needle_ = segment{task.needle, tokenizer.encode(task.needle), true};
    if (needle_.ids.empty()) throw value_error(std::string(op) + ": the needle is empty");
    haystack_target_ = task.target_tokens > needle_.ids.size() ? task.target_tokens - needle_.ids.size() : 0;
    insert_at_ = static_cast<std::size_t>(std::llround(task.depth * static_cast<double>(haystack_target_)));
  }

  std::optional<segment> next() {
    while (!segmenter_.has_output() && !done_) advance();
    return segmenter_.take();
  }

  std::size_t tokens() const { return segmenter_.tokens(); }              // produced so far
  std::size_t needle_tokens() const { return needle_.ids.size(); }
  // 1 unless the needle is longer than the budget: the segmenter cuts it, its first piece the needle's entry (the
  // one a query matches), the rest come back through contiguous reads
  std::size_t needle_segments() const { return piece_count(needle_.ids.size(), segmenter_.how()); }
  std::optional<std::size_t> needle_offset() const { return needle_at_; }  // tokens before the needle
  // Where the needle ended up: tokens before it over haystack tokens (0 when there is no haystack).
  double actual_depth() const {
    const std::size_t hay = tokens() - needle_.ids.size();
    return needle_at_ && hay ? static_cast<double>(*needle_at_) / static_cast<double>(hay) : 0.0;
  }

 private:
  using source = std::variant<filler_source, text_file_source>;
  static source make_source(const recall_task& task) {
    if (!task.haystack.empty()) return text_file_source(task.haystack, task.seed);
    return filler_source(task.filler);
  }
  std::size_t haystack_tokens() const {
    return segmenter_.tokens() - (needle_at_ ? needle_.ids.size() : 0);
  }
  void advance() {
    if (!needle_at_ && haystack_tokens() >= insert_at_) {
      segmenter_.flush();
      needle_at_ = segmenter_.tokens();
      segmenter_.add_whole(needle_);
      return;
    }
    if (haystack_tokens() >= haystack_target_) {
      segmenter_.flush();
      done_ = true;
      return;
    }
    auto u = std::visit([](auto& s) { return s.next(); }, source_);
    if (!u) {  // sources are endless; a finite one simply ends the haystack here
      haystack_target_ = haystack_tokens();
      insert_at_ = std::min(insert_at_, haystack_target_);
      return;
    }
    segmenter_.add(*u);
  }

  segmenter<Tokenizer> segmenter_;
  source source_;
  segment needle_;
  std::size_t haystack_target_ = 0, insert_at_ = 0;
  std::optional<std::size_t> needle_at_;
  bool done_ = false;
};

}  // namespace larimar::pipeline

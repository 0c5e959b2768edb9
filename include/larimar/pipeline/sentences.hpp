#pragma once
// Text → sentences, streamed (docs/pipeline.md, "The segmentation rule", steps 1–3).
//
//   1. The text is read line by line. A line that is empty or has no letter or digit (e.g. the "%" separators of
//      fortune files) ends a paragraph.
//   2. Within a paragraph, line breaks and runs of spaces/tabs become one space.
//   3. A sentence ends after '.', '!' or '?' (with any closing quotes or brackets right after it) when whitespace
//      or the end of the paragraph follows; the end of a paragraph also ends a sentence.
//
// Sources hand out text_unit values one at a time (a sentence, or a paragraph break), so a context of any length
// is never held as a whole: filler_source repeats a fixed list of sentences, text_file_source cycles through a
// list of text files from a seeded starting paragraph.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "larimar/core/error.hpp"
#include "larimar/core/random.hpp"

namespace larimar::pipeline {

// One unit of a text stream: a sentence, or a paragraph break (text empty).
struct text_unit {
  std::string text;
  bool paragraph_break = false;
  static text_unit sentence(std::string s) { return {std::move(s), false}; }
  static text_unit pause() { return {{}, true}; }
};

// Anything that hands out text units one by one; std::nullopt at the end (sources may be endless).
template <class S>
concept unit_source = requires(S& s) {
  { s.next() } -> std::same_as<std::optional<text_unit>>;
};

namespace detail {

inline bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }
inline bool is_closer(char c) { return c == '"' || c == '\'' || c == ')' || c == ']'; }
inline bool is_terminator(char c) { return c == '.' || c == '!' || c == '?'; }
// Non-ASCII bytes count as letters, so UTF-8 and Latin-1 prose are not taken for separator lines.
inline bool has_word_char(std::string_view line) {
  for (const char c : line)
    if (std::isalnum(static_cast<unsigned char>(c)) || static_cast<unsigned char>(c) >= 0x80) return true;
  return false;
}

}  // namespace detail

// Steps 1–3 of the rule: feed lines, take sentences and paragraph breaks out in order.
class sentence_splitter {
 public:
  void add_line(std::string_view line) {
    if (!detail::has_word_char(line)) {
      end_paragraph();
      return;
    }
    for (const char c : line) push_char(detail::is_space(c) ? ' ' : c);
    push_char(' ');
  }
  // Ends the current paragraph (its last sentence, then one break; never two breaks in a row).
  void end_paragraph() {
    emit_sentence();
    if (!out_.empty() && out_.back().paragraph_break) return;
    if (out_.empty() && last_was_break_) return;
    out_.push_back(text_unit::pause());
  }
  std::optional<text_unit> take() {
    if (out_.empty()) return std::nullopt;
    text_unit u = std::move(out_.front());
    out_.pop_front();
    last_was_break_ = u.paragraph_break;
    return u;
  }
  bool has_output() const { return !out_.empty(); }

 private:
  void push_char(char c) {
    if (c == ' ') {
      if (current_.empty() || current_.back() == ' ') return;
      // A terminator (plus closers) followed by whitespace ends the sentence.
      std::size_t i = current_.size();
      while (i > 0 && detail::is_closer(current_[i - 1])) --i;
      if (i > 0 && detail::is_terminator(current_[i - 1])) {
        emit_sentence();
        return;
      }
    }
    current_.push_back(c);
  }
  void emit_sentence() {
    while (!current_.empty() && current_.back() == ' ') current_.pop_back();
    if (current_.empty()) return;
    out_.push_back(text_unit::sentence(std::move(current_)));
    current_.clear();
  }

  std::string current_;
  std::deque<text_unit> out_;
  bool last_was_break_ = true;  // no break before the first sentence
};

// One past the first sentence end in a text (., ! or ? with any closing quotes or brackets, then whitespace or the
// text's end: step 3's rule), or npos. An answer's end (recall_pipeline's contiguous reads stop there).
inline std::size_t sentence_end(std::string_view t) {
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (!detail::is_terminator(t[i])) continue;
    std::size_t j = i + 1;
    while (j < t.size() && detail::is_closer(t[j])) ++j;
    if (j == t.size() || detail::is_space(t[j])) return j;
  }
  return std::string_view::npos;
}
// Whether a text ends a sentence: ., ! or ? last (closing quotes or brackets may follow), whitespace aside.
inline bool ends_sentence(std::string_view t) {
  while (!t.empty() && detail::is_space(t.back())) t.remove_suffix(1);
  while (!t.empty() && detail::is_closer(t.back())) t.remove_suffix(1);
  return !t.empty() && detail::is_terminator(t.back());
}

// All sentences of a text (tests, short inputs).
inline std::vector<text_unit> split_sentences(std::string_view text) {
  sentence_splitter s;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t nl = text.find('\n', start);
    const std::size_t end = nl == std::string_view::npos ? text.size() : nl;
    s.add_line(text.substr(start, end - start));
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  s.end_paragraph();
  std::vector<text_unit> out;
  while (auto u = s.take()) out.push_back(std::move(*u));
  if (!out.empty() && out.back().paragraph_break) out.pop_back();
  return out;
}

// Repeats a fixed list of sentences forever (the passkey haystack).
class filler_source {
 public:
  explicit filler_source(std::vector<std::string> sentences) : sentences_(std::move(sentences)) {
    if (sentences_.empty()) throw value_error("filler_source: no filler sentences");
    for (const auto& s : sentences_)
      if (!detail::has_word_char(s)) throw value_error("filler_source: a filler sentence has no text: '" + s + "'");
  }
  // The filler of Mohtashami & Jaggi's passkey task, which the paper uses.
  static const std::vector<std::string>& passkey_filler() {
    static const std::vector<std::string> f = {"The grass is green.", "The sky is blue.", "The sun is yellow.",
                                               "Here we go.", "There and back again."};
    return f;
  }
  static filler_source passkey() { return filler_source(passkey_filler()); }
  std::optional<text_unit> next() {
    text_unit u = text_unit::sentence(sentences_[i_]);
    i_ = (i_ + 1) % sentences_.size();
    return u;
  }

 private:
  std::vector<std::string> sentences_;
  std::size_t i_ = 0;
};

// Cycles through text files (in order, a paragraph break after each) forever, starting at a paragraph chosen by
// the seed, reading one line at a time. io_error for a file that cannot be read, value_error for files without
// any sentence.
class text_file_source {
 public:
  explicit text_file_source(std::vector<std::filesystem::path> files, std::uint64_t seed = 0)
      : files_(std::move(files)) {
    const std::string op = "text_file_source";
    if (files_.empty()) throw value_error(op + ": no haystack files given");
    std::size_t paragraphs = 0;
    for (const auto& f : files_) {
      std::error_code ec;
      if (!std::filesystem::is_regular_file(f, ec))
        throw io_error(op + ": cannot read haystack file '" + f.string() + "': " +
                       (std::filesystem::exists(f, ec) ? "not a regular file" : "no such file"));
      std::ifstream in(f, std::ios::binary);
      if (!in) throw io_error(op + ": cannot open haystack file '" + f.string() + "'");
      // Count paragraphs that hold at least one sentence.
      bool in_paragraph = false;
      std::string line;
      while (std::getline(in, line)) {
        const bool text = detail::has_word_char(line);
        if (text && !in_paragraph) ++paragraphs;
        in_paragraph = text;
      }
      if (in.bad()) throw io_error(op + ": read error on haystack file '" + f.string() + "'");
    }
    if (paragraphs == 0) {
      std::string names;
      for (const auto& f : files_) names += (names.empty() ? "'" : ", '") + f.string() + "'";
      throw value_error(op + ": the haystack " + names + " has no text (empty, or no line with a letter or digit)");
    }
    paragraphs_ = paragraphs;
    splitmix64 rng(seed ^ 0x68617973ULL);
    skip_ = static_cast<std::size_t>(rng.next() % paragraphs);
    open(0);
    // Skip to the seeded starting paragraph.
    std::size_t seen = 0;
    while (seen < skip_)
      if (pull().paragraph_break) ++seen;
  }
  std::size_t paragraph_count() const { return paragraphs_; }
  std::size_t start_paragraph() const { return skip_; }

  std::optional<text_unit> next() { return pull(); }

 private:
  void open(std::size_t i) {
    file_ = i;
    in_ = std::ifstream(files_[i], std::ios::binary);
    if (!in_) throw io_error("text_file_source: cannot open haystack file '" + files_[i].string() + "'");
  }
  text_unit pull() {
    std::string line;
    while (!splitter_.has_output()) {
      if (std::getline(in_, line)) {
        splitter_.add_line(line);
      } else {
        if (in_.bad()) throw io_error("text_file_source: read error on '" + files_[file_].string() + "'");
        splitter_.end_paragraph();
        open((file_ + 1) % files_.size());
      }
    }
    return *splitter_.take();
  }

  std::vector<std::filesystem::path> files_;
  std::size_t paragraphs_ = 0, skip_ = 0, file_ = 0;
  std::ifstream in_;
  sentence_splitter splitter_;
};

}  // namespace larimar::pipeline

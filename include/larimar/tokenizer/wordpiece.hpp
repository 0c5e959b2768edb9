#pragma once
// BERT's WordPiece tokenizer from its public vocab.txt (one token per line, id = line index from 0).
//
//   auto bert = larimar::tokenizer::wordpiece::from_file("vocab.txt");          // uncased by default
//   std::vector<token_id> ids = bert.encode_with_specials("Hello, world!");    // [CLS] hello , world ! [SEP]
//   auto batch = bert.encode_batch(texts);                                     // padded ids + attention mask
//
// Behaviour is Hugging Face `tokenizers`' BertNormalizer + BertPreTokenizer + WordPiece + BERT post-processor:
//  1. clean text: drop U+0000, U+FFFD and control characters (Cc Cf Co Cs except \t \n \r), then turn white space
//     (White_Space and \t \n \r) into ' '. Ill-formed UTF-8 is read as U+FFFD, so it is dropped here.
//  2. put spaces around CJK ideographs;
//  3. strip accents (NFD, then drop non-spacing marks), by default exactly when lower-casing;
//  4. lower-case (full mappings, no context);
//  5. split on white space and around every punctuation character (ASCII punctuation or \p{P});
//  6. each word: greedy longest-match-first pieces, later pieces prefixed "##"; a word longer than
//     max_input_chars_per_word code points, or one that cannot be covered, becomes [UNK].
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "larimar/core/error.hpp"
#include "larimar/io/regular_file.hpp"
#include "larimar/tokenizer/read_file.hpp"
#include "larimar/tokenizer/vocabulary.hpp"
#include "larimar/tokenizer/unicode.hpp"

namespace larimar::tokenizer {

namespace detail {

inline bool is_bert_control(char32_t cp) {
  if (cp == U'\t' || cp == U'\n' || cp == U'\r') return false;
  const auto c = unicode::category(cp);
  using gc = unicode::general_category;
  return c == gc::Cc || c == gc::Cf || c == gc::Co || c == gc::Cs;
}
inline bool is_bert_punctuation(char32_t cp) {
  if (cp < 0x80) return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
                        (cp >= 123 && cp <= 126);
  return unicode::is_punctuation(cp);
}
// The CJK ideograph blocks BERT pads with spaces (the ranges of Hugging Face `tokenizers`).
inline bool is_cjk_ideograph(char32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
         (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

}  // namespace detail

// Settings of wordpiece (outside the class so that it can be a default argument there).
struct wordpiece_options {
  bool lowercase = true;
  std::optional<bool> strip_accents;  // unset: strip exactly when lower-casing (BERT's and HF's default)
  bool clean_text = true;
  bool handle_chinese_chars = true;
  std::size_t max_input_chars_per_word = 100;
  std::string continuing_subword_prefix = "##";
  std::string unk_token = "[UNK]", cls_token = "[CLS]", sep_token = "[SEP]", pad_token = "[PAD]",
              mask_token = "[MASK]";
  bool cleanup_decoded = true;  // decode(): no space before . ? ! , (the WordPiece decoder's cleanup)
};

class wordpiece {
 public:
  using options = wordpiece_options;


  // One sequence after the BERT post-processor.
  struct encoding {
    std::vector<token_id> ids;
    std::vector<token_id> token_type_ids;
    std::vector<std::int32_t> attention_mask;
  };
  // A padded batch, row-major rows × cols.
  struct batch {
    std::size_t rows = 0, cols = 0;
    std::vector<token_id> ids, token_type_ids;
    std::vector<std::int32_t> attention_mask;
  };

  // Missing/unreadable file: io_error naming the path; malformed content: format_error naming the file and line.
  static wordpiece from_file(const std::filesystem::path& vocab_txt, options opts = {}) {
    return wordpiece(io::detail::read_regular_file(vocab_txt, "wordpiece::from_file"), std::move(opts), vocab_txt.string());
  }

  // From vocab.txt's contents; the name only labels error messages.
  explicit wordpiece(std::string_view vocab_txt, options opts = {}, std::string_view vocab_name = "vocab.txt")
      : opts_(std::move(opts)) {
    if (opts_.max_input_chars_per_word == 0)
      throw value_error("wordpiece: max_input_chars_per_word must be at least 1");
    load_vocab(vocab_txt, vocab_name);
    const auto required = [&](const std::string& tok) {
      const auto id = token_to_id(tok);
      if (!id)
        throw format_error("wordpiece: " + std::string(vocab_name) + ": special token " + detail::quote(tok) +
                           " is not in the vocabulary");
      return *id;
    };
    unk_id_ = required(opts_.unk_token);
    cls_id_ = required(opts_.cls_token);
    sep_id_ = required(opts_.sep_token);
    pad_id_ = required(opts_.pad_token);
    for (const std::string* s : {&opts_.unk_token, &opts_.cls_token, &opts_.sep_token, &opts_.pad_token,
                                 &opts_.mask_token})
      if (const auto id = token_to_id(*s)) special_ids_.push_back(*id);
  }

  std::size_t vocab_size() const { return vocab_.size(); }
  std::optional<token_id> token_to_id(std::string_view token) const { return vocab_.find(token); }
  const std::string& id_to_token(token_id id) const { return vocab_.token(id, "wordpiece::id_to_token"); }
  token_id unk_id() const { return unk_id_; }
  token_id cls_id() const { return cls_id_; }
  token_id sep_id() const { return sep_id_; }
  token_id pad_id() const { return pad_id_; }
  const options& settings() const { return opts_; }

  // Steps 1-4: the normalised text (valid UTF-8).
  std::string normalize(std::string_view text) const { return unicode::to_utf8(normalize_code_points(text)); }

  // Steps 1-5: the words WordPiece sees.
  std::vector<std::string> pre_tokenize(std::string_view text) const {
    std::vector<std::string> words;
    for_each_word(normalize_code_points(text), [&](std::u32string_view w) { words.push_back(unicode::to_utf8(w)); });
    return words;
  }

  // Token ids without [CLS]/[SEP]. Never throws for any input.
  std::vector<token_id> encode(std::string_view text) const {
    std::vector<token_id> ids;
    std::string word, piece;
    for_each_word(normalize_code_points(text), [&](std::u32string_view w) { encode_word(w, ids, word, piece); });
    return ids;
  }

  // [CLS] text [SEP].
  std::vector<token_id> encode_with_specials(std::string_view text) const {
    std::vector<token_id> ids{cls_id_};
    const auto body = encode(text);
    ids.insert(ids.end(), body.begin(), body.end());
    ids.push_back(sep_id_);
    return ids;
  }

  // [CLS] a [SEP] b [SEP], token types 0 for [CLS] a [SEP] and 1 for b [SEP].
  encoding encode_pair(std::string_view a, std::string_view b) const {
    encoding e;
    e.ids = encode_with_specials(a);
    e.token_type_ids.assign(e.ids.size(), 0);
    const auto second = encode(b);
    e.ids.insert(e.ids.end(), second.begin(), second.end());
    e.ids.push_back(sep_id_);
    e.token_type_ids.resize(e.ids.size(), 1);
    e.attention_mask.assign(e.ids.size(), 1);
    return e;
  }

  // Each text as [CLS] text [SEP], right-padded with [PAD] to the longest row; attention_mask 1 on real tokens.
  // With max_length, rows longer than it keep their first max_length - 2 tokens (then [SEP]), and with
  // pad_to_max_length every row is padded to max_length. value_error if max_length < 2.
  batch encode_batch(std::span<const std::string> texts, std::optional<std::size_t> max_length = std::nullopt,
                     bool pad_to_max_length = false) const {
    if (max_length && *max_length < 2)
      throw value_error("wordpiece::encode_batch: max_length " + std::to_string(*max_length) +
                        " leaves no room for [CLS] and [SEP]");
    std::vector<std::vector<token_id>> rows;
    rows.reserve(texts.size());
    std::size_t cols = 0;
    for (const auto& t : texts) {
      auto ids = encode_with_specials(t);
      if (max_length && ids.size() > *max_length) {
        ids.resize(*max_length);
        ids.back() = sep_id_;
      }
      cols = std::max(cols, ids.size());
      rows.push_back(std::move(ids));
    }
    if (max_length && pad_to_max_length) cols = *max_length;
    batch out;
    out.rows = rows.size();
    out.cols = cols;
    out.ids.assign(out.rows * cols, pad_id_);
    out.token_type_ids.assign(out.rows * cols, 0);
    out.attention_mask.assign(out.rows * cols, 0);
    for (std::size_t r = 0; r < rows.size(); ++r) {
      std::copy(rows[r].begin(), rows[r].end(), out.ids.begin() + static_cast<std::ptrdiff_t>(r * cols));
      std::fill_n(out.attention_mask.begin() + static_cast<std::ptrdiff_t>(r * cols), rows[r].size(), 1);
    }
    return out;
  }

  // Text from ids: pieces joined by spaces, "##" pieces glued to the previous one (the WordPiece decoder).
  // value_error naming the id if one is out of range.
  std::string decode(std::span<const token_id> ids, bool skip_special_tokens = true) const {
    std::string out, tok;
    bool first = true;
    const std::string& prefix = opts_.continuing_subword_prefix;
    for (token_id id : ids) {
      const std::string& t = vocab_.token(id, "wordpiece::decode");
      if (skip_special_tokens && std::find(special_ids_.begin(), special_ids_.end(), id) != special_ids_.end())
        continue;
      if (first)
        tok = t;
      else if (!prefix.empty() && t.starts_with(prefix))
        tok = t.substr(prefix.size());
      else
        tok = " " + t;
      first = false;
      if (opts_.cleanup_decoded) cleanup(tok);
      out += tok;
    }
    return out;
  }

 private:

  // The decoder's cleanup, applied to each (space-prefixed) piece.
  static void cleanup(std::string& s) {
    static constexpr std::pair<std::string_view, std::string_view> rules[] = {
        {" .", "."},   {" ?", "?"},   {" !", "!"},     {" ,", ","},          {" ' ", "'"}, {" n't", "n't"},
        {" 'm", "'m"}, {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
    for (const auto& [from, to] : rules) {
      for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
        s.replace(at, from.size(), to);
    }
  }

  void load_vocab(std::string_view text, std::string_view name) {
    std::size_t pos = 0, line_no = 0;
    while (pos < text.size()) {
      std::size_t end = text.find('\n', pos);
      if (end == std::string_view::npos) end = text.size();
      std::string_view line = text.substr(pos, end - pos);
      pos = end + 1;
      ++line_no;
      // Trailing white space is not part of a token (HF trims it too); this also takes CR of CRLF files.
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
        line.remove_suffix(1);
      if (line.empty()) throw format_error(detail::at_line("wordpiece", name, line_no) + "empty token");
      if (!unicode::is_valid_utf8(line))
        throw format_error(detail::at_line("wordpiece", name, line_no) + "token is not valid UTF-8");
      if (const auto earlier = vocab_.append(std::string(line)))
        throw format_error(detail::at_line("wordpiece", name, line_no) + "token " + detail::quote(line) +
                           " appears twice (first on line " + std::to_string(*earlier + 1) + ")");
    }
    if (vocab_.empty()) throw format_error("wordpiece: " + std::string(name) + ": the vocabulary is empty");
  }

  std::u32string normalize_code_points(std::string_view text) const {
    std::u32string cps;
    cps.reserve(text.size());
    for (std::size_t pos = 0; pos < text.size();) {
      const unicode::utf8_unit u = unicode::decode_utf8(text, pos);
      pos += u.length;
      char32_t cp = u.code_point;
      if (opts_.clean_text) {
        if (cp == 0 || cp == unicode::replacement_character || detail::is_bert_control(cp)) continue;
        if (cp == U'\t' || cp == U'\n' || cp == U'\r' || unicode::is_white_space(cp)) cp = U' ';
      }
      if (opts_.handle_chinese_chars && detail::is_cjk_ideograph(cp)) {
        cps.push_back(U' ');
        cps.push_back(cp);
        cps.push_back(U' ');
      } else {
        cps.push_back(cp);
      }
    }
    if (opts_.strip_accents.value_or(opts_.lowercase)) {
      bool ascii = std::all_of(cps.begin(), cps.end(), [](char32_t c) { return c < 0x80; });
      if (!ascii) {
        std::u32string decomposed = unicode::nfd(cps);
        std::erase_if(decomposed, [](char32_t c) { return unicode::is_nonspacing_mark(c); });
        cps = std::move(decomposed);
      }
    }
    if (opts_.lowercase) {
      std::u32string lower;
      lower.reserve(cps.size());
      for (char32_t c : cps) unicode::append_lowercase(lower, c);
      cps = std::move(lower);
    }
    return cps;
  }

  // Step 5: words split on white space and around punctuation.
  template <class Fn>
  static void for_each_word(std::u32string_view text, Fn&& fn) {
    std::size_t start = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
      const char32_t c = text[i];
      const bool space = c == U'\t' || c == U'\n' || c == U'\r' || unicode::is_white_space(c);
      const bool punct = !space && detail::is_bert_punctuation(c);
      if (!space && !punct) continue;
      if (i > start) fn(text.substr(start, i - start));
      if (punct) fn(text.substr(i, 1));
      start = i + 1;
    }
    if (start < text.size()) fn(text.substr(start));
  }

  // Step 6 for one word; word/piece are scratch buffers.
  void encode_word(std::u32string_view w, std::vector<token_id>& ids, std::string& word, std::string& piece) const {
    if (w.size() > opts_.max_input_chars_per_word) {
      ids.push_back(unk_id_);
      return;
    }
    word = unicode::to_utf8(w);
    std::vector<std::size_t> bounds;  // byte offset of each code point, then the end
    bounds.reserve(w.size() + 1);
    for (std::size_t p = 0; p < word.size(); p += unicode::decode_utf8(word, p).length) bounds.push_back(p);
    bounds.push_back(word.size());
    const std::size_t first_id = ids.size();
    for (std::size_t s = 0; s + 1 < bounds.size();) {
      std::optional<token_id> found;
      std::size_t e = bounds.size() - 1;
      for (; e > s; --e) {
        piece.clear();
        if (s > 0) piece = opts_.continuing_subword_prefix;
        piece.append(word, bounds[s], bounds[e] - bounds[s]);
        if ((found = token_to_id(piece))) break;
      }
      if (!found) {
        ids.resize(first_id);
        ids.push_back(unk_id_);
        return;
      }
      ids.push_back(*found);
      s = e;
    }
  }

  options opts_;
  detail::vocabulary vocab_;
  std::vector<token_id> special_ids_;
  token_id unk_id_ = 0, cls_id_ = 0, sep_id_ = 0, pad_id_ = 0;
};

}  // namespace larimar::tokenizer

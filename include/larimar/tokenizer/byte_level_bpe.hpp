#pragma once
// GPT-2's byte-level BPE tokenizer from its public files: vocab.json (token string -> id) and merges.txt (one
// merge "left right" per line, earlier lines merge first).
//
//   auto bpe = larimar::tokenizer::byte_level_bpe::from_files("vocab.json", "merges.txt");
//   std::vector<token_id> ids = bpe.encode("Hello world");   // text is bytes; any bytes round-trip
//   std::string text = bpe.decode(ids);                       // exactly the bytes that were encoded
//
// Encoding: GPT-2's pre-tokenization (gpt2_pre_tokenizer.hpp), each piece's bytes mapped to GPT-2's printable
// byte alphabet, then merges applied lowest rank first (leftmost on ties), as Hugging Face `tokenizers` does.
// Pieces are cached. Special tokens (by default <|endoftext|> when the vocabulary has it) are plain text to
// encode(); encode_with_special_tokens() maps their literal text to their ids.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <queue>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "larimar/core/error.hpp"
#include "larimar/io/regular_file.hpp"
#include "larimar/tokenizer/gpt2_pre_tokenizer.hpp"
#include "larimar/tokenizer/read_file.hpp"
#include "larimar/tokenizer/string_hash.hpp"
#include "larimar/tokenizer/vocabulary.hpp"
#include "larimar/tokenizer/unicode.hpp"
#include "larimar/tokenizer/vocab_json.hpp"

namespace larimar::tokenizer {

namespace detail {

// GPT-2's bijection from bytes to printable code points: bytes that are printable Latin-1 map to themselves,
// the other 68 to U+0100.. in byte order (so that the space 0x20 becomes U+0120 'Ġ').
inline constexpr std::array<char32_t, 256> byte_to_unicode = [] {
  std::array<char32_t, 256> table{};
  char32_t next = 256;
  for (unsigned b = 0; b < 256; ++b) {
    const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    table[b] = printable ? static_cast<char32_t>(b) : next++;
  }
  return table;
}();

// The inverse: code point -> byte, or -1 for code points outside GPT-2's byte alphabet (which ends at U+0143).
inline constexpr std::array<std::int16_t, 0x144> unicode_to_byte_table = [] {
  std::array<std::int16_t, 0x144> table{};
  table.fill(-1);
  for (unsigned b = 0; b < 256; ++b) table[byte_to_unicode[b]] = static_cast<std::int16_t>(b);
  return table;
}();

inline int unicode_to_byte(char32_t cp) { return cp < unicode_to_byte_table.size() ? unicode_to_byte_table[cp] : -1; }

// A bounded, thread-safe memo of piece -> ids. Copies start empty (a cache is not part of a tokenizer's value).
class piece_cache {
 public:
  explicit piece_cache(std::size_t capacity) : capacity_(capacity) {}
  piece_cache(const piece_cache& other) : capacity_(other.capacity_) {}
  piece_cache& operator=(const piece_cache& other) {
    if (this != &other) {
      std::scoped_lock lock(mutex_);
      capacity_ = other.capacity_;
      map_.clear();
    }
    return *this;
  }

  bool find(std::string_view piece, std::vector<token_id>& out) const {
    if (capacity_ == 0) return false;
    std::scoped_lock lock(mutex_);
    const auto it = map_.find(piece);
    if (it == map_.end()) return false;
    out.insert(out.end(), it->second.begin(), it->second.end());
    return true;
  }
  void insert(std::string_view piece, std::span<const token_id> ids) const {
    if (capacity_ == 0) return;
    std::scoped_lock lock(mutex_);
    if (map_.size() >= capacity_) map_.clear();  // simple and bounded; hot pieces come back quickly
    map_.emplace(std::string(piece), std::vector<token_id>(ids.begin(), ids.end()));
  }

 private:
  std::size_t capacity_;
  mutable std::mutex mutex_;
  mutable std::unordered_map<std::string, std::vector<token_id>, string_hash, std::equal_to<>> map_;
};

}  // namespace detail

// Settings of byte_level_bpe (outside the class so that it can be a default argument there).
struct byte_level_bpe_options {
  // Tokens whose literal text encode_with_special_tokens() maps to their ids and that decode() emits
  // verbatim. Unset: "<|endoftext|>" if the vocabulary has it. Each listed token must be in the vocabulary.
  std::optional<std::vector<std::string>> special_tokens;
  std::size_t cache_capacity = 16384;  // pieces remembered; 0 disables the cache
  std::size_t max_cached_piece_bytes = 64;
};

class byte_level_bpe {
 public:
  using options = byte_level_bpe_options;


  // Reads vocab.json and merges.txt. Missing/unreadable file: io_error naming the path; malformed content:
  // format_error naming the file and line.
  static byte_level_bpe from_files(const std::filesystem::path& vocab_json, const std::filesystem::path& merges_txt,
                                   options opts = {}) {
    const std::string vocab = io::detail::read_regular_file(vocab_json, "byte_level_bpe::from_files");
    const std::string merges = io::detail::read_regular_file(merges_txt, "byte_level_bpe::from_files");
    return byte_level_bpe(vocab, merges, std::move(opts), vocab_json.string(), merges_txt.string());
  }

  // From the files' contents; the names only label error messages.
  byte_level_bpe(std::string_view vocab_json, std::string_view merges_txt, options opts = {},
                 std::string_view vocab_name = "vocab.json", std::string_view merges_name = "merges.txt")
      : cache_(opts.cache_capacity), max_cached_piece_bytes_(opts.max_cached_piece_bytes) {
    load_vocab(vocab_json, vocab_name);
    load_merges(merges_txt, merges_name);
    load_special_tokens(opts, vocab_name);
  }

  std::size_t vocab_size() const { return vocab_.size(); }
  std::size_t merge_count() const { return merges_.size(); }

  std::optional<token_id> token_to_id(std::string_view token) const { return vocab_.find(token); }
  // The vocabulary's string for id (in GPT-2's byte alphabet); value_error if out of range.
  const std::string& id_to_token(token_id id) const { return vocab_.token(id, "byte_level_bpe::id_to_token"); }
  const std::vector<std::pair<std::string, token_id>>& special_tokens() const { return special_; }
  // The id of a special token; value_error if it is not one.
  token_id special_token_id(std::string_view token) const {
    for (const auto& [text, id] : special_)
      if (text == token) return id;
    throw value_error("byte_level_bpe::special_token_id: " + detail::quote(token) + " is not a special token");
  }
  // <|endoftext|>, GPT-2's end-of-text (and beginning-of-text) token, if the vocabulary has it.
  std::optional<token_id> end_of_text_id() const { return token_to_id("<|endoftext|>"); }

  // Ids of `text` taken as plain bytes (special-token text is ordinary text here). Never throws for any input.
  std::vector<token_id> encode(std::string_view text) const {
    std::vector<token_id> ids;
    ids.reserve(text.size() / 3 + 1);
    append_plain(text, ids);
    return ids;
  }

  // As encode(), but each occurrence of a special token's text becomes that token's id (leftmost, longest).
  std::vector<token_id> encode_with_special_tokens(std::string_view text) const {
    std::vector<token_id> ids;
    std::size_t pos = 0;
    while (pos < text.size()) {
      std::size_t best = std::string_view::npos, best_len = 0;
      token_id best_id = 0;
      for (const auto& [tok, id] : special_) {
        const std::size_t at = text.find(tok, pos);
        if (at != std::string_view::npos && (at < best || (at == best && tok.size() > best_len)))
          best = at, best_len = tok.size(), best_id = id;
      }
      if (best == std::string_view::npos || best_len == 0) break;
      append_plain(text.substr(pos, best - pos), ids);
      ids.push_back(best_id);
      pos = best + best_len;
    }
    append_plain(text.substr(pos), ids);
    return ids;
  }

  // The bytes the ids stand for; decode(encode(x)) == x for every byte string x. The result is not valid UTF-8
  // when the ids cut a multi-byte character (e.g. while generating); unicode::repair_utf8 fixes that up for display.
  // With skip_special_tokens, special tokens (e.g. <|endoftext|>) are left out.
  // value_error naming the id if one is out of range.
  std::string decode(std::span<const token_id> ids, bool skip_special_tokens = false) const {
    std::string out;
    for (token_id id : ids) {
      vocab_.check(id, "byte_level_bpe::decode");
      if (skip_special_tokens && is_special(id)) continue;
      out += id_bytes_[static_cast<std::size_t>(id)];
    }
    return out;
  }

 private:
  void load_vocab(std::string_view text, std::string_view name) {
    constexpr std::string_view op = "byte_level_bpe";
    auto entries = detail::vocab_json_reader(text, name, op).read();
    const std::size_t n = entries.size();
    if (n == 0) throw format_error(std::string(op) + ": " + std::string(name) + ": the vocabulary is empty");
    vocab_.reserve(n);
    std::vector<bool> seen(n, false);
    for (auto& e : entries) {
      if (static_cast<std::size_t>(e.id) >= n)
        throw format_error(detail::at_line(op, name, e.line) + "id " + std::to_string(e.id) + " of " + detail::quote(e.token) +
                           " is outside 0.." + std::to_string(n - 1) + " (ids must be dense)");
      if (seen[static_cast<std::size_t>(e.id)])
        throw format_error(detail::at_line(op, name, e.line) + "id " + std::to_string(e.id) + " is used twice");
      if (!vocab_.assign(static_cast<token_id>(e.id), e.token))
        throw format_error(detail::at_line(op, name, e.line) + "token " + detail::quote(e.token) + " appears twice");
      seen[static_cast<std::size_t>(e.id)] = true;
    }
    for (unsigned b = 0; b < 256; ++b) {
      std::string ch;
      unicode::append_utf8(ch, detail::byte_to_unicode[b]);
      const auto id = vocab_.find(ch);
      if (!id)
        throw format_error(std::string(op) + ": " + std::string(name) + ": no token for byte " + std::to_string(b) +
                           " ('" + ch + "'); a byte-level vocabulary needs all 256");
      byte_ids_[b] = *id;
    }
  }

  void load_merges(std::string_view text, std::string_view name) {
    constexpr std::string_view op = "byte_level_bpe";
    std::size_t line_no = 0, pos = 0;
    std::int32_t rank = 0;
    while (pos < text.size()) {
      std::size_t end = text.find('\n', pos);
      if (end == std::string_view::npos) end = text.size();
      std::string_view line = text.substr(pos, end - pos);
      pos = end + 1;
      ++line_no;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.empty() || (line_no == 1 && line.starts_with("#version"))) continue;
      const std::size_t space = line.find(' ');
      if (space == std::string_view::npos || space == 0 || space + 1 == line.size() ||
          line.find(' ', space + 1) != std::string_view::npos)
        throw format_error(detail::at_line(op, name, line_no) + "expected two tokens separated by one space");
      const std::string left(line.substr(0, space)), right(line.substr(space + 1));
      const auto l = vocab_.find(left), r = vocab_.find(right), m = vocab_.find(left + right);
      if (!l || !r)
        throw format_error(detail::at_line(op, name, line_no) + "token " + detail::quote(!l ? left : right) +
                           " is not in the vocabulary");
      if (!m)
        throw format_error(detail::at_line(op, name, line_no) + "merged token " + detail::quote(left + right) +
                           " is not in the vocabulary");
      // A repeated pair takes its later rank, as Hugging Face's loaders do.
      merges_[pair_key(*l, *r)] = {rank++, *m};
    }
  }

  void load_special_tokens(const options& opts, std::string_view name) {
    std::vector<std::string> wanted;
    if (opts.special_tokens) {
      wanted = *opts.special_tokens;
    } else if (vocab_.contains("<|endoftext|>")) {
      wanted = {"<|endoftext|>"};
    }
    for (const auto& tok : wanted) {
      const auto id = vocab_.find(tok);
      if (tok.empty() || !id)
        throw value_error("byte_level_bpe: special token " + detail::quote(tok) + " is not in " +
                          std::string(name));
      special_.emplace_back(tok, *id);
    }
    // What each id decodes to: the bytes behind its characters; a special token (or any character outside the
    // byte alphabet) as its own UTF-8 text.
    id_bytes_.resize(vocab_.size());
    for (std::size_t id = 0; id < vocab_.size(); ++id) {
      const std::string& tok = vocab_[id];
      if (is_special(static_cast<token_id>(id))) {
        id_bytes_[id] = tok;
        continue;
      }
      for (std::size_t p = 0; p < tok.size();) {
        const unicode::utf8_unit u = unicode::decode_utf8(tok, p);
        const int b = u.valid ? detail::unicode_to_byte(u.code_point) : -1;
        if (b >= 0)
          id_bytes_[id].push_back(static_cast<char>(b));
        else
          id_bytes_[id].append(tok, p, u.length);
        p += u.length;
      }
    }
  }

  bool is_special(token_id id) const {
    return std::any_of(special_.begin(), special_.end(), [&](const auto& s) { return s.second == id; });
  }

  static std::uint64_t pair_key(token_id left, token_id right) {
    return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(left)) << 32) | static_cast<std::uint32_t>(right);
  }

  void append_plain(std::string_view text, std::vector<token_id>& ids) const {
    for_each_gpt2_piece(text, [&](std::string_view piece) {
      const bool cacheable = piece.size() <= max_cached_piece_bytes_;
      if (cacheable && cache_.find(piece, ids)) return;
      const std::size_t first = ids.size();
      merge_piece(piece, ids);
      if (cacheable) cache_.insert(piece, std::span<const token_id>(ids).subspan(first));
    });
  }

  // BPE on one piece: symbols start as single bytes; repeatedly merge the adjacent pair of lowest rank (leftmost
  // on ties). A heap of candidate pairs with lazy invalidation keeps long pieces O(n log n).
  void merge_piece(std::string_view piece, std::vector<token_id>& ids) const {
    const std::size_t n = piece.size();
    if (n == 1) {
      ids.push_back(byte_ids_[static_cast<unsigned char>(piece[0])]);
      return;
    }
    struct symbol {
      token_id id;
      std::int64_t prev, next;  // -1 when none
    };
    std::vector<symbol> sym(n);
    for (std::size_t i = 0; i < n; ++i)
      sym[i] = {byte_ids_[static_cast<unsigned char>(piece[i])], static_cast<std::int64_t>(i) - 1,
                i + 1 < n ? static_cast<std::int64_t>(i + 1) : -1};
    struct candidate {
      std::int32_t rank;
      std::int64_t pos;  // index of the left symbol
      token_id left, right;
      bool operator>(const candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
    };
    std::priority_queue<candidate, std::vector<candidate>, std::greater<>> heap;
    const auto push = [&](std::int64_t pos) {
      if (pos < 0 || sym[static_cast<std::size_t>(pos)].next < 0) return;
      const symbol& a = sym[static_cast<std::size_t>(pos)];
      const symbol& b = sym[static_cast<std::size_t>(a.next)];
      const auto it = merges_.find(pair_key(a.id, b.id));
      if (it != merges_.end()) heap.push({it->second.first, pos, a.id, b.id});
    };
    for (std::size_t i = 0; i + 1 < n; ++i) push(static_cast<std::int64_t>(i));
    std::vector<bool> dead(n, false);
    while (!heap.empty()) {
      const candidate c = heap.top();
      heap.pop();
      symbol& a = sym[static_cast<std::size_t>(c.pos)];
      if (dead[static_cast<std::size_t>(c.pos)] || a.id != c.left || a.next < 0) continue;
      symbol& b = sym[static_cast<std::size_t>(a.next)];
      if (b.id != c.right) continue;  // stale: a neighbour merged since this pair was queued
      a.id = merges_.at(pair_key(c.left, c.right)).second;
      dead[static_cast<std::size_t>(a.next)] = true;
      a.next = b.next;
      if (a.next >= 0) sym[static_cast<std::size_t>(a.next)].prev = c.pos;
      push(a.prev);
      push(c.pos);
    }
    for (std::int64_t i = 0; i >= 0; i = sym[static_cast<std::size_t>(i)].next)
      ids.push_back(sym[static_cast<std::size_t>(i)].id);
  }

  detail::vocabulary vocab_;
  std::vector<std::string> id_bytes_;
  std::array<token_id, 256> byte_ids_{};
  std::unordered_map<std::uint64_t, std::pair<std::int32_t, token_id>> merges_;
  std::vector<std::pair<std::string, token_id>> special_;
  detail::piece_cache cache_;
  std::size_t max_cached_piece_bytes_;
};

}  // namespace larimar::tokenizer

#pragma once
// Reader for vocab.json as GPT-2-format tokenizers write it: one flat JSON object mapping token strings to ids.
// Hand-written (not a general JSON parser) so that every error names the file and line, and so that arbitrary
// bytes — the fuzz target feeds them — can only produce a format_error.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "larimar/core/error.hpp"
#include "larimar/tokenizer/read_file.hpp"
#include "larimar/tokenizer/unicode.hpp"

namespace larimar::tokenizer::detail {

struct vocab_entry {
  std::string token;
  std::int64_t id;
  std::size_t line;
};

class vocab_json_reader {
 public:
  vocab_json_reader(std::string_view text, std::string_view file, std::string_view operation)
      : text_(text), file_(file), operation_(operation) {}

  std::vector<vocab_entry> read() {
    std::vector<vocab_entry> entries;
    skip_space();
    expect('{', "expected '{' to open the vocabulary object");
    skip_space();
    if (peek() == '}') {
      ++pos_;
    } else {
      for (;;) {
        skip_space();
        const std::size_t line = line_;
        std::string token = read_string();
        skip_space();
        expect(':', "expected ':' after a token");
        skip_space();
        const std::int64_t id = read_id();
        entries.push_back({std::move(token), id, line});
        skip_space();
        if (peek() == ',') {
          ++pos_;
          continue;
        }
        expect('}', "expected ',' or '}' after an id");
        break;
      }
    }
    skip_space();
    if (pos_ != text_.size()) fail("unexpected text after the vocabulary object");
    return entries;
  }

 private:
  [[noreturn]] void fail(std::string_view what) const {
    throw format_error(at_line(operation_, file_, line_) + std::string(what));
  }
  int peek() const { return pos_ < text_.size() ? static_cast<unsigned char>(text_[pos_]) : -1; }
  void expect(char c, std::string_view what) {
    if (peek() != static_cast<unsigned char>(c)) fail(pos_ < text_.size() ? what : "unexpected end of file");
    ++pos_;
  }
  void skip_space() {
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c == '\n') ++line_;
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
      ++pos_;
    }
  }
  unsigned read_hex4() {
    if (text_.size() - pos_ < 4) fail("truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = text_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f') v |= static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= static_cast<unsigned>(c - 'A' + 10);
      else fail("bad hex digit in \\u escape");
    }
    return v;
  }
  std::string read_string() {
    expect('"', "expected '\"' to open a token string");
    std::string out;
    for (;;) {
      if (pos_ >= text_.size()) fail("unterminated string");
      const unsigned char c = static_cast<unsigned char>(text_[pos_]);
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (c < 0x20) fail("control character inside a string");
      if (c == '\\') {
        ++pos_;
        if (pos_ >= text_.size()) fail("unterminated string");
        const char e = text_[pos_++];
        switch (e) {
          case '"': out.push_back('"'); break;
          case '\\': out.push_back('\\'); break;
          case '/': out.push_back('/'); break;
          case 'b': out.push_back('\b'); break;
          case 'f': out.push_back('\f'); break;
          case 'n': out.push_back('\n'); break;
          case 'r': out.push_back('\r'); break;
          case 't': out.push_back('\t'); break;
          case 'u': {
            char32_t cp = read_hex4();
            if (cp >= 0xDC00 && cp <= 0xDFFF) fail("unpaired low surrogate in \\u escape");
            if (cp >= 0xD800 && cp <= 0xDBFF) {
              if (text_.substr(pos_, 2) != "\\u") fail("unpaired high surrogate in \\u escape");
              pos_ += 2;
              const char32_t low = read_hex4();
              if (low < 0xDC00 || low > 0xDFFF) fail("unpaired high surrogate in \\u escape");
              cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            }
            unicode::append_utf8(out, cp);
            break;
          }
          default: fail("unknown escape in a string");
        }
        continue;
      }
      const unicode::utf8_unit u = unicode::decode_utf8(text_, pos_);
      if (!u.valid) fail("invalid UTF-8 inside a string");
      out.append(text_.substr(pos_, u.length));
      pos_ += u.length;
    }
  }
  std::int64_t read_id() {
    if (peek() == '-') fail("negative token id");
    if (peek() < '0' || peek() > '9') fail("expected a non-negative integer id");
    std::int64_t v = 0;
    while (peek() >= '0' && peek() <= '9') {
      v = v * 10 + (text_[pos_++] - '0');
      if (v > 0x7FFFFFFF) fail("token id does not fit in 31 bits");
    }
    if (peek() == '.' || peek() == 'e' || peek() == 'E') fail("token id is not an integer");
    return v;
  }

  std::string_view text_, file_, operation_;
  std::size_t pos_ = 0, line_ = 1;
};

}  // namespace larimar::tokenizer::detail

// BERT WordPiece against Hugging Face `transformers` BertTokenizerFast on fortune text (cases.json).
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "fixtures.hpp"
#include "larimar/tokenizer/wordpiece.hpp"

using larimar::tokenizer::token_id;
using larimar::tokenizer::wordpiece;
using larimar_test::tokenizer_cases;
using larimar_test::tokenizer_fixture;

namespace {

const wordpiece& uncased() {
  static const wordpiece w = wordpiece::from_file(tokenizer_fixture("bert_uncased_vocab.txt"));
  return w;
}
const wordpiece& cased() {
  static const wordpiece w = [] {
    wordpiece::options o;
    o.lowercase = false;
    return wordpiece::from_file(tokenizer_fixture("bert_cased_vocab.txt"), o);
  }();
  return w;
}

std::string message_of(auto&& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no exception)";
}

void check_against(const wordpiece& w, const char* key) {
  const auto& cases = tokenizer_cases();
  const auto& texts = cases["texts"];
  const auto& want = cases[key];
  REQUIRE(texts.size() == want.size());
  std::size_t mismatches = 0, unknown = 0, pieces = 0;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const std::string text = texts[i].get<std::string>();
    const auto ids = w.encode_with_specials(text);
    const auto expected = want[i].get<std::vector<token_id>>();
    if (ids != expected) {
      ++mismatches;
      if (mismatches <= 5) CHECK_MESSAGE(ids == expected, key, " text #", i, ": '", text, "'");
    }
    unknown += std::count(ids.begin(), ids.end(), w.unk_id());
    for (token_id id : ids) pieces += w.id_to_token(id).starts_with("##");
  }
  CHECK(mismatches == 0);
  CHECK(unknown > 10);    // the cases do reach [UNK]
  CHECK(pieces > 1000);   // and split words into ## pieces
}

}  // namespace

TEST_CASE("uncased: ids match BertTokenizerFast(do_lower_case=True) on every fixture text") {
  check_against(uncased(), "bert_uncased");
}

TEST_CASE("cased: ids match BertTokenizerFast(do_lower_case=False) on every fixture text") {
  check_against(cased(), "bert_cased");
}

TEST_CASE("decode matches BertTokenizerFast.decode(skip_special_tokens=True)") {
  const auto& cases = tokenizer_cases();
  std::size_t mismatches = 0;
  for (std::size_t i = 0; i < cases["texts"].size(); ++i) {
    const auto ids = cases["bert_uncased"][i].get<std::vector<token_id>>();
    const std::string got = uncased().decode(ids);
    if (got != cases["bert_uncased_decoded"][i].get<std::string>()) {
      ++mismatches;
      if (mismatches <= 5) CHECK(got == cases["bert_uncased_decoded"][i].get<std::string>());
    }
  }
  CHECK(mismatches == 0);
  // Keeping special tokens shows them.
  const auto ids = uncased().encode_with_specials("hello world");
  CHECK(uncased().decode(ids, false).starts_with("[CLS] "));
  CHECK(uncased().decode(ids, false).ends_with(" [SEP]"));
}

TEST_CASE("pairs and padded batches match BertTokenizerFast") {
  const auto& cases = tokenizer_cases();
  for (const auto& p : cases["bert_uncased_pairs"]) {
    const auto e = uncased().encode_pair(p["a"].get<std::string>(), p["b"].get<std::string>());
    CHECK(e.ids == p["input_ids"].get<std::vector<token_id>>());
    CHECK(e.token_type_ids == p["token_type_ids"].get<std::vector<token_id>>());
    CHECK(e.attention_mask == p["attention_mask"].get<std::vector<std::int32_t>>());
  }
  for (const char* key : {"bert_uncased_batch", "bert_uncased_batch_truncated"}) {
    CAPTURE(key);
    const auto& b = cases[key];
    const auto texts = b["texts"].get<std::vector<std::string>>();
    const auto got = b.contains("max_length")
                         ? uncased().encode_batch(texts, b["max_length"].get<std::size_t>(), true)
                         : uncased().encode_batch(texts);
    const auto want_ids = b["input_ids"].get<std::vector<std::vector<token_id>>>();
    const auto want_mask = b["attention_mask"].get<std::vector<std::vector<std::int32_t>>>();
    const auto want_types = b["token_type_ids"].get<std::vector<std::vector<token_id>>>();
    REQUIRE(got.rows == want_ids.size());
    REQUIRE(got.cols == want_ids[0].size());
    for (std::size_t r = 0; r < got.rows; ++r) {
      const auto at = static_cast<std::ptrdiff_t>(r * got.cols), end = at + static_cast<std::ptrdiff_t>(got.cols);
      CHECK(std::vector<token_id>(got.ids.begin() + at, got.ids.begin() + end) == want_ids[r]);
      CHECK(std::vector<std::int32_t>(got.attention_mask.begin() + at, got.attention_mask.begin() + end) ==
            want_mask[r]);
      CHECK(std::vector<token_id>(got.token_type_ids.begin() + at, got.token_type_ids.begin() + end) ==
            want_types[r]);
    }
  }
  CHECK_THROWS_AS(uncased().encode_batch(std::vector<std::string>{"x"}, 1), larimar::value_error);
}

TEST_CASE("basic tokenization: cleaning, CJK, accents, punctuation, case") {
  const auto& w = uncased();
  CHECK(w.normalize("Caf\xC3\xA9\tNA\xC3\x8FVE\x01\x0B!") == "cafe naive!");
  CHECK(w.normalize("\xE4\xBD\xA0\xE5\xA5\xBD") == " \xE4\xBD\xA0  \xE5\xA5\xBD ");  // 你好 spaced
  CHECK(w.pre_tokenize("Hello, world... it's") ==
        std::vector<std::string>{"hello", ",", "world", ".", ".", ".", "it", "'", "s"});
  CHECK(cased().normalize("Caf\xC3\xA9") == "Caf\xC3\xA9");  // no lower-casing, no stripping
  wordpiece::options keep_accents;
  keep_accents.strip_accents = false;
  const auto accents = wordpiece::from_file(tokenizer_fixture("bert_uncased_vocab.txt"), keep_accents);
  CHECK(accents.normalize("Caf\xC3\xA9") == "caf\xC3\xA9");
  CHECK(w.normalize("bad \xFF\xFE utf8") == "bad  utf8");  // ill-formed bytes are dropped with clean_text
}

TEST_CASE("WordPiece: longest match first, [UNK], max_input_chars_per_word") {
  const std::string vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nun\n##aff\n##able\n##a\n##ff\naff\n##ably\n";
  const wordpiece w(vocab);
  CHECK(w.encode("unaffable") == std::vector<token_id>{5, 6, 7});
  CHECK(w.encode("unaffably") == std::vector<token_id>{5, 6, 11});
  CHECK(w.encode("unaffablex") == std::vector<token_id>{1});  // one uncoverable tail makes the word [UNK]
  CHECK(w.encode("unaffable xyz aff") == std::vector<token_id>{5, 6, 7, 1, 10});
  CHECK(w.decode(w.encode("unaffable aff")) == "unaffable aff");
  wordpiece::options short_words;
  short_words.max_input_chars_per_word = 9;
  const wordpiece s(vocab, short_words);
  CHECK(s.encode("unaffable") == std::vector<token_id>{5, 6, 7});  // 9 code points: allowed
  CHECK(s.encode("unaffably") == std::vector<token_id>{5, 6, 11});
  CHECK(s.encode("unaffables") == std::vector<token_id>{1});        // 10: too long
  // The default limit is 100 code points.
  CHECK(uncased().encode(std::string(101, 'a')) == std::vector<token_id>{uncased().unk_id()});
  CHECK(uncased().encode(std::string(100, 'a')) != std::vector<token_id>{uncased().unk_id()});
}

TEST_CASE("arbitrary bytes encode to valid ids") {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 1000; ++trial) {
    std::string bytes(rng() % 60, '\0');
    for (auto& b : bytes) b = static_cast<char>(rng() % 256);
    const auto ids = uncased().encode_with_specials(bytes);
    REQUIRE(ids.size() >= 2);
    for (token_id id : ids) REQUIRE((id >= 0 && static_cast<std::size_t>(id) < uncased().vocab_size()));
    (void)uncased().decode(ids);
  }
}

TEST_CASE("errors: out-of-range ids, missing files, malformed vocab.txt") {
  const auto n = static_cast<token_id>(uncased().vocab_size());
  const std::vector<token_id> bad{2, n};
  CHECK_THROWS_AS(uncased().decode(bad), larimar::value_error);
  CHECK(message_of([&] { (void)uncased().decode(bad); }).find(std::to_string(n)) != std::string::npos);

  const auto missing = std::filesystem::path(LARIMAR_FIXTURE_DIR) / "tokenizer" / "no_such_vocab.txt";
  CHECK_THROWS_AS(wordpiece::from_file(missing), larimar::io_error);
  CHECK(message_of([&] { wordpiece::from_file(missing); }).find("no_such_vocab.txt") != std::string::npos);

  const std::vector<std::pair<std::string, std::string>> bad_vocabs = {
      {"[PAD]\n[UNK]\n\n[CLS]\n[SEP]\n", "vocab.txt:3:"},           // empty line
      {"[PAD]\n[UNK]\n[CLS]\n[SEP]\n[UNK]\n", "vocab.txt:5:"},      // duplicate
      {"[PAD]\n[UNK]\n[CLS]\n\xC3\n[SEP]\n", "vocab.txt:4:"},       // bad UTF-8
      {"[PAD]\n[CLS]\n[SEP]\n", "[UNK]"},                           // no unknown token
      {"", "empty"},
  };
  for (const auto& [text, where] : bad_vocabs) {
    CAPTURE(where);
    CHECK_THROWS_AS(wordpiece{text}, larimar::format_error);
    CHECK(message_of([&] { wordpiece{text}; }).find(where) != std::string::npos);
  }
  CHECK(wordpiece("[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\nok\r\n").encode("ok") == std::vector<token_id>{4});  // CRLF
}

TEST_CASE("a vocab.txt token with a NUL is quoted escaped in the error message") {
  // The message once ended at the NUL ("... token 'a").
  const char raw[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\na\0b\na\0b\n";
  const std::string text(raw, sizeof raw - 1);
  const std::string msg = message_of([&] { wordpiece{text}; });
  CHECK(msg.find(R"(vocab.txt:6: token 'a\0b' appears twice (first on line 5))") != std::string::npos);
}

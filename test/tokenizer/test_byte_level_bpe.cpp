// GPT-2 byte-level BPE against Hugging Face `transformers` GPT2TokenizerFast on fortune text (cases.json).
#include <doctest/doctest.h>

#include <filesystem>
#include <random>
#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include "fixtures.hpp"
#include "larimar/tokenizer/byte_level_bpe.hpp"

using larimar::tokenizer::byte_level_bpe;
using larimar::tokenizer::token_id;
using larimar_test::tokenizer_cases;
using larimar_test::tokenizer_fixture;

namespace {

const byte_level_bpe& fixture_bpe() {
  static const byte_level_bpe bpe =
      byte_level_bpe::from_files(tokenizer_fixture("gpt2_vocab.json"), tokenizer_fixture("gpt2_merges.txt"));
  return bpe;
}

std::string message_of(auto&& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no exception)";
}

// A tiny hand-made vocabulary: the 256 byte symbols plus a few merges.
std::string tiny_vocab_json(const std::string& extra) {
  std::string out = "{";
  int id = 0;
  for (unsigned b = 0; b < 256; ++b) {
    std::string ch;
    larimar::tokenizer::unicode::append_utf8(ch, larimar::tokenizer::detail::byte_to_unicode[b]);
    if (ch == "\"" || ch == "\\") ch = "\\" + ch;
    out += "\"" + ch + "\": " + std::to_string(id++) + ",\n";
  }
  out += "\"he\": 256,\n\"ll\": 257,\n\"hell\": 258,\n\"hello\": 259" + extra + "}";
  return out;
}

}  // namespace

TEST_CASE("encode matches GPT2TokenizerFast on every fixture text, and decode restores it") {
  const auto& bpe = fixture_bpe();
  const auto& cases = tokenizer_cases();
  const auto& texts = cases["texts"];
  const auto& want = cases["gpt2"];
  REQUIRE(texts.size() == want.size());
  REQUIRE(texts.size() > 2500);
  std::size_t mismatches = 0, special_texts = 0, non_ascii = 0;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const std::string text = texts[i].get<std::string>();
    const bool has_special = text.find("<|endoftext|>") != std::string::npos;
    special_texts += has_special;
    non_ascii += std::any_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
    const auto ids = has_special ? bpe.encode_with_special_tokens(text) : bpe.encode(text);
    const auto expected = want[i].get<std::vector<token_id>>();
    if (ids != expected) {
      ++mismatches;
      if (mismatches <= 5) CHECK_MESSAGE(ids == expected, "text #", i, ": '", text, "'");
    }
    CHECK(bpe.decode(ids) == text);
  }
  CHECK(mismatches == 0);
  CHECK(special_texts >= 3);
  CHECK(non_ascii >= 400);
}

TEST_CASE("GPT-2 pre-tokenization matches tokenizers' ByteLevel pre-tokenizer piece by piece") {
  const auto& cases = tokenizer_cases();
  const auto from = cases["gpt2_pieces_from"].get<std::size_t>();
  const auto& want = cases["gpt2_pieces"];
  REQUIRE(want.size() > 200);
  for (std::size_t i = 0; i < want.size(); ++i) {
    const std::string text = cases["texts"][from + i].get<std::string>();
    const auto got = larimar::tokenizer::gpt2_pre_tokenize(text);
    CHECK_MESSAGE(std::vector<std::string>(got.begin(), got.end()) == want[i].get<std::vector<std::string>>(),
                  "text #", from + i, ": '", text, "'");
  }
}

TEST_CASE("special tokens: by id with encode_with_special_tokens, plain text with encode") {
  const auto& bpe = fixture_bpe();
  const auto eot = bpe.end_of_text_id();
  REQUIRE(eot.has_value());
  CHECK(bpe.special_token_id("<|endoftext|>") == *eot);
  CHECK_THROWS_AS(bpe.special_token_id("<|nope|>"), larimar::value_error);
  const std::string text = "one<|endoftext|>two";
  const auto with = bpe.encode_with_special_tokens(text);
  const auto plain = bpe.encode(text);
  CHECK(std::count(with.begin(), with.end(), *eot) == 1);
  CHECK(std::count(plain.begin(), plain.end(), *eot) == 0);
  CHECK(bpe.decode(with) == text);
  CHECK(bpe.decode(plain) == text);
  const std::vector<token_id> just_eot{*eot};
  CHECK(bpe.decode(just_eot) == "<|endoftext|>");
  CHECK(bpe.decode(with, /*skip_special_tokens=*/true) == "onetwo");
}

TEST_CASE("any byte string round-trips, including ill-formed UTF-8") {
  const auto& bpe = fixture_bpe();
  std::mt19937 rng(12345);
  for (int trial = 0; trial < 2000; ++trial) {
    std::string bytes(rng() % 40, '\0');
    for (auto& b : bytes)  // odd trials: any bytes; even trials: letters mixed with stray continuation bytes
      b = static_cast<char>(trial % 2 ? rng() % 256 : (rng() % 4 ? 'a' + rng() % 3 : 0x80 + rng() % 128));
    const auto ids = bpe.encode(bytes);
    for (token_id id : ids) REQUIRE((id >= 0 && static_cast<std::size_t>(id) < bpe.vocab_size()));
    REQUIRE(bpe.decode(ids) == bytes);
  }
  // A long run is one piece: the merge loop must stay fast and exact.
  const std::string long_word(20000, 'e');
  CHECK(bpe.decode(bpe.encode(long_word)) == long_word);
  const auto ee = bpe.encode("ee");
  REQUIRE(ee.size() == 1);  // "ee" is a merge of the fixture; ties go left, so the run becomes 10000 of them
  CHECK(bpe.encode(long_word) == std::vector<token_id>(long_word.size() / 2, ee[0]));
}

TEST_CASE("the cache does not change results") {
  byte_level_bpe::options no_cache;
  no_cache.cache_capacity = 0;
  const auto uncached =
      byte_level_bpe::from_files(tokenizer_fixture("gpt2_vocab.json"), tokenizer_fixture("gpt2_merges.txt"), no_cache);
  byte_level_bpe::options tiny_cache;
  tiny_cache.cache_capacity = 3;  // forces evictions
  const auto evicting = byte_level_bpe::from_files(tokenizer_fixture("gpt2_vocab.json"),
                                                   tokenizer_fixture("gpt2_merges.txt"), tiny_cache);
  const auto& cases = tokenizer_cases();
  for (std::size_t i = 0; i < 300; ++i) {
    const std::string text = cases["texts"][i].get<std::string>();
    const auto a = fixture_bpe().encode(text);
    CHECK(a == fixture_bpe().encode(text));
    CHECK(a == uncached.encode(text));
    CHECK(a == evicting.encode(text));
  }
  // encode is const and may be called from several threads at once (the cache is locked).
  std::vector<std::vector<token_id>> from_threads(2);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < 2; ++t)
    threads.emplace_back([&, t] {
      for (std::size_t i = 0; i < 500; ++i) {
        const auto ids = evicting.encode(cases["texts"][i].get<std::string>());
        from_threads[t].insert(from_threads[t].end(), ids.begin(), ids.end());
      }
    });
  for (auto& th : threads) th.join();
  CHECK(from_threads[0] == from_threads[1]);
  CHECK(from_threads[0].size() > 5000);
  const byte_level_bpe copy = fixture_bpe();  // copies work and share nothing
  CHECK(copy.encode("copy me") == fixture_bpe().encode("copy me"));
}

TEST_CASE("decode rejects ids out of range, naming the id") {
  const auto& bpe = fixture_bpe();
  const auto n = static_cast<token_id>(bpe.vocab_size());
  for (token_id bad : {n, n + 7, token_id{-1}}) {
    const std::vector<token_id> ids{0, bad};
    CHECK_THROWS_AS(bpe.decode(ids), larimar::value_error);
    const std::string msg = message_of([&] { (void)bpe.decode(ids); });
    CHECK(msg.find("decode") != std::string::npos);
    CHECK(msg.find(std::to_string(bad)) != std::string::npos);
  }
  CHECK_THROWS_AS((void)bpe.id_to_token(n), larimar::value_error);
}

TEST_CASE("merges apply by rank on a hand-made vocabulary") {
  const std::string merges = "#version: 0.2\nl l\nh e\nhe ll\nhell o\n";
  const byte_level_bpe bpe(tiny_vocab_json(""), merges);
  CHECK(bpe.vocab_size() == 260);
  CHECK(bpe.merge_count() == 4);
  CHECK(bpe.encode("hello") == std::vector<token_id>{259});
  CHECK(bpe.encode("hell") == std::vector<token_id>{258});
  const auto hel = bpe.encode("hel");  // "he" merges; the lone "l" stays a byte symbol
  REQUIRE(hel.size() == 2);
  CHECK(hel[0] == 256);
  CHECK(bpe.id_to_token(hel[1]) == "l");
  const auto spaced = bpe.encode("hello hello");  // the space becomes U+0120 and starts the next piece
  REQUIRE(spaced.size() == 3);
  CHECK(bpe.id_to_token(spaced[1]) == "\xC4\xA0");  // "Ġ"
  CHECK(bpe.decode(spaced) == "hello hello");
  // The lower rank wins where merges compete for the same symbol: "ell" is "e"+"ll" or "el"+"l".
  const std::string with_el = tiny_vocab_json(",\n\"el\": 260");
  const byte_level_bpe ll_first(with_el, "l l\ne l\n"), el_first(with_el, "e l\nl l\n");
  const auto a = ll_first.encode("ell"), b = el_first.encode("ell");
  REQUIRE(a.size() == 2);
  REQUIRE(b.size() == 2);
  CHECK(ll_first.id_to_token(a[1]) == "ll");
  CHECK(el_first.id_to_token(b[0]) == "el");
  // Ties go to the leftmost pair: "lll" -> "ll" + "l".
  const auto lll = ll_first.encode("lll");
  REQUIRE(lll.size() == 2);
  CHECK(ll_first.id_to_token(lll[0]) == "ll");
}

TEST_CASE("loading: io_error names the path, format_error names file and line") {
  const auto missing = std::filesystem::path(LARIMAR_FIXTURE_DIR) / "tokenizer" / "no_such_vocab.json";
  CHECK_THROWS_AS(byte_level_bpe::from_files(missing, tokenizer_fixture("gpt2_merges.txt")), larimar::io_error);
  CHECK(message_of([&] { byte_level_bpe::from_files(missing, tokenizer_fixture("gpt2_merges.txt")); })
            .find("no_such_vocab.json") != std::string::npos);
  CHECK_THROWS_AS(byte_level_bpe::from_files(tokenizer_fixture("gpt2_vocab.json"), LARIMAR_FIXTURE_DIR),
                  larimar::io_error);

  struct bad_case {
    std::string vocab, merges, where;
  };
  const std::vector<bad_case> cases = {
      {"{\"a\": 0,\n\"b\" 1}", "", "vocab.json:2:"},                        // missing ':'
      {"{\"a\": 0,\n\"b\": -1}", "", "vocab.json:2:"},                      // negative id
      {"{\"a\": 0,\n\n\"b\": 1.5}", "", "vocab.json:3:"},                   // not an integer
      {"{\"a\": 0, \"b\": 0}", "", "vocab.json:1:"},                        // id used twice
      {"{\"a\": 0,\n \"a\": 1}", "", "vocab.json:2:"},                      // token twice
      {"{\"a\": 0,\n \"b\": 5}", "", "vocab.json:2:"},                      // ids not dense
      {"{\"a\": 0", "", "vocab.json:1:"},                                   // truncated
      {"[1, 2]", "", "vocab.json:1:"},                                      // not an object
      {"{\"a\\q\": 0}", "", "vocab.json:1:"},                               // bad escape
      {"{\"\xFF\": 0}", "", "vocab.json:1:"},                               // bad UTF-8
      {"{\"a\": 0}", "", "vocab.json"},                                     // not byte-level: bytes missing
      {tiny_vocab_json(""), "#version: 0.2\nh e\nh e e\n", "merges.txt:3:"},  // three tokens
      {tiny_vocab_json(""), "h e\nhe\n", "merges.txt:2:"},                  // one token
      {tiny_vocab_json(""), "h  e\n", "merges.txt:1:"},                     // two spaces
      {tiny_vocab_json(""), "\n\nhe zz\n", "merges.txt:3:"},                // unknown token
      {tiny_vocab_json(""), "h x\n", "merges.txt:1:"},                      // merged token unknown
  };
  for (const auto& c : cases) {
    CAPTURE(c.where);
    CHECK_THROWS_AS(byte_level_bpe(c.vocab, c.merges), larimar::format_error);
    const std::string msg = message_of([&] { byte_level_bpe(c.vocab, c.merges); });
    CHECK(msg.find(c.where) != std::string::npos);
  }
  byte_level_bpe::options opts;
  opts.special_tokens = std::vector<std::string>{"<|missing|>"};
  CHECK_THROWS_AS(byte_level_bpe(tiny_vocab_json(""), "", opts), larimar::value_error);
}

TEST_CASE("tokens with a NUL or invalid UTF-8 are quoted escaped in error messages") {
  // merges.txt naming the token "a\0b": the message once ended at the NUL ("... token 'a").
  const std::string msg = message_of([&] { byte_level_bpe(tiny_vocab_json(""), std::string("h a\0b\n", 6)); });
  CHECK(msg.find(R"(merges.txt:1: token 'a\0b' is not in the vocabulary)") != std::string::npos);
  // Invalid UTF-8 once went into the message raw.
  const std::string bad = message_of([&] { byte_level_bpe(tiny_vocab_json(""), "h \xff\xfe\n"); });
  CHECK(bad.find(R"(token '\xff\xfe' is not in the vocabulary)") != std::string::npos);
  CHECK(larimar::tokenizer::unicode::is_valid_utf8(bad));
  // vocab.json: a token with an escaped NUL, twice.
  const std::string twice =
      message_of([&] { byte_level_bpe(tiny_vocab_json(",\n\"x\\u0000y\": 260,\n\"x\\u0000y\": 261"), ""); });
  CHECK(twice.find(R"(token 'x\0y' appears twice)") != std::string::npos);
}

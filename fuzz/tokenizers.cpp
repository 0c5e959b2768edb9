// libFuzzer target for the tokenizers (built and run by scripts/fuzz.sh). The first byte picks what the rest is:
//   0  text for the GPT-2 byte-level BPE: decode(encode(x)) == x for any bytes, ids in range
//   1  text for the uncased BERT WordPiece, 2 for the cased one: ids in range, [CLS] ... [SEP], decode works
//   3  a vocab.json, a 0 byte, then a merges.txt: loading either succeeds or throws larimar::format_error
//   4  a vocab.txt: likewise
// Any other exception, a crash or a sanitizer report is a bug. The vocabularies are the test fixtures
// (test/fixtures/tokenizer, found from this file's path or LARIMAR_TOKENIZER_FIXTURES).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "larimar/tokenizer/byte_level_bpe.hpp"
#include "larimar/tokenizer/wordpiece.hpp"

namespace {

using namespace larimar::tokenizer;

struct fixtures {
  std::unique_ptr<byte_level_bpe> bpe;
  std::unique_ptr<wordpiece> uncased, cased;
};

fixtures& loaded() {
  static fixtures f = [] {
    std::filesystem::path dir = std::filesystem::path(__FILE__).parent_path().parent_path() / "test" / "fixtures" /
                                "tokenizer";
    if (const char* env = std::getenv("LARIMAR_TOKENIZER_FIXTURES")) dir = env;
    fixtures out;
    out.bpe = std::make_unique<byte_level_bpe>(
        byte_level_bpe::from_files(dir / "gpt2_vocab.json", dir / "gpt2_merges.txt"));
    out.uncased = std::make_unique<wordpiece>(wordpiece::from_file(dir / "bert_uncased_vocab.txt"));
    wordpiece::options cased_opts;
    cased_opts.lowercase = false;
    out.cased = std::make_unique<wordpiece>(wordpiece::from_file(dir / "bert_cased_vocab.txt", cased_opts));
    return out;
  }();
  return f;
}

void require(bool ok, const char* what) {
  if (!ok) {
    __builtin_printf("invariant violated: %s\n", what);
    std::abort();
  }
}

void check_bpe(const byte_level_bpe& bpe, std::string_view text) {
  for (const auto& ids : {bpe.encode(text), bpe.encode_with_special_tokens(text)}) {
    for (token_id id : ids) require(id >= 0 && static_cast<std::size_t>(id) < bpe.vocab_size(), "bpe id in range");
    require(bpe.decode(ids) == text, "bpe decode(encode(x)) == x");
  }
  require(bpe.encode(text) == bpe.encode(text), "bpe encode is deterministic (cache)");
}

void check_wordpiece(const wordpiece& w, std::string_view text) {
  const auto ids = w.encode_with_specials(text);
  require(ids.size() >= 2 && ids.front() == w.cls_id() && ids.back() == w.sep_id(), "[CLS] ... [SEP]");
  for (token_id id : ids) require(id >= 0 && static_cast<std::size_t>(id) < w.vocab_size(), "wordpiece id in range");
  require(unicode::is_valid_utf8(w.decode(ids)), "wordpiece decode is UTF-8");
  require(unicode::is_valid_utf8(w.normalize(text)), "normalize is UTF-8");
  const std::string repaired = unicode::repair_utf8(text);
  require(unicode::is_valid_utf8(repaired), "repair_utf8 gives UTF-8");
  require(unicode::is_valid_utf8(text) == (repaired == text), "repair_utf8 changes only ill-formed text");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  fixtures& f = loaded();
  switch (data[0] % 5) {
    case 0: check_bpe(*f.bpe, rest); break;
    case 1: check_wordpiece(*f.uncased, rest); break;
    case 2: check_wordpiece(*f.cased, rest); break;
    case 3: {
      const std::size_t split = rest.find('\0');
      const std::string_view vocab = rest.substr(0, split);
      const std::string_view merges = split == std::string_view::npos ? std::string_view{} : rest.substr(split + 1);
      try {
        byte_level_bpe::options opts;
        opts.special_tokens = std::vector<std::string>{};
        const byte_level_bpe bpe(vocab, merges, opts);
        check_bpe(bpe, "Hello world, it's 2024!\n\xC3\xA9\xFF");
      } catch (const larimar::format_error&) {
      }
      break;
    }
    default: {
      try {
        const wordpiece w(rest);
        check_wordpiece(w, "Hello, world! It's 2024. Caf\xC3\xA9 \xE4\xBD\xA0\xE5\xA5\xBD \xFF");
      } catch (const larimar::format_error&) {
      }
      break;
    }
  }
  return 0;
}

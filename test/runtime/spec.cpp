// The spec grammar of larimar/runtime: every word parses to its category, a resolved spec prints canonically and
// parses back to itself in any token order, the number formats land on the config, bad strings are refused with
// the word named.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "larimar/core/config.hpp"
#include "larimar/core/error.hpp"
#include "larimar/core/random.hpp"
#include "larimar/runtime/spec.hpp"

using namespace larimar;
using namespace larimar::runtime;

namespace {

// The message of the value_error a spec raises ("" when it parses and resolves).
std::string refusal(const std::string& text) {
  try {
    (void)resolved(parse_memory_spec(text));
  } catch (const value_error& e) {
    return e.what();
  }
  return "";
}

std::vector<std::string> words(const std::string& text) {
  std::vector<std::string> out;
  for (std::size_t start = 0; start <= text.size();) {
    const std::size_t end = std::min(text.find(',', start), text.size());
    out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

}  // namespace

TEST_CASE("every word of the tables parses to its own category and index") {
  for (std::size_t i = 0; i < layout_choices::size; ++i)
    CHECK(parse_memory_spec(std::string(layout_choices::names[i])).layout == i);
  for (std::size_t i = 0; i < solver_choices::size; ++i)
    CHECK(parse_memory_spec(std::string(solver_choices::names[i])).solver == i);
  for (std::size_t i = 0; i < storage_choices::size; ++i)
    CHECK(parse_memory_spec(std::string(storage_choices::names[i])).storage == i);
  for (std::size_t i = 0; i < key_choices::size; ++i) {
    const std::string k(key_choices::names[i]);
    const auto s = parse_memory_spec(k);
    CHECK(s.keys == i);
    CHECK(!s.lookup);
    CHECK(parse_memory_spec(k + "/prefix").lookup == pipeline::lookup_kind::prefix);
    CHECK(parse_memory_spec(k + "/full").lookup == pipeline::lookup_kind::full);
    CHECK(parse_memory_spec(k + "/tokens").lookup == pipeline::lookup_kind::tokens);
    CHECK(to_string(parse_memory_spec(k + "/tokens")) == k + "/tokens");
  }
  for (std::size_t i = 0; i < format_choices.size(); ++i) {
    const std::string f(format_choices[i].name);
    CHECK(parse_memory_spec("lookup=" + f).lookup_format == i);
    CHECK(!parse_memory_spec("lookup=" + f).memory_format);
    if (format_choices[i].quantized) continue;
    CHECK(parse_memory_spec("memory=" + f).memory_format == i);
    const auto both = parse_memory_spec(f);
    CHECK(both.lookup_format == i);
    CHECK(both.memory_format == i);
  }
  // The names of the tables, as documented.
  CHECK(layout_choices::list() == "plain, sharded");
  CHECK(key_choices::list() == "fixed_nearest, prefix_encoding, content, content_ridge");
  CHECK(solver_choices::list() == "pinv, iter3, iter15_safe");
  CHECK(storage_choices::list() == "host, device");
}

TEST_CASE("defaults: sharded, fixed_nearest, pinv, host; content keys default to the plain layout") {
  CHECK(to_string(resolved(parse_memory_spec(""))) == "sharded,fixed_nearest,pinv,host");
  CHECK(to_string(resolved(parse_memory_spec("device"))) == "sharded,fixed_nearest,pinv,device");
  CHECK(to_string(resolved(parse_memory_spec("content"))) == "plain,content,pinv,host");
  CHECK(to_string(resolved(parse_memory_spec(" iter3 , plain "))) == "plain,fixed_nearest,iter3,host");
  // Formats and lookups are not defaulted: the config and the pipeline options keep theirs.
  const auto s = resolved(parse_memory_spec("prefix_encoding"));
  CHECK(!s.lookup_format);
  CHECK(!s.memory_format);
  CHECK(!s.lookup);
}

TEST_CASE("a resolved spec prints canonically and parses back to itself, in any token order") {
  std::size_t checked = 0;
  for (std::size_t l = 0; l < layout_choices::size; ++l)
    for (std::size_t k = 0; k < key_choices::size; ++k)
      for (std::size_t v = 0; v < solver_choices::size; ++v)
        for (std::size_t st = 0; st < storage_choices::size; ++st)
          for (std::size_t lf = 0; lf < format_choices.size(); ++lf)
            for (std::size_t mf = 0; mf < format_choices.size(); ++mf) {
              if (format_choices[mf].quantized) continue;
              if (key_choices::plain_only[k] && layout_choices::names[l] != "plain") continue;
              memory_spec s;
              s.layout = l, s.keys = k, s.solver = v, s.storage = st, s.lookup_format = lf, s.memory_format = mf;
              if (lf == mf) s.lookup = pipeline::lookup_kind::full;  // the pipeline's form too, on some
              const std::string text = to_string(s);
              CAPTURE(text);
              CHECK(parse_memory_spec(text) == s);
              CHECK(resolved(s) == s);
              auto w = words(text);
              std::reverse(w.begin(), w.end());
              std::string reversed;
              for (const auto& x : w) reversed += (reversed.empty() ? "" : ",") + x;
              CHECK(parse_memory_spec(reversed) == s);
              ++checked;
            }
  CHECK(checked == (2 * 2 + 2) * 3 * 2 * 4 * 3);  // two plain-only content key policies
  // One word when lookup and memory agree, both otherwise.
  CHECK(to_string(parse_memory_spec("memory=fp16,lookup=fp16")) == "fp16");
  CHECK(to_string(parse_memory_spec("memory=bf16,lookup=int8")) == "lookup=int8,memory=bf16");
  CHECK(to_string(parse_memory_spec("device,content/full,plain,iter15_safe,memory=fp16")) ==
        "plain,content/full,iter15_safe,device,memory=fp16");
}

TEST_CASE("the number formats a spec names land on the config; the others stay") {
  memory_config cfg;
  cfg.memory_precision = precision::bf16;
  apply(parse_memory_spec("lookup=int8"), cfg);
  CHECK(cfg.quantized_lookup);
  CHECK(cfg.lookup_precision == precision::full);
  CHECK(cfg.memory_precision == precision::bf16);
  CHECK(to_string(formats_of(cfg)) == "lookup=int8,memory=bf16");
  apply(parse_memory_spec("fp16"), cfg);
  CHECK(!cfg.quantized_lookup);
  CHECK(cfg.lookup_precision == precision::fp16);
  CHECK(cfg.memory_precision == precision::fp16);
  CHECK(to_string(formats_of(cfg)) == "fp16");
  CHECK(to_string(formats_of(memory_config{})) == "fp32");
}

TEST_CASE("bad specs are refused with the word named") {
  const std::pair<const char*, const char*> cases[] = {
      {"sharded,magic", "unknown token 'magic'"},
      {"sharded,magic", "solver pinv|iter3|iter15_safe; storage host|device"},  // the vocabulary is listed
      {"iter7", "unknown token 'iter7'"},
      {"plain,sharded", "the layout is given twice, as 'plain' and 'sharded'"},
      {"host,device", "the storage is given twice, as 'host' and 'device'"},
      {"pinv,iter3", "the solver is given twice, as 'pinv' and 'iter3'"},
      {"content,prefix_encoding", "the key policy is given twice, as 'content' and 'prefix_encoding'"},
      {"fp16,lookup=bf16", "the lookup precision is given twice, as 'fp16' and 'bf16'"},
      {"int8", "'int8' is a lookup precision only: write lookup=int8"},
      {"memory=int8", "'int8' is a lookup precision only"},
      {"lookup=fp64", "unknown precision 'fp64'"},
      {"colour=red", "unknown token 'colour=red'"},
      {"fixed_nearest/diagonal", "unknown lookup 'diagonal' in 'fixed_nearest/diagonal' (prefix, full, tokens)"},
      {"device/full", "follows a key policy only, not 'device/full'"},
      {"host,,pinv", "an empty token"},
      {"host,", "an empty token"},
      {"sharded,content", "memory spec 'sharded,content': content keys need the plain layout"},
      {"Sharded", "unknown token 'Sharded'"},  // words are lower case
  };
  for (const auto& [spec, problem] : cases) {
    CAPTURE(spec);
    const std::string why = refusal(spec);
    CHECK_MESSAGE(why.find(problem) != std::string::npos, why);
    CHECK(why.rfind("memory spec '" + std::string(spec) + "'", 0) == 0);  // the message quotes the spec first
  }
  CHECK(refusal("host,host") == "");  // the same word twice says nothing new
}

TEST_CASE("random strings of the vocabulary's words and characters: parsed and printed back, or refused") {
  // Words of every category, broken words and separators, drawn at random: each string either parses (and then
  // prints to a spec that parses to the same) or is a value_error; nothing else escapes.
  const std::vector<std::string> pieces = {"plain", "sharded", "fixed_nearest", "prefix_encoding", "content", "pinv",
                                           "iter3", "iter15_safe", "host", "device", "fp32", "fp16", "bf16", "int8",
                                           "lookup=", "memory=", "/prefix", "/full", "/", "=", ",", ",", " ", "x",
                                           "fp", "iter", ""};
  splitmix64 rng(2024);
  std::size_t parsed = 0, refused = 0;
  for (int trial = 0; trial < 20000; ++trial) {
    std::string text;
    for (std::size_t n = rng.next() % 7; n > 0; --n) text += pieces[rng.next() % pieces.size()];
    CAPTURE(text);
    try {
      const auto s = parse_memory_spec(text);
      ++parsed;
      REQUIRE(parse_memory_spec(to_string(s)) == s);
    } catch (const value_error&) {
      ++refused;
    }
  }
  CHECK(parsed > 1000);  // both outcomes are exercised
  CHECK(refused > 1000);
}

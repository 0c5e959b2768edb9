// RULER's NIAH generators against the published task definitions (needle template, key/value types, counts,
// depths, string_match_all), and the context stream that places the needles inside running text.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "larimar/eval/ruler.hpp"
#include "larimar/pipeline/sentences.hpp"
#include "temp_path.hpp"

using namespace larimar;
using namespace larimar::eval;

namespace {

// One token per byte: budgets and lengths in characters, decode the inverse of encode.
struct byte_tokenizer {
  std::vector<model::token_id> encode(std::string_view s) const { return {s.begin(), s.end()}; }
  std::string decode(std::span<const model::token_id> ids) const {
    std::string s;
    for (auto i : ids) s.push_back(static_cast<char>(i));
    return s;
  }
};

// Hand-written shape checks (std::regex trips GCC 12's -Wmaybe-uninitialized under the sanitizers' flags).
bool hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }
bool lower(char c) { return c >= 'a' && c <= 'z'; }
bool digit(char c) { return c >= '0' && c <= '9'; }

// xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx, lower-case hex.
bool is_uuid(const std::string& s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < 36; ++i)
    if ((i == 8 || i == 13 || i == 18 || i == 23) ? s[i] != '-' : !hex(s[i])) return false;
  return (s[14] == '4' && std::string_view("89ab").find(s[19]) != std::string_view::npos);
}

bool matches(const std::string& s, ruler_type t) {
  if (t == ruler_type::uuids) return is_uuid(s);
  if (t == ruler_type::numbers)
    return s.size() == 7 && s[0] != '0' && std::all_of(s.begin(), s.end(), digit);
  const auto dash = s.find('-');
  return dash != std::string::npos && dash > 0 && dash + 1 < s.size() &&
         std::all_of(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(dash), lower) &&
         std::all_of(s.begin() + static_cast<std::ptrdiff_t>(dash) + 1, s.end(), lower);
}

// "One of the special magic uuids for <uuid-shaped> is: <uuid-shaped>."
bool is_uuid_needle_line(const std::string& s) {
  const std::string head = "One of the special magic uuids for ", mid = " is: ";
  if (s.size() != head.size() + 36 + mid.size() + 36 + 1 || s.compare(0, head.size(), head) != 0) return false;
  const auto shaped = [](const std::string& u) {
    return std::all_of(u.begin(), u.end(), [](char c) { return hex(c) || c == '-'; });
  };
  return shaped(s.substr(head.size(), 36)) && s.compare(head.size() + 36, mid.size(), mid) == 0 &&
         shaped(s.substr(head.size() + 36 + mid.size(), 36)) && s.back() == '.';
}

std::vector<pipeline::segment> all_segments(auto& stream) {
  std::vector<pipeline::segment> out;
  while (auto s = stream.next()) out.push_back(std::move(*s));
  return out;
}

std::string joined(const std::vector<pipeline::segment>& segs) {
  std::string all;
  for (const auto& s : segs) all += (all.empty() ? "" : " ") + s.text;
  return all;
}

}  // namespace

TEST_CASE("ruler: the eight NIAH tasks as RULER's synthetic.yaml defines them") {
  struct row {
    const char* name;
    ruler_haystack hay;
    ruler_type key, value;
    std::size_t k, v, q;
  };
  // Written from the published definitions, not from our table.
  const row expected[] = {
      {"single_1", ruler_haystack::noise, ruler_type::words, ruler_type::numbers, 1, 1, 1},
      {"single_2", ruler_haystack::essay, ruler_type::words, ruler_type::numbers, 1, 1, 1},
      {"single_3", ruler_haystack::essay, ruler_type::words, ruler_type::uuids, 1, 1, 1},
      {"multikey_1", ruler_haystack::essay, ruler_type::words, ruler_type::numbers, 4, 1, 1},
      {"multikey_2", ruler_haystack::needle, ruler_type::words, ruler_type::numbers, 1, 1, 1},
      {"multikey_3", ruler_haystack::needle, ruler_type::uuids, ruler_type::uuids, 1, 1, 1},
      {"multivalue", ruler_haystack::essay, ruler_type::words, ruler_type::numbers, 1, 4, 1},
      {"multiquery", ruler_haystack::essay, ruler_type::words, ruler_type::numbers, 4, 1, 4},
  };
  for (const auto& e : expected) {
    const auto& t = ruler_task(e.name);
    CHECK(t.haystack == e.hay);
    CHECK(t.key == e.key);
    CHECK(t.value == e.value);
    CHECK(t.keys == e.k);
    CHECK(t.values == e.v);
    CHECK(t.queries == e.q);
  }
  CHECK_THROWS_WITH_AS(ruler_task("single_4"), doctest::Contains("unknown RULER task 'single_4'"), value_error);
  CHECK_THROWS_WITH_AS(ruler_task("x"), doctest::Contains("multiquery"), value_error);
}

TEST_CASE("ruler: the needle template and the query prefix") {
  CHECK(ruler_needle_text(ruler_type::numbers, "amused-hook", "5479144") ==
        "One of the special magic numbers for amused-hook is: 5479144.");
  CHECK(ruler_needle_text(ruler_type::uuids, "calm-owl", "0b7c3d2e-1f4a-4b6c-9d8e-7f6a5b4c3d2e") ==
        "One of the special magic uuids for calm-owl is: 0b7c3d2e-1f4a-4b6c-9d8e-7f6a5b4c3d2e.");
  CHECK(ruler_query_prefix(ruler_type::numbers, "amused-hook") == "One of the special magic numbers for amused-hook is:");
}

TEST_CASE("ruler: samples carry the counts, types, answers and depths of their task") {
  for (const auto& spec : ruler_tasks) {
    for (std::uint64_t seed = 0; seed < 20; ++seed) {
      const auto s = make_ruler_sample(spec, seed);
      REQUIRE(s.needles.size() == spec.keys * spec.values);
      REQUIRE(s.queries.size() == spec.queries);
      std::set<std::string> keys;
      for (const auto& n : s.needles) {
        CHECK(matches(n.key, spec.key));
        CHECK(matches(n.value, spec.value));
        CHECK(n.text == ruler_needle_text(spec.value, n.key, n.value));
        keys.insert(n.key);
      }
      CHECK(keys.size() == spec.keys);  // distinct keys; multivalue: one key, four values
      for (std::size_t q = 0; q < s.queries.size(); ++q) {
        CHECK(s.query_prefixes[q] == ruler_query_prefix(spec.value, s.queries[q]));
        REQUIRE(s.answers[q].size() == spec.values);
        for (const auto& a : s.answers[q])  // every answer is the value of a needle with the queried key
          CHECK(std::any_of(s.needles.begin(), s.needles.end(),
                            [&](const auto& n) { return n.key == s.queries[q] && n.value == a; }));
      }
      std::set<std::string> asked(s.queries.begin(), s.queries.end());
      CHECK(asked.size() == s.queries.size());  // queries without replacement
      for (std::size_t i = 1; i < s.needles.size(); ++i) CHECK(s.needles[i - 1].depth <= s.needles[i].depth);
      if (spec.haystack == ruler_haystack::essay) {
        std::set<double> depths;
        for (const auto& n : s.needles) {  // on RULER's grid of 40 depths, 0..100%, without replacement
          const double pct = n.depth * 100;
          bool on_grid = false;
          for (int i = 0; i < 40; ++i) on_grid |= std::abs(pct - std::round(100.0 * i / 39.0)) < 1e-9;
          CHECK(on_grid);
          depths.insert(n.depth);
        }
        CHECK(depths.size() == s.needles.size());
      }
    }
  }
  // Seeded: the same seed gives the same sample, another seed another one.
  const auto& mv = ruler_task("multivalue");
  CHECK(make_ruler_sample(mv, 7).needles[0].text == make_ruler_sample(mv, 7).needles[0].text);
  CHECK(make_ruler_sample(mv, 7).answers == make_ruler_sample(mv, 7).answers);
  CHECK(make_ruler_sample(mv, 7).answers != make_ruler_sample(mv, 8).answers);
}

TEST_CASE("ruler: string_match_all scores the share of references found, case-insensitively") {
  CHECK(string_match_all("The values are 1234567 and 7654321.", {"1234567", "7654321"}) == 1.0);
  CHECK(string_match_all("The value is 1234567.", {"1234567", "7654321"}) == 0.5);
  CHECK(string_match_all("nothing here", {"1234567"}) == 0.0);
  CHECK(string_match_all("UUID 0B7C3D2E-1F4A-4B6C-9D8E-7F6A5B4C3D2E", {"0b7c3d2e-1f4a-4b6c-9d8e-7f6a5b4c3d2e"}) == 1.0);
  CHECK_THROWS_AS(string_match_all("x", {}), value_error);
}

TEST_CASE("ruler: the stream puts every needle into running text at its depth") {
  const byte_tokenizer tok;
  SUBCASE("noise haystack") {
    const auto s = make_ruler_sample(ruler_task("single_1"), 3);
    ruler_stream stream(s, ruler_noise(), tok, 200, 20'000);
    const auto segs = all_segments(stream);
    const auto all = joined(segs);
    CHECK(stream.tokens() >= 20'000 - 200);
    CHECK(stream.tokens() <= 20'000 + 200);
    const auto at = all.find(s.needles[0].text);
    REQUIRE(at != std::string::npos);
    CHECK(all.find(s.needles[0].text, at + 1) == std::string::npos);
    // at its depth, within a sentence or two
    CHECK(std::abs(static_cast<double>(at) - s.needles[0].depth * static_cast<double>(all.size())) < 250);
    std::size_t flagged = 0;
    for (const auto& g : segs) flagged += g.needle;
    CHECK(flagged == 1);
  }
  SUBCASE("essay haystack: needles share segments with prose, in depth order") {
    const auto dir = larimar::test::temp_path("ruler-test");
    std::filesystem::create_directories(dir);
    const auto file = dir / "essay.txt";
    {
      std::ofstream out(file);
      for (int p = 0; p < 30; ++p)
        out << "Paragraph " << p << " begins here. It says a little more about the topic at hand.\n"
            << "Then it ends with one more line of plain prose.\n\n";
    }
    std::size_t inside = 0;
    for (std::uint64_t seed = 0; seed < 8; ++seed) {
      const auto s = make_ruler_sample(ruler_task("multikey_1"), seed);
      ruler_stream stream(s, pipeline::text_file_source({file}, seed), tok, 300, 30'000);
      const auto segs = all_segments(stream);
      const auto all = joined(segs);
      std::size_t last = 0;
      for (const auto& n : s.needles) {
        const auto at = all.find(n.text);
        REQUIRE(at != std::string::npos);
        CHECK(at >= last);
        last = at;
      }
      for (const auto& g : segs)
        if (g.needle && g.text.rfind("One of the special magic", 0) != 0) ++inside;
    }
    CHECK(inside > 0);  // a needle after other text in its segment: what prefix-only lookup misses
    // With every sentence starting a segment, each needle is a segment of its own, flagged, in the same place.
    for (std::uint64_t seed = 0; seed < 8; ++seed) {
      const auto s = make_ruler_sample(ruler_task("multikey_1"), seed);
      ruler_stream greedy(s, pipeline::text_file_source({file}, seed), tok, 300, 30'000);
      ruler_stream starts(s, pipeline::text_file_source({file}, seed), tok, 300, 30'000,
                          pipeline::segment_packing::sentence_start);
      const auto a = all_segments(greedy), b = all_segments(starts);
      CHECK(b.size() > a.size());
      std::size_t flagged = 0;
      for (const auto& g : b)
        if (g.needle) {
          ++flagged;
          CHECK(g.text.rfind("One of the special magic", 0) == 0);
        }
      CHECK(flagged == s.needles.size());
      for (const auto& n : s.needles) CHECK(joined(b).find(n.text) != std::string::npos);
    }
    std::filesystem::remove_all(dir);
  }
  SUBCASE("needle haystack: every line is needle-shaped, the keys random") {
    const auto& spec = ruler_task("multikey_3");
    const auto s = make_ruler_sample(spec, 5);
    ruler_stream stream(s, needle_haystack_source(s), tok, 400, 8'000);
    const auto segs = all_segments(stream);
    std::size_t needles = 0, with_key = 0;
    for (const auto& seg : segs)
      for (const auto& u : pipeline::split_sentences(seg.text)) {
        if (u.paragraph_break) continue;
        CHECK(is_uuid_needle_line(u.text));
        ++needles;
        with_key += u.text.find(s.queries[0]) != std::string::npos;
      }
    CHECK(needles > 50);
    CHECK(with_key == 1);  // the distractors never use the queried key
  }
  SUBCASE("needle haystack of word keys: a distractor never takes a key of the sample's needles") {
    // 10,000 adjective-noun keys: 100,000 free draws repeat a given key about ten times.
    const auto& spec = ruler_task("multikey_2");
    const auto s = make_ruler_sample(spec, 3);
    REQUIRE(s.needles.size() == 1);
    const std::string key = " for " + s.needles[0].key + " is:";
    needle_haystack_source free(spec, s.seed), own(s);
    std::size_t free_hits = 0, own_hits = 0;
    for (int i = 0; i < 100'000; ++i) {
      free_hits += free.next()->text.find(key) != std::string::npos;
      own_hits += own.next()->text.find(key) != std::string::npos;
    }
    CHECK(free_hits > 0);
    CHECK(own_hits == 0);
  }
  CHECK_THROWS_AS(ruler_stream(make_ruler_sample(ruler_task("single_1"), 1), ruler_noise(), tok, 100, 0), value_error);
}

TEST_CASE("ruler: a needle longer than the segment budget is held by the segment it begins in") {
  const auto s = make_ruler_sample(ruler_task("multikey_3"), 2);  // uuid keys and values: 113 characters
  const auto& n = s.needles[0];
  const std::size_t up_to_value = n.text.rfind(n.value);
  REQUIRE(up_to_value == ruler_query_prefix(ruler_type::uuids, n.key).size() + 1);
  CHECK(holds_needle_start(n.text, n));
  CHECK(holds_needle_start("It rained. " + n.text + " Then it stopped.", n));
  CHECK(holds_needle_start("It rained. " + n.text.substr(0, up_to_value + 5), n));  // cut inside the value
  CHECK(holds_needle_start(n.text.substr(0, up_to_value), n));                      // cut at the value
  const std::size_t key_at = n.text.find(n.key);
  CHECK(holds_needle_start(n.text.substr(0, key_at + 12), n));   // a uuid key longer than a segment: 12 characters
  CHECK(!holds_needle_start(n.text.substr(0, key_at + 11), n));  // the key cut shorter
  // A key of 12 characters or fewer (RULER's words) is needed whole, with " is:": the value is where the query ends.
  const auto w = make_ruler_sample(ruler_task("single_1"), 2).needles[0];
  REQUIRE(w.key.size() <= 12);
  const std::size_t w_value = w.text.rfind(w.value);
  CHECK(holds_needle_start(w.text.substr(0, w_value), w));
  CHECK(!holds_needle_start(w.text.substr(0, w_value - 3), w));
  CHECK(!holds_needle_start(w.text.substr(0, w.text.find(w.key) + w.key.size() - 1), w));
  CHECK(!holds_needle_start(n.text.substr(0, up_to_value + 5) + " and more.", n));  // not the needle's text after
  CHECK(!holds_needle_start("It rained.", n));
  // In a stream of 100-token (here: character) segments each needle is cut in two; the piece it begins in is the
  // one flagged, and the next carries the rest.
  const byte_tokenizer tok;
  ruler_stream stream(s, ruler_noise(), tok, 100, 6'000, pipeline::segment_packing::sentence_start);
  const auto segs = all_segments(stream);
  for (const auto& needle : s.needles) {
    std::size_t flagged = 0;
    for (std::size_t i = 0; i + 1 < segs.size(); ++i)
      if (segs[i].needle && holds_needle_start(segs[i].text, needle)) {
        ++flagged;
        CHECK(segs[i].text.find(needle.text) == std::string::npos);
        CHECK(needle.text.find(segs[i + 1].text) != std::string::npos);  // the rest of it
      }
    CHECK(flagged == 1);
  }
}

// Sentences, segments and seeded tasks (include/larimar/pipeline/{sentences,segmenter,tasks}.hpp), with the
// shipped model's BPE tokenizer.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "larimar/pipeline/segmenter.hpp"
#include "larimar/pipeline/sentences.hpp"
#include "larimar/pipeline/tasks.hpp"
#include "larimar/tokenizer/byte_level_bpe.hpp"
#include "temp_path.hpp"

using namespace larimar;
using namespace larimar::pipeline;

namespace {

const tokenizer::byte_level_bpe& bpe() {
  static const auto t = tokenizer::byte_level_bpe::from_files(std::filesystem::path(LARIMAR_MODEL_DIR) / "vocab.json",
                                                              std::filesystem::path(LARIMAR_MODEL_DIR) / "merges.txt");
  return t;
}

std::vector<std::string> texts(const std::vector<text_unit>& units) {
  std::vector<std::string> out;
  for (const auto& u : units) out.push_back(u.paragraph_break ? "<P>" : u.text);
  return out;
}

struct temp_file {
  std::filesystem::path path;
  explicit temp_file(const std::string& name, const std::string& content)
      : path(larimar::test::temp_path(name)) {
    std::ofstream(path, std::ios::binary) << content;
  }
  ~temp_file() { std::filesystem::remove(path); }
};

std::vector<segment> drain(context_stream<tokenizer::byte_level_bpe>& s) {
  std::vector<segment> out;
  while (auto seg = s.next()) out.push_back(std::move(*seg));
  return out;
}

}  // namespace

TEST_CASE("sentences: terminators, closers, whitespace and paragraph breaks") {
  const auto u = split_sentences("Hello   world. How are\tyou?  Fine!\nA \"quoted.\" one\n\n%\nNext para\nends here\n"
                                 "Pi is 3.14 today. Done");
  CHECK(texts(u) == std::vector<std::string>{"Hello world.", "How are you?", "Fine!", "A \"quoted.\"", "one", "<P>",
                                             "Next para ends here Pi is 3.14 today.", "Done"});
  CHECK(split_sentences("").empty());
  CHECK(split_sentences("%\n\n   \n%").empty());
}

TEST_CASE("sentence_end and ends_sentence: the rule of step 3, on an answer's text") {
  CHECK(sentence_end("It rained. Then it stopped.") == 10);
  CHECK(sentence_end("He said \"stop.\" Then left.") == 15);  // the closing quote belongs to the sentence
  CHECK(sentence_end("pi is 3.14 exactly") == std::string_view::npos);
  CHECK(sentence_end("settings (e.g. csv's limit)") == 14);  // "e.g." ends one, as the splitter says
  CHECK(sentence_end("Really?") == 7);
  CHECK(sentence_end("") == std::string_view::npos);
  CHECK(ends_sentence("It rained. "));
  CHECK(ends_sentence("(It rained.)"));
  CHECK(!ends_sentence("It rained"));
  CHECK(!ends_sentence(""));
  CHECK(!ends_sentence("   "));
}

TEST_CASE("segmenter: greedy packing under the budget, paragraph breaks, over-long sentences cut") {
  const std::string text =
      "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.\n\n"
      "A short one. " + std::string(40, 'x') + " " + std::string(60, 'y') + " end.\nTail.";
  for (const std::size_t budget : {4u, 8u, 16u, 32u}) {
    CAPTURE(budget);
    const auto segs = segment_text(bpe(), text, budget);
    REQUIRE(!segs.empty());
    std::size_t total = 0;
    for (const auto& s : segs) {
      CHECK(s.ids.size() <= budget);
      CHECK(!s.ids.empty());
      CHECK(!s.needle);
      total += s.ids.size();
    }
    // A paragraph break ends a segment: no segment spans "again." and "A short one."
    for (const auto& s : segs) CHECK(s.text.find("again. A short") == std::string::npos);
    // Packed segments are the tokenization of their text; cut pieces re-join to the sentence's ids.
    std::size_t packed = 0;
    for (const auto& s : segs)
      if (bpe().encode(s.text) == s.ids) ++packed;
    CHECK(packed + 3 >= segs.size());
    CHECK(total >= bpe().encode(text).size() - 12);  // only whitespace/break tokens are dropped
  }
  const auto s32 = segment_text(bpe(), text, 32);
  CHECK(s32.front().text == "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.");
  // Budget 4: "The grass is green." has 5 tokens ("The", " grass", " is", " green", ".") and is cut into 4 + 1.
  const auto s4 = segment_text(bpe(), "The grass is green.", 4);
  REQUIRE(s4.size() == 2);
  CHECK(s4[0].ids.size() == 4);
  CHECK(s4[0].text + s4[1].text == "The grass is green.");
  CHECK_THROWS_AS(segmenter<tokenizer::byte_level_bpe>(bpe(), 0), value_error);
}

TEST_CASE("segmenter: the pieces of a cut sentence overlap by the asked tokens, and are counted once") {
  const std::string sentence =
      "The spare key for the old garden shed sits under the third blue flower pot beside the gate, and the code of "
      "the padlock is 4471 for the left door and 9902 for the right one.";
  const auto whole = bpe().encode(sentence);
  REQUIRE(whole.size() > 30);
  for (const std::size_t budget : {8u, 12u, 24u})
    for (const std::size_t overlap : {0u, 1u, 3u, 7u}) {
      if (overlap >= budget) continue;
      CAPTURE(budget);
      CAPTURE(overlap);
      const segmenting how{budget, segment_packing::greedy, overlap};
      const auto segs = segment_text(bpe(), sentence, how);
      REQUIRE(segs.size() == piece_count(whole.size(), how));
      CHECK(segs.front().overlap == 0);
      std::vector<token_id> joined = segs.front().ids;
      for (std::size_t i = 1; i < segs.size(); ++i) {
        const auto& prev = segs[i - 1].ids;
        CHECK(segs[i].overlap == overlap);
        CHECK(segs[i].ids.size() <= budget);
        CHECK(segs[i].ids.size() > overlap);  // every piece says something new
        // it begins with the last `overlap` ids of the piece before, then goes on where that piece stopped
        CHECK(std::equal(prev.end() - static_cast<std::ptrdiff_t>(overlap), prev.end(), segs[i].ids.begin()));
        joined.insert(joined.end(), segs[i].ids.begin() + static_cast<std::ptrdiff_t>(overlap), segs[i].ids.end());
      }
      CHECK(joined == whole);
      for (std::size_t i = 0; i + 1 < segs.size(); ++i) CHECK(segs[i].ids.size() == budget);  // full but the last
      segmenter<tokenizer::byte_level_bpe> seg(bpe(), how);
      seg.add_sentence(sentence);
      seg.flush();
      CHECK(seg.tokens() == whole.size());  // the text's tokens, each once
    }
  // By hand: 10 tokens in pieces of 4 repeating 1 -> [0,4) [3,7) [6,10): three; of 4 repeating 2 -> [0,4) [2,6) [4,8)
  // [6,10): four; a run within the budget is one piece.
  CHECK(piece_count(10, {4, segment_packing::greedy, 1}) == 3);
  CHECK(piece_count(10, {4, segment_packing::greedy, 2}) == 4);
  CHECK(piece_count(4, {4, segment_packing::greedy, 3}) == 1);
  CHECK(piece_count(11, {4, segment_packing::greedy, 0}) == 3);
  // Sentences within the budget are packed as before: no overlap between whole sentences.
  for (const auto& s : segment_text(bpe(), "The grass is green. The sky is blue.", segmenting{24, segment_packing::greedy, 3}))
    CHECK(s.overlap == 0);
  CHECK_THROWS_WITH_AS(segmenter<tokenizer::byte_level_bpe>(bpe(), segmenting{8, segment_packing::greedy, 8}),
                       doctest::Contains("overlap of cut pieces (8 tokens) must be less than the segment budget (8)"),
                       value_error);
}

TEST_CASE("segmenter: sentence_start packing gives every sentence a segment of its own") {
  const std::string text = "The grass is green. The sky is blue. The sun is yellow.\n\nA short one. " +
                           std::string(40, 'x') + " end.";
  const auto greedy = segment_text(bpe(), text, 32);
  const auto starts = segment_text(bpe(), text, 32, segment_packing::sentence_start);
  CHECK(greedy.size() < starts.size());
  const auto units = split_sentences(text);
  std::vector<std::string> want;
  for (const auto& u : units)
    if (!u.paragraph_break) want.push_back(u.text);
  // Each sentence that fits the budget is one segment, exactly its tokenization; "A short one." stays alone.
  REQUIRE(starts.size() >= want.size());
  std::size_t w = 0;
  for (const auto& s : starts) {
    CHECK(s.ids.size() <= 32);
    if (w < want.size() && s.text == want[w]) {
      CHECK(s.ids == bpe().encode(want[w]));
      ++w;
    }
  }
  CHECK(w + 1 == want.size());  // all but the over-long one, which is cut into pieces of the budget
  std::string pieces;
  for (const auto& s : starts)
    if (s.text.find("xxxx") != std::string::npos || s.text.find("end.") != std::string::npos) pieces += s.text;
  CHECK(pieces == want.back());
  CHECK(segmenter<tokenizer::byte_level_bpe>(bpe(), 8, segment_packing::sentence_start).packing() ==
        segment_packing::sentence_start);
  CHECK(std::string(to_string(segment_packing::greedy)) == "greedy");
}

TEST_CASE("segmenter: sentence_keys packing keeps greedy's segments and names each sentence start inside them") {
  const std::string text = "The grass is green. The sky is blue. The sun is yellow.\n\nA short one. Two more words.";
  const auto greedy = segment_text(bpe(), text, 32);
  const auto keyed = segment_text(bpe(), text, 32, segment_packing::sentence_keys);
  REQUIRE(keyed.size() == greedy.size());
  REQUIRE(keyed.size() == 2);
  for (std::size_t i = 0; i < keyed.size(); ++i) {
    CHECK(keyed[i].text == greedy[i].text);
    CHECK(keyed[i].ids == greedy[i].ids);
    CHECK(greedy[i].keys.empty());
  }
  // The sentences after each segment's first: where they begin in its ids, and their own tokenization.
  const std::vector<std::vector<std::string>> after{{"The sky is blue.", "The sun is yellow."}, {"Two more words."}};
  for (std::size_t i = 0; i < keyed.size(); ++i) {
    REQUIRE(keyed[i].keys.size() == after[i].size());
    for (std::size_t j = 0; j < after[i].size(); ++j) {
      const auto& k = keyed[i].keys[j];
      CHECK(k.ids == bpe().encode(after[i][j]));
      const auto rest = std::vector<model::token_id>(keyed[i].ids.begin() + static_cast<std::ptrdiff_t>(k.offset),
                                                     keyed[i].ids.end());
      CHECK(bpe().decode(rest).rfind(" " + after[i][j], 0) == 0);
    }
  }
  CHECK(parse_segment_packing("sentence_keys") == segment_packing::sentence_keys);
  for (const auto p : all_segment_packings) CHECK(parse_segment_packing(to_string(p)) == p);
  CHECK_THROWS_WITH_AS(parse_segment_packing("magic"),
                       doctest::Contains("'magic' is none of greedy, sentence_start, sentence_keys"), value_error);
}

TEST_CASE("tasks: seeded passkeys with the asked number of digits") {
  std::set<std::string> keys;
  for (std::uint64_t seed = 0; seed < 50; ++seed)
    for (const std::size_t d : {3u, 4u, 5u}) {
      const auto t = passkey_task(d, 4096, 0.5, seed);
      CHECK(t.answer.size() == d);
      CHECK(t.answer.front() != '0');
      CHECK(t.needle == "The pass key is " + t.answer + ". Remember it. " + t.answer + " is the pass key.");
      CHECK(t.query == "The pass key is");
      CHECK(passkey_task(d, 4096, 0.5, seed).answer == t.answer);  // reproducible
      if (d == 5) keys.insert(t.answer);
    }
  CHECK(keys.size() >= 48);  // 50 seeds, 90,000 five-digit keys
  CHECK_THROWS_AS(passkey_task(3, 4096, 1.5, 0), value_error);
  CHECK_THROWS_AS(passkey_task(0, 4096, 0.5, 0), value_error);
}

TEST_CASE("tasks: the passkey context has the asked length and the needle at the asked depth") {
  for (const std::size_t len : {4096u, 32768u})
    for (const double depth : {0.0, 0.25, 0.5, 0.75, 1.0}) {
      CAPTURE(len);
      CAPTURE(depth);
      const auto task = passkey_task(4, len, depth, 3);
      context_stream<tokenizer::byte_level_bpe> cs(task, bpe(), 32);
      const auto segs = drain(cs);
      std::size_t tokens = 0, needles = 0, before = 0;
      for (const auto& s : segs) {
        if (s.needle) {
          ++needles;
          before = tokens;
          CHECK(s.text == task.needle);
          CHECK(s.ids == bpe().encode(task.needle));
        }
        tokens += s.ids.size();
      }
      CHECK(needles == 1);
      CHECK(tokens == cs.tokens());
      CHECK(tokens >= len);
      CHECK(tokens <= len + 32);
      REQUIRE(cs.needle_offset());
      CHECK(*cs.needle_offset() == before);
      CHECK(std::abs(cs.actual_depth() - depth) <= 32.0 / static_cast<double>(len));
      if (depth == 0.0) CHECK(segs.front().needle);
      if (depth == 1.0) CHECK(segs.back().needle);
    }
}

TEST_CASE("tasks: needle in a haystack of text files; answers; bad input") {
  const temp_file hay("larimar-test-hay.txt",
                      "First paragraph one. It has two sentences.\n%\nSecond paragraph, quite short.\n\n"
                      "Third: the last one here! Really.\n");
  const temp_file empty("larimar-test-empty.txt", "");
  const temp_file blank("larimar-test-blank.txt", "%\n\n  \n%\n");

  const auto t = needle_task({hay.path}, std::string(sf_needle), std::string(sf_query), 2000, 0.4, 11);
  CHECK(t.answer == "eat a sandwich and sit in Dolores Park on a sunny day.");
  CHECK(bpe().encode(t.needle).size() == 35);  // larimar-tiny's 2,048-token BPE
  context_stream<tokenizer::byte_level_bpe> cs(t, bpe(), 40);
  const auto segs = drain(cs);
  std::size_t needles = 0;
  for (const auto& s : segs) needles += s.needle;
  CHECK(needles == 1);
  CHECK(cs.tokens() >= 2000);
  CHECK(std::abs(cs.actual_depth() - 0.4) <= 0.02);

  // The seed picks the starting paragraph of the cycled haystack.
  std::set<std::size_t> starts;
  for (std::uint64_t seed = 0; seed < 16; ++seed) starts.insert(text_file_source({hay.path}, seed).start_paragraph());
  CHECK(starts == std::set<std::size_t>{0, 1, 2});

  CHECK(is_correct(t, " eat a sandwich and sit in Dolores Park on a sunny day. And more"));
  CHECK(is_correct(t, "eat  a sandwich and sit in Dolores Park on a sunny day."));
  CHECK_FALSE(is_correct(t, " eat a sandwich in Dolores Park."));
  const auto p = passkey_task(3, 4096, 0.5, 1);
  CHECK(is_correct(p, " " + p.answer + ". Remember it."));
  CHECK_FALSE(is_correct(p, " 1" + p.answer + "."));
  CHECK_FALSE(is_correct(p, " the pass key."));

  CHECK_THROWS_WITH_AS(text_file_source({empty.path}), doctest::Contains("has no text"), value_error);
  CHECK_THROWS_WITH_AS(text_file_source({blank.path}), doctest::Contains("has no text"), value_error);
  CHECK_THROWS_WITH_AS(text_file_source({"/nonexistent/haystack.txt"}), doctest::Contains("no such file"), io_error);
  CHECK_THROWS_WITH_AS(needle_task({hay.path}, "A needle.", "Unrelated", 100, 0.5, 0),
                       doctest::Contains("does not start the needle"), value_error);
  CHECK(needle_task({hay.path}, "A needle.", "Unrelated", 100, 0.5, 0, "42").answer == "42");
  const auto long_needle = needle_task({hay.path}, std::string(sf_needle) + " " + std::string(sf_needle),
                                       std::string(sf_query), 4096, 0.5, 0);
  // A needle longer than the budget is cut into budget-sized pieces, in order; the first is flagged as the needle's.
  context_stream<tokenizer::byte_level_bpe> cut(long_needle, bpe(), 32);
  const auto needle_ids = bpe().encode(long_needle.needle);
  REQUIRE(needle_ids.size() > 64);  // two SF needles: 35 tokens each
  REQUIRE(needle_ids.size() <= 96);
  CHECK(cut.needle_segments() == 3);
  std::vector<segment> pieces;
  while (auto s = cut.next()) pieces.push_back(std::move(*s));
  const auto first = static_cast<std::size_t>(
      std::find_if(pieces.begin(), pieces.end(), [](const segment& s) { return s.needle; }) - pieces.begin());
  REQUIRE(first + 2 < pieces.size());
  CHECK(std::count_if(pieces.begin(), pieces.end(), [](const segment& s) { return s.needle; }) == 1);
  std::vector<model::token_id> joined;
  for (std::size_t i = first; i < first + 3; ++i) {
    CHECK(pieces[i].ids.size() == (i < first + 2 ? 32u : needle_ids.size() - 64));
    CHECK(pieces[i].text == bpe().decode(pieces[i].ids));
    joined.insert(joined.end(), pieces[i].ids.begin(), pieces[i].ids.end());
  }
  CHECK(joined == needle_ids);
  CHECK(pieces[first].text.rfind(std::string(sf_query), 0) == 0);
  context_stream<tokenizer::byte_level_bpe> whole(t, bpe(), 35);
  CHECK(whole.needle_segments() == 1);
  // With overlapping pieces: 24 tokens repeating 3, the same needle in ceil((n - 24) / 21) + 1 pieces, the context's
  // token count each needle token once.
  context_stream<tokenizer::byte_level_bpe> overlapped(long_needle, bpe(), segmenting{24, segment_packing::greedy, 3});
  CHECK(overlapped.needle_segments() == 1 + (needle_ids.size() - 24 + 20) / 21);
  const auto o_pieces = drain(overlapped);
  const auto o_first = static_cast<std::size_t>(
      std::find_if(o_pieces.begin(), o_pieces.end(), [](const segment& s) { return s.needle; }) - o_pieces.begin());
  std::vector<model::token_id> o_joined = o_pieces[o_first].ids;
  for (std::size_t i = o_first + 1; i < o_first + overlapped.needle_segments(); ++i) {
    CHECK(o_pieces[i].overlap == 3);
    o_joined.insert(o_joined.end(), o_pieces[i].ids.begin() + 3, o_pieces[i].ids.end());
  }
  CHECK(o_joined == needle_ids);
  std::size_t said = 0;
  for (const auto& p : o_pieces) said += p.ids.size() - p.overlap;
  CHECK(overlapped.tokens() == said);
}

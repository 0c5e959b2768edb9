// UTF-8 decoding and the Unicode tables behind the tokenizers.
#include <doctest/doctest.h>

#include <random>
#include <string>

#include "fixtures.hpp"
#include "larimar/tokenizer/unicode.hpp"

namespace u = larimar::tokenizer::unicode;

namespace {
std::string from_hex(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}
}  // namespace

TEST_CASE("repair_utf8 replaces ill-formed subparts exactly as Python's errors='replace'") {
  const auto& cases = larimar_test::tokenizer_cases()["utf8_replace"];
  REQUIRE(cases.size() >= 100);
  std::size_t invalid = 0;
  for (const auto& c : cases) {
    const std::string raw = from_hex(c["hex"].get<std::string>());
    const std::string want = c["replaced"].get<std::string>();
    CHECK(u::repair_utf8(raw) == want);
    CHECK(u::is_valid_utf8(raw) == (raw == want));
    CHECK(u::is_valid_utf8(u::repair_utf8(raw)));
    invalid += raw != want;
  }
  CHECK(invalid > cases.size() / 2);  // the cases really exercise the repair
}

TEST_CASE("decode_utf8 and append_utf8 are inverse on every scalar value") {
  for (char32_t cp = 0; cp <= u::max_code_point; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    std::string s;
    u::append_utf8(s, cp);
    const auto unit = u::decode_utf8(s, 0);
    if (!unit.valid || unit.code_point != cp || unit.length != s.size()) FAIL("round trip failed at ", unsigned(cp));
  }
  // Surrogates, overlong forms and values above U+10FFFF are ill-formed.
  for (const std::string& bad : {std::string("\xED\xA0\x80"), std::string("\xC0\xAF"), std::string("\xE0\x80\xAF"),
                                std::string("\xF4\x90\x80\x80"), std::string("\xF8\x88\x80\x80\x80")}) {
    CHECK_FALSE(u::is_valid_utf8(bad));
    CHECK_FALSE(u::decode_utf8(bad, 0).valid);
  }
}

TEST_CASE("general categories and White_Space") {
  CHECK(u::category(U'A') == u::general_category::Lu);
  CHECK(u::category(U'a') == u::general_category::Ll);
  CHECK(u::category(0x4E00) == u::general_category::Lo);
  CHECK(u::category(0x0301) == u::general_category::Mn);
  CHECK(u::category(U'5') == u::general_category::Nd);
  CHECK(u::category(0x2163) == u::general_category::Nl);  // Roman numeral four
  CHECK(u::category(0x00BD) == u::general_category::No);  // one half
  CHECK(u::category(U'!') == u::general_category::Po);
  CHECK(u::category(U'$') == u::general_category::Sc);
  CHECK(u::category(0x0378) == u::general_category::Cn);
  CHECK(u::category(0xE000) == u::general_category::Co);
  CHECK(u::category(0x10FFFF) == u::general_category::Cn);
  CHECK(u::category(0x110000) == u::general_category::Cn);
  CHECK(u::is_letter(0x1D400));  // mathematical bold A
  CHECK_FALSE(u::is_letter(U'1'));
  CHECK(u::is_number(0x0663));  // Arabic-Indic three
  for (char32_t ws : {U' ', U'\t', U'\n', char32_t{0x0B}, char32_t{0x85}, char32_t{0xA0}, char32_t{0x2028},
                      char32_t{0x3000}, char32_t{0x200A}})
    CHECK(u::is_white_space(ws));
  for (char32_t no : {U'a', char32_t{0x200B}, char32_t{0x180E}, char32_t{0x1C}, char32_t{0xFEFF}})
    CHECK_FALSE(u::is_white_space(no));
}

TEST_CASE("nfd decomposes fully and orders combining marks") {
  CHECK(u::nfd(U"\u00E9") == U"e\u0301");
  CHECK(u::nfd(U"\u1E69") == U"s\u0323\u0307");        // s with dot below and dot above
  CHECK(u::nfd(U"s\u0307\u0323") == U"s\u0323\u0307");  // ccc 230 after ccc 220
  CHECK(u::nfd(U"\u212B") == U"A\u030A");               // Angstrom sign -> A + ring
  CHECK(u::nfd(U"\uD55C") == U"\u1112\u1161\u11AB");    // Hangul syllable HAN
  CHECK(u::nfd(U"\uAC00") == U"\u1100\u1161");          // GA: no trailing consonant
  CHECK(u::nfd(U"plain ascii") == U"plain ascii");
}

TEST_CASE("lower case mappings") {
  std::u32string out;
  for (char32_t c : std::u32string(U"ABC\u00C0\u0391\u03A3\u0130\u1E9E\u2163"))
    u::append_lowercase(out, c);
  CHECK(out == U"abc\u00E0\u03B1\u03C3i\u0307\u00DF\u2173");
}

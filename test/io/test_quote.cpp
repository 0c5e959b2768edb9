// quote(): how every message shows a name or token read from a file.
#include <larimar/core/quote.hpp>

#include <doctest/doctest.h>

#include <string>

using larimar::detail::escape;
using larimar::detail::quote;

TEST_CASE("quote keeps printable text and well-formed UTF-8, and escapes every other byte") {
  CHECK(quote("fixed_nearest") == "'fixed_nearest'");
  CHECK(quote("\xC4\xA0the caf\xC3\xA9 \xE4\xBD\xA0 \xF0\x9F\x98\x80") == "'\xC4\xA0the caf\xC3\xA9 \xE4\xBD\xA0 \xF0\x9F\x98\x80'");
  CHECK(quote(std::string("a\0b", 3)) == R"('a\0b')");
  CHECK(quote("tab\tnl\ncr\r") == R"('tab\tnl\ncr\r')");
  CHECK(quote("it's a\\b") == R"('it\'s a\\b')");
  CHECK(quote("\x01\x1F\x7F") == R"('\x01\x1f\x7f')");
  CHECK(quote("\xFF\xFE") == R"('\xff\xfe')");               // bytes no UTF-8 has
  CHECK(quote("\xC3") == R"('\xc3')");                      // a sequence cut short
  CHECK(quote("\xC0\x80") == R"('\xc0\x80')");              // overlong NUL
  CHECK(quote("\xED\xA0\x80") == R"('\xed\xa0\x80')");      // a surrogate
  CHECK(quote("\xF4\x90\x80\x80") == R"('\xf4\x90\x80\x80')");  // past U+10FFFF
  CHECK(quote("\xC2\x85") == R"('\xc2\x85')");              // C1 control (NEL)
  CHECK(quote("\xE2\x82\xAC\xE2\x82") == "'\xE2\x82\xAC\\xe2\\x82'");  // euro sign, then a cut one
}

TEST_CASE("quote cuts long text and says how long it was") {
  CHECK(quote(std::string(500, 'x'), 8) == "'xxxxxxxx'... (500 bytes)");
  CHECK(quote(std::string(8, 'x'), 8) == "'xxxxxxxx'");
  CHECK(escape(std::string(20, 'y'), 4) == "yyyy... (20 bytes)");
  CHECK(quote("") == "''");
}

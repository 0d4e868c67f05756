// ascii_case_test.cpp — the parser's ASCII case helpers: only A to Z fold, every other byte
// (UTF-8 included) compares as it is, and the searches agree with std::string_view::find.
#include <catch2/catch.hpp>

#include <string>

#include "parsers/ascii_case.h"
#include "parsers/charset.h"

using namespace atendd;

TEST_CASE("ascii case helpers fold A to Z and nothing else", "[ascii_case]") {
  CHECK(ascii::lower("Content-Type: TEXT/Plain") == "content-type: text/plain");
  CHECK(ascii::lower("ÉCRIT") == "Écrit");  // the UTF-8 bytes of É stay as they are
  CHECK(ascii::iequals("Message-ID", "message-id"));
  CHECK_FALSE(ascii::iequals("Message-ID", "message-id:"));
  CHECK_FALSE(ascii::iequals("é", "É"));
  CHECK(ascii::istarts_with("-----ORIGINAL Message-----", "-----original"));
  CHECK_FALSE(ascii::istarts_with("On", "on "));
  CHECK(ascii::iends_with("Maria A ÉCRIT:", "a Écrit:"));
  CHECK_FALSE(ascii::iends_with("wrote", "wrote:"));
}

TEST_CASE("ascii ifind finds what find finds in a lower-cased copy", "[ascii_case]") {
  const std::string text = "Subject: Mail Delivery Failed - returned MAIL";
  const std::string lowered = ascii::lower(text);
  for (const char* needle : {"mail", "MAIL delivery", "failed -", "returned mail", "", "x", "mailx"})
    for (std::size_t from : {0u, 5u, 12u, 40u, 45u, 46u, 60u})
      CHECK(ascii::ifind(text, needle, from) == std::string_view(lowered).find(ascii::lower(needle), from));
  CHECK(ascii::icontains("Não ENTREGUE", "não entregue"));
  CHECK_FALSE(ascii::icontains("NÃO ENTREGUE", "não entregue"));
}

TEST_CASE("to_utf8_if_changed leaves text that already is UTF-8 to the caller", "[ascii_case][charset]") {
  CHECK_FALSE(to_utf8_if_changed("plain words", "iso-8859-1"));
  CHECK_FALSE(to_utf8_if_changed("ação", "UTF-8"));
  CHECK_FALSE(to_utf8_if_changed("ação", ""));
  REQUIRE(to_utf8_if_changed("a\xE7\xE3o", "ISO-8859-1"));
  CHECK(*to_utf8_if_changed("a\xE7\xE3o", "ISO-8859-1") == "ação");
  CHECK(to_utf8("ação", "UTF-8") == "ação");
}

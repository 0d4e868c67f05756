// address_list_test.cpp — From/To/Cc reading: display names (quoted, encoded, comments), groups,
// stray brackets, missing angle brackets, and encoded words in a local part left undecoded.
#include <catch2/catch.hpp>

#include "parsers/address_list.h"

using atendd::parse_address_list;

TEST_CASE("a quoted display name and an angle address are separated", "[address]") {
  const auto list = parse_address_list("\"Doe, John\" <john@example.com>");
  REQUIRE(list.size() == 1);
  CHECK(list[0].address == "john@example.com");
  CHECK(list[0].name == "Doe, John");
}

TEST_CASE("a comment after a bare address is taken as the display name", "[address]") {
  const auto list = parse_address_list("marc.smith@example.com (Marc Smith)");
  REQUIRE(list.size() == 1);
  CHECK(list[0].address == "marc.smith@example.com");
  CHECK(list[0].name == "Marc Smith");
}

TEST_CASE("a comment inside a phrase is dropped when a name exists", "[address]") {
  const auto list = parse_address_list("MAILER-DAEMON (Mail Delivery System) <postmaster@example.com>");
  REQUIRE(list.size() == 1);
  CHECK(list[0].name == "MAILER-DAEMON");
  CHECK(list[0].address == "postmaster@example.com");
}

TEST_CASE("an encoded display name with a comma stays one address", "[address]") {
  const auto list = parse_address_list("=?iso-8859-1?Q?B=FCrling,=20Andreas?= <smith@example.com>");
  REQUIRE(list.size() == 1);
  CHECK(list[0].name == "Bürling, Andreas");
}

TEST_CASE("encoded words inside quotes are decoded in a display name", "[address]") {
  const auto list = parse_address_list("\"=?ISO-2022-JP?B?GyRCO3ZMMzZJGyhC==?=\" <noreply@example.org>");
  REQUIRE(list.size() == 1);
  CHECK(list[0].name == "事務局");
}

TEST_CASE("encoded words inside the local part are never decoded", "[address][security]") {
  auto list = parse_address_list("=?utf-8?Q?agent?=@example.com");
  REQUIRE(list.size() == 1);
  CHECK(list[0].address == "=?utf-8?Q?agent?=@example.com");
  list = parse_address_list("=?utf-8?Q?attacker?Q?agent?=@victim.example");
  REQUIRE(list.size() == 1);
  CHECK(list[0].address == "=?utf-8?Q?attacker?Q?agent?=@victim.example");
}

TEST_CASE("a quoted local part keeps its quotes and a stray bracket is dropped", "[address]") {
  std::vector<std::string> defects;
  const auto list = parse_address_list("\"Millions Lottery Spain transfer\"@example.com>", {}, &defects);
  REQUIRE(list.size() == 1);
  CHECK(list[0].address == "\"Millions Lottery Spain transfer\"@example.com");
  CHECK(list[0].name.empty());
  CHECK_FALSE(defects.empty());
}

TEST_CASE("a name before an address without angle brackets is read as the name", "[address]") {
  const auto list = parse_address_list("Test test@example.com");
  REQUIRE(list.size() == 1);
  CHECK(list[0].address == "test@example.com");
  CHECK(list[0].name == "Test");
}

TEST_CASE("groups yield their members and empty groups nothing", "[address]") {
  const auto list = parse_address_list("Team: a@example.com, \"B\" <b@example.com>;, c@example.com");
  REQUIRE(list.size() == 3);
  CHECK(list[0].address == "a@example.com");
  CHECK(list[1].address == "b@example.com");
  CHECK(list[2].address == "c@example.com");
  CHECK(parse_address_list("undisclosed-recipients:;").empty());
}

TEST_CASE("several addresses are split at commas outside quotes", "[address]") {
  const auto list = parse_address_list("a@example.com, \"x, y\" <b@example.com>,<c@example.com>");
  REQUIRE(list.size() == 3);
  CHECK(list[1].name == "x, y");
  CHECK(list[2].address == "c@example.com");
}

TEST_CASE("a raw 8-bit display name is read through the fallback charset", "[address]") {
  const auto list = parse_address_list("\"\xCE\xE4\xC0\xBC\xB3\xC9\" <a@example.com>", "gb2312");
  REQUIRE(list.size() == 1);
  CHECK(list[0].name == "武兰成");
}

TEST_CASE("an address only given in a comment is found", "[address]") {
  const auto list = parse_address_list("=?iso-8859-2?Q?Namedy=F1ski?= (hans@example.com)");
  REQUIRE(list.size() == 1);
  CHECK(list[0].address == "hans@example.com");
  CHECK(list[0].name == "Namedyński");
}

TEST_CASE("junk without any address gives no usable address", "[address]") {
  const auto list = parse_address_list("[??????]");
  REQUIRE(list.size() == 1);
  CHECK(list[0].address.empty());
}

TEST_CASE("the domain of an address is lower-cased and empty without an at sign", "[address]") {
  CHECK(atendd::domain_of("Ana@Cliente.COM.br") == "cliente.com.br");
  CHECK(atendd::domain_of("no-at-sign") == "");
  CHECK(atendd::domain_of("") == "");
}

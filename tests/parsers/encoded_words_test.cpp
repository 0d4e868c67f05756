// encoded_words_test.cpp — RFC 2047 encoded words and RFC 2231 parameters as real mail writes them:
// adjacent words, mixed charsets, malformed words kept literally, continuations, Outlook quirks.
#include <catch2/catch.hpp>

#include "parsers/encoded_words.h"

using atendd::decode_header_text;
using atendd::parse_mime_field;

TEST_CASE("a Q-encoded word in ISO-8859-1 decodes to UTF-8", "[encoded_words]") {
  CHECK(decode_header_text("=?iso-8859-1?Q?CI_Daten_f=FCr_PublicView_?=") == "CI Daten für PublicView ");
}

TEST_CASE("a B-encoded word in UTF-8 decodes", "[encoded_words]") {
  CHECK(decode_header_text("=?utf-8?B?6YO955C5?=") == "都琹");
}

TEST_CASE("whitespace between adjacent encoded words is dropped, even across charsets", "[encoded_words]") {
  CHECK(decode_header_text("=?Windows-1252?Q?Hans_B=C4KO?= =?iso-8859-15?q?Sch=F6nland?=") == "Hans BÄKOSchönland");
  CHECK(decode_header_text("=?utf-8?q?a?=\r\n =?utf-8?q?b?=") == "ab");
}

TEST_CASE("a multi-byte character split across two B words is joined before conversion", "[encoded_words]") {
  // "€" (E2 82 AC) split as E2 | 82 AC.
  CHECK(decode_header_text("=?utf-8?B?4g==?= =?utf-8?B?gqw=?=") == "€");
}

TEST_CASE("text between an encoded word and plain words keeps its spaces", "[encoded_words]") {
  CHECK(decode_header_text("Re: =?utf-8?q?caf=C3=A9?= time") == "Re: café time");
}

TEST_CASE("a malformed encoded word is kept literally", "[encoded_words]") {
  CHECK(decode_header_text("=?utf-8?X?abc?=") == "=?utf-8?X?abc?=");
  CHECK(decode_header_text("=?utf-8?Q?unterminated") == "=?utf-8?Q?unterminated");
  CHECK(decode_header_text("price =? 10") == "price =? 10");
}

TEST_CASE("spaces inside a Q word and extra base64 padding are tolerated", "[encoded_words]") {
  CHECK(decode_header_text("=?us-ascii?Q?ABC / 123?=") == "ABC / 123");
  CHECK(decode_header_text("=?ISO-2022-JP?B?GyRCO3ZMMzZJGyhC==?=") == "事務局");
}

TEST_CASE("an unknown charset in an encoded word still yields readable text", "[encoded_words]") {
  CHECK(decode_header_text("=?x-unknown-cs?Q?plain?=") == "plain");
}

TEST_CASE("a language suffix on the charset is ignored", "[encoded_words]") {
  CHECK(decode_header_text("=?utf-8*pt?Q?ol=C3=A1?=") == "olá");
}

TEST_CASE("raw 8-bit header text is read with the fallback charset", "[encoded_words]") {
  CHECK(decode_header_text("caf\xE9", "iso-8859-1") == "café");
  CHECK(decode_header_text("caf\xC3\xA9") == "café");
}

TEST_CASE("MIME parameters may hold a semicolon inside quotes", "[rfc2231]") {
  const auto field = parse_mime_field("attachment; filename=\"a;b c.txt\"; size=10");
  CHECK(field.value == "attachment");
  CHECK(field.param("filename") == "a;b c.txt");
  CHECK(field.param("size") == "10");
}

TEST_CASE("parameter names are case-insensitive and the value is lower-cased", "[rfc2231]") {
  const auto field = parse_mime_field("Multipart/Alternative;\r\n\tBoundary=\"0__=4EBB\"");
  CHECK(field.value == "multipart/alternative");
  CHECK(field.param("boundary") == "0__=4EBB");
}

TEST_CASE("an RFC 2231 extended value is percent-decoded from its charset", "[rfc2231]") {
  CHECK(parse_mime_field("attachment; filename*=utf-8''Erkl%C3%A4rung.txt").param("filename") == "Erklärung.txt");
  CHECK(parse_mime_field("attachment; filename*=iso-8859-1'de'%E4rger.txt").param("filename") == "ärger.txt");
}

TEST_CASE("RFC 2231 continuations are joined in order", "[rfc2231]") {
  const auto field = parse_mime_field(
      "attachment; filename*1*=%20rates.pdf; filename*0*=UTF-8''%E2%82%AC; filename*2=\" final\"");
  CHECK(field.param("filename") == "€ rates.pdf final");
}

TEST_CASE("the RFC 2231 form wins over a plain parameter of the same name", "[rfc2231]") {
  const auto field = parse_mime_field("attachment; filename=\"fallback.txt\"; filename*=UTF-8''real%20name.txt");
  CHECK(field.param("filename") == "real name.txt");
}

TEST_CASE("Outlook-style encoded words inside a quoted parameter are decoded", "[rfc2231]") {
  CHECK(parse_mime_field("text/plain; name=\"=?utf-8?Q?Erkl=C3=A4rung=2Etxt?=\"").param("name") == "Erklärung.txt");
  CHECK(parse_mime_field("application/pdf; name=\"=?UTF-8?B?w6TDtsO8LnBkZg==?=\"").param("name") == "äöü.pdf");
}

TEST_CASE("a parameter without a preceding semicolon is still found", "[rfc2231]") {
  const auto field = parse_mime_field("text/plain charset=utf-8");
  CHECK(field.value == "text/plain");
  CHECK(field.param("charset") == "utf-8");
}

// charset_test.cpp — conversion to UTF-8 for the charsets and wrong labels seen in real mail;
// invalid bytes must become U+FFFD, never disappear.
#include <catch2/catch.hpp>

#include "parsers/charset.h"

using atendd::to_utf8;

TEST_CASE("Latin-1 text converts to UTF-8", "[charset]") {
  CHECK(to_utf8("caf\xE9", "ISO-8859-1") == "café");
  CHECK(to_utf8("caf\xE9", "latin1") == "café");
}

TEST_CASE("windows-1252 punctuation converts, also under an ISO-8859-1 label", "[charset]") {
  CHECK(to_utf8("\x93quoted\x94 \x80", "windows-1252") == "“quoted” €");
  CHECK(to_utf8("\x93quoted\x94 \x80", "iso-8859-1") == "“quoted” €");
}

TEST_CASE("KOI8-R Cyrillic converts", "[charset]") {
  CHECK(to_utf8("\xF0\xD2\xC9\xD7\xC5\xD4", "koi8-r") == "Привет");
}

TEST_CASE("text labelled GB2312 is read as GBK", "[charset]") {
  CHECK(to_utf8("\x88\xD2", "gb2312") == "堃");  // a GBK-only character
}

TEST_CASE("Shift_JIS converts, also when labelled ISO-2022-JP", "[charset]") {
  CHECK(to_utf8("\x83\x63\x81\x5B\x83\x8B", "shift_jis") == "ツール");
  CHECK(to_utf8("\x83\x63\x81\x5B\x83\x8B", "iso-2022-jp") == "ツール");
}

TEST_CASE("ISO-2022-JP converts", "[charset]") {
  CHECK(to_utf8("\x1B\x24\x42\x25\x61\x25\x6B\x25\x5E\x25\x2C\x1B\x28\x42", "ISO-2022-JP") == "メルマガ");
}

TEST_CASE("ks_c_5601-1987 is read as CP949", "[charset]") {
  CHECK(to_utf8("\xAC\xB1\xAC\xE2\xAC\xDA\xAC\xD3\xAC\xD6\xAC\xE4", "ks_c_5601-1987") == "Привет");
}

TEST_CASE("invalid bytes become U+FFFD and are reported", "[charset]") {
  bool lossy = false;
  CHECK(to_utf8("a\xFF" "b", "utf-8", &lossy) == "a\xEF\xBF\xBD" "b");
  CHECK(lossy);
  lossy = false;
  CHECK(to_utf8("ok \x82\xFF", "shift_jis", &lossy).find("\xEF\xBF\xBD") != std::string::npos);
  CHECK(lossy);
}

TEST_CASE("a us-ascii label over UTF-8 or Latin-1 bytes is corrected", "[charset]") {
  CHECK(to_utf8("caf\xC3\xA9", "us-ascii") == "café");
  CHECK(to_utf8("caf\xE9", "us-ascii") == "café");
  CHECK(to_utf8("caf\xC3\xA9", "") == "café");
}

TEST_CASE("an unknown charset label still yields valid UTF-8", "[charset]") {
  const std::string out = to_utf8("caf\xE9", "x-no-such-charset");
  CHECK(atendd::is_valid_utf8(out));
  CHECK(out.find("caf") == 0);
}

TEST_CASE("raw 8-bit header bytes are guessed from the body's charset", "[charset]") {
  CHECK(atendd::guess_to_utf8("\xD7\xAA\xB7\xA2", "gb2312") == "转发");
  CHECK(atendd::guess_to_utf8("caf\xC3\xA9", "gb2312") == "café");
}

TEST_CASE("UTF-8 validation rejects overlongs and surrogates", "[charset]") {
  CHECK(atendd::is_valid_utf8("plain"));
  CHECK(atendd::is_valid_utf8("\xE2\x82\xAC"));
  CHECK_FALSE(atendd::is_valid_utf8("\xC0\xAF"));
  CHECK_FALSE(atendd::is_valid_utf8("\xED\xA0\x80"));
  CHECK(atendd::sanitize_utf8("\xC0\xAF") == "\xEF\xBF\xBD\xEF\xBF\xBD");
}

// malformed_input_test.cpp — broken mail never throws, never hangs and always says what was wrong
// (DESIGN.md, invariant 4): truncated MIME, missing boundaries, junk lines, NUL bytes, binary
// junk and giant headers.
#include <catch2/catch.hpp>

#include <chrono>
#include <random>

#include "parsers/charset.h"
#include "parsers/json_output.h"
#include "parsers/mime_reader.h"

using atendd::parse_message;

namespace {

bool has_defect(const atendd::ParsedMessage& m, const std::string& phrase) {
  for (const auto& d : m.defects)
    if (d.find(phrase) != std::string::npos) return true;
  return false;
}

// Parses and checks the invariants every result must keep.
atendd::ParsedMessage parse_checked(std::string_view raw) {
  atendd::ParsedMessage m;
  REQUIRE_NOTHROW(m = parse_message(raw));
  CHECK(atendd::is_valid_utf8(atendd::to_json(m)));
  return m;
}

}  // namespace

TEST_CASE("an empty input yields a message with defects", "[malformed]") {
  const auto m = parse_checked("");
  CHECK(has_defect(m, "empty message"));
  CHECK(has_defect(m, "no From header"));
}

TEST_CASE("a message cut off inside a part keeps what was there", "[malformed]") {
  const auto m = parse_checked(
      "From: a@example.com\nContent-Type: multipart/mixed; boundary=m\n\n"
      "--m\nContent-Type: text/plain\n\nfirst part\n--m\nContent-Type: application/pdf; name=x.pdf\n"
      "Content-Transfer-Encoding: base64\n\nJVBER");
  CHECK(m.text == "first part");
  REQUIRE(m.attachments.size() == 1);
  CHECK(m.attachments[0].filename == "x.pdf");
  CHECK(has_defect(m, "unterminated multipart boundary"));
}

TEST_CASE("a multipart whose boundary never occurs falls back to its text", "[malformed]") {
  const auto m = parse_checked(
      "From: a@example.com\nContent-Type: multipart/mixed; boundary=\"never\"\n"
      "Content-Transfer-Encoding: quoted-printable\n\n=E4 text\n");
  CHECK(m.text.find("text") != std::string::npos);
  CHECK(has_defect(m, "boundary never found"));
}

TEST_CASE("a multipart without a boundary parameter is read as text", "[malformed]") {
  const auto m = parse_checked("From: a@example.com\nContent-Type: multipart/mixed\n\nsome text\n");
  CHECK(m.text == "some text");
  CHECK(has_defect(m, "multipart without boundary"));
}

TEST_CASE("a nested multipart that is never closed keeps the later parts", "[malformed]") {
  const auto m = parse_checked(
      "From: a@example.com\nContent-Type: multipart/mixed; boundary=outer\n\n"
      "--outer\nContent-Type: multipart/alternative; boundary=inner\n\n"
      "--inner\nContent-Type: text/plain\n\nbody text\n"
      "--outer\nContent-Type: application/pdf; name=a.pdf\n\n%PDF\n--outer--\n");
  CHECK(m.text == "body text");
  REQUIRE(m.attachments.size() == 1);
  CHECK(m.attachments[0].filename == "a.pdf");
}

TEST_CASE("a header line without a colon is skipped and later headers are kept", "[malformed]") {
  const auto m = parse_checked("Received: from x\njunk line here\nFrom: a@example.com\nSubject: kept\n\nbody\n");
  CHECK(m.from.address == "a@example.com");
  CHECK(m.subject == "kept");
  CHECK(m.text == "body");
  CHECK(has_defect(m, "header line without colon"));
}

TEST_CASE("a body without the blank separator line is still found", "[malformed]") {
  const auto m = parse_checked("From: a@example.com\nSubject: s\nthis is the body\n");
  CHECK(m.subject == "s");
  CHECK(m.text == "this is the body");
  CHECK(has_defect(m, "missing blank line"));
}

TEST_CASE("NUL bytes in headers and body do not cut the message", "[malformed]") {
  const std::string raw("From: a@exa\0mple.com\nSubject: a\0b\n\nbo\0dy\n", 41);
  const auto m = parse_checked(raw);
  CHECK(m.subject == "ab");
  CHECK(has_defect(m, "NUL byte in header"));
}

TEST_CASE("a message without From reports it", "[malformed]") {
  const auto m = parse_checked("Subject: hi\n\nx\n");
  CHECK(m.from.address.empty());
  CHECK(has_defect(m, "no From header"));
}

TEST_CASE("an unreadable date is a defect, not an error", "[malformed]") {
  const auto m = parse_checked("From: a@x.com\nDate: Wed, 05 Sep 2018 29:24:05 +0700\n\nx\n");
  CHECK_FALSE(m.date);
  CHECK(has_defect(m, "unreadable Date"));
}

TEST_CASE("a huge header is bounded and still parsed", "[malformed]") {
  std::string raw = "From: a@example.com\nSubject: big\n";
  for (int i = 0; i < 100000; ++i) raw += "X-Filler-" + std::to_string(i) + ": " + std::string(30, 'x') + "\n";
  raw += "\nbody\n";
  const auto start = std::chrono::steady_clock::now();
  const auto m = parse_checked(raw);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(20));
  CHECK(m.from.address == "a@example.com");
  CHECK(has_defect(m, "header too long"));
}

TEST_CASE("a single giant header line is handled", "[malformed]") {
  std::string raw = "From: a@example.com\nSubject: " + std::string(2 * 1024 * 1024, 'y') + "\n\nbody\n";
  const auto m = parse_checked(raw);
  CHECK(m.from.address == "a@example.com");
}

TEST_CASE("ten megabytes of binary junk return quickly with defects", "[malformed]") {
  std::mt19937 rng(42);
  std::string junk(10 * 1024 * 1024, '\0');
  for (auto& c : junk) c = static_cast<char>(rng() & 0xFF);
  const auto start = std::chrono::steady_clock::now();
  const auto m = parse_checked(junk);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(30));
  CHECK_FALSE(m.defects.empty());
}

TEST_CASE("deeply nested multiparts are bounded", "[malformed]") {
  std::string raw = "From: a@example.com\nContent-Type: multipart/mixed; boundary=b0\n\n";
  for (int i = 1; i < 2000; ++i)
    raw += "--b" + std::to_string(i - 1) + "\nContent-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\n\n";
  raw += "--b1999\nContent-Type: text/plain\n\ndeep\n";
  const auto m = parse_checked(raw);
  CHECK_FALSE(m.defects.empty());
}

TEST_CASE("garbage MIME headers and encodings never throw", "[malformed]") {
  const char* inputs[] = {
      "Content-Type: multipart/mixed; boundary=\"\"\n\n--\n--\n",
      "Content-Type: text/plain; charset=\"\n\n\xFF\xFE",
      "Content-Type: text/plain; charset=utf-7\n\n+AGEAYgBj-\n",
      "Content-Type: ;;;==;\"\nContent-Transfer-Encoding: base64\n\n!!!!====\n",
      "Content-Type: message/rfc822\n\n",
      "Content-Type: multipart/digest; boundary=d\n\n--d\n\nFrom: x@y\n\nz\n--d--\n",
      "Subject: =?utf-8?B?\n =?=?=?Q?\xFF?=\n\n",
      "From: <<<>>>,,,\"\"\"(((\n\n",
      "From: (unterminated comment\n\n",
      "Content-Type: multipart/alternative; boundary=a\n\n--a\n--a\n--a--\n",
      "Content-Disposition: attachment; filename*0*=bogus''%ZZ%; filename*1=x\n\nbody\n",
      "\n\n\n",
      ":\n:\n\n",
  };
  for (const char* input : inputs) parse_checked(input);
}

TEST_CASE("the obsolete 'From :' field form is a header, not an mbox line", "[malformed]") {
  const auto m = parse_checked("From : a@example.com\nSubject: s\n\nb\n");
  CHECK(m.from.address == "a@example.com");
}

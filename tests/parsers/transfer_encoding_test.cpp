// transfer_encoding_test.cpp — the table-driven base64 and quoted-printable decoders (against a
// plain reference decoder on random input, and in place), plus how parse_message hands bodies to
// mimetic without copying them: large attachments, odd line endings and unusable boundaries.
#include <catch2/catch.hpp>

#include <random>
#include <string>

#include "parsers/mime_reader.h"
#include "parsers/transfer_encoding.h"

using namespace atendd;

namespace {

// The straightforward decoder the fast one replaced: one character at a time, skip what is not
// in the alphabet ('-' and '_' are URL-safe 62 and 63), stop at the first '='.
std::string reference_base64(std::string_view text, bool* damaged) {
  std::string out;
  unsigned int accumulator = 0;
  int bits = 0;
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    int v = -1;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '+' || c == '-') v = 62;
    else if (c == '/' || c == '_') v = 63;
    if (c == '=') break;
    if (v < 0) {
      if (!(c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f')) *damaged = true;
      continue;
    }
    accumulator = (accumulator << 6) | static_cast<unsigned int>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((accumulator >> bits) & 0xFF);
    }
  }
  return out;
}

std::string encode_base64(std::string_view data, std::size_t line = 76) {
  static const char k[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t col = 0;
  for (std::size_t i = 0; i < data.size(); i += 3) {
    unsigned int v = static_cast<unsigned char>(data[i]) << 16;
    const std::size_t n = std::min<std::size_t>(3, data.size() - i);
    if (n > 1) v |= static_cast<unsigned int>(static_cast<unsigned char>(data[i + 1])) << 8;
    if (n > 2) v |= static_cast<unsigned char>(data[i + 2]);
    out += k[(v >> 18) & 63];
    out += k[(v >> 12) & 63];
    out += n > 1 ? k[(v >> 6) & 63] : '=';
    out += n > 2 ? k[v & 63] : '=';
    if ((col += 4) >= line) {
      out += "\r\n";
      col = 0;
    }
  }
  return out;
}

std::string random_bytes(std::mt19937& rng, std::size_t n) {
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() & 0xFF);
  return s;
}

}  // namespace

TEST_CASE("base64 decodes what it encodes at every length and line width", "[transfer_encoding]") {
  std::mt19937 rng(42);
  for (std::size_t n = 0; n < 300; ++n) {
    const std::string data = random_bytes(rng, n);
    for (std::size_t width : {4u, 76u, 1000u}) {
      bool damaged = false;
      CHECK(decode_base64(encode_base64(data, width), &damaged) == data);
      CHECK_FALSE(damaged);
    }
  }
}

TEST_CASE("base64 matches the reference decoder on noisy input", "[transfer_encoding]") {
  // Alphabet characters mixed with blanks and junk and padding in odd places.
  static const char kChars[] = "ABCxyz019+/-_=  \r\n\t\v!*\x80\xff.";
  std::mt19937 rng(7);
  for (int round = 0; round < 3000; ++round) {
    std::string text;
    const std::size_t n = rng() % 120;
    for (std::size_t i = 0; i < n; ++i) {
      // Mostly clean runs so the four-at-a-time path and the slow path both run.
      text += rng() % 4 ? "QUJD"[rng() % 4] : kChars[rng() % (sizeof kChars - 1)];
    }
    bool damaged_ref = false, damaged = false;
    const std::string expected = reference_base64(text, &damaged_ref);
    CHECK(decode_base64(text, &damaged) == expected);
    CHECK(damaged == damaged_ref);
    std::string in_place = text;
    bool damaged_in_place = false;
    decode_base64_in_place(in_place, &damaged_in_place);
    CHECK(in_place == expected);
    CHECK(damaged_in_place == damaged_ref);
  }
}

TEST_CASE("base64 keeps the bytes of a trailing partial group and stops at padding", "[transfer_encoding]") {
  CHECK(decode_base64("QUJD") == "ABC");
  CHECK(decode_base64("QUI") == "AB");
  CHECK(decode_base64("QQ") == "A");
  CHECK(decode_base64("QUI=QUJD") == "AB");
  CHECK(decode_base64("Q U\r\nJ\tD") == "ABC");
  CHECK(decode_base64("_-8=") == decode_base64("/+8="));
  bool damaged = false;
  CHECK(decode_base64("QU*JD", &damaged) == "ABC");
  CHECK(damaged);
}

TEST_CASE("quoted-printable decodes escapes and soft breaks and drops transport padding", "[transfer_encoding]") {
  CHECK(decode_quoted_printable("Ol=C3=A1 mundo") == "Olá mundo");
  CHECK(decode_quoted_printable("one =\r\ntwo=  \nthree=") == "one twothree");
  CHECK(decode_quoted_printable("a = b =4 =zz") == "a = b =4 =zz");
  CHECK(decode_quoted_printable("line   \r\nnext\t \nend  ") == "line\r\nnext\nend  ");
  CHECK(decode_quoted_printable("a_b=5F", true) == "a b_");
  CHECK(decode_quoted_printable("a_b", false) == "a_b");
}

TEST_CASE("quoted-printable in place gives the same bytes as the copying decoder", "[transfer_encoding]") {
  static const char kChars[] = "ab =\r\n\t_3DFf";
  std::mt19937 rng(11);
  for (int round = 0; round < 3000; ++round) {
    std::string text;
    const std::size_t n = rng() % 80;
    for (std::size_t i = 0; i < n; ++i) text += kChars[rng() % (sizeof kChars - 1)];
    std::string in_place = text;
    decode_quoted_printable_in_place(in_place);
    CHECK(in_place == decode_quoted_printable(text));
  }
}

TEST_CASE("a large base64 attachment comes out byte for byte", "[transfer_encoding][mime]") {
  std::mt19937 rng(3);
  const std::string data = random_bytes(rng, 3 * 1024 * 1024 + 1);
  const std::string raw =
      "From: a@example.com\r\nSubject: big\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
      "--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
      "--b\r\nContent-Type: application/octet-stream; name=\"blob.bin\"\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\n" +
      encode_base64(data) + "--b--\r\n";
  const auto m = parse_message(raw);
  CHECK(m.text == "see attached");
  REQUIRE(m.attachments.size() == 1);
  CHECK(m.attachments[0].filename == "blob.bin");
  CHECK(m.attachments[0].data.size() == data.size());
  CHECK(m.attachments[0].data == data);
  CHECK(m.defects.empty() == false);  // no Date header
}

TEST_CASE("a single-part body is found after LF and CRLF header endings", "[mime]") {
  CHECK(parse_message("From: a@example.com\n\nhello\n").text == "hello");
  CHECK(parse_message("From: a@example.com\r\n\r\nhello\r\n").text == "hello");
  // LF-only header whose body starts with a CR: the CR must not be taken for the line break.
  CHECK(parse_message("From: a@example.com\n\n\rhello\n").text.find("hello") != std::string::npos);
  // No header at all: the whole input is the body.
  const auto m = parse_message("just some words\nand more\n");
  CHECK(m.text == "just some words\nand more");
}

TEST_CASE("a quoted-printable single part is decoded once", "[mime]") {
  const auto m = parse_message(
      "From: a@example.com\r\nContent-Type: text/plain; charset=utf-8\r\n"
      "Content-Transfer-Encoding: quoted-printable\r\n\r\nOl=C3=A1 =3D=\r\n ok\r\n");
  CHECK(m.text == "Olá = ok");
}

TEST_CASE("a boundary containing a carriage return neither loses the body nor adds junk", "[malformed]") {
  const auto m = parse_message(
      "From: a@example.com\r\nContent-Type: multipart/mixed; boundary=\"ab\rcd\"\r\n\r\n"
      "--ab\r\nContent-Type: text/plain\r\n\r\nfirst\r\n--ab--\r\n");
  CHECK(m.text.find("first") != std::string::npos);
  CHECK(m.text.find("cd\"") == std::string::npos);
  CHECK(m.text.find("--ab") != std::string::npos);  // shown whole: the parts cannot be told apart
}

TEST_CASE("a multipart without a boundary keeps every line of its body", "[malformed]") {
  const auto m = parse_message(
      "From: a@example.com\nContent-Type: multipart/mixed\n\n--x\nContent-Type: text/plain\n\none\n--x\n\ntwo\n--x--\n");
  CHECK(m.text.find("one") != std::string::npos);
  CHECK(m.text.find("two") != std::string::npos);
}

TEST_CASE("uuencoded lines decode to their declared length", "[transfer_encoding]") {
  std::string name;
  CHECK(decode_uuencode_body("begin 644 a.txt\n%:&5L;&\\`\n`\nend\n", &name) == "hello");
  CHECK(name == "a.txt");
  CHECK(decode_uuencode_body("begin 644 b.txt\n#86)C\nend\n", nullptr) == "abc");
}

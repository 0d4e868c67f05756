// body_encoding_test.cpp — the quoted-printable and base64 writers of outgoing bodies: every output
// decodes back (through parsers/transfer_encoding) to the text with CRLF line ends, lines stay
// within 76 characters, '=', trailing blanks and non-ASCII are encoded, and nothing but CRLF breaks.
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "daemon/outbox/body_encoding.h"
#include "parsers/transfer_encoding.h"

using namespace atendd;

namespace {

std::string with_crlf(const std::string& in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\r') {
      out += "\r\n";
      if (i + 1 < in.size() && in[i + 1] == '\n') ++i;
    } else if (in[i] == '\n') {
      out += "\r\n";
    } else {
      out += in[i];
    }
  }
  return out;
}

std::vector<std::string> lines_of(const std::string& encoded) {
  std::vector<std::string> lines;
  size_t at = 0;
  while (at <= encoded.size()) {
    size_t end = encoded.find("\r\n", at);
    if (end == std::string::npos) end = encoded.size();
    lines.push_back(encoded.substr(at, end - at));
    at = end + 2;
  }
  return lines;
}

// What RFC 2045 6.7 asks of every encoded output; returns "" or what is wrong.
std::string qp_problem(const std::string& encoded) {
  for (size_t i = 0; i < encoded.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(encoded[i]);
    if (c == '\r' && (i + 1 >= encoded.size() || encoded[i + 1] != '\n')) return "bare CR";
    if (c == '\n' && (i == 0 || encoded[i - 1] != '\r')) return "bare LF";
    if (c > 126 || (c < 32 && c != '\r' && c != '\n' && c != '\t')) return "unencoded byte";
  }
  for (const auto& line : lines_of(encoded)) {
    if (line.size() > 76) return "line longer than 76: " + line;
    if (!line.empty() && (line.back() == ' ' || line.back() == '\t')) return "trailing blank";
  }
  return "";
}

}  // namespace

TEST_CASE("quoted-printable output decodes back to the text", "[outbox][encoding]") {
  const std::vector<std::string> texts = {
      "",
      "plain ASCII line",
      "Olá José,\n\nRecebemos sua solicitação nº 2026.\nAtenção: responda acima.\n",
      "a=b == c=\n=",
      "trailing spaces   \ntrailing tab\t\nend with space ",
      "windows\r\nline\r\nends\r\n",
      "lone\rcarriage return",
      std::string("nul\0byte and \x7f del", 19),
      std::string(300, 'x'),
      std::string(200, '=') + "\n" + std::string(100, ' ') + "\n",
      "日本語のテキスト、とても長い行が続きます。日本語のテキスト、とても長い行が続きます。",
  };
  for (const auto& text : texts) {
    const std::string encoded = encode_quoted_printable(text);
    INFO(text);
    CHECK(qp_problem(encoded).empty());
    CHECK(decode_quoted_printable(encoded) == with_crlf(text));
  }
}

TEST_CASE("quoted-printable encodes the equals sign non-ASCII and trailing blanks", "[outbox][encoding]") {
  CHECK(encode_quoted_printable("a=b") == "a=3Db");
  CHECK(encode_quoted_printable("ç") == "=C3=A7");
  CHECK(encode_quoted_printable("end  \nnext") == "end =20\r\nnext");
  CHECK(encode_quoted_printable("tab\t") == "tab=09");
  CHECK(encode_quoted_printable("in between stays") == "in between stays");
  CHECK(encode_quoted_printable("a\nb\r\nc\rd") == "a\r\nb\r\nc\r\nd");
}

TEST_CASE("quoted-printable lines of exactly 76 stay whole and longer ones break softly", "[outbox][encoding]") {
  const std::string exactly(76, 'x');
  CHECK(encode_quoted_printable(exactly) == exactly);
  CHECK(encode_quoted_printable(exactly + "\n" + exactly) == exactly + "\r\n" + exactly);
  const std::string longer = encode_quoted_printable(std::string(77, 'x'));
  CHECK(longer == std::string(75, 'x') + "=\r\n" + "xx");
  // An encoded triplet is never split across a soft break.
  const std::string accents = encode_quoted_printable(std::string(74, 'x') + "çç");
  for (const auto& line : lines_of(accents)) CHECK(line.size() <= 76);
  CHECK(decode_quoted_printable(accents) == std::string(74, 'x') + "çç");
  // A trailing space that ends a 76-column line is encoded and still fits.
  const std::string spaced = encode_quoted_printable(std::string(73, 'x') + " ");
  CHECK(spaced == std::string(73, 'x') + "=20");
}

TEST_CASE("quoted-printable round-trips random text", "[outbox][encoding]") {
  std::mt19937 rng(8);
  const std::vector<std::string> pieces = {" ", "\t", "=", "a", "Z", "\n", "\r\n", "\r", "ç", "ã",
                                           "\xC3", "~", "\x7f", std::string(1, '\0'), "xxxxxxxxxx"};
  for (int round = 0; round < 3000; ++round) {
    std::string text;
    const int length = static_cast<int>(rng() % 200);
    for (int i = 0; i < length; ++i) text += pieces[rng() % pieces.size()];
    const std::string encoded = encode_quoted_printable(text);
    INFO(text);
    REQUIRE(qp_problem(encoded).empty());
    REQUIRE(decode_quoted_printable(encoded) == with_crlf(text));
  }
}

TEST_CASE("base64 lines are 72 characters and decode back to the bytes", "[outbox][encoding]") {
  for (size_t size : {0u, 1u, 2u, 3u, 53u, 54u, 55u, 1000u}) {
    std::string data;
    for (size_t i = 0; i < size; ++i) data += static_cast<char>((i * 37 + 11) & 0xFF);
    std::string encoded;
    encode_base64_lines(data, encoded);
    INFO(size);
    const auto lines = lines_of(encoded);
    for (size_t i = 0; i + 1 < lines.size(); ++i) CHECK(lines[i].size() == 72);
    CHECK(lines.back().size() <= 72);
    CHECK((encoded.size() < 2 || encoded.compare(encoded.size() - 2, 2, "\r\n") != 0));
    CHECK(decode_base64(encoded) == data);
  }
}

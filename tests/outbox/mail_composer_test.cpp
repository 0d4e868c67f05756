// mail_composer_test.cpp — what compose_mail writes is a mail other programs read the way we meant:
// CRLF only, headers and bodies that come back unchanged through our own parser (parse_message),
// the loop-guard headers present, no header injection through CR/LF, exact attachment bytes.
#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "daemon/outbox/mail_composer.h"
#include "parsers/mime_reader.h"

using namespace atendd;

namespace {

const std::string kSubject = "[#20261124000001] Recebemos sua solicitação";

MailParts opening_mail() {
  MailParts parts;
  parts.from = Address{"suporte@example.com", "Suporte Atendê"};
  parts.to = {Address{"jose@example.com", "José da Silva"}};
  parts.reply_to = Address{"suporte+tok123@example.com", "Suporte"};
  parts.subject = kSubject;
  parts.text = "Olá José,\n\nRecebemos sua solicitação nº 20261124000001.\nAtenção: responda acima desta linha.\n";
  parts.message_id = "atendd.20261124000001.1@example.com";
  parts.in_reply_to = "CAF=abc123@mail.example.net";
  parts.references = {"first@mail.example.net", "CAF=abc123@mail.example.net"};
  parts.auto_submitted = "auto-replied";
  parts.x_loop = "suporte@example.com";
  parts.date = 1795500000;
  return parts;
}

std::string head_of(const std::string& raw) { return raw.substr(0, raw.find("\r\n\r\n")); }

// The header lines (unfolded) of the top-level header block.
std::vector<std::string> header_lines(const std::string& raw) {
  std::vector<std::string> lines;
  const std::string head = head_of(raw);
  size_t at = 0;
  while (at <= head.size()) {
    size_t end = head.find("\r\n", at);
    if (end == std::string::npos) end = head.size();
    const std::string line = head.substr(at, end - at);
    if (!line.empty() && (line[0] == ' ' || line[0] == '\t') && !lines.empty())
      lines.back() += line;
    else
      lines.push_back(line);
    at = end + 2;
  }
  return lines;
}

// The raw (still encoded) value of the first header NAME, or "".
std::string raw_header(const std::string& raw, const std::string& name) {
  for (const auto& line : header_lines(raw)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos || colon != name.size()) continue;
    if (std::equal(name.begin(), name.end(), line.begin(),
                   [](char a, char b) { return std::tolower(a) == std::tolower(b); }))
      return line.substr(line.find_first_not_of(" \t", colon + 1));
  }
  return "";
}

bool starts_with_ci(const std::string& line, const std::string& prefix) {
  return line.size() >= prefix.size() &&
         std::equal(prefix.begin(), prefix.end(), line.begin(),
                    [](char a, char b) { return std::tolower(a) == std::tolower(b); });
}

std::string without_cr(std::string s) {
  s.erase(std::remove(s.begin(), s.end(), '\r'), s.end());
  return s;
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string binary_bytes() {
  std::string data;
  for (int round = 0; round < 9; ++round)
    for (int b = 0; b < 256; ++b) data += static_cast<char>((b * 7 + round) & 0xFF);
  data += std::string("\r\n\n\r\0end", 8);
  return data;
}

}  // namespace

TEST_CASE("a composed mail uses CRLF line ends only", "[outbox][composer]") {
  MailParts parts = opening_mail();
  parts.text = "linha um\nlinha dois\r\nlinha três\rfim\n";
  parts.html = "<p>Olá</p>\n<p>mundo</p>\n";
  parts.files = {FileToSend{"dados.bin", "application/octet-stream", binary_bytes()}};

  for (const bool multipart : {false, true}) {
    MailParts p = parts;
    if (!multipart) {
      p.html.reset();
      p.files.clear();
    }
    const std::string raw = compose_mail(p);
    INFO("multipart: " << multipart);
    REQUIRE(!raw.empty());
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '\n') REQUIRE((i > 0 && raw[i - 1] == '\r'));
      if (raw[i] == '\r') REQUIRE((i + 1 < raw.size() && raw[i + 1] == '\n'));
    }
    CHECK(raw.find("\r\n\r\n") != std::string::npos);
  }
}

TEST_CASE("a composed mail reads back with the same addresses ids subject and text", "[outbox][composer]") {
  const MailParts parts = opening_mail();
  const std::string raw = compose_mail(parts);

  const ParsedMessage back = parse_message(raw);

  CHECK(back.from.address == "suporte@example.com");
  CHECK(back.from.name == "Suporte Atendê");
  REQUIRE(back.to.size() == 1);
  CHECK(back.to[0].address == "jose@example.com");
  CHECK(back.to[0].name == "José da Silva");
  CHECK(back.subject == kSubject);
  CHECK(back.message_id == "atendd.20261124000001.1@example.com");
  CHECK(back.in_reply_to == "CAF=abc123@mail.example.net");
  CHECK(back.references == std::vector<std::string>{"first@mail.example.net", "CAF=abc123@mail.example.net"});
  REQUIRE(back.date.has_value());
  CHECK(*back.date == 1795500000);
  CHECK(trimmed(without_cr(back.text)) == trimmed(parts.text));
  CHECK(back.attachments.empty());
  CHECK(back.defects.empty());
}

TEST_CASE("the protocol tag of an encoded subject stays readable ASCII in the raw header", "[outbox][composer]") {
  const std::string raw = compose_mail(opening_mail());

  const std::string subject = raw_header(raw, "Subject");

  CHECK(subject.rfind("[#20261124000001] ", 0) == 0);
  for (unsigned char c : head_of(raw)) REQUIRE(c < 0x80);  // the whole header block is 7-bit
}

TEST_CASE("a long subject with accents comes back whole", "[outbox][composer]") {
  MailParts parts = opening_mail();
  parts.subject = "[#20261124000002] Atualização: sua solicitação de manutenção do equipamento está em "
                  "análise técnica e você será avisado quando houver novidades — obrigado pela paciência";

  const ParsedMessage back = parse_message(compose_mail(parts));

  CHECK(back.subject == parts.subject);
}

TEST_CASE("an automatic mail carries Reply-To Auto-Submitted and X-Loop", "[outbox][composer]") {
  const std::string raw = compose_mail(opening_mail());

  const ParsedMessage back = parse_message(raw);

  REQUIRE(back.reply_to.size() == 1);
  CHECK(back.reply_to[0].address == "suporte+tok123@example.com");
  REQUIRE(back.header("Auto-Submitted") != nullptr);
  CHECK(*back.header("Auto-Submitted") == "auto-replied");
  REQUIRE(back.header("X-Loop") != nullptr);
  CHECK(*back.header("X-Loop") == "suporte@example.com");
  CHECK(back.auto_submitted);
}

TEST_CASE("CR or LF in a subject or a name cannot inject a header", "[outbox][composer]") {
  MailParts parts = opening_mail();
  parts.subject = "x\r\nBcc: evil@example.com";
  parts.from.name = "Eve\r\nBcc: evil-from@example.com";
  parts.to = {Address{"jose@example.com", "Jo\nBcc: evil-to@example.com"},
              Address{"ana@example.com\r\nBcc: evil-addr@example.com", ""}};
  parts.reply_to = Address{"r@example.com", "R\rBcc: evil-reply@example.com"};
  parts.message_id = "id@example.com>\r\nBcc: <evil-id@example.com";
  parts.in_reply_to = "a@b\nBcc: evil-irt@example.com";
  parts.references = {"c@d\r\nBcc: evil-ref@example.com"};
  parts.x_loop = "suporte@example.com\r\nBcc: evil-loop@example.com";
  parts.extra_headers = {{"X-Ticket", "1\r\nBcc: evil-extra@example.com"},
                         {"X-Evil\r\nBcc", "evil-name@example.com"}};
  parts.files = {FileToSend{"a.txt\r\nBcc: evil-file@example.com", "text/plain\r\nBcc: evil-ct@example.com", "x"}};

  const std::string raw = compose_mail(parts);

  for (const auto& line : header_lines(raw)) {
    INFO(line);
    CHECK_FALSE(starts_with_ci(line, "Bcc"));
  }
  // Nor in the header block of any MIME part.
  CHECK(raw.find("\r\nBcc:") == std::string::npos);
  CHECK(raw.find("\nBcc:") == std::string::npos);
  const ParsedMessage back = parse_message(raw);
  CHECK(back.headers_named("Bcc").empty());
  CHECK(back.subject == "x Bcc: evil@example.com");
}

TEST_CASE("header_safe removes CR LF and NUL", "[outbox][composer]") {
  CHECK(header_safe("a\r\nb") == "a b");
  CHECK(header_safe("a\nb\rc") == "a b c");
  CHECK(header_safe(std::string("a\0b", 3)) == "a b");
  CHECK(header_safe("plain value") == "plain value");
  CHECK(header_safe("çã\r\n") == "çã ");
}

TEST_CASE("attachments come back with their non-ASCII file names and exact bytes", "[outbox][composer]") {
  MailParts parts = opening_mail();
  const std::string pdf = binary_bytes();
  const std::string csv = "nome;valor\r\nJoão;10\nMaria;20\r\n";
  parts.files = {FileToSend{"relatório de março.pdf", "application/pdf", pdf},
                 FileToSend{"planilha.csv", "text/csv", csv}};

  const ParsedMessage back = parse_message(compose_mail(parts));

  REQUIRE(back.attachments.size() == 2);
  CHECK(back.attachments[0].filename == "relatório de março.pdf");
  CHECK(back.attachments[0].content_type == "application/pdf");
  CHECK(back.attachments[0].data.size() == pdf.size());
  CHECK(back.attachments[0].data == pdf);
  CHECK(back.attachments[1].filename == "planilha.csv");
  CHECK(back.attachments[1].content_type == "text/csv");
  CHECK(back.attachments[1].data == csv);
  CHECK(trimmed(without_cr(back.text)) == trimmed(parts.text));
}

TEST_CASE("an HTML alternative goes along with the text when given", "[outbox][composer]") {
  MailParts parts = opening_mail();
  parts.html = "<p>Olá <b>José</b>, recebemos sua solicitação.</p>";

  const std::string raw = compose_mail(parts);
  const ParsedMessage back = parse_message(raw);

  CHECK(raw.find("multipart/alternative") != std::string::npos);
  REQUIRE(back.html.has_value());
  CHECK(back.html->find("<p>Olá <b>José</b>, recebemos sua solicitação.</p>") != std::string::npos);
  CHECK(trimmed(without_cr(back.text)) == trimmed(parts.text));
  CHECK(back.attachments.empty());
}

TEST_CASE("without HTML or files the mail is a single text part", "[outbox][composer]") {
  const std::string raw = compose_mail(opening_mail());

  CHECK(raw.find("multipart/") == std::string::npos);
  CHECK_FALSE(parse_message(raw).html.has_value());
}

TEST_CASE("a recipient name with a comma or quotes stays one recipient", "[outbox][composer]") {
  MailParts parts = opening_mail();
  parts.from = Address{"suporte@example.com", "Suporte, Atendimento"};
  parts.to = {Address{"ana@example.com", "Silva, Ana"}, Address{"bia@example.com", "Bia \"B\" <chefe>"}};
  parts.reply_to = Address{"suporte+tok123@example.com", "Suporte, respostas"};

  const ParsedMessage back = parse_message(compose_mail(parts));

  CHECK(back.from.address == "suporte@example.com");
  CHECK(back.from.name == "Suporte, Atendimento");
  REQUIRE(back.to.size() == 2);
  CHECK(back.to[0].address == "ana@example.com");
  CHECK(back.to[0].name == "Silva, Ana");
  CHECK(back.to[1].address == "bia@example.com");
  CHECK(back.to[1].name == "Bia \"B\" <chefe>");
  REQUIRE(back.reply_to.size() == 1);
  CHECK(back.reply_to[0].name == "Suporte, respostas");
}

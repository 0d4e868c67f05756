// forwarded_message_test.cpp — the forward detector (parsers/forwarded_message.h) on forwards as
// Outlook, Gmail and Thunderbird write them, inline and attached, in en and pt-BR
// (tests/data/forwards/: the shared corpus has no forward), and on replies that quote, which it
// must never take for forwards — including every message of the shared real-world corpus.
#include <filesystem>
#include <fstream>
#include <iterator>

#include <catch2/catch.hpp>

#include "parsers/forwarded_message.h"
#include "parsers/mime_reader.h"
#include "support/corpus.h"

using namespace atendd;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

ParsedMessage forward_file(const std::string& name) {
  return parse_message(read_file(std::string(ATENDD_SOURCE_DIR) + "/tests/data/forwards/" + name));
}

constexpr std::int64_t kTenFifteen = 1795439700;     // 2026-11-23 10:15 -0300
constexpr std::int64_t kTenFifteen42 = 1795439742;   // 2026-11-23 10:15:42 -0300

}  // namespace

TEST_CASE("inline forwards of Outlook Gmail and Thunderbird in en and pt-BR give the customer's sender text date and files", "[forward]") {
  struct Case {
    const char* file;
    const char* format;
    std::int64_t date;
    const char* subject;
    const char* first_line;
    const char* note;
  };
  const Case cases[] = {
      {"outlook_en_inline.eml", "outlook", kTenFifteen, "Invoice 4471 charged twice", "Hello Carlos,", "please open a ticket for Ana"},
      {"outlook_ptbr_inline.eml", "outlook", kTenFifteen, "Nota fiscal 4471 cobrada em duplicidade", "Olá Carlos,", "abram um atendimento"},
      {"gmail_en_inline.eml", "gmail", kTenFifteen, "Invoice 4471 charged twice", "Hello Carlos,", "Please open this one"},
      {"gmail_ptbr_inline.eml", "gmail", kTenFifteen, "Nota fiscal 4471 cobrada em duplicidade", "Olá Carlos,", "Abram para a Ana"},
      {"thunderbird_en_inline.eml", "thunderbird", kTenFifteen42, "Invoice 4471 charged twice", "Hello Carlos,", "opening it for her"},
      {"thunderbird_ptbr_inline.eml", "thunderbird", kTenFifteen42, "Nota fiscal 4471 cobrada em duplicidade", "Olá Carlos,", "abrindo para ela"},
  };
  for (const auto& c : cases) {
    INFO(c.file);
    const auto f = find_forwarded_message(forward_file(c.file));
    REQUIRE(f);
    CHECK(f->kind == ForwardedMessage::Kind::Inline);
    CHECK(f->format == c.format);
    CHECK(f->from.address == "ana.lima@cliente.com.br");
    CHECK(f->from.name == "Ana Lima");
    CHECK(f->subject == c.subject);
    REQUIRE(f->date);
    CHECK(*f->date == c.date);
    CHECK(f->text.rfind(c.first_line, 0) == 0);  // the customer's words, from the first line
    CHECK(f->text.find("Ana Lima") != std::string::npos);
    CHECK(f->text.find("Carlos Mendes <carlos") == std::string::npos);  // no header block left in it
    CHECK(f->note.find(c.note) != std::string::npos);
    CHECK(f->note.find("____") == std::string::npos);
    REQUIRE(f->attachments.size() == 1);
    CHECK(f->attachments[0].filename == "comprovante-4471.pdf");
    REQUIRE_FALSE(f->to.empty());
    CHECK(f->to[0].address == "carlos@atendd.test");
  }
}

TEST_CASE("attached forwards of Outlook Gmail and Thunderbird give the original message with its id and files", "[forward]") {
  for (const char* file : {"outlook_ptbr_attached.eml", "gmail_ptbr_attached.eml", "thunderbird_en_attached.eml"}) {
    INFO(file);
    const auto f = find_forwarded_message(forward_file(file));
    REQUIRE(f);
    CHECK(f->kind == ForwardedMessage::Kind::Attached);
    CHECK(f->from.address == "ana.lima@cliente.com.br");
    CHECK(f->message_id == "CAB7kq3xWm0N0pYt1Yw9o2kLcD8@mail.gmail.com");
    REQUIRE(f->date);
    CHECK(*f->date == kTenFifteen42);
    CHECK((f->text.rfind("Olá Carlos,", 0) == 0 || f->text.rfind("Hello Carlos,", 0) == 0));
    REQUIRE(f->attachments.size() == 1);
    CHECK(f->attachments[0].filename == "comprovante-4471.pdf");
    CHECK_FALSE(f->note.empty());
  }
}

TEST_CASE("client dates of forward header blocks are read in en and pt-BR and in the forward's zone", "[forward]") {
  auto date_of = [](const std::string& label_and_date, const std::string& zone) {
    ParsedMessage m;
    m.subject = "Fwd: x";
    m.headers.push_back({"Date", "Tue, 24 Nov 2026 09:00:00 " + zone});
    m.text = "---------- Forwarded message ---------\nFrom: Ana <ana@cliente.com.br>\n" + label_and_date +
             "\nSubject: x\n\nbody\n";
    const auto f = find_forwarded_message(m);
    return f && f->date ? *f->date : std::int64_t{-1};
  };
  CHECK(date_of("Date: Mon, Nov 23, 2026 at 10:15 AM", "-0300") == kTenFifteen);
  CHECK(date_of("Date: Mon, Nov 23, 2026 at 1:15 PM", "+0000") == kTenFifteen);
  CHECK(date_of("Date: seg., 23 de nov. de 2026 às 10:15", "-0300") == kTenFifteen);
  CHECK(date_of("Enviada em: segunda-feira, 23 de novembro de 2026 10:15", "-0300") == kTenFifteen);
  CHECK(date_of("Sent: Monday, November 23, 2026 10:15 AM", "-0300") == kTenFifteen);
  CHECK(date_of("Enviado: 23/11/2026 10:15", "-0300") == kTenFifteen);
  CHECK(date_of("Sent: 11/23/2026 10:15 AM", "-0300") == kTenFifteen);
  CHECK(date_of("Date: Mon, 23 Nov 2026 10:15:42 -0300", "+0100") == kTenFifteen42);
  CHECK(date_of("Date: 23 November 2026 at 10:15:00 GMT-3", "+0000") == kTenFifteen);
  CHECK(date_of("Date: sometime last week", "-0300") == -1);  // unreadable: no date, still a forward
}

TEST_CASE("a reply that quotes a forward or an Outlook header block is never taken for a forward", "[forward]") {
  ParsedMessage m;
  m.from = {"ana@cliente.com.br", "Ana"};
  // Outlook writes the same header block for replies: only the subject tells them apart.
  m.subject = "RE: Invoice 4471";
  m.text = "Thanks, that solved it.\n\nFrom: Carlos <carlos@atendd.test>\nSent: Monday, November 23, 2026 10:15 AM\n"
           "To: Ana <ana@cliente.com.br>\nSubject: Invoice 4471\n\nWe refunded it.\n";
  CHECK_FALSE(find_forwarded_message(m));
  m.subject = "Invoice 4471";  // no prefix at all: a reply too for Outlook's block
  CHECK_FALSE(find_forwarded_message(m));

  // A Gmail forward quoted under an attribution line, or in "> " lines.
  m.subject = "Re: Fwd: Invoice 4471";
  m.text = "Got it.\n\nOn Mon, Nov 23, 2026 at 10:15 AM Carlos <carlos@atendd.test> wrote:\n"
           "> ---------- Forwarded message ---------\n> From: Bob <bob@x.com>\n> Date: Mon, Nov 23, 2026\n>\n> hi\n";
  CHECK_FALSE(find_forwarded_message(m));
  m.subject = "Fwd: Invoice 4471";  // even when the subject says forward, the block is a quote
  CHECK_FALSE(find_forwarded_message(m));
  m.text = "Got it.\n\nEm seg., 23 de nov. de 2026 às 10:15, Carlos <carlos@atendd.test> escreveu:\n\n"
           "---------- Mensagem encaminhada ---------\nDe: Bob <bob@x.com>\nDate: seg., 23 de nov. de 2026\n\nhi\n";
  CHECK_FALSE(find_forwarded_message(m));
}

TEST_CASE("a forward whose sender cannot be read or a reply with an attached message is no forward", "[forward]") {
  ParsedMessage m;
  m.subject = "Fwd: x";
  m.text = "---------- Forwarded message ---------\nFrom: Ana Lima\nDate: Mon, Nov 23, 2026 at 10:15 AM\n\nbody\n";
  CHECK_FALSE(find_forwarded_message(m));

  // mail014 of the corpus: "AW:" with the message it answers attached.
  const std::string path = test::corpus_dir() + "/zammad/mail014.box";
  if (!std::filesystem::exists(path)) {
    WARN("mail corpus not found: part skipped");
    return;
  }
  const ParsedMessage reply = parse_message(read_file(path));
  REQUIRE_FALSE(reply.attachments.empty());
  CHECK_FALSE(find_forwarded_message(reply));
}

TEST_CASE("no message of the real-world corpus is taken for a forward", "[forward][corpus]") {
  const std::string dir = test::corpus_dir() + "/zammad";
  if (!std::filesystem::exists(dir)) {
    WARN("mail corpus not found at " << dir << ": test skipped");
    return;
  }
  int read = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".box") continue;
    const ParsedMessage m = parse_message(read_file(entry.path().string()));
    INFO(entry.path().filename().string() << ": " << m.subject);
    CHECK_FALSE(find_forwarded_message(m));
    ++read;
  }
  CHECK(read > 50);
}

TEST_CASE("forward and reply prefixes are told apart in en pt-BR and de", "[forward]") {
  for (const char* s : {"Fwd: a", "FW: a", "ENC: a", "Enc: a", "TR: a", "WG: a", "[EXT] Fwd: a"}) {
    INFO(s);
    CHECK(is_forward_subject(s));
    CHECK_FALSE(is_reply_subject(s));
  }
  for (const char* s : {"Re: a", "RES: a", "AW: a", "Re: Fwd: a"}) {
    INFO(s);
    CHECK(is_reply_subject(s));
    CHECK_FALSE(is_forward_subject(s));
  }
  CHECK_FALSE(is_forward_subject("Encontro amanhã"));
  CHECK_FALSE(is_forward_subject("Ticket 1234: forward this"));
}

TEST_CASE("giant numbers and junk in a forwarded header block never throw", "[forward]") {
  ParsedMessage m;
  m.subject = "Fwd: x";
  m.headers.push_back({"Date", "Tue, 24 Nov 2026 09:00:00 +99999999999999:00"});
  for (const std::string& date : std::vector<std::string>{"99999999999999999999:15 Nov 2026", "1/2/99999999999999999999", "Nov 23 2026 GMT+99999999999:00",
                                 "23 Nov 2026 10:99999999999999", ":::: // -- ++", std::string(5000, '9')}) {
    INFO(date);
    m.text = "---------- Forwarded message ---------\nFrom: Ana <ana@cliente.com.br>\nDate: " + date + "\nSubject: x\n\nbody\n";
    std::optional<ForwardedMessage> f;
    REQUIRE_NOTHROW(f = find_forwarded_message(m));
    REQUIRE(f);
    CHECK(f->from.address == "ana@cliente.com.br");
  }
}

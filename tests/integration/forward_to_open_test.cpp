// forward_to_open_test.cpp — an agent forwards a customer's e-mail to the support address
// (Outlook, Gmail and Thunderbird; inline and attached; en and pt-BR; tests/data/forwards/): the
// real `atendd deliver` opens the ticket in the customer's name with the customer's text, date and
// attachments, the opening e-mail reaches the customer at a real SMTP server, and the agent is
// recorded as who opened it. A stranger's forward, and an agent's forward without proof, stay
// ordinary tickets of the forwarder (invariant 5).
#include <filesystem>
#include <regex>

#include <catch2/catch.hpp>

#include "storage/sqlite_store.h"
#include "support/processes.h"

using namespace atendd;
using namespace atendd::test;

namespace {

constexpr std::int64_t kTenFifteen = 1795439700;    // 2026-11-23 10:15 -0300
constexpr std::int64_t kTenFifteen42 = 1795439742;  // 2026-11-23 10:15:42 -0300

struct Desk {
  TempDir dir;
  std::string config_path, state_dir;

  Desk(int smtp_port, const std::string& type_extra = "") {
    state_dir = dir.path() + "/state";
    config_path = dir.path() + "/atendd.ini";
    write_file(dir.path() + "/secret", "0123456789abcdef0123456789abcdef\n");
    write_file(config_path,
               "[server]\nname = Suporte Teste\naddress = suporte@atendd.test\n"
               "reply_address = suporte+{token}@atendd.test\nstate_dir = " + state_dir + "\n"
               "secret_file = " + dir.path() + "/secret\ntrusted_authserv_id = mx.atendd.test\nlocale = pt_BR\n"
               "[smtp]\nhost = 127.0.0.1\nport = " + std::to_string(smtp_port) + "\ntimeout_seconds = 5\n"
               "[agent.maria]\nemail = maria@atendd.test\nname = Maria Souza\ndepartment = suporte\n"
               "[agent.carlos]\nemail = carlos@atendd.test\nname = Carlos Mendes\ndepartment = financeiro\n"
               "[type.geral]\nname = Geral\ndepartment = suporte\nassign = agent:maria\n" + type_extra);
  }
  std::string forward_address() {
    const RunResult r = run_atendd({"--config", config_path, "agent", "forward-address", "carlos"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    std::string a = r.out;
    while (!a.empty() && (a.back() == '\n' || a.back() == '\r')) a.pop_back();
    return a;
  }
  RunResult deliver(const std::string& message) {
    return run_atendd({"--config", config_path, "deliver", "--mailbox", "suporte"}, message);
  }
  std::unique_ptr<SqliteStore> store() { return std::make_unique<SqliteStore>(state_dir + "/atendd.db"); }
};

std::string forward_file(const std::string& name) {
  return read_file(std::string(ATENDD_SOURCE_DIR) + "/tests/data/forwards/" + name);
}

// The message with its To header replaced (the agent writes to the forwarding address).
std::string addressed_to(const std::string& raw, const std::string& to) {
  return std::regex_replace(raw, std::regex("(^|\r\n)To: [^\r]*"), "$1To: " + to, std::regex_constants::format_first_only);
}
std::string from_replaced(const std::string& raw, const std::string& from) {
  return std::regex_replace(raw, std::regex("(^|\r\n)From: [^\r]*"), "$1From: " + from, std::regex_constants::format_first_only);
}

std::string protocol_in(const std::string& out) {
  std::smatch m;
  return std::regex_search(out, m, std::regex("ticket_created ([0-9]+)")) ? m[1].str() : "";
}

const ReceivedMail* mail_to(const std::vector<ReceivedMail>& mails, const std::string& rcpt) {
  for (const auto& m : mails)
    if (std::find(m.rcpt_tos.begin(), m.rcpt_tos.end(), rcpt) != m.rcpt_tos.end()) return &m;
  return nullptr;
}

// The ticket's articles written by people: without the logs of the mails we sent (opening, forward).
std::vector<Article> message_articles(Store& store, TicketId id) {
  std::vector<Article> out;
  for (auto& a : store.articles(id))
    if (a.author != "system") out.push_back(std::move(a));
  return out;
}

bool has_history(Store& store, TicketId id, const std::string& field, const std::string& to) {
  for (const auto& h : store.history(id))
    if (h.field == field && h.to_value == to) return true;
  return false;
}

}  // namespace

TEST_CASE("an agent's forward from Outlook Gmail or Thunderbird opens the ticket in the customer's name and mails the customer", "[forward][smtp]") {
  struct Case {
    const char* file;
    std::int64_t date;
    const char* first_line;
    const char* subject;
  };
  const Case cases[] = {
      {"outlook_en_inline.eml", kTenFifteen, "Hello Carlos,", "Invoice 4471 charged twice"},
      {"outlook_ptbr_inline.eml", kTenFifteen, "Olá Carlos,", "Nota fiscal 4471 cobrada em duplicidade"},
      {"gmail_en_inline.eml", kTenFifteen, "Hello Carlos,", "Invoice 4471 charged twice"},
      {"gmail_ptbr_inline.eml", kTenFifteen, "Olá Carlos,", "Nota fiscal 4471 cobrada em duplicidade"},
      {"thunderbird_en_inline.eml", kTenFifteen42, "Hello Carlos,", "Invoice 4471 charged twice"},
      {"thunderbird_ptbr_inline.eml", kTenFifteen42, "Olá Carlos,", "Nota fiscal 4471 cobrada em duplicidade"},
      {"outlook_ptbr_attached.eml", kTenFifteen42, "Olá Carlos,", "Nota fiscal 4471 cobrada em duplicidade"},
      {"gmail_ptbr_attached.eml", kTenFifteen42, "Olá Carlos,", "Nota fiscal 4471 cobrada em duplicidade"},
      {"thunderbird_en_attached.eml", kTenFifteen42, "Hello Carlos,", "Invoice 4471 charged twice"},
  };
  for (const auto& c : cases) {
    INFO(c.file);
    TempDir sink_dir;
    SmtpSink sink(sink_dir.path());
    Desk desk(sink.port());
    const RunResult run = desk.deliver(addressed_to(forward_file(c.file), desk.forward_address()));
    INFO(run.out << run.err);
    REQUIRE(run.exit_code == 0);
    CHECK(run.out.find("opened by agent carlos for ana.lima@cliente.com.br") != std::string::npos);
    const std::string protocol = protocol_in(run.out);
    REQUIRE_FALSE(protocol.empty());

    auto store = desk.store();
    const auto ticket = store->ticket_by_protocol(protocol);
    REQUIRE(ticket);
    CHECK(store->contact(ticket->contact_id)->address == "ana.lima@cliente.com.br");
    CHECK(store->contact(ticket->contact_id)->name == "Ana Lima");
    CHECK(ticket->subject == c.subject);
    CHECK(ticket->responsible == "maria");  // the type's rule: forward_assigns_forwarder is off
    const auto articles = message_articles(*store, ticket->id);
    REQUIRE(articles.size() == 2);
    const Article& customer = articles[0];
    CHECK(customer.kind == ArticleKind::CustomerMessage);
    CHECK(customer.author == "ana.lima@cliente.com.br");
    CHECK(customer.text.rfind(c.first_line, 0) == 0);
    CHECK(customer.text.find("Carlos Mendes <carlos") == std::string::npos);
    CHECK(customer.created_at == c.date);
    const auto files = store->attachments(customer.id);
    REQUIRE(files.size() == 1);
    CHECK(files[0].filename == "comprovante-4471.pdf");
    CHECK(articles[1].kind == ArticleKind::InternalNote);  // the agent's words above the forward
    CHECK(articles[1].author == "carlos");
    CHECK(has_history(*store, ticket->id, "opened_by", "carlos"));

    const auto mails = sink.wait_for(2, 15);
    const ReceivedMail* opening = mail_to(mails, "ana.lima@cliente.com.br");
    REQUIRE(opening != nullptr);
    CHECK(opening->header("Subject").find("[#" + protocol + "]") != std::string::npos);
    CHECK(opening->header("To").find("ana.lima@cliente.com.br") != std::string::npos);
    CHECK(mail_to(mails, "carlos@atendd.test") == nullptr);  // the forwarder is no customer
    CHECK(mail_to(mails, "maria@atendd.test") != nullptr);   // the responsible gets the ticket
  }
}

TEST_CASE("our MTA's Authentication-Results proves the forwarding agent as it proves a replying one", "[forward][smtp]") {
  TempDir sink_dir;
  SmtpSink sink(sink_dir.path());
  Desk desk(sink.port());
  const std::string raw = "Authentication-Results: mx.atendd.test; dkim=pass; dmarc=pass header.from=atendd.test\r\n" +
                          forward_file("gmail_en_inline.eml");
  const RunResult run = desk.deliver(raw);
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  auto store = desk.store();
  const auto ticket = store->ticket_by_protocol(protocol_in(run.out));
  REQUIRE(ticket);
  CHECK(store->contact(ticket->contact_id)->address == "ana.lima@cliente.com.br");
  CHECK(has_history(*store, ticket->id, "opened_by", "carlos"));
}

TEST_CASE("a type with forward_assigns_forwarder makes the forwarding agent responsible", "[forward][smtp]") {
  TempDir sink_dir;
  SmtpSink sink(sink_dir.path());
  Desk desk(sink.port(), "forward_assigns_forwarder = true\n");
  const RunResult run = desk.deliver(addressed_to(forward_file("outlook_ptbr_attached.eml"), desk.forward_address()));
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  auto store = desk.store();
  const auto ticket = store->ticket_by_protocol(protocol_in(run.out));
  REQUIRE(ticket);
  CHECK(ticket->responsible == "carlos");
  CHECK(has_history(*store, ticket->id, "responsible", "carlos"));
  const auto mails = sink.wait_for(2, 15);
  CHECK(mail_to(mails, "ana.lima@cliente.com.br") != nullptr);
  CHECK(mail_to(mails, "carlos@atendd.test") != nullptr);  // as responsible, the ticket's forward
}

TEST_CASE("a stranger's forward stays the stranger's ticket and the forwarded sender hears nothing", "[forward][smtp]") {
  TempDir sink_dir;
  SmtpSink sink(sink_dir.path());
  Desk desk(sink.port());
  // Even sent to an agent's forwarding address: the address alone proves nothing.
  const std::string raw = from_replaced(addressed_to(forward_file("gmail_ptbr_inline.eml"), desk.forward_address()),
                                        "Pedro Alves <pedro@outra-empresa.com>");
  const RunResult run = desk.deliver(raw);
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  CHECK(run.out.find("opened by agent") == std::string::npos);
  auto store = desk.store();
  const auto ticket = store->ticket_by_protocol(protocol_in(run.out));
  REQUIRE(ticket);
  CHECK(store->contact(ticket->contact_id)->address == "pedro@outra-empresa.com");
  const auto articles = message_articles(*store, ticket->id);
  REQUIRE(articles.size() == 1);
  CHECK(articles[0].author == "pedro@outra-empresa.com");
  CHECK(articles[0].text.find("Mensagem encaminhada") != std::string::npos);  // the whole forward, as sent
  for (const auto& h : store->history(ticket->id)) CHECK(h.field != "opened_by");
  const auto mails = sink.wait_for(2, 15);
  CHECK(mail_to(mails, "pedro@outra-empresa.com") != nullptr);
  CHECK(mail_to(mails, "ana.lima@cliente.com.br") == nullptr);
}

TEST_CASE("an agent's forward without the forwarding address or the MTA's proof is the agent's own ticket", "[forward][smtp]") {
  TempDir sink_dir;
  SmtpSink sink(sink_dir.path());
  Desk desk(sink.port());
  const RunResult run = desk.deliver(forward_file("thunderbird_en_attached.eml"));  // To: suporte@ only
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  auto store = desk.store();
  const auto ticket = store->ticket_by_protocol(protocol_in(run.out));
  REQUIRE(ticket);
  CHECK(store->contact(ticket->contact_id)->address == "carlos@atendd.test");
  const auto mails = sink.wait_for(2, 15);
  CHECK(mail_to(mails, "ana.lima@cliente.com.br") == nullptr);
}

TEST_CASE("the same forward delivered twice opens one ticket and mails the customer once", "[forward][smtp]") {
  TempDir sink_dir;
  SmtpSink sink(sink_dir.path());
  Desk desk(sink.port());
  const std::string raw = addressed_to(forward_file("thunderbird_ptbr_inline.eml"), desk.forward_address());
  const RunResult first = desk.deliver(raw);
  const RunResult second = desk.deliver(raw);
  INFO(first.out << second.out);
  CHECK(first.out.rfind("ticket_created", 0) == 0);
  CHECK(second.out.rfind("duplicate", 0) == 0);
  sink.wait_for(3, 5);
  int to_customer = 0;
  for (const auto& m : sink.mails())
    to_customer += std::count(m.rcpt_tos.begin(), m.rcpt_tos.end(), "ana.lima@cliente.com.br") > 0;
  CHECK(to_customer == 1);
}

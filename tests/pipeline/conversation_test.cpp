// conversation_test.cpp — the inbound path on a real SQLite store with the real templates, for
// every threading and loop rule: replies land in their ticket only when the sender belongs to it
// or carries its token; agents are verified; relays reach the other side; automatic mail never
// answers, reopens or loops; bounces become notes.
#include <map>
#include <regex>
#include <set>

#include <sqlite3.h>

#include "daemon/pipeline/inbound.h"
#include "support/desk.h"

using namespace atendd;

namespace {

// support/desk.h's desk on the conversation configuration (one type, auto answers allowed).
struct Desk : test::Desk {
  explicit Desk(const std::string& extra = "")
      : test::Desk(
            "[server]\nname = Suporte\naddress = suporte@example.com\nreply_address = suporte+{token}@example.com\n"
            "auto_reply_limit = 10\n"
            "[agent.maria]\nemail = maria@example.com\nname = Maria Souza\ndepartment = suporte\n"
            "[type.geral]\nname = Geral\ndepartment = suporte\nassign = agent:maria\nreopen_days = 30\n"
            "watchers = gerente@example.com\n" + extra,
            "test") {}

  Outcome deliver(const std::string& headers, const std::string& body = "Texto.\r\n") {
    return test::Desk::deliver(headers, body);
  }
  // The mails to `address`, waiting or sent.
  std::vector<OutboxMail> mails_to(const std::string& address) {
    return mails_in({OutboxState::Pending, OutboxState::Sent}, address);
  }
  size_t articles_of_kind(const std::string& protocol, ArticleKind kind) {
    size_t n = 0;
    for (const auto& a : store.articles(ticket(protocol).id)) n += a.kind == kind;
    return n;
  }
  std::string token(const std::string& protocol) { return ticket(protocol).reply_token; }
  // The Message-ID of the last mail queued to `address`.
  std::string last_mail_id(const std::string& address) {
    auto mails = mails_to(address);
    return mails.empty() ? "" : mails.back().message_id;
  }
};

std::string header_of(const std::string& raw, const std::string& name) {
  std::smatch m;
  if (std::regex_search(raw, m, std::regex("\r\n" + name + ": ([^\r]*)"))) return m[1];
  return "";
}

const char* kCustomer = "From: Ana Lima <ana@cliente.org>\r\nTo: suporte@example.com\r\n";

}  // namespace

TEST_CASE("a reply with the subject tag lands in its ticket whatever the client did to the prefix and brackets", "[threading]") {
  Desk desk;
  const Outcome opened = desk.deliver(std::string(kCustomer) + "Subject: Pedido atrasado\r\n");
  REQUIRE(opened.kind == Outcome::Kind::TicketCreated);
  for (const std::string& subject : {"Re: [#" + opened.protocol + "] Pedido atrasado",
                                    "RES: RES: [#" + opened.protocol + "] Pedido",
                                    "ENC: (#" + opened.protocol + ") Pedido", "AW: #" + opened.protocol}) {
    const Outcome reply = desk.deliver(std::string(kCustomer) + "Subject: " + subject + "\r\n");
    INFO(subject);
    CHECK(reply.kind == Outcome::Kind::Appended);
    CHECK(reply.protocol == opened.protocol);
  }
  CHECK(desk.articles_of_kind(opened.protocol, ArticleKind::CustomerMessage) == 5);
}

TEST_CASE("a reply quoting only our Message-ID in In-Reply-To lands in its ticket", "[threading]") {
  Desk desk;
  const Outcome opened = desk.deliver(std::string(kCustomer) + "Subject: Nota fiscal\r\n");
  const std::string ours = desk.last_mail_id("ana@cliente.org");
  REQUIRE_FALSE(ours.empty());
  const Outcome reply = desk.deliver(std::string(kCustomer) + "Subject: outra coisa\r\nIn-Reply-To: <" + ours + ">\r\n");
  CHECK(reply.kind == Outcome::Kind::Appended);
  CHECK(reply.protocol == opened.protocol);
}

TEST_CASE("someone writing from another address through the ticket's reply address joins the conversation", "[threading]") {
  Desk desk;
  const Outcome opened = desk.deliver(std::string(kCustomer) + "Subject: Garantia\r\n");
  const Outcome reply = desk.deliver("From: marido@cliente.org\r\nTo: suporte+" + desk.token(opened.protocol) +
                                     "@example.com\r\nSubject: sobre a garantia\r\n");
  CHECK(reply.kind == Outcome::Kind::Appended);
  CHECK(reply.protocol == opened.protocol);
}

TEST_CASE("a stranger writing with a guessed protocol opens a new ticket instead", "[threading][security]") {
  Desk desk;
  const Outcome opened = desk.deliver(std::string(kCustomer) + "Subject: Dados pessoais\r\n");
  const Outcome stranger = desk.deliver("From: curioso@outro.org\r\nTo: suporte@example.com\r\nSubject: Re: [#" +
                                        opened.protocol + "] Dados pessoais\r\n");
  CHECK(stranger.kind == Outcome::Kind::TicketCreated);
  CHECK(stranger.protocol != opened.protocol);
  CHECK(desk.articles_of_kind(opened.protocol, ArticleKind::CustomerMessage) == 1);
}

TEST_CASE("an agent's reply through the ticket's reply address is relayed to the customer", "[conversation]") {
  Desk desk;
  const Outcome opened = desk.deliver(std::string(kCustomer) + "Subject: Troca de produto\r\n",
                                      "Quero trocar o produto.\r\n");
  const std::string forward_id = desk.last_mail_id("maria@example.com");
  const Outcome reply = desk.deliver(
      "From: Maria Souza <maria@example.com>\r\nTo: Suporte <suporte+" + desk.token(opened.protocol) +
          "@example.com>\r\nSubject: Re: [#" + opened.protocol + "] Troca de produto\r\nIn-Reply-To: <" + forward_id + ">\r\n",
      "Pode trazer na loja amanha.\r\n\r\nEm ter., 24 de nov. de 2026 Suporte escreveu:\r\n> Quero trocar o produto.\r\n");
  REQUIRE(reply.kind == Outcome::Kind::Appended);
  const Ticket t = desk.ticket(opened.protocol);
  CHECK(t.status == TicketStatus::WaitingCustomer);
  CHECK(t.first_response_at.has_value());
  const auto to_customer = desk.mails_to("ana@cliente.org");
  REQUIRE(to_customer.size() == 2);  // opening, then the relayed reply
  const std::string& raw = to_customer.back().raw;
  CHECK(to_customer.back().template_name == "reply");
  CHECK(raw.find("Pode trazer na loja amanha.") != std::string::npos);
  CHECK(raw.find("> Quero trocar") == std::string::npos);   // quoted history stripped
  CHECK(raw.find("maria@example.com") == std::string::npos);  // the agent's own address stays private
  CHECK(header_of(raw, "In-Reply-To") == "<m1@test>");        // under the customer's message
  CHECK(header_of(raw, "Auto-Submitted").empty());            // a person's words, not automatic
}

TEST_CASE("a forged agent From without the ticket's token is not taken for the agent", "[conversation][security]") {
  Desk desk;
  const Outcome opened = desk.deliver(std::string(kCustomer) + "Subject: Reembolso\r\n");
  const Outcome forged = desk.deliver("From: Maria Souza <maria@example.com>\r\nTo: suporte@example.com\r\n"
                                      "Subject: Re: [#" + opened.protocol + "] Reembolso\r\n",
                                      "Reembolso aprovado, mande seus dados bancarios.\r\n");
  CHECK(forged.protocol != opened.protocol);
  for (const auto& mail : desk.mails_to("ana@cliente.org")) CHECK(mail.template_name != "reply");
  CHECK(desk.ticket(opened.protocol).status == TicketStatus::New);
}

TEST_CASE("an agent's mail verified by our MTA's Authentication-Results counts as the agent", "[conversation][security]") {
  Desk desk("");
  desk.config.server.trusted_authserv_id = "mx.example.com";
  const Outcome opened = desk.deliver(std::string(kCustomer) + "Subject: Entrega\r\n");
  const Outcome reply = desk.deliver("Authentication-Results: mx.example.com; dkim=pass; dmarc=pass header.from=example.com\r\n"
                                     "From: maria@example.com\r\nTo: suporte@example.com\r\nSubject: Re: [#" +
                                     opened.protocol + "] Entrega\r\n",
                                     "Chega amanha.\r\n");
  CHECK(reply.protocol == opened.protocol);
  CHECK(desk.mails_to("ana@cliente.org").back().template_name == "reply");
}

TEST_CASE("an agent's #note stays inside and is never relayed", "[conversation][security]") {
  Desk desk;
  const Outcome opened = desk.deliver(std::string(kCustomer) + "Subject: Cliente dificil\r\n");
  desk.deliver("From: maria@example.com\r\nTo: suporte+" + desk.token(opened.protocol) + "@example.com\r\nSubject: Re: [#" +
                   opened.protocol + "]\r\n",
               "#note\r\nEste cliente ja pediu reembolso duas vezes.\r\n");
  CHECK(desk.mails_to("ana@cliente.org").size() == 1);  // the opening only
  const auto articles = desk.store.articles(desk.ticket(opened.protocol).id);
  REQUIRE(articles.size() == 4);  // the customer's message, the opening e-mail, the forward, the note
  CHECK(articles.back().kind == ArticleKind::InternalNote);
}

TEST_CASE("the customer's answer goes to the responsible agent and the ticket back to in progress", "[conversation]") {
  Desk desk;
  const Outcome opened = desk.deliver(std::string(kCustomer) + "Subject: Senha\r\n");
  desk.deliver("From: maria@example.com\r\nTo: suporte+" + desk.token(opened.protocol) + "@example.com\r\nSubject: Re: [#" +
                   opened.protocol + "]\r\n",
               "Qual o seu usuario?\r\n");
  REQUIRE(desk.ticket(opened.protocol).status == TicketStatus::WaitingCustomer);
  desk.deliver(std::string(kCustomer) + "Cc: Chefe <chefe@cliente.org>\r\nSubject: Re: [#" + opened.protocol + "] Senha\r\n",
               "Meu usuario e ana.lima\r\n\r\nOn Tue, Nov 24, 2026 Suporte wrote:\r\n> Qual o seu usuario?\r\n");
  const Ticket t = desk.ticket(opened.protocol);
  CHECK(t.status == TicketStatus::InProgress);
  const auto to_agent = desk.mails_to("maria@example.com");
  REQUIRE(to_agent.back().template_name == "customer_update");
  CHECK(to_agent.back().raw.find("ana.lima") != std::string::npos);
  const auto watchers = desk.store.watchers(t.id);
  CHECK(std::find(watchers.begin(), watchers.end(), "chefe@cliente.org") != watchers.end());

  // The next agent reply reaches the Cc'd person too, but not the type's watcher.
  desk.deliver("From: maria@example.com\r\nTo: suporte+" + desk.token(opened.protocol) + "@example.com\r\nSubject: Re: [#" +
                   opened.protocol + "]\r\n",
               "Senha redefinida.\r\n");
  CHECK(desk.mails_to("chefe@cliente.org").size() == 1);
  for (const auto& m : desk.mails_to("gerente@example.com")) CHECK(m.template_name != "reply");
}

TEST_CASE("a customer reply to a closed ticket reopens it inside the type's window", "[conversation]") {
  Desk desk;
  const Outcome opened = desk.deliver(std::string(kCustomer) + "Subject: Instalacao\r\n");
  Ticket t = desk.ticket(opened.protocol);
  t.status = TicketStatus::Closed;
  t.closed_at = desk.clock.now();
  desk.store.update_ticket(t);
  desk.clock.advance(3 * 86400);
  const Outcome reply = desk.deliver(std::string(kCustomer) + "Subject: Re: [#" + opened.protocol + "] Instalacao\r\n",
                                     "Voltou a dar problema.\r\n");
  CHECK(reply.protocol == opened.protocol);
  t = desk.ticket(opened.protocol);
  CHECK(t.status == TicketStatus::Reopened);
  CHECK(t.times_reopened == 1);
  CHECK(desk.mails_to("maria@example.com").back().template_name == "reopened");
}

TEST_CASE("a customer reply to a ticket closed longer than the window opens a new ticket linked to it", "[conversation]") {
  Desk desk;
  const Outcome opened = desk.deliver(std::string(kCustomer) + "Subject: Instalacao\r\n");
  Ticket t = desk.ticket(opened.protocol);
  t.status = TicketStatus::Closed;
  t.closed_at = desk.clock.now();
  desk.store.update_ticket(t);
  desk.clock.advance(31 * 86400);
  const Outcome reply = desk.deliver(std::string(kCustomer) + "Subject: Re: [#" + opened.protocol + "] Instalacao\r\n");
  CHECK(reply.kind == Outcome::Kind::TicketCreated);
  CHECK(reply.protocol != opened.protocol);
  CHECK(desk.ticket(opened.protocol).status == TicketStatus::Closed);
  bool linked = false;
  for (const auto& h : desk.store.history(desk.ticket(reply.protocol).id))
    linked = linked || (h.field == "linked" && h.to_value == opened.protocol);
  CHECK(linked);
}

TEST_CASE("an out-of-office reply is stored on its ticket but changes nothing and is answered by nobody", "[loops]") {
  Desk desk;
  const Outcome opened = desk.deliver(std::string(kCustomer) + "Subject: Orcamento\r\n");
  desk.deliver("From: maria@example.com\r\nTo: suporte+" + desk.token(opened.protocol) + "@example.com\r\nSubject: Re: [#" +
                   opened.protocol + "]\r\n",
               "Segue o orcamento.\r\n");
  const size_t to_agent = desk.mails_to("maria@example.com").size();
  const Outcome ooo = desk.deliver(std::string(kCustomer) + "Auto-Submitted: auto-replied\r\nSubject: Ausente: [#" +
                                   opened.protocol + "] Orcamento\r\n",
                                   "Estou de ferias ate segunda.\r\n");
  CHECK(ooo.protocol == opened.protocol);
  CHECK(desk.ticket(opened.protocol).status == TicketStatus::WaitingCustomer);
  CHECK(desk.mails_to("maria@example.com").size() == to_agent);
  CHECK(desk.mails_to("ana@cliente.org").size() == 2);
}

TEST_CASE("a bounce of our mail becomes an internal note and marks the address failing", "[loops]") {
  Desk desk;
  const Outcome opened = desk.deliver("From: errado@nao-existe.org\r\nTo: suporte@example.com\r\nSubject: Oi\r\n");
  const std::string ours = desk.last_mail_id("errado@nao-existe.org");
  const Outcome bounce = desk.deliver(
      "From: MAILER-DAEMON@mx.example.com\r\nTo: suporte@example.com\r\nSubject: Undelivered Mail Returned to Sender\r\n"
      "MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n",
      "--b\r\nContent-Type: text/plain\r\n\r\nUser unknown.\r\n"
      "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.com\r\n\r\n"
      "Final-Recipient: rfc822; errado@nao-existe.org\r\nAction: failed\r\nStatus: 5.1.1\r\n"
      "--b\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <" + ours + ">\r\nSubject: x\r\n--b--\r\n");
  CHECK(bounce.kind == Outcome::Kind::Appended);
  CHECK(bounce.protocol == opened.protocol);
  const auto articles = desk.store.articles(desk.ticket(opened.protocol).id);
  CHECK(articles.back().kind == ArticleKind::InternalNote);
  CHECK(desk.mails_to("MAILER-DAEMON@mx.example.com").empty());
  CHECK(desk.mails_to("mailer-daemon@mx.example.com").empty());
}

TEST_CASE("an auto-responder without headers gets at most the hourly limit of automatic mails", "[loops]") {
  Desk desk;
  // A naive auto-responder answers every mail with a fresh subject and no References.
  for (int i = 0; i < 15; ++i)
    desk.deliver("From: robo@loja.org\r\nTo: suporte@example.com\r\nSubject: Resposta automatica " + std::to_string(i) + "\r\n");
  CHECK(desk.mails_to("robo@loja.org").size() == 10);
}

TEST_CASE("a message over the mailbox's size limit is journalled as rejected and its sender told", "[limits]") {
  Desk desk;
  RawMessage raw;
  raw.bytes = "From: Ana Lima <ana@cliente.org>\r\nTo: suporte@example.com\r\nSubject: Fotos\r\nMessage-ID: <big@test>\r\n\r\n";
  raw.mailbox = "suporte";
  raw.source = "imap";
  raw.uidvalidity = 1;
  raw.uid = 7;
  raw.oversized = true;
  raw.size = 60 * 1024 * 1024;
  const Outcome outcome = desk.pipeline->process(raw);
  CHECK(outcome.kind == Outcome::Kind::Rejected);
  CHECK(desk.store.tickets(std::nullopt, 10).empty());
  REQUIRE(desk.store.journal(10).size() == 1);
  CHECK(desk.store.journal(10)[0].outcome == "rejected");
  const auto mails = desk.mails_to("ana@cliente.org");
  REQUIRE(mails.size() == 1);
  CHECK(mails[0].template_name == "rejected");
  CHECK(mails[0].raw.find("60 MB") != std::string::npos);
  CHECK(header_of(mails[0].raw, "In-Reply-To") == "<big@test>");
  // The same UID again is recognised: nothing is sent twice.
  desk.pipeline->process(raw);
  CHECK(desk.mails_to("ana@cliente.org").size() == 1);
}

namespace {

// Runs SQL on the desk's database through a connection of its own (test set-up only).
void run_sql(const std::string& path, const std::string& sql, int busy_ms = 5000) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  sqlite3_busy_timeout(db, busy_ms);
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
  sqlite3_close(db);
  REQUIRE(rc == SQLITE_OK);
}

RawMessage imap_message(int uid, const std::string& subject) {
  RawMessage raw;
  raw.bytes = std::string(kCustomer) + "Subject: " + subject + "\r\nMessage-ID: <batch" + std::to_string(uid) +
              "@test>\r\n\r\nTexto " + std::to_string(uid) + ".\r\n";
  raw.source = "imap";
  raw.mailbox = "suporte";
  raw.uidvalidity = 1;
  raw.uid = uid;
  return raw;
}

}  // namespace

TEST_CASE("a batch where one message fails commits the others and journals the failed one", "[batch]") {
  Desk desk;
  // Any article with this subject cannot be stored: that message fails half-way through.
  run_sql(desk.dir.path() + "/a.db",
          "CREATE TRIGGER poison BEFORE INSERT ON articles WHEN NEW.subject = 'Veneno' "
          "BEGIN SELECT RAISE(ABORT, 'poisoned article'); END");
  const std::vector<RawMessage> batch = {imap_message(1, "Boleto"), imap_message(2, "Veneno"),
                                         imap_message(3, "Senha"), imap_message(4, "")};
  const auto outcomes = desk.pipeline->process_batch(batch);
  REQUIRE(outcomes.size() == 4);
  CHECK(outcomes[0].kind == Outcome::Kind::TicketCreated);
  CHECK(outcomes[1].kind == Outcome::Kind::Quarantined);
  CHECK(outcomes[1].detail.find("poisoned article") != std::string::npos);
  CHECK(outcomes[2].kind == Outcome::Kind::TicketCreated);
  CHECK(outcomes[3].kind == Outcome::Kind::TicketCreated);
  // Nothing of the failed message is left but its journal entry and its raw bytes.
  std::set<std::string> subjects;
  for (const auto& t : desk.store.tickets(std::nullopt, 10)) subjects.insert(t.subject);
  CHECK(subjects.size() == 3);
  CHECK(subjects.count("Veneno") == 0);
  const auto journal = desk.store.journal(10);
  REQUIRE(journal.size() == 4);
  std::map<std::int64_t, std::string> by_uid;
  for (const auto& e : journal) by_uid[e.uid] = e.outcome;
  CHECK(by_uid[2] == "quarantined");
  CHECK(by_uid[1] == "ticket_created");
  CHECK(desk.blobs.get(sha256_hex(batch[1].bytes)) == batch[1].bytes);
  // Opening mails were queued for the three tickets only.
  CHECK(desk.mails_to("ana@cliente.org").size() == 3);

  // The same batch again: the three applied are recognised, nothing is queued twice.
  const auto again = desk.pipeline->process_batch({batch[0], batch[2], batch[3]});
  for (const auto& o : again) CHECK(o.kind == Outcome::Kind::Duplicate);
  CHECK(desk.mails_to("ana@cliente.org").size() == 3);
}

TEST_CASE("a busy store makes the whole batch throw with nothing of it committed", "[batch]") {
  Desk desk;
  SqliteStore impatient(desk.dir.path() + "/a.db", 100);
  BlobStore blobs(desk.dir.path(), impatient, 128 * 1024);  // the pipeline's own connection, as Runtime gives it
  InboundPipeline pipeline(impatient, blobs, desk.config, *desk.renderer, desk.clock, desk.log);
  sqlite3* holder = nullptr;
  REQUIRE(sqlite3_open((desk.dir.path() + "/a.db").c_str(), &holder) == SQLITE_OK);
  REQUIRE(sqlite3_exec(holder, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
  const std::vector<RawMessage> batch = {imap_message(1, "Boleto"), imap_message(2, "Senha")};
  try {
    pipeline.process_batch(batch);
    FAIL("no StoreError");
  } catch (const StoreError& e) {
    CHECK(e.kind() == StoreError::Kind::Busy);
  }
  sqlite3_exec(holder, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(holder);
  CHECK(desk.store.journal(10).empty());
  CHECK(desk.store.tickets(std::nullopt, 10).empty());
  // The retry applies both.
  const auto outcomes = pipeline.process_batch(batch);
  CHECK(outcomes[0].kind == Outcome::Kind::TicketCreated);
  CHECK(outcomes[1].kind == Outcome::Kind::TicketCreated);
}

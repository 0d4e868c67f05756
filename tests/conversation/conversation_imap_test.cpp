// conversation_imap_test.cpp — a customer and an agent talk through atendd by e-mail, through
// real IMAP mailboxes: the daemon polls the support INBOX on a real Dovecot and sends through a
// real SMTP server; the test plays the MTA, delivering what the SMTP server received into the
// recipients' Dovecot mailboxes, and the mail clients, answering what arrived there. The daemon is
// restarted between every step, and killed once between the store commit and the IMAP flag.
#include <chrono>
#include <map>
#include <set>
#include <thread>

#include <catch2/catch.hpp>

#include "parsers/mime_reader.h"
#include "storage/sqlite_store.h"
#include "support/dovecot.h"

using namespace atendd;
using namespace atendd::test;

namespace {

const std::map<std::string, std::string> kMailboxOf = {
    {"ana@cliente.test", "customer"},
    {"maria@atendd.test", "agent"},
};

struct Installation {
  Dovecot dovecot{{"support", "customer", "agent"}};
  TempDir dir;
  SmtpSink sink{dir.path() + "/sink"};
  std::string state_dir = dir.path() + "/state";
  std::string config = dir.path() + "/atendd.ini";
  size_t relayed = 0;  // sink mails already delivered into mailboxes

  Installation() {
    write_file(dir.path() + "/suporte.pass", "secret\n");
    write_file(config,
               "[server]\nname = Suporte Teste\naddress = suporte@atendd.test\n"
               "reply_address = suporte+{token}@atendd.test\nstate_dir = " + state_dir + "\nlocale = pt_BR\n"
               "[smtp]\nhost = 127.0.0.1\nport = " + std::to_string(sink.port()) + "\n"
               "timeout_seconds = 5\nretry_initial_seconds = 1\nretry_max_seconds = 1\n"
               "[mailbox.suporte]\nurl = " + dovecot.imap_url() + "\nca_file = " + dovecot.ca_file() + "\n"
               "user = support\npassword_file = suporte.pass\npoll_seconds = 1\n"
               "[agent.maria]\nemail = maria@atendd.test\nname = Maria Souza\ndepartment = suporte\n"
               "[type.geral]\nname = Geral\ndepartment = suporte\nassign = round_robin\n");
  }

  // Runs the daemon until the SMTP server holds `total` mails, then stops it (exit 0 expected).
  void run_daemon_until(size_t total, std::vector<std::string> env = {}) {
    DaemonProcess daemon({"--config", config}, env);
    sink.wait_for(total, 30);
    wait_until_support_seen();
    CHECK(daemon.stop() == 0);
  }

  void wait_until_support_seen() {
    for (int i = 0; i < 200; ++i) {
      bool all = true;
      for (const auto& m : dovecot.list("support")) all = all && m.seen();
      if (all) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  // The MTA: every new mail the SMTP server got goes into its recipients' mailboxes. Returns them.
  std::vector<ReceivedMail> deliver_new_mail() {
    const auto all = sink.mails();
    std::vector<ReceivedMail> fresh(all.begin() + static_cast<long>(relayed), all.end());
    relayed = all.size();
    for (const auto& mail : fresh)
      for (const auto& rcpt : mail.rcpt_tos) {
        auto box = kMailboxOf.find(rcpt);
        if (box != kMailboxOf.end()) dovecot.add_unseen(box->second, mail.raw);
      }
    return fresh;
  }

  std::unique_ptr<SqliteStore> store() { return std::make_unique<SqliteStore>(state_dir + "/atendd.db"); }
};

const ReceivedMail* to(const std::vector<ReceivedMail>& mails, const std::string& rcpt) {
  for (const auto& m : mails)
    for (const auto& r : m.rcpt_tos)
      if (r == rcpt) return &m;
  return nullptr;
}

// What a mail client writes when its user presses Reply on `original` and types `text` on top.
std::string reply_to(const ReceivedMail& original, const std::string& from, const std::string& text,
                     const std::string& message_id) {
  const ParsedMessage parsed = parse_message(original.raw);
  const std::string target = parsed.reply_to.empty() ? parsed.from.address : parsed.reply_to.front().address;
  std::string quoted;
  for (size_t start = 0; start < parsed.text.size();) {
    const size_t end = parsed.text.find('\n', start);
    quoted += "> " + parsed.text.substr(start, end == std::string::npos ? std::string::npos : end - start) + "\r\n";
    start = end == std::string::npos ? parsed.text.size() : end + 1;
  }
  std::string references;
  for (const auto& r : parsed.references) references += "<" + r + "> ";
  return "From: " + from + "\r\nTo: " + target + "\r\nSubject: Re: " + parsed.subject +
         "\r\nMessage-ID: <" + message_id + ">\r\nIn-Reply-To: <" + parsed.message_id +
         ">\r\nReferences: " + references + "<" + parsed.message_id + ">\r\n"
         "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" +
         text + "\r\n\r\nEm ter., 24 de nov. de 2026 às 10:00, Suporte Teste escreveu:\r\n" + quoted;
}

}  // namespace

TEST_CASE("a customer and an agent talk through atendd by e-mail and every message lands in one ticket", "[conversation][imap][smtp]") {
  Installation site;

  // 1. The customer writes to support.
  site.dovecot.add_unseen("support",
                          "From: Ana Lima <ana@cliente.test>\r\nTo: suporte@atendd.test\r\n"
                          "Subject: =?UTF-8?Q?Impressora_n=C3=A3o_imprime?=\r\nMessage-ID: <ana-1@cliente.test>\r\n"
                          "Date: Tue, 24 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
                          "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
                          "Bom dia, a impressora HP do escritório não imprime desde ontem.\r\n");
  site.run_daemon_until(2);
  auto step1 = site.deliver_new_mail();
  const ReceivedMail* opening = to(step1, "ana@cliente.test");
  const ReceivedMail* forward = to(step1, "maria@atendd.test");
  REQUIRE(opening);
  REQUIRE(forward);
  CHECK(site.dovecot.list("customer").size() == 1);
  CHECK(site.dovecot.list("agent").size() == 1);
  const std::string protocol = site.store()->tickets(std::nullopt, 10).front().protocol;
  CHECK(parse_message(opening->raw).subject.find("[#" + protocol + "]") == 0);
  CHECK(site.store()->ticket_by_protocol(protocol)->status == TicketStatus::New);

  // 2. The agent answers from her mail client, replying to the forward.
  site.dovecot.add_unseen("support", reply_to(*forward, "Maria Souza <maria@atendd.test>",
                                              "Olá Ana, desligue a impressora por 30 segundos e ligue de novo.",
                                              "maria-1@atendd.test"));
  site.run_daemon_until(3);
  auto step2 = site.deliver_new_mail();
  const ReceivedMail* relayed = to(step2, "ana@cliente.test");
  REQUIRE(relayed);
  const ParsedMessage answer = parse_message(relayed->raw);
  CHECK(answer.text.find("desligue a impressora por 30 segundos") != std::string::npos);
  CHECK(answer.text.find("> ") == std::string::npos);                    // the agent's quote is not relayed
  CHECK(relayed->raw.find("maria@atendd.test") == std::string::npos);    // nor her private address
  CHECK(answer.in_reply_to == "ana-1@cliente.test");                     // threaded under Ana's message
  CHECK(answer.subject.find("[#" + protocol + "]") != std::string::npos);
  CHECK(site.dovecot.list("customer").size() == 2);
  CHECK(site.store()->ticket_by_protocol(protocol)->status == TicketStatus::WaitingCustomer);

  // 3. The customer answers the agent's reply.
  site.dovecot.add_unseen("support", reply_to(*relayed, "Ana Lima <ana@cliente.test>",
                                              "Funcionou, obrigada! Mas agora a folha sai manchada.",
                                              "ana-2@cliente.test"));
  site.run_daemon_until(4);
  auto step3 = site.deliver_new_mail();
  const ReceivedMail* update = to(step3, "maria@atendd.test");
  REQUIRE(update);
  CHECK(parse_message(update->raw).text.find("a folha sai manchada") != std::string::npos);
  CHECK(site.dovecot.list("agent").size() == 2);

  auto store = site.store();
  REQUIRE(store->tickets(std::nullopt, 10).size() == 1);
  const Ticket ticket = *store->ticket_by_protocol(protocol);
  CHECK(ticket.status == TicketStatus::InProgress);
  CHECK(ticket.first_response_at.has_value());
  const auto articles = store->articles(ticket.id);
  REQUIRE(articles.size() == 5);
  CHECK(articles[0].kind == ArticleKind::CustomerMessage);
  CHECK(articles[1].kind == ArticleKind::SystemLog);  // the opening e-mail
  CHECK(articles[2].kind == ArticleKind::Forward);
  CHECK(articles[3].kind == ArticleKind::AgentReply);
  CHECK(articles[4].kind == ArticleKind::CustomerMessage);
  for (const auto& m : site.dovecot.list("support")) CHECK(m.seen());
}

TEST_CASE("a daemon killed between the store commit and the IMAP flag loses nothing and repeats nothing", "[conversation][imap][smtp][crash]") {
  Installation site;
  site.dovecot.add_unseen("support",
                          "From: Ana Lima <ana@cliente.test>\r\nTo: suporte@atendd.test\r\nSubject: Boleto\r\n"
                          "Message-ID: <ana-boleto@cliente.test>\r\n\r\nPreciso da segunda via do boleto.\r\n");
  {
    DaemonProcess crashing({"--config", site.config}, {"ATENDD_FAILPOINT=imap_exit_after_commit"});
    const auto code = crashing.wait_exit(30);
    REQUIRE(code);
    CHECK(*code == 137);  // it died right after the commit
  }
  REQUIRE(site.dovecot.list("support").size() == 1);
  CHECK_FALSE(site.dovecot.list("support").front().seen());  // the flag was never set
  REQUIRE(site.store()->tickets(std::nullopt, 10).size() == 1);

  // Back up: the message comes again, is recognised, flagged, and its mails go out once.
  site.run_daemon_until(2);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  CHECK(site.dovecot.list("support").front().seen());
  auto store = site.store();
  CHECK(store->tickets(std::nullopt, 10).size() == 1);
  std::multiset<std::string> recipients;
  for (const auto& mail : site.sink.mails())
    for (const auto& r : mail.rcpt_tos) recipients.insert(r);
  CHECK(recipients.count("ana@cliente.test") == 1);
  CHECK(recipients.count("maria@atendd.test") == 1);
  const auto journal = store->journal(10);
  REQUIRE(journal.size() == 1);  // the second fetch found it done and added nothing
  CHECK(journal[0].uid == 1);
}

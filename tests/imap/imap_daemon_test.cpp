// imap_daemon_test.cpp — the daemon end to end through IMAP: the `atendd` binary with a
// [mailbox.suporte] on a real Dovecot and a real SMTP sink; a customer's message saved into the
// support INBOX becomes a ticket, the opening mail reaches the sink, the message ends \Seen.
#include <chrono>
#include <thread>

#include <catch2/catch.hpp>

#include "storage/sqlite_store.h"
#include "support/dovecot.h"

using namespace atendd;
using namespace atendd::test;

TEST_CASE("a customer message in the support INBOX becomes a ticket and its opening mail is sent",
          "[imap][dovecot][daemon]") {
  Dovecot dovecot;
  TempDir dir;
  SmtpSink sink(dir.path() + "/sink");
  const std::string state_dir = dir.path() + "/state";
  write_file(dir.path() + "/suporte.pass", "secret\n");
  const std::string config = dir.path() + "/atendd.ini";
  write_file(config,
             "[server]\n"
             "name = Suporte Teste\n"
             "address = suporte@atendd.test\n"
             "reply_address = suporte+{token}@atendd.test\n"
             "state_dir = " + state_dir + "\n"
             "locale = pt_BR\n"
             "[smtp]\n"
             "host = 127.0.0.1\n"
             "port = " + std::to_string(sink.port()) + "\n"
             "timeout_seconds = 5\n"
             "retry_initial_seconds = 1\n"
             "retry_max_seconds = 1\n"
             "[mailbox.suporte]\n"
             "url = " + dovecot.imap_url() + "\n"
             "ca_file = " + dovecot.ca_file() + "\n"
             "user = support\n"
             "password_file = suporte.pass\n"
             "poll_seconds = 1\n"
             "[agent.maria]\n"
             "email = maria@atendd.test\n"
             "name = Maria Souza\n"
             "department = suporte\n"
             "[type.geral]\n"
             "name = Geral\n"
             "department = suporte\n"
             "assign = round_robin\n");
  DaemonProcess daemon({"--config", config});
  dovecot.add_unseen("support",
                     "From: Joana Cliente <joana@cliente.test>\r\n"
                     "To: suporte@atendd.test\r\n"
                     "Subject: Impressora parou\r\n"
                     "Message-ID: <pedido-1@cliente.test>\r\n"
                     "Date: Tue, 24 Nov 2026 10:00:00 +0000\r\n"
                     "\r\n"
                     "A impressora parou de imprimir.\r\n");
  const auto mails = sink.wait_for(1, 20);
  const ReceivedMail* opening = nullptr;
  for (const auto& m : mails)
    for (const auto& rcpt : m.rcpt_tos)
      if (rcpt == "joana@cliente.test") opening = &m;
  REQUIRE(opening);
  const std::string subject = opening->header("Subject");  // encoded words: the tag is plain
  CHECK(opening->header("In-Reply-To").find("pedido-1@cliente.test") != std::string::npos);

  bool seen = false;
  for (int i = 0; i < 100 && !seen; ++i) {
    const auto stored = dovecot.list("support");
    seen = stored.size() == 1 && stored.front().seen();
    if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(seen);
  CHECK(daemon.stop() == 0);

  SqliteStore store(state_dir + "/atendd.db");
  const auto tickets = store.tickets(std::nullopt, 10);
  REQUIRE(tickets.size() == 1);
  CHECK(tickets.front().mailbox == "suporte");
  CHECK(subject.find("[#" + tickets.front().protocol + "]") != std::string::npos);
  const auto journal = store.journal(10);
  REQUIRE(journal.size() == 1);
  CHECK(journal.front().source == "imap");
  CHECK(journal.front().uid == 1);
  CHECK(store.mailbox_state("suporte")->last_uid == 1);
}

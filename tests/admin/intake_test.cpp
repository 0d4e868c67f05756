// intake_test.cpp — the intake the daemon reaches out for, end to end over real HTTP: Telegram long
// polling against a POCO HTTP server in this process standing in for api.telegram.org (getUpdates
// with offsets, then sendMessage carrying the agent's answer; the offset kept in the store across a
// restart and no update applied twice), and what /metrics says about the intake: poll errors per
// mailbox and polled channel, and applied messages with parser defects by kind (a real Dovecot).
#include <catch2/catch.hpp>

#include "admin_client.h"
#include "fake_telegram.h"
#include "storage/sqlite_store.h"
#include "support/closed_port.h"
#include "support/dovecot.h"

using namespace atendd;
using namespace atendd::test;

namespace {

int count_of(const std::string& metrics, const std::string& series) {
  const auto at = metrics.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stoi(metrics.substr(at + series.size() + 2));
}

}  // namespace

TEST_CASE("Telegram long polling opens a ticket from getUpdates and the answer goes out by sendMessage", "[admin][telegram]") {
  FakeTelegram telegram;
  TempDir secrets;
  AdminDaemon d(telegram_channel(telegram.port, secrets.path()));
  telegram.add(100, 9, "Oi, a impressora parou");
  REQUIRE(telegram.wait([&] { return !telegram.offsets.empty() && telegram.offsets.back() == 101; }, 20));
  CHECK(telegram.offsets.front() == 0);  // never polled: from the start

  std::string protocol;
  {
    SqliteStore store(d.state_dir + "/atendd.db");
    const auto tickets = store.tickets(std::nullopt, 10);
    REQUIRE(tickets.size() == 1);
    protocol = tickets[0].protocol;
    CHECK(store.channel_offset("tg") == 101);
  }
  REQUIRE(http("POST", d.base + "/api/v1/tickets/" + protocol + "/actions", kAdminToken,
               "{\"agent\":\"maria\",\"text\":\"Reinicie a impressora, por favor.\"}").status == 200);
  // The opening message went out the same way; the answer follows it.
  REQUIRE(telegram.wait(
      [&] {
        for (const auto& body : telegram.sent)
          if (body.find("Reinicie a impressora") != std::string::npos &&
              body.find("\"chat_id\":\"4242\"") != std::string::npos)
            return true;
        return false;
      },
      20));
  {
    std::lock_guard<std::mutex> lock(telegram.mutex);
    CHECK(telegram.bad_paths.empty());
  }

  // A restart: the offset comes from the store; the provider delivers update 100 again anyway
  // (as after a crash between handling it and storing the offset), and the journal knows it.
  REQUIRE(d.daemon->stop() == 0);
  {
    std::lock_guard<std::mutex> lock(telegram.mutex);
    telegram.offsets.clear();
    telegram.replay_once = true;
  }
  telegram.add(101, 10, "Reiniciei e continua parada");
  d.daemon = std::make_unique<DaemonProcess>(std::vector<std::string>{"--config", d.dir.path() + "/atendd.ini"});
  REQUIRE(telegram.wait([&] { return !telegram.offsets.empty() && telegram.offsets.back() == 102; }, 20));
  {
    std::lock_guard<std::mutex> lock(telegram.mutex);
    CHECK(telegram.offsets.front() == 101);  // kept across the restart
  }
  auto ticket = http("GET", d.base + "/api/v1/tickets/" + protocol, kReadToken);
  for (int i = 0; i < 50 && ticket.status != 200; ++i) {  // the endpoint may still be starting
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ticket = http("GET", d.base + "/api/v1/tickets/" + protocol, kReadToken);
  }
  REQUIRE(ticket.status == 200);
  CHECK(articles_of_kind(ticket.json(), "customer_message") == 2);  // 100 once, 101 threaded into it
  SqliteStore store(d.state_dir + "/atendd.db");
  CHECK(store.tickets(std::nullopt, 10).size() == 1);
  {
    std::lock_guard<std::mutex> lock(telegram.mutex);
    CHECK_FALSE(telegram.replay_once);  // update 100 was indeed delivered a second time
  }
  int created = 0, appended = 0;
  for (const auto& e : store.journal(10)) {
    created += e.outcome == "ticket_created";
    appended += e.outcome == "appended";
  }
  CHECK(created == 1);
  CHECK(appended == 1);
  CHECK(store.channel_offset("tg") == 102);
}

TEST_CASE("metrics count poll errors per mailbox and channel and messages with parser defects by kind", "[admin][dovecot][metrics]") {
  Dovecot dovecot;
  FakeTelegram telegram;
  telegram.failing = true;
  TempDir secrets;
  write_file(secrets.path() + "/right.pass", "secret\n");
  const ClosedPort closed;  // refuses every connection while the test runs
  const std::string config =
      "[mailbox.suporte]\nurl = " + dovecot.imap_url() + "\nca_file = " + dovecot.ca_file() +
      "\nuser = support\npassword_file = " + secrets.path() + "/right.pass\npoll_seconds = 1\n"
      "[mailbox.fora]\nurl = imap://127.0.0.1:" + std::to_string(closed.port()) + "/INBOX\ntls = none\n"
      "user = support\npassword_file = " + secrets.path() + "/right.pass\npoll_seconds = 1\n" +
      telegram_channel(telegram.port, secrets.path());
  // Two broken messages (no Date, a header line without a colon, a base64 part with junk) and a clean one.
  dovecot.add_unseen("support",
                     "From: Ana <ana@cliente.test>\r\nTo: suporte@atendd.test\r\nSubject: sem data\r\n"
                     "Message-ID: <d1@cliente.test>\r\n\r\nCorpo.\r\n");
  dovecot.add_unseen("support",
                     "From: Bia <bia@cliente.test>\r\nTo: suporte@atendd.test\r\nSubject: quebrada\r\n"
                     "Message-ID: <d2@cliente.test>\r\nDate: Tue, 24 Nov 2026 10:00:00 +0000\r\n"
                     "MIME-Version: 1.0\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                     "T2k*gbXVuZG8=!!\r\n");
  dovecot.add_unseen("support",
                     "From: Caio <caio@cliente.test>\r\nTo: suporte@atendd.test\r\nSubject: ok\r\n"
                     "Message-ID: <d3@cliente.test>\r\nDate: Tue, 24 Nov 2026 10:00:00 +0000\r\n\r\nTudo certo.\r\n");
  AdminDaemon d(config);

  std::string metrics;
  for (int i = 0; i < 200; ++i) {
    metrics = http("GET", d.base + "/metrics").body;
    if (count_of(metrics, "atendd_messages_total{source=\"imap\",mailbox=\"suporte\",outcome=\"ticket_created\"}") == 3 &&
        count_of(metrics, "atendd_poll_errors_total{mailbox=\"fora\"}") >= 2 &&
        count_of(metrics, "atendd_poll_errors_total{mailbox=\"tg\"}") >= 1)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  INFO(metrics);
  CHECK(count_of(metrics, "atendd_messages_total{source=\"imap\",mailbox=\"suporte\",outcome=\"ticket_created\"}") == 3);
  CHECK(count_of(metrics, "atendd_poll_errors_total{mailbox=\"fora\"}") >= 2);
  CHECK(count_of(metrics, "atendd_poll_errors_total{mailbox=\"tg\"}") >= 1);
  CHECK(count_of(metrics, "atendd_poll_errors_total{mailbox=\"suporte\"}") == 0);
  CHECK(count_of(metrics, "atendd_messages_with_defects_total") == 2);
  CHECK(count_of(metrics, "atendd_parse_defects_total{kind=\"no_date_header\"}") == 1);
  CHECK(count_of(metrics, "atendd_parse_defects_total{kind=\"invalid_characters_in_base64_body\"}") == 1);
  CHECK(metrics.find("# TYPE atendd_parse_defects_total counter") != std::string::npos);
}

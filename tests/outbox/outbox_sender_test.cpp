// outbox_sender_test.cpp — OutboxSender::drain_due over a real SQLite store and the real SMTP sink:
// due mails go out and are marked sent, an unreachable server leads to retries with exponential,
// capped backoff and finally to failed, and two senders on one database never send a mail twice.
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <Poco/AutoPtr.h>
#include <Poco/Logger.h>
#include <Poco/NullChannel.h>

#include "daemon/outbox/mail_composer.h"
#include "daemon/outbox/outbox_sender.h"
#include "daemon/tickets/clock.h"
#include "storage/sqlite_store.h"
#include "support/processes.h"
#include "tls_sink.h"

using namespace atendd;
using atendd::test::SmtpSink;
using atendd::test::TempDir;

namespace {

constexpr Timestamp kNow = 1795500000;  // 2026-11-23

Poco::Logger& quiet_log() {
  static Poco::Logger& log = [] () -> Poco::Logger& {
    Poco::Logger& l = Poco::Logger::get("outbox-test");
    l.setChannel(Poco::AutoPtr<Poco::Channel>(new Poco::NullChannel));
    return l;
  }();
  return log;
}

SmtpConfig smtp_at(int port) {
  SmtpConfig config;
  config.host = "127.0.0.1";
  config.port = port;
  config.timeout_seconds = 5;
  config.retry_initial_seconds = 60;
  config.retry_max_seconds = 3600;
  config.max_attempts = 20;
  return config;
}

std::string message_id_of(int n) { return "outbox-" + std::to_string(n) + "@example.com"; }

std::int64_t queue_mail(Store& store, int n, Timestamp due) {
  MailParts parts;
  parts.from = Address{"suporte@example.com", "Suporte"};
  parts.to = {Address{"cliente" + std::to_string(n) + "@example.com", ""}};
  parts.subject = "[#2026112400" + std::to_string(1000 + n) + "] Recebemos sua solicitação";
  parts.text = "Mail " + std::to_string(n) + "\n";
  parts.message_id = message_id_of(n);
  parts.auto_submitted = "auto-replied";
  parts.x_loop = "suporte@example.com";
  parts.date = due;
  OutboxMail mail;
  mail.template_name = "opening";
  mail.mail_from = "bounces@example.com";
  mail.recipients = {"cliente" + std::to_string(n) + "@example.com"};
  mail.message_id = message_id_of(n);
  mail.raw = compose_mail(parts);
  mail.next_attempt_at = due;
  mail.created_at = due;
  return store.add_outbox(mail);
}

OutboxMail mail_by_id(Store& store, std::int64_t id) {
  for (auto state : {OutboxState::Pending, OutboxState::Sending, OutboxState::Sent, OutboxState::Failed})
    for (auto& m : store.outbox_in_state(state, 1000))
      if (m.id == id) return m;
  FAIL("no outbox mail " << id);
  return {};
}

}  // namespace

TEST_CASE("due mails are sent and marked sent while mails not yet due wait", "[outbox][sender]") {
  TempDir dir;
  SmtpSink sink(dir.path() + "/sink");
  SqliteStore store(dir.path() + "/atendd.db");
  FixedClock clock(kNow);
  std::vector<std::int64_t> due;
  for (int n = 1; n <= 3; ++n) due.push_back(queue_mail(store, n, kNow - 10 * n));
  const auto later = queue_mail(store, 9, kNow + 600);
  OutboxSender sender(store, smtp_at(sink.port()), "atendd.example.com", clock, quiet_log());

  const DrainResult result = sender.drain_due();

  CHECK(result.sent == 3);
  CHECK(result.retried == 0);
  CHECK(result.failed == 0);
  for (auto id : due) {
    const OutboxMail m = mail_by_id(store, id);
    CHECK(m.state == OutboxState::Sent);
    REQUIRE(m.sent_at.has_value());
    CHECK(*m.sent_at == kNow);
    CHECK(m.attempts == 1);
    CHECK(m.last_error.empty());
  }
  CHECK(mail_by_id(store, later).state == OutboxState::Pending);
  const auto mails = sink.wait_for(3, 10);
  REQUIRE(mails.size() == 3);
  std::set<std::string> ids;
  for (const auto& m : mails) {
    ids.insert(m.header("Message-ID"));
    CHECK(m.mail_from == "bounces@example.com");
    CHECK(m.rcpt_tos.size() == 1);
  }
  CHECK(ids == std::set<std::string>{"<outbox-1@example.com>", "<outbox-2@example.com>", "<outbox-3@example.com>"});

  SECTION("a second drain sends nothing more") {
    CHECK(sender.drain_due().sent == 0);
    CHECK(sink.wait_for(4, 0.5).size() == 3);
  }
}

TEST_CASE("with no SMTP server a due mail waits for a retry with its error and the backoff", "[outbox][sender]") {
  TempDir dir;
  SqliteStore store(dir.path() + "/atendd.db");
  FixedClock clock(kNow);
  const auto first = queue_mail(store, 1, kNow - 20);
  const auto second = queue_mail(store, 2, kNow - 10);
  OutboxSender sender(store, smtp_at(atendd::test::free_port()), "atendd.example.com", clock, quiet_log());

  const DrainResult result = sender.drain_due();

  CHECK(result.sent == 0);
  CHECK(result.retried == 1);
  CHECK(result.failed == 0);
  const OutboxMail tried = mail_by_id(store, first);
  CHECK(tried.state == OutboxState::Pending);
  CHECK(tried.attempts == 1);
  CHECK_FALSE(tried.last_error.empty());
  CHECK(tried.next_attempt_at == kNow + 60);
  // The server is down: the rest of the batch is given back untried, its attempt not counted.
  const OutboxMail untried = mail_by_id(store, second);
  CHECK(untried.state == OutboxState::Pending);
  CHECK(untried.attempts == 0);
  CHECK(untried.next_attempt_at == kNow - 10);
}

TEST_CASE("a mail that keeps failing is retried with doubling delays and then marked failed", "[outbox][sender]") {
  TempDir dir;
  SqliteStore store(dir.path() + "/atendd.db");
  FixedClock clock(kNow);
  const auto id = queue_mail(store, 1, kNow);
  SmtpConfig config = smtp_at(atendd::test::free_port());
  config.retry_initial_seconds = 10;
  config.retry_max_seconds = 25;
  config.max_attempts = 4;
  OutboxSender sender(store, config, "atendd.example.com", clock, quiet_log());

  std::vector<Timestamp> delays;
  for (int attempt = 1; attempt <= 3; ++attempt) {
    const DrainResult result = sender.drain_due();
    REQUIRE(result.retried == 1);
    const OutboxMail m = mail_by_id(store, id);
    REQUIRE(m.state == OutboxState::Pending);
    CHECK(m.attempts == attempt);
    delays.push_back(m.next_attempt_at - clock.now());
    CHECK(sender.drain_due().retried == 0);  // not due again before its time
    clock.advance(m.next_attempt_at - clock.now());
  }
  CHECK(delays == std::vector<Timestamp>{10, 20, 25});

  const DrainResult last = sender.drain_due();

  CHECK(last.failed == 1);
  const OutboxMail m = mail_by_id(store, id);
  CHECK(m.state == OutboxState::Failed);
  CHECK(m.attempts == 4);
  CHECK_FALSE(m.last_error.empty());
  clock.advance(100000);
  CHECK(sender.drain_due().failed == 0);  // a failed mail is never tried again
  CHECK(sender.drain_due().retried == 0);
}

TEST_CASE("the retry delay doubles from the initial delay and stops at the cap", "[outbox][sender]") {
  TempDir dir;
  SqliteStore store(dir.path() + "/atendd.db");
  FixedClock clock(kNow);
  SmtpConfig config = smtp_at(1);
  config.retry_initial_seconds = 60;
  config.retry_max_seconds = 3600;
  OutboxSender sender(store, config, "atendd.example.com", clock, quiet_log());

  CHECK(sender.backoff_seconds(1) == 60);
  CHECK(sender.backoff_seconds(2) == 120);
  CHECK(sender.backoff_seconds(3) == 240);
  CHECK(sender.backoff_seconds(6) == 1920);
  CHECK(sender.backoff_seconds(7) == 3600);
  CHECK(sender.backoff_seconds(8) == 3600);
  CHECK(sender.backoff_seconds(1000) == 3600);
  for (int attempts = 1; attempts < 200; ++attempts) {
    REQUIRE(sender.backoff_seconds(attempts) <= sender.backoff_seconds(attempts + 1));
    REQUIRE(sender.backoff_seconds(attempts) <= 3600);
  }
}

TEST_CASE("a mail claimed by one sender is not sent by a second sender on the same database", "[outbox][sender]") {
  TempDir dir;
  SmtpSink sink(dir.path() + "/sink");
  const std::string db = dir.path() + "/atendd.db";
  FixedClock clock(kNow);
  SqliteStore store_a(db), store_b(db);
  const auto id = queue_mail(store_a, 1, kNow);

  // Sender A has claimed the mail (it is in the middle of sending it).
  const auto claimed = store_a.claim_due_outbox(kNow, 10, 300);
  REQUIRE(claimed.size() == 1);
  OutboxSender sender_b(store_b, smtp_at(sink.port()), "atendd.example.com", clock, quiet_log());

  CHECK(sender_b.drain_due().sent == 0);
  CHECK(mail_by_id(store_b, id).state == OutboxState::Sending);
  CHECK(sink.wait_for(1, 0.5).empty());

  SECTION("once A has sent it B still does not") {
    store_a.mark_outbox_sent(id, kNow);
    clock.advance(3600);  // past the lease
    CHECK(sender_b.drain_due().sent == 0);
    CHECK(sink.wait_for(1, 0.5).empty());
  }
  SECTION("when A dies the mail is sent once after the lease expires") {
    clock.advance(301);
    CHECK(sender_b.drain_due().sent == 1);
    CHECK(sink.wait_for(1, 10).size() == 1);
    CHECK(sink.wait_for(2, 0.5).size() == 1);
  }
}

TEST_CASE("two senders draining one database at once deliver every mail exactly once", "[outbox][sender]") {
  TempDir dir;
  SmtpSink sink(dir.path() + "/sink");
  const std::string db = dir.path() + "/atendd.db";
  FixedClock clock(kNow);
  constexpr int kMails = 24;
  {
    SqliteStore store(db);
    for (int n = 1; n <= kMails; ++n) queue_mail(store, n, kNow - n);
  }

  int sent[2] = {0, 0};
  auto drain = [&](int which) {
    SqliteStore store(db);
    OutboxSender sender(store, smtp_at(sink.port()), "atendd.example.com", clock, quiet_log());
    sent[which] = sender.drain_due(/*batch_size=*/3).sent;
  };
  std::thread a(drain, 0), b(drain, 1);
  a.join();
  b.join();

  CHECK(sent[0] + sent[1] == kMails);
  const auto mails = sink.wait_for(kMails, 10);
  std::multiset<std::string> ids;
  for (const auto& m : mails) ids.insert(m.header("Message-ID"));
  CHECK(mails.size() == static_cast<size_t>(kMails));
  CHECK(std::set<std::string>(ids.begin(), ids.end()).size() == ids.size());
  SqliteStore check(db);
  CHECK(check.outbox_in_state(OutboxState::Sent, 1000).size() == static_cast<size_t>(kMails));
}

TEST_CASE("a mail the server refuses for good is marked failed at once", "[outbox][sender]") {
  TempDir dir;
  const auto [cert, key] = atendd::test::self_signed_certificate(dir.path());
  atendd::test::TlsSink sink(dir.path() + "/sink", cert, key);  // 530 to MAIL FROM without STARTTLS
  SqliteStore store(dir.path() + "/atendd.db");
  FixedClock clock(kNow);
  const auto id = queue_mail(store, 1, kNow);
  OutboxSender sender(store, smtp_at(sink.port()), "atendd.example.com", clock, quiet_log());

  const DrainResult result = sender.drain_due();

  CHECK(result.failed == 1);
  CHECK(result.retried == 0);
  const OutboxMail m = mail_by_id(store, id);
  CHECK(m.state == OutboxState::Failed);
  CHECK(m.attempts == 1);
  CHECK(m.last_error.find("530") != std::string::npos);
}

TEST_CASE("the outbox keeps sending without a retry after the SMTP server restarts", "[outbox][sender]") {
  TempDir dir;
  const int port = atendd::test::free_port();
  SqliteStore store(dir.path() + "/atendd.db");
  FixedClock clock(kNow);
  OutboxSender sender(store, smtp_at(port), "atendd.example.com", clock, quiet_log());
  {
    SmtpSink first(dir.path() + "/first", port);
    queue_mail(store, 1, kNow);
    REQUIRE(sender.drain_due().sent == 1);
  }  // the server restarts while the sender keeps its connection
  SmtpSink second(dir.path() + "/second", port);
  const auto id = queue_mail(store, 2, kNow);

  const DrainResult result = sender.drain_due();

  CHECK(result.sent == 1);
  CHECK(result.retried == 0);
  CHECK(mail_by_id(store, id).state == OutboxState::Sent);
  CHECK(second.wait_for(1, 10).size() == 1);
}

TEST_CASE("a mail sent while the store cannot record it is recorded later and never sent again", "[outbox][sender]") {
  TempDir dir;
  SmtpSink sink(dir.path() + "/sink");
  const std::string db_path = dir.path() + "/atendd.db";
  SqliteStore store(db_path);
  FixedClock clock(kNow);
  const auto first = queue_mail(store, 1, kNow - 30);
  const auto second = queue_mail(store, 2, kNow - 20);
  const auto third = queue_mail(store, 3, kNow - 10);
  // The store refuses to record the second mail as sent (as a full disk or a lock would).
  auto sql = [&](const std::string& statement) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(db_path.c_str(), &db) == SQLITE_OK);
    char* error = nullptr;
    const int rc = sqlite3_exec(db, statement.c_str(), nullptr, nullptr, &error);
    INFO((error ? error : ""));
    sqlite3_free(error);
    sqlite3_close(db);
    REQUIRE(rc == SQLITE_OK);
  };
  sql("CREATE TRIGGER refuse_sent BEFORE UPDATE OF state ON outbox WHEN NEW.state = 'sent' AND NEW.id = " +
      std::to_string(second) + " BEGIN SELECT RAISE(ABORT, 'cannot write'); END");
  OutboxSender sender(store, smtp_at(sink.port()), "atendd.example.com", clock, quiet_log());

  CHECK_THROWS_AS(sender.drain_due(), StoreError);
  CHECK(sink.wait_for(2, 10).size() == 2);  // the first two went out
  CHECK(mail_by_id(store, first).state == OutboxState::Sent);
  CHECK(mail_by_id(store, second).state == OutboxState::Sending);
  // The third was given back, not left claimed for the lease's five minutes.
  CHECK(mail_by_id(store, third).state == OutboxState::Pending);

  SECTION("while the store still refuses nothing more is sent") {
    CHECK_THROWS_AS(sender.drain_due(), StoreError);
    CHECK(sink.wait_for(3, 0.5).size() == 2);
    CHECK(mail_by_id(store, third).state == OutboxState::Pending);
  }
  SECTION("once the store accepts again the sent mail is recorded and only the third goes out") {
    sql("DROP TRIGGER refuse_sent");
    const DrainResult result = sender.drain_due();
    CHECK(result.sent == 1);
    CHECK(mail_by_id(store, second).state == OutboxState::Sent);
    CHECK(mail_by_id(store, third).state == OutboxState::Sent);
    const auto mails = sink.wait_for(3, 10);
    REQUIRE(mails.size() == 3);
    std::multiset<std::string> ids;
    for (const auto& m : sink.wait_for(4, 0.5)) ids.insert(m.header("Message-ID"));
    CHECK(ids.count("<outbox-2@example.com>") == 1);
    CHECK(ids.size() == 3);
  }
}

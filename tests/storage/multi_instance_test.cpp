// multi_instance_test.cpp — two `atendd` daemons on one PostgreSQL, one Dovecot mailbox and one
// SMTP sink: every message becomes exactly one ticket and one opening mail, whichever instance
// polls; the mailbox is polled by the lease holder only, and when that instance is SIGKILLed the
// other takes the mailbox over within the lease bound and finishes the work.
#include <chrono>
#include <map>
#include <set>
#include <thread>

#include <catch2/catch.hpp>

#include "support/dovecot.h"
#include "support/postgres.h"

using namespace atendd::test;

namespace {

constexpr int kLeaseSeconds = 6;  // ATENDD_TEST_LEASE_SECONDS: takeover within 6 s + 2 s retry

std::string message(int i) {
  const std::string n = std::to_string(i);
  return "From: Cliente " + n + " <cliente" + n + "@cliente.test>\r\n"
         "To: suporte@atendd.test\r\n"
         "Subject: Pedido " + n + "\r\n"
         "Message-ID: <pedido-" + n + "@cliente.test>\r\n"
         "Date: Tue, 24 Nov 2026 10:00:00 +0000\r\n"
         "\r\n"
         "Pedido numero " + n + ".\r\n";
}

template <typename Predicate>
bool wait_until(Predicate done, double seconds) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<int>(seconds * 1000));
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return done();
}

}  // namespace

TEST_CASE("two daemons on one PostgreSQL share a mailbox: one ticket and one opening mail per message and a takeover after a kill",
          "[multi_instance][postgresql][dovecot][daemon]") {
  auto& pg = Postgres::instance();
  const std::string db = pg.create_database();
  Dovecot dovecot;
  TempDir dir;
  SmtpSink sink(dir.path() + "/sink");
  write_file(dir.path() + "/suporte.pass", "secret\n");
  write_file(dir.path() + "/db.pass", Postgres::password() + "\n");
  const std::string database = "postgresql://" + Postgres::user() + "@127.0.0.1:" + std::to_string(pg.port()) + "/" +
                               db + "?password_file=" + dir.path() + "/db.pass";
  auto config = [&](const std::string& name) {
    const std::string path = dir.path() + "/" + name + ".ini";
    write_file(path,
               "[server]\n"
               "name = Suporte Teste\n"
               "address = suporte@atendd.test\n"
               "reply_address = suporte+{token}@atendd.test\n"
               "state_dir = " + dir.path() + "/state\n"   // shared: blobs are content-addressed
               "database = " + database + "\n"
               "admin_listen = 127.0.0.1:" + std::to_string(free_port()) + "\n"
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
               "password_file = " + dir.path() + "/suporte.pass\n"
               "poll_seconds = 1\n"
               "[agent.maria]\n"
               "email = maria@atendd.test\n"
               "name = Maria Souza\n"
               "department = suporte\n"
               "[type.geral]\n"
               "name = Geral\n"
               "department = suporte\n");
    return path;
  };
  const std::vector<std::string> env{"ATENDD_TEST_LEASE_SECONDS=" + std::to_string(kLeaseSeconds)};
  const std::string config_a = config("a"), config_b = config("b");
  auto a = std::make_unique<DaemonProcess>(std::vector<std::string>{"--config", config_a}, env);
  auto b = std::make_unique<DaemonProcess>(std::vector<std::string>{"--config", config_b}, env);

  auto holder_pid = [&]() -> long {
    try {
      const std::string holder = pg.sql(
          "SELECT holder FROM leases WHERE name = 'mailbox:suporte' AND expires_at > extract(epoch from now())", db);
      const auto first = holder.find(':'), second = holder.find(':', first + 1);
      if (first == std::string::npos || second == std::string::npos) return 0;
      return std::stol(holder.substr(first + 1, second - first - 1));
    } catch (const std::exception&) {
      return 0;  // not migrated yet
    }
  };
  auto count = [&](const std::string& sql) {
    try {
      return std::stoi(pg.sql(sql, db));
    } catch (const std::exception&) {
      return -1;
    }
  };
  REQUIRE(wait_until([&] { return holder_pid() != 0; }, 30));
  const long first_holder = holder_pid();
  REQUIRE((first_holder == a->pid() || first_holder == b->pid()));
  auto& holder = first_holder == a->pid() ? a : b;
  auto& other = first_holder == a->pid() ? b : a;

  // First half: polled by the lease holder; the opening mails go out from either instance.
  std::vector<std::string> first_half, second_half;
  for (int i = 1; i <= 25; ++i) first_half.push_back(message(i));
  for (int i = 26; i <= 50; ++i) second_half.push_back(message(i));
  const auto started = std::chrono::steady_clock::now();
  dovecot.add_unseen_many("support", first_half);
  REQUIRE(wait_until([&] { return count("SELECT count(*) FROM tickets") == 25; }, 60));
  REQUIRE(wait_until([&] { return count("SELECT count(*) FROM outbox WHERE state <> 'sent'") == 0; }, 60));
  const double first_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  WARN("25 messages ingested and answered by two instances in " << first_seconds << " s");
  CHECK(holder_pid() == first_holder);  // renewed all along

  // The holder dies without a word; the other takes the mailbox over once the lease ran out.
  holder->kill();
  const auto killed = std::chrono::steady_clock::now();
  dovecot.add_unseen_many("support", second_half);
  REQUIRE(wait_until([&] { return holder_pid() == other->pid(); }, kLeaseSeconds + 10));
  const double takeover = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count();
  WARN("mailbox taken over " << takeover << " s after the kill");
  CHECK(takeover <= kLeaseSeconds + 3);
  REQUIRE(wait_until([&] { return count("SELECT count(*) FROM tickets") == 50; }, 60));
  REQUIRE(wait_until([&] { return count("SELECT count(*) FROM outbox WHERE state <> 'sent'") == 0; }, 60));
  const auto mails = sink.wait_for(50, 30);
  std::this_thread::sleep_for(std::chrono::seconds(2));  // anything sent twice would show up now
  CHECK(other->stop() == 0);

  CHECK(count("SELECT count(*) FROM tickets") == 50);
  CHECK(count("SELECT count(DISTINCT protocol) FROM tickets") == 50);
  CHECK(count("SELECT count(*) FROM journal WHERE outcome = 'ticket_created'") == 50);
  CHECK(count("SELECT count(*) FROM outbox") == 50);
  const auto received = sink.mails();
  CHECK(received.size() == 50);
  std::map<std::string, int> per_customer;
  std::set<std::string> message_ids;
  for (const auto& m : received) {
    message_ids.insert(m.header("Message-ID"));
    for (const auto& rcpt : m.rcpt_tos) ++per_customer[rcpt];
  }
  CHECK(message_ids.size() == received.size());
  CHECK(per_customer.size() == 50);
  for (const auto& [rcpt, n] : per_customer) {
    INFO(rcpt);
    CHECK(n == 1);
  }
  const auto stored = dovecot.list("support");
  CHECK(stored.size() == 50);
  for (const auto& s : stored) CHECK(s.seen());
}

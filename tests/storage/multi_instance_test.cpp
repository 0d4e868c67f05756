// multi_instance_test.cpp — two `atendd` daemons on one PostgreSQL, one Dovecot mailbox and one
// SMTP sink, each with a state directory of its own (blobs live in the database): 500 messages —
// new tickets, replies by subject tag and replies by In-Reply-To — appended while they run. Every
// message becomes exactly one article in the right ticket and every opening mail is sent exactly
// once, whichever instance polls or sends; the mailbox is polled by the lease holder only, and when
// that instance is SIGKILLed in the middle of the intake the other takes the mailbox over within
// the lease bound and finishes the work. And one Telegram bot: only one instance at a time calls
// getUpdates (the lease "channel:ID"), and each update becomes one ticket. And one messaging
// sender whose messages are posted to both instances at once (real HTTP webhooks from several
// threads): one ticket holding every message, none lost.
#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <catch2/catch.hpp>
#include <Poco/DigestEngine.h>
#include <Poco/HMACEngine.h>
#include <Poco/SHA2Engine.h>

#include "admin/admin_client.h"
#include "admin/fake_telegram.h"
#include "support/dovecot.h"
#include "support/postgres.h"

using namespace atendd::test;

namespace {

constexpr int kLeaseSeconds = 6;  // ATENDD_TEST_LEASE_SECONDS: takeover within 6 s + 2 s retry
constexpr int kNew = 350;         // opening messages, customer i = 1..350
constexpr int kReplies = 150;     // replies of customers 1..150: 1..100 by subject tag, the rest by In-Reply-To

std::string opening(int i) {
  const std::string n = std::to_string(i);
  return "From: Cliente " + n + " <cliente" + n + "@cliente.test>\r\n"
         "To: suporte@atendd.test\r\n"
         "Subject: Pedido " + n + "\r\n"
         "Message-ID: <pedido-" + n + "@cliente.test>\r\n"
         "Date: Tue, 24 Nov 2026 10:00:00 +0000\r\n"
         "\r\n"
         "Pedido numero " + n + ".\r\n";
}

// A customer's second message: with the ticket's tag when its protocol is known, else as a reply
// to the customer's own first message (threaded by In-Reply-To to the ticket holding it).
std::string reply(int i, const std::string& protocol) {
  const std::string n = std::to_string(i);
  return "From: Cliente " + n + " <cliente" + n + "@cliente.test>\r\n"
         "To: suporte@atendd.test\r\n"
         "Subject: Re: " + (protocol.empty() ? "" : "[#" + protocol + "] ") + "Pedido " + n + "\r\n"
         "Message-ID: <resposta-" + n + "@cliente.test>\r\n"
         "In-Reply-To: <pedido-" + n + "@cliente.test>\r\n"
         "Date: Tue, 24 Nov 2026 11:00:00 +0000\r\n"
         "\r\n"
         "Mais detalhes do pedido " + n + ".\r\n";
}

class Sha256 : public Poco::SHA2Engine {
 public:
  enum { BLOCK_SIZE = 64, DIGEST_SIZE = 32 };
  Sha256() : Poco::SHA2Engine(Poco::SHA2Engine::SHA_256) {}
};

// The X-Atendd-Signature of a generic channel's webhook body.
std::string generic_signature(const std::string& secret, const std::string& body) {
  Poco::HMACEngine<Sha256> engine(secret);
  engine.update(body);
  return "sha256=" + Poco::DigestEngine::digestToHex(engine.digest());
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

TEST_CASE("two daemons on one PostgreSQL take 500 messages from one mailbox exactly once through a kill of the lease holder",
          "[multi_instance][postgresql][dovecot][daemon]") {
  auto& pg = Postgres::instance();
  const std::string db = pg.create_database();
  Dovecot dovecot;
  TempDir dir;
  SmtpSink sink(dir.path() + "/sink");
  write_file(dir.path() + "/suporte.pass", "secret\n");
  write_file(dir.path() + "/db.pass", Postgres::password() + "\n");
  write_file(dir.path() + "/reply.secret", "one key for every instance\n");
  const std::string database = "postgresql://" + Postgres::user() + "@127.0.0.1:" + std::to_string(pg.port()) + "/" +
                               db + "?password_file=" + dir.path() + "/db.pass";
  auto config = [&](const std::string& name) {
    const std::string path = dir.path() + "/" + name + ".ini";
    write_file(path,
               "[server]\n"
               "name = Suporte Teste\n"
               "address = suporte@atendd.test\n"
               "reply_address = suporte+{token}@atendd.test\n"
               "state_dir = " + dir.path() + "/" + name + "-state\n"  // each machine its own disk
               "database = " + database + "\n"
               "secret_file = " + dir.path() + "/reply.secret\n"
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
               "idle = false\n"  // the test drops files into the Maildir, which does not wake IDLE
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
  const auto started = std::chrono::steady_clock::now();

  // Phase 1, while they run: 200 openings in four deliveries.
  for (int chunk = 0; chunk < 4; ++chunk) {
    std::vector<std::string> raws;
    for (int i = chunk * 50 + 1; i <= chunk * 50 + 50; ++i) raws.push_back(opening(i));
    dovecot.add_unseen_many("support", raws);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  // The protocols of the first 100 customers' tickets, for replies by subject tag.
  REQUIRE(wait_until([&] { return count("SELECT count(*) FROM journal") >= 120; }, 120));
  std::map<int, std::string> protocols;
  {
    std::istringstream rows(pg.sql("SELECT string_agg(c.address || '=' || t.protocol, ',') FROM tickets t "
                                   "JOIN contacts c ON c.id = t.contact_id",
                                   db));
    std::string row;
    while (std::getline(rows, row, ',')) {
      const auto at = row.find('@'), eq = row.find('=');
      if (row.rfind("cliente", 0) == 0 && at != std::string::npos && eq != std::string::npos)
        protocols[std::stoi(row.substr(7, at - 7))] = row.substr(eq + 1);
    }
  }
  // Phase 2: openings 201..350 interleaved with the 150 replies, in six deliveries; the holder is
  // killed in the middle of taking them in.
  std::vector<std::string> second;
  for (int k = 1; k <= kReplies; ++k) {
    second.push_back(opening(200 + k));
    second.push_back(reply(k, k <= 100 && protocols.count(k) ? protocols[k] : ""));
  }
  int by_tag = 0;
  for (int k = 1; k <= 100; ++k) by_tag += protocols.count(k) ? 1 : 0;
  bool killed = false;
  std::chrono::steady_clock::time_point killed_at;
  int journal_at_kill = 0, locks_at_kill = 0;
  for (int chunk = 0; chunk < 6; ++chunk) {
    dovecot.add_unseen_many("support", std::vector<std::string>(second.begin() + chunk * 50, second.begin() + chunk * 50 + 50));
    if (chunk == 2) {
      // The holder dies without a word in the middle of a batch: while its transaction holds the
      // per-message locks (Store::lock_message) of messages it has not committed.
      REQUIRE(wait_until([&] { return count("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'") > 0; }, 120));
      locks_at_kill = count("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'");
      journal_at_kill = count("SELECT count(*) FROM journal");
      holder->kill();
      killed = true;
      killed_at = std::chrono::steady_clock::now();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  REQUIRE(killed);
  REQUIRE(wait_until([&] { return holder_pid() == other->pid(); }, kLeaseSeconds + 10));
  const double takeover = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed_at).count();
  CHECK(takeover <= kLeaseSeconds + 3);
  REQUIRE(wait_until([&] { return count("SELECT count(*) FROM journal") == kNew + kReplies; }, 240));
  REQUIRE(wait_until([&] { return count("SELECT count(*) FROM outbox WHERE state <> 'sent'") == 0; }, 120));
  const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  WARN("500 messages in " << total << " s; holder killed at journal " << journal_at_kill << " of 500 with " << locks_at_kill
                          << " messages of its batch in hand; mailbox taken over "
                          << takeover << " s after the kill; " << by_tag << " replies by subject tag");
  sink.wait_for(kNew, 30);
  std::this_thread::sleep_for(std::chrono::seconds(2));  // anything sent twice would show up now
  CHECK(other->stop() == 0);

  // Exactly once, in the journal and in the tickets.
  CHECK(journal_at_kill < kNew + kReplies);
  CHECK(locks_at_kill > 0);
  CHECK(count("SELECT count(*) FROM journal") == kNew + kReplies);
  CHECK(count("SELECT count(DISTINCT uid) FROM journal") == kNew + kReplies);
  CHECK(count("SELECT count(*) FROM journal WHERE outcome = 'ticket_created'") == kNew);
  CHECK(count("SELECT count(*) FROM journal WHERE outcome = 'appended'") == kReplies);
  CHECK(count("SELECT count(*) FROM tickets") == kNew);
  CHECK(count("SELECT count(DISTINCT protocol) FROM tickets") == kNew);
  CHECK(count("SELECT count(*) FROM articles WHERE kind = 'customer_message'") == kNew + kReplies);
  CHECK(count("SELECT count(DISTINCT message_id) FROM articles WHERE kind = 'customer_message'") == kNew + kReplies);
  // Every reply sits in the ticket of its customer's first message.
  CHECK(count("SELECT count(*) FROM articles r JOIN articles p ON p.ticket_id = r.ticket_id "
              "AND p.message_id = replace(r.message_id, 'resposta-', 'pedido-') WHERE r.message_id LIKE 'resposta-%'") ==
        kReplies);
  // Raw messages are in the database, not on either instance's disk.
  CHECK(count("SELECT count(*) FROM blobs") >= kNew + kReplies);
  CHECK_FALSE(std::filesystem::exists(dir.path() + "/a-state/blobs"));
  CHECK_FALSE(std::filesystem::exists(dir.path() + "/b-state/blobs"));

  // One opening mail per new ticket, queued once and received once.
  CHECK(count("SELECT count(*) FROM outbox WHERE template_name = 'opening'") == kNew);
  CHECK(count("SELECT count(*) FROM outbox") == kNew);
  const auto received = sink.mails();
  CHECK(received.size() == static_cast<size_t>(kNew));
  std::map<std::string, int> per_customer;
  std::set<std::string> message_ids;
  for (const auto& m : received) {
    message_ids.insert(m.header("Message-ID"));
    for (const auto& rcpt : m.rcpt_tos) ++per_customer[rcpt];
  }
  CHECK(message_ids.size() == received.size());
  CHECK(per_customer.size() == static_cast<size_t>(kNew));
  int twice = 0;
  for (const auto& [rcpt, n] : per_customer) twice += n != 1 ? 1 : 0;
  CHECK(twice == 0);
  const auto stored = dovecot.list("support");
  CHECK(stored.size() == static_cast<size_t>(kNew + kReplies));
  int unseen = 0;
  for (const auto& s : stored) unseen += s.seen() ? 0 : 1;
  CHECK(unseen == 0);
}

TEST_CASE("two daemons on one PostgreSQL read one Telegram bot through one getUpdates at a time", "[multi_instance][postgresql][telegram][daemon]") {
  auto& pg = Postgres::instance();
  const std::string db = pg.create_database();
  FakeTelegram telegram;
  TempDir dir;
  write_file(dir.path() + "/db.pass", Postgres::password() + "\n");
  write_file(dir.path() + "/reply.secret", "one key for every instance\n");
  const std::string channel = telegram_channel(telegram.port, dir.path());
  auto config = [&](const std::string& name) {
    const std::string path = dir.path() + "/" + name + ".ini";
    write_file(path, "[server]\naddress = suporte@atendd.test\nstate_dir = " + dir.path() + "/" + name +
                         "-state\ndatabase = postgresql://" + Postgres::user() + "@127.0.0.1:" +
                         std::to_string(pg.port()) + "/" + db + "?password_file=" + dir.path() +
                         "/db.pass\nsecret_file = " + dir.path() + "/reply.secret\nadmin_listen = 127.0.0.1:" +
                         std::to_string(free_port()) + "\n[smtp]\nport = " + std::to_string(free_port()) +
                         "\n[agent.maria]\nemail = maria@atendd.test\n[type.geral]\nname = Geral\n" + channel);
    return path;
  };
  DaemonProcess a({"--config", config("a")});
  DaemonProcess b({"--config", config("b")});
  REQUIRE(telegram.wait([&] { return telegram.offsets.size() >= 6; }, 60));  // both running a while
  telegram.add(100, 9, "Oi");
  telegram.add(101, 10, "Tudo bem?");
  REQUIRE(telegram.wait([&] { return !telegram.offsets.empty() && telegram.offsets.back() == 102; }, 30));
  std::this_thread::sleep_for(std::chrono::seconds(3));
  CHECK(a.stop() == 0);
  CHECK(b.stop() == 0);
  std::lock_guard<std::mutex> lock(telegram.mutex);
  CHECK(telegram.max_in_flight == 1);
  CHECK(std::stoi(pg.sql("SELECT count(*) FROM tickets", db)) == 1);
  CHECK(std::stoi(pg.sql("SELECT count(*) FROM articles WHERE kind = 'customer_message'", db)) == 2);
  CHECK(std::stoi(pg.sql("SELECT count(*) FROM journal", db)) == 2);
}

TEST_CASE("two daemons on one PostgreSQL make one ticket of one messaging sender's messages posted to both at once",
          "[multi_instance][postgresql][webhook][daemon]") {
  auto& pg = Postgres::instance();
  const std::string db = pg.create_database();
  TempDir dir;
  write_file(dir.path() + "/db.pass", Postgres::password() + "\n");
  write_file(dir.path() + "/reply.secret", "one key for every instance\n");
  write_file(dir.path() + "/gen.secret", "generic-secret-1\n");
  const int port_a = free_port(), port_b = free_port();
  auto config = [&](const std::string& name, int admin_port) {
    const std::string path = dir.path() + "/" + name + ".ini";
    write_file(path, "[server]\naddress = suporte@atendd.test\nstate_dir = " + dir.path() + "/" + name +
                         "-state\ndatabase = postgresql://" + Postgres::user() + "@127.0.0.1:" +
                         std::to_string(pg.port()) + "/" + db + "?password_file=" + dir.path() +
                         "/db.pass\nsecret_file = " + dir.path() + "/reply.secret\nadmin_listen = 127.0.0.1:" +
                         std::to_string(admin_port) + "\n[smtp]\nport = " + std::to_string(free_port()) +
                         "\n[agent.maria]\nemail = maria@atendd.test\n[type.geral]\nname = Geral\n"
                         "[channel.gen]\nkind = generic\nsecret_file = " + dir.path() + "/gen.secret\n"
                         "send_url = http://127.0.0.1:" + std::to_string(free_port()) + "/callback\n");
    return path;
  };
  DaemonProcess a({"--config", config("a", port_a)});
  DaemonProcess b({"--config", config("b", port_b)});
  const std::vector<std::string> bases{"http://127.0.0.1:" + std::to_string(port_a),
                                       "http://127.0.0.1:" + std::to_string(port_b)};
  for (const auto& base : bases)
    REQUIRE(wait_until([&] { return http("GET", base + "/healthz").status == 200; }, 60));

  // Each sender's messages are posted at once, half to each instance, from one thread each; a 503
  // (store busy: nothing committed) is posted again, as a provider retries.
  constexpr int kSenders = 12, kPerSender = 8;
  std::atomic<int> not_accepted{0}, busy_retries{0};
  for (int sender = 1; sender <= kSenders; ++sender) {
    std::atomic<int> waiting{kPerSender};
    std::vector<std::thread> posters;
    for (int m = 1; m <= kPerSender; ++m)
      posters.emplace_back([&, sender, m] {
        const std::string id = std::to_string(sender);
        const std::string body = "{\"id\":\"cliente-" + id + "-m" + std::to_string(m) + "\",\"from\":{\"id\":\"cliente-" +
                                 id + "\",\"name\":\"Cliente " + id + "\"},\"text\":\"Mensagem " + std::to_string(m) +
                                 "\",\"timestamp\":1764000000}";
        const std::string signature = "X-Atendd-Signature: " + generic_signature("generic-secret-1", body);
        --waiting;
        while (waiting > 0) std::this_thread::yield();  // all threads post together
        long status = 0;
        for (int attempt = 0; attempt < 20; ++attempt) {
          status = http("POST", bases[m % 2] + "/webhooks/gen", "", body, {signature}).status;
          if (status != 503) break;
          ++busy_retries;
          std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
        if (status != 200) ++not_accepted;
      });
    for (auto& t : posters) t.join();
  }
  CHECK(a.stop() == 0);
  CHECK(b.stop() == 0);
  if (busy_retries > 0) WARN(busy_retries << " posts answered 503 (store busy) and were posted again");
  auto count = [&](const std::string& sql) { return std::stoi(pg.sql(sql, db)); };

  CHECK(not_accepted == 0);
  // Nothing lost, nothing twice: every message journalled once and an article once.
  CHECK(count("SELECT count(*) FROM journal") == kSenders * kPerSender);
  CHECK(count("SELECT count(*) FROM articles WHERE kind = 'customer_message'") == kSenders * kPerSender);
  CHECK(count("SELECT count(DISTINCT message_id) FROM articles WHERE kind = 'customer_message'") ==
        kSenders * kPerSender);
  // One ticket per sender, opened by one message and holding all of them.
  CHECK(count("SELECT count(*) FROM tickets") == kSenders);
  CHECK(count("SELECT count(*) FROM (SELECT contact_id FROM tickets GROUP BY contact_id HAVING count(*) > 1) t") == 0);
  CHECK(count("SELECT count(*) FROM journal WHERE outcome = 'ticket_created'") == kSenders);
  CHECK(count("SELECT count(*) FROM journal WHERE outcome = 'appended'") == kSenders * (kPerSender - 1));
  CHECK(count("SELECT count(*) FROM articles r JOIN tickets t ON t.id = r.ticket_id JOIN contacts c ON c.id = "
              "t.contact_id WHERE r.kind = 'customer_message' AND split_part(r.message_id, '-m', 1) <> "
              "split_part(c.address, '@', 1)") == 0);
}

// imap_poller_test.cpp — the IMAP intake against a real Dovecot on 127.0.0.1: batches handed over
// in UID order and flagged only after the handler returned, a busy store leaves the message for
// later, move and delete, UIDVALIDITY change, TLS (IMAPS, STARTTLS, wrong CA), a wrong password
// beside a good mailbox, IDLE (also mail that came while a batch was applied), oversized
// messages, stop, and a Dovecot restart.
#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include <Poco/AutoPtr.h>
#include <Poco/Channel.h>
#include <Poco/Logger.h>
#include <Poco/Message.h>
#include <catch2/catch.hpp>

#include "daemon/sources/imap_poller.h"
#include "storage/sqlite_store.h"
#include "support/dovecot.h"

using namespace atendd;
using namespace atendd::test;
using Steady = std::chrono::steady_clock;

namespace {

class CapturedLog : public Poco::Channel {
 public:
  void log(const Poco::Message& msg) override {
    std::lock_guard<std::mutex> lock(mutex_);
    lines_.push_back(msg.getText());
  }
  std::vector<std::string> lines() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return lines_;
  }
  int count(const std::string& words) const {
    int n = 0;
    for (const auto& l : lines()) n += l.find(words) != std::string::npos;
    return n;
  }
  std::string all() const {
    std::string out;
    for (const auto& l : lines()) out += l + "\n";
    return out;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;
};

std::string message(int n, const std::string& extra_body = "") {
  return "From: Cliente " + std::to_string(n) + " <cliente" + std::to_string(n) + "@example.com>\r\n"
         "To: support@atendd.test\r\n"
         "Subject: pedido " + std::to_string(n) + "\r\n"
         "Message-ID: <msg" + std::to_string(n) + "@example.com>\r\n"
         "Date: Tue, 24 Nov 2026 10:00:00 +0000\r\n"
         "\r\n"
         "Mensagem numero " + std::to_string(n) + ".\r\n" + extra_body;
}

// One poller in its own thread, with its own store and a handler that records what it got.
struct Intake {
  TempDir dir;
  std::unique_ptr<SqliteStore> store;
  MailboxConfig config;
  Poco::AutoPtr<CapturedLog> log{new CapturedLog};
  Poco::Logger* logger = nullptr;
  ImapPollerTiming timing;
  std::function<void(const RawMessage&)> on_message;  // runs inside the handler
  bool batches = false;                               // a BatchHandler (group commit) instead
  std::function<void(const std::vector<RawMessage>&)> on_batch;  // runs inside the batch handler
  std::vector<size_t> batch_sizes;
  std::unique_ptr<ImapPoller> poller;
  std::atomic<bool> stop{false};
  std::thread thread;
  mutable std::mutex mutex;
  std::vector<RawMessage> handed;

  explicit Intake(Dovecot& dovecot, const std::string& name = "suporte") {
    store = std::make_unique<SqliteStore>(dir.path() + "/atendd.db");
    config.id = name;
    config.url = dovecot.imaps_url();
    config.ca_file = dovecot.ca_file();
    config.user = "support";
    config.password = "secret";
    config.poll_seconds = 1;
    config.idle = true;
    timing.read_timeout = std::chrono::seconds(10);
    static std::atomic<int> loggers{0};
    logger = &Poco::Logger::get("imap_test." + std::to_string(++loggers));
    logger->setChannel(log);
    logger->setLevel(Poco::Message::PRIO_DEBUG);
  }
  ~Intake() { finish(); }

  void start() {
    stop = false;
    if (batches) {
      poller = std::make_unique<ImapPoller>(
          config, *store, ImapPoller::BatchHandler([this](const std::vector<RawMessage>& batch) {
            if (on_batch) on_batch(batch);
            std::lock_guard<std::mutex> lock(mutex);
            batch_sizes.push_back(batch.size());
            std::vector<Outcome> outcomes(batch.size());
            for (const auto& raw : batch) handed.push_back(raw);
            for (auto& o : outcomes) o.kind = Outcome::Kind::TicketCreated;
            return outcomes;
          }),
          *logger, timing);
      thread = std::thread([this] { poller->run(stop); });
      return;
    }
    poller = std::make_unique<ImapPoller>(config, *store, [this](const RawMessage& raw) {
      if (on_message) on_message(raw);
      std::lock_guard<std::mutex> lock(mutex);
      handed.push_back(raw);
      Outcome o;
      o.kind = Outcome::Kind::TicketCreated;
      return o;
    }, *logger, timing);
    thread = std::thread([this] { poller->run(stop); });
  }
  // Sets stop and joins; returns how long the join took.
  double finish() {
    if (!thread.joinable()) return 0;
    const auto t0 = Steady::now();
    stop = true;
    thread.join();
    return std::chrono::duration<double>(Steady::now() - t0).count();
  }
  size_t count() const {
    std::lock_guard<std::mutex> lock(mutex);
    return handed.size();
  }
  std::vector<RawMessage> messages() const {
    std::lock_guard<std::mutex> lock(mutex);
    return handed;
  }
  // Waits up to `seconds` until at least `n` messages were handed over.
  bool wait_for(size_t n, double seconds) const {
    const auto until = Steady::now() + std::chrono::duration<double>(seconds);
    while (count() < n) {
      if (Steady::now() > until) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
  }
  bool wait_connected(double seconds) const {
    const auto until = Steady::now() + std::chrono::duration<double>(seconds);
    while (!(poller && poller->status().connected && poller->status().last_success_at > 0)) {
      if (Steady::now() > until) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
  }
};

template <typename Predicate>
bool eventually(double seconds, Predicate p) {
  const auto until = Steady::now() + std::chrono::duration<double>(seconds);
  while (!p()) {
    if (Steady::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

}  // namespace

TEST_CASE("a batch of 250 unseen messages is handed over in UID order and flagged only after the handler returned",
          "[imap][dovecot]") {
  Dovecot dovecot;
  std::vector<std::string> raws;
  for (int i = 1; i <= 250; ++i) raws.push_back(message(i));
  dovecot.add_unseen_many("support", raws);

  Intake intake(dovecot);
  std::vector<std::string> flagged_too_early;
  intake.on_message = [&](const RawMessage& raw) {
    if (raw.uid % 50 == 1) {  // ask Dovecot itself, for a sample
      for (const auto& m : dovecot.list("support"))
        if (m.uid == raw.uid && m.seen()) flagged_too_early.push_back(std::to_string(m.uid));
    }
  };
  const auto t0 = Steady::now();
  intake.start();
  REQUIRE(intake.wait_for(250, 20));
  const double seconds = std::chrono::duration<double>(Steady::now() - t0).count();
  WARN("250 messages handed over in " << seconds << " s (" << 250 / seconds << " msg/s, with 5 doveadm checks)");

  CHECK(flagged_too_early.empty());
  const auto handed = intake.messages();
  std::set<std::string> bodies;
  for (size_t i = 0; i < handed.size(); ++i) {
    CHECK(handed[i].source == "imap");
    CHECK(handed[i].mailbox == "suporte");
    CHECK(handed[i].uidvalidity == dovecot.uidvalidity("support"));
    CHECK_FALSE(handed[i].oversized);
    CHECK(handed[i].size == static_cast<std::int64_t>(handed[i].bytes.size()));
    if (i > 0) CHECK(handed[i].uid > handed[i - 1].uid);
    bodies.insert(handed[i].bytes);
  }
  CHECK(bodies.size() == 250);
  CHECK(bodies.count(message(137)) == 1);
  CHECK(eventually(5, [&] {
    auto state = intake.store->mailbox_state("suporte");
    return state && state->last_uid == handed.back().uid;
  }));
  intake.finish();
  const auto stored = dovecot.list("support");
  REQUIRE(stored.size() == 250);
  for (const auto& m : stored) CHECK(m.seen());
  CHECK(intake.count() == 250);  // nothing handed twice
}

TEST_CASE("a busy store leaves the message unflagged and it is handed again next time", "[imap][dovecot]") {
  Dovecot dovecot;
  dovecot.add_unseen("support", message(1));
  dovecot.add_unseen("support", message(2));
  Intake intake(dovecot);
  intake.timing.busy_retry = std::chrono::milliseconds(300);
  std::atomic<int> calls{0};
  std::atomic<bool> seen_while_busy{false};
  intake.on_message = [&](const RawMessage& raw) {
    if (raw.uid == 1 && ++calls == 1) {
      throw StoreError(StoreError::Kind::Busy, "database is locked");
    }
    if (raw.uid == 1 && dovecot.list("support").front().seen()) seen_while_busy = true;
  };
  intake.start();
  REQUIRE(intake.wait_for(2, 10));
  intake.finish();
  CHECK(calls == 2);
  CHECK_FALSE(seen_while_busy);
  const auto handed = intake.messages();
  CHECK(handed[0].uid == 1);  // the busy one again first, then the next
  CHECK(handed[1].uid == 2);
  for (const auto& m : dovecot.list("support")) CHECK(m.seen());
  CHECK(intake.log->count("store busy") == 1);
}

TEST_CASE("with a batch handler a busy store leaves the whole batch unflagged, then it is flagged at once",
          "[imap][dovecot]") {
  Dovecot dovecot;
  for (int i = 1; i <= 3; ++i) dovecot.add_unseen("support", message(i));
  Intake intake(dovecot);
  intake.batches = true;
  intake.timing.busy_retry = std::chrono::milliseconds(300);
  std::atomic<int> calls{0};
  std::atomic<bool> seen_while_handling{false};
  intake.on_batch = [&](const std::vector<RawMessage>& batch) {
    for (const auto& m : dovecot.list("support"))
      if (m.seen()) seen_while_handling = true;
    if (++calls == 1) {
      CHECK(batch.size() == 3);
      throw StoreError(StoreError::Kind::Busy, "database is locked");
    }
  };
  intake.start();
  REQUIRE(intake.wait_for(3, 10));
  CHECK(eventually(5, [&] {
    auto state = intake.store->mailbox_state("suporte");
    return state && state->last_uid == 3;
  }));
  intake.finish();
  CHECK(calls == 2);
  CHECK_FALSE(seen_while_handling);  // the busy batch was never flagged, not even in part
  const auto handed = intake.messages();
  REQUIRE(handed.size() == 3);
  for (size_t i = 0; i < handed.size(); ++i) CHECK(handed[i].uid == static_cast<std::int64_t>(i + 1));
  CHECK(intake.batch_sizes == std::vector<size_t>{3});
  for (const auto& m : dovecot.list("support")) CHECK(m.seen());
  CHECK(intake.log->count("store busy") == 1);
}

TEST_CASE("with a batch handler after = move moves the whole batch to the folder", "[imap][dovecot]") {
  Dovecot dovecot;
  dovecot.create_folder("support", "Processados");
  for (int i = 1; i <= 5; ++i) dovecot.add_unseen("support", message(i));
  Intake intake(dovecot);
  intake.batches = true;
  intake.timing.batch_messages = 2;  // batches 1:2, 3:4, 5
  intake.config.after = "move:Processados";
  intake.start();
  REQUIRE(intake.wait_for(5, 10));
  CHECK(eventually(5, [&] { return dovecot.list("support").empty(); }));
  intake.finish();
  const auto moved = dovecot.list("support", "Processados");
  CHECK(moved.size() == 5);
  for (const auto& m : moved) CHECK(m.seen());
  CHECK(intake.batch_sizes == std::vector<size_t>{2, 2, 1});
}

TEST_CASE("after = move moves handled messages to the folder", "[imap][dovecot]") {
  Dovecot dovecot;
  dovecot.create_folder("support", "Processados");
  for (int i = 1; i <= 3; ++i) dovecot.add_unseen("support", message(i));
  Intake intake(dovecot);
  intake.config.after = "move:Processados";
  intake.start();
  REQUIRE(intake.wait_for(3, 10));
  CHECK(eventually(5, [&] { return dovecot.list("support").empty(); }));
  intake.finish();
  const auto moved = dovecot.list("support", "Processados");
  CHECK(moved.size() == 3);
  for (const auto& m : moved) CHECK(m.seen());
}

TEST_CASE("after = delete removes handled messages", "[imap][dovecot]") {
  Dovecot dovecot;
  for (int i = 1; i <= 3; ++i) dovecot.add_unseen("support", message(i));
  Intake intake(dovecot);
  intake.config.after = "delete";
  intake.start();
  REQUIRE(intake.wait_for(3, 10));
  CHECK(eventually(5, [&] { return dovecot.list("support").empty(); }));
  intake.finish();
  CHECK(intake.count() == 3);
}

TEST_CASE("a UIDVALIDITY change re-scans the folder and hands the messages with the new uidvalidity",
          "[imap][dovecot]") {
  Dovecot dovecot;
  for (int i = 1; i <= 3; ++i) dovecot.add_unseen("support", message(i));
  Intake intake(dovecot);
  intake.start();
  REQUIRE(intake.wait_for(3, 10));
  intake.finish();
  const std::int64_t old_validity = intake.messages().front().uidvalidity;

  dovecot.set_uidvalidity("support", "INBOX", old_validity + 1000);
  intake.start();
  REQUIRE(intake.wait_for(6, 10));
  intake.finish();
  const auto handed = intake.messages();
  REQUIRE(handed.size() == 6);
  for (size_t i = 3; i < 6; ++i) {
    CHECK(handed[i].uidvalidity == old_validity + 1000);
    CHECK(handed[i].bytes == handed[i - 3].bytes);
  }
  CHECK(intake.log->count("UIDVALIDITY changed") == 1);
  CHECK(intake.store->mailbox_state("suporte")->uidvalidity == old_validity + 1000);
}

TEST_CASE("STARTTLS with the CA file works and so does IMAPS", "[imap][dovecot]") {
  Dovecot dovecot;
  dovecot.add_unseen("support", message(1));
  Intake starttls(dovecot, "starttls");
  starttls.config.url = dovecot.imap_url();
  starttls.config.after = "seen";
  starttls.start();
  REQUIRE(starttls.wait_for(1, 10));
  starttls.finish();
  CHECK(starttls.log->count("connected") == 1);

  dovecot.add_unseen("support", message(2));
  Intake imaps(dovecot, "imaps");
  imaps.config.url = dovecot.imaps_url();
  imaps.start();
  REQUIRE(imaps.wait_for(2, 10));  // its own store: both messages are new to it
}

TEST_CASE("a wrong CA fails cleanly with one logged error and no message handed", "[imap][dovecot]") {
  Dovecot dovecot;
  dovecot.add_unseen("support", message(1));
  TempDir other;
  write_file(other.path() + "/wrong.pem", read_file("/etc/ssl/certs/ca-certificates.crt"));
  for (const std::string& url : {dovecot.imaps_url(), dovecot.imap_url()}) {
    Intake intake(dovecot);
    intake.config.url = url;
    intake.config.ca_file = other.path() + "/wrong.pem";
    intake.start();
    CHECK(eventually(5, [&] { return !intake.poller->status().last_error.empty(); }));
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // a retry or two
    intake.finish();
    INFO(intake.log->all());
    CHECK(intake.log->count("cannot connect") == 1);
    CHECK(intake.log->lines().size() == 1);
    CHECK(intake.count() == 0);
    CHECK_FALSE(intake.poller->status().connected);
  }
  CHECK_FALSE(dovecot.list("support").front().seen());
}

TEST_CASE("a mailbox with a wrong password keeps retrying and logs once while another mailbox works",
          "[imap][dovecot]") {
  Dovecot dovecot;
  Intake bad(dovecot, "bad");
  bad.config.password = "wrong";
  Intake good(dovecot, "good");
  good.config.user = "customer";
  bad.start();
  good.start();
  REQUIRE(good.wait_connected(10));
  dovecot.add_unseen("customer", message(1));
  CHECK(good.wait_for(1, 5));
  std::this_thread::sleep_for(std::chrono::milliseconds(3500));  // attempts at 0, 1, 3 s
  const auto status = bad.poller->status();
  bad.finish();
  good.finish();
  INFO(bad.log->all());
  CHECK(bad.log->lines().size() == 1);
  CHECK(bad.log->count("mailbox bad: cannot connect") == 1);
  CHECK(bad.log->all().find("wrong") == std::string::npos);  // the password never shows
  CHECK_FALSE(status.connected);
  CHECK_FALSE(status.last_error.empty());
  CHECK(status.last_success_at == 0);
  CHECK(good.poller->status().last_success_at > 0);
}

TEST_CASE("IDLE hands over a message added while idling within about two seconds", "[imap][dovecot]") {
  Dovecot dovecot;
  Intake intake(dovecot);
  intake.config.poll_seconds = 600;  // only IDLE can bring it in time
  intake.start();
  REQUIRE(intake.wait_connected(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // into IDLE
  double worst = 0;
  for (int i = 1; i <= 3; ++i) {
    const auto t0 = Steady::now();
    dovecot.add_unseen("support", message(i));
    REQUIRE(intake.wait_for(static_cast<size_t>(i), 3));
    worst = std::max(worst, std::chrono::duration<double>(Steady::now() - t0).count());
  }
  WARN("IDLE latency (worst of 3, from doveadm save to the handler): " << worst << " s");
  CHECK(worst < 2.0);
}

TEST_CASE("a message that arrives while a batch is applied is taken at once and not left until IDLE is re-issued",
          "[imap][dovecot]") {
  // Dovecot announces it (EXISTS) in the answer to the batch's flag command, and not again in the
  // IDLE that follows: the poller has to notice the announcement outside IDLE.
  Dovecot dovecot;
  dovecot.add_unseen("support", message(1));
  Intake intake(dovecot);
  intake.batches = true;
  intake.config.poll_seconds = 600;  // neither polling nor the IDLE re-issue (25 min) can help
  bool added = false;
  intake.on_batch = [&](const std::vector<RawMessage>&) {
    if (added) return;
    added = true;
    dovecot.add_unseen("support", message(2));
  };
  intake.start();
  REQUIRE(intake.wait_for(2, 5));
  const auto got = intake.messages();
  CHECK(got[0].uid == 1);
  CHECK(got[1].uid == 2);
  CHECK(intake.batch_sizes.size() == 2);
}

TEST_CASE("a message over max_message_mb is passed headers-only and marked oversized", "[imap][dovecot]") {
  Dovecot dovecot;
  std::string big(1200 * 1024, 'x');
  for (size_t i = 76; i < big.size(); i += 78) big[i] = '\n';
  dovecot.add_unseen("support", message(1, big));
  dovecot.add_unseen("support", message(2));
  Intake intake(dovecot);
  intake.config.max_message_mb = 1;
  intake.start();
  REQUIRE(intake.wait_for(2, 10));
  const auto handed = intake.messages();
  CHECK(handed[0].oversized);
  CHECK(handed[0].size > 1024 * 1024);
  CHECK(handed[0].bytes.find("Subject: pedido 1\r\n") != std::string::npos);
  CHECK(handed[0].bytes.find("xxxx") == std::string::npos);
  CHECK(handed[0].bytes.size() < 1024);
  CHECK_FALSE(handed[1].oversized);
  CHECK(handed[1].bytes == message(2));
}

TEST_CASE("the stop flag is honoured within a second while idling and while polling", "[imap][dovecot]") {
  Dovecot dovecot;
  for (bool idle : {true, false}) {
    Intake intake(dovecot);
    intake.config.idle = idle;
    intake.config.poll_seconds = 600;
    intake.start();
    REQUIRE(intake.wait_connected(10));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    CHECK(intake.finish() < 1.0);
  }
  Intake failing(dovecot);  // and while waiting to retry a failed connection
  failing.config.password = "wrong";
  failing.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  CHECK(failing.finish() < 1.0);
}

TEST_CASE("Dovecot stopped and restarted while the poller runs: it reconnects and catches up", "[imap][dovecot]") {
  Dovecot dovecot;
  dovecot.add_unseen("support", message(1));
  Intake intake(dovecot);
  intake.start();
  REQUIRE(intake.wait_for(1, 10));
  dovecot.stop();
  CHECK(eventually(5, [&] { return !intake.poller->status().connected; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  dovecot.start();
  dovecot.add_unseen("support", message(2));
  dovecot.add_unseen("support", message(3));
  REQUIRE(intake.wait_for(3, 15));
  CHECK(intake.poller->status().connected);
  intake.finish();
  INFO(intake.log->all());
  CHECK(intake.log->count("connection lost") == 1);
  CHECK(intake.log->count(": connected") == 2);
  for (const auto& m : dovecot.list("support")) CHECK(m.seen());
}

// quarantine_daemon_test.cpp — the quarantine end to end: the `atendd` daemon on a real Dovecot
// INBOX with a real SMTP sink. A message the store refuses (a trigger stands in for "the store
// rejected it") is quarantined and committed before the IMAP message is flagged: a crash right
// after that commit leaves the message unseen, and the refetch rewrites the same journal row.
// Then, over real HTTP with role checks: list, show, /healthz and /metrics detail, retry (read
// token refused, admin applies it once and the customer gets one opening mail, a second retry
// does nothing), drop with a reason (kept as dropped), the ticket's /why. And the CLI on the same
// store: quarantine list, show, retry, drop.
#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include <catch2/catch.hpp>

#include "../admin/admin_client.h"
#include "storage/sqlite_store.h"
#include "support/dovecot.h"

using namespace atendd;
using namespace atendd::test;

namespace {

const char* const kPoison =
    "CREATE TRIGGER poison BEFORE INSERT ON articles WHEN NEW.subject LIKE 'Veneno%' "
    "BEGIN SELECT RAISE(ABORT, 'poisoned article'); END";

void run_sql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  sqlite3_busy_timeout(db, 10000);
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
  sqlite3_close(db);
  REQUIRE(rc == SQLITE_OK);
}

std::string message(const std::string& from, const std::string& subject, const std::string& id) {
  return "From: " + from + "\r\nTo: suporte@atendd.test\r\nSubject: " + subject + "\r\nMessage-ID: <" + id +
         ">\r\nDate: Tue, 24 Nov 2026 10:00:00 +0000\r\n\r\nTexto de " + subject + ".\r\n";
}

struct Intake {
  Dovecot dovecot;
  TempDir dir;
  SmtpSink sink{dir.path() + "/sink"};
  std::string state_dir = dir.path() + "/state";
  std::string db = state_dir + "/atendd.db";
  std::string config = dir.path() + "/atendd.ini";
  int port = free_port();
  std::string base = "http://127.0.0.1:" + std::to_string(port);

  Intake() {
    write_file(dir.path() + "/suporte.pass", "secret\n");
    write_file(dir.path() + "/admin.tokens",
               std::string("ops read ") + kReadToken + "\nroot admin " + kAdminToken + "\n");
    write_file(config,
               "[server]\nname = Suporte Teste\naddress = suporte@atendd.test\n"
               "reply_address = suporte+{token}@atendd.test\nstate_dir = " + state_dir + "\nlocale = en\n"
               "admin_listen = 127.0.0.1:" + std::to_string(port) + "\nadmin_tokens = admin.tokens\n"
               "[smtp]\nhost = 127.0.0.1\nport = " + std::to_string(sink.port()) +
               "\ntimeout_seconds = 5\nretry_initial_seconds = 1\nretry_max_seconds = 1\n"
               "[mailbox.suporte]\nurl = " + dovecot.imap_url() + "\nca_file = " + dovecot.ca_file() +
               "\nuser = support\npassword_file = suporte.pass\npoll_seconds = 1\n"
               "[agent.maria]\nemail = maria@atendd.test\nname = Maria Souza\ndepartment = suporte\n"
               "[type.geral]\nname = Geral\ndepartment = suporte\nassign = agent:maria\n");
    // The store exists before the daemon (migrated), so the test can poison it.
    std::filesystem::create_directories(state_dir);
    { SqliteStore store(db); }
    run_sql(db, kPoison);
  }
  std::unique_ptr<DaemonProcess> start(const std::vector<std::string>& env = {}) {
    auto daemon = std::make_unique<DaemonProcess>(std::vector<std::string>{"--config", config}, env);
    return daemon;
  }
  void wait_for_admin() {
    for (int i = 0; i < 200; ++i) {
      if (http("GET", base + "/healthz").status != 0) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  bool wait_all_seen(std::size_t count, double seconds) {
    for (int i = 0; i < seconds * 20; ++i) {
      const auto stored = dovecot.list("support");
      std::size_t seen = 0;
      for (const auto& m : stored) seen += m.seen();
      if (stored.size() == count && seen == count) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  std::vector<JournalEntry> journal() { return SqliteStore(db).journal(100); }
  int mails_to(const std::string& rcpt) {
    int n = 0;
    for (const auto& m : sink.mails())
      for (const auto& r : m.rcpt_tos) n += r == rcpt;
    return n;
  }
  RunResult cli(std::vector<std::string> args) {
    args.insert(args.begin(), {"--config", config});
    return run_atendd(args);
  }
};

}  // namespace

TEST_CASE("a message the store refuses is quarantined over IMAP before it is flagged and is retried once through the API",
          "[quarantine][dovecot][daemon][admin]") {
  Intake intake;
  intake.dovecot.add_unseen("support", message("Joana <joana@cliente.test>", "Boleto", "boleto@cliente.test"));
  intake.dovecot.add_unseen("support", message("Rui <rui@cliente.test>", "Veneno", "veneno@cliente.test"));

  // 1. The daemon dies right after the batch's commit, before any flag.
  {
    auto crashing = intake.start({"ATENDD_FAILPOINT=imap_exit_after_commit"});
    const auto code = crashing->wait_exit(60);
    REQUIRE(code);
    CHECK(*code == 137);
  }
  auto journal = intake.journal();
  REQUIRE(journal.size() == 2);
  std::int64_t quarantined_id = 0;
  for (const auto& e : journal) {
    if (e.message_id == "veneno@cliente.test") {
      quarantined_id = e.id;
      CHECK(e.outcome == "quarantined");
      CHECK(e.detail.find("poisoned article") != std::string::npos);
      CHECK(e.mailbox == "suporte");
      CHECK(e.source == "imap");
    } else {
      CHECK(e.outcome == "ticket_created");
    }
  }
  REQUIRE(quarantined_id != 0);
  // The quarantine was committed and the IMAP messages are not flagged yet: flags come after.
  for (const auto& m : intake.dovecot.list("support")) CHECK(!m.seen());

  // 2. Started again: both UIDs are fetched again; the quarantined one rewrites its own row
  // (still poisoned), nothing is done twice, and now both are flagged: the mailbox is not blocked.
  auto daemon = intake.start();
  intake.wait_for_admin();
  REQUIRE(intake.wait_all_seen(2, 30));
  journal = intake.journal();
  CHECK(journal.size() == 2);
  CHECK(SqliteStore(intake.db).journal_entry(quarantined_id)->outcome == "quarantined");
  CHECK(SqliteStore(intake.db).tickets(std::nullopt, 10).size() == 1);
  intake.sink.wait_for(2, 10);
  CHECK(intake.mails_to("joana@cliente.test") == 1);
  CHECK(intake.mails_to("rui@cliente.test") == 0);

  const std::string id = std::to_string(quarantined_id);
  const std::string q = intake.base + "/api/v1/quarantine";

  // 3. Reading: the list, one message, /healthz and /metrics.
  CHECK(http("GET", q).status == 401);
  HttpReply reply = http("GET", q, kReadToken);
  REQUIRE(reply.status == 200);
  CHECK(reply.json()->getValue<int>("count") == 1);
  CHECK(reply.json()->getArray("messages")->getObject(0)->getValue<std::int64_t>("id") == quarantined_id);
  reply = http("GET", q + "/" + id, kReadToken);
  REQUIRE(reply.status == 200);
  CHECK(reply.json()->getObject("headers")->getValue<std::string>("subject") == "Veneno");
  CHECK(reply.json()->getValue<std::string>("reason").find("poisoned article") != std::string::npos);
  CHECK(http("GET", q + "/999999", kReadToken).status == 404);
  reply = http("GET", intake.base + "/healthz");
  CHECK(reply.json()->getObject("quarantine")->getValue<int>("size") == 1);
  CHECK(!reply.json()->getObject("quarantine")->isNull("oldest_received_at"));
  CHECK(http("GET", intake.base + "/metrics").body.find("atendd_quarantine_messages 1\n") != std::string::npos);
  CHECK(http("GET", intake.base + "/", kReadToken).body.find("Quarantine: 1") != std::string::npos);

  // 4. The CLI sees the same quarantine while the daemon runs.
  RunResult cli = intake.cli({"quarantine", "list"});
  CHECK(cli.exit_code == 0);
  CHECK(cli.out.find("quarantine: 1 message(s)") != std::string::npos);
  cli = intake.cli({"quarantine", "show", id});
  CHECK(cli.exit_code == 0);
  CHECK(cli.out.find("Subject:     Veneno") != std::string::npos);
  CHECK(cli.out.find("reason:      the store refused it") != std::string::npos);

  // 5. Retry: a read token may not; before the fix it stays quarantined (same row); after the
  // fix the admin applies it once; a second retry does nothing.
  reply = http("POST", q + "/" + id + "/retry", kReadToken);
  CHECK(reply.status == 403);
  CHECK(reply.json()->has("error"));
  reply = http("POST", q + "/" + id + "/retry", kAdminToken);
  CHECK(reply.status == 422);
  CHECK(reply.json()->getValue<std::string>("result") == "still_quarantined");
  CHECK(intake.journal().size() == 2);
  run_sql(intake.db, "DROP TRIGGER poison");
  reply = http("POST", q + "/" + id + "/retry", kAdminToken);
  INFO(reply.body);
  REQUIRE(reply.status == 200);
  CHECK(reply.json()->getValue<std::string>("outcome") == "ticket_created");
  const std::string protocol = reply.json()->getValue<std::string>("protocol");
  intake.sink.wait_for(4, 15);
  CHECK(intake.mails_to("rui@cliente.test") == 1);
  reply = http("POST", q + "/" + id + "/retry", kAdminToken);
  CHECK(reply.status == 409);
  CHECK(reply.json()->getValue<std::string>("error").find("not in the quarantine") != std::string::npos);
  cli = intake.cli({"quarantine", "retry", id});
  CHECK(cli.exit_code == 1);
  CHECK(cli.out.find("nothing done") != std::string::npos);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  CHECK(intake.mails_to("rui@cliente.test") == 1);
  CHECK(SqliteStore(intake.db).tickets(std::nullopt, 10).size() == 2);
  CHECK(intake.journal().size() == 2);
  CHECK(http("GET", q, kReadToken).json()->getValue<int>("count") == 0);

  // 6. Why is the retried ticket here, and why is it maria's.
  reply = http("GET", intake.base + "/api/v1/tickets/" + protocol + "/why", kReadToken);
  REQUIRE(reply.status == 200);
  CHECK(reply.body.find("\"assign = agent:maria") == std::string::npos);  // JSON, not text
  CHECK(reply.body.find("fixed: type geral has assign = agent:maria") != std::string::npos);
  CHECK(reply.body.find("retry of quarantined " + id) != std::string::npos);
  CHECK(http("GET", intake.base + "/api/v1/tickets/" + protocol + "?why=1", kReadToken).body ==
        reply.body);
  CHECK(http("GET", intake.base + "/api/v1/tickets/000/why", kReadToken).status == 404);
  cli = intake.cli({"ticket", "show", protocol, "--why"});
  CHECK(cli.exit_code == 0);
  CHECK(cli.out.find("assignment   maria — fixed") != std::string::npos);

  // 7. Drop: another poisoned message; a drop needs a reason and an admin; it stays journalled.
  run_sql(intake.db, kPoison);
  intake.dovecot.add_unseen("support", message("Rui <rui@cliente.test>", "Veneno outra vez", "veneno2@cliente.test"));
  REQUIRE(intake.wait_all_seen(3, 30));
  std::int64_t second = 0;
  for (const auto& e : intake.journal())
    if (e.message_id == "veneno2@cliente.test") second = e.id;
  REQUIRE(second != 0);
  const std::string id2 = std::to_string(second);
  CHECK(http("POST", q + "/" + id2 + "/drop", kReadToken, "{\"reason\":\"spam\"}").status == 403);
  CHECK(http("POST", q + "/" + id2 + "/drop", kAdminToken, "{}").status == 400);
  reply = http("POST", q + "/" + id2 + "/drop", kAdminToken, "{\"reason\":\"test message, not a customer\"}");
  CHECK(reply.status == 200);
  CHECK(http("POST", q + "/" + id2 + "/drop", kAdminToken, "{\"reason\":\"again\"}").status == 409);
  CHECK(http("POST", q + "/" + id2 + "/retry", kAdminToken).status == 409);
  const auto dropped = SqliteStore(intake.db).journal_entry(second);
  REQUIRE(dropped);
  CHECK(dropped->outcome == "dropped");
  CHECK(dropped->detail.find("dropped by api:root: test message, not a customer") != std::string::npos);
  CHECK(http("GET", intake.base + "/metrics").body.find("atendd_quarantine_messages 0\n") != std::string::npos);
  CHECK(daemon->stop() == 0);
}

TEST_CASE("the quarantine CLI lists shows retries once and drops with a reason", "[quarantine][cli]") {
  TempDir dir;
  const std::string state = dir.path() + "/state";
  const std::string config = dir.path() + "/atendd.ini";
  write_file(config,
             "[server]\nname = Suporte\naddress = suporte@atendd.test\nstate_dir = " + state +
             "\nlocale = en\n[smtp]\nhost = 127.0.0.1\nport = " + std::to_string(free_port()) +
             "\ntimeout_seconds = 2\n[type.geral]\nname = Geral\n");
  auto atendd = [&](std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), {"--config", config});
    return run_atendd(args, input);
  };
  std::filesystem::create_directories(state);
  { SqliteStore store(state + "/atendd.db"); }
  run_sql(state + "/atendd.db", kPoison);

  // deliver: quarantined is done for the MTA (exit 0), the message is kept.
  RunResult r = atendd({"deliver", "--mailbox", "suporte"}, message("a@cliente.test", "Veneno", "v1@cliente.test"));
  CHECK(r.exit_code == 0);
  CHECK(r.out.rfind("quarantined (", 0) == 0);
  r = atendd({"deliver", "--mailbox", "suporte"}, message("b@cliente.test", "Veneno 2", "v2@cliente.test"));
  CHECK(r.exit_code == 0);
  // The same message delivered again rewrites its row: still two entries.
  r = atendd({"deliver", "--mailbox", "suporte"}, message("a@cliente.test", "Veneno", "v1@cliente.test"));
  CHECK(r.out.rfind("quarantined (", 0) == 0);
  r = atendd({"quarantine", "list", "--json"});
  REQUIRE(r.exit_code == 0);
  Poco::JSON::Parser parser;
  auto list = parser.parse(r.out).extract<Poco::JSON::Object::Ptr>();
  CHECK(list->getValue<int>("count") == 2);
  const auto first = list->getArray("messages")->getObject(0)->getValue<std::int64_t>("id");
  const auto second = list->getArray("messages")->getObject(1)->getValue<std::int64_t>("id");

  r = atendd({"quarantine", "show", std::to_string(first)});
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("defects:") != std::string::npos);
  CHECK(r.out.find("From:        a@cliente.test") != std::string::npos);
  CHECK(atendd({"quarantine", "show", "424242"}).exit_code == 66);
  CHECK(atendd({"quarantine", "show", "x"}).exit_code == 64);
  CHECK(atendd({"quarantine", "retry"}).exit_code == 64);
  CHECK(atendd({"quarantine", "drop", std::to_string(second)}).exit_code == 64);  // no --reason

  r = atendd({"quarantine", "retry", "--all"});
  CHECK(r.exit_code == 1);
  CHECK(r.out.find("still quarantined") != std::string::npos);
  run_sql(state + "/atendd.db", "DROP TRIGGER poison");
  r = atendd({"quarantine", "retry", std::to_string(first)});
  CHECK(r.exit_code == 0);
  CHECK(r.out.find(": ticket_created ") != std::string::npos);
  r = atendd({"quarantine", "retry", std::to_string(first)});
  CHECK(r.exit_code == 1);
  r = atendd({"quarantine", "drop", std::to_string(second), "--reason", "duplicate of another"});
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("dropped: duplicate of another") != std::string::npos);
  r = atendd({"quarantine", "list"});
  CHECK(r.out.find("quarantine: 0 message(s)") != std::string::npos);

  SqliteStore store(state + "/atendd.db");
  CHECK(store.tickets(std::nullopt, 10).size() == 1);
  CHECK(store.journal(10).size() == 2);
  CHECK(store.journal_entry(second)->outcome == "dropped");
  CHECK(store.journal_entry(second)->detail.find("dropped by cli") != std::string::npos);
}

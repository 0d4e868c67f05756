// import_command_test.cpp — `atendd import` as an administrator runs it: an mbox of generated
// conversations becomes tickets and nothing reaches the real SMTP server, not even when the daemon
// runs afterwards (outbox, escalations); a second run imports nothing; an import killed mid-way
// and run again ends with exactly the tickets of an uninterrupted one; a Maildir imports too.
#include <sqlite3.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <regex>
#include <thread>

#include <catch2/catch.hpp>

#include "storage/sqlite_store.h"
#include "support/conversation_archive.h"
#include "support/processes.h"

using namespace atendd;
using namespace atendd::test;

namespace {

struct Desk {
  TempDir dir;
  std::string config_path, state_dir;

  explicit Desk(int smtp_port) {
    state_dir = dir.path() + "/state";
    config_path = dir.path() + "/atendd.ini";
    write_file(config_path,
               "[server]\nname = Suporte Teste\naddress = suporte@atendd.test\n"
               "reply_address = suporte+{token}@atendd.test\nstate_dir = " + state_dir + "\nlocale = pt_BR\n"
               "[smtp]\nhost = 127.0.0.1\nport = " + std::to_string(smtp_port) + "\ntimeout_seconds = 5\n"
               "retry_initial_seconds = 1\nretry_max_seconds = 1\n"
               "[agent.maria]\nemail = maria@atendd.test\nname = Maria Souza\ndepartment = suporte\n"
               "[type.geral]\nname = Geral\ndepartment = suporte\nassign = round_robin\nfirst_response_hours = 1\n"
               "next_contact_days = 1\nwatchers = gerente@atendd.test\n");
  }
  RunResult import(const std::string& path) {
    return run_atendd({"--config", config_path, "import", "--mailbox", "suporte", path});
  }
  std::int64_t count(const std::string& sql) {
    sqlite3* db = nullptr;
    std::int64_t n = -1;
    if (sqlite3_open_v2((state_dir + "/atendd.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
      sqlite3_busy_timeout(db, 2000);
      sqlite3_stmt* st = nullptr;
      if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
      sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return n;
  }
};

std::int64_t number_before(const std::string& out, const std::string& words) {
  std::smatch m;
  if (std::regex_search(out, m, std::regex("([0-9,]+) " + words))) {
    std::string digits;
    for (char c : m[1].str())
      if (c != ',') digits += c;
    return std::stoll(digits);
  }
  return -1;
}

}  // namespace

TEST_CASE("atendd import builds tickets from an mbox and no mail is ever sent for them", "[import][smtp]") {
  TempDir sink_dir;
  SmtpSink sink(sink_dir.path());
  Desk desk(sink.port());
  const ConversationArchive archive = make_conversation_archive(300);
  const std::string mbox = desk.dir.path() + "/suporte.mbox";
  write_file(mbox, to_mbox(archive.messages));

  const RunResult run = desk.import(mbox);
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  CHECK(number_before(run.out, "tickets created") == archive.conversations);
  CHECK(number_before(run.out, "added to tickets") == archive.agent_answers + archive.customer_replies);
  CHECK(run.out.find("nothing was sent") != std::string::npos);
  CHECK(run.err.find("\r") == std::string::npos);  // no progress line when stderr is no terminal
  CHECK(desk.count("SELECT count(*) FROM tickets") == archive.conversations);
  CHECK(desk.count("SELECT count(*) FROM outbox") == 0);

  // The daemon runs on the imported store: no outbox to drain, no deadline to escalate.
  {
    DaemonProcess daemon({"--config", desk.config_path});
    std::this_thread::sleep_for(std::chrono::seconds(4));
    CHECK(daemon.stop() == 0);
  }
  CHECK(sink.mails().empty());
  CHECK(desk.count("SELECT count(*) FROM outbox") == 0);

  const RunResult again = desk.import(mbox);
  INFO(again.out << again.err);
  REQUIRE(again.exit_code == 0);
  CHECK(number_before(again.out, "tickets created") == 0);
  CHECK(number_before(again.out, "added to tickets") == 0);
  CHECK(number_before(again.out, "already there") == 300);
  CHECK(desk.count("SELECT count(*) FROM tickets") == archive.conversations);
}

TEST_CASE("an import killed mid-way and run again ends with the tickets of an uninterrupted one", "[import]") {
  TempDir sink_dir;
  SmtpSink sink(sink_dir.path());
  Desk desk(sink.port());
  const ConversationArchive archive = make_conversation_archive(1000);
  const std::string mbox = desk.dir.path() + "/suporte.mbox";
  write_file(mbox, to_mbox(archive.messages));

  bool killed_mid_way = false;
  {
    DaemonProcess import({"--config", desk.config_path, "import", "--mailbox", "suporte", mbox});
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      const std::int64_t journalled = desk.count("SELECT count(*) FROM journal");
      if (journalled >= 100) {
        import.kill();
        killed_mid_way = journalled < 1000;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  const std::int64_t before = desk.count("SELECT count(*) FROM journal");
  INFO("journalled when killed: " << before);
  if (!killed_mid_way) WARN("the import finished before it could be killed: only the rerun is checked");

  const RunResult rerun = desk.import(mbox);
  INFO(rerun.out << rerun.err);
  REQUIRE(rerun.exit_code == 0);
  CHECK(number_before(rerun.out, "already there") == before);
  CHECK(desk.count("SELECT count(*) FROM tickets") == archive.conversations);
  CHECK(desk.count("SELECT count(*) FROM articles") == 1000 - archive.ours);
  CHECK(desk.count("SELECT count(*) FROM journal") == 1000);
  CHECK(desk.count("SELECT count(*) FROM outbox") == 0);
}

TEST_CASE("atendd import reads a Maildir's cur and new folders", "[import]") {
  TempDir sink_dir;
  SmtpSink sink(sink_dir.path());
  Desk desk(sink.port());
  const ConversationArchive archive = make_conversation_archive(60);
  const std::string maildir = desk.dir.path() + "/Maildir";
  for (const char* sub : {"cur", "new", "tmp"}) std::filesystem::create_directories(maildir + "/" + sub);
  int n = 0;
  for (const auto& m : archive.messages) {
    // Delivered in date order, read in cur/ (seen) or new/; names as Dovecot writes them.
    const std::string name = std::to_string(m.date) + ".M" + std::to_string(n) + "P4242.mail.atendd.test";
    if (n % 3 == 0)
      write_file(maildir + "/new/" + name, m.raw);
    else
      write_file(maildir + "/cur/" + name + ":2,S", m.raw);
    ++n;
  }
  write_file(maildir + "/tmp/half-written", "From: x@y.z\r\n");  // tmp/ is never read

  const RunResult run = desk.import(maildir);
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  CHECK(number_before(run.out, "messages") == 60);
  CHECK(desk.count("SELECT count(*) FROM tickets") == archive.conversations);
  CHECK(desk.count("SELECT count(*) FROM articles") == 60 - archive.ours);
  CHECK(desk.count("SELECT count(*) FROM outbox") == 0);
  CHECK(sink.mails().empty());
}

TEST_CASE("atendd import refuses what is neither an mbox nor a Maildir and a bad since date", "[import]") {
  TempDir sink_dir;
  SmtpSink sink(sink_dir.path());
  Desk desk(sink.port());
  write_file(desk.dir.path() + "/notes.txt", "hello\n");
  const RunResult text = desk.import(desk.dir.path() + "/notes.txt");
  CHECK(text.exit_code == 66);
  CHECK(text.err.find("not an mbox") != std::string::npos);
  const RunResult missing = desk.import(desk.dir.path() + "/nothing-here");
  CHECK(missing.exit_code == 66);
  const RunResult since = run_atendd({"--config", desk.config_path, "import", "--mailbox", "suporte", "--since",
                                      "last week", desk.dir.path() + "/notes.txt"});
  CHECK(since.exit_code != 0);
  CHECK(since.err.find("--since") != std::string::npos);
}

TEST_CASE("on a terminal atendd import shows a progress line with count rate and time left", "[import]") {
  if (std::system("command -v script >/dev/null 2>&1") != 0) {
    WARN("script(1) not found: test skipped");
    return;
  }
  TempDir sink_dir;
  SmtpSink sink(sink_dir.path());
  Desk desk(sink.port());
  const ConversationArchive archive = make_conversation_archive(120);
  const std::string mbox = desk.dir.path() + "/suporte.mbox";
  write_file(mbox, to_mbox(archive.messages));
  // script(1) gives the command a pseudo-terminal for standard output and error.
  const std::string typescript = desk.dir.path() + "/typescript";
  const std::string command = std::string(ATENDD_BINARY) + " --config " + desk.config_path +
                              " import --mailbox suporte " + mbox;
  const int status = std::system(("script -qec '" + command + "' " + typescript + " >/dev/null 2>&1").c_str());
  CHECK(status == 0);
  const std::string screen = read_file(typescript);
  INFO(screen);
  CHECK(screen.find("\rimport: 120 / 120 messages (100%)") != std::string::npos);
  CHECK(screen.find("msg/s") != std::string::npos);
  CHECK(screen.find(" left") != std::string::npos);
  CHECK(screen.find("120 messages: " + std::to_string(archive.conversations) + " tickets created") != std::string::npos);
}

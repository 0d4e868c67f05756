// deliver_test.cpp — the foundation's one working path, end to end: a real message piped into
// `atendd deliver`, the ticket in the store, and what a real SMTP server on 127.0.0.1 received.
// Also: nothing done twice, nothing lost while the SMTP server is down, broken input survives.
#include <sqlite3.h>

#include <filesystem>
#include <regex>
#include <thread>

#include <catch2/catch.hpp>

#include "storage/blob_store.h"
#include "storage/sqlite_store.h"
#include "support/corpus.h"
#include "support/processes.h"

using namespace atendd;
using namespace atendd::test;

namespace {

const std::string kCorpus = corpus_dir();

// A corpus message, or "" (with a warning) when ../shared is not there.
std::string corpus_message(const std::string& name) {
  const std::string path = kCorpus + "/zammad/" + name;
  if (!std::filesystem::exists(path)) {
    WARN("mail corpus not found at " << kCorpus << ": test skipped");
    return "";
  }
  return read_file(path);
}

struct Setup {
  TempDir dir;
  std::string config_path;
  std::string state_dir;

  explicit Setup(int smtp_port, const std::string& extra = "") {
    state_dir = dir.path() + "/state";
    config_path = dir.path() + "/atendd.ini";
    write_file(config_path,
               "[server]\n"
               "name = Suporte Teste\n"
               "address = suporte@atendd.test\n"
               "reply_address = suporte+{token}@atendd.test\n"
               "state_dir = " + state_dir + "\n"
               "locale = pt_BR\n"
               "[smtp]\n"
               "host = 127.0.0.1\n"
               "port = " + std::to_string(smtp_port) + "\n"
               "timeout_seconds = 5\n"
               "retry_initial_seconds = 1\n"
               "retry_max_seconds = 1\n"
               "[agent.maria]\n"
               "email = maria@atendd.test\n"
               "name = Maria Souza\n"
               "department = suporte\n"
               "[type.geral]\n"
               "name = Geral\n"
               "department = suporte\n"
               "assign = round_robin\n"
               "watchers = gerente@atendd.test\n" + extra);
  }
  RunResult deliver(const std::string& message) {
    return run_atendd({"--config", config_path, "deliver", "--mailbox", "suporte"}, message);
  }
  std::unique_ptr<SqliteStore> store() { return std::make_unique<SqliteStore>(state_dir + "/atendd.db"); }
};

std::string protocol_in(const std::string& out) {
  std::smatch m;
  if (std::regex_search(out, m, std::regex("ticket_created ([0-9]+)"))) return m[1];
  return "";
}

const ReceivedMail* mail_to(const std::vector<ReceivedMail>& mails, const std::string& rcpt) {
  for (const auto& m : mails)
    if (std::find(m.rcpt_tos.begin(), m.rcpt_tos.end(), rcpt) != m.rcpt_tos.end()) return &m;
  return nullptr;
}

}  // namespace

TEST_CASE("a customer's e-mail piped to atendd deliver opens a ticket and the customer gets the opening e-mail", "[deliver][smtp]") {
  const std::string message = corpus_message("mail079.box");
  if (message.empty()) return;
  TempDir sink_dir;
  SmtpSink sink(sink_dir.path());
  Setup setup(sink.port());

  const RunResult run = setup.deliver(message);
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  const std::string protocol = protocol_in(run.out);
  REQUIRE(protocol.size() == 14);  // {yyyy}{mm}{dd}{seq:6}

  const auto mails = sink.wait_for(3, 10);
  REQUIRE(mails.size() == 3);

  const ReceivedMail* opening = mail_to(mails, "me@example.com");
  REQUIRE(opening != nullptr);
  CHECK(opening->mail_from == "suporte@atendd.test");
  CHECK(opening->header("Subject").find("[#" + protocol + "]") != std::string::npos);
  CHECK(opening->body().find(protocol) != std::string::npos);
  CHECK(opening->header("In-Reply-To") == "<3271C0D7-9FD0-4E93-925E-87B139DB6FBF@example.com>");
  CHECK(opening->header("References").find("<3271C0D7-9FD0-4E93-925E-87B139DB6FBF@example.com>") != std::string::npos);
  CHECK(opening->header("Auto-Submitted") == "auto-replied");
  CHECK(opening->header("X-Loop") == "suporte@atendd.test");
  CHECK(std::regex_search(opening->header("Message-ID"), std::regex("^<atendd\\." + protocol + "\\.opening\\.[0-9a-f]+@atendd\\.test>$")));
  std::smatch token;
  const std::string reply_to = opening->header("Reply-To");
  REQUIRE(std::regex_search(reply_to, token, std::regex("suporte\\+([0-9a-f]{24})@atendd\\.test")));

  const ReceivedMail* forward = mail_to(mails, "maria@atendd.test");
  REQUIRE(forward != nullptr);
  CHECK(forward->header("Subject").find("[#" + protocol + "]") != std::string::npos);
  CHECK(forward->header("Auto-Submitted") == "auto-generated");
  CHECK(forward->raw.find("a.jpg") != std::string::npos);  // the customer's file goes to the agent
  CHECK(forward->header("Reply-To").find(token[1].str()) != std::string::npos);

  CHECK(mail_to(mails, "gerente@atendd.test") != nullptr);

  auto store = setup.store();
  const auto ticket = store->ticket_by_protocol(protocol);
  REQUIRE(ticket);
  CHECK(ticket->status == TicketStatus::New);
  CHECK(ticket->type_id == "geral");
  CHECK(ticket->responsible == "maria");
  CHECK(ticket->subject == "image resize test");
  CHECK(ticket->reply_token == token[1].str());
  CHECK(store->contact(ticket->contact_id)->address == "me@example.com");
  const auto articles = store->articles(ticket->id);
  REQUIRE(articles.size() == 3);  // the customer's message, then the opening e-mail and the forward
  CHECK(articles[0].kind == ArticleKind::CustomerMessage);
  CHECK(articles[1].kind == ArticleKind::SystemLog);
  CHECK(articles[1].message_id == opening->header("Message-ID").substr(1, opening->header("Message-ID").size() - 2));
  CHECK(articles[2].kind == ArticleKind::Forward);
  CHECK(articles[0].message_id == "3271C0D7-9FD0-4E93-925E-87B139DB6FBF@example.com");
  CHECK(articles[0].text.find("image resize test") != std::string::npos);
  const auto files = store->attachments(articles[0].id);
  REQUIRE(files.size() == 1);
  CHECK(files[0].filename == "a.jpg");
  // Kept whole (small: inside the database, not as a file), as `ticket show` and the API read it.
  BlobStore blobs(setup.state_dir, *store, 128 * 1024);
  const auto kept = blobs.get(files[0].sha256);
  REQUIRE(kept);
  CHECK(sha256_hex(*kept) == files[0].sha256);
  CHECK(store->blob(files[0].sha256));
  CHECK_FALSE(std::filesystem::exists(blobs.path_of(files[0].sha256)));
  int queued = 0;
  for (const auto& h : store->history(ticket->id)) queued += h.field == "mail_queued";
  CHECK(queued == 3);
  for (const auto& m : store->outbox_of_ticket(ticket->id)) CHECK(m.state == OutboxState::Sent);

  const RunResult show = run_atendd({"--config", setup.config_path, "ticket", "show", protocol});
  CHECK(show.exit_code == 0);
  CHECK(show.out.find("image resize test") != std::string::npos);
  const RunResult list = run_atendd({"--config", setup.config_path, "ticket", "list", "--status", "new"});
  CHECK(list.out.find(protocol) != std::string::npos);
}

TEST_CASE("delivering the same message twice creates one ticket and one set of outgoing mails", "[deliver][smtp]") {
  const std::string message = corpus_message("mail079.box");
  if (message.empty()) return;
  TempDir sink_dir;
  SmtpSink sink(sink_dir.path());
  Setup setup(sink.port());

  const RunResult first = setup.deliver(message);
  REQUIRE(first.exit_code == 0);
  const RunResult second = setup.deliver(message);
  INFO(second.out << second.err);
  REQUIRE(second.exit_code == 0);
  CHECK(second.out.rfind("duplicate", 0) == 0);
  CHECK(second.out.find(protocol_in(first.out)) != std::string::npos);

  sink.wait_for(3, 10);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK(sink.mails().size() == 3);
  auto store = setup.store();
  CHECK(store->tickets(std::nullopt, 10).size() == 1);
  CHECK(store->journal(10).size() == 1);
}

TEST_CASE("a message delivered while the SMTP server is down is sent after it comes back", "[deliver][smtp]") {
  const std::string message = corpus_message("mail079.box");
  if (message.empty()) return;
  const int port = free_port();
  Setup setup(port);

  const RunResult run = setup.deliver(message);
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);  // the ticket is made; the mails wait
  const std::string protocol = protocol_in(run.out);
  {
    auto store = setup.store();
    const auto pending = store->outbox_in_state(OutboxState::Pending, 10);
    REQUIRE(pending.size() == 3);
    CHECK_FALSE(pending[0].last_error.empty());
  }

  TempDir sink_dir;
  SmtpSink sink(sink_dir.path(), port);
  DaemonProcess daemon({"--config", setup.config_path});
  const auto mails = sink.wait_for(3, 20);
  CHECK(daemon.stop() == 0);
  REQUIRE(mails.size() == 3);
  const ReceivedMail* opening = mail_to(mails, "me@example.com");
  REQUIRE(opening != nullptr);
  CHECK(opening->header("Subject").find("[#" + protocol + "]") != std::string::npos);
  auto store = setup.store();
  CHECK(store->outbox_in_state(OutboxState::Sent, 10).size() == 3);
  CHECK(store->outbox_in_state(OutboxState::Pending, 10).empty());
}

TEST_CASE("malformed messages are stored with their defects and never crash deliver", "[deliver][malformed]") {
  Setup setup(free_port());  // no SMTP server: the mails just wait
  std::string junk;
  for (int i = 0; i < 20000; ++i) junk += static_cast<char>((i * 7919) % 256);
  const std::vector<std::string> inputs = {
      // truncated MIME: the boundary never closes and the part header is cut
      "From: Ana <ana@example.com>\r\nSubject: corte\r\nMIME-Version: 1.0\r\n"
      "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nola\r\n--b1\r\nContent-Type: appl",
      // binary junk with NUL bytes
      junk,
      // a header line without a colon, then a body
      "From: bob@example.com\r\nthis is not a header\r\nSubject: x\r\n\r\nbody\r\n",
  };
  for (const auto& input : inputs) {
    const RunResult run = setup.deliver(input);
    INFO(run.out << run.err);
    CHECK(run.exit_code == 0);
    CHECK(run.out.rfind("ticket_created", 0) == 0);
  }
  auto store = setup.store();
  const auto journal = store->journal(10);
  REQUIRE(journal.size() == inputs.size());
  bool any_defects = false;
  for (const auto& entry : journal) {
    const auto raw = BlobStore(setup.state_dir, *store, 128 * 1024).get(entry.content_sha256);
    REQUIRE(raw);
    CHECK(sha256_hex(*raw) == entry.content_sha256);
    any_defects = any_defects || entry.detail.find("defects:") != std::string::npos;
  }
  CHECK(any_defects);
}

TEST_CASE("an empty message is refused with exit 65 and still journalled", "[deliver][malformed]") {
  Setup setup(free_port());
  const RunResult run = setup.deliver("\r\n\r\n");
  CHECK(run.exit_code == 65);
  auto store = setup.store();
  const auto journal = store->journal(10);
  REQUIRE(journal.size() == 1);
  CHECK(journal[0].outcome == "rejected");
  CHECK(store->tickets(std::nullopt, 10).empty());
}

TEST_CASE("a locked store makes deliver exit 75 so the MTA retries, and nothing is half done", "[deliver]") {
  const std::string message = corpus_message("mail079.box");
  if (message.empty()) return;
  Setup setup(free_port());
  std::filesystem::create_directories(setup.state_dir);
  { auto create = setup.store(); }  // the schema exists
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((setup.state_dir + "/atendd.db").c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
  const RunResult locked = setup.deliver(message);
  sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  INFO(locked.out << locked.err);
  CHECK(locked.exit_code == 75);
  CHECK(setup.store()->tickets(std::nullopt, 10).empty());

  const RunResult retried = setup.deliver(message);
  CHECK(retried.exit_code == 0);
  CHECK(setup.store()->tickets(std::nullopt, 10).size() == 1);
}

TEST_CASE("atendd parse --json prints the contract and exits 2 for an unreadable file", "[parse]") {
  const std::string path = kCorpus + "/zammad/mail079.box";
  if (!std::filesystem::exists(path)) {
    WARN("mail corpus not found: skipped");
    return;
  }
  const RunResult ok = run_atendd({"parse", "--json", path});
  CHECK(ok.exit_code == 0);
  CHECK(ok.out.find("\"subject\"") != std::string::npos);
  CHECK(ok.out.find("image resize test") != std::string::npos);
  const RunResult missing = run_atendd({"parse", "--json", "/nonexistent/file.eml"});
  CHECK(missing.exit_code == 2);
}

TEST_CASE("atendd --check-config names every problem with file and line and exits 1", "[config]") {
  TempDir dir;
  const std::string path = dir.path() + "/bad.ini";
  write_file(path, "[server]\naddress = suporte@atendd.test\nbogus = 1\n[smtp]\nport = seventy\n");
  const RunResult run = run_atendd({"--config", path, "--check-config"});
  CHECK(run.exit_code == 1);
  CHECK(run.err.find(path + ":3") != std::string::npos);
  CHECK(run.err.find(path + ":5") != std::string::npos);
}

TEST_CASE("an automatic notification opens a ticket but its sender gets no opening e-mail", "[deliver][smtp][loop]") {
  const std::string message = corpus_message("mail089.box");  // ServiceNow: Precedence bulk + Auto-Submitted
  if (message.empty()) return;
  TempDir sink_dir;
  SmtpSink sink(sink_dir.path());
  Setup setup(sink.port());
  const RunResult run = setup.deliver(message);
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  const auto mails = sink.wait_for(2, 10);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(sink.mails().size() == 2);  // the agent's forward and the watchers' notice only
  CHECK(mail_to(mails, "example@service-now.com") == nullptr);
  CHECK(mail_to(mails, "maria@atendd.test") != nullptr);
}

TEST_CASE("a copy of our own mail coming back is ignored and answered by nothing", "[deliver][smtp][loop]") {
  TempDir sink_dir;
  SmtpSink sink(sink_dir.path());
  Setup setup(sink.port());
  const RunResult run = setup.deliver(
      "From: Suporte Teste <suporte@atendd.test>\r\nTo: suporte@atendd.test\r\nSubject: [#20261124000001] eco\r\n"
      "Message-ID: <eco@atendd.test>\r\nX-Loop: suporte@atendd.test\r\n\r\neco\r\n");
  INFO(run.out << run.err);
  CHECK(run.exit_code == 0);
  CHECK(run.out.rfind("ignored", 0) == 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK(sink.mails().empty());
  auto store = setup.store();
  CHECK(store->tickets(std::nullopt, 10).empty());
  REQUIRE(store->journal(10).size() == 1);
  CHECK(store->journal(10)[0].outcome == "ignored");
}

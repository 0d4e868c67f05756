// archive_import_test.cpp — the archive import (daemon/sources/archive_import.h) on a real SQLite
// store: mbox reading (mboxrd "From " lines and ">From " quoting), and 1,000 generated
// conversation messages imported give the same tickets and articles as the same messages
// delivered live one by one at their dates, with nothing in the outbox, no deadline left to
// escalate, and nothing imported twice by a second run.
#include <algorithm>
#include <sstream>

#include "../tickets/config_for_tests.h"
#include "daemon/pipeline/inbound.h"
#include "daemon/runtime.h"
#include "daemon/sources/archive_import.h"
#include "storage/sqlite_store.h"
#include "support/conversation_archive.h"
#include "support/processes.h"

using namespace atendd;

namespace {

const char* kConfig =
    "[server]\nname = Suporte\naddress = suporte@atendd.test\nreply_address = suporte+{token}@atendd.test\n"
    "trusted_authserv_id = mx.atendd.test\n"
    "[agent.maria]\nemail = maria@atendd.test\nname = Maria Souza\ndepartment = suporte\n"
    "[type.geral]\nname = Geral\ndepartment = suporte\nassign = round_robin\nfirst_response_hours = 4\n"
    "next_contact_days = 2\nreopen_days = 30\n";

struct Desk {
  test::TempDir dir;
  Config config = config_from(kConfig);
  SqliteStore store{dir.path() + "/a.db"};
  BlobStore blobs{dir.path(), store, 128 * 1024};  // as the daemon has them with SQLite
  std::unique_ptr<Renderer> renderer = make_renderer(config);
  FixedClock clock{1795478400};  // 2026-11-24T00:00:00Z: after every archived message
  Poco::Logger& log = Poco::Logger::get("test");
};

std::vector<OutboxMail> whole_outbox(Store& store) {
  std::vector<OutboxMail> out;
  for (auto state : {OutboxState::Pending, OutboxState::Sending, OutboxState::Sent, OutboxState::Failed})
    for (auto& m : store.outbox_in_state(state, 100000)) out.push_back(std::move(m));
  return out;
}

// Articles written by people; a live run also logs the mails it sent (author "system"), an import
// sends none.
std::vector<Article> message_articles(Store& store, TicketId id) {
  std::vector<Article> out;
  for (auto& a : store.articles(id))
    if (a.author != "system") out.push_back(std::move(a));
  return out;
}

std::vector<Ticket> all_tickets(Store& store) {
  auto tickets = store.tickets(std::nullopt, 100000);
  std::sort(tickets.begin(), tickets.end(), [](const Ticket& a, const Ticket& b) { return a.protocol < b.protocol; });
  return tickets;
}

}  // namespace

TEST_CASE("an mbox is split at From lines with its From quoting undone and its separators dropped", "[import]") {
  const std::string mbox =
      "From a@b Mon Jan  1 00:00:00 2025\nSubject: one\n\nline\n>From here it is quoted\n>>From twice\n"
      "From kept: the line above is not blank\n\n"
      "From c@d Mon Jan  1 00:00:01 2025\r\nSubject: two\r\n\r\nbody\r\n\r\n"
      "From e@f Mon Jan  1 00:00:02 2025\nSubject: three\n\nlast, no blank line after\n";
  const auto messages = split_mbox(mbox);
  REQUIRE(messages.size() == 3);
  CHECK(messages[0] ==
        "Subject: one\n\nline\nFrom here it is quoted\n>From twice\nFrom kept: the line above is not blank\n");
  CHECK(messages[1] == "Subject: two\r\n\r\nbody\r\n");
  CHECK(messages[2] == "Subject: three\n\nlast, no blank line after\n");
  CHECK(split_mbox("").empty());
}

TEST_CASE("importing 1000 conversation messages builds the tickets and articles a live run builds and sends nothing", "[import]") {
  const test::ConversationArchive archive = test::make_conversation_archive(1000);
  REQUIRE(archive.messages.size() == 1000);
  Desk imported;
  const std::string mbox_path = imported.dir.path() + "/old.mbox";
  test::write_file(mbox_path, test::to_mbox(archive.messages));

  ImportOptions options;
  options.mailbox = "suporte";
  options.path = mbox_path;
  std::ostringstream progress;
  const ImportSummary summary = run_import(imported.store, imported.blobs, imported.config, *imported.renderer,
                                           imported.clock, imported.log, options, &progress);
  INFO(summary.summary_line());
  CHECK(summary.found == 1000);
  CHECK(summary.created == archive.conversations);
  CHECK(summary.appended == archive.agent_answers + archive.customer_replies);
  CHECK(summary.ignored == archive.ours);  // our own mails in the archive: loops, never tickets
  CHECK(summary.quarantined == 0);
  CHECK(progress.str().find("msg/s") != std::string::npos);
  CHECK(progress.str().find("1,000 / 1,000") != std::string::npos);

  // Nothing to send, ever: no outbox row, and no deadline or timer already past to escalate.
  CHECK(whole_outbox(imported.store).empty());
  CHECK(imported.store.passed_deadlines(imported.clock.now() + 86400, {TicketStatus::New, TicketStatus::InProgress,
                                                                       TicketStatus::WaitingCustomer}, 10)
            .empty());

  // The same messages live, one by one at their own dates (the bytes as the mbox keeps them).
  Desk live;
  InboundPipeline pipeline(live.store, live.blobs, live.config, *live.renderer, live.clock, live.log);
  for (const auto& m : archive.messages) {
    live.clock = FixedClock(m.date);
    RawMessage raw;
    raw.bytes = test::lf_only(m.raw);
    raw.mailbox = "suporte";
    pipeline.process(raw);
  }
  CHECK_FALSE(whole_outbox(live.store).empty());  // a live run answers: the import must not

  const auto a = all_tickets(imported.store);
  const auto b = all_tickets(live.store);
  REQUIRE(a.size() == static_cast<std::size_t>(archive.conversations));
  REQUIRE(a.size() == b.size());
  std::size_t articles = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    INFO(a[i].protocol);
    CHECK(a[i].protocol == b[i].protocol);
    CHECK(imported.store.contact(a[i].contact_id)->address == live.store.contact(b[i].contact_id)->address);
    CHECK(a[i].subject == b[i].subject);
    CHECK(a[i].status == b[i].status);
    CHECK(a[i].responsible == b[i].responsible);
    CHECK(a[i].opened_at == b[i].opened_at);
    CHECK(a[i].first_response_at == b[i].first_response_at);
    const auto x = imported.store.articles(a[i].id);  // an import logs no mail: all are messages
    const auto y = message_articles(live.store, b[i].id);
    REQUIRE(x.size() == y.size());
    articles += x.size();
    for (std::size_t k = 0; k < x.size(); ++k) {
      CHECK(x[k].kind == y[k].kind);
      CHECK(x[k].author == y[k].author);
      CHECK(x[k].text == y[k].text);
      CHECK(x[k].message_id == y[k].message_id);
      CHECK(x[k].created_at == y[k].created_at);
    }
  }
  CHECK(articles == 1000u - static_cast<std::size_t>(archive.ours));

  // Run again: nothing is imported twice.
  const ImportSummary again = run_import(imported.store, imported.blobs, imported.config, *imported.renderer,
                                         imported.clock, imported.log, options, nullptr);
  INFO(again.summary_line());
  CHECK(again.created == 0);
  CHECK(again.appended == 0);
  CHECK(again.duplicates == 1000);
  CHECK(all_tickets(imported.store).size() == a.size());
  CHECK(whole_outbox(imported.store).empty());
}

TEST_CASE("an import with since leaves out older messages and a later run without it adds them once", "[import]") {
  const test::ConversationArchive archive = test::make_conversation_archive(200);
  Desk desk;
  const std::string mbox_path = desk.dir.path() + "/old.mbox";
  test::write_file(mbox_path, test::to_mbox(archive.messages, 0));
  ImportOptions options;
  options.mailbox = "suporte";
  options.path = mbox_path;
  options.since = archive.messages[100].date;
  const ImportSummary first = run_import(desk.store, desk.blobs, desk.config, *desk.renderer, desk.clock, desk.log,
                                         options, nullptr);
  CHECK(first.before_since >= 100);
  CHECK(first.before_since < 200);
  options.since.reset();
  const ImportSummary second = run_import(desk.store, desk.blobs, desk.config, *desk.renderer, desk.clock, desk.log,
                                          options, nullptr);
  CHECK(second.duplicates == 200 - first.before_since);
  std::size_t articles = 0;
  for (const auto& t : all_tickets(desk.store)) articles += desk.store.articles(t.id).size();
  CHECK(articles == 200u - static_cast<std::size_t>(archive.ours));
}

TEST_CASE("parse_since reads a day or a mail date and refuses anything else", "[import]") {
  CHECK(parse_since("2025-01-01") == std::optional<std::int64_t>(1735689600));
  CHECK(parse_since("Wed, 01 Jan 2025 00:00:00 +0000") == std::optional<std::int64_t>(1735689600));
  CHECK_FALSE(parse_since("2025-13-01"));
  CHECK_FALSE(parse_since("yesterday"));
}

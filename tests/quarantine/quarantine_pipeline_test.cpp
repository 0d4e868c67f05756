// quarantine_pipeline_test.cpp — the quarantine inside the inbound path, on a real SQLite store:
// a message the store refuses is journalled "quarantined" with its raw bytes while the rest of
// its batch commits; fetching the same IMAP UID again rewrites that one row (it used to hit the
// unique source index); a retry after the fix applies it exactly once, a second retry and a
// concurrent retry do nothing; a drop keeps the row as "dropped"; explain() writes nothing.
#include <sqlite3.h>

#include <catch2/catch.hpp>

#include "../tickets/config_for_tests.h"
#include "daemon/pipeline/inbound.h"
#include "daemon/pipeline/quarantine.h"
#include "daemon/runtime.h"
#include "storage/sqlite_store.h"
#include "support/processes.h"

using namespace atendd;

namespace {

const char* const kPoison =
    "CREATE TRIGGER poison BEFORE INSERT ON articles WHEN NEW.subject LIKE 'Veneno%' "
    "BEGIN SELECT RAISE(ABORT, 'poisoned article'); END";

struct Desk {
  test::TempDir dir;
  Config config;
  SqliteStore store{dir.path() + "/a.db"};
  BlobStore blobs{dir.path(), store, 128 * 1024};  // as the daemon has them with SQLite
  std::unique_ptr<Renderer> renderer;
  FixedClock clock{1795478400};  // 2026-11-24T00:00:00Z
  Poco::Logger& log = Poco::Logger::get("test");
  std::unique_ptr<InboundPipeline> pipeline;
  std::unique_ptr<Quarantine> quarantine;

  Desk() {
    config = config_from(
        "[server]\nname = Suporte\naddress = suporte@example.com\nreply_address = suporte+{token}@example.com\n"
        "[agent.maria]\nemail = maria@example.com\nname = Maria Souza\ndepartment = suporte\n"
        "[type.geral]\nname = Geral\ndepartment = suporte\nassign = agent:maria\n");
    renderer = make_renderer(config);
    pipeline = std::make_unique<InboundPipeline>(store, blobs, config, *renderer, clock, log);
    quarantine = std::make_unique<Quarantine>(store, blobs, *pipeline, clock);
  }
  // Runs SQL through a connection of its own (the test's hand on the database).
  void sql(const std::string& text) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open((dir.path() + "/a.db").c_str(), &db) == SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    const int rc = sqlite3_exec(db, text.c_str(), nullptr, nullptr, nullptr);
    sqlite3_close(db);
    REQUIRE(rc == SQLITE_OK);
  }
  int tickets_with_subject(const std::string& subject) {
    int n = 0;
    for (const auto& t : store.tickets(std::nullopt, 100)) n += t.subject == subject;
    return n;
  }
  int outbox_count() {
    int n = 0;
    for (auto state : {OutboxState::Pending, OutboxState::Sending, OutboxState::Sent, OutboxState::Failed})
      n += static_cast<int>(store.outbox_in_state(state, 1000).size());
    return n;
  }
};

RawMessage imap_message(int uid, const std::string& subject) {
  RawMessage raw;
  raw.bytes = "From: Ana Lima <ana@cliente.org>\r\nTo: suporte@example.com\r\nSubject: " + subject +
              "\r\nMessage-ID: <q" + std::to_string(uid) + "@test>\r\nDate: Tue, 24 Nov 2026 10:00:00 +0000\r\n\r\n"
              "Texto " + std::to_string(uid) + ".\r\n";
  raw.source = "imap";
  raw.mailbox = "suporte";
  raw.uidvalidity = 7;
  raw.uid = uid;
  return raw;
}

}  // namespace

TEST_CASE("a message the store refuses is quarantined with its reason while the rest of its batch commits",
          "[quarantine]") {
  Desk desk;
  desk.sql(kPoison);
  const auto outcomes = desk.pipeline->process_batch({imap_message(1, "Boleto"), imap_message(2, "Veneno")});
  REQUIRE(outcomes.size() == 2);
  CHECK(outcomes[0].kind == Outcome::Kind::TicketCreated);
  CHECK(outcomes[1].kind == Outcome::Kind::Quarantined);
  const auto listed = desk.quarantine->list(10);
  REQUIRE(listed.size() == 1);
  CHECK(listed[0].id == outcomes[1].journal_id);
  CHECK(listed[0].mailbox == "suporte");
  CHECK(listed[0].uid == 2);
  CHECK(listed[0].received_at == 1795478400);
  CHECK(listed[0].detail.find("the store refused it") != std::string::npos);
  CHECK(listed[0].detail.find("poisoned article") != std::string::npos);
  // The decisions taken before it stopped are kept with it.
  CHECK(listed[0].explanation.find("type_router\ttype geral") != std::string::npos);
  const auto shown = desk.quarantine->show(listed[0].id);
  REQUIRE(shown);
  CHECK(shown->raw_found);
  CHECK(shown->parsed.subject == "Veneno");
  CHECK(desk.store.quarantine_summary().count == 1);
  CHECK(*desk.store.quarantine_summary().oldest_received_at == 1795478400);
}

TEST_CASE("the same IMAP UID fetched again after a quarantine rewrites its one journal row", "[quarantine]") {
  Desk desk;
  desk.sql(kPoison);
  const RawMessage raw = imap_message(5, "Veneno");
  const Outcome first = desk.pipeline->process(raw);
  REQUIRE(first.kind == Outcome::Kind::Quarantined);
  // Fetched again (a crash before the flag): still not applicable, the same row, no exception.
  desk.clock.advance(60);
  const Outcome again = desk.pipeline->process(raw);
  CHECK(again.kind == Outcome::Kind::Quarantined);
  CHECK(again.journal_id == first.journal_id);
  CHECK(desk.store.journal(10).size() == 1);
  CHECK(desk.store.journal_entry(first.journal_id)->updated_at == 1795478460);
  // Fetched again after the fix: applied once, the same row leaves the quarantine.
  desk.sql("DROP TRIGGER poison");
  const Outcome applied = desk.pipeline->process(raw);
  CHECK(applied.kind == Outcome::Kind::TicketCreated);
  CHECK(applied.journal_id == first.journal_id);
  const auto journal = desk.store.journal(10);
  REQUIRE(journal.size() == 1);
  CHECK(journal[0].outcome == "ticket_created");
  CHECK(journal[0].detail.find("retried from quarantine") != std::string::npos);
  CHECK(desk.store.quarantine_summary().count == 0);
  // And once more: recognised as done.
  CHECK(desk.pipeline->process(raw).kind == Outcome::Kind::Duplicate);
  CHECK(desk.tickets_with_subject("Veneno") == 1);
}

TEST_CASE("a retry after the fix applies a quarantined message once and a second retry does nothing",
          "[quarantine]") {
  Desk desk;
  desk.sql(kPoison);
  const Outcome first = desk.pipeline->process(imap_message(3, "Veneno"));
  REQUIRE(first.kind == Outcome::Kind::Quarantined);
  const std::int64_t id = first.journal_id;

  const QuarantineResult still = desk.quarantine->retry(id);
  CHECK(still.status == QuarantineResult::Status::StillQuarantined);
  CHECK(desk.store.journal(10).size() == 1);
  CHECK(desk.tickets_with_subject("Veneno") == 0);
  CHECK(desk.outbox_count() == 0);

  desk.sql("DROP TRIGGER poison");
  const QuarantineResult done = desk.quarantine->retry(id);
  CHECK(done.status == QuarantineResult::Status::Done);
  CHECK(done.outcome.kind == Outcome::Kind::TicketCreated);
  CHECK(desk.tickets_with_subject("Veneno") == 1);
  const int mails = desk.outbox_count();
  CHECK(mails == 2);  // the opening to the customer, the forward to maria

  const QuarantineResult second = desk.quarantine->retry(id);
  CHECK(second.status == QuarantineResult::Status::NotQuarantined);
  CHECK(desk.tickets_with_subject("Veneno") == 1);
  CHECK(desk.outbox_count() == mails);
  CHECK(desk.quarantine->retry_all().empty());
  // The applied message keeps its explanation like any other.
  CHECK(desk.store.journal_entry(id)->explanation.find("assignment\tmaria") != std::string::npos);
}

TEST_CASE("a retry that lost the race to another resolves nothing twice", "[quarantine]") {
  Desk desk;
  desk.sql(kPoison);
  const Outcome first = desk.pipeline->process(imap_message(4, "Veneno"));
  REQUIRE(first.kind == Outcome::Kind::Quarantined);
  desk.sql("DROP TRIGGER poison");
  // Another instance resolved the entry between our look at it and our transaction.
  JournalEntry other = *desk.store.journal_entry(first.journal_id);
  RawMessage raw = imap_message(4, "Veneno");
  raw.retry_of = first.journal_id;
  other.outcome = "dropped";
  desk.store.begin();
  REQUIRE(desk.store.update_quarantined(other));
  desk.store.commit();
  const Outcome late = desk.pipeline->process(raw);
  CHECK(late.kind == Outcome::Kind::Duplicate);
  CHECK(desk.tickets_with_subject("Veneno") == 0);
  CHECK(desk.outbox_count() == 0);
  CHECK(desk.store.journal_entry(first.journal_id)->outcome == "dropped");
}

TEST_CASE("a dropped message stays in the journal as dropped with who and why", "[quarantine]") {
  Desk desk;
  desk.sql(kPoison);
  const Outcome first = desk.pipeline->process(imap_message(6, "Veneno"));
  REQUIRE(first.kind == Outcome::Kind::Quarantined);
  CHECK(desk.quarantine->drop(first.journal_id, "  ", "cli:ops").status == QuarantineResult::Status::Invalid);
  const QuarantineResult dropped = desk.quarantine->drop(first.journal_id, "spam from a test", "cli:ops");
  CHECK(dropped.status == QuarantineResult::Status::Done);
  const auto entry = desk.store.journal_entry(first.journal_id);
  REQUIRE(entry);
  CHECK(entry->outcome == "dropped");
  CHECK(entry->detail.find("dropped by cli:ops: spam from a test") != std::string::npos);
  CHECK(entry->detail.find("poisoned article") != std::string::npos);  // the original reason stays
  CHECK(desk.store.quarantine_summary().count == 0);
  CHECK(desk.quarantine->drop(first.journal_id, "again", "cli:ops").status ==
        QuarantineResult::Status::NotQuarantined);
  CHECK(desk.quarantine->retry(first.journal_id).status == QuarantineResult::Status::NotQuarantined);
  // Fetched again from the mailbox: it stays dropped, nothing is applied.
  desk.sql("DROP TRIGGER poison");
  CHECK(desk.pipeline->process(imap_message(6, "Veneno")).kind == Outcome::Kind::Duplicate);
  CHECK(desk.tickets_with_subject("Veneno") == 0);
  CHECK(desk.quarantine->retry(999).status == QuarantineResult::Status::NotFound);
}

TEST_CASE("explain runs the whole path and leaves the store and the outbox as they were", "[explain]") {
  Desk desk;
  REQUIRE(desk.pipeline->process(imap_message(1, "Boleto")).kind == Outcome::Kind::TicketCreated);
  const auto journal_before = desk.store.journal(100).size();
  const int mails_before = desk.outbox_count();
  RawMessage raw = imap_message(2, "Senha");
  Explanation explanation(true);
  const Outcome outcome = desk.pipeline->explain(raw, explanation);
  CHECK(outcome.kind == Outcome::Kind::TicketCreated);
  CHECK(desk.store.journal(100).size() == journal_before);
  CHECK(desk.outbox_count() == mails_before);
  CHECK(desk.store.tickets(std::nullopt, 100).size() == 1);
  REQUIRE(explanation.mails().size() == 2);
  CHECK(explanation.mails()[0].template_name == "opening");
  CHECK(explanation.mails()[0].raw.find("Subject:") != std::string::npos);
  // The sink saw every stage.
  std::string stages;
  for (const auto& step : explanation.steps()) stages += step.stage + ",";
  CHECK(stages == "parser,loop_guard,sender,threader,type_router,priority,department,assignment,outbox,outbox,journal,");
  // The compact form read back gives the same steps.
  const auto back = Explanation::from_compact(explanation.compact());
  REQUIRE(back.size() == explanation.steps().size());
  CHECK(back[4].decision == "type geral");
}

// store_test.cpp — the SQLite store keeps what the invariants rely on: migrations once, unique
// protocol sequences, journal look-ups by source and by content, outbox claims that two senders
// never share, and content-addressed blobs.
#include <filesystem>
#include <set>

#include <catch2/catch.hpp>

#include "storage/blob_store.h"
#include "storage/sqlite_store.h"
#include "support/processes.h"

using namespace atendd;
using atendd::test::TempDir;

namespace {

Ticket sample_ticket(Store& store, const std::string& protocol) {
  Ticket t;
  t.protocol = protocol;
  t.type_id = "geral";
  t.contact_id = store.find_or_add_contact("ana@example.com", "Ana").id;
  t.reply_token = "token-" + protocol;
  t.opened_at = 1000;
  t.id = store.add_ticket(t);
  return t;
}

OutboxMail sample_mail(const std::string& id, Timestamp due) {
  OutboxMail m;
  m.template_name = "opening";
  m.mail_from = "suporte@example.com";
  m.recipients = {"ana@example.com", "bia@example.com"};
  m.message_id = id;
  m.raw = std::string("Subject: x\r\n\r\nbody\0with nul", 27);
  m.next_attempt_at = due;
  m.created_at = due;
  return m;
}

}  // namespace

TEST_CASE("opening a store twice applies the migrations once", "[store]") {
  TempDir dir;
  const std::string path = dir.path() + "/a.db";
  { SqliteStore first(path); CHECK(first.schema_version() >= 1); }
  SqliteStore second(path);
  CHECK(second.schema_version() >= 1);
}

TEST_CASE("protocol sequences only grow and are separate per scope, even across connections", "[store]") {
  TempDir dir;
  const std::string path = dir.path() + "/a.db";
  SqliteStore a(path), b(path);
  std::set<std::int64_t> seen;
  for (int i = 0; i < 50; ++i) {
    seen.insert(a.next_sequence("protocol:20261124"));
    seen.insert(b.next_sequence("protocol:20261124"));
  }
  CHECK(seen.size() == 100);
  CHECK(*seen.begin() == 1);
  CHECK(a.next_sequence("protocol:20261125") == 1);
}

TEST_CASE("a rolled back transaction leaves no ticket behind", "[store]") {
  TempDir dir;
  SqliteStore store(dir.path() + "/a.db");
  {
    StoreTransaction tx(store);
    sample_ticket(store, "1");
  }  // no commit
  CHECK(store.tickets(std::nullopt, 10).empty());
  {
    StoreTransaction tx(store);
    sample_ticket(store, "2");
    tx.commit();
  }
  CHECK(store.tickets(std::nullopt, 10).size() == 1);
}

TEST_CASE("the journal finds a message by mailbox and UID and by Message-ID and content hash", "[store]") {
  TempDir dir;
  SqliteStore store(dir.path() + "/a.db");
  JournalEntry e;
  e.source = "imap";
  e.mailbox = "suporte";
  e.uidvalidity = 7;
  e.uid = 42;
  e.message_id = "abc@example.com";
  e.content_sha256 = "ff00";
  e.outcome = "ticket_created";
  e.received_at = 5;
  store.add_journal(e);
  CHECK(store.journal_by_source("imap", "suporte", 7, 42));
  CHECK_FALSE(store.journal_by_source("imap", "suporte", 8, 42));
  CHECK(store.journal_by_content("abc@example.com", "ff00"));
  CHECK_FALSE(store.journal_by_content("abc@example.com", "ff01"));
  CHECK_FALSE(store.journal_by_source("deliver", "suporte", 0, 0));  // no UID: never a match
}

TEST_CASE("contacts are found case-insensitively and keep their first name", "[store]") {
  TempDir dir;
  SqliteStore store(dir.path() + "/a.db");
  const Contact first = store.find_or_add_contact("ana@example.com", "");
  const Contact again = store.find_or_add_contact("ANA@Example.com", "Ana Lima");
  CHECK(again.id == first.id);
  CHECK(again.name == "Ana Lima");
  CHECK(store.find_or_add_contact("ana@example.com", "Other").name == "Ana Lima");
}

TEST_CASE("outbox claims: a claimed mail is not claimed again until its lease runs out", "[store][outbox]") {
  TempDir dir;
  const std::string path = dir.path() + "/a.db";
  SqliteStore a(path), b(path);
  a.add_outbox(sample_mail("m1@x", 100));
  a.add_outbox(sample_mail("m2@x", 500));  // not due yet

  const auto claimed = a.claim_due_outbox(200, 10, 60);
  REQUIRE(claimed.size() == 1);
  CHECK(claimed[0].message_id == "m1@x");
  CHECK(claimed[0].attempts == 1);
  CHECK(claimed[0].raw == sample_mail("m1@x", 100).raw);  // bytes, NUL included
  CHECK(claimed[0].recipients == std::vector<std::string>{"ana@example.com", "bia@example.com"});
  CHECK(b.claim_due_outbox(200, 10, 60).empty());          // the other sender gets nothing
  CHECK(b.claim_due_outbox(261, 10, 60).size() == 1);       // lease over: taken over

  a.mark_outbox_retry(claimed[0].id, "421 try later", 1000);
  CHECK(a.outbox_in_state(OutboxState::Pending, 10).size() == 2);
  CHECK(a.next_outbox_attempt() == 500);
  a.mark_outbox_sent(claimed[0].id, 1001);
  CHECK(a.outbox_in_state(OutboxState::Sent, 10).size() == 1);
}

TEST_CASE("a message id is queued once: the outbox refuses a duplicate", "[store][outbox]") {
  TempDir dir;
  SqliteStore store(dir.path() + "/a.db");
  store.add_outbox(sample_mail("same@x", 1));
  try {
    store.add_outbox(sample_mail("same@x", 1));
    FAIL("a duplicate was accepted");
  } catch (const StoreError& e) {
    CHECK(e.kind() == StoreError::Kind::Constraint);
  }
}

TEST_CASE("a second writer waiting on a locked database gets a Busy error", "[store]") {
  TempDir dir;
  const std::string path = dir.path() + "/a.db";
  SqliteStore holder(path);
  SqliteStore waiter(path, 100);
  holder.begin();
  try {
    waiter.begin();
    FAIL("the lock was not seen");
  } catch (const StoreError& e) {
    CHECK(e.kind() == StoreError::Kind::Busy);
  }
  holder.rollback();
}

TEST_CASE("blobs are stored by content and cannot be read outside the blob folder", "[store][blobs]") {
  TempDir dir;
  BlobStore blobs(dir.path());
  const std::string digest = blobs.put("hello");
  CHECK(digest == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
  CHECK(blobs.put("hello") == digest);
  CHECK(blobs.get(digest) == std::optional<std::string>("hello"));
  CHECK_FALSE(blobs.get("../../etc/passwd"));
  CHECK(std::filesystem::exists(blobs.path_of(digest)));
}

TEST_CASE("threading look-ups find tickets by article Message-ID and outgoing Message-ID and reply token", "[store]") {
  TempDir dir;
  SqliteStore store(dir.path() + "/a.db");
  const Ticket t = sample_ticket(store, "20261124000001");
  Article a;
  a.ticket_id = t.id;
  a.message_id = "customer-1@example.org";
  store.add_article(a);
  OutboxMail m = sample_mail("atendd.20261124000001.opening.ab@example.com", 1);
  m.ticket_id = t.id;
  store.add_outbox(m);
  CHECK(store.ticket_of_message_id("customer-1@example.org") == t.id);
  CHECK_FALSE(store.ticket_of_message_id("other@example.org"));
  CHECK_FALSE(store.ticket_of_message_id(""));
  CHECK(store.ticket_of_outbox_message_id("atendd.20261124000001.opening.ab@example.com") == t.id);
  CHECK(store.ticket_by_reply_token("token-20261124000001")->id == t.id);
  CHECK_FALSE(store.ticket_by_reply_token("guess"));
}

TEST_CASE("the IMAP intake position per mailbox is kept and replaced", "[store]") {
  TempDir dir;
  SqliteStore store(dir.path() + "/a.db");
  CHECK_FALSE(store.mailbox_state("suporte"));
  store.set_mailbox_state("suporte", {1700, 41}, 10);
  store.set_mailbox_state("suporte", {1700, 42}, 11);
  const auto state = store.mailbox_state("suporte");
  REQUIRE(state);
  CHECK(state->uidvalidity == 1700);
  CHECK(state->last_uid == 42);
}

TEST_CASE("event counters count per scope and window", "[store]") {
  TempDir dir;
  SqliteStore store(dir.path() + "/a.db");
  CHECK(store.count_event("auto:ana@example.org", 3600) == 1);
  CHECK(store.count_event("auto:ana@example.org", 3600) == 2);
  CHECK(store.count_event("auto:ana@example.org", 7200) == 1);
  CHECK(store.count_event("auto:bia@example.org", 3600) == 1);
}

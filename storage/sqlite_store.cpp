// sqlite_store.cpp — SQLite implementation of the Store. Statements are prepared once and kept;
// every SQLite error becomes a StoreError (Busy for a locked database, so `deliver` exits 75).
#include "storage/sqlite_store.h"

#include "storage/wal_checkpointer.h"
#include "storage/wal_write_buffer.h"

#include <sqlite3.h>

#include <functional>
#include <mutex>
#include <sstream>

namespace atendd {

extern const char* const kSqliteMigrations;

namespace {

StoreError error_of(sqlite3* db, int rc, const std::string& doing) {
  const int primary = rc & 0xff;
  StoreError::Kind kind = StoreError::Kind::Other;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) kind = StoreError::Kind::Busy;
  if (primary == SQLITE_CONSTRAINT) kind = StoreError::Kind::Constraint;
  return StoreError(kind, doing + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
}

std::string join_lines(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += '\n';
    out += item;
  }
  return out;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(line);
  return out;
}

OutboxState outbox_state_from(const std::string& s) {
  if (s == "sending") return OutboxState::Sending;
  if (s == "sent") return OutboxState::Sent;
  if (s == "failed") return OutboxState::Failed;
  return OutboxState::Pending;
}

ArticleKind article_kind_from(const std::string& s) {
  for (ArticleKind k : {ArticleKind::CustomerMessage, ArticleKind::AgentReply, ArticleKind::InternalNote,
                        ArticleKind::Forward, ArticleKind::Solution, ArticleKind::SystemLog,
                        ArticleKind::Analysis})
    if (s == article_kind_name(k)) return k;
  return ArticleKind::SystemLog;
}

}  // namespace

// A prepared statement in use: reset and cleared on construction, bound by position from 1.
class SqliteStore::Query {
 public:
  Query(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  ~Query() { sqlite3_reset(stmt_); }

  // A named string is bound in place, not copied (a copy is a malloc and a free, ~300 per message
  // on the intake): it must stay as it is until the statement has run, as every caller's does (a
  // field of the row being written, a local of the calling function). Temporaries are copied.
  Query& bind(const std::string& v) {
    sqlite3_bind_text(stmt_, ++index_, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    return *this;
  }
  Query& bind(std::string&& v) {
    sqlite3_bind_text(stmt_, ++index_, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Query& bind(const char* v) {
    sqlite3_bind_text(stmt_, ++index_, v, -1, SQLITE_TRANSIENT);
    return *this;
  }
  Query& bind(std::int64_t v) {
    sqlite3_bind_int64(stmt_, ++index_, v);
    return *this;
  }
  Query& bind(int v) { return bind(static_cast<std::int64_t>(v)); }
  Query& bind(const std::optional<std::int64_t>& v) {
    if (v) return bind(*v);
    sqlite3_bind_null(stmt_, ++index_);
    return *this;
  }
  Query& bind(const std::optional<std::string>& v) {
    if (v) return bind(*v);
    sqlite3_bind_null(stmt_, ++index_);
    return *this;
  }
  Query& bind_blob(const std::string& v) {  // in place, as bind(const std::string&)
    sqlite3_bind_blob(stmt_, ++index_, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    return *this;
  }
  Query& bind_blob(std::string&& v) = delete;  // no caller needs a copy

  // Steps once: true when a row is there to read.
  bool step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw error_of(db_, rc, std::string("running ") + sqlite3_sql(stmt_));
  }
  void run() {
    while (step()) {
    }
  }

  std::int64_t i64(int col) const { return sqlite3_column_int64(stmt_, col); }
  std::string text(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_blob(stmt_, col));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col))) : std::string();
  }
  bool is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  std::optional<std::int64_t> opt_i64(int col) const {
    if (is_null(col)) return std::nullopt;
    return i64(col);
  }
  std::optional<std::string> opt_text(int col) const {
    if (is_null(col)) return std::nullopt;
    return text(col);
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
  int index_ = 0;
};

namespace {
// Before SQLite's first use in the process: no up-front page cache block per connection. By
// default each connection allocates 20 pages (87 KiB) at its first read and keeps that block until
// it closes, even when release_idle_memory() empties its cache; the daemon holds one connection
// per thread. Pages are then allocated one by one as they are read. When something else already
// initialised SQLite the call is refused (SQLITE_MISUSE) and the default stays: no harm.
void configure_sqlite_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    sqlite3_config(SQLITE_CONFIG_PAGECACHE, nullptr, 0, 0);
    // No allocation statistics: with them every sqlite3_malloc and free takes a global mutex.
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  });
}
}  // namespace

SqliteStore::SqliteStore(const std::string& path, int busy_timeout_ms) : path_(path) {
  configure_sqlite_once();
  // The log's frames reach the kernel in large writes (wal_write_buffer.h).
  const int rc = sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                 wal_write_buffer_vfs());
  if (rc != SQLITE_OK) {
    StoreError error = error_of(db_, rc, "opening " + path);
    sqlite3_close(db_);
    db_ = nullptr;
    throw error;
  }
  sqlite3_busy_timeout(db_, busy_timeout_ms);
  try {
    // A new database gets 16 KiB pages (SQLite's default is 4 KiB): a raw message or an outbox
    // mail of 2-4 KB filled a 4 KiB page alone, a third of it empty; five share a 16 KiB page, and
    // a batch dirties a quarter of the pages, each a cache look-up, a log frame and a checksum.
    // bench_pipeline: 4,414-4,816 -> 5,555-5,560 msg/s at 100,000 messages, 5,418-5,685 ->
    // 6,077-6,317 at 10,000. Only a new file takes it (before its first table and the switch to
    // WAL); an existing one keeps the size it has.
    exec("PRAGMA page_size=16384");
    // Two connections opening a new file at once: the change to WAL can answer "locked" without
    // waiting on the busy handler (it needs the file to itself). Try again within the timeout.
    for (int waited_ms = 0;; waited_ms += 10) {
      try {
        exec("PRAGMA journal_mode=WAL");
        break;
      } catch (const StoreError& e) {
        if (e.kind() != StoreError::Kind::Busy || waited_ms >= busy_timeout_ms) throw;
        sqlite3_sleep(10);
      }
    }
    // Every commit reaches the disk before it returns (see set_durable_commits): with WAL, one
    // fsync of the log per transaction, and the intake commits a whole batch at once.
    exec("PRAGMA synchronous=FULL");
    exec("PRAGMA foreign_keys=ON");
    // The per-message savepoints of a group commit keep their undo pages in a sub-journal, which
    // SQLite otherwise spills to a file in /var/tmp past 64 KiB; in memory it is emptied at each
    // RELEASE, so it never holds more than one message's pages.
    exec("PRAGMA temp_store=MEMORY");
    // Pages read back while a batch is applied (indexes of tickets, articles, the outbox) come from
    // SQLite's own cache instead of a pread() each: 64 MiB per connection, allocated as used and
    // given back by release_idle_memory(). An intake batch of 1,000 messages dirties 19-26 MB of
    // pages; with 8 MiB SQLite spilled them into the log before the COMMIT and read them back
    // (bench_pipeline: 4,018 -> 4,380 msg/s at 100,000 messages, log 28.0 -> 26.2 KB a message).
    exec("PRAGMA cache_size=-65536");
    // The log is copied back into the database on a thread of its own (wal_checkpointer.h),
    // not inside the COMMIT that happens to cross the threshold.
    checkpointer_ = WalCheckpointer::for_database(path);
    checkpointer_->attach(db_, page_bytes());
    migrate();
  } catch (...) {
    for (auto& [sql, stmt] : prepared_) sqlite3_finalize(stmt);
    for (auto& [sql, stmt] : prepared_by_text_) sqlite3_finalize(stmt);
    sqlite3_close(db_);
    throw;
  }
}

SqliteStore::~SqliteStore() {
  for (auto& [sql, stmt] : prepared_) sqlite3_finalize(stmt);
  for (auto& [sql, stmt] : prepared_by_text_) sqlite3_finalize(stmt);
  sqlite3_close(db_);
}

void SqliteStore::release_idle_memory() { sqlite3_db_release_memory(db_); }

void SqliteStore::exec(const char* sql) {
  char* message = nullptr;
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &message);
  if (rc != SQLITE_OK) {
    std::string text = message ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    StoreError base = error_of(nullptr, rc, "");
    throw StoreError(base.kind(), std::string("running ") + sql + " on " + path_ + ": " + text);
  }
}

SqliteStore::Query SqliteStore::query(const char* sql) {
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    sqlite3_stmt* stmt = nullptr;
    const int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) throw error_of(db_, rc, std::string("preparing ") + sql);
    it = prepared_.emplace(sql, stmt).first;
  }
  return Query(db_, it->second);
}

sqlite3_stmt* SqliteStore::prepared_text(const std::string& sql) {
  auto it = prepared_by_text_.find(sql);
  if (it == prepared_by_text_.end()) {
    sqlite3_stmt* stmt = nullptr;
    const int rc = sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) throw error_of(db_, rc, "preparing " + sql + " on " + path_);
    it = prepared_by_text_.emplace(sql, stmt).first;
  }
  return it->second;
}

SqliteStore::Query SqliteStore::query_text(const std::string& sql) { return Query(db_, prepared_text(sql)); }

void SqliteStore::run_prepared(const std::string& sql) {
  sqlite3_stmt* stmt = prepared_text(sql);
  const int rc = sqlite3_step(stmt);
  if (rc == SQLITE_DONE || rc == SQLITE_ROW) {
    sqlite3_reset(stmt);
    return;
  }
  StoreError error = error_of(db_, rc, "running " + sql + " on " + path_);
  sqlite3_reset(stmt);
  throw error;
}

int SqliteStore::synchronous_level() {
  auto q = query("PRAGMA synchronous");
  return q.step() ? static_cast<int>(q.i64(0)) : -1;
}

std::int64_t SqliteStore::page_cache_bytes() {
  int current = 0;
  int highest = 0;
  sqlite3_db_status(db_, SQLITE_DBSTATUS_CACHE_USED, &current, &highest, 0);
  return current;
}

std::int64_t SqliteStore::bytes_written() {
  int pages = 0;
  int highest = 0;
  sqlite3_db_status(db_, SQLITE_DBSTATUS_CACHE_WRITE, &pages, &highest, 0);
  return std::int64_t{pages} * page_bytes();
}

int SqliteStore::page_bytes() {
  auto q = query("PRAGMA page_size");
  return q.step() ? static_cast<int>(q.i64(0)) : 0;
}

std::int64_t SqliteStore::full_scan_steps() {
  std::int64_t steps = 0;
  for (const auto& [sql, stmt] : prepared_) steps += sqlite3_stmt_status(stmt, SQLITE_STMTSTATUS_FULLSCAN_STEP, 0);
  for (const auto& [sql, stmt] : prepared_by_text_) steps += sqlite3_stmt_status(stmt, SQLITE_STMTSTATUS_FULLSCAN_STEP, 0);
  return steps;
}

int SqliteStore::schema_version() {
  auto q = query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
  return q.step() ? static_cast<int>(q.i64(0)) : 0;
}

void SqliteStore::migrate() {
  exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
  auto applied = [this](int number) {
    auto q = query("SELECT 1 FROM schema_migrations WHERE version = ?");
    q.bind(number);
    return q.step();
  };
  for (const auto& [number, sql] : split_migrations(kSqliteMigrations)) {
    if (applied(number)) continue;
    exec("BEGIN IMMEDIATE");
    try {
      // Another process may have migrated while we waited for the lock.
      if (!applied(number)) {
        exec(sql.c_str());
        query("INSERT INTO schema_migrations(version, applied_at) VALUES(?, strftime('%s','now'))")
            .bind(number)
            .run();
      }
      exec("COMMIT");
    } catch (...) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  }
}

void SqliteStore::begin() {
  run_prepared("BEGIN IMMEDIATE");
  in_transaction_ = true;
}
void SqliteStore::commit() {
  run_prepared("COMMIT");
  in_transaction_ = false;
}
void SqliteStore::rollback() {
  if (!sqlite3_get_autocommit(db_)) run_prepared("ROLLBACK");
  in_transaction_ = false;
}

void SqliteStore::set_durable_commits(bool durable) {
  run_prepared(durable ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
}

void SqliteStore::savepoint(const std::string& name) {
  check_savepoint_name(name);
  run_prepared("SAVEPOINT " + name);
}

void SqliteStore::release(const std::string& name) {
  check_savepoint_name(name);
  run_prepared("RELEASE SAVEPOINT " + name);
}

void SqliteStore::rollback_to(const std::string& name) {
  check_savepoint_name(name);
  run_prepared("ROLLBACK TO SAVEPOINT " + name);
}

// ---- journal

#define JOURNAL_COLUMNS \
  "id, source, mailbox, uidvalidity, uid, message_id, content_sha256, outcome, detail, ticket_id, received_at, " \
  "explanation, updated_at"

static JournalEntry journal_row(const SqliteStore::Query& q) {
  JournalEntry e;
  e.id = q.i64(0);
  e.source = q.text(1);
  e.mailbox = q.text(2);
  e.uidvalidity = q.i64(3);
  e.uid = q.i64(4);
  e.message_id = q.text(5);
  e.content_sha256 = q.text(6);
  e.outcome = q.text(7);
  e.detail = q.text(8);
  e.ticket_id = q.opt_i64(9);
  e.received_at = q.i64(10);
  e.explanation = q.text(11);
  e.updated_at = q.opt_i64(12);
  return e;
}

std::optional<JournalEntry> SqliteStore::journal_by_source(const std::string& source, const std::string& mailbox,
                                                           std::int64_t uidvalidity, std::int64_t uid) {
  if (uid == 0) return std::nullopt;
  // "uid <> 0" repeats the partial index's condition: without it SQLite scans the whole journal.
  auto q = query("SELECT " JOURNAL_COLUMNS " FROM journal WHERE source = ? AND mailbox = ? AND uidvalidity = ? AND uid = ? "
                 "AND uid <> 0");
  q.bind(source).bind(mailbox).bind(uidvalidity).bind(uid);
  if (!q.step()) return std::nullopt;
  return journal_row(q);
}

std::optional<JournalEntry> SqliteStore::journal_by_content(const std::string& message_id,
                                                            const std::string& content_sha256) {
  // Through journal_content_prefix (migration 15). "+content_sha256": compared on the row only;
  // as a plain column SQLite would put the bound hash into the indexed expression, which then no
  // longer matches the index, and scan the whole journal.
  auto q = query("SELECT " JOURNAL_COLUMNS " FROM journal WHERE substr(content_sha256, 1, 16) = substr(?1, 1, 16) "
                 "AND +content_sha256 = ?1 AND message_id = ?2 ORDER BY id LIMIT 1");
  q.bind(content_sha256).bind(message_id);
  if (!q.step()) return std::nullopt;
  return journal_row(q);
}

std::int64_t SqliteStore::add_journal(const JournalEntry& e) {
  query("INSERT INTO journal(source, mailbox, uidvalidity, uid, message_id, content_sha256, outcome, detail, ticket_id, "
        "received_at, explanation, updated_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
      .bind(e.source).bind(e.mailbox).bind(e.uidvalidity).bind(e.uid).bind(e.message_id)
      .bind(e.content_sha256).bind(e.outcome).bind(e.detail).bind(e.ticket_id).bind(e.received_at)
      .bind(e.explanation).bind(e.updated_at)
      .run();
  return sqlite3_last_insert_rowid(db_);
}

std::vector<JournalEntry> SqliteStore::journal(int limit) {
  auto q = query("SELECT " JOURNAL_COLUMNS " FROM journal ORDER BY id DESC LIMIT ?");
  q.bind(limit);
  std::vector<JournalEntry> out;
  while (q.step()) out.push_back(journal_row(q));
  return out;
}

std::optional<JournalEntry> SqliteStore::journal_entry(std::int64_t id) {
  auto q = query("SELECT " JOURNAL_COLUMNS " FROM journal WHERE id = ?");
  q.bind(id);
  if (!q.step()) return std::nullopt;
  return journal_row(q);
}

bool SqliteStore::update_quarantined(const JournalEntry& e) {
  query("UPDATE journal SET outcome = ?, detail = ?, ticket_id = ?, message_id = ?, explanation = ?, updated_at = ? "
        "WHERE id = ? AND outcome = 'quarantined'")
      .bind(e.outcome).bind(e.detail).bind(e.ticket_id).bind(e.message_id).bind(e.explanation).bind(e.updated_at)
      .bind(e.id)
      .run();
  return sqlite3_changes(db_) == 1;
}

std::vector<JournalEntry> SqliteStore::quarantined(int limit) {
  auto q = query("SELECT " JOURNAL_COLUMNS " FROM journal WHERE outcome = 'quarantined' ORDER BY id LIMIT ?");
  q.bind(limit);
  std::vector<JournalEntry> out;
  while (q.step()) out.push_back(journal_row(q));
  return out;
}

QuarantineSummary SqliteStore::quarantine_summary() {
  auto q = query("SELECT COUNT(*), MIN(received_at) FROM journal WHERE outcome = 'quarantined'");
  QuarantineSummary summary;
  if (q.step()) {
    summary.count = q.i64(0);
    summary.oldest_received_at = q.opt_i64(1);
  }
  return summary;
}

std::vector<JournalEntry> SqliteStore::journal_of_ticket(TicketId ticket) {
  auto q = query("SELECT " JOURNAL_COLUMNS " FROM journal WHERE ticket_id = ? ORDER BY id");
  q.bind(ticket);
  std::vector<JournalEntry> out;
  while (q.step()) out.push_back(journal_row(q));
  return out;
}

// ---- contacts

Contact SqliteStore::find_or_add_contact(const std::string& address, const std::string& name) {
  auto find = query("SELECT id, address, name FROM contacts WHERE address = ?");
  find.bind(address);
  if (find.step()) {
    Contact c{find.i64(0), find.text(1), find.text(2)};
    if (c.name.empty() && !name.empty()) {
      query("UPDATE contacts SET name = ? WHERE id = ?").bind(name).bind(c.id).run();
      c.name = name;
    }
    return c;
  }
  query("INSERT INTO contacts(address, name) VALUES(?, ?)").bind(address).bind(name).run();
  return Contact{sqlite3_last_insert_rowid(db_), address, name};
}

std::optional<Contact> SqliteStore::contact(std::int64_t id) {
  auto q = query("SELECT id, address, name FROM contacts WHERE id = ?");
  q.bind(id);
  if (!q.step()) return std::nullopt;
  return Contact{q.i64(0), q.text(1), q.text(2)};
}

void SqliteStore::mark_contact_failing(const std::string& address, Timestamp at) {
  query("UPDATE contacts SET failing_since = COALESCE(failing_since, ?) WHERE address = ?").bind(at).bind(address).run();
}

// ---- tickets

std::int64_t SqliteStore::next_sequence(const std::string& scope) {
  auto q = query("INSERT INTO sequences(scope, value) VALUES(?, 1) "
                 "ON CONFLICT(scope) DO UPDATE SET value = value + 1 RETURNING value");
  q.bind(scope);
  if (!q.step()) throw StoreError(StoreError::Kind::Other, "sequence " + scope + " returned nothing");
  const std::int64_t value = q.i64(0);
  while (q.step()) {
  }
  return value;
}

#define TICKET_COLUMNS                                                                                  \
  "id, protocol, type_id, status, stage, priority, contact_id, responsible, department, subject, level, " \
  "reply_token, mailbox, opened_at, first_response_due, first_response_at, next_contact_due, closed_at, " \
  "times_scheduled, times_reopened"

static Ticket ticket_row(const SqliteStore::Query& q) {
  Ticket t;
  t.id = q.i64(0);
  t.protocol = q.text(1);
  t.type_id = q.text(2);
  t.status = status_from_name(q.text(3)).value_or(TicketStatus::New);
  t.stage = q.text(4);
  t.priority = static_cast<int>(q.i64(5));
  t.contact_id = q.i64(6);
  t.responsible = q.text(7);
  t.department = q.text(8);
  t.subject = q.text(9);
  t.level = static_cast<int>(q.i64(10));
  t.reply_token = q.text(11);
  t.mailbox = q.text(12);
  t.opened_at = q.i64(13);
  t.first_response_due = q.opt_i64(14);
  t.first_response_at = q.opt_i64(15);
  t.next_contact_due = q.opt_i64(16);
  t.closed_at = q.opt_i64(17);
  t.times_scheduled = static_cast<int>(q.i64(18));
  t.times_reopened = static_cast<int>(q.i64(19));
  return t;
}

TicketId SqliteStore::add_ticket(const Ticket& t) {
  query("INSERT INTO tickets(protocol, type_id, status, stage, priority, contact_id, responsible, department, subject, "
        "level, reply_token, mailbox, opened_at, first_response_due, first_response_at, next_contact_due, closed_at, "
        "times_scheduled, times_reopened) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
      .bind(t.protocol).bind(t.type_id).bind(status_name(t.status)).bind(t.stage).bind(t.priority)
      .bind(t.contact_id).bind(t.responsible).bind(t.department).bind(t.subject).bind(t.level)
      .bind(t.reply_token).bind(t.mailbox).bind(t.opened_at).bind(t.first_response_due)
      .bind(t.first_response_at).bind(t.next_contact_due).bind(t.closed_at).bind(t.times_scheduled)
      .bind(t.times_reopened)
      .run();
  const TicketId id = sqlite3_last_insert_rowid(db_);
  if (counts_as_open(t.status)) add_agent_load(t.responsible, +1);
  return id;
}

// agent_load (migration 6) holds, per responsible, the tickets in an open status: kept here, on
// every write that changes a ticket's status or responsible (migration 14).
bool SqliteStore::counts_as_open(TicketStatus status) {
  return status != TicketStatus::Solved && status != TicketStatus::Closed && status != TicketStatus::Cancelled;
}

void SqliteStore::add_agent_load(const std::string& responsible, int change) {
  if (change > 0) {
    query("INSERT INTO agent_load(responsible, open_tickets) VALUES(?, 1) "
          "ON CONFLICT(responsible) DO UPDATE SET open_tickets = open_tickets + 1")
        .bind(responsible)
        .run();
  } else {
    query("UPDATE agent_load SET open_tickets = open_tickets - 1 WHERE responsible = ?").bind(responsible).run();
  }
}

// Only the columns that changed are written: SQLite rewrites the entries of every index on a
// column named in SET, changed or not, and fires the agent_load triggers whenever responsible or
// status is named. A reply that changes the status alone then touches two indexes, not seven.
void SqliteStore::update_ticket(const Ticket& t) {
  const std::optional<Ticket> old = ticket(t.id);
  if (!old) return;  // as the UPDATE of a missing row: nothing
  std::string sql = "UPDATE tickets SET ";
  std::vector<std::function<void(Query&)>> binds;
  auto column = [&](const char* name, bool changed, std::function<void(Query&)> bind) {
    if (!changed) return;
    if (!binds.empty()) sql += ", ";
    sql += name;
    sql += " = ?";
    binds.push_back(std::move(bind));
  };
  column("type_id", t.type_id != old->type_id, [&](Query& q) { q.bind(t.type_id); });
  column("status", t.status != old->status, [&](Query& q) { q.bind(status_name(t.status)); });
  column("stage", t.stage != old->stage, [&](Query& q) { q.bind(t.stage); });
  column("priority", t.priority != old->priority, [&](Query& q) { q.bind(t.priority); });
  column("contact_id", t.contact_id != old->contact_id, [&](Query& q) { q.bind(t.contact_id); });
  column("responsible", t.responsible != old->responsible, [&](Query& q) { q.bind(t.responsible); });
  column("department", t.department != old->department, [&](Query& q) { q.bind(t.department); });
  column("subject", t.subject != old->subject, [&](Query& q) { q.bind(t.subject); });
  column("level", t.level != old->level, [&](Query& q) { q.bind(t.level); });
  column("first_response_due", t.first_response_due != old->first_response_due,
         [&](Query& q) { q.bind(t.first_response_due); });
  column("first_response_at", t.first_response_at != old->first_response_at,
         [&](Query& q) { q.bind(t.first_response_at); });
  column("next_contact_due", t.next_contact_due != old->next_contact_due,
         [&](Query& q) { q.bind(t.next_contact_due); });
  column("closed_at", t.closed_at != old->closed_at, [&](Query& q) { q.bind(t.closed_at); });
  column("times_scheduled", t.times_scheduled != old->times_scheduled, [&](Query& q) { q.bind(t.times_scheduled); });
  column("times_reopened", t.times_reopened != old->times_reopened, [&](Query& q) { q.bind(t.times_reopened); });
  if (binds.empty()) return;
  sql += " WHERE id = ?";
  Query q = query_text(sql);
  for (const auto& bind : binds) bind(q);
  q.bind(t.id).run();
  if (t.status != old->status || t.responsible != old->responsible) {
    if (counts_as_open(old->status)) add_agent_load(old->responsible, -1);
    if (counts_as_open(t.status)) add_agent_load(t.responsible, +1);
  }
}

std::optional<Ticket> SqliteStore::ticket(TicketId id) {
  auto q = query("SELECT " TICKET_COLUMNS " FROM tickets WHERE id = ?");
  q.bind(id);
  if (!q.step()) return std::nullopt;
  return ticket_row(q);
}

std::optional<Ticket> SqliteStore::ticket_by_protocol(const std::string& protocol) {
  auto q = query("SELECT " TICKET_COLUMNS " FROM tickets WHERE protocol = ?");
  q.bind(protocol);
  if (!q.step()) return std::nullopt;
  return ticket_row(q);
}

std::vector<Ticket> SqliteStore::tickets(std::optional<TicketStatus> status, int limit) {
  std::vector<Ticket> out;
  if (status) {
    auto q = query("SELECT " TICKET_COLUMNS " FROM tickets WHERE status = ? ORDER BY id DESC LIMIT ?");
    q.bind(status_name(*status)).bind(limit);
    while (q.step()) out.push_back(ticket_row(q));
  } else {
    auto q = query("SELECT " TICKET_COLUMNS " FROM tickets ORDER BY id DESC LIMIT ?");
    q.bind(limit);
    while (q.step()) out.push_back(ticket_row(q));
  }
  return out;
}

int SqliteStore::open_tickets_of(const std::string& agent_id) {
  auto q = query("SELECT open_tickets FROM agent_load WHERE responsible = ?");
  q.bind(agent_id);
  return q.step() ? static_cast<int>(q.i64(0)) : 0;
}

std::optional<TicketId> SqliteStore::ticket_of_message_id(const std::string& message_id) {
  if (message_id.empty()) return std::nullopt;
  // "message_id <> ''" lets SQLite use the partial index articles_message_id (else: a full scan).
  auto q = query("SELECT ticket_id FROM articles WHERE message_id = ? AND message_id <> '' ORDER BY id DESC LIMIT 1");
  q.bind(message_id);
  if (!q.step()) return std::nullopt;
  return q.i64(0);
}

std::optional<TicketId> SqliteStore::ticket_of_outbox_message_id(const std::string& message_id) {
  if (message_id.empty()) return std::nullopt;
  auto q = query("SELECT ticket_id FROM outbox WHERE message_id = ? AND ticket_id IS NOT NULL");
  q.bind(message_id);
  if (!q.step()) return std::nullopt;
  return q.i64(0);
}

std::optional<Ticket> SqliteStore::ticket_by_reply_token(const std::string& token) {
  if (token.empty()) return std::nullopt;
  auto q = query("SELECT " TICKET_COLUMNS " FROM tickets WHERE reply_token = ?");
  q.bind(token);
  if (!q.step()) return std::nullopt;
  return ticket_row(q);
}

std::optional<MailboxState> SqliteStore::mailbox_state(const std::string& mailbox) {
  auto q = query("SELECT uidvalidity, last_uid FROM mailbox_state WHERE mailbox = ?");
  q.bind(mailbox);
  if (!q.step()) return std::nullopt;
  return MailboxState{q.i64(0), q.i64(1)};
}

void SqliteStore::set_mailbox_state(const std::string& mailbox, const MailboxState& state, Timestamp at) {
  query("INSERT INTO mailbox_state(mailbox, uidvalidity, last_uid, updated_at) VALUES(?, ?, ?, ?) "
        "ON CONFLICT(mailbox) DO UPDATE SET uidvalidity = excluded.uidvalidity, last_uid = excluded.last_uid, "
        "updated_at = excluded.updated_at")
      .bind(mailbox).bind(state.uidvalidity).bind(state.last_uid).bind(at)
      .run();
}

int SqliteStore::count_event(const std::string& scope, Timestamp window_start) {
  auto q = query("INSERT INTO rate_counters(scope, window_start, count) VALUES(?, ?, 1) "
                 "ON CONFLICT(scope, window_start) DO UPDATE SET count = count + 1 RETURNING count");
  q.bind(scope).bind(window_start);
  if (!q.step()) return 0;
  const int count = static_cast<int>(q.i64(0));
  while (q.step()) {
  }
  return count;
}

// ---- articles, attachments, history, watchers

std::int64_t SqliteStore::add_article(const Article& a) {
  query("INSERT INTO articles(ticket_id, kind, author, channel, message_id, subject, text, html, raw_sha256, created_at) "
        "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
      .bind(a.ticket_id).bind(article_kind_name(a.kind)).bind(a.author).bind(a.channel).bind(a.message_id)
      .bind(a.subject).bind(a.text).bind(a.html).bind(a.raw_sha256).bind(a.created_at)
      .run();
  return sqlite3_last_insert_rowid(db_);
}

std::vector<Article> SqliteStore::articles(TicketId ticket) {
  auto q = query("SELECT id, ticket_id, kind, author, channel, message_id, subject, text, html, raw_sha256, created_at "
                 "FROM articles WHERE ticket_id = ? ORDER BY id");
  q.bind(ticket);
  std::vector<Article> out;
  while (q.step()) {
    Article a;
    a.id = q.i64(0);
    a.ticket_id = q.i64(1);
    a.kind = article_kind_from(q.text(2));
    a.author = q.text(3);
    a.channel = q.text(4);
    a.message_id = q.text(5);
    a.subject = q.text(6);
    a.text = q.text(7);
    a.html = q.opt_text(8);
    a.raw_sha256 = q.text(9);
    a.created_at = q.i64(10);
    out.push_back(std::move(a));
  }
  return out;
}

std::int64_t SqliteStore::add_attachment(const AttachmentRecord& a) {
  query("INSERT INTO attachments(article_id, filename, content_type, size, sha256, inline_part) VALUES(?, ?, ?, ?, ?, ?)")
      .bind(a.article_id).bind(a.filename).bind(a.content_type).bind(a.size).bind(a.sha256)
      .bind(a.inline_part ? 1 : 0)
      .run();
  return sqlite3_last_insert_rowid(db_);
}

std::vector<AttachmentRecord> SqliteStore::attachments(std::int64_t article_id) {
  auto q = query("SELECT id, article_id, filename, content_type, size, sha256, inline_part FROM attachments "
                 "WHERE article_id = ? ORDER BY id");
  q.bind(article_id);
  std::vector<AttachmentRecord> out;
  while (q.step())
    out.push_back({q.i64(0), q.i64(1), q.text(2), q.text(3), q.i64(4), q.text(5), q.i64(6) != 0});
  return out;
}

void SqliteStore::add_history(const HistoryEntry& h) {
  query("INSERT INTO history(ticket_id, at, actor, field, from_value, to_value, justification) VALUES(?, ?, ?, ?, ?, ?, ?)")
      .bind(h.ticket_id).bind(h.at).bind(h.actor).bind(h.field).bind(h.from_value).bind(h.to_value)
      .bind(h.justification)
      .run();
}

std::vector<HistoryEntry> SqliteStore::history(TicketId ticket) {
  auto q = query("SELECT id, ticket_id, at, actor, field, from_value, to_value, justification FROM history "
                 "WHERE ticket_id = ? ORDER BY id");
  q.bind(ticket);
  std::vector<HistoryEntry> out;
  while (q.step())
    out.push_back({q.i64(0), q.i64(1), q.i64(2), q.text(3), q.text(4), q.text(5), q.text(6), q.text(7)});
  return out;
}

void SqliteStore::add_watcher(TicketId ticket, const std::string& address) {
  query("INSERT INTO watchers(ticket_id, address) VALUES(?, ?) ON CONFLICT DO NOTHING").bind(ticket).bind(address).run();
}

std::vector<std::string> SqliteStore::watchers(TicketId ticket) {
  auto q = query("SELECT address FROM watchers WHERE ticket_id = ? ORDER BY address");
  q.bind(ticket);
  std::vector<std::string> out;
  while (q.step()) out.push_back(q.text(0));
  return out;
}

std::string SqliteStore::last_assigned(const std::string& scope) {
  auto q = query("SELECT agent_id FROM assignment_cursors WHERE scope = ?");
  q.bind(scope);
  return q.step() ? q.text(0) : std::string();
}

void SqliteStore::set_last_assigned(const std::string& scope, const std::string& agent_id) {
  query("INSERT INTO assignment_cursors(scope, agent_id) VALUES(?, ?) "
        "ON CONFLICT(scope) DO UPDATE SET agent_id = excluded.agent_id")
      .bind(scope).bind(agent_id)
      .run();
}

// ---- outbox

#define OUTBOX_COLUMNS                                                                                     \
  "id, ticket_id, template_name, mail_from, recipients, message_id, raw, state, attempts, next_attempt_at, " \
  "last_error, created_at, sent_at"

static OutboxMail outbox_row(const SqliteStore::Query& q) {
  OutboxMail m;
  m.id = q.i64(0);
  m.ticket_id = q.opt_i64(1);
  m.template_name = q.text(2);
  m.mail_from = q.text(3);
  m.recipients = split_lines(q.text(4));
  m.message_id = q.text(5);
  m.raw = q.text(6);
  m.state = outbox_state_from(q.text(7));
  m.attempts = static_cast<int>(q.i64(8));
  m.next_attempt_at = q.i64(9);
  m.last_error = q.text(10);
  m.created_at = q.i64(11);
  m.sent_at = q.opt_i64(12);
  return m;
}

std::int64_t SqliteStore::add_outbox(const OutboxMail& m) {
  // The channel column (migration 4) is set here since migration 14, not by a trigger.
  query("INSERT INTO outbox(ticket_id, template_name, mail_from, recipients, message_id, raw, state, attempts, "
        "next_attempt_at, last_error, created_at, channel) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
      .bind(m.ticket_id).bind(m.template_name).bind(m.mail_from).bind(join_lines(m.recipients))
      .bind(m.message_id).bind_blob(m.raw).bind(outbox_state_name(m.state)).bind(m.attempts)
      .bind(m.next_attempt_at).bind(m.last_error).bind(m.created_at).bind(outbox_channel_for(m.recipients))
      .run();
  return sqlite3_last_insert_rowid(db_);
}

// A mail waits while an older one of the same ticket to the same recipients on the same channel is
// not sent yet (pending, or claimed): a retried mail is never overtaken by a later one, so each
// recipient gets a ticket's mails in the order they were queued. Failed mails block nothing.
#define OUTBOX_IN_ORDER                                                                                \
  "NOT EXISTS (SELECT 1 FROM outbox older WHERE older.ticket_id = outbox.ticket_id AND older.id < outbox.id " \
  "AND older.channel = outbox.channel AND older.recipients = outbox.recipients " \
  "AND older.state IN ('pending', 'sending'))"

std::vector<OutboxMail> SqliteStore::claim_due_outbox(Timestamp now, int limit, int lease_seconds) {
  // channel = '': mails for messaging channels are the channel sender's (migration 4).
  // "state IN" lets the search use outbox_channel_due on (channel, state): with the OR alone it
  // read every row of the channel, the sent ones included, on every claim.
  return claim_outbox("SELECT " OUTBOX_COLUMNS " FROM outbox WHERE channel = '' AND state IN ('pending', 'sending') "
                      "AND ((state = 'pending' AND "
                      "next_attempt_at <= ?) OR (state = 'sending' AND lease_until < ?)) AND " OUTBOX_IN_ORDER
                      " ORDER BY next_attempt_at, id LIMIT ?",
                      now, limit, lease_seconds);
}

// Selects the due mails with `select_due` and leases them, atomically: BEGIN IMMEDIATE makes the
// select-and-mark one step against other processes.
std::vector<OutboxMail> SqliteStore::claim_outbox(const char* select_due, Timestamp now, int limit, int lease_seconds) {
  const bool own_transaction = sqlite3_get_autocommit(db_) != 0;
  if (own_transaction) run_prepared("BEGIN IMMEDIATE");
  std::vector<OutboxMail> out;
  try {
    auto q = query(select_due);
    q.bind(now).bind(now).bind(limit);
    while (q.step()) out.push_back(outbox_row(q));
    for (auto& m : out) {
      query("UPDATE outbox SET state = 'sending', lease_until = ?, attempts = attempts + 1 WHERE id = ?")
          .bind(now + lease_seconds).bind(m.id)
          .run();
      m.state = OutboxState::Sending;
      m.attempts += 1;
    }
    if (own_transaction) run_prepared("COMMIT");
  } catch (...) {
    if (own_transaction) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  return out;
}

void SqliteStore::mark_outbox_sent(std::int64_t id, Timestamp at) {
  query("UPDATE outbox SET state = 'sent', sent_at = ?, last_error = '', lease_until = 0 WHERE id = ?").bind(at).bind(id).run();
}

void SqliteStore::mark_outbox_retry(std::int64_t id, const std::string& error, Timestamp next_attempt) {
  query("UPDATE outbox SET state = 'pending', last_error = ?, next_attempt_at = ?, lease_until = 0 WHERE id = ?")
      .bind(error).bind(next_attempt).bind(id)
      .run();
}

void SqliteStore::mark_outbox_failed(std::int64_t id, const std::string& error) {
  query("UPDATE outbox SET state = 'failed', last_error = ?, lease_until = 0 WHERE id = ?").bind(error).bind(id).run();
}

void SqliteStore::release_outbox(std::int64_t id) {
  query("UPDATE outbox SET state = 'pending', attempts = MAX(attempts - 1, 0), lease_until = 0 WHERE id = ? AND state = 'sending'")
      .bind(id)
      .run();
}

std::vector<OutboxMail> SqliteStore::outbox_of_ticket(TicketId ticket) {
  auto q = query("SELECT " OUTBOX_COLUMNS " FROM outbox WHERE ticket_id = ? ORDER BY id");
  q.bind(ticket);
  std::vector<OutboxMail> out;
  while (q.step()) out.push_back(outbox_row(q));
  return out;
}

std::vector<OutboxMail> SqliteStore::outbox_in_state(OutboxState state, int limit) {
  auto q = query("SELECT " OUTBOX_COLUMNS " FROM outbox WHERE state = ? ORDER BY id LIMIT ?");
  q.bind(outbox_state_name(state)).bind(limit);
  std::vector<OutboxMail> out;
  while (q.step()) out.push_back(outbox_row(q));
  return out;
}

std::optional<Timestamp> SqliteStore::next_outbox_attempt() {
  auto q = query("SELECT MIN(CASE WHEN state = 'pending' THEN next_attempt_at ELSE lease_until END) FROM outbox "
                 "WHERE state IN ('pending', 'sending')");
  if (!q.step()) return std::nullopt;
  return q.opt_i64(0);
}

// ---- lifecycle (migration 3)

void SqliteStore::remove_watcher(TicketId ticket, const std::string& address) {
  query("DELETE FROM watchers WHERE ticket_id = ? AND address = ?").bind(ticket).bind(address).run();
}

void SqliteStore::add_link(TicketId a, TicketId b, Timestamp at) {
  auto insert = "INSERT OR IGNORE INTO ticket_links(ticket_id, linked_id, created_at) VALUES(?, ?, ?)";
  query(insert).bind(a).bind(b).bind(at).run();
  query(insert).bind(b).bind(a).bind(at).run();
}

std::vector<TicketId> SqliteStore::links(TicketId ticket) {
  auto q = query("SELECT linked_id FROM ticket_links WHERE ticket_id = ? ORDER BY created_at, linked_id");
  q.bind(ticket);
  std::vector<TicketId> out;
  while (q.step()) out.push_back(q.i64(0));
  return out;
}

void SqliteStore::set_field(TicketId ticket, const std::string& name, const std::string& value) {
  query("INSERT INTO ticket_fields(ticket_id, name, value) VALUES(?, ?, ?) "
        "ON CONFLICT(ticket_id, name) DO UPDATE SET value = excluded.value")
      .bind(ticket).bind(name).bind(value).run();
}

std::vector<std::pair<std::string, std::string>> SqliteStore::fields(TicketId ticket) {
  auto q = query("SELECT name, value FROM ticket_fields WHERE ticket_id = ? ORDER BY name");
  q.bind(ticket);
  std::vector<std::pair<std::string, std::string>> out;
  while (q.step()) out.emplace_back(q.text(0), q.text(1));
  return out;
}

std::int64_t SqliteStore::add_expense(const Expense& e) {
  query("INSERT INTO ticket_expenses(ticket_id, amount_cents, description, author, created_at) VALUES(?, ?, ?, ?, ?)")
      .bind(e.ticket_id).bind(e.amount_cents).bind(e.description).bind(e.author).bind(e.created_at).run();
  return sqlite3_last_insert_rowid(db_);
}

std::vector<Expense> SqliteStore::expenses(TicketId ticket) {
  auto q = query("SELECT id, ticket_id, amount_cents, description, author, created_at FROM ticket_expenses "
                 "WHERE ticket_id = ? ORDER BY created_at, id");
  q.bind(ticket);
  std::vector<Expense> out;
  while (q.step()) out.push_back({q.i64(0), q.i64(1), q.i64(2), q.text(3), q.text(4), q.i64(5)});
  return out;
}

std::vector<ExpenseTotal> SqliteStore::expense_totals(Timestamp from, Timestamp to) {
  auto q = query("SELECT t.type_id, COUNT(*), SUM(e.amount_cents) FROM ticket_expenses e JOIN tickets t "
                 "ON t.id = e.ticket_id WHERE e.created_at >= ? AND (? = 0 OR e.created_at < ?) "
                 "GROUP BY t.type_id ORDER BY t.type_id");
  q.bind(from).bind(to).bind(to);
  std::vector<ExpenseTotal> out;
  while (q.step()) out.push_back({q.text(0), q.i64(1), q.i64(2)});
  return out;
}

std::vector<FieldCount> SqliteStore::field_counts(const std::string& name, Timestamp from, Timestamp to) {
  auto q = query("SELECT t.type_id, f.value, COUNT(*) FROM ticket_fields f JOIN tickets t ON t.id = f.ticket_id "
                 "WHERE f.name = ? AND t.opened_at >= ? AND (? = 0 OR t.opened_at < ?) "
                 "GROUP BY t.type_id, f.value ORDER BY 1, 2");
  q.bind(name).bind(from).bind(to).bind(to);
  std::vector<FieldCount> out;
  while (q.step()) out.push_back({q.text(0), q.text(1), q.i64(2)});
  return out;
}

void SqliteStore::set_timer(TicketId ticket, const std::string& kind, Timestamp due_at) {
  query("INSERT INTO ticket_timers(ticket_id, kind, due_at) VALUES(?, ?, ?) "
        "ON CONFLICT(ticket_id, kind) DO UPDATE SET due_at = excluded.due_at")
      .bind(ticket).bind(kind).bind(due_at).run();
}

void SqliteStore::clear_timer(TicketId ticket, const std::string& kind) {
  query("DELETE FROM ticket_timers WHERE ticket_id = ? AND kind = ?").bind(ticket).bind(kind).run();
}

std::optional<Timestamp> SqliteStore::timer(TicketId ticket, const std::string& kind) {
  auto q = query("SELECT due_at FROM ticket_timers WHERE ticket_id = ? AND kind = ?");
  q.bind(ticket).bind(kind);
  if (!q.step()) return std::nullopt;
  return q.i64(0);
}

std::vector<std::pair<TicketId, Timestamp>> SqliteStore::due_timers(const std::string& kind, Timestamp now,
                                                                    int limit) {
  auto q = query("SELECT ticket_id, due_at FROM ticket_timers WHERE kind = ? AND due_at <= ? "
                 "ORDER BY due_at, ticket_id LIMIT ?");
  q.bind(kind).bind(now).bind(limit);
  std::vector<std::pair<TicketId, Timestamp>> out;
  while (q.step()) out.emplace_back(q.i64(0), q.i64(1));
  return out;
}

std::vector<PassedDeadline> SqliteStore::passed_deadlines(Timestamp now, const std::vector<TicketStatus>& statuses,
                                                          int limit) {
  std::string wanted = ",";
  for (TicketStatus s : statuses) wanted += std::string(status_name(s)) + ",";
  // Two look-ups, each on its own index; statuses as ",a,b," so the statement stays prepared.
  auto first = query("SELECT " TICKET_COLUMNS ", first_response_due FROM tickets t "
                     "WHERE first_response_at IS NULL AND first_response_due <= ? "
                     "AND instr(?, ',' || status || ',') > 0 AND NOT EXISTS (SELECT 1 FROM deadline_marks m "
                     "WHERE m.ticket_id = t.id AND m.deadline = 'first_response' AND m.due_at = t.first_response_due) "
                     "ORDER BY first_response_due, id LIMIT ?");
  first.bind(now).bind(wanted).bind(limit);
  std::vector<PassedDeadline> out;
  while (first.step()) out.push_back({ticket_row(first), "first_response", first.i64(20)});
  auto next = query("SELECT " TICKET_COLUMNS ", next_contact_due FROM tickets t "
                    "WHERE next_contact_due <= ? "
                    "AND instr(?, ',' || status || ',') > 0 AND NOT EXISTS (SELECT 1 FROM deadline_marks m "
                    "WHERE m.ticket_id = t.id AND m.deadline = 'next_contact' AND m.due_at = t.next_contact_due) "
                    "ORDER BY next_contact_due, id LIMIT ?");
  next.bind(now).bind(wanted).bind(limit);
  while (next.step()) out.push_back({ticket_row(next), "next_contact", next.i64(20)});
  return out;
}

void SqliteStore::mark_deadline(TicketId ticket, const std::string& deadline, Timestamp due, Timestamp at) {
  query("INSERT OR IGNORE INTO deadline_marks(ticket_id, deadline, due_at, marked_at) VALUES(?, ?, ?, ?)")
      .bind(ticket).bind(deadline).bind(due).bind(at).run();
}

// ---- admin endpoint and messaging channels (migration 4)

std::vector<Ticket> SqliteStore::find_tickets(const TicketQuery& f) {
  // One prepared statement: an empty filter matches everything.
  auto q = query("SELECT " TICKET_COLUMNS " FROM tickets t WHERE (? = '' OR status = ?) AND (? = '' OR type_id = ?) "
                 "AND (? = '' OR responsible = ?) AND (? = 0 OR id < ?) "
                 "AND (? = '' OR instr(lower(subject), lower(?)) > 0 OR instr(protocol, ?) > 0) "
                 "AND (? = '' OR EXISTS (SELECT 1 FROM contacts c WHERE c.id = t.contact_id AND "
                 "(instr(lower(c.address), lower(?)) > 0 OR instr(lower(c.name), lower(?)) > 0))) "
                 "ORDER BY id DESC LIMIT ?");
  const std::string status = f.status ? status_name(*f.status) : "";
  q.bind(status).bind(status).bind(f.type_id).bind(f.type_id).bind(f.responsible).bind(f.responsible);
  q.bind(f.before_id).bind(f.before_id).bind(f.text).bind(f.text).bind(f.text);
  q.bind(f.contact).bind(f.contact).bind(f.contact).bind(f.limit);
  std::vector<Ticket> out;
  while (q.step()) out.push_back(ticket_row(q));
  return out;
}

std::optional<Contact> SqliteStore::contact_by_address(const std::string& address) {
  auto q = query("SELECT id, address, name FROM contacts WHERE address = ?");
  q.bind(address);
  if (!q.step()) return std::nullopt;
  return Contact{q.i64(0), q.text(1), q.text(2)};
}

std::optional<Ticket> SqliteStore::open_ticket_of_contact(std::int64_t contact_id, const std::string& mailbox) {
  auto q = query("SELECT " TICKET_COLUMNS " FROM tickets WHERE contact_id = ? AND mailbox = ? "
                 "AND status NOT IN ('closed', 'cancelled') ORDER BY id DESC LIMIT 1");
  q.bind(contact_id).bind(mailbox);
  if (!q.step()) return std::nullopt;
  return ticket_row(q);
}

std::optional<OutboxMail> SqliteStore::outbox_mail(std::int64_t id) {
  auto q = query("SELECT " OUTBOX_COLUMNS " FROM outbox WHERE id = ?");
  q.bind(id);
  if (!q.step()) return std::nullopt;
  return outbox_row(q);
}

bool SqliteStore::retry_outbox(std::int64_t id, Timestamp now) {
  query("UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = ?, lease_until = 0 "
        "WHERE id = ? AND state = 'failed'")
      .bind(now).bind(id).run();
  return sqlite3_changes(db_) > 0;
}

std::vector<OutboxMail> SqliteStore::claim_due_channel_outbox(Timestamp now, int limit, int lease_seconds) {
  return claim_outbox("SELECT " OUTBOX_COLUMNS " FROM outbox WHERE channel <> '' AND state IN ('pending', 'sending') "
                      "AND ((state = 'pending' AND "
                      "next_attempt_at <= ?) OR (state = 'sending' AND lease_until < ?)) AND " OUTBOX_IN_ORDER
                      " ORDER BY next_attempt_at, id LIMIT ?",
                      now, limit, lease_seconds);
}

std::vector<JournalCount> SqliteStore::journal_counts() {
  auto q = query("SELECT source, mailbox, outcome, COUNT(*) FROM journal GROUP BY source, mailbox, outcome "
                 "ORDER BY source, mailbox, outcome");
  std::vector<JournalCount> out;
  while (q.step()) out.push_back({q.text(0), q.text(1), q.text(2), q.i64(3)});
  return out;
}

std::vector<TicketCount> SqliteStore::ticket_counts(Timestamp from, Timestamp to) {
  auto q = query("SELECT status, type_id, responsible, COUNT(*) FROM tickets WHERE opened_at >= ? "
                 "AND (? = 0 OR opened_at < ?) GROUP BY status, type_id, responsible ORDER BY 1, 2, 3");
  q.bind(from).bind(to).bind(to);
  std::vector<TicketCount> out;
  while (q.step()) out.push_back({q.text(0), q.text(1), q.text(2), q.i64(3)});
  return out;
}

OutboxCounts SqliteStore::outbox_counts() {
  OutboxCounts out;
  {
    auto q = query("SELECT state, COUNT(*) FROM outbox GROUP BY state ORDER BY state");
    while (q.step()) out.by_state.emplace_back(q.text(0), q.i64(1));
  }
  auto q = query("SELECT COUNT(*), COALESCE(SUM(sent_at - created_at), 0) FROM outbox WHERE state = 'sent' "
                 "AND sent_at IS NOT NULL");
  if (q.step()) {
    out.sent = q.i64(0);
    out.send_latency_seconds_sum = q.i64(1);
  }
  auto retries = query("SELECT COALESCE(SUM(CASE WHEN state = 'pending' AND attempts > 0 THEN 1 ELSE 0 END), 0), "
                       "COALESCE(SUM(attempts), 0) FROM outbox WHERE state <> 'sent'");
  if (retries.step()) {
    out.retrying = retries.i64(0);
    out.unsent_attempts = retries.i64(1);
  }
  return out;
}

std::vector<std::pair<std::string, std::int64_t>> SqliteStore::deadline_counts(Timestamp from, Timestamp to) {
  auto q = query("SELECT deadline, COUNT(*) FROM deadline_marks WHERE marked_at >= ? AND (? = 0 OR marked_at < ?) "
                 "GROUP BY deadline ORDER BY deadline");
  q.bind(from).bind(to).bind(to);
  std::vector<std::pair<std::string, std::int64_t>> out;
  while (q.step()) out.emplace_back(q.text(0), q.i64(1));
  return out;
}

std::int64_t SqliteStore::channel_offset(const std::string& channel) {
  auto q = query("SELECT poll_offset FROM channel_state WHERE channel = ?");
  q.bind(channel);
  return q.step() ? q.i64(0) : 0;
}

void SqliteStore::set_channel_offset(const std::string& channel, std::int64_t offset, Timestamp at) {
  query("INSERT INTO channel_state(channel, poll_offset, updated_at) VALUES(?, ?, ?) "
        "ON CONFLICT(channel) DO UPDATE SET poll_offset = excluded.poll_offset, updated_at = excluded.updated_at")
      .bind(channel).bind(offset).bind(at).run();
}

// ---- leases (migration 5)

bool SqliteStore::try_acquire_lease(const std::string& name, const std::string& holder, Timestamp now,
                                    int ttl_seconds) {
  // One upsert: it takes a free or expired lease or renews our own, and returns a row only then.
  auto q = query("INSERT INTO leases(name, holder, expires_at, acquired_at) VALUES(?1, ?2, ?3 + ?4, ?3) "
                 "ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at, "
                 "acquired_at = CASE WHEN leases.holder = excluded.holder THEN leases.acquired_at "
                 "ELSE excluded.acquired_at END "
                 "WHERE leases.holder = excluded.holder OR leases.expires_at <= ?3 RETURNING holder");
  q.bind(name).bind(holder).bind(now).bind(ttl_seconds);
  const bool taken = q.step();
  while (q.step()) {
  }
  return taken;
}

bool SqliteStore::renew_lease(const std::string& name, const std::string& holder, Timestamp now, int ttl_seconds) {
  // Also when our lease ran out but nobody took it meanwhile: the holder has been polling all along.
  query("UPDATE leases SET expires_at = ?3 + ?4 WHERE name = ?1 AND holder = ?2")
      .bind(name).bind(holder).bind(now).bind(ttl_seconds).run();
  return sqlite3_changes(db_) > 0;
}

void SqliteStore::release_lease(const std::string& name, const std::string& holder) {
  query("DELETE FROM leases WHERE name = ? AND holder = ?").bind(name).bind(holder).run();
}

std::optional<std::string> SqliteStore::lease_holder(const std::string& name, Timestamp now) {
  auto q = query("SELECT holder FROM leases WHERE name = ? AND expires_at > ?");
  q.bind(name).bind(now);
  if (!q.step()) return std::nullopt;
  return q.text(0);
}

// ---- one writer at a time, small blobs in the database (migration 12), contact identities (migration 10)

// BEGIN IMMEDIATE already makes every writer wait for the one before: nothing to add.
void SqliteStore::lock_message(const std::string& /*content_sha256*/) {}
void SqliteStore::lock_sender(const std::string& /*address*/) {}

// One transaction for the batch (or the caller's, when one is open). Committed before the
// transaction that journals the messages naming these blobs: the WAL is replayed as a prefix after
// a crash or a power loss, so no commit that names a blob survives without the commit that wrote it.
void SqliteStore::put_blobs(const std::vector<std::pair<std::string, std::string>>& blobs) {
  if (blobs.empty()) return;
  const bool own = sqlite3_get_autocommit(db_) != 0;
  if (own) run_prepared("BEGIN IMMEDIATE");
  try {
    for (const auto& [sha256, bytes] : blobs)
      query("INSERT OR IGNORE INTO blobs(sha256, bytes, size, created_at) VALUES(?, ?, ?, strftime('%s','now'))")
          .bind(sha256).bind_blob(bytes).bind(static_cast<std::int64_t>(bytes.size()))
          .run();
    if (own) run_prepared("COMMIT");
  } catch (...) {
    if (own) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

std::optional<std::string> SqliteStore::blob(const std::string& sha256) {
  auto q = query("SELECT bytes FROM blobs WHERE sha256 = ?");
  q.bind(sha256);
  if (!q.step()) return std::nullopt;
  return q.text(0);
}

std::vector<Contact> SqliteStore::identities(std::int64_t contact_id) {
  auto q = query("SELECT c.id, c.address, c.name FROM contacts c, "
                 "(SELECT COALESCE(person_id, id) AS person FROM contacts WHERE id = ?) p "
                 "WHERE COALESCE(c.person_id, c.id) = p.person ORDER BY c.id <> p.person, c.id");
  q.bind(contact_id);
  std::vector<Contact> out;
  while (q.step()) out.push_back(Contact{q.i64(0), q.text(1), q.text(2)});
  return out;
}

bool SqliteStore::link_contacts(std::int64_t keep, std::int64_t other) {
  auto person = [this](std::int64_t id) -> std::optional<std::int64_t> {
    auto q = query("SELECT COALESCE(person_id, id) FROM contacts WHERE id = ?");
    q.bind(id);
    if (!q.step()) return std::nullopt;
    return q.i64(0);
  };
  const auto kept = person(keep), merged = person(other);
  if (!kept || !merged) return false;
  if (*kept == *merged) return true;
  query("UPDATE contacts SET person_id = ? WHERE id = ? OR person_id = ?").bind(*kept).bind(*merged).bind(*merged).run();
  return true;
}

std::optional<Ticket> SqliteStore::open_ticket_of_person(std::int64_t contact_id) {
  auto q = query("SELECT " TICKET_COLUMNS " FROM tickets WHERE contact_id IN (SELECT c.id FROM contacts c, "
                 "(SELECT COALESCE(person_id, id) AS person FROM contacts WHERE id = ?) p "
                 "WHERE COALESCE(c.person_id, c.id) = p.person) "
                 "AND status NOT IN ('closed', 'cancelled') ORDER BY id DESC LIMIT 1");
  q.bind(contact_id);
  if (!q.step()) return std::nullopt;
  return ticket_row(q);
}

}  // namespace atendd

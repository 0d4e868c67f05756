// postgres_store.cpp — PostgreSQL implementation of the Store, on libpq directly. POCO's connector
// (1.11) double-frees a reused Statement whose execution fails, leaks the PGconn of every failed
// connection and hides SQLSTATE in message text; libpq gives prepared statements kept per
// connection, SQLSTATE for Busy/Constraint, bytea in binary and a clean PQfinish on failure.
#include "storage/postgres_store.h"

#include <libpq-fe.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <memory>
#include <sstream>

namespace atendd {

extern const char* const kPostgresMigrations;

namespace {

// Advisory lock keys (any two fixed bigints; "atendd" in ASCII plus a number).
constexpr long long kMigrationLock = 0x617465'6e6464'01LL;

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

// PostgreSQL text must be valid UTF-8 without NUL (SQLite takes any bytes). Mail is not always
// that, and a message must never be refused for its bytes (invariant 4): each invalid byte and
// each NUL becomes U+FFFD. Valid text passes unchanged.
std::string clean_utf8(const std::string& s) {
  auto valid_from = [&s](size_t i) -> size_t {  // length of a valid sequence at i, 0 when none
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == 0) return 0;
    if (c < 0x80) return 1;
    size_t n = 0;
    unsigned min = 0;
    unsigned cp = 0;
    if ((c & 0xE0) == 0xC0) { n = 2; min = 0x80; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { n = 3; min = 0x800; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { n = 4; min = 0x10000; cp = c & 0x07; }
    else return 0;
    if (i + n > s.size()) return 0;
    for (size_t k = 1; k < n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return 0;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return n;
  };
  size_t i = 0;
  while (i < s.size()) {
    const size_t n = valid_from(i);
    if (n == 0) break;
    i += n;
  }
  if (i == s.size()) return s;
  std::string out = s.substr(0, i);
  while (i < s.size()) {
    const size_t n = valid_from(i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(s, i, n);
      i += n;
    }
  }
  return out;
}

StoreError::Kind kind_of_sqlstate(const char* state) {
  const std::string s = state ? state : "";
  if (s.rfind("23", 0) == 0) return StoreError::Kind::Constraint;
  // serialization failure, deadlock, lock timeout, statement cancelled, connection problems
  if (s == "40001" || s == "40P01" || s == "55P03" || s == "57014" || s.rfind("08", 0) == 0 ||
      s == "57P01" || s == "57P02" || s == "57P03")
    return StoreError::Kind::Busy;
  return StoreError::Kind::Other;
}

std::string trimmed_message(const char* m) {
  std::string s = m ? m : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

}  // namespace

// A prepared statement in use: bound by position ($1, $2, … in bind order), run on the first
// step() or run(), then read row by row like SqliteStore::Query.
class PostgresStore::Query {
 public:
  Query(PostgresStore& store, const char* sql) : store_(store), sql_(sql) {}

  Query& bind(const std::string& v) {
    values_.emplace_back(clean_utf8(v));
    binary_.push_back(0);
    return *this;
  }
  Query& bind(const char* v) { return bind(std::string(v)); }
  Query& bind(std::int64_t v) {
    values_.emplace_back(std::to_string(v));
    binary_.push_back(0);
    return *this;
  }
  Query& bind(int v) { return bind(static_cast<std::int64_t>(v)); }
  Query& bind(const std::optional<std::int64_t>& v) {
    if (v) return bind(*v);
    values_.emplace_back(std::nullopt);
    binary_.push_back(0);
    return *this;
  }
  Query& bind(const std::optional<std::string>& v) {
    if (v) return bind(*v);
    values_.emplace_back(std::nullopt);
    binary_.push_back(0);
    return *this;
  }
  Query& bind_blob(const std::string& v) {
    values_.emplace_back(v);
    binary_.push_back(1);
    return *this;
  }

  // Runs (once) and moves to the next row: true when a row is there to read.
  bool step() {
    if (!result_) execute();
    return ++row_ < PQntuples(result_.get());
  }
  void run() {
    if (!result_) execute();
  }
  std::int64_t affected() {
    run();
    const char* n = PQcmdTuples(result_.get());
    return n && *n ? std::stoll(n) : 0;
  }

  std::int64_t i64(int col) const {
    const char* v = PQgetvalue(result_.get(), row_, col);
    return v && *v ? std::stoll(v) : 0;
  }
  std::string text(int col) const {
    return std::string(PQgetvalue(result_.get(), row_, col),
                       static_cast<size_t>(PQgetlength(result_.get(), row_, col)));
  }
  std::string blob(int col) const {
    size_t length = 0;
    unsigned char* bytes =
        PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(result_.get(), row_, col)), &length);
    if (!bytes) throw StoreError(StoreError::Kind::Other, "cannot decode a bytea value");
    std::string out(reinterpret_cast<const char*>(bytes), length);
    PQfreemem(bytes);
    return out;
  }
  bool is_null(int col) const { return PQgetisnull(result_.get(), row_, col) != 0; }
  std::optional<std::int64_t> opt_i64(int col) const {
    if (is_null(col)) return std::nullopt;
    return i64(col);
  }
  std::optional<std::string> opt_text(int col) const {
    if (is_null(col)) return std::nullopt;
    return text(col);
  }

 private:
  void execute();

  PostgresStore& store_;
  const char* sql_;
  std::vector<std::optional<std::string>> values_;
  std::vector<int> binary_;
  ResultPtr result_;
  int row_ = -1;
};

void PostgresStore::Query::execute() {
  store_.ensure_connected();
  PGconn* conn = store_.conn_;
  auto it = store_.prepared_.find(sql_);
  if (it == store_.prepared_.end()) {
    const std::string name = "s" + std::to_string(store_.prepared_.size() + 1);
    ResultPtr prepared(PQprepare(conn, name.c_str(), sql_, 0, nullptr));
    if (PQresultStatus(prepared.get()) != PGRES_COMMAND_OK) {
      const auto kind = PQstatus(conn) == CONNECTION_BAD
                            ? StoreError::Kind::Busy
                            : kind_of_sqlstate(PQresultErrorField(prepared.get(), PG_DIAG_SQLSTATE));
      throw StoreError(kind, std::string("preparing ") + sql_ + ": " +
                                 trimmed_message(PQresultErrorMessage(prepared.get())));
    }
    it = store_.prepared_.emplace(sql_, name).first;
  }
  std::vector<const char*> values;
  std::vector<int> lengths;
  for (const auto& v : values_) {
    values.push_back(v ? v->data() : nullptr);
    lengths.push_back(v ? static_cast<int>(v->size()) : 0);
  }
  result_.reset(PQexecPrepared(conn, it->second.c_str(), static_cast<int>(values.size()), values.data(),
                               lengths.data(), binary_.data(), 0));
  const ExecStatusType status = PQresultStatus(result_.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    const auto kind = PQstatus(conn) == CONNECTION_BAD
                          ? StoreError::Kind::Busy
                          : kind_of_sqlstate(PQresultErrorField(result_.get(), PG_DIAG_SQLSTATE));
    throw StoreError(kind, std::string("running ") + sql_ + ": " +
                               trimmed_message(PQresultErrorMessage(result_.get())));
  }
}

void postgres_conninfo(const std::string& url, std::string& conninfo, std::string& password) {
  conninfo = url;
  password.clear();
  const size_t question = url.find('?');
  if (question == std::string::npos) return;
  std::string kept;
  std::string file;
  std::istringstream params(url.substr(question + 1));
  std::string item;
  while (std::getline(params, item, '&')) {
    if (item.rfind("password_file=", 0) == 0) {
      file = item.substr(14);
    } else if (!item.empty()) {
      kept += (kept.empty() ? "" : "&") + item;
    }
  }
  conninfo = url.substr(0, question) + (kept.empty() ? "" : "?" + kept);
  if (file.empty()) return;
  std::ifstream in(file, std::ios::binary);
  if (!in) throw StoreError(StoreError::Kind::Other, "cannot read the database password file " + file);
  std::getline(in, password);
  while (!password.empty() && (password.back() == '\r' || password.back() == '\n')) password.pop_back();
}

PostgresStore::PostgresStore(const std::string& conninfo, const std::string& password, int lock_timeout_ms)
    : conninfo_(conninfo), password_(password), lock_timeout_ms_(lock_timeout_ms) {
  connect();
  try {
    migrate();
  } catch (...) {
    PQfinish(conn_);
    conn_ = nullptr;
    throw;
  }
}

PostgresStore::~PostgresStore() {
  if (conn_) PQfinish(conn_);
}

void PostgresStore::connect() {
  if (conn_) PQfinish(conn_);
  prepared_.clear();
  std::vector<const char*> keys{"dbname", "client_encoding", "application_name", "connect_timeout"};
  std::vector<const char*> values{conninfo_.c_str(), "UTF8", "atendd", "10"};
  if (!password_.empty()) {
    keys.push_back("password");
    values.push_back(password_.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  conn_ = PQconnectdbParams(keys.data(), values.data(), 1);
  if (!conn_ || PQstatus(conn_) != CONNECTION_OK) {
    const std::string message = conn_ ? trimmed_message(PQerrorMessage(conn_)) : "out of memory";
    if (conn_) PQfinish(conn_);  // libpq hands a PGconn back even on failure: never leak it
    conn_ = nullptr;
    throw StoreError(StoreError::Kind::Busy, "connecting to PostgreSQL: " + message);
  }
  // Times are epoch seconds everywhere; UTC only so that nothing shown by psql surprises.
  exec("SET TIME ZONE 'UTC'");
  exec("SET client_min_messages = warning");  // no NOTICE lines on stderr ("… already exists, skipping")
  exec("SET lock_timeout = " + std::to_string(lock_timeout_ms_));
}

void PostgresStore::ensure_connected() {
  if (conn_ && PQstatus(conn_) == CONNECTION_OK) return;
  if (in_transaction_)
    throw StoreError(StoreError::Kind::Busy, "the PostgreSQL connection was lost inside a transaction");
  connect();
}

void PostgresStore::exec(const std::string& sql) {
  ensure_connected();
  ResultPtr result(PQexec(conn_, sql.c_str()));
  const ExecStatusType status = PQresultStatus(result.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    const auto kind = PQstatus(conn_) == CONNECTION_BAD
                          ? StoreError::Kind::Busy
                          : kind_of_sqlstate(PQresultErrorField(result.get(), PG_DIAG_SQLSTATE));
    throw StoreError(kind, "running " + sql.substr(0, 200) + ": " + trimmed_message(PQresultErrorMessage(result.get())));
  }
}

PostgresStore::Query PostgresStore::query(const char* sql) { return Query(*this, sql); }

int PostgresStore::schema_version() {
  auto q = query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
  return q.step() ? static_cast<int>(q.i64(0)) : 0;
}

void PostgresStore::migrate() {
  // Instances starting together: one migrates, the others wait on the lock, then find it done.
  exec("SELECT pg_advisory_lock(" + std::to_string(kMigrationLock) + ")");
  try {
    exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)");
    for (const auto& [number, sql] : split_migrations(kPostgresMigrations)) {
      auto recorded = query("SELECT 1 FROM schema_migrations WHERE version = $1");
      recorded.bind(number);
      if (recorded.step()) continue;
      exec("BEGIN");
      try {
        exec(sql);
        query("INSERT INTO schema_migrations(version, applied_at) VALUES($1, extract(epoch from now())::bigint)")
            .bind(number)
            .run();
        exec("COMMIT");
      } catch (...) {
        PQclear(PQexec(conn_, "ROLLBACK"));
        throw;
      }
    }
  } catch (...) {
    PQclear(PQexec(conn_, ("SELECT pg_advisory_unlock(" + std::to_string(kMigrationLock) + ")").c_str()));
    throw;
  }
  exec("SELECT pg_advisory_unlock(" + std::to_string(kMigrationLock) + ")");
}

// READ COMMITTED transactions that run side by side, from any thread of any instance; no lock
// serialises writers as a whole. What the check-then-insert steps of the pipeline need instead:
// - the same message handled twice at once: lock_message (an advisory lock on its content hash)
//   makes the second wait, and its journal look-ups then see the first one's commit; the journal's
//   unique key on (source, mailbox, uidvalidity, uid) stays the last word;
// - one sender's messages handled at once (a messaging conversation): lock_sender (an advisory
//   lock on the sender's address) makes the second wait before it looks up the sender's open
//   ticket, so it finds the ticket the first one opened instead of opening another;
// - one ticket changed by two transactions: reading a ticket inside a transaction takes its row
//   (FOR NO KEY UPDATE) until commit, so read-modify-write of a ticket never loses an update;
// - counters (protocol numbers, rate limits, agent load, leases) are single atomic statements;
// - the round-robin cursor of a scope is read FOR UPDATE, so two openings never pick the same turn.
// A lock wait longer than lock_timeout or a deadlock raises Busy (55P03, 40P01): nothing of the
// transaction is committed, and the source retries, as with SQLite's busy timeout.
void PostgresStore::begin() {
  ensure_connected();
  exec("BEGIN");
  in_transaction_ = true;
}

void PostgresStore::commit() {
  try {
    exec("COMMIT");
  } catch (...) {
    in_transaction_ = false;
    throw;
  }
  in_transaction_ = false;
}

void PostgresStore::rollback() {
  in_transaction_ = false;
  if (conn_ && PQstatus(conn_) == CONNECTION_OK && PQtransactionStatus(conn_) != PQTRANS_IDLE)
    PQclear(PQexec(conn_, "ROLLBACK"));
}

void PostgresStore::savepoint(const std::string& name) {
  check_savepoint_name(name);
  exec("SAVEPOINT " + name);
}

void PostgresStore::release(const std::string& name) {
  check_savepoint_name(name);
  exec("RELEASE SAVEPOINT " + name);
}

// Also what brings a transaction aborted by a failed statement back into use.
void PostgresStore::rollback_to(const std::string& name) {
  check_savepoint_name(name);
  exec("ROLLBACK TO SAVEPOINT " + name);
}

// ---- journal

#define JOURNAL_COLUMNS \
  "id, source, mailbox, uidvalidity, uid, message_id, content_sha256, outcome, detail, ticket_id, received_at, " \
  "explanation, updated_at"

static JournalEntry journal_row(const PostgresStore::Query& q) {
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

std::optional<JournalEntry> PostgresStore::journal_by_source(const std::string& source, const std::string& mailbox,
                                                             std::int64_t uidvalidity, std::int64_t uid) {
  if (uid == 0) return std::nullopt;
  auto q = query("SELECT " JOURNAL_COLUMNS " FROM journal WHERE source = $1 AND mailbox = $2 AND uidvalidity = $3 "
                 "AND uid = $4 AND uid <> 0");
  q.bind(source).bind(mailbox).bind(uidvalidity).bind(uid);
  if (!q.step()) return std::nullopt;
  return journal_row(q);
}

std::optional<JournalEntry> PostgresStore::journal_by_content(const std::string& message_id,
                                                              const std::string& content_sha256) {
  auto q = query("SELECT " JOURNAL_COLUMNS " FROM journal WHERE content_sha256 = $1 AND message_id = $2 "
                 "ORDER BY id LIMIT 1");
  q.bind(content_sha256).bind(message_id);
  if (!q.step()) return std::nullopt;
  return journal_row(q);
}

std::int64_t PostgresStore::add_journal(const JournalEntry& e) {
  auto q = query("INSERT INTO journal(source, mailbox, uidvalidity, uid, message_id, content_sha256, outcome, detail, "
                 "ticket_id, received_at, explanation, updated_at) "
                 "VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id");
  q.bind(e.source).bind(e.mailbox).bind(e.uidvalidity).bind(e.uid).bind(e.message_id)
      .bind(e.content_sha256).bind(e.outcome).bind(e.detail).bind(e.ticket_id).bind(e.received_at)
      .bind(e.explanation).bind(e.updated_at);
  return q.step() ? q.i64(0) : 0;
}

std::vector<JournalEntry> PostgresStore::journal(int limit) {
  auto q = query("SELECT " JOURNAL_COLUMNS " FROM journal ORDER BY id DESC LIMIT $1");
  q.bind(limit);
  std::vector<JournalEntry> out;
  while (q.step()) out.push_back(journal_row(q));
  return out;
}

std::optional<JournalEntry> PostgresStore::journal_entry(std::int64_t id) {
  auto q = query("SELECT " JOURNAL_COLUMNS " FROM journal WHERE id = $1");
  q.bind(id);
  if (!q.step()) return std::nullopt;
  return journal_row(q);
}

bool PostgresStore::update_quarantined(const JournalEntry& e) {
  auto q = query("UPDATE journal SET outcome = $1, detail = $2, ticket_id = $3, message_id = $4, explanation = $5, "
                 "updated_at = $6 WHERE id = $7 AND outcome = 'quarantined' RETURNING id");
  q.bind(e.outcome).bind(e.detail).bind(e.ticket_id).bind(e.message_id).bind(e.explanation).bind(e.updated_at)
      .bind(e.id);
  return q.step();
}

std::vector<JournalEntry> PostgresStore::quarantined(int limit) {
  auto q = query("SELECT " JOURNAL_COLUMNS " FROM journal WHERE outcome = 'quarantined' ORDER BY id LIMIT $1");
  q.bind(limit);
  std::vector<JournalEntry> out;
  while (q.step()) out.push_back(journal_row(q));
  return out;
}

QuarantineSummary PostgresStore::quarantine_summary() {
  auto q = query("SELECT COUNT(*), MIN(received_at) FROM journal WHERE outcome = 'quarantined'");
  QuarantineSummary summary;
  if (q.step()) {
    summary.count = q.i64(0);
    summary.oldest_received_at = q.opt_i64(1);
  }
  return summary;
}

std::vector<JournalEntry> PostgresStore::journal_of_ticket(TicketId ticket) {
  auto q = query("SELECT " JOURNAL_COLUMNS " FROM journal WHERE ticket_id = $1 ORDER BY id");
  q.bind(ticket);
  std::vector<JournalEntry> out;
  while (q.step()) out.push_back(journal_row(q));
  return out;
}

// ---- contacts

Contact PostgresStore::find_or_add_contact(const std::string& address, const std::string& name) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto find = query("SELECT id, address, name FROM contacts WHERE lower(address COLLATE \"C\") = lower($1 COLLATE \"C\")");
    find.bind(address);
    if (find.step()) {
      Contact c{find.i64(0), find.text(1), find.text(2)};
      if (c.name.empty() && !name.empty()) {
        query("UPDATE contacts SET name = $1 WHERE id = $2").bind(name).bind(c.id).run();
        c.name = clean_utf8(name);
      }
      return c;
    }
    // Another connection may add the same address meanwhile: then nothing is inserted here, and
    // the look-up above (a new snapshot) finds theirs.
    auto insert = query("INSERT INTO contacts(address, name) VALUES($1, $2) ON CONFLICT DO NOTHING RETURNING id");
    insert.bind(address).bind(name);
    if (insert.step()) return Contact{insert.i64(0), clean_utf8(address), clean_utf8(name)};
  }
  throw StoreError(StoreError::Kind::Busy, "contact " + address + " neither found nor added");
}

std::optional<Contact> PostgresStore::contact(std::int64_t id) {
  auto q = query("SELECT id, address, name FROM contacts WHERE id = $1");
  q.bind(id);
  if (!q.step()) return std::nullopt;
  return Contact{q.i64(0), q.text(1), q.text(2)};
}

void PostgresStore::mark_contact_failing(const std::string& address, Timestamp at) {
  query("UPDATE contacts SET failing_since = COALESCE(failing_since, $1) "
        "WHERE lower(address COLLATE \"C\") = lower($2 COLLATE \"C\")")
      .bind(at).bind(address).run();
}

// ---- tickets

// Protocol numbers come from one SEQUENCE (migration 10): nextval never waits for another
// transaction and never gives a value twice, so instances opening tickets at once do not queue
// behind each other (a counter row stays locked until its transaction commits). A scope (the
// protocol's date prefix) counts from a base fixed at its first use: value = nextval - base. Only
// that first use may wait (a second connection starting the same scope waits on sequence_bases'
// key for the first to commit, then draws a new nextval above the first one's). The first value of
// a scope continues what the old per-scope counter (`sequences`) had given.
std::int64_t PostgresStore::next_sequence(const std::string& scope) {
  auto nextval = [this] {
    auto q = query("SELECT nextval('protocol_numbers')");
    if (!q.step()) throw StoreError(StoreError::Kind::Other, "nextval returned nothing");
    return q.i64(0);
  };
  auto base_of = [&]() -> std::optional<std::int64_t> {
    auto q = query("SELECT base FROM sequence_bases WHERE scope = $1");
    q.bind(scope);
    if (!q.step()) return std::nullopt;
    return q.i64(0);
  };
  if (auto base = base_of()) return nextval() - *base;
  const std::int64_t first = nextval();
  auto insert = query("INSERT INTO sequence_bases(scope, base) "
                      "SELECT $1, $2::bigint - 1 - COALESCE((SELECT value FROM sequences WHERE scope = $1), 0) "
                      "ON CONFLICT DO NOTHING RETURNING base");
  insert.bind(scope).bind(first);
  if (insert.step()) return first - insert.i64(0);
  if (auto base = base_of()) {
    // Another connection fixed the base first: our number is still ours when it lies above it.
    return first > *base ? first - *base : nextval() - *base;
  }
  throw StoreError(StoreError::Kind::Busy, "sequence " + scope + ": no base found nor fixed");
}

#define TICKET_COLUMNS                                                                                  \
  "id, protocol, type_id, status, stage, priority, contact_id, responsible, department, subject, level, " \
  "reply_token, mailbox, opened_at, first_response_due, first_response_at, next_contact_due, closed_at, " \
  "times_scheduled, times_reopened"

static Ticket ticket_row(const PostgresStore::Query& q) {
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

TicketId PostgresStore::add_ticket(const Ticket& t) {
  auto q = query("INSERT INTO tickets(protocol, type_id, status, stage, priority, contact_id, responsible, department, "
                 "subject, level, reply_token, mailbox, opened_at, first_response_due, first_response_at, "
                 "next_contact_due, closed_at, times_scheduled, times_reopened) "
                 "VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19) "
                 "RETURNING id");
  q.bind(t.protocol).bind(t.type_id).bind(status_name(t.status)).bind(t.stage).bind(t.priority)
      .bind(t.contact_id).bind(t.responsible).bind(t.department).bind(t.subject).bind(t.level)
      .bind(t.reply_token).bind(t.mailbox).bind(t.opened_at).bind(t.first_response_due)
      .bind(t.first_response_at).bind(t.next_contact_due).bind(t.closed_at).bind(t.times_scheduled)
      .bind(t.times_reopened);
  return q.step() ? q.i64(0) : 0;
}

void PostgresStore::update_ticket(const Ticket& t) {
  query("UPDATE tickets SET type_id = $1, status = $2, stage = $3, priority = $4, contact_id = $5, responsible = $6, "
        "department = $7, subject = $8, level = $9, first_response_due = $10, first_response_at = $11, "
        "next_contact_due = $12, closed_at = $13, times_scheduled = $14, times_reopened = $15 WHERE id = $16")
      .bind(t.type_id).bind(status_name(t.status)).bind(t.stage).bind(t.priority).bind(t.contact_id)
      .bind(t.responsible).bind(t.department).bind(t.subject).bind(t.level).bind(t.first_response_due)
      .bind(t.first_response_at).bind(t.next_contact_due).bind(t.closed_at).bind(t.times_scheduled)
      .bind(t.times_reopened).bind(t.id)
      .run();
}

// Inside a transaction a ticket is read to be changed: its row is held (FOR NO KEY UPDATE, which
// still lets others add articles or history to it) until commit, see begin().
std::optional<Ticket> PostgresStore::ticket(TicketId id) {
  auto q = query(in_transaction_ ? "SELECT " TICKET_COLUMNS " FROM tickets WHERE id = $1 FOR NO KEY UPDATE"
                                 : "SELECT " TICKET_COLUMNS " FROM tickets WHERE id = $1");
  q.bind(id);
  if (!q.step()) return std::nullopt;
  return ticket_row(q);
}

std::optional<Ticket> PostgresStore::ticket_by_protocol(const std::string& protocol) {
  auto q = query(in_transaction_ ? "SELECT " TICKET_COLUMNS " FROM tickets WHERE protocol = $1 FOR NO KEY UPDATE"
                                 : "SELECT " TICKET_COLUMNS " FROM tickets WHERE protocol = $1");
  q.bind(protocol);
  if (!q.step()) return std::nullopt;
  return ticket_row(q);
}

std::vector<Ticket> PostgresStore::tickets(std::optional<TicketStatus> status, int limit) {
  std::vector<Ticket> out;
  if (status) {
    auto q = query("SELECT " TICKET_COLUMNS " FROM tickets WHERE status = $1 ORDER BY id DESC LIMIT $2");
    q.bind(status_name(*status)).bind(limit);
    while (q.step()) out.push_back(ticket_row(q));
  } else {
    auto q = query("SELECT " TICKET_COLUMNS " FROM tickets ORDER BY id DESC LIMIT $1");
    q.bind(limit);
    while (q.step()) out.push_back(ticket_row(q));
  }
  return out;
}

int PostgresStore::open_tickets_of(const std::string& agent_id) {
  // The partial index of migration 10: only the agent's open tickets are counted.
  auto q = query("SELECT COUNT(*) FROM tickets WHERE responsible = $1 AND status NOT IN ('solved', 'closed', 'cancelled')");
  q.bind(agent_id);
  return q.step() ? static_cast<int>(q.i64(0)) : 0;
}

std::optional<TicketId> PostgresStore::ticket_of_message_id(const std::string& message_id) {
  if (message_id.empty()) return std::nullopt;
  auto q = query("SELECT ticket_id FROM articles WHERE message_id = $1 AND message_id <> '' ORDER BY id DESC LIMIT 1");
  q.bind(message_id);
  if (!q.step()) return std::nullopt;
  return q.i64(0);
}

std::optional<TicketId> PostgresStore::ticket_of_outbox_message_id(const std::string& message_id) {
  if (message_id.empty()) return std::nullopt;
  auto q = query("SELECT ticket_id FROM outbox WHERE message_id = $1 AND ticket_id IS NOT NULL");
  q.bind(message_id);
  if (!q.step()) return std::nullopt;
  return q.i64(0);
}

std::optional<Ticket> PostgresStore::ticket_by_reply_token(const std::string& token) {
  if (token.empty()) return std::nullopt;
  auto q = query(in_transaction_ ? "SELECT " TICKET_COLUMNS " FROM tickets WHERE reply_token = $1 FOR NO KEY UPDATE"
                                 : "SELECT " TICKET_COLUMNS " FROM tickets WHERE reply_token = $1");
  q.bind(token);
  if (!q.step()) return std::nullopt;
  return ticket_row(q);
}

std::optional<MailboxState> PostgresStore::mailbox_state(const std::string& mailbox) {
  auto q = query("SELECT uidvalidity, last_uid FROM mailbox_state WHERE mailbox = $1");
  q.bind(mailbox);
  if (!q.step()) return std::nullopt;
  return MailboxState{q.i64(0), q.i64(1)};
}

void PostgresStore::set_mailbox_state(const std::string& mailbox, const MailboxState& state, Timestamp at) {
  query("INSERT INTO mailbox_state(mailbox, uidvalidity, last_uid, updated_at) VALUES($1, $2, $3, $4) "
        "ON CONFLICT(mailbox) DO UPDATE SET uidvalidity = excluded.uidvalidity, last_uid = excluded.last_uid, "
        "updated_at = excluded.updated_at")
      .bind(mailbox).bind(state.uidvalidity).bind(state.last_uid).bind(at)
      .run();
}

int PostgresStore::count_event(const std::string& scope, Timestamp window_start) {
  auto q = query("INSERT INTO rate_counters(scope, window_start, count) VALUES($1, $2, 1) "
                 "ON CONFLICT(scope, window_start) DO UPDATE SET count = rate_counters.count + 1 RETURNING count");
  q.bind(scope).bind(window_start);
  return q.step() ? static_cast<int>(q.i64(0)) : 0;
}

// ---- articles, attachments, history, watchers

std::int64_t PostgresStore::add_article(const Article& a) {
  auto q = query("INSERT INTO articles(ticket_id, kind, author, channel, message_id, subject, text, html, raw_sha256, "
                 "created_at) VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id");
  q.bind(a.ticket_id).bind(article_kind_name(a.kind)).bind(a.author).bind(a.channel).bind(a.message_id)
      .bind(a.subject).bind(a.text).bind(a.html).bind(a.raw_sha256).bind(a.created_at);
  return q.step() ? q.i64(0) : 0;
}

std::vector<Article> PostgresStore::articles(TicketId ticket) {
  auto q = query("SELECT id, ticket_id, kind, author, channel, message_id, subject, text, html, raw_sha256, created_at "
                 "FROM articles WHERE ticket_id = $1 ORDER BY id");
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

std::int64_t PostgresStore::add_attachment(const AttachmentRecord& a) {
  auto q = query("INSERT INTO attachments(article_id, filename, content_type, size, sha256, inline_part) "
                 "VALUES($1, $2, $3, $4, $5, $6) RETURNING id");
  q.bind(a.article_id).bind(a.filename).bind(a.content_type).bind(a.size).bind(a.sha256).bind(a.inline_part ? 1 : 0);
  return q.step() ? q.i64(0) : 0;
}

std::vector<AttachmentRecord> PostgresStore::attachments(std::int64_t article_id) {
  auto q = query("SELECT id, article_id, filename, content_type, size, sha256, inline_part FROM attachments "
                 "WHERE article_id = $1 ORDER BY id");
  q.bind(article_id);
  std::vector<AttachmentRecord> out;
  while (q.step())
    out.push_back({q.i64(0), q.i64(1), q.text(2), q.text(3), q.i64(4), q.text(5), q.i64(6) != 0});
  return out;
}

void PostgresStore::add_history(const HistoryEntry& h) {
  query("INSERT INTO history(ticket_id, at, actor, field, from_value, to_value, justification) "
        "VALUES($1, $2, $3, $4, $5, $6, $7)")
      .bind(h.ticket_id).bind(h.at).bind(h.actor).bind(h.field).bind(h.from_value).bind(h.to_value)
      .bind(h.justification)
      .run();
}

std::vector<HistoryEntry> PostgresStore::history(TicketId ticket) {
  auto q = query("SELECT id, ticket_id, at, actor, field, from_value, to_value, justification FROM history "
                 "WHERE ticket_id = $1 ORDER BY id");
  q.bind(ticket);
  std::vector<HistoryEntry> out;
  while (q.step())
    out.push_back({q.i64(0), q.i64(1), q.i64(2), q.text(3), q.text(4), q.text(5), q.text(6), q.text(7)});
  return out;
}

void PostgresStore::add_watcher(TicketId ticket, const std::string& address) {
  query("INSERT INTO watchers(ticket_id, address) VALUES($1, $2) ON CONFLICT DO NOTHING").bind(ticket).bind(address).run();
}

std::vector<std::string> PostgresStore::watchers(TicketId ticket) {
  auto q = query("SELECT address FROM watchers WHERE ticket_id = $1 ORDER BY lower(address COLLATE \"C\"), address COLLATE \"C\"");
  q.bind(ticket);
  std::vector<std::string> out;
  while (q.step()) out.push_back(q.text(0));
  return out;
}

std::string PostgresStore::last_assigned(const std::string& scope) {
  auto q = query(in_transaction_ ? "SELECT agent_id FROM assignment_cursors WHERE scope = $1 FOR UPDATE"
                                 : "SELECT agent_id FROM assignment_cursors WHERE scope = $1");
  q.bind(scope);
  return q.step() ? q.text(0) : std::string();
}

void PostgresStore::set_last_assigned(const std::string& scope, const std::string& agent_id) {
  query("INSERT INTO assignment_cursors(scope, agent_id) VALUES($1, $2) "
        "ON CONFLICT(scope) DO UPDATE SET agent_id = excluded.agent_id")
      .bind(scope).bind(agent_id)
      .run();
}

// ---- outbox

#define OUTBOX_COLUMNS                                                                                     \
  "id, ticket_id, template_name, mail_from, recipients, message_id, raw, state, attempts, next_attempt_at, " \
  "last_error, created_at, sent_at"

static OutboxMail outbox_row(const PostgresStore::Query& q) {
  OutboxMail m;
  m.id = q.i64(0);
  m.ticket_id = q.opt_i64(1);
  m.template_name = q.text(2);
  m.mail_from = q.text(3);
  m.recipients = split_lines(q.text(4));
  m.message_id = q.text(5);
  m.raw = q.blob(6);
  m.state = outbox_state_from(q.text(7));
  m.attempts = static_cast<int>(q.i64(8));
  m.next_attempt_at = q.i64(9);
  m.last_error = q.text(10);
  m.created_at = q.i64(11);
  m.sent_at = q.opt_i64(12);
  return m;
}

std::int64_t PostgresStore::add_outbox(const OutboxMail& m) {
  // The channel column (migration 4) is set here since migration 14, not by a trigger.
  auto q = query("INSERT INTO outbox(ticket_id, template_name, mail_from, recipients, message_id, raw, state, attempts, "
                 "next_attempt_at, last_error, created_at, channel) "
                 "VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id");
  q.bind(m.ticket_id).bind(m.template_name).bind(m.mail_from).bind(join_lines(m.recipients))
      .bind(m.message_id).bind_blob(m.raw).bind(outbox_state_name(m.state)).bind(m.attempts)
      .bind(m.next_attempt_at).bind(m.last_error).bind(m.created_at).bind(outbox_channel_for(m.recipients));
  return q.step() ? q.i64(0) : 0;
}

// One statement: the due rows are locked by the inner SELECT, rows another sender holds locked
// right now are skipped (SKIP LOCKED), and a row whose state changed while we waited is re-checked
// by PostgreSQL before it is taken. Two senders on any instances never get the same mail.
// A mail waits while an older one of its ticket to the same recipients on the same channel is not
// sent yet (the SQLite store's OUTBOX_IN_ORDER): each recipient gets a ticket's mails in order.
// "state IN" keeps the search to the unsent rows of outbox_channel_due, never the sent ones.
#define OUTBOX_CLAIM(channel_condition)                                                                  \
  "UPDATE outbox o SET state = 'sending', lease_until = $2, attempts = o.attempts + 1 "                 \
  "FROM (SELECT id FROM outbox WHERE " channel_condition " AND state IN ('pending', 'sending') "         \
  "AND ((state = 'pending' AND next_attempt_at <= $1) "                                                 \
  "OR (state = 'sending' AND lease_until < $1)) AND NOT EXISTS (SELECT 1 FROM outbox older "           \
  "WHERE older.ticket_id = outbox.ticket_id AND older.id < outbox.id AND older.channel = outbox.channel " \
  "AND older.recipients = outbox.recipients AND older.state IN ('pending', 'sending')) "                \
  "ORDER BY next_attempt_at, id LIMIT $3 "                                                              \
  "FOR UPDATE SKIP LOCKED) due WHERE o.id = due.id "                                                    \
  "RETURNING o.id, o.ticket_id, o.template_name, o.mail_from, o.recipients, o.message_id, o.raw, "      \
  "o.state, o.attempts, o.next_attempt_at, o.last_error, o.created_at, o.sent_at"

static std::vector<OutboxMail> claimed(PostgresStore::Query& q) {
  std::vector<OutboxMail> out;
  while (q.step()) out.push_back(outbox_row(q));
  std::sort(out.begin(), out.end(), [](const OutboxMail& a, const OutboxMail& b) {
    return a.next_attempt_at != b.next_attempt_at ? a.next_attempt_at < b.next_attempt_at : a.id < b.id;
  });
  return out;
}

std::vector<OutboxMail> PostgresStore::claim_due_outbox(Timestamp now, int limit, int lease_seconds) {
  // channel = '': mails for messaging channels are the channel sender's (migration 4).
  auto q = query(OUTBOX_CLAIM("channel = ''"));
  q.bind(now).bind(now + lease_seconds).bind(limit);
  return claimed(q);
}

std::vector<OutboxMail> PostgresStore::claim_due_channel_outbox(Timestamp now, int limit, int lease_seconds) {
  auto q = query(OUTBOX_CLAIM("channel <> ''"));
  q.bind(now).bind(now + lease_seconds).bind(limit);
  return claimed(q);
}


void PostgresStore::mark_outbox_sent(std::int64_t id, Timestamp at) {
  query("UPDATE outbox SET state = 'sent', sent_at = $1, last_error = '', lease_until = 0 WHERE id = $2")
      .bind(at).bind(id).run();
}

void PostgresStore::mark_outbox_retry(std::int64_t id, const std::string& error, Timestamp next_attempt) {
  query("UPDATE outbox SET state = 'pending', last_error = $1, next_attempt_at = $2, lease_until = 0 WHERE id = $3")
      .bind(error).bind(next_attempt).bind(id)
      .run();
}

void PostgresStore::mark_outbox_failed(std::int64_t id, const std::string& error) {
  query("UPDATE outbox SET state = 'failed', last_error = $1, lease_until = 0 WHERE id = $2").bind(error).bind(id).run();
}

void PostgresStore::release_outbox(std::int64_t id) {
  query("UPDATE outbox SET state = 'pending', attempts = GREATEST(attempts - 1, 0), lease_until = 0 "
        "WHERE id = $1 AND state = 'sending'")
      .bind(id)
      .run();
}

std::vector<OutboxMail> PostgresStore::outbox_of_ticket(TicketId ticket) {
  auto q = query("SELECT " OUTBOX_COLUMNS " FROM outbox WHERE ticket_id = $1 ORDER BY id");
  q.bind(ticket);
  std::vector<OutboxMail> out;
  while (q.step()) out.push_back(outbox_row(q));
  return out;
}

std::vector<OutboxMail> PostgresStore::outbox_in_state(OutboxState state, int limit) {
  auto q = query("SELECT " OUTBOX_COLUMNS " FROM outbox WHERE state = $1 ORDER BY id LIMIT $2");
  q.bind(outbox_state_name(state)).bind(limit);
  std::vector<OutboxMail> out;
  while (q.step()) out.push_back(outbox_row(q));
  return out;
}

std::optional<Timestamp> PostgresStore::next_outbox_attempt() {
  auto q = query("SELECT MIN(CASE WHEN state = 'pending' THEN next_attempt_at ELSE lease_until END) FROM outbox "
                 "WHERE state IN ('pending', 'sending')");
  if (!q.step()) return std::nullopt;
  return q.opt_i64(0);
}

// ---- lifecycle (migration 3)

void PostgresStore::remove_watcher(TicketId ticket, const std::string& address) {
  query("DELETE FROM watchers WHERE ticket_id = $1 AND lower(address COLLATE \"C\") = lower($2 COLLATE \"C\")")
      .bind(ticket).bind(address).run();
}

void PostgresStore::add_link(TicketId a, TicketId b, Timestamp at) {
  auto insert = "INSERT INTO ticket_links(ticket_id, linked_id, created_at) VALUES($1, $2, $3) ON CONFLICT DO NOTHING";
  query(insert).bind(a).bind(b).bind(at).run();
  query(insert).bind(b).bind(a).bind(at).run();
}

std::vector<TicketId> PostgresStore::links(TicketId ticket) {
  auto q = query("SELECT linked_id FROM ticket_links WHERE ticket_id = $1 ORDER BY created_at, linked_id");
  q.bind(ticket);
  std::vector<TicketId> out;
  while (q.step()) out.push_back(q.i64(0));
  return out;
}

void PostgresStore::set_field(TicketId ticket, const std::string& name, const std::string& value) {
  query("INSERT INTO ticket_fields(ticket_id, name, value) VALUES($1, $2, $3) "
        "ON CONFLICT(ticket_id, name) DO UPDATE SET value = excluded.value")
      .bind(ticket).bind(name).bind(value).run();
}

std::vector<std::pair<std::string, std::string>> PostgresStore::fields(TicketId ticket) {
  auto q = query("SELECT name, value FROM ticket_fields WHERE ticket_id = $1 ORDER BY name");
  q.bind(ticket);
  std::vector<std::pair<std::string, std::string>> out;
  while (q.step()) out.emplace_back(q.text(0), q.text(1));
  return out;
}

std::int64_t PostgresStore::add_expense(const Expense& e) {
  auto q = query("INSERT INTO ticket_expenses(ticket_id, amount_cents, description, author, created_at) "
                 "VALUES($1, $2, $3, $4, $5) RETURNING id");
  q.bind(e.ticket_id).bind(e.amount_cents).bind(e.description).bind(e.author).bind(e.created_at);
  return q.step() ? q.i64(0) : 0;
}

std::vector<Expense> PostgresStore::expenses(TicketId ticket) {
  auto q = query("SELECT id, ticket_id, amount_cents, description, author, created_at FROM ticket_expenses "
                 "WHERE ticket_id = $1 ORDER BY created_at, id");
  q.bind(ticket);
  std::vector<Expense> out;
  while (q.step()) out.push_back({q.i64(0), q.i64(1), q.i64(2), q.text(3), q.text(4), q.i64(5)});
  return out;
}

std::vector<ExpenseTotal> PostgresStore::expense_totals(Timestamp from, Timestamp to) {
  auto q = query("SELECT t.type_id, COUNT(*), SUM(e.amount_cents)::bigint FROM ticket_expenses e JOIN tickets t "
                 "ON t.id = e.ticket_id WHERE e.created_at >= $1 AND ($2::bigint = 0 OR e.created_at < $2::bigint) "
                 "GROUP BY t.type_id ORDER BY t.type_id COLLATE \"C\"");
  q.bind(from).bind(to);
  std::vector<ExpenseTotal> out;
  while (q.step()) out.push_back({q.text(0), q.i64(1), q.i64(2)});
  return out;
}

std::vector<FieldCount> PostgresStore::field_counts(const std::string& name, Timestamp from, Timestamp to) {
  auto q = query("SELECT t.type_id, f.value, COUNT(*) FROM ticket_fields f JOIN tickets t ON t.id = f.ticket_id "
                 "WHERE f.name = $1 AND t.opened_at >= $2 AND ($3::bigint = 0 OR t.opened_at < $3::bigint) "
                 "GROUP BY t.type_id, f.value ORDER BY t.type_id COLLATE \"C\", f.value COLLATE \"C\"");
  q.bind(name).bind(from).bind(to);
  std::vector<FieldCount> out;
  while (q.step()) out.push_back({q.text(0), q.text(1), q.i64(2)});
  return out;
}

void PostgresStore::set_timer(TicketId ticket, const std::string& kind, Timestamp due_at) {
  query("INSERT INTO ticket_timers(ticket_id, kind, due_at) VALUES($1, $2, $3) "
        "ON CONFLICT(ticket_id, kind) DO UPDATE SET due_at = excluded.due_at")
      .bind(ticket).bind(kind).bind(due_at).run();
}

void PostgresStore::clear_timer(TicketId ticket, const std::string& kind) {
  query("DELETE FROM ticket_timers WHERE ticket_id = $1 AND kind = $2").bind(ticket).bind(kind).run();
}

std::optional<Timestamp> PostgresStore::timer(TicketId ticket, const std::string& kind) {
  auto q = query("SELECT due_at FROM ticket_timers WHERE ticket_id = $1 AND kind = $2");
  q.bind(ticket).bind(kind);
  if (!q.step()) return std::nullopt;
  return q.i64(0);
}

std::vector<std::pair<TicketId, Timestamp>> PostgresStore::due_timers(const std::string& kind, Timestamp now,
                                                                      int limit) {
  auto q = query("SELECT ticket_id, due_at FROM ticket_timers WHERE kind = $1 AND due_at <= $2 "
                 "ORDER BY due_at, ticket_id LIMIT $3");
  q.bind(kind).bind(now).bind(limit);
  std::vector<std::pair<TicketId, Timestamp>> out;
  while (q.step()) out.emplace_back(q.i64(0), q.i64(1));
  return out;
}

std::vector<PassedDeadline> PostgresStore::passed_deadlines(Timestamp now, const std::vector<TicketStatus>& statuses,
                                                            int limit) {
  std::string wanted = ",";
  for (TicketStatus s : statuses) wanted += std::string(status_name(s)) + ",";
  auto first = query("SELECT " TICKET_COLUMNS ", first_response_due FROM tickets t "
                     "WHERE first_response_at IS NULL AND first_response_due <= $1 "
                     "AND strpos($2, ',' || status || ',') > 0 AND NOT EXISTS (SELECT 1 FROM deadline_marks m "
                     "WHERE m.ticket_id = t.id AND m.deadline = 'first_response' AND m.due_at = t.first_response_due) "
                     "ORDER BY first_response_due, id LIMIT $3");
  first.bind(now).bind(wanted).bind(limit);
  std::vector<PassedDeadline> out;
  while (first.step()) out.push_back({ticket_row(first), "first_response", first.i64(20)});
  auto next = query("SELECT " TICKET_COLUMNS ", next_contact_due FROM tickets t "
                    "WHERE next_contact_due <= $1 "
                    "AND strpos($2, ',' || status || ',') > 0 AND NOT EXISTS (SELECT 1 FROM deadline_marks m "
                    "WHERE m.ticket_id = t.id AND m.deadline = 'next_contact' AND m.due_at = t.next_contact_due) "
                    "ORDER BY next_contact_due, id LIMIT $3");
  next.bind(now).bind(wanted).bind(limit);
  while (next.step()) out.push_back({ticket_row(next), "next_contact", next.i64(20)});
  return out;
}

void PostgresStore::mark_deadline(TicketId ticket, const std::string& deadline, Timestamp due, Timestamp at) {
  query("INSERT INTO deadline_marks(ticket_id, deadline, due_at, marked_at) VALUES($1, $2, $3, $4) "
        "ON CONFLICT DO NOTHING")
      .bind(ticket).bind(deadline).bind(due).bind(at).run();
}

// ---- admin endpoint and messaging channels (migration 4)

std::vector<Ticket> PostgresStore::find_tickets(const TicketQuery& f) {
  // One prepared statement: an empty filter matches everything.
  auto q = query("SELECT " TICKET_COLUMNS " FROM tickets t WHERE ($1 = '' OR status = $1) AND ($2 = '' OR type_id = $2) "
                 "AND ($3 = '' OR responsible = $3) AND ($4::bigint = 0 OR id < $4::bigint) "
                 "AND ($5 = '' OR strpos(lower(subject), lower($5)) > 0 OR strpos(protocol, $5) > 0) "
                 "AND ($6 = '' OR EXISTS (SELECT 1 FROM contacts c WHERE c.id = t.contact_id AND "
                 "(strpos(lower(c.address), lower($6)) > 0 OR strpos(lower(c.name), lower($6)) > 0))) "
                 "ORDER BY id DESC LIMIT $7");
  const std::string status = f.status ? status_name(*f.status) : "";
  q.bind(status).bind(f.type_id).bind(f.responsible).bind(f.before_id).bind(f.text).bind(f.contact).bind(f.limit);
  std::vector<Ticket> out;
  while (q.step()) out.push_back(ticket_row(q));
  return out;
}

std::optional<Contact> PostgresStore::contact_by_address(const std::string& address) {
  auto q = query("SELECT id, address, name FROM contacts WHERE lower(address COLLATE \"C\") = lower($1 COLLATE \"C\")");
  q.bind(address);
  if (!q.step()) return std::nullopt;
  return Contact{q.i64(0), q.text(1), q.text(2)};
}

std::optional<Ticket> PostgresStore::open_ticket_of_contact(std::int64_t contact_id, const std::string& mailbox) {
  auto q = query("SELECT " TICKET_COLUMNS " FROM tickets WHERE contact_id = $1 AND mailbox = $2 "
                 "AND status NOT IN ('closed', 'cancelled') ORDER BY id DESC LIMIT 1");
  q.bind(contact_id).bind(mailbox);
  if (!q.step()) return std::nullopt;
  return ticket_row(q);
}

std::optional<OutboxMail> PostgresStore::outbox_mail(std::int64_t id) {
  auto q = query("SELECT " OUTBOX_COLUMNS " FROM outbox WHERE id = $1");
  q.bind(id);
  if (!q.step()) return std::nullopt;
  return outbox_row(q);
}

bool PostgresStore::retry_outbox(std::int64_t id, Timestamp now) {
  auto q = query("UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = $1, lease_until = 0 "
                 "WHERE id = $2 AND state = 'failed'");
  q.bind(now).bind(id);
  return q.affected() > 0;
}

std::vector<JournalCount> PostgresStore::journal_counts() {
  auto q = query("SELECT source, mailbox, outcome, COUNT(*) FROM journal GROUP BY source, mailbox, outcome "
                 "ORDER BY source COLLATE \"C\", mailbox COLLATE \"C\", outcome COLLATE \"C\"");
  std::vector<JournalCount> out;
  while (q.step()) out.push_back({q.text(0), q.text(1), q.text(2), q.i64(3)});
  return out;
}

std::vector<TicketCount> PostgresStore::ticket_counts(Timestamp from, Timestamp to) {
  auto q = query("SELECT status, type_id, responsible, COUNT(*) FROM tickets WHERE opened_at >= $1 "
                 "AND ($2::bigint = 0 OR opened_at < $2::bigint) GROUP BY status, type_id, responsible "
                 "ORDER BY status COLLATE \"C\", type_id COLLATE \"C\", responsible COLLATE \"C\"");
  q.bind(from).bind(to);
  std::vector<TicketCount> out;
  while (q.step()) out.push_back({q.text(0), q.text(1), q.text(2), q.i64(3)});
  return out;
}

OutboxCounts PostgresStore::outbox_counts() {
  OutboxCounts out;
  {
    auto q = query("SELECT state, COUNT(*) FROM outbox GROUP BY state ORDER BY state COLLATE \"C\"");
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

std::vector<std::pair<std::string, std::int64_t>> PostgresStore::deadline_counts(Timestamp from, Timestamp to) {
  auto q = query("SELECT deadline, COUNT(*) FROM deadline_marks WHERE marked_at >= $1 "
                 "AND ($2::bigint = 0 OR marked_at < $2::bigint) GROUP BY deadline ORDER BY deadline COLLATE \"C\"");
  q.bind(from).bind(to);
  std::vector<std::pair<std::string, std::int64_t>> out;
  while (q.step()) out.emplace_back(q.text(0), q.i64(1));
  return out;
}

std::int64_t PostgresStore::channel_offset(const std::string& channel) {
  auto q = query("SELECT poll_offset FROM channel_state WHERE channel = $1");
  q.bind(channel);
  return q.step() ? q.i64(0) : 0;
}

void PostgresStore::set_channel_offset(const std::string& channel, std::int64_t offset, Timestamp at) {
  query("INSERT INTO channel_state(channel, poll_offset, updated_at) VALUES($1, $2, $3) "
        "ON CONFLICT(channel) DO UPDATE SET poll_offset = excluded.poll_offset, updated_at = excluded.updated_at")
      .bind(channel).bind(offset).bind(at).run();
}

// ---- leases (migration 5)

// One upsert: it takes a free or expired lease or renews our own, and returns a row only then.
// Two instances racing for the same free lease: the row lock makes the second wait, then see the
// first one's unexpired lease and take nothing.
bool PostgresStore::try_acquire_lease(const std::string& name, const std::string& holder, Timestamp now,
                                      int ttl_seconds) {
  auto q = query("INSERT INTO leases(name, holder, expires_at, acquired_at) VALUES($1, $2, $3::bigint + $4::bigint, $3) "
                 "ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at, "
                 "acquired_at = CASE WHEN leases.holder = excluded.holder THEN leases.acquired_at "
                 "ELSE excluded.acquired_at END "
                 "WHERE leases.holder = excluded.holder OR leases.expires_at <= $3::bigint RETURNING holder");
  q.bind(name).bind(holder).bind(now).bind(ttl_seconds);
  return q.step();
}

bool PostgresStore::renew_lease(const std::string& name, const std::string& holder, Timestamp now, int ttl_seconds) {
  // Also when our lease ran out but nobody took it meanwhile: the holder has been polling all along.
  auto q = query("UPDATE leases SET expires_at = $3::bigint + $4::bigint WHERE name = $1 AND holder = $2");
  q.bind(name).bind(holder).bind(now).bind(ttl_seconds);
  return q.affected() > 0;
}

void PostgresStore::release_lease(const std::string& name, const std::string& holder) {
  query("DELETE FROM leases WHERE name = $1 AND holder = $2").bind(name).bind(holder).run();
}

std::optional<std::string> PostgresStore::lease_holder(const std::string& name, Timestamp now) {
  auto q = query("SELECT holder FROM leases WHERE name = $1 AND expires_at > $2");
  q.bind(name).bind(now);
  if (!q.step()) return std::nullopt;
  return q.text(0);
}

// ---- several writers, blobs, contact identities (migration 10)

void PostgresStore::lock_message(const std::string& content_sha256) {
  if (!in_transaction_ || content_sha256.empty()) return;
  query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))").bind("atendd message " + content_sha256).run();
}

void PostgresStore::set_durable_commits(bool durable) {
  exec(durable ? "SET synchronous_commit TO on" : "SET synchronous_commit TO off");
}

void PostgresStore::lock_sender(const std::string& address) {
  if (!in_transaction_ || address.empty()) return;
  std::string lower = address;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))").bind("atendd sender " + lower).run();
}

// bytea rather than large objects: a blob is written once, read whole (raw messages and
// attachments are bounded by max_message_mb), belongs to the same transactions, backups and
// replicas as the rows naming it, and needs no lo_unlink bookkeeping for orphans.
void PostgresStore::put_blobs(const std::vector<std::pair<std::string, std::string>>& blobs) {
  if (blobs.empty()) return;
  const bool own = !in_transaction_;
  if (own) begin();
  try {
    for (const auto& [sha256, bytes] : blobs)
      query("INSERT INTO blobs(sha256, bytes, size, created_at) "
            "VALUES($1, $2, $3, extract(epoch from now())::bigint) ON CONFLICT DO NOTHING")
          .bind(sha256).bind_blob(bytes).bind(static_cast<std::int64_t>(bytes.size()))
          .run();
    if (own) commit();
  } catch (...) {
    if (own) rollback();
    throw;
  }
}

std::optional<std::string> PostgresStore::blob(const std::string& sha256) {
  auto q = query("SELECT bytes FROM blobs WHERE sha256 = $1");
  q.bind(sha256);
  if (!q.step()) return std::nullopt;
  return q.blob(0);
}

std::vector<Contact> PostgresStore::identities(std::int64_t contact_id) {
  auto q = query("SELECT c.id, c.address, c.name FROM contacts c, "
                 "(SELECT COALESCE(person_id, id) AS person FROM contacts WHERE id = $1) p "
                 "WHERE COALESCE(c.person_id, c.id) = p.person ORDER BY c.id <> p.person, c.id");
  q.bind(contact_id);
  std::vector<Contact> out;
  while (q.step()) out.push_back(Contact{q.i64(0), q.text(1), q.text(2)});
  return out;
}

// Both contacts' rows are locked (in id order) first, so two links at once cannot leave a chain.
bool PostgresStore::link_contacts(std::int64_t keep, std::int64_t other) {
  const bool own = !in_transaction_;
  if (own) begin();
  try {
    auto lock = query("SELECT id, COALESCE(person_id, id) FROM contacts WHERE id IN ($1, $2) ORDER BY id FOR UPDATE");
    lock.bind(keep).bind(other);
    std::optional<std::int64_t> kept, merged;
    while (lock.step()) {
      if (lock.i64(0) == keep) kept = lock.i64(1);
      if (lock.i64(0) == other) merged = lock.i64(1);
    }
    const bool found = kept && merged;
    if (found && *kept != *merged)
      query("UPDATE contacts SET person_id = $1 WHERE id = $2 OR person_id = $2").bind(*kept).bind(*merged).run();
    if (own) commit();
    return found;
  } catch (...) {
    if (own) rollback();
    throw;
  }
}

std::optional<Ticket> PostgresStore::open_ticket_of_person(std::int64_t contact_id) {
  auto q = query("SELECT " TICKET_COLUMNS " FROM tickets WHERE contact_id IN (SELECT c.id FROM contacts c, "
                 "(SELECT COALESCE(person_id, id) AS person FROM contacts WHERE id = $1) p "
                 "WHERE COALESCE(c.person_id, c.id) = p.person) "
                 "AND status NOT IN ('closed', 'cancelled') ORDER BY id DESC LIMIT 1");
  q.bind(contact_id);
  if (!q.step()) return std::nullopt;
  return ticket_row(q);
}

}  // namespace atendd

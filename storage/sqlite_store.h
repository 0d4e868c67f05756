// sqlite_store.h — the Store on one SQLite file: WAL, prepared statements kept for the process's
// life, migrations applied at open. One SqliteStore per thread (SQLite connections are not shared).
#pragma once

#include <map>
#include <memory>
#include <string>

#include "storage/store.h"

struct sqlite3;
struct sqlite3_stmt;

namespace atendd {

class WalCheckpointer;

class SqliteStore : public Store {
 public:
  // Opens (creating) the file, sets WAL, a busy timeout and foreign keys, applies migrations.
  explicit SqliteStore(const std::string& path, int busy_timeout_ms = 5000);
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  int schema_version();
  // PRAGMA synchronous of this connection: 2 = FULL (durable commits), 1 = NORMAL.
  int synchronous_level();
  // Bytes held by this connection's page cache (SQLITE_DBSTATUS_CACHE_USED).
  std::int64_t page_cache_bytes();
  // PRAGMA page_size: 16 KiB for a database this store created, what it had for an older one.
  int page_bytes();
  // Bytes of pages this connection has written since it opened: in WAL mode, to the log
  // (SQLITE_DBSTATUS_CACHE_WRITE times the page size). What a commit costs the disk, twice over:
  // the checkpoint copies the same pages into the database file.
  std::int64_t bytes_written();
  // Rows this connection's statements have stepped through in full table scans since they were
  // prepared (SQLITE_STMTSTATUS_FULLSCAN_STEP, summed): a look-up that should use an index and
  // does not shows here.
  std::int64_t full_scan_steps();

  void begin() override;
  void commit() override;
  void rollback() override;
  void savepoint(const std::string& name) override;
  void release(const std::string& name) override;
  void rollback_to(const std::string& name) override;
  void release_idle_memory() override;

  std::optional<JournalEntry> journal_by_source(const std::string& source, const std::string& mailbox,
                                                std::int64_t uidvalidity, std::int64_t uid) override;
  std::optional<JournalEntry> journal_by_content(const std::string& message_id,
                                                 const std::string& content_sha256) override;
  std::int64_t add_journal(const JournalEntry& entry) override;
  std::vector<JournalEntry> journal(int limit) override;
  std::optional<JournalEntry> journal_entry(std::int64_t id) override;
  bool update_quarantined(const JournalEntry& entry) override;
  std::vector<JournalEntry> quarantined(int limit) override;
  QuarantineSummary quarantine_summary() override;
  std::vector<JournalEntry> journal_of_ticket(TicketId ticket) override;

  Contact find_or_add_contact(const std::string& address, const std::string& name) override;
  std::optional<Contact> contact(std::int64_t id) override;
  void mark_contact_failing(const std::string& address, Timestamp at) override;

  std::int64_t next_sequence(const std::string& scope) override;
  TicketId add_ticket(const Ticket& ticket) override;
  void update_ticket(const Ticket& ticket) override;
  std::optional<Ticket> ticket(TicketId id) override;
  std::optional<Ticket> ticket_by_protocol(const std::string& protocol) override;
  std::vector<Ticket> tickets(std::optional<TicketStatus> status, int limit) override;
  int open_tickets_of(const std::string& agent_id) override;
  std::optional<TicketId> ticket_of_message_id(const std::string& message_id) override;
  std::optional<TicketId> ticket_of_outbox_message_id(const std::string& message_id) override;
  std::optional<Ticket> ticket_by_reply_token(const std::string& token) override;
  std::optional<MailboxState> mailbox_state(const std::string& mailbox) override;
  void set_mailbox_state(const std::string& mailbox, const MailboxState& state, Timestamp at) override;
  int count_event(const std::string& scope, Timestamp window_start) override;

  std::int64_t add_article(const Article& article) override;
  std::vector<Article> articles(TicketId ticket) override;
  std::int64_t add_attachment(const AttachmentRecord& attachment) override;
  std::vector<AttachmentRecord> attachments(std::int64_t article_id) override;
  void add_history(const HistoryEntry& entry) override;
  std::vector<HistoryEntry> history(TicketId ticket) override;
  void add_watcher(TicketId ticket, const std::string& address) override;
  std::vector<std::string> watchers(TicketId ticket) override;

  std::string last_assigned(const std::string& scope) override;
  void set_last_assigned(const std::string& scope, const std::string& agent_id) override;

  std::int64_t add_outbox(const OutboxMail& mail) override;
  std::vector<OutboxMail> claim_due_outbox(Timestamp now, int limit, int lease_seconds) override;
  void mark_outbox_sent(std::int64_t id, Timestamp at) override;
  void mark_outbox_retry(std::int64_t id, const std::string& error, Timestamp next_attempt) override;
  void mark_outbox_failed(std::int64_t id, const std::string& error) override;
  void release_outbox(std::int64_t id) override;
  std::vector<OutboxMail> outbox_of_ticket(TicketId ticket) override;
  std::vector<OutboxMail> outbox_in_state(OutboxState state, int limit) override;
  std::optional<Timestamp> next_outbox_attempt() override;

  void remove_watcher(TicketId ticket, const std::string& address) override;
  void add_link(TicketId a, TicketId b, Timestamp at) override;
  std::vector<TicketId> links(TicketId ticket) override;
  void set_field(TicketId ticket, const std::string& name, const std::string& value) override;
  std::vector<std::pair<std::string, std::string>> fields(TicketId ticket) override;
  std::int64_t add_expense(const Expense& expense) override;
  std::vector<Expense> expenses(TicketId ticket) override;
  std::vector<ExpenseTotal> expense_totals(Timestamp from, Timestamp to) override;
  std::vector<FieldCount> field_counts(const std::string& name, Timestamp from, Timestamp to) override;
  void set_timer(TicketId ticket, const std::string& kind, Timestamp due_at) override;
  void clear_timer(TicketId ticket, const std::string& kind) override;
  std::optional<Timestamp> timer(TicketId ticket, const std::string& kind) override;
  std::vector<std::pair<TicketId, Timestamp>> due_timers(const std::string& kind, Timestamp now, int limit) override;
  std::vector<PassedDeadline> passed_deadlines(Timestamp now, const std::vector<TicketStatus>& statuses,
                                               int limit) override;
  void mark_deadline(TicketId ticket, const std::string& deadline, Timestamp due, Timestamp at) override;

  std::vector<Ticket> find_tickets(const TicketQuery& query) override;
  std::optional<Contact> contact_by_address(const std::string& address) override;
  std::optional<Ticket> open_ticket_of_contact(std::int64_t contact_id, const std::string& mailbox) override;
  std::optional<OutboxMail> outbox_mail(std::int64_t id) override;
  bool retry_outbox(std::int64_t id, Timestamp now) override;
  std::vector<OutboxMail> claim_due_channel_outbox(Timestamp now, int limit, int lease_seconds) override;
  std::vector<JournalCount> journal_counts() override;
  std::vector<TicketCount> ticket_counts(Timestamp from, Timestamp to) override;
  OutboxCounts outbox_counts() override;
  std::vector<std::pair<std::string, std::int64_t>> deadline_counts(Timestamp from, Timestamp to) override;
  std::int64_t channel_offset(const std::string& channel) override;
  void set_channel_offset(const std::string& channel, std::int64_t offset, Timestamp at) override;

  bool try_acquire_lease(const std::string& name, const std::string& holder, Timestamp now, int ttl_seconds) override;
  bool renew_lease(const std::string& name, const std::string& holder, Timestamp now, int ttl_seconds) override;
  void release_lease(const std::string& name, const std::string& holder) override;
  std::optional<std::string> lease_holder(const std::string& name, Timestamp now) override;

  // ---- migration 10 (put_blobs and blob: migration 12)
  void lock_message(const std::string& content_sha256) override;
  void set_durable_commits(bool durable) override;
  void lock_sender(const std::string& address) override;
  void put_blobs(const std::vector<std::pair<std::string, std::string>>& blobs) override;
  std::optional<std::string> blob(const std::string& sha256) override;
  std::vector<Contact> identities(std::int64_t contact_id) override;
  bool link_contacts(std::int64_t keep, std::int64_t other) override;
  std::optional<Ticket> open_ticket_of_person(std::int64_t contact_id) override;

  class Query;  // a prepared statement bound and stepped (sqlite_store.cpp)

 private:
  Query query(const char* sql);
  // A statement built at run time (update_ticket's SET list), prepared once per text.
  Query query_text(const std::string& sql);
  sqlite3_stmt* prepared_text(const std::string& sql);
  std::vector<OutboxMail> claim_outbox(const char* select_due, Timestamp now, int limit, int lease_seconds);
  void exec(const char* sql);
  // Runs a statement without results (BEGIN, COMMIT, SAVEPOINT name…) prepared once per text:
  // sqlite3_exec would parse it again on every call, several times per message.
  void run_prepared(const std::string& sql);
  void migrate();
  static bool counts_as_open(TicketStatus status);
  // agent_load's count for `responsible`, up (+1) or down (-1) by one.
  void add_agent_load(const std::string& responsible, int change);

  std::shared_ptr<WalCheckpointer> checkpointer_;  // outlives db_: closed in the destructor
  sqlite3* db_ = nullptr;
  std::string path_;
  std::map<const char*, sqlite3_stmt*> prepared_;  // keyed by the SQL literal's address
  std::map<std::string, sqlite3_stmt*> prepared_by_text_;  // run_prepared's
  bool in_transaction_ = false;
};

}  // namespace atendd

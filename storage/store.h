// store.h — the one interface the rest of atendd uses to keep state (DESIGN.md, "Store").
// Implementations: SQLite (sqlite_store.h); PostgreSQL later behind the same interface.
// Every change of one inbound message happens inside one transaction (invariant 1); the store
// raises StoreError for environment failures (busy, I/O) and never for a message's content.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace atendd {

using TicketId = std::int64_t;
using Timestamp = std::int64_t;  // seconds since the epoch, UTC

enum class TicketStatus {
  New, InProgress, WaitingCustomer, WaitingThirdParty, Scheduled, Solved, Closed, Reopened, Cancelled
};
const char* status_name(TicketStatus s);                       // "new", "in_progress", …
std::optional<TicketStatus> status_from_name(const std::string& name);

struct Contact {
  std::int64_t id = 0;
  std::string address;  // lower case
  std::string name;
};

struct Ticket {
  TicketId id = 0;
  std::string protocol;
  std::string type_id;
  TicketStatus status = TicketStatus::New;
  std::string stage;
  int priority = 3;            // 1 urgent … 4 low
  std::int64_t contact_id = 0;
  std::string responsible;     // agent id, empty when nobody
  std::string department;
  std::string subject;
  int level = 0;
  std::string reply_token;     // secret per ticket, in the reply address
  std::string mailbox;         // where it came in
  Timestamp opened_at = 0;
  std::optional<Timestamp> first_response_due;
  std::optional<Timestamp> first_response_at;
  std::optional<Timestamp> next_contact_due;
  std::optional<Timestamp> closed_at;
  int times_scheduled = 0;
  int times_reopened = 0;
};

enum class ArticleKind { CustomerMessage, AgentReply, InternalNote, Forward, Solution, SystemLog, Analysis };
const char* article_kind_name(ArticleKind k);

struct Article {
  std::int64_t id = 0;
  TicketId ticket_id = 0;
  ArticleKind kind = ArticleKind::CustomerMessage;
  std::string author;       // address or agent id
  std::string channel = "email";
  std::string message_id;   // without angle brackets
  std::string subject;
  std::string text;
  std::optional<std::string> html;
  std::string raw_sha256;   // the raw message in the blob store, when there is one
  Timestamp created_at = 0;
};

struct AttachmentRecord {
  std::int64_t id = 0;
  std::int64_t article_id = 0;
  std::string filename;      // sanitised: never a path
  std::string content_type;
  std::int64_t size = 0;
  std::string sha256;        // content in the blob store
  bool inline_part = false;
};

struct HistoryEntry {
  std::int64_t id = 0;
  TicketId ticket_id = 0;
  Timestamp at = 0;
  std::string actor;         // agent id, address, or "system"
  std::string field;         // "status", "responsible", "created", "mail_queued", …
  std::string from_value;
  std::string to_value;
  std::string justification;
};

// One raw inbound message and what became of it. (source, mailbox, uidvalidity, uid) and
// (message_id, content_sha256) each identify a message already done (invariants 1 and 2).
struct JournalEntry {
  std::int64_t id = 0;
  std::string source;        // "deliver", "imap", "webhook"
  std::string mailbox;
  std::int64_t uidvalidity = 0;
  std::int64_t uid = 0;
  std::string message_id;
  std::string content_sha256;  // of the raw bytes
  std::string outcome;         // "ticket_created", "ignored", "rejected", "quarantined", "dropped", …
  std::string detail;          // reason, defects
  std::optional<TicketId> ticket_id;
  Timestamp received_at = 0;
  // Migration 9: the pipeline's decisions, one "stage\tdecision\treason" line per step
  // (explanation.h), and when a quarantined entry was last retried or dropped.
  std::string explanation;
  std::optional<Timestamp> updated_at;
};

// How big the quarantine is and how old its oldest message (/healthz, /metrics).
struct QuarantineSummary {
  std::int64_t count = 0;
  std::optional<Timestamp> oldest_received_at;
};

enum class OutboxState { Pending, Sending, Sent, Failed };
const char* outbox_state_name(OutboxState s);
// The outbox channel of a mail to `recipients`: "messaging" when one of them is a messaging
// contact ("SENDER@CHANNEL.channel.invalid", any case: the channel sender's), else "" (SMTP's).
const char* outbox_channel_for(const std::vector<std::string>& recipients);

struct OutboxMail {
  std::int64_t id = 0;
  std::optional<TicketId> ticket_id;
  std::string template_name;   // "opening", "forward", …
  std::string mail_from;       // envelope sender
  std::vector<std::string> recipients;  // envelope recipients
  std::string message_id;      // without angle brackets
  std::string raw;             // the whole message, CRLF
  OutboxState state = OutboxState::Pending;
  int attempts = 0;
  Timestamp next_attempt_at = 0;
  std::string last_error;
  Timestamp created_at = 0;
  std::optional<Timestamp> sent_at;
};

// Where an IMAP mailbox's intake stands: the UIDVALIDITY seen and the highest UID applied.
struct MailboxState {
  std::int64_t uidvalidity = 0;
  std::int64_t last_uid = 0;
};

// A deadline of a ticket that passed without being marked yet (the scheduler's SLA look-up).
struct PassedDeadline {
  Ticket ticket;
  std::string deadline;  // "first_response" or "next_contact"
  Timestamp due = 0;
};

// Filters of Store::find_tickets; empty strings and nullopt match everything.
struct TicketQuery {
  std::optional<TicketStatus> status;
  std::string type_id;
  std::string responsible;
  std::string contact;   // part of the contact's address or name
  std::string text;      // part of the subject or the protocol
  TicketId before_id = 0;
  int limit = 50;
};

struct JournalCount {
  std::string source;
  std::string mailbox;
  std::string outcome;
  std::int64_t count = 0;
};

struct TicketCount {
  std::string status;
  std::string type_id;
  std::string responsible;
  std::int64_t count = 0;
};

// One expense of a ticket (migration 6).
struct Expense {
  std::int64_t id = 0;
  TicketId ticket_id = 0;
  std::int64_t amount_cents = 0;
  std::string description;
  std::string author;
  Timestamp created_at = 0;
};

// The expenses of one type's tickets made in a period.
struct ExpenseTotal {
  std::string type_id;
  std::int64_t count = 0;
  std::int64_t amount_cents = 0;
};

// How many tickets of a type opened in a period have a field at one value (the analysis verdict…).
struct FieldCount {
  std::string type_id;
  std::string value;
  std::int64_t count = 0;
};

struct OutboxCounts {
  std::vector<std::pair<std::string, std::int64_t>> by_state;  // "pending", "failed", …
  std::int64_t sent = 0;
  std::int64_t send_latency_seconds_sum = 0;  // sum of sent_at - created_at over sent mails
  std::int64_t retrying = 0;         // waiting mails that failed at least once (next try scheduled)
  std::int64_t unsent_attempts = 0;  // attempts made on the mails not sent (waiting or failed)
};

class StoreError : public std::runtime_error {
 public:
  enum class Kind { Busy, Constraint, Other };
  StoreError(Kind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
  Kind kind() const { return kind_; }
 private:
  Kind kind_;
};

class Store {
 public:
  virtual ~Store() = default;

  // Transactions: begin() takes the write lock at once (so a busy store fails here, early).
  virtual void begin() = 0;
  virtual void commit() = 0;
  virtual void rollback() = 0;
  // Savepoints inside a transaction (group commit: one savepoint per message of a batch, so a
  // failing message is undone alone). `name` is an SQL identifier (letters, digits, '_').
  // rollback_to() undoes the changes since savepoint(name) and keeps the savepoint; release()
  // forgets it, keeping its changes in the enclosing transaction.
  virtual void savepoint(const std::string& name) = 0;
  virtual void release(const std::string& name) = 0;
  virtual void rollback_to(const std::string& name) = 0;

  // Gives back memory kept only to be faster next time (SQLite: the connection's page cache),
  // for a caller about to wait idle. Never needed for correctness; the default keeps everything.
  virtual void release_idle_memory() {}

  // Journal.
  virtual std::optional<JournalEntry> journal_by_source(const std::string& source,
      const std::string& mailbox, std::int64_t uidvalidity, std::int64_t uid) = 0;
  virtual std::optional<JournalEntry> journal_by_content(const std::string& message_id,
      const std::string& content_sha256) = 0;
  virtual std::int64_t add_journal(const JournalEntry& entry) = 0;
  virtual std::vector<JournalEntry> journal(int limit) = 0;  // newest first

  // ---- Quarantine and explanations (migration 9)
  virtual std::optional<JournalEntry> journal_entry(std::int64_t id) = 0;
  // Rewrites the entry `entry.id` (outcome, detail, ticket, message id, explanation, updated_at)
  // only while it is still quarantined; false when it is not (any more), so a quarantined message
  // is resolved (applied, dropped) exactly once.
  virtual bool update_quarantined(const JournalEntry& entry) = 0;
  // Quarantined entries, oldest first.
  virtual std::vector<JournalEntry> quarantined(int limit) = 0;
  virtual QuarantineSummary quarantine_summary() = 0;
  // The entries of the messages applied to a ticket, oldest first.
  virtual std::vector<JournalEntry> journal_of_ticket(TicketId ticket) = 0;

  // Contacts: the address is compared case-insensitively; a known contact keeps its name
  // unless it had none.
  virtual Contact find_or_add_contact(const std::string& address, const std::string& name) = 0;
  virtual std::optional<Contact> contact(std::int64_t id) = 0;
  // Records that mail to this address bounced (from `at` on); a known contact only.
  virtual void mark_contact_failing(const std::string& address, Timestamp at) = 0;

  // Tickets. next_sequence is a counter per scope (the protocol's date prefix); it only grows,
  // so a rolled back transaction may leave a gap but never a duplicate.
  virtual std::int64_t next_sequence(const std::string& scope) = 0;
  virtual TicketId add_ticket(const Ticket& ticket) = 0;
  virtual void update_ticket(const Ticket& ticket) = 0;
  virtual std::optional<Ticket> ticket(TicketId id) = 0;
  virtual std::optional<Ticket> ticket_by_protocol(const std::string& protocol) = 0;
  virtual std::vector<Ticket> tickets(std::optional<TicketStatus> status, int limit) = 0;
  virtual int open_tickets_of(const std::string& agent_id) = 0;
  // Threading look-ups: the ticket holding an article with this Message-ID, the ticket an
  // outgoing mail with this Message-ID belonged to, the ticket with this reply token.
  virtual std::optional<TicketId> ticket_of_message_id(const std::string& message_id) = 0;
  virtual std::optional<TicketId> ticket_of_outbox_message_id(const std::string& message_id) = 0;
  virtual std::optional<Ticket> ticket_by_reply_token(const std::string& token) = 0;

  virtual std::int64_t add_article(const Article& article) = 0;
  virtual std::vector<Article> articles(TicketId ticket) = 0;
  virtual std::int64_t add_attachment(const AttachmentRecord& attachment) = 0;
  virtual std::vector<AttachmentRecord> attachments(std::int64_t article_id) = 0;
  virtual void add_history(const HistoryEntry& entry) = 0;
  virtual std::vector<HistoryEntry> history(TicketId ticket) = 0;
  virtual void add_watcher(TicketId ticket, const std::string& address) = 0;
  virtual std::vector<std::string> watchers(TicketId ticket) = 0;

  // IMAP intake position per mailbox; nothing when the mailbox was never read.
  virtual std::optional<MailboxState> mailbox_state(const std::string& mailbox) = 0;
  virtual void set_mailbox_state(const std::string& mailbox, const MailboxState& state, Timestamp at) = 0;

  // Counts one event in the fixed window [window_start, window_start + length) of `scope` and
  // returns the count including it (rate limits of automatic answers).
  virtual int count_event(const std::string& scope, Timestamp window_start) = 0;

  // Round-robin cursor per scope (a department or a type): the agent assigned last.
  virtual std::string last_assigned(const std::string& scope) = 0;
  virtual void set_last_assigned(const std::string& scope, const std::string& agent_id) = 0;

  // Outbox. claim_due moves up to `limit` mails that are due (pending with next_attempt_at <= now,
  // or sending with an expired lease) to Sending with a lease until now+lease_seconds, and
  // returns them: two senders never claim the same mail.
  virtual std::int64_t add_outbox(const OutboxMail& mail) = 0;
  virtual std::vector<OutboxMail> claim_due_outbox(Timestamp now, int limit, int lease_seconds) = 0;
  virtual void mark_outbox_sent(std::int64_t id, Timestamp at) = 0;
  virtual void mark_outbox_retry(std::int64_t id, const std::string& error, Timestamp next_attempt) = 0;
  virtual void mark_outbox_failed(std::int64_t id, const std::string& error) = 0;
  // Gives a claimed mail back untried: pending again, the claim's attempt not counted.
  virtual void release_outbox(std::int64_t id) = 0;
  virtual std::vector<OutboxMail> outbox_of_ticket(TicketId ticket) = 0;
  virtual std::vector<OutboxMail> outbox_in_state(OutboxState state, int limit) = 0;
  virtual std::optional<Timestamp> next_outbox_attempt() = 0;  // earliest pending, if any

  // ---- Lifecycle (migration 3)

  // Removes a watcher; nothing when it was none.
  virtual void remove_watcher(TicketId ticket, const std::string& address) = 0;
  // Relates two tickets both ways (once); links() lists the related tickets, oldest link first.
  virtual void add_link(TicketId a, TicketId b, Timestamp at) = 0;
  virtual std::vector<TicketId> links(TicketId ticket) = 0;
  // Custom fields of a ticket (#field NAME VALUE): set replaces; fields() is ordered by name.
  virtual void set_field(TicketId ticket, const std::string& name, const std::string& value) = 0;
  virtual std::vector<std::pair<std::string, std::string>> fields(TicketId ticket) = 0;
  // One timer per ticket and kind ("reminder": a scheduled ticket's day; "auto_close": when a
  // solved ticket closes itself). set replaces; due_timers lists those with due_at <= now,
  // earliest first.
  virtual void set_timer(TicketId ticket, const std::string& kind, Timestamp due_at) = 0;
  virtual void clear_timer(TicketId ticket, const std::string& kind) = 0;
  virtual std::optional<Timestamp> timer(TicketId ticket, const std::string& kind) = 0;
  virtual std::vector<std::pair<TicketId, Timestamp>> due_timers(const std::string& kind, Timestamp now,
                                                                 int limit) = 0;
  // SLA: tickets in one of `statuses` whose first response (none given yet) or next contact was
  // due at or before `now` and that deadline (ticket, kind, due) is not marked yet.
  virtual std::vector<PassedDeadline> passed_deadlines(Timestamp now, const std::vector<TicketStatus>& statuses,
                                                       int limit) = 0;
  // Marks one deadline as handled, so it is escalated once.
  virtual void mark_deadline(TicketId ticket, const std::string& deadline, Timestamp due, Timestamp at) = 0;

  // ---- Admin endpoint and messaging channels (migration 4). Not pure, so a store that does not
  // have them yet still builds; a call then throws StoreError.

  // Tickets matching every filter given, newest first, with an id below `before_id` (cursor
  // paging; 0 = from the newest). `contact` matches a part of the contact's address or name,
  // `text` a part of the subject or the protocol.
  virtual std::vector<Ticket> find_tickets(const TicketQuery& /*query*/) {
    throw StoreError(StoreError::Kind::Other, "find_tickets: not supported by this store");
  }
  virtual std::optional<Contact> contact_by_address(const std::string& /*address*/) {
    throw StoreError(StoreError::Kind::Other, "contact_by_address: not supported by this store");
  }
  // The newest ticket of the contact that came in through `mailbox` and is neither closed nor
  // cancelled (a messaging sender's conversation on its channel).
  virtual std::optional<Ticket> open_ticket_of_contact(std::int64_t /*contact_id*/, const std::string& /*mailbox*/) {
    throw StoreError(StoreError::Kind::Other, "open_ticket_of_contact: not supported by this store");
  }
  virtual std::optional<OutboxMail> outbox_mail(std::int64_t /*id*/) {
    throw StoreError(StoreError::Kind::Other, "outbox_mail: not supported by this store");
  }
  // A failed mail becomes pending again, due now, its attempts counted from zero. False when
  // there is no such mail or it is not failed.
  virtual bool retry_outbox(std::int64_t /*id*/, Timestamp /*now*/) {
    throw StoreError(StoreError::Kind::Other, "retry_outbox: not supported by this store");
  }
  // Like claim_due_outbox, but only mails for messaging channels (which claim_due_outbox leaves).
  virtual std::vector<OutboxMail> claim_due_channel_outbox(Timestamp /*now*/, int /*limit*/, int /*lease_seconds*/) {
    throw StoreError(StoreError::Kind::Other, "claim_due_channel_outbox: not supported by this store");
  }
  // Counts for /metrics and /api/v1/stats.
  virtual std::vector<JournalCount> journal_counts() {
    throw StoreError(StoreError::Kind::Other, "journal_counts: not supported by this store");
  }
  // ---- Expenses (migration 6)
  virtual std::int64_t add_expense(const Expense& expense) = 0;
  virtual std::vector<Expense> expenses(TicketId ticket) = 0;  // oldest first
  // Expenses made in [from, to) per type of their ticket (to = 0: no upper bound), by type id.
  virtual std::vector<ExpenseTotal> expense_totals(Timestamp from, Timestamp to) = 0;

  // Tickets opened in [from, to) with the field `name` set, by type and value (to = 0: no upper bound).
  virtual std::vector<FieldCount> field_counts(const std::string& name, Timestamp from, Timestamp to) = 0;

  // Tickets opened in [from, to) by status, type and responsible (to = 0: no upper bound).
  virtual std::vector<TicketCount> ticket_counts(Timestamp /*from*/, Timestamp /*to*/) {
    throw StoreError(StoreError::Kind::Other, "ticket_counts: not supported by this store");
  }
  virtual OutboxCounts outbox_counts() {
    throw StoreError(StoreError::Kind::Other, "outbox_counts: not supported by this store");
  }
  // SLA deadlines marked as passed (escalated) in [from, to), by deadline kind.
  virtual std::vector<std::pair<std::string, std::int64_t>> deadline_counts(Timestamp /*from*/, Timestamp /*to*/) {
    throw StoreError(StoreError::Kind::Other, "deadline_counts: not supported by this store");
  }
  // Where a polled channel's intake stands (Telegram getUpdates offset); 0 when never polled.
  virtual std::int64_t channel_offset(const std::string& /*channel*/) {
    throw StoreError(StoreError::Kind::Other, "channel_offset: not supported by this store");
  }
  virtual void set_channel_offset(const std::string& /*channel*/, std::int64_t /*offset*/, Timestamp /*at*/) {
    throw StoreError(StoreError::Kind::Other, "set_channel_offset: not supported by this store");
  }

  // ---- Leases, for several instances on one database (migration 5)

  // A named lease ("mailbox:suporte") is held by one holder (an instance) until it expires. Takes
  // it for `holder` until now+ttl_seconds when it is free, expired or already this holder's (then
  // it is renewed); false when another holder's lease still runs. Autocommit: never inside begin().
  virtual bool try_acquire_lease(const std::string& name, const std::string& holder, Timestamp now,
                                 int ttl_seconds) = 0;
  // Extends a lease this holder still has; false when it expired and another took it (or none).
  virtual bool renew_lease(const std::string& name, const std::string& holder, Timestamp now, int ttl_seconds) = 0;
  // Gives the lease up at once (a clean stop), when this holder has it.
  virtual void release_lease(const std::string& name, const std::string& holder) = 0;
  // Who holds the lease at `now`, if anyone.
  virtual std::optional<std::string> lease_holder(const std::string& name, Timestamp now) = 0;

  // ---- Several writers at once, blobs in the database, contact identities (migration 10)

  // Makes concurrent handlers of the same message wait for each other: inside a transaction,
  // holds a lock named by the message's content hash until that transaction ends, so the journal
  // look-ups that follow see what another connection committed for the same bytes. A store with
  // one writer at a time (SQLite) has nothing to do. Outside a transaction: nothing.
  virtual void lock_message(const std::string& content_sha256) = 0;
  // Whether a COMMIT is on stable storage (survives a power failure) before it returns; on from
  // the start. The intake needs it: after its commit it acknowledges the mail to the source (the
  // IMAP `after` action may move or delete it, `deliver` tells the MTA it is delivered). A
  // connection that only records outbox deliveries may turn it off: a record lost to a power
  // failure means a mail sent twice, never a mail lost. SQLite: synchronous=FULL or NORMAL
  // (WAL: both keep every commit across a crash of the process); PostgreSQL: synchronous_commit.
  virtual void set_durable_commits(bool durable) = 0;
  // Makes concurrent handlers of messages from the same sender wait for each other: inside a
  // transaction, holds a lock named by the sender's address (case-insensitive) until that
  // transaction ends, so that looking up the sender's open ticket and opening one when there is
  // none happen as one step (a messaging conversation makes one ticket, however many of its
  // messages arrive at once). Contacts need not exist yet. A store with one writer at a time
  // (SQLite: begin() takes the write lock) has nothing to do. Outside a transaction: nothing.
  virtual void lock_sender(const std::string& address) = 0;
  // Blobs (raw messages, attachments) kept in the database itself, by SHA-256 (lower-case hex).
  // put_blobs stores every (sha256, bytes) pair not there yet, as durably as any commit of the
  // store, in its own transaction unless one is open (PostgreSQL: migration 10; SQLite: migration
  // 12, where only small blobs are kept so and the rest are files, see BlobStore).
  virtual void put_blobs(const std::vector<std::pair<std::string, std::string>>& blobs) = 0;
  virtual std::optional<std::string> blob(const std::string& sha256) = 0;
  // A contact's identities: the contacts that stand for the same person (an e-mail address, a
  // phone on WhatsApp, a Telegram chat…), linked by link_contacts; the person's first contact
  // first, `contact_id` itself included; empty when there is no such contact.
  virtual std::vector<Contact> identities(std::int64_t contact_id) = 0;
  // Makes `other` (with every identity already linked to it) identities of `keep`'s person.
  // False when either contact does not exist; linking a person to itself changes nothing.
  virtual bool link_contacts(std::int64_t keep, std::int64_t other) = 0;
  // The newest ticket of any identity of the contact's person that is neither closed nor cancelled.
  virtual std::optional<Ticket> open_ticket_of_person(std::int64_t contact_id) = 0;
};

// Commits on commit(), rolls back when destroyed without it (an exception on the way).
class StoreTransaction {
 public:
  explicit StoreTransaction(Store& store) : store_(store) { store_.begin(); }
  ~StoreTransaction() {
    if (!done_) {
      try { store_.rollback(); } catch (...) {}
    }
  }
  void commit() { store_.commit(); done_ = true; }
  StoreTransaction(const StoreTransaction&) = delete;
  StoreTransaction& operator=(const StoreTransaction&) = delete;
 private:
  Store& store_;
  bool done_ = false;
};

// Throws StoreError (Other) unless `name` is a usable savepoint name: [A-Za-z_][A-Za-z0-9_]*.
void check_savepoint_name(const std::string& name);

// One numbered block of an embedded migrations file: from its "-- migration N" line to the next.
struct Migration {
  int number = 0;
  std::string sql;
};

// Splits a migrations file (storage/migrations/*.sql) into its numbered blocks, in file order.
// Throws StoreError (Other) on a marker without a number. Each store applies every block whose
// number schema_migrations does not list yet, so a block merged with a lower number than one a
// database already has is still applied.
std::vector<Migration> split_migrations(const std::string& all);

// Opens the store named by a `database` URL ("sqlite:/path/atendd.db") and applies migrations.
// Throws StoreError when it cannot.
std::unique_ptr<Store> open_store(const std::string& database_url);

}  // namespace atendd

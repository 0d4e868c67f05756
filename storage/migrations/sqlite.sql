-- migrations/sqlite.sql — the SQLite schema of atendd, as numbered migrations.
-- Each "-- migration N" block is applied once, in order, inside one transaction, and recorded in
-- schema_migrations. Never edit a block that has shipped: add a new one.

-- migration 1
CREATE TABLE contacts (
  id INTEGER PRIMARY KEY,
  address TEXT NOT NULL UNIQUE COLLATE NOCASE,
  name TEXT NOT NULL DEFAULT ''
);

CREATE TABLE sequences (
  scope TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);

CREATE TABLE tickets (
  id INTEGER PRIMARY KEY,
  protocol TEXT NOT NULL UNIQUE,
  type_id TEXT NOT NULL,
  status TEXT NOT NULL,
  stage TEXT NOT NULL DEFAULT '',
  priority INTEGER NOT NULL,
  contact_id INTEGER NOT NULL REFERENCES contacts(id),
  responsible TEXT NOT NULL DEFAULT '',
  department TEXT NOT NULL DEFAULT '',
  subject TEXT NOT NULL DEFAULT '',
  level INTEGER NOT NULL DEFAULT 0,
  reply_token TEXT NOT NULL UNIQUE,
  mailbox TEXT NOT NULL DEFAULT '',
  opened_at INTEGER NOT NULL,
  first_response_due INTEGER,
  first_response_at INTEGER,
  next_contact_due INTEGER,
  closed_at INTEGER,
  times_scheduled INTEGER NOT NULL DEFAULT 0,
  times_reopened INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX tickets_status ON tickets(status, id);
CREATE INDEX tickets_responsible ON tickets(responsible, status);
CREATE INDEX tickets_contact ON tickets(contact_id);

CREATE TABLE articles (
  id INTEGER PRIMARY KEY,
  ticket_id INTEGER NOT NULL REFERENCES tickets(id),
  kind TEXT NOT NULL,
  author TEXT NOT NULL DEFAULT '',
  channel TEXT NOT NULL DEFAULT 'email',
  message_id TEXT NOT NULL DEFAULT '',
  subject TEXT NOT NULL DEFAULT '',
  text TEXT NOT NULL DEFAULT '',
  html TEXT,
  raw_sha256 TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL
);
CREATE INDEX articles_ticket ON articles(ticket_id, id);
CREATE INDEX articles_message_id ON articles(message_id) WHERE message_id <> '';

CREATE TABLE attachments (
  id INTEGER PRIMARY KEY,
  article_id INTEGER NOT NULL REFERENCES articles(id),
  filename TEXT NOT NULL,
  content_type TEXT NOT NULL,
  size INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  inline_part INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX attachments_article ON attachments(article_id);

CREATE TABLE history (
  id INTEGER PRIMARY KEY,
  ticket_id INTEGER NOT NULL REFERENCES tickets(id),
  at INTEGER NOT NULL,
  actor TEXT NOT NULL,
  field TEXT NOT NULL,
  from_value TEXT NOT NULL DEFAULT '',
  to_value TEXT NOT NULL DEFAULT '',
  justification TEXT NOT NULL DEFAULT ''
);
CREATE INDEX history_ticket ON history(ticket_id, id);

CREATE TABLE watchers (
  ticket_id INTEGER NOT NULL REFERENCES tickets(id),
  address TEXT NOT NULL COLLATE NOCASE,
  PRIMARY KEY (ticket_id, address)
);

CREATE TABLE assignment_cursors (
  scope TEXT PRIMARY KEY,
  agent_id TEXT NOT NULL
);

CREATE TABLE journal (
  id INTEGER PRIMARY KEY,
  source TEXT NOT NULL,
  mailbox TEXT NOT NULL DEFAULT '',
  uidvalidity INTEGER NOT NULL DEFAULT 0,
  uid INTEGER NOT NULL DEFAULT 0,
  message_id TEXT NOT NULL DEFAULT '',
  content_sha256 TEXT NOT NULL,
  outcome TEXT NOT NULL,
  detail TEXT NOT NULL DEFAULT '',
  ticket_id INTEGER REFERENCES tickets(id),
  received_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX journal_source ON journal(source, mailbox, uidvalidity, uid) WHERE uid <> 0;
CREATE INDEX journal_content ON journal(content_sha256, message_id);

CREATE TABLE outbox (
  id INTEGER PRIMARY KEY,
  ticket_id INTEGER REFERENCES tickets(id),
  template_name TEXT NOT NULL,
  mail_from TEXT NOT NULL,
  recipients TEXT NOT NULL,
  message_id TEXT NOT NULL UNIQUE,
  raw BLOB NOT NULL,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  lease_until INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  sent_at INTEGER
);
CREATE INDEX outbox_due ON outbox(state, next_attempt_at);
CREATE INDEX outbox_ticket ON outbox(ticket_id);

-- migration 2
CREATE TABLE mailbox_state (
  mailbox TEXT PRIMARY KEY,
  uidvalidity INTEGER NOT NULL,
  last_uid INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX tickets_reply_token ON tickets(reply_token);
CREATE INDEX outbox_message_id ON outbox(message_id);
ALTER TABLE contacts ADD COLUMN failing_since INTEGER;
CREATE TABLE rate_counters (
  scope TEXT NOT NULL,
  window_start INTEGER NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (scope, window_start)
);

-- migration 3
CREATE TABLE ticket_links (
  ticket_id INTEGER NOT NULL REFERENCES tickets(id),
  linked_id INTEGER NOT NULL REFERENCES tickets(id),
  created_at INTEGER NOT NULL,
  PRIMARY KEY (ticket_id, linked_id)
);
CREATE TABLE ticket_fields (
  ticket_id INTEGER NOT NULL REFERENCES tickets(id),
  name TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (ticket_id, name)
);
CREATE TABLE ticket_timers (
  ticket_id INTEGER NOT NULL REFERENCES tickets(id),
  kind TEXT NOT NULL,
  due_at INTEGER NOT NULL,
  PRIMARY KEY (ticket_id, kind)
);
CREATE INDEX ticket_timers_due ON ticket_timers(kind, due_at);
CREATE TABLE deadline_marks (
  ticket_id INTEGER NOT NULL REFERENCES tickets(id),
  deadline TEXT NOT NULL,
  due_at INTEGER NOT NULL,
  marked_at INTEGER NOT NULL,
  PRIMARY KEY (ticket_id, deadline, due_at)
);
CREATE INDEX tickets_first_response_due ON tickets(first_response_due) WHERE first_response_at IS NULL;
CREATE INDEX tickets_next_contact_due ON tickets(next_contact_due);

-- migration 4
-- Admin endpoint and messaging channels. An outgoing mail to a messaging contact (an address
-- "SENDER@CHANNEL.channel.invalid") is marked for the channel sender at insert, so the SMTP
-- sender never claims it.
ALTER TABLE outbox ADD COLUMN channel TEXT NOT NULL DEFAULT '';
CREATE TRIGGER outbox_channel_marker AFTER INSERT ON outbox
  WHEN NEW.recipients LIKE '%.channel.invalid%'
BEGIN
  UPDATE outbox SET channel = 'messaging' WHERE id = NEW.id;
END;
CREATE INDEX outbox_channel_due ON outbox(channel, state, next_attempt_at);
CREATE TABLE channel_state (
  channel TEXT PRIMARY KEY,
  poll_offset INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX tickets_type ON tickets(type_id, status);
CREATE INDEX deadline_marks_at ON deadline_marks(marked_at);

-- migration 5
-- Leases for several instances on one database: each mailbox is polled by the holder of its
-- lease ("mailbox:NAME"), renewed while it polls; an expired lease may be taken by another.
CREATE TABLE leases (
  name TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  acquired_at INTEGER NOT NULL
);

-- migration 6
-- Open tickets per responsible, kept by triggers: least_loaded assignment reads one row instead of
-- counting every open ticket of the agent (which grew with the store). "Open" is any status but
-- solved, closed and cancelled, as Store::open_tickets_of always counted.
CREATE TABLE agent_load (
  responsible TEXT PRIMARY KEY,
  open_tickets INTEGER NOT NULL
);
INSERT INTO agent_load(responsible, open_tickets)
  SELECT responsible, COUNT(*) FROM tickets WHERE status NOT IN ('solved', 'closed', 'cancelled')
  GROUP BY responsible;
CREATE TRIGGER agent_load_insert AFTER INSERT ON tickets
WHEN NEW.status NOT IN ('solved', 'closed', 'cancelled')
BEGIN
  INSERT INTO agent_load(responsible, open_tickets) VALUES (NEW.responsible, 1)
    ON CONFLICT(responsible) DO UPDATE SET open_tickets = open_tickets + 1;
END;
CREATE TRIGGER agent_load_update_old AFTER UPDATE OF responsible, status ON tickets
WHEN OLD.status NOT IN ('solved', 'closed', 'cancelled')
BEGIN
  UPDATE agent_load SET open_tickets = open_tickets - 1 WHERE responsible = OLD.responsible;
END;
CREATE TRIGGER agent_load_update_new AFTER UPDATE OF responsible, status ON tickets
WHEN NEW.status NOT IN ('solved', 'closed', 'cancelled')
BEGIN
  INSERT INTO agent_load(responsible, open_tickets) VALUES (NEW.responsible, 1)
    ON CONFLICT(responsible) DO UPDATE SET open_tickets = open_tickets + 1;
END;
CREATE TRIGGER agent_load_delete AFTER DELETE ON tickets
WHEN OLD.status NOT IN ('solved', 'closed', 'cancelled')
BEGIN
  UPDATE agent_load SET open_tickets = open_tickets - 1 WHERE responsible = OLD.responsible;
END;

-- migration 7
-- Expenses of a ticket (#expense AMOUNT DESCRIPTION on types with expenses = true), in cents.
CREATE TABLE ticket_expenses (
  id INTEGER PRIMARY KEY,
  ticket_id INTEGER NOT NULL REFERENCES tickets(id),
  amount_cents INTEGER NOT NULL,
  description TEXT NOT NULL,
  author TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX ticket_expenses_ticket ON ticket_expenses(ticket_id);
CREATE INDEX ticket_expenses_created ON ticket_expenses(created_at);

-- migration 9
-- Quarantine and explained decisions. A message that could not be applied is journalled
-- "quarantined" (its raw bytes kept); a retry or a drop rewrites that same row (updated_at), so a
-- message is applied once whatever happens. Every applied message keeps the explanation of the
-- pipeline's decisions (one "stage<TAB>decision<TAB>reason" line per step).
ALTER TABLE journal ADD COLUMN explanation TEXT NOT NULL DEFAULT '';
ALTER TABLE journal ADD COLUMN updated_at INTEGER;
UPDATE journal SET outcome = 'quarantined' WHERE outcome = 'failed';
CREATE INDEX journal_quarantined ON journal(id) WHERE outcome = 'quarantined';
CREATE INDEX journal_ticket ON journal(ticket_id) WHERE ticket_id IS NOT NULL;

-- migration 10
-- Contact identities: a contact linked to another (#contact link, POST /api/v1/contacts/ID/merge)
-- stands for the same person; person_id names the person's first contact (NULL: itself). On
-- PostgreSQL this block also moves blobs into the database and protocol numbers onto a sequence;
-- SQLite keeps blobs as files beside the database and has one writer at a time, so needs neither.
ALTER TABLE contacts ADD COLUMN person_id INTEGER REFERENCES contacts(id);
CREATE INDEX contacts_person ON contacts(person_id);

-- migration 11
-- outbox_message_id repeated the index that UNIQUE on outbox.message_id already gives: one more
-- random-key B-tree to update for every queued mail (bench_pipeline, issue 8), read by nothing else.
DROP INDEX IF EXISTS outbox_message_id;

-- migration 12
-- Small blobs (raw messages, attachments up to [server] database_blob_max_kb) inside the database:
-- one row each in the batch's own transaction instead of a file, a syncfs and directory syncs per
-- batch (SQLite reads and writes blobs below ~100 KB faster inside than as files). Larger blobs,
-- and every blob of a store made before this block, stay files under the state directory (or
-- blob_dir); readers look here first, then there.
CREATE TABLE blobs (
  sha256 TEXT PRIMARY KEY,
  bytes BLOB NOT NULL,
  size INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);

-- migration 13
-- tickets_reply_token repeated the index that UNIQUE on tickets.reply_token already gives: a second
-- random-key B-tree written for every new ticket (bench_pipeline, issue 8), read by nothing else.
DROP INDEX IF EXISTS tickets_reply_token;

-- migration 14
-- The outbox channel and the open-ticket counts of agent_load are written by the store's own
-- statements (SqliteStore::add_outbox, add_ticket, update_ticket): SQLite runs a trigger as a
-- sub-program for each row it fires on, ~35,000 instructions a row, a tenth of the intake
-- (bench_pipeline, issue 8). Deleting a ticket keeps its trigger: nothing in atendd deletes
-- tickets in bulk.
DROP TRIGGER IF EXISTS outbox_channel_marker;
DROP TRIGGER IF EXISTS agent_load_insert;
DROP TRIGGER IF EXISTS agent_load_update_old;
DROP TRIGGER IF EXISTS agent_load_update_new;

-- migration 15
-- The journal finds a message by content through the first 16 hex digits of its SHA-256 (64 bits;
-- the whole hash and the Message-ID are then compared on the row): an index entry of ~25 bytes
-- instead of ~110. A new message's entry goes to a random place of this B-tree, so its size decides
-- how many of its pages each batch rewrites in the log (bench_pipeline's logKB, issue 8).
DROP INDEX IF EXISTS journal_content;
CREATE INDEX journal_content_prefix ON journal(substr(content_sha256, 1, 16));

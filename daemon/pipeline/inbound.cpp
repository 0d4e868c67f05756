// inbound.cpp — see inbound.h.
#include "daemon/pipeline/inbound.h"

#include <Poco/String.h>

#include "daemon/outbox/outbox_writer.h"
#include "daemon/pipeline/forward_to_open.h"
#include "daemon/pipeline/loop_guard.h"
#include "daemon/pipeline/threader.h"
#include "daemon/tickets/engine.h"
#include "parsers/mime_reader.h"

namespace atendd {

const char* outcome_name(Outcome::Kind kind) {
  switch (kind) {
    case Outcome::Kind::TicketCreated: return "ticket_created";
    case Outcome::Kind::Appended: return "appended";
    case Outcome::Kind::Duplicate: return "duplicate";
    case Outcome::Kind::Ignored: return "ignored";
    case Outcome::Kind::Rejected: return "rejected";
    case Outcome::Kind::Failed: return "failed";
  }
  return "failed";
}

namespace {

std::string join_defects(const std::vector<std::string>& defects) {
  std::string out;
  for (const auto& d : defects) out += (out.empty() ? "" : "; ") + d;
  return out;
}

}  // namespace

InboundPipeline::InboundPipeline(Store& store, BlobStore& blobs, const Config& config, const Renderer& renderer,
                                 const Clock& clock, Poco::Logger& log)
    : store_(store), blobs_(blobs), config_(config), renderer_(renderer), clock_(clock), log_(log),
      router_(config), threader_(store, config) {}

struct InboundPipeline::Prepared {
  std::string sha256;
  bool empty = false;
  ParsedMessage parsed;
  std::string defects;
  std::vector<AttachmentRecord> attachments;
};

Outcome InboundPipeline::journal_failure(const RawMessage& raw, const Prepared& prepared, Outcome::Kind kind,
                                         const std::string& detail) {
  JournalEntry entry;
  entry.source = raw.source;
  entry.mailbox = raw.mailbox;
  entry.uidvalidity = raw.uidvalidity;
  entry.uid = raw.uid;
  entry.message_id = prepared.parsed.message_id;
  entry.content_sha256 = prepared.sha256;
  entry.outcome = outcome_name(kind);
  entry.detail = detail;
  entry.received_at = clock_.now();
  Outcome outcome;
  outcome.kind = kind;
  outcome.detail = detail;
  outcome.journal_id = store_.add_journal(entry);
  return outcome;
}

Outcome InboundPipeline::process(const RawMessage& raw) { return run_batch({&raw}).front(); }

std::vector<Outcome> InboundPipeline::process_batch(const std::vector<RawMessage>& batch) {
  std::vector<const RawMessage*> all;
  all.reserve(batch.size());
  for (const auto& raw : batch) all.push_back(&raw);
  return run_batch(all);
}

std::vector<Outcome> InboundPipeline::run_batch(const std::vector<const RawMessage*>& batch) {
  std::vector<Outcome> outcomes(batch.size());
  if (batch.empty()) return outcomes;

  // The raw bytes (and attachments: content-addressed, so a retry rewrites nothing) go to disk
  // first, made durable together: whatever happens next, every message is kept.
  std::vector<Prepared> prepared(batch.size());
  {
    BlobBatch blobs(blobs_);
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const RawMessage& raw = *batch[i];
      Prepared& p = prepared[i];
      p.sha256 = blobs.put(raw.bytes);
      if (raw.bytes.find_first_not_of(" \t\r\n") == std::string::npos) {
        p.empty = true;
        continue;
      }
      p.parsed = parse_message(raw.bytes);
      p.defects = join_defects(p.parsed.defects);
      for (const auto& a : p.parsed.attachments) {
        AttachmentRecord record;
        record.filename = a.filename;
        record.content_type = a.content_type;
        record.size = static_cast<std::int64_t>(a.data.size());
        record.sha256 = blobs.put(a.data);
        record.inline_part = a.inline_part;
        p.attachments.push_back(std::move(record));
      }
    }
    blobs.commit();
  }

  // One transaction for the batch, one savepoint per message: a message that fails is undone
  // alone and journalled as failed; the others commit together (each still all or nothing).
  // A busy store throws out of here with nothing committed, and the source retries the batch.
  std::vector<std::pair<int, std::string>> log_lines;  // (0 info, 1 warning, 2 error; text), after COMMIT
  StoreTransaction tx(store_);
  static const std::string kSavepoint = "atendd_message";
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const RawMessage& raw = *batch[i];
    const Prepared& p = prepared[i];
    store_.savepoint(kSavepoint);
    std::string failure;
    try {
      if (p.empty) {
        outcomes[i] = journal_failure(raw, p, Outcome::Kind::Rejected, "empty message");
        log_lines.emplace_back(1, "mailbox " + raw.mailbox + ": empty message rejected (raw " + p.sha256 + ")");
      } else {
        std::string line;
        outcomes[i] = apply(raw, p, line);
        log_lines.emplace_back(0, std::move(line));
      }
      store_.release(kSavepoint);
      continue;
    } catch (const StoreError& e) {
      if (e.kind() == StoreError::Kind::Busy) throw;  // nothing committed: the source retries
      failure = e.what();
      log_lines.emplace_back(2, "mailbox " + raw.mailbox + " <" + p.parsed.message_id + ">: store error: " + failure);
    } catch (const std::exception& e) {
      failure = e.what();
      log_lines.emplace_back(2, "mailbox " + raw.mailbox + " <" + p.parsed.message_id + ">: cannot apply: " + failure);
    }
    store_.rollback_to(kSavepoint);
    outcomes[i] = journal_failure(raw, p, Outcome::Kind::Failed, failure);
    store_.release(kSavepoint);
  }
  tx.commit();
  for (const auto& [level, line] : log_lines) {
    if (level == 2)
      log_.error(line);
    else if (level == 1)
      log_.warning(line);
    else
      log_.information(line);
  }
  return outcomes;
}

Outcome InboundPipeline::apply(const RawMessage& raw, const Prepared& prepared, std::string& log_line) {
  const ParsedMessage& parsed = prepared.parsed;
  const std::string& sha256 = prepared.sha256;
  const std::string& defects = prepared.defects;
  const std::vector<AttachmentRecord>& attachments = prepared.attachments;
  std::optional<JournalEntry> seen = store_.journal_by_source(raw.source, raw.mailbox, raw.uidvalidity, raw.uid);
  if (!seen) seen = store_.journal_by_content(parsed.message_id, sha256);
  if (seen && seen->outcome != outcome_name(Outcome::Kind::Failed)) {
    Outcome outcome;
    outcome.kind = Outcome::Kind::Duplicate;
    outcome.journal_id = seen->id;
    outcome.detail = "already " + seen->outcome + " (journal " + std::to_string(seen->id) + ")";
    if (seen->ticket_id)
      if (auto t = store_.ticket(*seen->ticket_id)) outcome.protocol = t->protocol;
    log_line = "mailbox " + raw.mailbox + ": <" + parsed.message_id + "> " + outcome.detail;
    return outcome;
  }

  JournalEntry entry;
  entry.source = raw.source;
  entry.mailbox = raw.mailbox;
  entry.uidvalidity = raw.uidvalidity;
  entry.uid = raw.uid;
  entry.message_id = parsed.message_id;
  entry.content_sha256 = sha256;
  entry.received_at = clock_.now();

  Outcome outcome;
  const LoopVerdict loop = check_loops(parsed, config_);
  if (raw.oversized && !loop.ignore) {
    // Only the header was fetched: journal it as rejected and tell the sender, if we may.
    outcome.kind = Outcome::Kind::Rejected;
    outcome.detail = "message of " + std::to_string(raw.size) + " bytes is over the mailbox's limit";
    Engine engine(store_, config_, clock_);
    if (!loop.may_auto_answer) {
      outcome.detail += "; " + loop.reason;
    } else if (is_usable_address(parsed.from.address) && engine.may_send_automatic(Poco::toLower(parsed.from.address))) {
      OutboxWriter writer(store_, blobs_, config_, renderer_, clock_);
      writer.queue_notice("rejected", parsed,
                          "mensagem grande demais / message too large (" + std::to_string(raw.size / (1024 * 1024)) +
                              " MB)");
      outcome.detail += "; the sender was told";
    }
    entry.outcome = outcome_name(outcome.kind);
    entry.detail = outcome.detail;
  } else if (loop.ignore) {
    entry.outcome = outcome_name(Outcome::Kind::Ignored);
    entry.detail = loop.reason;
    outcome.kind = Outcome::Kind::Ignored;
    outcome.detail = loop.reason;
  } else {
    InboundMessage message{parsed, sha256, raw.source, raw.mailbox, attachments};
    // An archive import (daemon/sources/archive_import.h) replays old mail at its own date and
    // sends nothing: no outbox rows, no automatic answers counted.
    const bool imported = raw.source == kImportSource;
    const FixedClock written_clock(imported && parsed.date ? *parsed.date : clock_.now());
    Engine engine(store_, config_, imported ? static_cast<const Clock&>(written_clock) : clock_);
    OutboxWriter writer(store_, blobs_, config_, renderer_, clock_);
    std::optional<Ticket> bounced_ticket;
    if (parsed.is_bounce)
      if (auto id = store_.ticket_of_outbox_message_id(parsed.bounced_message_id)) bounced_ticket = store_.ticket(*id);
    const ThreadResult thread = bounced_ticket ? ThreadResult{} : threader_.find(parsed, imported);
    if (!thread.refused.empty())
      log_.warning("mailbox " + raw.mailbox + " <" + parsed.message_id + ">: not threaded: " + thread.refused);

    if (bounced_ticket) {
      engine.record_bounce(message, *bounced_ticket);
      outcome.kind = Outcome::Kind::Appended;
      outcome.protocol = bounced_ticket->protocol;
      outcome.detail = "bounce of our mail to " + parsed.bounced_recipient;
      entry.ticket_id = bounced_ticket->id;
    } else if (thread.match) {
      const ThreadMatch& match = *thread.match;
      TicketUpdate update = match.role == SenderRole::Agent
                                ? engine.add_agent_reply(message, match.ticket, *match.agent)
                                : engine.add_customer_message(message, match.ticket, !loop.may_auto_answer);
      if (!imported) writer.queue(update, message);
      const bool new_ticket = update.ticket.id != match.ticket.id;
      outcome.kind = new_ticket ? Outcome::Kind::TicketCreated : Outcome::Kind::Appended;
      outcome.protocol = update.ticket.protocol;
      outcome.detail = new_ticket ? "linked to closed ticket " + match.ticket.protocol
                                  : std::string(match.role == SenderRole::Agent ? "agent reply" : "customer message") +
                                        (loop.may_auto_answer ? "" : " (automatic: stored only)");
      entry.ticket_id = update.ticket.id;
    } else if (std::string not_forwarded; auto forward = forward_to_open(parsed, config_, threader_, imported, &not_forwarded)) {
      // Forward-to-open: the customer's ticket, opened by the agent (forward_to_open.h).
      InboundMessage original{forward->customer, sha256, raw.source, raw.mailbox,
                              store_forwarded_attachments(blobs_, forward->original)};
      original.opened_by = forward->agent;
      original.forward_note = forward->original.note;
      original.written_at = forward->customer.date;
      const TypeConfig* type = router_.route(forward->customer, raw.mailbox);
      OpenedTicket opened = engine.open_ticket(original, *type, loop.may_auto_answer && !imported,
                                               imported ? kImportNoAnswer : loop.reason);
      if (!imported) writer.queue(opened, original);
      outcome.kind = Outcome::Kind::TicketCreated;
      outcome.protocol = opened.ticket.protocol;
      outcome.detail = "opened by agent " + forward->agent->id + " for " + forward->customer.from.address + " (" +
                       forward->original.format + " forward; " + forward->proof + ")";
      entry.ticket_id = opened.ticket.id;
    } else {
      if (!not_forwarded.empty()) log_.information("mailbox " + raw.mailbox + " <" + parsed.message_id + ">: " + not_forwarded);
      const TypeConfig* type = router_.route(parsed, raw.mailbox);
      OpenedTicket opened = engine.open_ticket(message, *type, loop.may_auto_answer && !imported,
                                               imported ? kImportNoAnswer : loop.reason);
      if (!imported) writer.queue(opened, message);
      outcome.kind = Outcome::Kind::TicketCreated;
      outcome.protocol = opened.ticket.protocol;
      entry.ticket_id = opened.ticket.id;
    }
    if (imported && entry.ticket_id) engine.settle_imported(*entry.ticket_id, clock_.now());
    if (!defects.empty()) outcome.detail += (outcome.detail.empty() ? "" : "; ") + std::string("defects: ") + defects;
    entry.outcome = outcome_name(outcome.kind);
    entry.detail = outcome.detail;
  }
  outcome.journal_id = store_.add_journal(entry);
  log_line = "ticket " + (outcome.protocol.empty() ? std::string("-") : outcome.protocol) + " mailbox " + raw.mailbox +
             " <" + parsed.message_id + ">: " + outcome_name(outcome.kind) +
             (outcome.detail.empty() ? "" : " (" + outcome.detail + ")");
  return outcome;
}

}  // namespace atendd

// inbound.cpp — see inbound.h.
#include "daemon/pipeline/inbound.h"

#include <atomic>
#include <exception>
#include <system_error>
#include <thread>

#include <Poco/String.h>

#include "daemon/admin/counters.h"
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
    case Outcome::Kind::Quarantined: return "quarantined";
  }
  return "quarantined";
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
  std::string parser_failure;  // the parser threw (it never should): the message is quarantined
  ParsedMessage parsed;
  std::string defects;
  std::vector<AttachmentRecord> attachments;
};

std::optional<JournalEntry> InboundPipeline::journalled(const RawMessage& raw, const Prepared& prepared) {
  if (raw.retry_of) return store_.journal_entry(raw.retry_of);
  std::optional<JournalEntry> seen = store_.journal_by_source(raw.source, raw.mailbox, raw.uidvalidity, raw.uid);
  if (!seen) seen = store_.journal_by_content(prepared.parsed.message_id, prepared.sha256);
  return seen;
}

Outcome InboundPipeline::journal_failure(const RawMessage& raw, const Prepared& prepared, Outcome::Kind kind,
                                         const std::string& detail, const std::string& explanation) {
  Outcome outcome;
  outcome.kind = kind;
  outcome.detail = detail;
  const std::optional<JournalEntry> seen = journalled(raw, prepared);
  if (seen && seen->outcome != outcome_name(Outcome::Kind::Quarantined)) {
    // Done before (an empty message fetched again after a crash): the same entry stands.
    outcome.kind = Outcome::Kind::Duplicate;
    outcome.journal_id = seen->id;
    outcome.detail = "already " + seen->outcome + " (journal " + std::to_string(seen->id) + ")";
    return outcome;
  }
  if (seen) {
    // Quarantined before and still not applicable: the same entry, with today's reason.
    JournalEntry again = *seen;
    again.outcome = outcome_name(kind);
    again.detail = detail;
    again.explanation = explanation;
    again.updated_at = clock_.now();
    store_.update_quarantined(again);
    outcome.journal_id = seen->id;
    return outcome;
  }
  JournalEntry entry;
  entry.source = raw.source;
  entry.mailbox = raw.mailbox;
  entry.uidvalidity = raw.uidvalidity;
  entry.uid = raw.uid;
  entry.message_id = prepared.parsed.message_id;
  entry.content_sha256 = prepared.sha256;
  entry.outcome = outcome_name(kind);
  entry.detail = detail;
  entry.explanation = explanation;
  entry.received_at = clock_.now();
  outcome.journal_id = store_.add_journal(entry);
  return outcome;
}

Outcome InboundPipeline::process(const RawMessage& raw) { return run_batch({&raw}).front(); }

Outcome InboundPipeline::explain(const RawMessage& raw, Explanation& explanation) {
  return run_batch({&raw}, true, &explanation).front();
}

std::vector<Outcome> InboundPipeline::process_batch(const std::vector<RawMessage>& batch) {
  std::vector<const RawMessage*> all;
  all.reserve(batch.size());
  for (const auto& raw : batch) all.push_back(&raw);
  return run_batch(all);
}

void InboundPipeline::prepare(const RawMessage& raw, Prepared& p) {
  p.sha256 = sha256_hex(raw.bytes);
  if (raw.bytes.find_first_not_of(" \t\r\n") == std::string::npos) {
    p.empty = true;
    return;
  }
  try {
    p.parsed = parse_message(raw.bytes);
  } catch (const std::exception& e) {
    p.parser_failure = std::string("the parser gave up: ") + e.what();
    return;
  }
  p.defects = join_defects(p.parsed.defects);
  for (const auto& a : p.parsed.attachments) {  // one record per parsed attachment, in order
    AttachmentRecord record;
    record.filename = a.filename;
    record.content_type = a.content_type;
    record.size = static_cast<std::int64_t>(a.data.size());
    record.sha256 = sha256_hex(a.data);
    record.inline_part = a.inline_part;
    p.attachments.push_back(std::move(record));
  }
}

void InboundPipeline::prepare_all(const std::vector<const RawMessage*>& batch, std::vector<Prepared>& prepared) {
  // Parsing and hashing touch nothing shared, so a second thread takes messages from the same
  // counter while this one does: about a fifth of a message's cost moves off the thread that
  // holds the store transaction. Small batches (IDLE's one or two messages) stay on this thread.
  constexpr std::size_t kShareFrom = 8;
  std::atomic<std::size_t> next{0};
  auto work = [&] {
    for (std::size_t i = next++; i < batch.size(); i = next++) prepare(*batch[i], prepared[i]);
  };
  if (batch.size() < kShareFrom || std::thread::hardware_concurrency() < 2) {
    work();
    return;
  }
  std::exception_ptr helper_failure;
  std::thread helper;
  try {
    helper = std::thread([&] {
      try {
        work();
      } catch (...) {
        helper_failure = std::current_exception();
      }
    });
  } catch (const std::system_error&) {  // no thread to be had (a tasks limit): all on this one
    work();
    return;
  }
  try {
    work();
  } catch (...) {
    next = batch.size();  // the helper stops at its next message
    helper.join();
    throw;
  }
  helper.join();
  if (helper_failure) std::rethrow_exception(helper_failure);
}

std::vector<Outcome> InboundPipeline::run_batch(const std::vector<const RawMessage*>& batch, bool dry_run,
                                                Explanation* explanation) {
  std::vector<Outcome> outcomes(batch.size());
  if (batch.empty()) return outcomes;

  // Parsed and hashed first, on two threads when there is enough to share.
  std::vector<Prepared> prepared(batch.size());
  prepare_all(batch, prepared);
  // The raw bytes (and attachments) are written first in each transaction that applies the batch:
  // a message's journal entry, ticket and articles then commit together with the bytes they name,
  // and a quarantined message keeps its bytes (they come before any message's savepoint). Blobs
  // too large for the database are files, made durable before the rows that name them; content-
  // addressed, so the second way below rewrites nothing. One COMMIT (one fsync of the log) per
  // batch, not one for the blobs and one for the rest.
  auto keep_raw = [&] {
    BlobBatch blobs(blobs_);
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const Prepared& p = prepared[i];
      blobs.put_hashed(p.sha256, batch[i]->bytes);
      for (std::size_t k = 0; k < p.attachments.size(); ++k)
        blobs.put_hashed(p.attachments[k].sha256, p.parsed.attachments[k].data);
    }
    blobs.commit();
  };

  // Optimistic group commit: the batch in one transaction without savepoints (a savepoint per
  // message copies every page it first touches into a sub-journal: a tenth of the pipeline's
  // time). Should any message fail, that transaction is rolled back whole and the batch applied
  // again with a savepoint per message, so the failing one is undone alone and quarantined. An
  // explained (dry) run goes straight to the second way, so its decisions are recorded once.
  // A busy store throws out of here with nothing committed, and the source retries the batch.
  std::vector<std::pair<int, std::string>> log_lines;  // (0 info, 1 warning, 2 error; text), after COMMIT
  if (!dry_run && explanation == nullptr) {
    StoreTransaction tx(store_);
    keep_raw();
    if (apply_all(batch, prepared, outcomes, log_lines, nullptr, false)) {
      tx.commit();
      report(outcomes, prepared, log_lines);
      return outcomes;
    }
  }  // rolled back here
  outcomes.assign(batch.size(), Outcome{});
  log_lines.clear();
  StoreTransaction tx(store_);
  keep_raw();
  apply_all(batch, prepared, outcomes, log_lines, explanation, true);
  if (dry_run) return outcomes;  // StoreTransaction rolls everything back; nothing is logged
  tx.commit();
  report(outcomes, prepared, log_lines);
  return outcomes;
}

bool InboundPipeline::apply_all(const std::vector<const RawMessage*>& batch, const std::vector<Prepared>& prepared,
                                std::vector<Outcome>& outcomes, std::vector<std::pair<int, std::string>>& log_lines,
                                Explanation* explanation, bool savepoints) {
  static const std::string kSavepoint = "atendd_message";
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const RawMessage& raw = *batch[i];
    const Prepared& p = prepared[i];
    Explanation own;
    Explanation& explained = explanation ? *explanation : own;
    if (savepoints) store_.savepoint(kSavepoint);
    std::string failure;
    try {
      if (p.empty) {
        explained.add("parser", "rejected", "empty message");
        outcomes[i] = journal_failure(raw, p, Outcome::Kind::Rejected, "empty message", explained.compact());
        log_lines.emplace_back(1, "mailbox " + raw.mailbox + ": empty message rejected (raw " + p.sha256 + ")");
        if (savepoints) store_.release(kSavepoint);
        continue;
      }
      if (p.parser_failure.empty()) {
        std::string line;
        outcomes[i] = apply(raw, p, explained, line);
        log_lines.emplace_back(0, std::move(line));
        if (savepoints) store_.release(kSavepoint);
        continue;
      }
      if (!savepoints) return false;  // quarantined below, in the batch's second way
      failure = p.parser_failure;
      log_lines.emplace_back(2, "mailbox " + raw.mailbox + ": " + failure);
    } catch (const StoreError& e) {
      if (e.kind() == StoreError::Kind::Busy) throw;  // nothing committed: the source retries
      if (!savepoints) return false;
      failure = std::string("the store refused it: ") + e.what();
      log_lines.emplace_back(2, "mailbox " + raw.mailbox + " <" + p.parsed.message_id + ">: " + failure);
    } catch (const std::exception& e) {
      if (!savepoints) return false;
      failure = std::string("cannot apply: ") + e.what();
      log_lines.emplace_back(2, "mailbox " + raw.mailbox + " <" + p.parsed.message_id + ">: " + failure);
    }
    store_.rollback_to(kSavepoint);
    explained.add("inbound", "quarantine", failure);
    outcomes[i] = journal_failure(raw, p, Outcome::Kind::Quarantined, failure, explained.compact());
    if (outcomes[i].kind == Outcome::Kind::Quarantined)
      log_lines.back().second += " — quarantined as journal " + std::to_string(outcomes[i].journal_id) +
                                 " (atendd quarantine show " + std::to_string(outcomes[i].journal_id) + ")";
    store_.release(kSavepoint);
  }
  return true;
}

void InboundPipeline::report(const std::vector<Outcome>& outcomes, const std::vector<Prepared>& prepared,
                             const std::vector<std::pair<int, std::string>>& log_lines) {
  for (std::size_t i = 0; i < outcomes.size(); ++i)  // /metrics: applied messages with parser defects
    if (outcomes[i].kind != Outcome::Kind::Duplicate) counters::parse_defects(prepared[i].parsed.defects);
  for (const auto& [level, line] : log_lines) {
    if (level == 2)
      log_.error(line);
    else if (level == 1)
      log_.warning(line);
    else
      log_.information(line);
  }
}

Outcome InboundPipeline::apply(const RawMessage& raw, const Prepared& prepared, Explanation& explanation,
                               std::string& log_line) {
  const ParsedMessage& parsed = prepared.parsed;
  const std::string& sha256 = prepared.sha256;
  const std::string& defects = prepared.defects;
  const std::vector<AttachmentRecord>& attachments = prepared.attachments;
  store_.lock_message(sha256);  // the same message handled at once elsewhere: wait for it, then see it
  const std::optional<JournalEntry> seen = journalled(raw, prepared);
  const bool quarantined = seen && seen->outcome == outcome_name(Outcome::Kind::Quarantined);
  if (seen && !quarantined) {
    Outcome outcome;
    outcome.kind = Outcome::Kind::Duplicate;
    outcome.journal_id = seen->id;
    outcome.detail = "already " + seen->outcome + " (journal " + std::to_string(seen->id) + ")";
    if (seen->ticket_id)
      if (auto t = store_.ticket(*seen->ticket_id)) outcome.protocol = t->protocol;
    explanation.add("journal", "duplicate", outcome.detail);
    log_line = "mailbox " + raw.mailbox + ": <" + parsed.message_id + "> " + outcome.detail;
    return outcome;
  }
  explanation.add("parser", defects.empty() ? "ok" : "ok, with defects",
                  "From " + (parsed.from.address.empty() ? std::string("(none)") : parsed.from.address) + ", Subject '" +
                      parsed.subject + "'" + (defects.empty() ? "" : "; " + defects));
  if (quarantined)
    explanation.add("journal", "retry of quarantined " + std::to_string(seen->id), seen->detail);

  JournalEntry entry;
  entry.source = raw.source;
  entry.mailbox = raw.mailbox;
  entry.uidvalidity = raw.uidvalidity;
  entry.uid = raw.uid;
  entry.message_id = parsed.message_id;
  entry.content_sha256 = sha256;
  entry.received_at = clock_.now();

  Outcome outcome;
  const LoopVerdict loop = check_loops(parsed, config_, &explanation);
  if (raw.oversized && !loop.ignore) {
    // Only the header was fetched: journal it as rejected and tell the sender, if we may.
    outcome.kind = Outcome::Kind::Rejected;
    outcome.detail = "message of " + std::to_string(raw.size) + " bytes is over the mailbox's limit";
    explanation.add("size", "rejected", outcome.detail);
    Engine engine(store_, config_, clock_);
    if (!loop.may_auto_answer) {
      outcome.detail += "; " + loop.reason;
    } else if (is_usable_address(parsed.from.address) && engine.may_send_automatic(Poco::toLower(parsed.from.address))) {
      OutboxWriter writer(store_, blobs_, config_, renderer_, clock_);
      writer.explain_to(&explanation);
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
    engine.explain_to(&explanation);
    OutboxWriter writer(store_, blobs_, config_, renderer_, clock_);
    writer.explain_to(&explanation);
    std::optional<Ticket> bounced_ticket;
    if (parsed.is_bounce) {
      if (auto id = store_.ticket_of_outbox_message_id(parsed.bounced_message_id)) bounced_ticket = store_.ticket(*id);
      explanation.add("bounce",
              bounced_ticket ? "note on ticket " + bounced_ticket->protocol : "not of our mail",
              "delivery status notification" +
                  (parsed.bounced_recipient.empty() ? std::string() : " for " + parsed.bounced_recipient) +
                  (parsed.bounced_message_id.empty()
                       ? std::string(", returning no Message-ID")
                       : std::string(", returning <") + parsed.bounced_message_id + ">" +
                             (bounced_ticket ? " (our mail of that ticket)" : " (none of our mails)")));
    }
    ThreadResult thread;
    if (!bounced_ticket && !raw.conversation_of.empty()) {
      // A messaging sender's next message: its open ticket is looked up and, when there is none,
      // opened below in this one transaction, while no other handler of this sender's messages
      // can look (two instances, two webhook requests at once: one ticket, not two).
      store_.lock_sender(raw.conversation_of);
      thread.match = threader_.open_conversation(raw.conversation_of, raw.mailbox, &explanation);
    }
    if (!bounced_ticket && !thread.match) thread = threader_.find(parsed, &explanation, imported);
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
      explanation.add("forward", "opened for " + forward->customer.from.address,
                      forward->original.format + " forward by agent " + forward->agent->id + "; " + forward->proof);
      const TypeConfig* type = router_.route(forward->customer, raw.mailbox, &explanation);
      OpenedTicket opened = engine.open_ticket(original, *type, loop.may_auto_answer && !imported,
                                               imported ? kImportNoAnswer : loop.reason);
      if (!imported) writer.queue(opened, original);
      outcome.kind = Outcome::Kind::TicketCreated;
      outcome.protocol = opened.ticket.protocol;
      outcome.detail = "opened by agent " + forward->agent->id + " for " + forward->customer.from.address + " (" +
                       forward->original.format + " forward; " + forward->proof + ")";
      entry.ticket_id = opened.ticket.id;
    } else {
      if (!not_forwarded.empty()) {
        log_.information("mailbox " + raw.mailbox + " <" + parsed.message_id + ">: " + not_forwarded);
        explanation.add("forward", "not opened for someone else", not_forwarded);
      }
      const TypeConfig* type = router_.route(parsed, raw.mailbox, &explanation);
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
  explanation.add("journal", std::string(outcome_name(outcome.kind)) +
                                       (outcome.protocol.empty() ? "" : " " + outcome.protocol),
          outcome.detail);
  entry.explanation = explanation.compact();
  if (quarantined) {
    // The quarantined entry becomes this outcome, once: the store refuses when it is not
    // quarantined any more (another retry won), and this message then rolls back.
    entry.id = seen->id;
    entry.received_at = seen->received_at;
    entry.updated_at = clock_.now();
    entry.detail = "retried from quarantine (" + seen->detail + ")" + (entry.detail.empty() ? "" : "; " + entry.detail);
    if (!store_.update_quarantined(entry))
      throw StoreError(StoreError::Kind::Constraint, "journal " + std::to_string(seen->id) + " is no longer quarantined");
    outcome.journal_id = seen->id;
  } else {
    outcome.journal_id = store_.add_journal(entry);
  }
  log_line = "ticket " + (outcome.protocol.empty() ? std::string("-") : outcome.protocol) + " mailbox " + raw.mailbox +
             " <" + parsed.message_id + ">: " + outcome_name(outcome.kind) +
             (outcome.detail.empty() ? "" : " (" + outcome.detail + ")") +
             (quarantined ? " — journal " + std::to_string(seen->id) + " left the quarantine" : "");
  return outcome;
}

}  // namespace atendd

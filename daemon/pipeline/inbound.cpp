// inbound.cpp — see inbound.h.
#include "daemon/pipeline/inbound.h"

#include <Poco/String.h>

#include "daemon/outbox/outbox_writer.h"
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

Outcome InboundPipeline::record_failure(const RawMessage& raw, const std::string& sha256,
                                        const std::string& message_id, Outcome::Kind kind,
                                        const std::string& detail) {
  StoreTransaction tx(store_);
  JournalEntry entry;
  entry.source = raw.source;
  entry.mailbox = raw.mailbox;
  entry.uidvalidity = raw.uidvalidity;
  entry.uid = raw.uid;
  entry.message_id = message_id;
  entry.content_sha256 = sha256;
  entry.outcome = outcome_name(kind);
  entry.detail = detail;
  entry.received_at = clock_.now();
  Outcome outcome;
  outcome.kind = kind;
  outcome.detail = detail;
  outcome.journal_id = store_.add_journal(entry);
  tx.commit();
  return outcome;
}

Outcome InboundPipeline::process(const RawMessage& raw) {
  // The raw bytes go to disk first: whatever happens next, the message is kept.
  const std::string sha256 = blobs_.put(raw.bytes);
  if (raw.bytes.find_first_not_of(" \t\r\n") == std::string::npos) {
    log_.warning("mailbox " + raw.mailbox + ": empty message rejected (raw " + sha256 + ")");
    return record_failure(raw, sha256, "", Outcome::Kind::Rejected, "empty message");
  }

  const ParsedMessage parsed = parse_message(raw.bytes);
  const std::string defects = join_defects(parsed.defects);

  // Store attachments before the transaction: content-addressed, so a retry rewrites nothing.
  std::vector<AttachmentRecord> attachments;
  for (const auto& a : parsed.attachments) {
    AttachmentRecord record;
    record.filename = a.filename;
    record.content_type = a.content_type;
    record.size = static_cast<std::int64_t>(a.data.size());
    record.sha256 = blobs_.put(a.data);
    record.inline_part = a.inline_part;
    attachments.push_back(std::move(record));
  }

  try {
    StoreTransaction tx(store_);
    std::optional<JournalEntry> seen = store_.journal_by_source(raw.source, raw.mailbox, raw.uidvalidity, raw.uid);
    if (!seen) seen = store_.journal_by_content(parsed.message_id, sha256);
    if (seen && seen->outcome != outcome_name(Outcome::Kind::Failed)) {
      Outcome outcome;
      outcome.kind = Outcome::Kind::Duplicate;
      outcome.journal_id = seen->id;
      outcome.detail = "already " + seen->outcome + " (journal " + std::to_string(seen->id) + ")";
      if (seen->ticket_id)
        if (auto t = store_.ticket(*seen->ticket_id)) outcome.protocol = t->protocol;
      tx.commit();
      log_.information("mailbox " + raw.mailbox + ": <" + parsed.message_id + "> " + outcome.detail);
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
      Engine engine(store_, config_, clock_);
      OutboxWriter writer(store_, blobs_, config_, renderer_, clock_);
      std::optional<Ticket> bounced_ticket;
      if (parsed.is_bounce)
        if (auto id = store_.ticket_of_outbox_message_id(parsed.bounced_message_id)) bounced_ticket = store_.ticket(*id);
      const ThreadResult thread = bounced_ticket ? ThreadResult{} : threader_.find(parsed);
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
        writer.queue(update, message);
        const bool new_ticket = update.ticket.id != match.ticket.id;
        outcome.kind = new_ticket ? Outcome::Kind::TicketCreated : Outcome::Kind::Appended;
        outcome.protocol = update.ticket.protocol;
        outcome.detail = new_ticket ? "linked to closed ticket " + match.ticket.protocol
                                    : std::string(match.role == SenderRole::Agent ? "agent reply" : "customer message") +
                                          (loop.may_auto_answer ? "" : " (automatic: stored only)");
        entry.ticket_id = update.ticket.id;
      } else {
        const TypeConfig* type = router_.route(parsed, raw.mailbox);
        OpenedTicket opened = engine.open_ticket(message, *type, loop.may_auto_answer, loop.reason);
        writer.queue(opened, message);
        outcome.kind = Outcome::Kind::TicketCreated;
        outcome.protocol = opened.ticket.protocol;
        entry.ticket_id = opened.ticket.id;
      }
      if (!defects.empty()) outcome.detail += (outcome.detail.empty() ? "" : "; ") + std::string("defects: ") + defects;
      entry.outcome = outcome_name(outcome.kind);
      entry.detail = outcome.detail;
    }
    outcome.journal_id = store_.add_journal(entry);
    tx.commit();
    log_.information("ticket " + (outcome.protocol.empty() ? std::string("-") : outcome.protocol) + " mailbox " +
                     raw.mailbox + " <" + parsed.message_id + ">: " + outcome_name(outcome.kind) +
                     (outcome.detail.empty() ? "" : " (" + outcome.detail + ")"));
    return outcome;
  } catch (const StoreError& e) {
    if (e.kind() == StoreError::Kind::Busy) throw;  // nothing committed: the source retries
    log_.error("mailbox " + raw.mailbox + " <" + parsed.message_id + ">: store error: " + e.what());
    return record_failure(raw, sha256, parsed.message_id, Outcome::Kind::Failed, e.what());
  } catch (const std::exception& e) {
    log_.error("mailbox " + raw.mailbox + " <" + parsed.message_id + ">: cannot apply: " + e.what());
    return record_failure(raw, sha256, parsed.message_id, Outcome::Kind::Failed, e.what());
  }
}

}  // namespace atendd

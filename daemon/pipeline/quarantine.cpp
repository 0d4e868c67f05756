// quarantine.cpp — see quarantine.h.
#include "daemon/pipeline/quarantine.h"

#include "parsers/mime_reader.h"

namespace atendd {

namespace {

const char* const kQuarantined = "quarantined";

QuarantineResult result(QuarantineResult::Status status, std::int64_t id, const std::string& message) {
  QuarantineResult r;
  r.status = status;
  r.id = id;
  r.message = message;
  return r;
}

}  // namespace

const char* quarantine_status_name(QuarantineResult::Status status) {
  switch (status) {
    case QuarantineResult::Status::Done: return "done";
    case QuarantineResult::Status::StillQuarantined: return "still_quarantined";
    case QuarantineResult::Status::NotQuarantined: return "not_quarantined";
    case QuarantineResult::Status::NotFound: return "not_found";
    case QuarantineResult::Status::RawMissing: return "raw_missing";
    case QuarantineResult::Status::Invalid: return "invalid";
  }
  return "invalid";
}

bool parse_journal_id(const std::string& text, std::int64_t& id) {
  if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string::npos) return false;
  id = std::stoll(text);
  return id > 0;
}

Quarantine::Quarantine(Store& store, const BlobStore& blobs, InboundPipeline& pipeline, const Clock& clock)
    : store_(store), blobs_(blobs), pipeline_(pipeline), clock_(clock) {}

std::vector<JournalEntry> Quarantine::list(int limit) { return store_.quarantined(limit); }

std::optional<QuarantineDetail> Quarantine::show(std::int64_t id) {
  auto entry = store_.journal_entry(id);
  if (!entry) return std::nullopt;
  QuarantineDetail detail;
  detail.entry = *entry;
  if (auto raw = blobs_.get(entry->content_sha256)) {
    detail.raw_found = true;
    detail.raw_size = static_cast<std::int64_t>(raw->size());
    detail.parsed = parse_message(*raw);
  }
  return detail;
}

QuarantineResult Quarantine::retry(std::int64_t id) {
  const auto entry = store_.journal_entry(id);
  const std::string name = "journal " + std::to_string(id);
  if (!entry) return result(QuarantineResult::Status::NotFound, id, "no " + name);
  if (entry->outcome != kQuarantined)
    return result(QuarantineResult::Status::NotQuarantined, id,
                  name + " is not in the quarantine (" + entry->outcome + "): nothing done");
  auto bytes = blobs_.get(entry->content_sha256);
  if (!bytes)
    return result(QuarantineResult::Status::RawMissing, id,
                  name + ": the raw message " + entry->content_sha256 + " is missing from the state directory");
  RawMessage raw;
  raw.bytes = std::move(*bytes);
  raw.source = entry->source;
  raw.mailbox = entry->mailbox;
  raw.uidvalidity = entry->uidvalidity;
  raw.uid = entry->uid;
  raw.retry_of = id;
  if (raw.source == "webhook") {
    // A messaging message continues its sender's open conversation, as on arrival
    // (deliver_channel_message), unless its subject names a ticket.
    const ParsedMessage parsed = parse_message(raw.bytes);
    if (parsed.subject.rfind("[#", 0) != 0) raw.conversation_of = parsed.from.address;
  }
  QuarantineResult r;
  r.id = id;
  r.outcome = pipeline_.process(raw);
  switch (r.outcome.kind) {
    case Outcome::Kind::Quarantined:
      r.status = QuarantineResult::Status::StillQuarantined;
      r.message = name + " is still quarantined: " + r.outcome.detail;
      break;
    case Outcome::Kind::Duplicate:
      r.status = QuarantineResult::Status::NotQuarantined;
      r.message = name + " was resolved meanwhile: " + r.outcome.detail;
      break;
    default:
      r.status = QuarantineResult::Status::Done;
      r.message = name + ": " + outcome_name(r.outcome.kind) +
                  (r.outcome.protocol.empty() ? "" : " " + r.outcome.protocol) +
                  (r.outcome.detail.empty() ? "" : " (" + r.outcome.detail + ")");
  }
  return r;
}

std::vector<QuarantineResult> Quarantine::retry_all() {
  std::vector<QuarantineResult> results;
  // Page by id so that entries still quarantined after their retry are not retried again.
  std::int64_t after = 0;
  for (;;) {
    bool any = false;
    for (const auto& entry : store_.quarantined(1000)) {
      if (entry.id <= after) continue;
      any = true;
      after = entry.id;
      results.push_back(retry(entry.id));
    }
    if (!any) break;
  }
  return results;
}

QuarantineResult Quarantine::drop(std::int64_t id, const std::string& reason, const std::string& actor) {
  const std::string name = "journal " + std::to_string(id);
  if (reason.find_first_not_of(" \t\r\n") == std::string::npos)
    return result(QuarantineResult::Status::Invalid, id, "a drop needs a reason");
  StoreTransaction tx(store_);
  auto entry = store_.journal_entry(id);
  if (!entry) return result(QuarantineResult::Status::NotFound, id, "no " + name);
  if (entry->outcome != kQuarantined)
    return result(QuarantineResult::Status::NotQuarantined, id,
                  name + " is not in the quarantine (" + entry->outcome + "): nothing done");
  JournalEntry dropped = *entry;
  dropped.outcome = "dropped";
  dropped.detail = "dropped by " + actor + ": " + reason + " (" + entry->detail + ")";
  dropped.updated_at = clock_.now();
  if (!store_.update_quarantined(dropped))
    return result(QuarantineResult::Status::NotQuarantined, id, name + " was resolved meanwhile: nothing done");
  tx.commit();
  return result(QuarantineResult::Status::Done, id, name + " dropped: " + reason);
}

}  // namespace atendd

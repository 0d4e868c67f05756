// quarantine.h — the messages that could not be applied (journal outcome "quarantined", raw bytes
// kept) and what an operator does with them: look at them, retry one or all through today's
// pipeline and configuration, or drop one with a reason. A retry lands the message as if it had
// just arrived, exactly once: it rewrites the same journal entry inside the pipeline's
// transaction, so a second retry (or two at once) finds nothing left to do. A drop keeps the
// entry, as "dropped", with who and why. Nothing here deletes anything.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "daemon/pipeline/inbound.h"
#include "parsers/message.h"
#include "storage/blob_store.h"
#include "storage/store.h"

namespace atendd {

// One quarantined (or formerly quarantined) message, with its raw bytes read again.
struct QuarantineDetail {
  JournalEntry entry;
  bool raw_found = false;
  std::int64_t raw_size = 0;
  ParsedMessage parsed;  // headers and defects, when the raw bytes were found
};

// What became of one retry or drop.
struct QuarantineResult {
  enum class Status {
    Done,            // retried: applied (or recognised as a loop, a duplicate…); dropped: dropped
    StillQuarantined,  // retried and still not applicable: the entry keeps today's reason
    NotQuarantined,  // nothing done: the entry is not in the quarantine (any more)
    NotFound,        // no such journal entry
    RawMissing,      // the raw message is no longer in the state directory
    Invalid,         // a drop without a reason
  };
  Status status = Status::NotFound;
  std::int64_t id = 0;
  Outcome outcome;      // for a retry that ran
  std::string message;  // one line for a terminal or a JSON reply
};
const char* quarantine_status_name(QuarantineResult::Status status);
// A journal id as an operator types it (digits, above 0); false otherwise.
bool parse_journal_id(const std::string& text, std::int64_t& id);

class Quarantine {
 public:
  Quarantine(Store& store, const BlobStore& blobs, InboundPipeline& pipeline, const Clock& clock);

  // Quarantined entries, oldest first.
  std::vector<JournalEntry> list(int limit);
  // Any journal entry by id, with its raw message parsed again; nothing when there is none.
  std::optional<QuarantineDetail> show(std::int64_t id);
  // Runs the entry's raw message through the pipeline again (exactly once; see above).
  QuarantineResult retry(std::int64_t id);
  // Retries every quarantined entry, oldest first; one result each.
  std::vector<QuarantineResult> retry_all();
  // Marks the entry "dropped" with `actor` and `reason` (required); the raw message stays.
  QuarantineResult drop(std::int64_t id, const std::string& reason, const std::string& actor);

 private:
  Store& store_;
  const BlobStore& blobs_;
  InboundPipeline& pipeline_;
  const Clock& clock_;
};

}  // namespace atendd

// inbound.h — the whole inbound path for one raw message (or a batch, group committed): journal check, parse (once), loop
// guard, type routing, ticket engine, outbox — all in one store transaction (invariant 1), and
// recognised as already done when the same message comes again (invariant 2).
// Sources (deliver, IMAP, webhooks) hand raw bytes here and act on the Outcome.
#pragma once

#include <string>
#include <vector>

#include <Poco/Logger.h>

#include "daemon/config/config.h"
#include "daemon/outbox/renderer.h"
#include "daemon/pipeline/threader.h"
#include "daemon/pipeline/type_router.h"
#include "daemon/tickets/clock.h"
#include "storage/blob_store.h"
#include "storage/store.h"

namespace atendd {

// RawMessage::source of an archive import: the message is applied at its own date, its agents
// known by address, and nothing is sent (daemon/sources/archive_import.h).
inline constexpr const char* kImportSource = "import";
inline constexpr const char* kImportNoAnswer = "imported from an archive: nothing is sent";

struct RawMessage {
  std::string bytes;
  std::string source = "deliver";  // "deliver", "imap", "webhook", "import"
  std::string mailbox;
  std::int64_t uidvalidity = 0;    // IMAP only
  std::int64_t uid = 0;            // IMAP only
  // IMAP only: the message is larger than the mailbox's max_message_mb, so `bytes` holds only
  // its header (at most 1 MiB of it); `size` is the whole message's RFC822.SIZE.
  bool oversized = false;
  std::int64_t size = 0;
};

struct Outcome {
  enum class Kind {
    TicketCreated,  // a new ticket with its article and mails
    Appended,       // an article on an existing ticket (reply, note, bounce), with its mails
    Duplicate,      // already done earlier: nothing changed
    Ignored,        // a loop: journalled, nothing else
    Rejected,       // can never be processed (empty input): journalled, raw kept
    Failed,         // an unexpected error while applying: rolled back, then journalled as
                    // "failed" with the raw message kept for a later retry
  };
  Kind kind = Kind::Failed;
  std::string protocol;   // the ticket, when there is one
  std::string detail;     // reason, error, defects
  std::int64_t journal_id = 0;
};
const char* outcome_name(Outcome::Kind kind);

class InboundPipeline {
 public:
  InboundPipeline(Store& store, BlobStore& blobs, const Config& config, const Renderer& renderer,
                  const Clock& clock, Poco::Logger& log);

  // Runs the message through the path. Throws StoreError only for environment failures before
  // anything was committed (a busy or unwritable store): the caller retries later (exit 75).
  Outcome process(const RawMessage& raw);

  // Group commit: the batch's blobs are made durable together, then every message is applied in
  // its own savepoint inside one transaction. One Outcome per message, in order; a message that
  // fails is rolled back alone and journalled as failed. Throws like process() (then nothing of
  // the batch is committed: a busy store leaves every message for a retry).
  std::vector<Outcome> process_batch(const std::vector<RawMessage>& batch);

 private:
  struct Prepared;
  std::vector<Outcome> run_batch(const std::vector<const RawMessage*>& batch);
  // Applies one parsed message inside the open transaction; throws on failure.
  Outcome apply(const RawMessage& raw, const Prepared& prepared, std::string& log_line);
  Outcome journal_failure(const RawMessage& raw, const Prepared& prepared, Outcome::Kind kind,
                          const std::string& detail);

  Store& store_;
  BlobStore& blobs_;
  const Config& config_;
  const Renderer& renderer_;
  const Clock& clock_;
  Poco::Logger& log_;
  TypeRouter router_;
  Threader threader_;
};

}  // namespace atendd

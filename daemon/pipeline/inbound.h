// inbound.h — the whole inbound path for one raw message (or a batch, group committed): journal check, parse (once), loop
// guard, type routing, ticket engine, outbox — all in one store transaction (invariant 1), and
// recognised as already done when the same message comes again (invariant 2). A message that
// cannot be applied is quarantined (journalled with its reason, raw kept) and committed like any
// other, so the source moves on; applying it later rewrites that same journal row, once.
// Every stage reports its decisions to an Explanation, kept in the journal; explain() runs the
// same path on a message and rolls everything back.
// Sources (deliver, IMAP, webhooks) hand raw bytes here and act on the Outcome.
#pragma once

#include <optional>
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
  // A retry from the quarantine: the journal entry this message resolves (0: a new arrival).
  std::int64_t retry_of = 0;
  // Messaging channels only (webhook_receiver.h): the sender's channel address when the message
  // names no ticket. It then continues the sender's open conversation on `mailbox` (the channel),
  // looked up inside the store transaction under Store::lock_sender, so that messages of one
  // sender handled at once (two instances, two requests) make one ticket; without one it opens a
  // ticket as any message does.
  std::string conversation_of;
};

struct Outcome {
  enum class Kind {
    TicketCreated,  // a new ticket with its article and mails
    Appended,       // an article on an existing ticket (reply, note, bounce), with its mails
    Duplicate,      // already done earlier: nothing changed
    Ignored,        // a loop: journalled, nothing else
    Rejected,       // can never be processed (empty input): journalled, raw kept
    Quarantined,    // could not be applied (the parser gave up, the store refused it, a filter
                    // threw): rolled back, then journalled "quarantined" with its reason and the
                    // raw message kept for `atendd quarantine retry`
  };
  Kind kind = Kind::Quarantined;
  std::string protocol;   // the ticket, when there is one
  std::string detail;     // reason, error, defects
  std::int64_t journal_id = 0;
};
const char* outcome_name(Outcome::Kind kind);

class InboundPipeline {
 public:
  // `blobs`, when it keeps blobs in a database, must keep them in `store` (Runtime's pair): a
  // batch's raw messages are written in the transaction that applies the batch.
  InboundPipeline(Store& store, BlobStore& blobs, const Config& config, const Renderer& renderer,
                  const Clock& clock, Poco::Logger& log);

  // Runs the message through the path. Throws StoreError only for environment failures before
  // anything was committed (a busy or unwritable store): the caller retries later (exit 75).
  Outcome process(const RawMessage& raw);

  // Runs the message through the same path with `explanation` as every stage's sink, then rolls
  // the store transaction back: nothing is journalled, no ticket, article or mail is kept. Writes
  // the raw bytes and attachments to the blob store it was given: hand it a scratch one.
  Outcome explain(const RawMessage& raw, Explanation& explanation);

  // Group commit: the batch's blobs are made durable together, then every message is applied in
  // one transaction (should one fail, the batch again with a savepoint per message). One Outcome
  // per message, in order; a message that fails is rolled back alone and quarantined. Throws like process() (then nothing of
  // the batch is committed: a busy store leaves every message for a retry).
  std::vector<Outcome> process_batch(const std::vector<RawMessage>& batch);

 private:
  struct Prepared;
  // `dry_run`: everything is rolled back and `explanation` (then required) gets the decisions.
  std::vector<Outcome> run_batch(const std::vector<const RawMessage*>& batch, bool dry_run = false,
                                 Explanation* explanation = nullptr);
  // Hashes and parses one message (no store, no blob writes): safe on any thread.
  static void prepare(const RawMessage& raw, Prepared& prepared);
  // prepare() for every message of the batch, shared with a second thread when worth it. Throws
  // only what prepare() cannot catch (the parser's failures are kept in each Prepared).
  static void prepare_all(const std::vector<const RawMessage*>& batch, std::vector<Prepared>& prepared);
  // Applies every message of the batch inside the open transaction. With `savepoints`, each in its
  // own savepoint: one that fails is rolled back alone and quarantined, and the result is true.
  // Without: false at the first message that fails (the caller rolls back and tries again with
  // savepoints). A busy store throws StoreError either way.
  bool apply_all(const std::vector<const RawMessage*>& batch, const std::vector<Prepared>& prepared,
                 std::vector<Outcome>& outcomes, std::vector<std::pair<int, std::string>>& log_lines,
                 Explanation* explanation, bool savepoints);
  // After COMMIT: the defect counters and the log lines of the batch.
  void report(const std::vector<Outcome>& outcomes, const std::vector<Prepared>& prepared,
              const std::vector<std::pair<int, std::string>>& log_lines);
  // Applies one parsed message inside the open transaction; throws on failure.
  Outcome apply(const RawMessage& raw, const Prepared& prepared, Explanation& explanation, std::string& log_line);
  // The journal entry this message already has (a retry's, or one with its source or content).
  std::optional<JournalEntry> journalled(const RawMessage& raw, const Prepared& prepared);
  // Journals a message that is not applied (rejected, quarantined): rewrites its quarantined
  // entry when it has one; reports a duplicate when it was already done. `explanation`: the
  // decisions taken before it stopped.
  Outcome journal_failure(const RawMessage& raw, const Prepared& prepared, Outcome::Kind kind,
                          const std::string& detail, const std::string& explanation);

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

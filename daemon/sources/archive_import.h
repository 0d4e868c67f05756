// archive_import.h — `atendd import --mailbox NAME FILE.mbox|MAILDIR [--since DATE]`: builds
// tickets from old mail (threads, contacts, agents' replies) through the same inbound pipeline as
// live mail, with RawMessage::source "import": each message is applied at its own date, a
// configured agent is known by address, and nothing is sent — no outbox row is written and no
// automatic answer is counted, so neither a customer nor a loop limit ever notices an import.
// Resumable and idempotent through the journal: a message already applied (same Message-ID in a
// ticket, or the same bytes journalled) is skipped, so a second run, or a run after a kill,
// imports nothing twice. Never sends mail, never changes the archive.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <Poco/Logger.h>

#include "daemon/config/config.h"
#include "daemon/outbox/renderer.h"
#include "daemon/tickets/clock.h"
#include "storage/blob_store.h"
#include "storage/store.h"

namespace atendd {

// One message of an archive: where its bytes are, and what sorting and --since need.
struct ArchiveEntry {
  std::string file;             // the mbox file, or the Maildir message file
  std::uint64_t offset = 0;     // mbox: where the message starts (after its "From " line)
  std::uint64_t length = 0;     // mbox: its length (without the separating blank line)
  bool mbox = false;
  std::optional<std::int64_t> date;  // its Date header, UTC
};

struct Archive {
  std::vector<ArchiveEntry> entries;  // oldest first (a message without a date keeps its place)
  std::string error;                  // set when the path cannot be read as an mbox or a Maildir
};

// Lists an mbox file (mboxrd or mboxo "From " separators) or a Maildir (cur/ and new/).
Archive read_archive(const std::string& path);
// The raw message of an entry, with mbox ">From " quoting undone (mboxrd: one '>' less on every
// ">…>From " line). Throws std::runtime_error when the file cannot be read.
std::string read_archive_message(const ArchiveEntry& entry);
// The messages of mbox text, unquoted (for tests and benchmarks).
std::vector<std::string> split_mbox(std::string_view text);

struct ImportOptions {
  std::string mailbox;
  std::string path;
  std::optional<std::int64_t> since;  // messages dated before it are left out
  int batch = 100;                    // messages per store transaction
};

struct ImportSummary {
  std::int64_t found = 0;          // messages in the archive
  std::int64_t before_since = 0;   // left out by --since
  std::int64_t created = 0;        // tickets opened
  std::int64_t appended = 0;       // articles added to tickets
  std::int64_t duplicates = 0;     // already imported or already taken live
  std::int64_t ignored = 0;        // loops (our own mail coming back): journalled only
  std::int64_t rejected = 0;
  std::int64_t quarantined = 0;    // could not be applied: quarantined; a later run tries them again
  double seconds = 0;
  std::string summary_line() const;
};

// Runs the import. `progress` (when given) gets a "\r"-rewritten line with count, rate and time
// left. Throws StoreError when the store stays busy, std::runtime_error when the archive cannot be
// read; what was committed before stays committed (a later run goes on from there).
ImportSummary run_import(Store& store, BlobStore& blobs, const Config& config, const Renderer& renderer,
                         const Clock& clock, Poco::Logger& log, const ImportOptions& options,
                         std::ostream* progress);

// The command: opens the runtime, runs the import (progress on stderr when it is a terminal),
// prints the summary. Exit 0 when everything was applied, 65 when some messages failed (they are
// journalled; a rerun retries them), 66 when the archive cannot be read, 75 when the store is busy.
int import_command(const Config& config, const ImportOptions& options, std::ostream& out, std::ostream& err,
                   Poco::Logger& log);

// "YYYY-MM-DD" (UTC midnight) or an RFC 5322 date; nothing when unreadable.
std::optional<std::int64_t> parse_since(const std::string& text);

}  // namespace atendd

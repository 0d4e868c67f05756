// imap_poller.h — the intake of one [mailbox.NAME]: fetches the messages with a UID above the
// last one applied (a re-scan from UID 1 when UIDVALIDITY changed), hands each to the inbound
// pipeline in UID order, and only after that returned marks it seen, moves or deletes it and
// advances the mailbox's position in the store (invariant 1). Waits with IDLE or polls; on any
// failure reconnects with backoff, logging once per change. Never flags a message that was not
// handed over, and never blocks another mailbox's poller.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include <Poco/Logger.h>

#include "daemon/config/config.h"
#include "daemon/pipeline/inbound.h"
#include "storage/store.h"

namespace atendd {

class ImapConnection;
struct SelectedMailbox;

// What /healthz reports of a mailbox.
struct ImapPollerStatus {
  bool connected = false;
  Timestamp last_success_at = 0;  // the last time a fetch cycle finished; 0 = never
  std::string last_error;         // empty while the last attempt worked
};

// Timing knobs; the defaults are the product's, tests shorten them.
struct ImapPollerTiming {
  std::chrono::milliseconds read_timeout{60000};       // every wait for the server
  std::chrono::milliseconds backoff_initial{1000};     // doubles after each failure
  std::chrono::milliseconds backoff_max{60000};
  std::chrono::milliseconds idle_reissue{25 * 60 * 1000};  // before the server's 30 min timeout
  std::chrono::milliseconds busy_retry{1000};          // after the store was busy
  std::chrono::milliseconds stop_check{500};           // how soon `stop` is noticed
  // Messages per UID FETCH (and transaction). A backlog goes in batches of 1,000: an index page
  // touched by several messages of a batch is written to the log once per batch, and 1,000 rather
  // than 250 wrote 23 % fewer log bytes per message at 10,000 messages (bench_pipeline's logKB).
  int batch_messages = 1000;
  std::size_t batch_bytes = 64u << 20;                 // bytes per UID FETCH (about)
};

class ImapPoller {
 public:
  using Handler = std::function<Outcome(const RawMessage&)>;
  // Group commit: handles a whole fetched batch in one store transaction (one Outcome per
  // message) and may throw StoreError (Busy: the whole batch is left as it is for a retry).
  using BatchHandler = std::function<std::vector<Outcome>(const std::vector<RawMessage>&)>;

  // `handle` runs the whole inbound pipeline for one message and commits; it may throw
  // StoreError (Busy: the message is left as it is and tried again shortly).
  ImapPoller(const MailboxConfig& config, Store& store, Handler handle, Poco::Logger& log,
             ImapPollerTiming timing = {});
  // With a batch handler: each fetched batch is handed over at once; after its commit the whole
  // batch is flagged (or moved, or deleted) with one command over its UID set and the position
  // is saved once. A crash in between re-delivers at most that batch, which the journal knows.
  ImapPoller(const MailboxConfig& config, Store& store, BatchHandler handle_batch, Poco::Logger& log,
             ImapPollerTiming timing = {});

  // Works until `stop` becomes true (noticed within about stop_check); never throws.
  void run(const std::atomic<bool>& stop);

  ImapPollerStatus status() const;

 private:
  enum class CycleEnd { CaughtUp, MoreWaiting, StoreBusy, Stopped };
  // One connection's life; sets was_connected once logged in and selected.
  void session(const std::atomic<bool>& stop, bool& was_connected);
  CycleEnd fetch_new(ImapConnection& conn, const SelectedMailbox& selected,
                     const std::atomic<bool>& stop);
  // The mailbox's `after` action for a UID set ("7" or "3:5,9").
  void after_handled(ImapConnection& conn, const std::string& uids);
  void save_position(std::int64_t uidvalidity, std::int64_t uid);
  // IDLE until the server reports new mail, idle_reissue passes or stop is set.
  void idle(ImapConnection& conn, const std::atomic<bool>& stop);
  // Sleeps `how_long` in stop_check slices; false when stop was set.
  bool wait(std::chrono::milliseconds how_long, const std::atomic<bool>& stop) const;

  void mark_connected();
  void mark_success();
  void mark_failure(const std::string& error);
  // Connected, but the store refused the fetched mail for now (last_error says so, for /healthz).
  void mark_store_busy();

  const MailboxConfig& config_;
  Store& store_;
  Handler handle_;
  BatchHandler handle_batch_;
  Poco::Logger& log_;
  ImapPollerTiming timing_;
  std::size_t max_message_bytes_;

  mutable std::mutex status_mutex_;
  ImapPollerStatus status_;
  bool ever_failed_ = false;
};

}  // namespace atendd

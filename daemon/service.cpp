// service.cpp — see service.h.
#include "daemon/service.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <memory>
#include <random>
#include <thread>

#include <malloc.h>
#include <unistd.h>

#include "daemon/idle_pages.h"
#include "daemon/outbox/channel_sender.h"
#include "daemon/outbox/outbox_sender.h"
#include "daemon/outbox/outbox_writer.h"
#include "daemon/pipeline/inbound.h"
#include "daemon/runtime.h"
#include "daemon/sources/imap_poller.h"
#include "daemon/sources/telegram_poller.h"
#include "daemon/tickets/scheduler.h"

namespace atendd {

namespace {
// The outbox is also filled by other processes (`atendd deliver`), so it is looked at this often
// even when nothing here woke the sender.
constexpr auto kOutboxPoll = std::chrono::milliseconds(1000);
// How often the lifecycle scheduler looks for deadlines, reminders and auto-closes.
constexpr Timestamp kSchedulerSeconds = 60;
// Quiet this long after start-up or the last mail in or out, the process gives the heap pages it
// freed back to the kernel (once per quiet spell). glibc returns only the top of the heap by
// itself; the pages freed in the middle (start-up work, the last batch's messages, the page
// caches the pollers released) stay resident until malloc_trim.
constexpr auto kQuietBeforeTrim = std::chrono::seconds(5);
// Quiet this long, with no mailbox batch in hand, the process also gives back the pages of the
// binary and the shared libraries that start-up or the last work touched (idle_pages.h): about
// 18 MiB of code and read-only data resident after start, of which the idle loop uses a few.
// Once per quiet spell; the next work faults back what it needs from the page cache.
constexpr auto kQuietBeforePageRelease = std::chrono::seconds(30);

// Test-only override (ATENDD_TEST_QUIET_SECONDS), like ATENDD_FAILPOINT: never set in production.
std::chrono::steady_clock::duration quiet_before_page_release() {
  const char* v = std::getenv("ATENDD_TEST_QUIET_SECONDS");
  const int n = v ? std::atoi(v) : 0;
  if (n >= 1) return std::chrono::seconds(n);
  return kQuietBeforePageRelease;
}
}  // namespace

// --- mailbox leases: with a shared database (PostgreSQL) several instances run with
// the same mailboxes, and each mailbox is polled only by the instance holding its lease row
// "mailbox:NAME". The holder renews it every third of its time to live; an instance that dies
// stops renewing, and another takes the mailbox over once the lease ran out: within
// kLeaseSeconds + kLeaseRetrySeconds (25 s). Exactly-once still rests on the journal, so a
// moment of two pollers (a holder stalled past its lease) duplicates nothing. SQLite is one
// instance by design: no leases there.
namespace {
constexpr int kLeaseSeconds = 20;
constexpr int kLeaseRetrySeconds = 5;

// Test-only override (ATENDD_TEST_LEASE_SECONDS), like ATENDD_FAILPOINT: never set in production.
int lease_seconds() {
  const char* v = std::getenv("ATENDD_TEST_LEASE_SECONDS");
  const int n = v ? std::atoi(v) : 0;
  return n >= 3 ? n : kLeaseSeconds;
}

bool shared_database(const Config& config) {
  return config.server.database.rfind("postgresql://", 0) == 0 || config.server.database.rfind("postgres://", 0) == 0;
}

// Who we are in the lease table: host, process and a random part (pids repeat across restarts).
const std::string& instance_id() {
  static const std::string id = [] {
    char host[256] = {0};
    ::gethostname(host, sizeof host - 1);
    std::random_device random;
    char suffix[16];
    std::snprintf(suffix, sizeof suffix, "%08x", random());
    return std::string(host) + ":" + std::to_string(::getpid()) + ":" + suffix;
  }();
  return id;
}

// Sleeps up to `seconds`, waking early when `stop` is set; false when it was.
bool sleep_unless(const std::atomic<bool>& stop, double seconds) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<long>(seconds * 1000));
  while (!stop.load()) {
    if (std::chrono::steady_clock::now() >= until) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

// Runs `poll(poll_stop)` on this thread while this instance holds the mailbox's lease, renewing it
// on a helper thread with its own store connection; poll_stop is set when `stop` is or the lease
// is lost. Without a shared database, simply polls until `stop`.
void poll_holding_lease(const Config& config, const std::string& mailbox_id, const std::atomic<bool>& stop,
                        Poco::Logger& log, const std::function<void(const std::atomic<bool>&)>& poll) {
  if (!shared_database(config)) {
    poll(stop);
    return;
  }
  const std::string name = "mailbox:" + mailbox_id;
  const std::string& holder = instance_id();
  const int ttl = lease_seconds();
  const double renew_every = ttl / 3.0;
  const double retry_every = std::min<double>(kLeaseRetrySeconds, ttl / 3.0);
  auto now = [] { return static_cast<Timestamp>(std::time(nullptr)); };
  std::unique_ptr<Store> leases;
  bool waiting_logged = false;
  while (!stop.load()) {
    bool have = false;
    try {
      if (!leases) leases = open_store(config.server.database);
      have = leases->try_acquire_lease(name, holder, now(), ttl);
    } catch (const std::exception& e) {
      log.warning("mailbox " + mailbox_id + ": lease not checked: " + e.what());
      leases.reset();
    }
    if (!have) {
      if (!waiting_logged) {
        auto other = leases ? leases->lease_holder(name, now()) : std::nullopt;
        log.information("mailbox " + mailbox_id + ": polled by " + other.value_or("another instance") +
                        "; this one takes over if that stops");
        waiting_logged = true;
      }
      sleep_unless(stop, retry_every);
      continue;
    }
    waiting_logged = false;
    log.information("mailbox " + mailbox_id + ": lease taken by " + holder);
    std::atomic<bool> poll_stop{false};
    std::atomic<bool> polled{false};
    bool lost = false;
    std::thread renewer([&] {
      Timestamp renewed = now();
      while (!polled.load() && sleep_unless(stop, renew_every) && !polled.load()) {
        try {
          if (!leases->renew_lease(name, holder, now(), ttl)) {
            lost = true;
            break;
          }
          renewed = now();
        } catch (const std::exception& e) {
          log.warning("mailbox " + mailbox_id + ": lease not renewed: " + e.what());
          if (now() - renewed + renew_every >= ttl) {  // it may run out before the next try
            lost = true;
            break;
          }
        }
      }
      poll_stop = true;
    });
    poll(poll_stop);
    polled = true;
    renewer.join();
    if (lost) {
      log.warning("mailbox " + mailbox_id + ": lease lost; polling stopped here");
    } else {
      try {
        leases->release_lease(name, holder);  // a clean stop hands the mailbox over at once
      } catch (const std::exception&) {
      }
    }
  }
}
}  // namespace
// --- end of mailbox leases

Service::Service(const Config& config, Poco::Logger& log) : config_(config), log_(log) {}

Service::~Service() { stop(); }

void Service::start() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = false;
  }
  Runtime check(config_, log_);  // fail here, in the caller, when the store or templates are bad
  renderer_ = check.shared_renderer();
  outbox_thread_ = std::thread([this] { outbox_loop(); });
  mailboxes_stop_ = false;
  for (const auto& [name, mailbox] : config_.mailboxes) {
    mailbox_threads_.emplace_back([this, &mailbox = mailbox] { mailbox_loop(mailbox); });
  }
  // --- messaging channels: Telegram channels with poll_url are read by getUpdates long polling.
  for (const auto& [name, channel] : config_.channels)
    if (!channel.poll_url.empty())
      channel_threads_.emplace_back([this, &channel = channel] { run_telegram_poller(channel, config_, mailboxes_stop_, log_); });
  // --- admin endpoint (/healthz, /metrics, /api/v1, the status page, /webhooks). A port that
  // cannot be bound is logged and the mail keeps flowing: the endpoint is not the product.
  try {
    // The templates compiled once above: a second compiled set would hold another ~0.5 MiB.
    admin_ = std::make_unique<AdminServer>(config_, log_, [this] { return mailbox_health(); }, renderer_);
    admin_->start();
  } catch (const std::exception& e) {
    admin_.reset();
    log_.error("admin endpoint on " + config_.server.admin_listen + " not started: " + e.what());
  }
  // --- end of admin endpoint
}

std::vector<MailboxHealth> Service::mailbox_health() const {
  std::vector<MailboxHealth> out;
  std::lock_guard<std::mutex> lock(pollers_mutex_);
  for (const auto& [name, mailbox] : config_.mailboxes) {
    MailboxHealth health;
    health.id = name;
    health.poll_seconds = mailbox.poll_seconds;
    const auto it = pollers_.find(name);
    if (it != pollers_.end()) {
      health.running = true;
      health.status = it->second->status();
    }
    out.push_back(std::move(health));
  }
  return out;
}

void Service::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  mailboxes_stop_ = true;
  wake_.notify_all();
  // --- admin endpoint: stop taking requests first (webhooks write to the store).
  if (admin_) {
    admin_->stop();
    admin_.reset();
  }
  for (auto& t : channel_threads_) t.join();
  channel_threads_.clear();
  // --- end of admin endpoint
  for (auto& t : mailbox_threads_) t.join();
  mailbox_threads_.clear();
  if (outbox_thread_.joinable()) outbox_thread_.join();
}

void Service::outbox_loop() {
  try {
    Runtime runtime(config_, log_, renderer_);  // this thread's own store connection
    // This connection only records deliveries (and runs the scheduler's rounds): a record lost
    // to a power failure means a mail sent twice, not one lost, so its commits wait for no disk.
    runtime.store().set_durable_commits(false);
    // With SQLite this process is the only daemon: mails still claimed ("sending") were claimed by
    // a run of it that died mid-send. Give them back now, or they wait out their 5-minute lease
    // after every crash. (A concurrent `atendd deliver` may be sending one of them this very
    // moment: then that one mail goes out twice, as after any crash.)
    if (!shared_database(config_)) {
      try {
        const auto stale = runtime.store().outbox_in_state(OutboxState::Sending, 100000);
        for (const auto& mail : stale) runtime.store().release_outbox(mail.id);
        if (!stale.empty())
          log_.warning("outbox: " + std::to_string(stale.size()) +
                       " mail(s) left claimed by a previous run given back for sending");
      } catch (const std::exception& e) {
        log_.error(std::string("outbox: claimed mails of a previous run not given back: ") + e.what());
      }
    }
    OutboxSender sender(runtime.store(), config_.smtp, runtime.helo(), runtime.clock(), log_);
    // --- lifecycle scheduler: SLA escalations, reminders, auto-close (scheduler.h), on this
    // thread's store, once a minute; its mails go to the outbox drained just below.
    OutboxWriter scheduler_writer(runtime.store(), runtime.blobs(), config_, runtime.renderer(), runtime.clock());
    Scheduler scheduler(
        runtime.store(), config_, runtime.clock(),
        [&scheduler_writer](const TicketUpdate& update) { scheduler_writer.queue(update, no_inbound_message()); }, log_);
    Timestamp next_schedule = 0;
    // --- end of lifecycle scheduler
    // --- messaging channels: replies to channel contacts go out through the channel's API.
    ChannelSender channel_sender(runtime.store(), config_, runtime.clock(), log_);
    // --- idle memory: the time of the last work seen by this loop, and whether the quiet spell
    // since then has been trimmed and its pages given back.
    auto last_busy = std::chrono::steady_clock::now();
    bool trimmed = false;
    bool pages_released = false;
    bool page_release_refused = false;  // the kernel (or a seccomp filter) refused it: not again
    const auto quiet_before_release = quiet_before_page_release();
    for (;;) {
      bool busy = false;
      try {
        if (runtime.clock().now() >= next_schedule) {
          next_schedule = runtime.clock().now() + kSchedulerSeconds;
          // --- mailbox leases: with a shared database one instance at a time runs the scheduler
          // (the "scheduler" lease, held while it keeps ticking; taken over when it stops).
          if (!shared_database(config_) ||
              runtime.store().try_acquire_lease("scheduler", instance_id(), runtime.clock().now(),
                                                static_cast<int>(3 * kSchedulerSeconds)))
            scheduler.tick();
        }
      } catch (const std::exception& e) {
        log_.error(std::string("scheduler: ") + e.what());
      }
      try {
        channel_sender.drain_due();
      } catch (const std::exception& e) {
        log_.error(std::string("channel outbox: ") + e.what());
      }
      try {
        const DrainResult result = sender.drain_due();
        if (result.sent + result.retried + result.failed == 0) sender.close();
        else busy = true;
      } catch (const std::exception& e) {
        log_.error(std::string("outbox: ") + e.what());
      }
      // --- idle memory
      const auto now = std::chrono::steady_clock::now();
      if (busy) {
        last_busy = now;
        trimmed = false;
        pages_released = false;
      } else {
        if (!trimmed && now - last_busy >= kQuietBeforeTrim) {
          ::malloc_trim(0);
          trimmed = true;
        }
        if (!pages_released && !page_release_refused && now - last_busy >= quiet_before_release &&
            batches_in_hand_.load() == 0) {
          const PageRelease release = release_idle_pages();
          pages_released = true;
          if (release.mappings == 0 && release.refused > 0) {
            page_release_refused = true;
            log_.information("idle memory: the kernel refused madvise (errno " + std::to_string(release.first_error) +
                             "); the libraries' start-up pages stay resident");
          } else {
            log_.debug("idle memory: gave back " + std::to_string(release.resident_kb) + " KiB of " +
                       std::to_string(release.mappings) + " file mappings");
          }
        }
      }
      std::unique_lock<std::mutex> lock(mutex_);
      if (wake_.wait_for(lock, kOutboxPoll, [this] { return stopping_ || outbox_due_; }) && stopping_) break;
      if (outbox_due_) {  // a mailbox committed a batch: that was work too
        last_busy = std::chrono::steady_clock::now();
        trimmed = false;
        pages_released = false;
      }
      outbox_due_ = false;
    }
    sender.close();
  } catch (const std::exception& e) {
    log_.critical(std::string("outbox sender stopped: ") + e.what());
  }
}

void Service::mailbox_loop(const MailboxConfig& mailbox) {
  try {
    Runtime runtime(config_, log_, renderer_);  // this thread's own store connection
    InboundPipeline pipeline(runtime.store(), runtime.blobs(), config_, runtime.renderer(),
                             runtime.clock(), log_);
    ImapPoller poller(mailbox, runtime.store(),
                      ImapPoller::BatchHandler([this, &pipeline](const std::vector<RawMessage>& batch) {
                        // --- idle memory: no page release while a batch is in hand.
                        struct InHand {
                          std::atomic<int>& count;
                          explicit InHand(std::atomic<int>& c) : count(c) { ++count; }
                          ~InHand() { --count; }
                        } in_hand(batches_in_hand_);
                        std::vector<Outcome> outcomes = pipeline.process_batch(batch);
                        // Committed: the opening mails go out now, not at the outbox's next look.
                        {
                          std::lock_guard<std::mutex> lock(mutex_);
                          outbox_due_ = true;
                        }
                        wake_.notify_all();
                        return outcomes;
                      }),
                      log_);
    // --- admin endpoint: registered while it exists, for /healthz.
    {
      std::lock_guard<std::mutex> lock(pollers_mutex_);
      pollers_[mailbox.id] = &poller;
    }
    // --- mailbox leases: polls only while this instance holds the mailbox's lease.
    poll_holding_lease(config_, mailbox.id, mailboxes_stop_, log_,
                       [&poller](const std::atomic<bool>& stop) { poller.run(stop); });
    {
      std::lock_guard<std::mutex> lock(pollers_mutex_);
      pollers_.erase(mailbox.id);
    }
  } catch (const std::exception& e) {
    log_.critical("mailbox " + mailbox.id + ": intake stopped: " + e.what());
  }
}

}  // namespace atendd

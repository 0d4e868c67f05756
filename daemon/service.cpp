// service.cpp — see service.h.
#include "daemon/service.h"

#include <chrono>

#include "daemon/outbox/outbox_sender.h"
#include "daemon/outbox/outbox_writer.h"
#include "daemon/pipeline/inbound.h"
#include "daemon/runtime.h"
#include "daemon/sources/imap_poller.h"
#include "daemon/tickets/scheduler.h"

namespace atendd {

namespace {
// The outbox is also filled by other processes (`atendd deliver`), so it is looked at this often
// even when nothing here woke the sender.
constexpr auto kOutboxPoll = std::chrono::milliseconds(1000);
// How often the lifecycle scheduler looks for deadlines, reminders and auto-closes.
constexpr Timestamp kSchedulerSeconds = 60;
}  // namespace

Service::Service(const Config& config, Poco::Logger& log) : config_(config), log_(log) {}

Service::~Service() { stop(); }

void Service::start() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = false;
  }
  Runtime check(config_, log_);  // fail here, in the caller, when the store or templates are bad
  outbox_thread_ = std::thread([this] { outbox_loop(); });
  mailboxes_stop_ = false;
  for (const auto& [name, mailbox] : config_.mailboxes) {
    mailbox_threads_.emplace_back([this, &mailbox = mailbox] { mailbox_loop(mailbox); });
  }
}

void Service::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  mailboxes_stop_ = true;
  wake_.notify_all();
  for (auto& t : mailbox_threads_) t.join();
  mailbox_threads_.clear();
  if (outbox_thread_.joinable()) outbox_thread_.join();
}

void Service::outbox_loop() {
  try {
    Runtime runtime(config_, log_);  // this thread's own store connection
    OutboxSender sender(runtime.store(), config_.smtp, runtime.helo(), runtime.clock(), log_);
    // --- lifecycle scheduler: SLA escalations, reminders, auto-close (scheduler.h), on this
    // thread's store, once a minute; its mails go to the outbox drained just below.
    OutboxWriter scheduler_writer(runtime.store(), runtime.blobs(), config_, runtime.renderer(), runtime.clock());
    Scheduler scheduler(
        runtime.store(), config_, runtime.clock(),
        [&scheduler_writer](const TicketUpdate& update) { scheduler_writer.queue(update, no_inbound_message()); }, log_);
    Timestamp next_schedule = 0;
    // --- end of lifecycle scheduler
    for (;;) {
      try {
        if (runtime.clock().now() >= next_schedule) {
          next_schedule = runtime.clock().now() + kSchedulerSeconds;
          scheduler.tick();
        }
      } catch (const std::exception& e) {
        log_.error(std::string("scheduler: ") + e.what());
      }
      try {
        const DrainResult result = sender.drain_due();
        if (result.sent + result.retried + result.failed == 0) sender.close();
      } catch (const std::exception& e) {
        log_.error(std::string("outbox: ") + e.what());
      }
      std::unique_lock<std::mutex> lock(mutex_);
      if (wake_.wait_for(lock, kOutboxPoll, [this] { return stopping_; })) break;
    }
    sender.close();
  } catch (const std::exception& e) {
    log_.critical(std::string("outbox sender stopped: ") + e.what());
  }
}

void Service::mailbox_loop(const MailboxConfig& mailbox) {
  try {
    Runtime runtime(config_, log_);  // this thread's own store connection
    InboundPipeline pipeline(runtime.store(), runtime.blobs(), config_, runtime.renderer(),
                             runtime.clock(), log_);
    ImapPoller poller(mailbox, runtime.store(),
                      [&pipeline](const RawMessage& raw) { return pipeline.process(raw); }, log_);
    poller.run(mailboxes_stop_);
  } catch (const std::exception& e) {
    log_.critical("mailbox " + mailbox.id + ": intake stopped: " + e.what());
  }
}

}  // namespace atendd

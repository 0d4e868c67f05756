// service.cpp — see service.h.
#include "daemon/service.h"

#include <chrono>

#include "daemon/outbox/outbox_sender.h"
#include "daemon/runtime.h"

namespace atendd {

namespace {
// The outbox is also filled by other processes (`atendd deliver`), so it is looked at this often
// even when nothing here woke the sender.
constexpr auto kOutboxPoll = std::chrono::milliseconds(1000);
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
}

void Service::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (outbox_thread_.joinable()) outbox_thread_.join();
}

void Service::outbox_loop() {
  try {
    Runtime runtime(config_, log_);  // this thread's own store connection
    OutboxSender sender(runtime.store(), config_.smtp, runtime.helo(), runtime.clock(), log_);
    for (;;) {
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

}  // namespace atendd

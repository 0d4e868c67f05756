// scheduler.h — what happens because time passed, driven by the injected Clock: SLA deadlines
// (first response, next contact) escalated once each, scheduled tickets' reminders on their day,
// solved tickets closed after their type's auto_close_days. Each ticket is handled in its own store
// transaction together with its mails (handed to `queue`, e.g. the OutboxWriter), so a crash
// never loses or repeats one. It never sends mail itself and never sleeps: call tick() often.
#pragma once

#include <functional>

#include <Poco/Logger.h>

#include "daemon/config/config.h"
#include "daemon/tickets/clock.h"
#include "daemon/tickets/engine.h"
#include "storage/store.h"

namespace atendd {

struct TickResult {
  int escalated = 0;    // deadlines escalated
  int reminded = 0;     // scheduled tickets whose day came
  int auto_closed = 0;  // solved tickets closed by themselves
  int failed = 0;       // tickets whose handling raised an error (rolled back, tried next tick)
};

// An inbound message standing for "no message": for queueing the scheduler's mails.
const InboundMessage& no_inbound_message();

class Scheduler {
 public:
  // `queue` is called inside each ticket's transaction with the engine's update.
  using QueueMails = std::function<void(const TicketUpdate&)>;
  Scheduler(Store& store, const Config& config, const Clock& clock, QueueMails queue, Poco::Logger& log);

  // Handles everything due at clock.now(); at most `limit` tickets of each kind per call.
  // Throws StoreError only when the store is busy before anything was done.
  TickResult tick(int limit = 100);

 private:
  Store& store_;
  const Config& config_;
  const Clock& clock_;
  QueueMails queue_;
  Poco::Logger& log_;
};

}  // namespace atendd

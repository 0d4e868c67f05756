// scheduler.cpp — see scheduler.h.
#include "daemon/tickets/scheduler.h"

#include "daemon/tickets/lifecycle.h"

namespace atendd {

const InboundMessage& no_inbound_message() {
  static const ParsedMessage nothing;
  static const InboundMessage message{nothing, "", "scheduler", "", {}};
  return message;
}

Scheduler::Scheduler(Store& store, const Config& config, const Clock& clock, QueueMails queue, Poco::Logger& log)
    : store_(store), config_(config), clock_(clock), queue_(std::move(queue)), log_(log) {}

TickResult Scheduler::tick(int limit) {
  TickResult result;
  const Timestamp now = clock_.now();
  Engine engine(store_, config_, clock_);

  // One ticket, one transaction: an error rolls back that ticket only.
  auto handle = [&](TicketId id, const char* what, const std::function<bool()>& work) {
    try {
      StoreTransaction tx(store_);
      const bool done = work();
      tx.commit();
      return done;
    } catch (const StoreError& e) {
      if (e.kind() == StoreError::Kind::Busy) throw;
      log_.error(std::string("scheduler: ") + what + " of ticket " + std::to_string(id) + ": " + e.what());
    } catch (const std::exception& e) {
      log_.error(std::string("scheduler: ") + what + " of ticket " + std::to_string(id) + ": " + e.what());
    }
    ++result.failed;
    return false;
  };

  std::vector<PassedDeadline> deadlines;
  {
    StoreTransaction tx(store_);
    deadlines = store_.passed_deadlines(now, statuses_allowing(Action::DeadlinePassed), limit);
    tx.commit();
  }
  for (const auto& passed : deadlines) {
    if (handle(passed.ticket.id, "escalation", [&] {
          store_.mark_deadline(passed.ticket.id, passed.deadline, passed.due, now);
          const auto current = store_.ticket(passed.ticket.id);
          if (!current || !transition(current->status, Action::DeadlinePassed).allowed) return false;
          queue_(engine.escalate(*current, passed.deadline, passed.due));
          return true;
        })) {
      ++result.escalated;
      log_.information("ticket " + passed.ticket.protocol + ": " + passed.deadline + " deadline passed, escalated");
    }
  }

  for (const auto& [kind, action] : {std::make_pair("reminder", Action::ScheduledDay),
                                     std::make_pair("auto_close", Action::AutoClose)}) {
    std::vector<std::pair<TicketId, Timestamp>> due;
    {
      StoreTransaction tx(store_);
      due = store_.due_timers(kind, now, limit);
      tx.commit();
    }
    for (const auto& [id, at] : due) {
      const Action act = action;
      const std::string kind_name = kind;
      const Timestamp when = at;
      const TicketId ticket_id = id;
      if (handle(id, kind_name.c_str(), [&] {
            store_.clear_timer(ticket_id, kind_name);
            const auto current = store_.ticket(ticket_id);
            if (!current || !transition(current->status, act).allowed) return false;
            queue_(act == Action::ScheduledDay ? engine.remind(*current, when) : engine.auto_close(*current));
            return true;
          })) {
        ++(act == Action::ScheduledDay ? result.reminded : result.auto_closed);
        log_.information("ticket " + std::to_string(ticket_id) + ": " + kind_name);
      }
    }
  }
  return result;
}

}  // namespace atendd

// lifecycle.h — the ticket's state machine as ONE table: for every status and every command or
// event, the status it leads to or why it is refused, and which mails it sends. The engine asks
// transition() before it changes anything, and the table-driven test walks the same table, so a
// case missing from it is visible in one place. It never touches the store.
#pragma once

#include <string>
#include <vector>

#include "storage/store.h"

namespace atendd {

enum class Action {
  // Agents' commands (commands.h).
  Take, Assign, Forward, Note, Pause /* #status waiting_third_party */, Resume /* #status in_progress */,
  Schedule, Priority, Type, Field, Expense, Analysis, Stage, Solve, Close, Cancel, Reopen, Watch, Unwatch, Answer, Link, Level,
  // Events.
  CustomerReply,   // the customer wrote in the ticket (a closed one only inside the reopening window)
  CustomerApproval,  // the customer's reply approves the solution (confirmation.h): closed as confirmed;
                     // where it is refused the reply is an ordinary CustomerReply
  AgentReply,      // an agent's plain answer, relayed to the customer
  DeadlinePassed,  // the scheduler found an SLA deadline passed (escalation, once)
  ScheduledDay,    // the scheduler reached a scheduled ticket's day (reminder)
  AutoClose,       // the scheduler found a solved ticket quiet for the type's auto_close_days (closed
                   // as unconfirmed)
};

struct Transition {
  bool allowed = false;
  TicketStatus to = TicketStatus::New;  // when allowed (equal to the status when it stays)
  std::string refusal;                  // when not: what is wrong, in words for the agent
};

// The table's answer for one status and one action.
Transition transition(TicketStatus from, Action action);
// "#take", "#status waiting_third_party", …, "customer_reply", "deadline_passed", …
const char* action_name(Action action);
// The mails the action sends when allowed, comma separated ("forward", "closing, watcher_closed",
// "" for none). Conditions (the type's closing_email, a responsible to tell) are the engine's.
const char* mails_of(Action action);
// Every action and every status, in table order.
const std::vector<Action>& all_actions();
const std::vector<TicketStatus>& all_statuses();
// The statuses from which `action` is allowed.
std::vector<TicketStatus> statuses_allowing(Action action);

}  // namespace atendd

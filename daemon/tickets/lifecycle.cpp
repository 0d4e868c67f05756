// lifecycle.cpp — the table of lifecycle.h. One row per action; one cell per status, in the
// order of all_statuses(): new, in_progress, waiting_customer, waiting_third_party, scheduled,
// solved, closed, reopened, cancelled.
#include "daemon/tickets/lifecycle.h"

#include <array>

namespace atendd {

namespace {

enum class Kind { Stay, Move, Refuse };

struct Cell {
  Kind kind;
  TicketStatus to;
  const char* refusal;
};

constexpr Cell K{Kind::Stay, TicketStatus::New, ""};
constexpr Cell To(TicketStatus s) { return {Kind::Move, s, ""}; }
constexpr Cell No(const char* why) { return {Kind::Refuse, TicketStatus::New, why}; }

constexpr TicketStatus kNew = TicketStatus::New, kProgress = TicketStatus::InProgress,
                       kWaitCustomer = TicketStatus::WaitingCustomer, kWaitThird = TicketStatus::WaitingThirdParty,
                       kScheduled = TicketStatus::Scheduled, kSolved = TicketStatus::Solved,
                       kClosed = TicketStatus::Closed, kReopened = TicketStatus::Reopened,
                       kCancelled = TicketStatus::Cancelled;

const char* const kIsClosed = "the ticket is closed: #reopen it first";
const char* const kIsCancelled = "the ticket is cancelled: nothing more can be done with it";

struct Row {
  Action action;
  const char* name;
  const char* mails;
  std::array<Cell, 9> cells;
};

// clang-format off
const Row kTable[] = {
  //                                                   new            in_progress    waiting_customer  waiting_third_party  scheduled      solved         closed          reopened       cancelled
  {Action::Take,     "#take",     "",                 {To(kProgress), K,             K,                K,                   K,             To(kProgress), No(kIsClosed),  To(kProgress), No(kIsCancelled)}},
  {Action::Assign,   "#assign",   "forward",          {K,             K,             K,                K,                   K,             K,             No(kIsClosed),  K,             No(kIsCancelled)}},
  {Action::Forward,  "#forward",  "forward",          {K,             K,             K,                K,                   K,             K,             No(kIsClosed),  K,             No(kIsCancelled)}},
  {Action::Note,     "#note",     "note",             {K,             K,             K,                K,                   K,             K,             K,              K,             K}},
  {Action::Pause,    "#status waiting_third_party", "",
                                                      {No("nobody took the ticket yet: #take it first"),
                                                                      To(kWaitThird), To(kWaitThird),  No("the ticket already waits for a third party"),
                                                                                                                            To(kWaitThird), No("the ticket is solved: #status in_progress to work on it again"),
                                                                                                                                                          No(kIsClosed),  To(kWaitThird), No(kIsCancelled)}},
  {Action::Resume,   "#status in_progress", "",       {To(kProgress), No("the ticket is already in progress"),
                                                                                     To(kProgress),    To(kProgress),       To(kProgress), To(kProgress), No(kIsClosed),  To(kProgress), No(kIsCancelled)}},
  {Action::Schedule, "#schedule", "scheduled",        {To(kScheduled), To(kScheduled), To(kScheduled), To(kScheduled),      To(kScheduled), No("the ticket is solved: #status in_progress first"),
                                                                                                                                                          No(kIsClosed),  To(kScheduled), No(kIsCancelled)}},
  {Action::Priority, "#priority", "",                 {K,             K,             K,                K,                   K,             K,             No(kIsClosed),  K,             No(kIsCancelled)}},
  {Action::Type,     "#type",     "",                 {K,             K,             K,                K,                   K,             K,             No(kIsClosed),  K,             No(kIsCancelled)}},
  {Action::Field,    "#field",    "",                 {K,             K,             K,                K,                   K,             K,             No(kIsClosed),  K,             No(kIsCancelled)}},
  {Action::Expense,  "#expense",  "",                 {K,             K,             K,                K,                   K,             K,             No(kIsClosed),  K,             No(kIsCancelled)}},
  {Action::Analysis, "#analysis", "",                 {K,             K,             K,                K,                   K,             K,             No(kIsClosed),  K,             No(kIsCancelled)}},
  {Action::Stage,    "#stage",    "",                 {K,             K,             K,                K,                   K,             K,             No(kIsClosed),  K,             No(kIsCancelled)}},
  {Action::Solve,    "#solve",    "solution",         {To(kSolved),   To(kSolved),   To(kSolved),      To(kSolved),         To(kSolved),   No("the ticket is already solved"),
                                                                                                                                                          No(kIsClosed),  To(kSolved),   No(kIsCancelled)}},
  {Action::Close,    "#close",    "closing, watcher_closed",
                                                      {To(kClosed),   To(kClosed),   To(kClosed),      To(kClosed),         To(kClosed),   To(kClosed),   No("the ticket is already closed"),
                                                                                                                                                                          To(kClosed),   No("a cancelled ticket cannot be closed")}},
  {Action::Cancel,   "#cancel",   "",                 {To(kCancelled), To(kCancelled), To(kCancelled), To(kCancelled),      To(kCancelled), To(kCancelled),
                                                                                                                                                          No("a closed ticket cannot be cancelled"),
                                                                                                                                                                          No("the ticket was closed once: it cannot be cancelled any more, #close it again"),
                                                                                                                                                                                         No("the ticket is already cancelled")}},
  {Action::Reopen,   "#reopen",   "reopened",         {No("only a closed ticket can be reopened"), No("only a closed ticket can be reopened"),
                                                                                     No("only a closed ticket can be reopened"), No("only a closed ticket can be reopened"),
                                                                                                                            No("only a closed ticket can be reopened"), No("only a closed ticket can be reopened (a solved one: #status in_progress)"),
                                                                                                                                                          To(kReopened),  No("the ticket is already reopened"),
                                                                                                                                                                                         No("a cancelled ticket cannot be reopened")}},
  {Action::Watch,    "#watch",    "",                 {K,             K,             K,                K,                   K,             K,             No(kIsClosed),  K,             No(kIsCancelled)}},
  {Action::Unwatch,  "#unwatch",  "",                 {K,             K,             K,                K,                   K,             K,             No(kIsClosed),  K,             No(kIsCancelled)}},
  {Action::Answer,   "#answer",   "reply",            {K,             K,             K,                K,                   K,             K,             No(kIsClosed),  K,             No(kIsCancelled)}},
  {Action::Link,     "#link",     "",                 {K,             K,             K,                K,                   K,             K,             K,              K,             No(kIsCancelled)}},
  {Action::Level,    "#level",    "",                 {K,             K,             K,                K,                   K,             K,             No(kIsClosed),  K,             No(kIsCancelled)}},
  {Action::CustomerReply, "customer_reply", "customer_update",
                                                      {K,             K,             To(kProgress),    K,                   K,             To(kProgress), To(kReopened),  K,             K}},
  {Action::CustomerApproval, "customer_approval", "customer_update, closing, watcher_closed",
                                                      {No("not solved"), No("not solved"), No("not solved"), No("not solved"), No("not solved"),
                                                                                                                                           To(kClosed),   No("not solved"), No("not solved"), No("not solved")}},
  {Action::AgentReply, "agent_reply", "reply",        {To(kWaitCustomer), To(kWaitCustomer), K,        K,                   K,             K,             K,              To(kWaitCustomer), K}},
  {Action::DeadlinePassed, "deadline_passed", "escalation",
                                                      {K,             K,             K,                No("paused: waiting for a third party"),
                                                                                                                            No("scheduled: the agreed date is the deadline"),
                                                                                                                                           No("solved"),  No("closed"),    K,             No("cancelled")}},
  {Action::ScheduledDay, "scheduled_day", "reminder", {No("not scheduled"), No("not scheduled"), No("not scheduled"), No("not scheduled"),
                                                                                                                            K,             No("not scheduled"), No("not scheduled"), No("not scheduled"), No("not scheduled")}},
  {Action::AutoClose, "auto_close", "closing, watcher_closed",
                                                      {No("not solved"), No("not solved"), No("not solved"), No("not solved"), No("not solved"),
                                                                                                                                           To(kClosed),   No("not solved"), No("not solved"), No("not solved")}},
};
// clang-format on

const Row& row_of(Action action) {
  for (const Row& row : kTable)
    if (row.action == action) return row;
  return kTable[0];  // every Action has a row (the table test checks it)
}

size_t index_of(TicketStatus status) { return static_cast<size_t>(status); }

}  // namespace

Transition transition(TicketStatus from, Action action) {
  const Cell& cell = row_of(action).cells[index_of(from)];
  Transition t;
  t.allowed = cell.kind != Kind::Refuse;
  t.to = cell.kind == Kind::Move ? cell.to : from;
  if (!t.allowed) t.refusal = cell.refusal;
  return t;
}

const char* action_name(Action action) { return row_of(action).name; }
const char* mails_of(Action action) { return row_of(action).mails; }

const std::vector<Action>& all_actions() {
  static const std::vector<Action> actions = [] {
    std::vector<Action> out;
    for (const Row& row : kTable) out.push_back(row.action);
    return out;
  }();
  return actions;
}

const std::vector<TicketStatus>& all_statuses() {
  static const std::vector<TicketStatus> statuses = {kNew,       kProgress, kWaitCustomer, kWaitThird, kScheduled,
                                                     kSolved,    kClosed,   kReopened,     kCancelled};
  return statuses;
}

std::vector<TicketStatus> statuses_allowing(Action action) {
  std::vector<TicketStatus> out;
  for (TicketStatus s : all_statuses())
    if (transition(s, action).allowed) out.push_back(s);
  return out;
}

}  // namespace atendd

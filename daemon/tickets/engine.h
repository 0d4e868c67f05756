// engine.h — the ticket engine: turns a decision about an inbound message into changes (ticket,
// article, history) and effects (mails to render and queue). Pure logic over the Store interface
// with an injected clock; it never sends mail and never parses (DESIGN.md, "Ticket engine").
// The caller holds the store transaction: everything the engine writes commits or rolls back with
// the message's journal entry.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "daemon/config/config.h"
#include "daemon/pipeline/explanation.h"
#include "daemon/tickets/clock.h"
#include "daemon/tickets/commands.h"
#include "daemon/tickets/lifecycle.h"
#include "parsers/message.h"
#include "storage/store.h"

namespace atendd {

// An inbound message as the engine receives it: parsed once, its raw bytes and attachments
// already in the blob store.
struct InboundMessage {
  const ParsedMessage& parsed;
  std::string raw_sha256;
  std::string source;   // "deliver", "imap", …
  std::string mailbox;
  std::vector<AttachmentRecord> attachments;  // article_id 0; sha256 set
  // Forward-to-open (daemon/pipeline/forward_to_open.h): `parsed` is the customer's original and
  // this verified agent forwarded it; `forward_note` is what the agent wrote above it.
  const AgentConfig* opened_by = nullptr;
  std::string forward_note{};
  // When the message was written, for its article (a forwarded original's date); empty = now.
  std::optional<Timestamp> written_at{};
};

// A mail the ticket wants sent; the outbox renders it from its template and queues it.
struct OutgoingMail {
  enum class Audience { Customer, Agent, Watcher };
  std::string template_name;  // "opening", "forward", "watcher_opened", …
  Audience audience = Audience::Customer;
  std::vector<Address> to;
  std::string agent_id;       // for Audience::Agent (fills {{agent.*}})
  std::vector<Address> cc;
  bool include_attachments = false;  // the inbound message's files go along
  bool automatic = true;      // Auto-Submitted on it; false for a person's words relayed
  std::string text;           // {{message.text}}; empty = the inbound message's new part
  std::string from_name;      // display name on our From; empty = the server's name
  std::string in_reply_to;    // threads it under this Message-ID; empty = the inbound message
  std::string justification;  // {{justification}}
  std::string error;          // {{error}} (command_error)
  std::string final_opinion;  // {{final_opinion}} (closing, watcher_closed)
  std::string due;            // {{due}} (escalation, scheduled, reminder), already formatted
  std::string period;         // {{period}} (scheduled, reminder): the period of the day in words, or empty
};

struct OpenedTicket {
  Ticket ticket;
  std::int64_t article_id = 0;
  std::vector<AttachmentRecord> attachments;  // those kept (the type's size limit applied)
  std::vector<OutgoingMail> mails;
};
using TicketUpdate = OpenedTicket;  // the same shape: the ticket as it is now, the article, the mails

// Whether an address can receive mail: one '@', a dotted or bracketed domain, no spaces or controls.
bool is_usable_address(const std::string& address);
// `bytes` random bytes from the system's generator as lower-case hex (reply tokens, Message-IDs).
std::string random_hex(size_t bytes);
// A display-safe attachment name: no directories, no control characters, bounded length.
std::string safe_filename(const std::string& name);

class Engine {
 public:
  Engine(Store& store, const Config& config, const Clock& clock);

  // Where the engine reports what it decides (priority, department, the responsible and why, the
  // commands read, every history line but mail_queued); null (the default) reports nothing.
  void explain_to(Explanation* sink) { explain_ = sink; }

  // Opens a ticket of `type` for a customer's message: contact, protocol, priority, department,
  // responsible, status new, first article with its attachments, watchers, history; and the mails
  // of a new ticket: the opening e-mail to the customer (when the type says so and
  // `may_answer_sender`), the forward to the responsible agent, the watchers' notice.
  // `no_answer_reason` says why the sender gets no automatic answer (recorded in history).
  // With `message.opened_by` (an agent's forward-to-open) the ticket is still the customer's; the
  // agent is recorded as who opened it ("opened_by" history, the agent's words as an internal
  // note) and is the responsible when the type says forward_assigns_forwarder.
  OpenedTicket open_ticket(const InboundMessage& message, const TypeConfig& type, bool may_answer_sender,
                           const std::string& no_answer_reason);

  // A customer (or a participant) wrote in an existing ticket: a customer article; Cc'd people
  // become watchers; waiting_customer goes back to in_progress; a solved ticket whose customer
  // approves the solution in the new part of the reply (confirmation.h) is closed as confirmed
  // (history, the "confirmation" field, the closing e-mail with the solution as final opinion),
  // any other reply puts it back in progress; a closed ticket reopens inside
  // its type's window (else a new ticket linked to it is opened and returned); the responsible
  // agent gets the new part (customer_update). An automatic message is only stored: it never
  // changes the status, never reopens and is never answered.
  TicketUpdate add_customer_message(const InboundMessage& message, const Ticket& ticket, bool automatic);

  // A verified agent answered through the ticket.
  //
  // Plain text (no command on the first line): an agent article; the new part is relayed to the
  // customer (and the conversation's participants) with the reply template, threaded under the
  // customer's last message; first response time; the status follows lifecycle.h (agent_reply).
  //
  // Commands (commands.h) on the first lines: checked all together first against the ticket as
  // each earlier command leaves it (lifecycle.h, access levels, arguments); one problem and
  // nothing is applied: the agent gets command_error listing every problem and what is allowed,
  // and the ticket gets only a "command_refused" history line. Otherwise they are applied in
  // order, each change in history with who/when/from/to and the text as justification.
  //
  // The text after the command lines:
  //   - is the note of #note, the justification of #assign/#forward/#stage/#reopen, the solution
  //     of #solve (sent in the `solution` mail), the final opinion of #close (in `closing` and
  //     `watcher_closed`), the reason of #cancel, and the words of the `scheduled` mail of
  //     #schedule; with any of these it is never relayed as a reply. #note, #solve, #close and
  //     #cancel refuse an empty text; handing a ticket back to whoever forwarded it needs one.
  //   - otherwise (#take, #status, #priority, #type, #field, #watch, #unwatch, #link, #level,
  //     #answer) it is relayed to the customer as a reply, with the canned answers of #answer
  //     after it; such a relay counts as a contact (first response, next contact) but leaves the
  //     status as the commands set it.
  // "#answer" without a name applies nothing: the agent gets the command_error mail listing the
  // canned answers of the ticket's stage with their text, then the others. "#schedule DATE
  // PERIOD" (morning|afternoon|evening|any) tells the customer the period in words. "#stage"
  // follows workflow.h, into and out of sub-workflows.
  // An agent below the ticket's access level can neither answer nor command it (invariant 5).
  TicketUpdate add_agent_reply(const InboundMessage& message, const Ticket& ticket, const AgentConfig& agent);

  // Scheduler events (scheduler.h); each returns the ticket as it is now and the mails to queue.
  // An SLA deadline ("first_response", "next_contact") due at `due` passed: history and one
  // escalation mail to the responsible and the chiefs of the ticket's department.
  TicketUpdate escalate(const Ticket& ticket, const std::string& deadline, Timestamp due);
  // The day of a scheduled ticket came: a reminder to the responsible.
  TicketUpdate remind(const Ticket& ticket, Timestamp scheduled_for);
  // A solved ticket stayed quiet for its type's auto_close_days: closed as unconfirmed (history
  // and the "confirmation" field), with the closing e-mail (the solution as final opinion) and
  // the watchers' notice.
  TicketUpdate auto_close(const Ticket& ticket);

  // Whether one more automatic mail may go to `address` this hour (counts it when it may).
  bool may_send_automatic(const std::string& address) { return within_auto_reply_limit(address); }

  // A ticket built from an archive import: deadlines and timers that had already passed at
  // `import_time` are cleared (once noted in history), so old mail is never escalated, reminded
  // or closed with a mail years later.
  void settle_imported(TicketId ticket, Timestamp import_time);

  // A delivery failure of one of our mails: an internal note on its ticket, the address marked
  // as failing; nobody is mailed.
  void record_bounce(const InboundMessage& message, const Ticket& ticket);

 private:
  // Cc'd addresses of the message become watchers (not ours, not agents, not the contact).
  void add_cc_watchers(const ParsedMessage& parsed, const Ticket& ticket, const std::string& contact);
  // Whether one more automatic mail may go to `address` this hour (counted when it may).
  bool within_auto_reply_limit(const std::string& address);
  std::int64_t add_article(const InboundMessage& message, const Ticket& ticket, ArticleKind kind,
                           const std::string& author, const std::string& text);
  std::vector<AttachmentRecord> accepted_attachments(const InboundMessage& message, const Ticket& ticket,
                                                     const TypeConfig* type);
  std::vector<Address> conversation_participants(const Ticket& ticket);
  void set_status(Ticket& ticket, TicketStatus status, const std::string& actor, const std::string& why = "");
  void record(TicketId ticket, const std::string& field, const std::string& from, const std::string& to,
              const std::string& justification = "", const std::string& actor = "system");

  struct CommandRun;  // engine.cpp: one message's commands, checked (dry run) then applied
  void run_command(CommandRun& run, const Command& command);
  void change(CommandRun& run, const std::string& field, const std::string& from, const std::string& to,
              const std::string& justification);
  void move_status(CommandRun& run, TicketStatus to, const std::string& why);
  bool check_transition(CommandRun& run, const Command& command, Action action);
  const AgentConfig* find_agent_for(CommandRun& run, const Command& command, const std::string& who,
                                    bool departments_too, std::string& department);
  void hand_over(CommandRun& run, const AgentConfig& to, const std::string& department);
  void close_ticket(Ticket& ticket, const std::string& actor, const std::string& final_opinion,
                    std::vector<OutgoingMail>& mails);
  TicketUpdate refuse(const InboundMessage& message, const Ticket& ticket, const AgentConfig& agent,
                      const std::vector<std::string>& errors, const std::string& text);
  std::string transcript(const Ticket& ticket);
  std::string last_customer_message_id(const Ticket& ticket);
  std::string last_solution(const Ticket& ticket);  // the text of the ticket's last solution article
  std::string format_date(Timestamp at, bool with_time) const;

  Store& store_;
  const Config& config_;
  const Clock& clock_;
  Explanation* explain_ = nullptr;
};

}  // namespace atendd

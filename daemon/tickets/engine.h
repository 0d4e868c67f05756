// engine.h — the ticket engine: turns a decision about an inbound message into changes (ticket,
// article, history) and effects (mails to render and queue). Pure logic over the Store interface
// with an injected clock; it never sends mail and never parses (DESIGN.md, "Ticket engine").
// The caller holds the store transaction: everything the engine writes commits or rolls back with
// the message's journal entry.
#pragma once

#include <string>
#include <vector>

#include "daemon/config/config.h"
#include "daemon/tickets/clock.h"
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

  // Opens a ticket of `type` for a customer's message: contact, protocol, priority, department,
  // responsible, status new, first article with its attachments, watchers, history; and the mails
  // of a new ticket: the opening e-mail to the customer (when the type says so and
  // `may_answer_sender`), the forward to the responsible agent, the watchers' notice.
  // `no_answer_reason` says why the sender gets no automatic answer (recorded in history).
  OpenedTicket open_ticket(const InboundMessage& message, const TypeConfig& type, bool may_answer_sender,
                           const std::string& no_answer_reason);

  // A customer (or a participant) wrote in an existing ticket: a customer article; Cc'd people
  // become watchers; waiting_customer goes back to in_progress; a closed ticket reopens inside
  // its type's window (else a new ticket linked to it is opened and returned); the responsible
  // agent gets the new part (customer_update). An automatic message is only stored: it never
  // changes the status, never reopens and is never answered.
  TicketUpdate add_customer_message(const InboundMessage& message, const Ticket& ticket, bool automatic);

  // A verified agent answered through the ticket: an agent article; its new part is relayed to
  // the customer (and the conversation's participants) with the reply template, threaded under
  // the customer's last message; first response time; new/in_progress/reopened → waiting_customer.
  // A message whose first line is a #command is never relayed: "#note" stores an internal note;
  // other commands are answered with command_error until the lifecycle commands exist.
  TicketUpdate add_agent_reply(const InboundMessage& message, const Ticket& ticket, const AgentConfig& agent);

  // Whether one more automatic mail may go to `address` this hour (counts it when it may).
  bool may_send_automatic(const std::string& address) { return within_auto_reply_limit(address); }

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
  bool is_ours(const std::string& address) const;
  std::vector<Address> conversation_participants(const Ticket& ticket);
  void set_status(Ticket& ticket, TicketStatus status, const std::string& actor, const std::string& why = "");
  void record(TicketId ticket, const std::string& field, const std::string& from, const std::string& to,
              const std::string& justification = "", const std::string& actor = "system");

  Store& store_;
  const Config& config_;
  const Clock& clock_;
};

}  // namespace atendd

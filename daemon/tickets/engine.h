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
  std::string agent_id;       // for Audience::Agent
  bool include_attachments = false;  // forward: the customer's files go along
};

struct OpenedTicket {
  Ticket ticket;
  std::int64_t article_id = 0;
  std::vector<OutgoingMail> mails;
};

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

 private:
  void record(TicketId ticket, const std::string& field, const std::string& from, const std::string& to,
              const std::string& justification = "", const std::string& actor = "system");

  Store& store_;
  const Config& config_;
  const Clock& clock_;
};

}  // namespace atendd

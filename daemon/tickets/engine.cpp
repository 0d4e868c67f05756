// engine.cpp — see engine.h.
#include "daemon/tickets/engine.h"

#include <Poco/RandomStream.h>
#include <Poco/String.h>

#include "daemon/tickets/assignment.h"
#include "daemon/tickets/protocol.h"

namespace atendd {

std::string random_hex(size_t bytes) {
  Poco::RandomInputStream random;
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < bytes; ++i) {
    const unsigned char c = static_cast<unsigned char>(random.get());
    out += hex[c >> 4];
    out += hex[c & 15];
  }
  return out;
}

bool is_usable_address(const std::string& address) {
  const auto at = address.find('@');
  if (at == std::string::npos || at == 0 || at + 1 >= address.size()) return false;
  if (address.find('@', at + 1) != std::string::npos) return false;
  for (unsigned char c : address)
    if (c <= ' ' || c == 0x7f || c == '<' || c == '>' || c == ',' || c == ';' || c == '"') return false;
  const std::string domain = address.substr(at + 1);
  if (domain.front() == '.' || domain.back() == '.') return false;
  return domain.find('.') != std::string::npos || domain.front() == '[';
}

std::string safe_filename(const std::string& name) {
  std::string base = name;
  const auto slash = base.find_last_of("/\\");
  if (slash != std::string::npos) base = base.substr(slash + 1);
  std::string out;
  for (unsigned char c : base)
    if (c >= 0x20 && c != 0x7f) out += static_cast<char>(c);
  while (!out.empty() && (out.front() == '.' || out.front() == ' ')) out.erase(out.begin());
  if (out.size() > 200) out = out.substr(out.size() - 200);  // keep the extension
  return out.empty() ? "attachment" : out;
}

Engine::Engine(Store& store, const Config& config, const Clock& clock)
    : store_(store), config_(config), clock_(clock) {}

void Engine::record(TicketId ticket, const std::string& field, const std::string& from, const std::string& to,
                    const std::string& justification, const std::string& actor) {
  store_.add_history({0, ticket, clock_.now(), actor, field, from, to, justification});
}

OpenedTicket Engine::open_ticket(const InboundMessage& message, const TypeConfig& type, bool may_answer_sender,
                                 const std::string& no_answer_reason) {
  const ParsedMessage& parsed = message.parsed;
  const Timestamp now = clock_.now();
  const bool sender_usable = is_usable_address(parsed.from.address);
  const Contact contact =
      store_.find_or_add_contact(sender_usable ? Poco::toLower(parsed.from.address) : "", parsed.from.name);

  OpenedTicket opened;
  Ticket& t = opened.ticket;
  t.protocol = next_protocol(store_, config_.server.protocol_format, now);
  t.type_id = type.id;
  t.status = TicketStatus::New;
  t.priority = static_cast<int>(type.priority);
  t.contact_id = contact.id;
  t.department = type.department;
  t.subject = parsed.subject;
  t.level = type.level;
  t.reply_token = random_hex(12);
  t.mailbox = message.mailbox;
  t.opened_at = now;
  if (type.first_response_hours > 0) t.first_response_due = now + type.first_response_hours * 3600;
  if (type.next_contact_days > 0) t.next_contact_due = now + type.next_contact_days * 86400;
  if (!type.workflow.empty()) {
    auto workflow = config_.workflows.find(type.workflow);
    if (workflow != config_.workflows.end() && !workflow->second.stages.empty())
      t.stage = workflow->second.stages.front();
  }
  t.responsible = assign_responsible(type, config_, store_);
  t.id = store_.add_ticket(t);

  record(t.id, "created", "", t.protocol, "from " + message.source + (message.mailbox.empty() ? "" : " " + message.mailbox));
  record(t.id, "type", "", type.id);
  record(t.id, "status", "", status_name(t.status));
  record(t.id, "priority", "", priority_name(type.priority));
  if (!t.department.empty()) record(t.id, "department", "", t.department);
  if (!t.responsible.empty()) record(t.id, "responsible", "", t.responsible, "assigned by the type's rule");

  Article article;
  article.ticket_id = t.id;
  article.kind = ArticleKind::CustomerMessage;
  article.author = contact.address;
  article.channel = message.source == "webhook" ? "messaging" : "email";
  article.message_id = parsed.message_id;
  article.subject = parsed.subject;
  article.text = parsed.text;
  article.html = parsed.html;
  article.raw_sha256 = message.raw_sha256;
  article.created_at = now;
  opened.article_id = store_.add_article(article);

  const std::int64_t limit = static_cast<std::int64_t>(type.max_attachment_mb) * 1024 * 1024;
  for (AttachmentRecord attachment : message.attachments) {
    attachment.filename = safe_filename(attachment.filename);
    if (type.max_attachment_mb > 0 && attachment.size > limit) {
      record(t.id, "attachment_refused", attachment.filename, "",
             "larger than the type's limit of " + std::to_string(type.max_attachment_mb) + " MB");
      continue;
    }
    attachment.article_id = opened.article_id;
    store_.add_attachment(attachment);
  }

  for (const auto& watcher : type.watchers) store_.add_watcher(t.id, watcher);

  // The mails of a new ticket.
  if (!type.opening_email) {
    record(t.id, "mail_skipped", "opening", "", "the type sends no opening e-mail");
  } else if (!sender_usable) {
    record(t.id, "mail_skipped", "opening", "",
           "the sender has no usable address ('" + parsed.from.address + "')");
  } else if (!may_answer_sender) {
    record(t.id, "mail_skipped", "opening", "", no_answer_reason);
  } else {
    OutgoingMail opening;
    opening.template_name = "opening";
    opening.audience = OutgoingMail::Audience::Customer;
    opening.to.push_back({contact.address, contact.name});
    opened.mails.push_back(opening);
  }
  if (const AgentConfig* agent = config_.agent(t.responsible)) {
    OutgoingMail forward;
    forward.template_name = "forward";
    forward.audience = OutgoingMail::Audience::Agent;
    forward.agent_id = agent->id;
    forward.to.push_back({agent->email, agent->name});
    forward.include_attachments = true;
    opened.mails.push_back(forward);
  }
  if (!type.watchers.empty()) {
    OutgoingMail notice;
    notice.template_name = "watcher_opened";
    notice.audience = OutgoingMail::Audience::Watcher;
    for (const auto& watcher : type.watchers) notice.to.push_back({watcher, ""});
    opened.mails.push_back(notice);
  }
  return opened;
}

}  // namespace atendd

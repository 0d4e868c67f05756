// engine.cpp — see engine.h.
#include "daemon/tickets/engine.h"

#include <algorithm>
#include <cctype>

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

  opened.article_id = add_article(message, t, ArticleKind::CustomerMessage, contact.address, parsed.text);
  opened.attachments = accepted_attachments(message, t, &type);
  for (auto attachment : opened.attachments) {
    attachment.article_id = opened.article_id;
    store_.add_attachment(attachment);
  }

  for (const auto& watcher : type.watchers) store_.add_watcher(t.id, watcher);
  if (type.cc_watchers) add_cc_watchers(parsed, t, contact.address);

  // The mails of a new ticket.
  if (!type.opening_email) {
    record(t.id, "mail_skipped", "opening", "", "the type sends no opening e-mail");
  } else if (!sender_usable) {
    record(t.id, "mail_skipped", "opening", "",
           "the sender has no usable address ('" + parsed.from.address + "')");
  } else if (!may_answer_sender) {
    record(t.id, "mail_skipped", "opening", "", no_answer_reason);
  } else if (!within_auto_reply_limit(contact.address)) {
    record(t.id, "mail_skipped", "opening", "",
           "automatic answers to " + contact.address + " reached the limit of " +
               std::to_string(config_.server.auto_reply_limit) + " per hour");
  } else {
    OutgoingMail opening;
    opening.template_name = "opening";
    opening.audience = OutgoingMail::Audience::Customer;
    opening.to.push_back({contact.address, contact.name});
    opening.text = parsed.text;
    opened.mails.push_back(opening);
  }
  if (const AgentConfig* agent = config_.agent(t.responsible)) {
    OutgoingMail forward;
    forward.template_name = "forward";
    forward.audience = OutgoingMail::Audience::Agent;
    forward.agent_id = agent->id;
    forward.to.push_back({agent->email, agent->name});
    forward.include_attachments = true;
    forward.text = parsed.text;
    opened.mails.push_back(forward);
  }
  if (!type.watchers.empty()) {
    OutgoingMail notice;
    notice.template_name = "watcher_opened";
    notice.audience = OutgoingMail::Audience::Watcher;
    for (const auto& watcher : type.watchers) notice.to.push_back({watcher, ""});
    notice.text = parsed.text;
    opened.mails.push_back(notice);
  }
  return opened;
}

// ---- helpers

void Engine::record(TicketId ticket, const std::string& field, const std::string& from, const std::string& to,
                    const std::string& justification, const std::string& actor) {
  store_.add_history({0, ticket, clock_.now(), actor, field, from, to, justification});
}

std::int64_t Engine::add_article(const InboundMessage& message, const Ticket& ticket, ArticleKind kind,
                                 const std::string& author, const std::string& text) {
  const ParsedMessage& parsed = message.parsed;
  Article article;
  article.ticket_id = ticket.id;
  article.kind = kind;
  article.author = author;
  article.channel = message.source == "webhook" ? "messaging" : "email";
  article.message_id = parsed.message_id;
  article.subject = parsed.subject;
  article.text = text;
  article.html = parsed.html;
  article.raw_sha256 = message.raw_sha256;
  article.created_at = clock_.now();
  return store_.add_article(article);
}

std::vector<AttachmentRecord> Engine::accepted_attachments(const InboundMessage& message, const Ticket& ticket,
                                                           const TypeConfig* type) {
  const int max_mb = type ? type->max_attachment_mb : 25;
  const std::int64_t limit = static_cast<std::int64_t>(max_mb) * 1024 * 1024;
  std::vector<AttachmentRecord> accepted;
  for (AttachmentRecord attachment : message.attachments) {
    attachment.filename = safe_filename(attachment.filename);
    if (attachment.size > limit) {
      record(ticket.id, "attachment_refused", attachment.filename, "",
             max_mb == 0 ? "the type takes no attachments"
                         : "larger than the type's limit of " + std::to_string(max_mb) + " MB");
      continue;
    }
    accepted.push_back(std::move(attachment));
  }
  return accepted;
}

void Engine::set_status(Ticket& ticket, TicketStatus status, const std::string& actor, const std::string& why) {
  if (ticket.status == status) return;
  record(ticket.id, "status", status_name(ticket.status), status_name(status), why, actor);
  ticket.status = status;
}

bool Engine::within_auto_reply_limit(const std::string& address) {
  if (config_.server.auto_reply_limit <= 0) return true;
  const Timestamp hour = clock_.now() / 3600 * 3600;
  return store_.count_event("auto_reply:" + address, hour) <= config_.server.auto_reply_limit;
}

bool Engine::is_ours(const std::string& address) const {
  const std::string a = Poco::toLower(address);
  if (a == Poco::toLower(config_.server.address)) return true;
  const std::string pattern = Poco::toLower(config_.server.reply_address);
  const auto token = pattern.find("{token}");
  if (token == std::string::npos) return false;
  const std::string prefix = pattern.substr(0, token), suffix = pattern.substr(token + 7);
  return a.size() >= prefix.size() + suffix.size() && a.compare(0, prefix.size(), prefix) == 0 &&
         a.compare(a.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void Engine::add_cc_watchers(const ParsedMessage& parsed, const Ticket& ticket, const std::string& contact) {
  for (const auto& cc : parsed.cc) {
    const std::string address = Poco::toLower(cc.address);
    if (!is_usable_address(address) || address == contact || is_ours(address) || config_.agent_by_email(address))
      continue;
    const auto existing = store_.watchers(ticket.id);
    if (std::find(existing.begin(), existing.end(), address) != existing.end()) continue;
    store_.add_watcher(ticket.id, address);
    record(ticket.id, "watcher_added", "", address, "in the Cc of the customer's message");
  }
}

// The people of the conversation besides the contact: watchers that the type does not add by
// itself (those get notices, not every reply).
std::vector<Address> Engine::conversation_participants(const Ticket& ticket) {
  const TypeConfig* type = config_.type(ticket.type_id);
  std::vector<Address> out;
  for (const auto& watcher : store_.watchers(ticket.id)) {
    if (type && std::find(type->watchers.begin(), type->watchers.end(), watcher) != type->watchers.end()) continue;
    out.push_back({watcher, ""});
  }
  return out;
}

// ---- a customer writes again

TicketUpdate Engine::add_customer_message(const InboundMessage& message, const Ticket& current, bool automatic) {
  const ParsedMessage& parsed = message.parsed;
  const Timestamp now = clock_.now();
  const TypeConfig* type = config_.type(current.type_id);
  const std::string author = Poco::toLower(parsed.from.address);

  if (current.status == TicketStatus::Closed && !automatic) {
    const int window_days = type ? type->reopen_days : 0;
    const bool inside = window_days > 0 && current.closed_at && now <= *current.closed_at + window_days * 86400;
    if (!inside) {
      // Outside the window: a new ticket, linked both ways.
      const TypeConfig* new_type = type ? type : config_.type(config_.default_type);
      TicketUpdate fresh = open_ticket(message, *new_type, true, "");
      record(fresh.ticket.id, "linked", "", current.protocol, "the customer wrote to a closed ticket");
      record(current.id, "linked", "", fresh.ticket.protocol,
             "the customer wrote after the reopening window; a new ticket was opened");
      return fresh;
    }
  }

  TicketUpdate update;
  update.ticket = current;
  Ticket& t = update.ticket;
  update.article_id = add_article(message, t, ArticleKind::CustomerMessage, author, parsed.text);
  update.attachments = accepted_attachments(message, t, type);
  for (auto attachment : update.attachments) {
    attachment.article_id = update.article_id;
    store_.add_attachment(attachment);
  }
  if (automatic) {
    record(t.id, "automatic_message", "", author, "stored only: automatic messages change nothing");
    return update;
  }
  if (!type || type->cc_watchers) add_cc_watchers(parsed, t, author);

  bool reopened = false;
  if (t.status == TicketStatus::Closed) {
    set_status(t, TicketStatus::Reopened, author, "the customer wrote inside the reopening window");
    t.times_reopened += 1;
    t.closed_at.reset();
    reopened = true;
  } else if (t.status == TicketStatus::WaitingCustomer) {
    set_status(t, TicketStatus::InProgress, author, "the customer answered");
  }
  store_.update_ticket(t);

  if (const AgentConfig* agent = config_.agent(t.responsible)) {
    OutgoingMail mail;
    mail.template_name = reopened ? "reopened" : "customer_update";
    mail.audience = OutgoingMail::Audience::Agent;
    mail.agent_id = reopened ? "" : agent->id;
    mail.to.push_back({agent->email, agent->name});
    mail.include_attachments = true;
    mail.automatic = reopened;
    mail.text = parsed.new_text.empty() ? parsed.text : parsed.new_text;
    mail.from_name = parsed.from.name.empty() ? author : parsed.from.name;
    if (reopened) mail.justification = "o cliente escreveu novamente / the customer wrote again";
    update.mails.push_back(mail);
  } else {
    record(t.id, "mail_skipped", "customer_update", "", "the ticket has no responsible agent yet");
  }
  return update;
}

// ---- an agent answers

TicketUpdate Engine::add_agent_reply(const InboundMessage& message, const Ticket& current, const AgentConfig& agent) {
  const ParsedMessage& parsed = message.parsed;
  TicketUpdate update;
  update.ticket = current;
  Ticket& t = update.ticket;
  const TypeConfig* type = config_.type(t.type_id);
  std::string text = parsed.new_text.empty() ? parsed.text : parsed.new_text;

  // A first line "#word …" is a command: never relayed to the customer.
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && text[first] == '#' && first + 1 < text.size() &&
      std::isalpha(static_cast<unsigned char>(text[first + 1]))) {
    const size_t eol = text.find('\n', first);
    const std::string line = Poco::trim(text.substr(first, eol == std::string::npos ? std::string::npos : eol - first));
    const std::string body = eol == std::string::npos ? "" : Poco::trim(text.substr(eol + 1));
    const std::string command = Poco::toLower(line.substr(0, line.find_first_of(" \t")));
    update.article_id = add_article(message, t, ArticleKind::InternalNote, agent.id, command == "#note" ? body : text);
    if (command == "#note") {
      record(t.id, "note", "", "", "", agent.id);
    } else {
      record(t.id, "command_refused", line, "", "commands other than #note are not available yet", agent.id);
      OutgoingMail error;
      error.template_name = "command_error";
      error.audience = OutgoingMail::Audience::Agent;
      error.agent_id = agent.id;
      error.to.push_back({agent.email, agent.name});
      error.text = text;
      error.error = line + ": comando ainda não disponível por e-mail / command not available by e-mail yet";
      update.mails.push_back(error);
    }
    return update;
  }

  update.article_id = add_article(message, t, ArticleKind::AgentReply, agent.id, text);
  update.attachments = accepted_attachments(message, t, type);
  for (auto attachment : update.attachments) {
    attachment.article_id = update.article_id;
    store_.add_attachment(attachment);
  }
  if (!t.first_response_at) {
    t.first_response_at = clock_.now();
    record(t.id, "first_response", "", agent.id, "", agent.id);
  }
  if (t.responsible.empty()) {
    record(t.id, "responsible", "", agent.id, "answered the customer", agent.id);
    t.responsible = agent.id;
  }
  if (t.status == TicketStatus::New || t.status == TicketStatus::InProgress || t.status == TicketStatus::Reopened)
    set_status(t, TicketStatus::WaitingCustomer, agent.id, "an agent answered the customer");
  store_.update_ticket(t);

  const auto contact = store_.contact(t.contact_id);
  if (!contact || !is_usable_address(contact->address)) {
    record(t.id, "mail_skipped", "reply", "", "the customer has no usable address", agent.id);
    return update;
  }
  // Threaded under the customer's last message.
  std::string last_customer_id;
  for (const auto& article : store_.articles(t.id))
    if (article.kind == ArticleKind::CustomerMessage && !article.message_id.empty()) last_customer_id = article.message_id;

  OutgoingMail reply;
  reply.template_name = "reply";
  reply.audience = OutgoingMail::Audience::Customer;
  reply.agent_id = agent.id;
  reply.to.push_back({contact->address, contact->name});
  reply.cc = conversation_participants(t);
  reply.include_attachments = true;
  reply.automatic = false;
  reply.text = text;
  reply.from_name = agent.name.empty() ? "" : agent.name + " (" + config_.server.name + ")";
  reply.in_reply_to = last_customer_id;
  update.mails.push_back(reply);
  return update;
}

// ---- a bounce of our mail

void Engine::record_bounce(const InboundMessage& message, const Ticket& ticket) {
  const ParsedMessage& parsed = message.parsed;
  const std::string address = Poco::toLower(parsed.bounced_recipient);
  std::string text = "Falha na entrega / delivery failure";
  if (!address.empty()) text += ": " + address;
  text += "\n\n" + parsed.text;
  add_article(message, ticket, ArticleKind::InternalNote, "system", text);
  record(ticket.id, "delivery_failed", "", address, parsed.subject);
  if (!address.empty()) store_.mark_contact_failing(address, clock_.now());
}

}  // namespace atendd

// engine.cpp — see engine.h.
#include "daemon/tickets/engine.h"

#include <pthread.h>
#include <sys/random.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <map>
#include <stdexcept>

#include <Poco/String.h>

#include "daemon/outbox/renderer.h"
#include "daemon/tickets/assignment.h"
#include "daemon/tickets/confirmation.h"
#include "daemon/tickets/fields.h"
#include "daemon/tickets/protocol.h"
#include "daemon/tickets/workflow.h"

namespace atendd {

std::string random_hex(size_t bytes) {
  // getrandom(2) into a per-thread buffer, refilled 512 bytes at a time: the kernel's CSPRNG, as
  // /dev/urandom, without opening the device for every token, Message-ID and boundary.
  // A fork()ed child (the only thread there is the one that forked) starts with an empty pool, so
  // that parent and child never hand out the same bytes.
  thread_local unsigned char pool[512];
  thread_local size_t left = 0;
  static const int registered = ::pthread_atfork(nullptr, nullptr, [] { left = 0; });
  (void)registered;
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(2 * bytes);
  for (size_t i = 0; i < bytes; ++i) {
    if (left == 0) {
      size_t filled = 0;
      while (filled < sizeof pool) {
        const ssize_t n = ::getrandom(pool + filled, sizeof pool - filled, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw std::runtime_error(std::string("getrandom: ") + std::strerror(errno));
        filled += static_cast<size_t>(n);
      }
      left = sizeof pool;
    }
    const unsigned char c = pool[sizeof pool - left--];
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

namespace {

// Days to the next contact of a ticket: its stage's when the stage sets them, else its type's.
int next_contact_days(const Config& config, const Ticket& ticket) {
  const StageConfig& stage = current_stage_options(config, ticket.type_id, ticket.stage);
  if (stage.next_contact_days >= 0) return stage.next_contact_days;
  const TypeConfig* type = config.type(ticket.type_id);
  return type ? type->next_contact_days : 0;
}

}  // namespace

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
  t.stage = first_stage(config_, type.id);
  if (const int days = next_contact_days(config_, t); days > 0) t.next_contact_due = now + days * 86400;
  explain(explain_, "priority", priority_name(type.priority), "type " + type.id + "'s priority");
  explain(explain_, "department", t.department.empty() ? "none" : t.department, "type " + type.id + "'s department");
  const AgentConfig* forwarder = message.opened_by;
  const bool forwarder_responsible = forwarder && type.forward_assigns_forwarder;
  if (forwarder_responsible)
    explain(explain_, "assignment", forwarder->id, "forwarded the customer's mail, and type " + type.id +
                                                        " has forward_assigns_forwarder");
  t.responsible = forwarder_responsible ? forwarder->id : assign_responsible(type, config_, store_, explain_);
  t.id = store_.add_ticket(t);

  record(t.id, "created", "", t.protocol, "from " + message.source + (message.mailbox.empty() ? "" : " " + message.mailbox));
  if (forwarder)
    record(t.id, "opened_by", "", forwarder->id,
           "forwarded the customer's e-mail from " + contact.address + " to open the ticket", forwarder->id);
  record(t.id, "type", "", type.id);
  record(t.id, "status", "", status_name(t.status));
  record(t.id, "priority", "", priority_name(type.priority));
  if (!t.department.empty()) record(t.id, "department", "", t.department);
  if (!t.responsible.empty())
    record(t.id, "responsible", "", t.responsible,
           forwarder_responsible ? "the agent who forwarded the customer's e-mail (forward_assigns_forwarder)"
                                 : "assigned by the type's rule");

  opened.article_id = add_article(message, t, ArticleKind::CustomerMessage, contact.address, parsed.text);
  if (forwarder && message.forward_note.find_first_not_of(" \t\r\n") != std::string::npos) {
    Article note;  // the agent's words above the forwarded mail: never sent to the customer
    note.ticket_id = t.id;
    note.kind = ArticleKind::InternalNote;
    note.author = forwarder->id;
    note.subject = parsed.subject;
    note.text = message.forward_note;
    note.raw_sha256 = message.raw_sha256;
    note.created_at = now;
    store_.add_article(note);
  }
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
  // A customer's mail is never refused for our bookkeeping: the fields the type requires to open
  // are asked of the responsible.
  const auto missing = missing_fields(type, {}, true, false);
  std::string ask;
  if (!missing.empty()) {
    for (const auto& field : missing) {
      const FieldSpec* spec = type.field(field);
      TypeConfig one;
      one.fields.push_back(*spec);
      ask += "\n    #field " + field + " VALUE   (" + describe_fields(one) + ")";
    }
    ask = "Informe / please provide the required field" + std::string(missing.size() > 1 ? "s:" : ":") + ask;
    std::string names;
    for (const auto& field : missing) names += (names.empty() ? "" : ", ") + field;
    record(t.id, "fields_missing", "", names,
           t.responsible.empty() ? "required to open; nobody is responsible yet to ask"
                                 : "required to open; asked of " + t.responsible);
  }
  if (const AgentConfig* agent = config_.agent(t.responsible)) {
    OutgoingMail forward;
    forward.template_name = "forward";
    forward.audience = OutgoingMail::Audience::Agent;
    forward.agent_id = agent->id;
    forward.to.push_back({agent->email, agent->name});
    forward.include_attachments = true;
    forward.text = parsed.text;
    forward.justification = ask;
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

void Engine::settle_imported(TicketId id, Timestamp import_time) {
  std::optional<Ticket> t = store_.ticket(id);
  if (!t) return;
  bool changed = false;
  if (t->first_response_due && *t->first_response_due < import_time) t->first_response_due.reset(), changed = true;
  if (t->next_contact_due && *t->next_contact_due < import_time) t->next_contact_due.reset(), changed = true;
  for (const char* kind : {"reminder", "auto_close"}) {
    const std::optional<Timestamp> due = store_.timer(id, kind);
    if (due && *due < import_time) store_.clear_timer(id, kind), changed = true;
  }
  if (!changed) return;
  store_.update_ticket(*t);
  for (const auto& h : store_.history(id))
    if (h.field == "imported") return;
  record(id, "imported", "", "archive",
         "deadlines and timers already past at the import are cleared: old mail is never escalated or closed by itself");
}

// ---- helpers

void Engine::record(TicketId ticket, const std::string& field, const std::string& from, const std::string& to,
                    const std::string& justification, const std::string& actor) {
  store_.add_history({0, ticket, clock_.now(), actor, field, from, to, justification});
  // The outbox explains what it queued; the opening's first lines are the stages' own.
  const bool opening_value = from.empty() && (field == "type" || field == "priority" || field == "department" ||
                                              field == "responsible" || field == "status");
  if (explain_ && field != "mail_queued" && field != "created" && !opening_value)
    explain_->add("engine", field + (from.empty() ? "" : " " + from) + (to.empty() ? "" : " → " + to),
                  justification + (actor == "system" ? "" : (justification.empty() ? "by " : "; by ") + actor));
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
  article.created_at = kind == ArticleKind::CustomerMessage && message.written_at ? *message.written_at : clock_.now();
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

void Engine::add_cc_watchers(const ParsedMessage& parsed, const Ticket& ticket, const std::string& contact) {
  for (const auto& cc : parsed.cc) {
    const std::string address = Poco::toLower(cc.address);
    if (!is_usable_address(address) || address == contact || config_.server.is_our_address(address) || config_.agent_by_email(address))
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
  // --- contact identities: another identity of the ticket's contact wrote (#contact link, the
  // merge API): the ticket follows it, so answers go out where the customer last wrote.
  if (const auto sender = store_.contact_by_address(author); sender && sender->id != t.contact_id) {
    for (const auto& identity : store_.identities(t.contact_id))
      if (identity.id == sender->id) {
        const auto before = store_.contact(t.contact_id);
        record(t.id, "contact", before ? before->address : "", author, "the customer wrote from another of their identities",
               author);
        t.contact_id = sender->id;
        break;
      }
  }

  bool reopened = false, confirmed = false;
  const std::string new_part = parsed.new_text.empty() ? parsed.text : parsed.new_text;
  // Only the customer (the ticket's contact) confirms; a watcher's words never close the ticket.
  const auto contact = store_.contact(t.contact_id);
  const bool from_customer = contact && !contact->address.empty() && Poco::toLower(contact->address) == author;
  const std::string approval = from_customer && transition(t.status, Action::CustomerApproval).allowed
                                   ? approval_phrase(new_part, config_.confirmation)
                                   : std::string();
  if (t.status == TicketStatus::Closed) {
    set_status(t, TicketStatus::Reopened, author, "the customer wrote inside the reopening window");
    t.times_reopened += 1;
    t.closed_at.reset();
    reopened = true;
  } else if (!approval.empty()) {
    // 001 "Confirmado": the customer approved the solution; closed with it as the final opinion.
    record(t.id, "confirmation", "", "confirmed", "the customer approved the solution: \"" + approval + "\"", author);
    store_.set_field(t.id, "confirmation", "confirmed");
    close_ticket(t, author, last_solution(t), update.mails);
    confirmed = true;
  } else {
    const Transition after = transition(t.status, Action::CustomerReply);
    if (after.allowed && after.to != t.status) {
      if (t.status == TicketStatus::Solved) store_.clear_timer(t.id, "auto_close");
      set_status(t, after.to, author,
                 t.status == TicketStatus::Solved ? "the customer answered the solution" : "the customer answered");
    }
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
    if (confirmed) mail.justification = "o cliente confirmou a solução; atendimento encerrado / the customer "
                                        "confirmed the solution; the ticket is closed";
    update.mails.push_back(mail);
  } else {
    record(t.id, "mail_skipped", "customer_update", "", "the ticket has no responsible agent yet");
  }
  return update;
}

// ---- an agent answers

namespace {

// message.text for a mail that carries no text of its own: a blank value renders as absent,
// while an empty one would fall back to the inbound message's new part (outbox_writer.h).
const char* const kNoText = " ";

std::string joined(const std::vector<std::string>& items, const char* separator) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : separator) + item;
  return out;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool all_digits(const std::string& s, size_t from, size_t count) {
  for (size_t i = from; i < from + count; ++i)
    if (i >= s.size() || !std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  return true;
}

// "YYYY-MM-DD" and an optional "HH:MM" as a UTC timestamp; nothing when either is not a real date.
std::optional<Timestamp> parse_schedule(const std::string& date, const std::string& time) {
  if (date.size() != 10 || date[4] != '-' || date[7] != '-' || !all_digits(date, 0, 4) || !all_digits(date, 5, 2) ||
      !all_digits(date, 8, 2))
    return std::nullopt;
  const int year = std::stoi(date.substr(0, 4)), month = std::stoi(date.substr(5, 2)), day = std::stoi(date.substr(8, 2));
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (year < 1970 || month < 1 || month > 12 || day < 1 || day > kDays[month - 1] + (month == 2 && leap ? 1 : 0))
    return std::nullopt;
  int hour = 0, minute = 0;
  if (!time.empty()) {
    if (time.size() != 5 || time[2] != ':' || !all_digits(time, 0, 2) || !all_digits(time, 3, 2)) return std::nullopt;
    hour = std::stoi(time.substr(0, 2));
    minute = std::stoi(time.substr(3, 2));
    if (hour > 23 || minute > 59) return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  return static_cast<Timestamp>(timegm(&tm));
}

// "morning", "afternoon", "evening" or "any" for a period word of #schedule (English or
// Portuguese, accents optional); "" when `word` is none.
std::string schedule_period(const std::string& word) {
  const std::string w = lower(word);
  if (w == "morning" || w == "manha" || w == "manhã") return "morning";
  if (w == "afternoon" || w == "tarde") return "afternoon";
  if (w == "evening" || w == "night" || w == "noite") return "evening";
  if (w == "any" || w == "anytime" || w == "qualquer") return "any";
  return "";
}

// The period of the day as the customer reads it in `locale`; "" for no period.
std::string period_in_words(const std::string& period, const std::string& locale) {
  if (period.empty()) return "";
  const bool pt = locale == "pt_BR";
  if (period == "morning") return pt ? "no período da manhã" : "in the morning";
  if (period == "afternoon") return pt ? "no período da tarde" : "in the afternoon";
  if (period == "evening") return pt ? "no período da noite" : "in the evening";
  return pt ? "em qualquer horário" : "at any time of the day";
}

std::optional<Priority> parse_priority(const std::string& word) {
  const std::string w = lower(word);
  if (w == "urgent" || w == "1") return Priority::Urgent;
  if (w == "high" || w == "2") return Priority::High;
  if (w == "normal" || w == "3") return Priority::Normal;
  if (w == "low" || w == "4") return Priority::Low;
  return std::nullopt;
}

bool is_field_name(const std::string& s) {
  return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

}  // namespace

// One message's commands. The same run_command() checks them (dry_run: reads only, nothing
// written, no mail kept) and then applies them, so the check and the change never disagree.
struct Engine::CommandRun {
  CommandRun(const InboundMessage& m, const AgentConfig& a, const std::vector<Command>& c, const std::string& t,
             const Ticket& current, bool dry)
      : message(m), agent(a), commands(c), text(t), dry_run(dry), ticket(current) {}
  const InboundMessage& message;
  const AgentConfig& agent;
  const std::vector<Command>& commands;
  std::string text;                 // the text after the command lines
  bool dry_run = true;
  Ticket ticket;                    // as the commands so far left it
  std::vector<std::string> errors;
  std::vector<OutgoingMail> mails;
  std::vector<std::int64_t> articles;
  bool names_responsible = false;   // the message has #assign or #forward
  bool text_used = false;           // a command took the text (not relayed)
  std::vector<std::string> answers; // canned answers (#answer), rendered
  std::map<std::string, std::string> fields;  // the ticket's fields as the commands so far left them
};

std::string Engine::format_date(Timestamp at, bool with_time) const {
  std::time_t t = static_cast<std::time_t>(at);
  std::tm utc{};
  gmtime_r(&t, &utc);
  char buffer[32];
  const bool pt = config_.server.locale == "pt_BR";
  std::strftime(buffer, sizeof buffer,
                with_time ? (pt ? "%d/%m/%Y %H:%M" : "%Y-%m-%d %H:%M") : (pt ? "%d/%m/%Y" : "%Y-%m-%d"), &utc);
  return buffer;
}

std::string Engine::last_customer_message_id(const Ticket& ticket) {
  std::string id;
  for (const auto& article : store_.articles(ticket.id))
    if (article.kind == ArticleKind::CustomerMessage && !article.message_id.empty()) id = article.message_id;
  return id;
}

// The ticket so far, for the agent it is forwarded to: every article, oldest first.
std::string Engine::transcript(const Ticket& ticket) {
  std::string out;
  for (const auto& article : store_.articles(ticket.id)) {
    if (article.text.find_first_not_of(" \t\r\n") == std::string::npos) continue;
    out += "[" + format_date(article.created_at, true) + "] " + article.author + " (" + article_kind_name(article.kind) +
           "):\n" + article.text + "\n\n";
  }
  return out;
}

void Engine::change(CommandRun& run, const std::string& field, const std::string& from, const std::string& to,
                    const std::string& justification) {
  if (!run.dry_run) record(run.ticket.id, field, from, to, justification, run.agent.id);
}

void Engine::move_status(CommandRun& run, TicketStatus to, const std::string& why) {
  if (run.ticket.status == to) return;
  change(run, "status", status_name(run.ticket.status), status_name(to), why);
  run.ticket.status = to;
}

bool Engine::check_transition(CommandRun& run, const Command& command, Action action) {
  const Transition t = transition(run.ticket.status, action);
  if (t.allowed) return true;
  run.errors.push_back("line " + std::to_string(command.line_number) + " '" + command.line + "': " + t.refusal +
                       " (the ticket is " + status_name(run.ticket.status) + ")");
  return false;
}

const AgentConfig* Engine::find_agent_for(CommandRun& run, const Command& command, const std::string& who,
                                          bool departments_too, std::string& department) {
  auto fail = [&](const std::string& what) {
    run.errors.push_back("line " + std::to_string(command.line_number) + " '" + command.line + "': " + what);
    return nullptr;
  };
  const std::string key = lower(who);
  const AgentConfig* agent = config_.agent(who);
  if (!agent) agent = config_.agent(key);
  if (!agent) agent = config_.agent_by_email(key);
  if (agent) {
    if (agent->level < run.ticket.level)
      return fail(agent->id + "'s access level (" + std::to_string(agent->level) + ") is below the ticket's (" +
                  std::to_string(run.ticket.level) + ")");
    return agent;
  }
  std::vector<std::string> agents, departments;
  const AgentConfig* best = nullptr;
  int best_load = 0;
  bool department_exists = false;
  for (const auto& [id, candidate] : config_.agents) {
    agents.push_back(id);
    if (!candidate.department.empty() &&
        std::find(departments.begin(), departments.end(), candidate.department) == departments.end())
      departments.push_back(candidate.department);
    if (!departments_too || lower(candidate.department) != key) continue;
    department_exists = true;
    if (candidate.level < run.ticket.level || candidate.id == run.ticket.responsible) continue;
    const int load = store_.open_tickets_of(candidate.id);
    if (!best || load < best_load) {
      best = &candidate;
      best_load = load;
    }
  }
  if (best) {
    department = best->department;
    return best;
  }
  if (department_exists)
    return fail("department " + who + " has no other agent with access level " + std::to_string(run.ticket.level) +
                " or more");
  return fail(std::string("no agent") + (departments_too ? " or department" : "") + " \"" + who +
              "\"; agents: " + joined(agents, ", ") +
              (departments_too ? "; departments: " + joined(departments, ", ") : std::string()));
}

void Engine::hand_over(CommandRun& run, const AgentConfig& to, const std::string& department) {
  Ticket& t = run.ticket;
  change(run, "responsible", t.responsible, to.id, run.text);
  t.responsible = to.id;
  if (!department.empty() && department != t.department) {
    change(run, "department", t.department, department, run.text);
    t.department = department;
  }
  run.names_responsible = true;
  if (run.dry_run) return;
  run.articles.push_back(add_article(run.message, t, ArticleKind::Forward, run.agent.id,
                                     "-> " + to.id + (run.text.empty() ? "" : ": " + run.text)));
  if (to.id == run.agent.id) return;
  OutgoingMail forward;
  forward.template_name = "forward";
  forward.audience = OutgoingMail::Audience::Agent;
  forward.agent_id = run.agent.id;
  forward.to.push_back({to.email, to.name});
  forward.justification = run.text;
  forward.text = transcript(t);
  if (forward.text.empty()) forward.text = kNoText;
  run.mails.push_back(forward);
}

void Engine::close_ticket(Ticket& t, const std::string& actor, const std::string& final_opinion,
                          std::vector<OutgoingMail>& mails) {
  // The ticket lands on its workflow's closing stage (#close moves it there before).
  const std::string stage = closing_stage(config_, t.type_id, t.stage);
  if (!stage.empty() && stage != t.stage) {
    record(t.id, "stage", t.stage, stage, "closed", actor);
    t.stage = stage;
  }
  set_status(t, TicketStatus::Closed, actor, final_opinion);
  t.closed_at = clock_.now();
  store_.clear_timer(t.id, "auto_close");
  store_.clear_timer(t.id, "reminder");
  const TypeConfig* type = config_.type(t.type_id);
  const AgentConfig* agent = config_.agent(actor);
  const auto contact = store_.contact(t.contact_id);
  if (type && !type->closing_email) {
    record(t.id, "mail_skipped", "closing", "", "the type sends no closing e-mail", actor);
  } else if (!contact || !is_usable_address(contact->address)) {
    record(t.id, "mail_skipped", "closing", "", "the customer has no usable address", actor);
  } else {
    OutgoingMail closing;
    closing.template_name = "closing";
    closing.audience = OutgoingMail::Audience::Customer;
    closing.to.push_back({contact->address, contact->name});
    closing.agent_id = agent ? agent->id : "";
    closing.text = kNoText;
    closing.final_opinion = final_opinion;
    closing.in_reply_to = last_customer_message_id(t);
    mails.push_back(closing);
  }
  const auto watchers = store_.watchers(t.id);
  if (!watchers.empty()) {
    OutgoingMail notice;
    notice.template_name = "watcher_closed";
    notice.audience = OutgoingMail::Audience::Watcher;
    for (const auto& watcher : watchers) notice.to.push_back({watcher, ""});
    notice.agent_id = agent ? agent->id : "";
    notice.text = kNoText;
    notice.final_opinion = final_opinion;
    mails.push_back(notice);
  }
}

void Engine::run_command(CommandRun& run, const Command& c) {
  Ticket& t = run.ticket;
  const std::string& name = c.name;
  const AgentConfig& agent = run.agent;
  const std::string arg = c.args.empty() ? "" : c.args[0];
  auto fail = [&](const std::string& what) {
    run.errors.push_back("line " + std::to_string(c.line_number) + " '" + c.line + "': " + what);
  };
  auto need_text = [&](const std::string& what) {
    if (!run.text.empty()) return true;
    fail("#" + name + " needs " + what + " in the text below the command lines");
    return false;
  };
  const TypeConfig* type = config_.type(t.type_id);
  // The type's required fields (to open and to close) must all have a value before the ticket
  // is solved or closed.
  auto fields_complete = [&](const std::string& becoming) {
    if (!type) return true;
    const auto missing = missing_fields(*type, run.fields, true, true);
    if (missing.empty()) return true;
    std::string how;
    for (const auto& field : missing) how += (how.empty() ? "" : ", ") + ("#field " + field + " VALUE");
    fail("the ticket cannot be " + becoming + " without the required field" + (missing.size() > 1 ? "s " : " ") +
         joined(missing, ", ") + ": write " + how + " first (fields of " + type->id + ": " + describe_fields(*type) +
         ")");
    return false;
  };

  if (name == "take") {
    if (!check_transition(run, c, Action::Take)) return;
    if (t.responsible != agent.id) {
      change(run, "responsible", t.responsible, agent.id, "#take");
      t.responsible = agent.id;
    }
    move_status(run, transition(t.status, Action::Take).to, "#take");
  } else if (name == "assign" || name == "forward") {
    if (!check_transition(run, c, name == "assign" ? Action::Assign : Action::Forward)) return;
    std::string department;
    const AgentConfig* target = find_agent_for(run, c, arg, name == "forward", department);
    if (!target) return;
    if (target->id == t.responsible) return fail(target->id + " is already responsible for the ticket");
    if (run.text.empty()) {
      // Handing the ticket back to whoever forwarded it to the current responsible needs a reason.
      const auto history = store_.history(t.id);
      for (auto h = history.rbegin(); h != history.rend(); ++h) {
        if (h->field != "responsible") continue;
        if (h->to_value == t.responsible && h->actor == target->id && h->actor != t.responsible)
          return fail("handing the ticket back to " + target->id +
                      ", who forwarded it, needs a justification in the text below the command lines");
        break;
      }
    }
    // A forward moves the ticket to the new responsible's department too.
    if (name == "forward" && department.empty()) department = target->department;
    hand_over(run, *target, department);
    run.text_used = true;
  } else if (name == "note") {
    if (!check_transition(run, c, Action::Note) || !need_text("the note")) return;
    run.text_used = true;
    if (run.dry_run) return;
    run.articles.push_back(add_article(run.message, t, ArticleKind::InternalNote, agent.id, run.text));
    record(t.id, "note", "", "", "", agent.id);
    OutgoingMail note;
    note.template_name = "note";
    note.audience = OutgoingMail::Audience::Agent;
    note.agent_id = agent.id;
    note.text = run.text;
    if (const AgentConfig* responsible = config_.agent(t.responsible); responsible && responsible->id != agent.id)
      note.to.push_back({responsible->email, responsible->name});
    for (const auto& watcher : store_.watchers(t.id)) {
      const AgentConfig* watching = config_.agent_by_email(watcher);
      if (watching && watching->id != agent.id && watching->id != t.responsible && watching->level >= t.level)
        note.to.push_back({watching->email, watching->name});
    }
    if (!note.to.empty()) run.mails.push_back(note);
  } else if (name == "status") {
    const std::string wanted = lower(arg);
    if (wanted != "waiting_third_party" && wanted != "in_progress")
      return fail("\"" + arg + "\" cannot be set with #status: use #status waiting_third_party (pause) or "
                  "#status in_progress (resume); the other statuses come with #take, #schedule, #solve, #close, "
                  "#cancel and #reopen");
    const Action action = wanted == "in_progress" ? Action::Resume : Action::Pause;
    if (!check_transition(run, c, action)) return;
    if (action == Action::Resume && t.responsible.empty()) {
      change(run, "responsible", "", agent.id, "#status in_progress");
      t.responsible = agent.id;
    }
    move_status(run, transition(t.status, action).to, run.text);
    if (action == Action::Resume && next_contact_days(config_, t) > 0)
      t.next_contact_due = clock_.now() + next_contact_days(config_, t) * 86400;
  } else if (name == "schedule") {
    if (!check_transition(run, c, Action::Schedule)) return;
    // 004 "Melhor horário": a period of the day instead of a time.
    const std::string second = c.args.size() > 1 ? c.args[1] : "";
    const std::string period = schedule_period(second);
    const std::string time = period.empty() ? second : "";
    const auto when = parse_schedule(arg, time);
    if (!when)
      return fail("\"" + joined(c.args, " ") + "\" is not a date: write #schedule YYYY-MM-DD, #schedule YYYY-MM-DD HH:MM "
                  "or #schedule YYYY-MM-DD morning|afternoon|evening|any");
    const Timestamp day = *when / 86400 * 86400;
    const Timestamp now = clock_.now();
    if ((time.empty() && day + 86400 <= now) || (!time.empty() && *when <= now))
      return fail(joined(c.args, " ") + " is in the past (now it is " + format_date(now, true) + " UTC)");
    const std::string shown = format_date(*when, !time.empty());
    const std::string period_words = period_in_words(period, config_.server.locale);
    move_status(run, TicketStatus::Scheduled, run.text);
    t.times_scheduled += 1;
    change(run, "scheduled", "", period.empty() ? shown : shown + " " + period, run.text);
    run.text_used = true;
    if (run.dry_run) return;
    store_.set_timer(t.id, "reminder", day);
    const auto contact = store_.contact(t.contact_id);
    if (!contact || !is_usable_address(contact->address)) {
      record(t.id, "mail_skipped", "scheduled", "", "the customer has no usable address", agent.id);
      return;
    }
    OutgoingMail mail;
    mail.template_name = "scheduled";
    mail.audience = OutgoingMail::Audience::Customer;
    mail.agent_id = agent.id;
    mail.to.push_back({contact->address, contact->name});
    mail.due = shown;
    mail.period = period_words;
    mail.text = run.text.empty() ? kNoText : run.text;
    mail.automatic = run.text.empty();
    mail.from_name = agent.name + " (" + config_.server.name + ")";
    mail.in_reply_to = last_customer_message_id(t);
    run.mails.push_back(mail);
  } else if (name == "priority") {
    const auto priority = parse_priority(arg);
    if (!priority) return fail("\"" + arg + "\" is not a priority: urgent, high, normal or low");
    if (!check_transition(run, c, Action::Priority)) return;
    if (static_cast<int>(*priority) == t.priority) return;
    change(run, "priority", priority_name(static_cast<Priority>(t.priority)), priority_name(*priority), run.text);
    t.priority = static_cast<int>(*priority);
  } else if (name == "type") {
    if (!check_transition(run, c, Action::Type)) return;
    if (type && !type->allow_type_change)
      return fail("the type " + type->id + " (" + type->name + ") does not allow changing the type of its tickets");
    const TypeConfig* wanted = config_.type(arg);
    if (!wanted) {
      std::vector<std::string> ids;
      for (const auto& known : config_.types) ids.push_back(known.id);
      return fail("no type \"" + arg + "\"; the types are: " + joined(ids, ", "));
    }
    if (wanted->id == t.type_id) return;
    const WorkflowConfig& before = workflow_of(config_, t.type_id);
    change(run, "type", t.type_id, wanted->id, run.text);
    t.type_id = wanted->id;
    const WorkflowConfig& after = workflow_of(config_, t.type_id);
    if (&before != &after) {
      const std::string start = first_stage(config_, t.type_id);
      change(run, "stage", t.stage, start, "the new type's workflow");
      t.stage = start;
    }
    if (wanted->level > t.level) {
      change(run, "level", std::to_string(t.level), std::to_string(wanted->level), "the new type's access level");
      t.level = wanted->level;
    }
  } else if (name == "field") {
    if (!is_field_name(arg)) return fail("\"" + arg + "\" is not a field name (letters, digits, '_' or '-')");
    if (lower(arg) == "analysis" || lower(arg) == "confirmation")
      return fail("the field " + lower(arg) + " is kept by atendd (" +
                  (lower(arg) == "analysis" ? "#analysis sets it" : "the customer's confirmation sets it") + ")");
    if (!check_transition(run, c, Action::Field)) return;
    std::string value = c.args[1];
    if (type && !type->fields.empty()) {
      const FieldSpec* spec = type->field(arg);
      if (!spec)
        return fail("the type " + type->id + " has no field \"" + arg + "\"; its fields: " + describe_fields(*type));
      const FieldValue checked = check_field_value(*spec, value);
      if (!checked.ok) return fail(checked.error);
      value = checked.value;
    }
    const std::string old = run.fields.count(arg) ? run.fields[arg] : "";
    if (old == value) return;
    change(run, "field." + arg, old, value, run.text);
    run.fields[arg] = value;
    if (!run.dry_run) store_.set_field(t.id, arg, value);
  } else if (name == "expense") {
    if (!type || !type->expenses)
      return fail("the type " + t.type_id + " does not record expenses (expenses = true in its [type." + t.type_id +
                  "])");
    if (!check_transition(run, c, Action::Expense)) return;
    FieldSpec money;
    money.name = "AMOUNT";
    money.kind = FieldKind::Money;
    const FieldValue amount = check_field_value(money, arg);
    if (!amount.ok) return fail(amount.error);
    const std::string description = c.args[1];
    const std::int64_t cents = std::stoll(amount.value.substr(0, amount.value.size() - 3)) * 100 +
                               std::stoll(amount.value.substr(amount.value.size() - 2));
    if (cents == 0) return fail("an expense of 0 is no expense");
    change(run, "expense", "", amount.value + " " + description, run.text);
    if (run.dry_run) return;
    store_.add_expense({0, t.id, cents, description, agent.id, clock_.now()});
  } else if (name == "analysis") {
    // An internal analysis article with its verdict; the last verdict is the ticket's (field
    // "analysis"). Its text is the rest of the line and the text below (which a #forward on the
    // same mail takes as its justification too); never relayed to the customer.
    const std::string verdict = lower(arg);
    const char* words = verdict == "valid"     ? "Procedente / valid"
                        : verdict == "invalid" ? "Improcedente / invalid"
                        : verdict == "partial" ? "Análise parcial / partial analysis"
                                               : nullptr;
    if (!words)
      return fail("\"" + arg + "\" is not a verdict: valid (procedente), invalid (improcedente) or partial "
                  "(análise parcial)");
    if (!check_transition(run, c, Action::Analysis)) return;
    std::string text = c.args.size() > 1 ? c.args[1] : "";
    if (text.empty() && !need_text("the analysis (on its line or below)")) return;
    if (!run.text.empty()) text += (text.empty() ? "" : "\n\n") + run.text;
    run.text_used = true;
    const std::string old = run.fields.count("analysis") ? run.fields["analysis"] : "";
    change(run, "analysis", old, verdict, text);
    run.fields["analysis"] = verdict;
    if (run.dry_run) return;
    run.articles.push_back(
        add_article(run.message, t, ArticleKind::Analysis, agent.id, std::string("Análise: ") + words + "\n\n" + text));
    store_.set_field(t.id, "analysis", verdict);
  } else if (name == "stage") {
    if (!check_transition(run, c, Action::Stage)) return;
    const StageMove move = resolve_stage_move(config_, t.type_id, t.stage, arg);
    if (!move.error.empty()) return fail(move.error);
    const StageConfig& options = current_stage_options(config_, t.type_id, move.to);
    const AgentConfig* next = nullptr;
    std::string department;
    if (c.args.size() > 1 && !(next = find_agent_for(run, c, c.args[1], false, department))) return;
    bool names_responsible = next != nullptr;
    for (const auto& other : run.commands) names_responsible |= other.name == "assign" || other.name == "forward";
    if ((options.requires_responsible || move.requires_responsible) && !names_responsible)
      return fail("stage " + move.to + " requires naming the next responsible: write #stage " + arg +
                  " AGENT, or add #forward AGENT to the message");
    if (options.closes) {
      if (!need_text("the final opinion (stage " + move.to + " closes the ticket)")) return;
      const Transition closing = transition(t.status, Action::Close);
      if (!closing.allowed) return fail("stage " + move.to + " closes the ticket, but " + closing.refusal);
      if (!fields_complete("closed (stage " + move.to + " closes it)")) return;
    }
    change(run, "stage", t.stage, move.to, run.text);
    if (!move.workflow_change.empty())  // 003 "Workflow (verde)": into or back from another workflow
      change(run, "workflow", move.from_workflow, move.to_workflow, move.workflow_change);
    t.stage = move.to;
    if (options.next_contact_days >= 0) {  // the stage's own days to the next contact
      if (options.next_contact_days > 0)
        t.next_contact_due = clock_.now() + options.next_contact_days * 86400;
      else
        t.next_contact_due.reset();
    }
    run.text_used = true;
    if (next && next->id != t.responsible) hand_over(run, *next, "");
    if (options.closes) {
      if (run.dry_run) {
        t.status = TicketStatus::Closed;
      } else {
        run.articles.push_back(add_article(run.message, t, ArticleKind::Solution, agent.id, run.text));
        close_ticket(t, agent.id, run.text, run.mails);
      }
    }
  } else if (name == "solve") {
    if (!check_transition(run, c, Action::Solve) || !need_text("the solution") || !fields_complete("solved")) return;
    move_status(run, TicketStatus::Solved, "");
    run.text_used = true;
    if (run.dry_run) return;
    run.articles.push_back(add_article(run.message, t, ArticleKind::Solution, agent.id, run.text));
    if (!t.first_response_at) {
      t.first_response_at = clock_.now();
      record(t.id, "first_response", "", agent.id, "", agent.id);
    }
    if (type && type->auto_close_days > 0) store_.set_timer(t.id, "auto_close", clock_.now() + type->auto_close_days * 86400);
    const auto contact = store_.contact(t.contact_id);
    if (!contact || !is_usable_address(contact->address)) {
      record(t.id, "mail_skipped", "solution", "", "the customer has no usable address", agent.id);
      return;
    }
    OutgoingMail mail;
    mail.template_name = "solution";
    mail.audience = OutgoingMail::Audience::Customer;
    mail.agent_id = agent.id;
    mail.to.push_back({contact->address, contact->name});
    mail.cc = conversation_participants(t);
    mail.include_attachments = true;
    mail.automatic = false;
    mail.text = run.text;
    mail.from_name = agent.name + " (" + config_.server.name + ")";
    mail.in_reply_to = last_customer_message_id(t);
    run.mails.push_back(mail);
  } else if (name == "close") {
    if (!check_transition(run, c, Action::Close) || !need_text("the final opinion (parecer)") ||
        !fields_complete("closed"))
      return;
    const std::string stage = closing_stage(config_, t.type_id, t.stage);
    if (!stage.empty() && stage != t.stage) {
      change(run, "stage", t.stage, stage, "#close");
      t.stage = stage;
    }
    run.text_used = true;
    if (run.dry_run) {
      t.status = TicketStatus::Closed;
      return;
    }
    run.articles.push_back(add_article(run.message, t, ArticleKind::Solution, agent.id, run.text));
    close_ticket(t, agent.id, run.text, run.mails);
  } else if (name == "cancel") {
    if (!check_transition(run, c, Action::Cancel) || !need_text("the reason")) return;
    move_status(run, TicketStatus::Cancelled, run.text);
    run.text_used = true;
    if (run.dry_run) return;
    store_.clear_timer(t.id, "auto_close");
    store_.clear_timer(t.id, "reminder");
  } else if (name == "reopen") {
    if (!check_transition(run, c, Action::Reopen)) return;
    const int days = type ? type->reopen_days : 0;
    if (days <= 0) return fail("the type " + t.type_id + " does not allow reopening its tickets");
    if (t.closed_at && clock_.now() > *t.closed_at + days * 86400)
      return fail("the ticket was closed on " + format_date(*t.closed_at, true) + ", more than the type's " +
                  std::to_string(days) + " days ago: the customer's new message opens a new ticket instead");
    move_status(run, TicketStatus::Reopened, run.text);
    t.times_reopened += 1;
    t.closed_at.reset();
    if (next_contact_days(config_, t) > 0) t.next_contact_due = clock_.now() + next_contact_days(config_, t) * 86400;
    run.text_used = true;
    if (run.dry_run) return;
    const AgentConfig* responsible = config_.agent(t.responsible);
    if (responsible && responsible->id != agent.id) {
      OutgoingMail mail;
      mail.template_name = "reopened";
      mail.audience = OutgoingMail::Audience::Agent;
      mail.agent_id = agent.id;
      mail.to.push_back({responsible->email, responsible->name});
      mail.justification = run.text.empty() ? kNoText : run.text;
      mail.text = kNoText;
      run.mails.push_back(mail);
    }
  } else if (name == "watch" || name == "unwatch") {
    const std::string address = lower(arg);
    if (!is_usable_address(address)) return fail("\"" + arg + "\" is not an e-mail address");
    if (!check_transition(run, c, name == "watch" ? Action::Watch : Action::Unwatch)) return;
    const auto watchers = store_.watchers(t.id);
    const bool watching = std::find(watchers.begin(), watchers.end(), address) != watchers.end();
    if (name == "watch") {
      if (config_.server.is_our_address(address)) return fail(address + " is one of our own addresses");
      if (watching) return fail(address + " already watches the ticket");
      change(run, "watcher_added", "", address, run.text);
      if (!run.dry_run) store_.add_watcher(t.id, address);
    } else {
      if (!watching)
        return fail(address + " does not watch the ticket; its watchers: " +
                    (watchers.empty() ? std::string("none") : joined(watchers, ", ")));
      change(run, "watcher_removed", address, "", run.text);
      if (!run.dry_run) store_.remove_watcher(t.id, address);
    }
  } else if (name == "answer") {
    if (!check_transition(run, c, Action::Answer)) return;
    // A canned answer rendered for this ticket; "" with `problem` set when it cannot be.
    auto render_answer = [&](const std::string& answer_name, std::string& problem) {
      const auto source = Renderer::answer(config_.server.templates_dir, config_.server.locale, answer_name);
      if (!source) {
        problem = "no canned answer \"" + answer_name + "\"";
        return std::string();
      }
      kainjow::mustache::mustache answer{*source};
      if (!answer.is_valid()) {
        problem = "the canned answer " + answer_name + " does not compile: " + answer.error_message();
        return std::string();
      }
      const auto contact = store_.contact(t.contact_id).value_or(Contact{});
      kainjow::mustache::data context;
      kainjow::mustache::data customer;
      customer.set("name", contact.name);
      customer.set("address", contact.address);
      context.set("customer", customer);
      kainjow::mustache::data agent_data;
      agent_data.set("name", agent.name);
      agent_data.set("address", agent.email);
      context.set("agent", agent_data);
      kainjow::mustache::data server;
      server.set("name", config_.server.name);
      server.set("address", config_.server.address);
      context.set("server", server);
      context.set("protocol", t.protocol);
      std::string rendered = answer.render(context);
      while (!rendered.empty() && (rendered.back() == '\n' || rendered.back() == '\r')) rendered.pop_back();
      return rendered;
    };
    const auto names = Renderer::answer_names(config_.server.templates_dir, config_.server.locale);
    if (arg.empty()) {
      // "#answer" alone asks which canned answers ("parecer padrão") there are: those of the
      // ticket's stage first, each with its text as the customer would get it; nothing is applied.
      const auto& of_stage = current_stage_options(config_, t.type_id, t.stage).canned_answers;
      std::string list = "#answer NAME puts a canned answer (parecer padrão) into the reply. ";
      list += of_stage.empty() ? "Stage " + t.stage + " has no answers of its own."
                               : "The answers of stage " + t.stage + ":";
      for (const auto& answer_name : of_stage) {
        std::string problem;
        std::string text = render_answer(answer_name, problem);
        std::string indented;
        for (char ch : problem.empty() ? text : problem) indented += ch == '\n' ? std::string("\n        ") : std::string(1, ch);
        list += "\n\n    #answer " + answer_name + "\n        " + indented;
      }
      std::vector<std::string> others;
      for (const auto& answer_name : names)
        if (std::find(of_stage.begin(), of_stage.end(), answer_name) == of_stage.end()) others.push_back(answer_name);
      list += std::string("\n\n    ") + (of_stage.empty() ? "The answers: " : "Other answers: ") +
              (others.empty() ? std::string("none") : joined(others, ", "));
      return fail(list);
    }
    std::string problem;
    const std::string rendered = render_answer(arg, problem);
    if (!problem.empty())
      return fail(problem + "; the answers are: " + (names.empty() ? std::string("none") : joined(names, ", ")));
    run.answers.push_back(rendered);
  } else if (name == "link") {
    if (!check_transition(run, c, Action::Link)) return;
    const auto other = store_.ticket_by_protocol(arg);
    if (!other || other->level > agent.level) return fail("no ticket with protocol " + arg);
    if (other->id == t.id) return fail("a ticket cannot be linked to itself");
    const auto links = store_.links(t.id);
    if (std::find(links.begin(), links.end(), other->id) != links.end())
      return fail("the ticket is already linked to " + arg);
    change(run, "linked", "", other->protocol, run.text);
    if (run.dry_run) return;
    record(other->id, "linked", "", t.protocol, run.text, agent.id);
    store_.add_link(t.id, other->id, clock_.now());
  } else if (name == "contact") {
    // --- contact identities: the ticket's contact and ADDRESS (an e-mail address, or a messaging
    // sender as CHANNEL:ID, e.g. wa:5511999990000) become one person; their tickets and replies
    // then follow whichever identity the customer writes from. An agent's act only: a customer's
    // own claim to an address links nothing.
    if (arg != "link") return fail("the only #contact action is \"link\": " + usage_of("contact"));
    if (!check_transition(run, c, Action::Link)) return;
    std::string address = lower(c.args[1]);
    const auto colon = address.find(':');
    if (address.find('@') == std::string::npos && colon != std::string::npos) {
      const std::string channel = address.substr(0, colon), sender = address.substr(colon + 1);
      if (!config_.channels.count(channel)) return fail("no channel \"" + channel + "\"");
      if (sender.empty() || sender.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789._+-") != std::string::npos)
        return fail("\"" + sender + "\" is not a sender id of channel " + channel);
      address = sender + "@" + channel + ".channel.invalid";  // webhook_receiver.h's channel_address
    } else if (!is_usable_address(address)) {
      return fail("\"" + c.args[1] + "\" is neither an e-mail address nor CHANNEL:ID");
    }
    if (config_.server.is_our_address(address) || config_.agent_by_email(address))
      return fail(address + " is one of our own or an agent's address, never a customer's");
    for (const auto& identity : store_.identities(t.contact_id))
      if (identity.address == address) return fail(address + " is already this contact's");
    change(run, "contact_linked", "", address, run.text);
    if (run.dry_run) return;
    store_.link_contacts(t.contact_id, store_.find_or_add_contact(address, "").id);
  } else if (name == "level") {
    if (!agent.chief) return fail("only a chief may change a ticket's access level");
    if (arg.empty() || arg.size() > 2 || !all_digits(arg, 0, arg.size()))
      return fail("\"" + arg + "\" is not an access level (a whole number from 0 to 99)");
    if (!check_transition(run, c, Action::Level)) return;
    const int level = std::stoi(arg);
    if (level > agent.level)
      return fail("level " + arg + " is above your own access level (" + std::to_string(agent.level) + ")");
    if (level == t.level) return;
    change(run, "level", std::to_string(t.level), arg, run.text);
    t.level = level;
  } else {
    fail("unknown command; the commands are: " + command_usage());
  }
}

TicketUpdate Engine::refuse(const InboundMessage& message, const Ticket& ticket, const AgentConfig& agent,
                            const std::vector<std::string>& errors, const std::string& text) {
  (void)message;
  TicketUpdate update;
  update.ticket = ticket;
  record(ticket.id, "command_refused", "", "", joined(errors, "\n"), agent.id);
  OutgoingMail error;
  error.template_name = "command_error";
  error.audience = OutgoingMail::Audience::Agent;
  error.agent_id = agent.id;
  error.to.push_back({agent.email, agent.name});
  error.text = text.empty() ? kNoText : text;
  error.error = joined(errors, "\n    ") +
                "\n\n    Nada foi aplicado / nothing was applied. Comandos / commands: " + command_usage();
  update.mails.push_back(error);
  return update;
}

TicketUpdate Engine::add_agent_reply(const InboundMessage& message, const Ticket& current, const AgentConfig& agent) {
  const ParsedMessage& parsed = message.parsed;
  const TypeConfig* type = config_.type(current.type_id);
  const std::string text = parsed.new_text.empty() ? parsed.text : parsed.new_text;

  if (agent.level < current.level)
    return refuse(message, current, agent,
                  {"your access level (" + std::to_string(agent.level) + ") is below this ticket's (" +
                   std::to_string(current.level) + "): you can neither answer nor command it"},
                  "");

  std::string reply_text = text;
  TicketUpdate update;
  update.ticket = current;
  Ticket& t = update.ticket;
  bool commanded = false;

  if (!begins_with_command(text)) explain(explain_, "commands", "none", "no command on the first line: a reply");
  if (begins_with_command(text)) {
    const CommandLines lines = read_commands(text);
    if (explain_) {
      std::string read;
      for (const auto& command : lines.commands) read += (read.empty() ? "" : ", ") + command.line;
      explain_->add("commands", read.empty() ? "none readable" : read,
                    lines.errors.empty() ? "from agent " + agent.id + "'s first lines" : joined(lines.errors, "; "));
    }
    CommandRun check(message, agent, lines.commands, lines.text, current, true);
    for (const auto& [field, value] : store_.fields(current.id)) check.fields[field] = value;
    if (lines.errors.empty())
      for (const auto& command : lines.commands) run_command(check, command);
    std::vector<std::string> errors = lines.errors;
    errors.insert(errors.end(), check.errors.begin(), check.errors.end());
    if (!errors.empty()) return refuse(message, current, agent, errors, text);

    CommandRun run(message, agent, lines.commands, lines.text, current, false);
    for (const auto& [field, value] : store_.fields(current.id)) run.fields[field] = value;
    for (const auto& command : lines.commands) run_command(run, command);
    if (!run.errors.empty())  // the check above said otherwise: roll the whole message back
      throw std::runtime_error("commands failed after their check: " + joined(run.errors, "; "));
    t = run.ticket;
    update.mails = run.mails;
    commanded = true;
    reply_text = run.text;
    for (const auto& answer : run.answers) reply_text += (reply_text.empty() ? "" : "\n\n") + answer;
    if (run.text_used || reply_text.empty()) {
      if (run.articles.empty()) {
        std::string summary;
        for (const auto& command : lines.commands) summary += command.line + "\n";
        run.articles.push_back(add_article(message, t, ArticleKind::SystemLog, agent.id, summary));
      }
      update.article_id = run.articles.front();
      update.attachments = accepted_attachments(message, t, type);
      for (auto attachment : update.attachments) {
        attachment.article_id = update.article_id;
        store_.add_attachment(attachment);
      }
      store_.update_ticket(t);
      return update;
    }
  }

  // The text goes to the customer: a plain reply, or the text after commands that leave it.
  update.article_id = add_article(message, t, ArticleKind::AgentReply, agent.id, reply_text);
  update.attachments = accepted_attachments(message, t, type);
  for (auto attachment : update.attachments) {
    attachment.article_id = update.article_id;
    store_.add_attachment(attachment);
  }
  if (!t.first_response_at) {
    t.first_response_at = clock_.now();
    record(t.id, "first_response", "", agent.id, "", agent.id);
  }
  if (next_contact_days(config_, t) > 0) t.next_contact_due = clock_.now() + next_contact_days(config_, t) * 86400;
  if (t.responsible.empty()) {
    record(t.id, "responsible", "", agent.id, "answered the customer", agent.id);
    t.responsible = agent.id;
  }
  if (!commanded) {
    const Transition after = transition(t.status, Action::AgentReply);
    if (after.allowed) set_status(t, after.to, agent.id, "an agent answered the customer");
  }
  store_.update_ticket(t);

  const auto contact = store_.contact(t.contact_id);
  if (!contact || !is_usable_address(contact->address)) {
    record(t.id, "mail_skipped", "reply", "", "the customer has no usable address", agent.id);
    return update;
  }
  OutgoingMail reply;
  reply.template_name = "reply";
  reply.audience = OutgoingMail::Audience::Customer;
  reply.agent_id = agent.id;
  reply.to.push_back({contact->address, contact->name});
  reply.cc = conversation_participants(t);
  reply.include_attachments = true;
  reply.automatic = false;
  reply.text = reply_text;
  reply.from_name = agent.name.empty() ? "" : agent.name + " (" + config_.server.name + ")";
  reply.in_reply_to = last_customer_message_id(t);
  update.mails.push_back(reply);
  return update;
}

// ---- the scheduler's events

TicketUpdate Engine::escalate(const Ticket& ticket, const std::string& deadline, Timestamp due) {
  TicketUpdate update;
  update.ticket = ticket;
  const std::string why = deadline == "first_response"
                              ? "Primeira resposta ao cliente fora do prazo / no first response to the customer in time"
                              : "Sem novo contato com o cliente no prazo / no new contact with the customer in time";
  record(ticket.id, "sla_breached", deadline, format_date(due, true), why);
  OutgoingMail mail;
  mail.template_name = "escalation";
  mail.audience = OutgoingMail::Audience::Agent;
  mail.due = format_date(due, true);
  mail.text = why;
  std::vector<std::string> added;
  auto add = [&](const AgentConfig& agent) {
    if (std::find(added.begin(), added.end(), agent.id) != added.end()) return;
    added.push_back(agent.id);
    mail.to.push_back({agent.email, agent.name});
  };
  if (const AgentConfig* responsible = config_.agent(ticket.responsible)) add(*responsible);
  for (const auto& [id, agent] : config_.agents)
    if (agent.chief && !ticket.department.empty() && agent.department == ticket.department && agent.level >= ticket.level)
      add(agent);
  if (mail.to.empty()) {
    record(ticket.id, "mail_skipped", "escalation", "", "no responsible and no chief of the department to tell");
  } else {
    update.mails.push_back(mail);
  }
  return update;
}

TicketUpdate Engine::remind(const Ticket& ticket, Timestamp scheduled_for) {
  TicketUpdate update;
  update.ticket = ticket;
  record(ticket.id, "reminder", "", format_date(scheduled_for, false), "the scheduled day came");
  const AgentConfig* responsible = config_.agent(ticket.responsible);
  if (!responsible) {
    record(ticket.id, "mail_skipped", "reminder", "", "the ticket has no responsible agent");
    return update;
  }
  OutgoingMail mail;
  mail.template_name = "reminder";
  mail.audience = OutgoingMail::Audience::Agent;
  mail.to.push_back({responsible->email, responsible->name});
  mail.due = format_date(scheduled_for, false);
  // The period agreed with the customer, when the last #schedule gave one ("DATE morning").
  const auto history = store_.history(ticket.id);
  for (auto h = history.rbegin(); h != history.rend(); ++h) {
    if (h->field != "scheduled") continue;
    const auto space = h->to_value.rfind(' ');
    if (space != std::string::npos)
      mail.period = period_in_words(schedule_period(h->to_value.substr(space + 1)), config_.server.locale);
    break;
  }
  mail.text = kNoText;
  update.mails.push_back(mail);
  return update;
}

std::string Engine::last_solution(const Ticket& ticket) {
  std::string solution;
  for (const auto& article : store_.articles(ticket.id))
    if (article.kind == ArticleKind::Solution) solution = article.text;
  return solution;
}

TicketUpdate Engine::auto_close(const Ticket& ticket) {
  TicketUpdate update;
  update.ticket = ticket;
  Ticket& t = update.ticket;
  const TypeConfig* type = config_.type(t.type_id);
  const std::string silence =
      "solved with no customer reply for " + std::to_string(type ? type->auto_close_days : 0) + " days";
  record(t.id, "auto_close", "", "", silence);
  // 001 "Avisado" without "Confirmado": the customer was told and never answered.
  record(t.id, "confirmation", "", "unconfirmed", silence);
  store_.set_field(t.id, "confirmation", "unconfirmed");
  close_ticket(t, "system", last_solution(t), update.mails);
  store_.update_ticket(t);
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

// ticket_report.cpp — see ticket_report.h.
#include "daemon/admin/ticket_report.h"

#include "daemon/config/config.h"

#include <ctime>
#include <iomanip>

namespace atendd {

namespace {

std::string iso(Timestamp at) {
  std::time_t t = static_cast<std::time_t>(at);
  std::tm utc{};
  gmtime_r(&t, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M:%SZ", &utc);
  return buffer;
}

std::string optional_time(const std::optional<Timestamp>& at) { return at ? iso(*at) : "-"; }

std::string indent(const std::string& text, const std::string& prefix) {
  std::string out = prefix;
  for (char c : text) {
    out += c;
    if (c == '\n') out += prefix;
  }
  return out;
}

}  // namespace

void print_ticket_list(Store& store, std::optional<TicketStatus> status, int limit, std::ostream& out) {
  out << std::left << std::setw(16) << "PROTOCOL" << std::setw(20) << "STATUS" << std::setw(12) << "TYPE"
      << std::setw(12) << "RESPONSIBLE" << std::setw(22) << "OPENED" << "SUBJECT\n";
  for (const auto& t : store.tickets(status, limit)) {
    out << std::left << std::setw(16) << t.protocol << std::setw(20) << status_name(t.status) << std::setw(12)
        << t.type_id << std::setw(12) << (t.responsible.empty() ? "-" : t.responsible) << std::setw(22)
        << iso(t.opened_at) << t.subject << "\n";
  }
}

bool print_ticket(Store& store, const std::string& protocol, std::ostream& out) {
  const auto ticket = store.ticket_by_protocol(protocol);
  if (!ticket) return false;
  const Ticket& t = *ticket;
  const Contact contact = store.contact(t.contact_id).value_or(Contact{});
  out << "Ticket " << t.protocol << "\n"
      << "  subject:      " << t.subject << "\n"
      << "  status:       " << status_name(t.status) << (t.stage.empty() ? "" : "  stage: " + t.stage) << "\n"
      << "  type:         " << t.type_id << "\n"
      << "  priority:     " << t.priority << " (" << priority_name(static_cast<Priority>(t.priority)) << ")\n"
      << "  contact:      " << (contact.name.empty() ? "" : contact.name + " ") << "<" << contact.address << ">\n"
      << "  responsible:  " << (t.responsible.empty() ? "-" : t.responsible) << "\n"
      << "  department:   " << (t.department.empty() ? "-" : t.department) << "\n"
      << "  opened:       " << iso(t.opened_at) << "\n"
      << "  first response due: " << optional_time(t.first_response_due) << "\n"
      << "  next contact due:   " << optional_time(t.next_contact_due) << "\n";
  const auto watchers = store.watchers(t.id);
  if (!watchers.empty()) {
    out << "  watchers:    ";
    for (const auto& w : watchers) out << " " << w;
    out << "\n";
  }
  out << "\nArticles\n";
  for (const auto& a : store.articles(t.id)) {
    out << "  #" << a.id << " " << article_kind_name(a.kind) << " by " << a.author << " at " << iso(a.created_at)
        << (a.message_id.empty() ? "" : " <" + a.message_id + ">") << "\n";
    out << indent(a.text.size() > 2000 ? a.text.substr(0, 2000) + "\n[…]" : a.text, "    | ") << "\n";
    for (const auto& f : store.attachments(a.id))
      out << "    attachment: " << f.filename << " (" << f.content_type << ", " << f.size << " bytes"
          << (f.inline_part ? ", inline" : "") << ")\n";
  }
  out << "\nHistory\n";
  for (const auto& h : store.history(t.id)) {
    out << "  " << iso(h.at) << " " << h.actor << " " << h.field;
    if (!h.from_value.empty()) out << " " << h.from_value;
    if (!h.to_value.empty()) out << " -> " << h.to_value;
    if (!h.justification.empty()) out << " (" << h.justification << ")";
    out << "\n";
  }
  out << "\nOutgoing mail\n";
  for (const auto& m : store.outbox_of_ticket(t.id)) {
    out << "  #" << m.id << " " << m.template_name << " " << outbox_state_name(m.state) << " to";
    for (const auto& r : m.recipients) out << " " << r;
    out << " attempts " << m.attempts;
    if (m.sent_at) out << " sent " << iso(*m.sent_at);
    if (!m.last_error.empty()) out << " last error: " << m.last_error;
    out << "\n";
  }
  return true;
}

}  // namespace atendd

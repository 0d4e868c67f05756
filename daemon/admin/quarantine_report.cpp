// quarantine_report.cpp — see quarantine_report.h.
#include "daemon/admin/quarantine_report.h"

#include <iomanip>
#include <sstream>

#include <Poco/JSON/Array.h>

#include "daemon/admin/routes_tickets.h"

namespace atendd {

using Poco::JSON::Array;
using Poco::JSON::Object;

namespace {

std::string iso(Timestamp at) { return rfc3339(at); }

Poco::Dynamic::Var optional_time(const std::optional<Timestamp>& at) {
  return at ? Poco::Dynamic::Var(iso(*at)) : Poco::Dynamic::Var();
}

std::string origin(const JournalEntry& e) {
  return e.source + (e.uid ? " uid " + std::to_string(e.uidvalidity) + "/" + std::to_string(e.uid) : "");
}

std::string addresses(const std::vector<Address>& list) {
  std::string out;
  for (const auto& a : list)
    out += (out.empty() ? "" : ", ") + (a.name.empty() ? a.address : a.name + " <" + a.address + ">");
  return out;
}

Array::Ptr steps_json(const std::vector<ExplanationStep>& steps) {
  Array::Ptr list = new Array;
  for (const auto& s : steps) {
    Object::Ptr o = new Object;
    o->set("stage", s.stage);
    o->set("decision", s.decision);
    o->set("reason", s.reason);
    list->add(o);
  }
  return list;
}

}  // namespace

std::string stringify(const Object::Ptr& object) {
  std::ostringstream out;
  object->stringify(out);
  return out.str();
}

void print_quarantine_list(const std::vector<JournalEntry>& entries, const QuarantineSummary& summary,
                           std::ostream& out) {
  out << "quarantine: " << summary.count << " message(s)";
  if (summary.oldest_received_at) out << ", oldest " << iso(*summary.oldest_received_at);
  out << "\n";
  if (entries.empty()) return;
  out << std::left << std::setw(8) << "ID" << std::setw(22) << "RECEIVED" << std::setw(12) << "MAILBOX"
      << std::setw(22) << "SOURCE" << "REASON\n";
  for (const auto& e : entries)
    out << std::left << std::setw(8) << e.id << std::setw(22) << iso(e.received_at) << std::setw(12)
        << (e.mailbox.empty() ? "-" : e.mailbox) << std::setw(22) << origin(e) << e.detail << "\n";
}

void print_quarantine_detail(const QuarantineDetail& d, std::ostream& out) {
  const JournalEntry& e = d.entry;
  out << "journal " << e.id << ": " << e.outcome << "\n";
  out << "  reason:      " << e.detail << "\n";
  out << "  received:    " << iso(e.received_at) << "\n";
  if (e.updated_at) out << "  updated:     " << iso(*e.updated_at) << "\n";
  out << "  mailbox:     " << (e.mailbox.empty() ? "-" : e.mailbox) << "\n";
  out << "  source:      " << origin(e) << "\n";
  out << "  raw:         " << e.content_sha256
      << (d.raw_found ? " (" + std::to_string(d.raw_size) + " bytes)" : std::string(" (missing)")) << "\n";
  if (d.raw_found) {
    const ParsedMessage& m = d.parsed;
    out << "headers:\n";
    out << "  From:        " << addresses({m.from}) << "\n";
    out << "  To:          " << addresses(m.to) << "\n";
    if (!m.cc.empty()) out << "  Cc:          " << addresses(m.cc) << "\n";
    out << "  Subject:     " << m.subject << "\n";
    out << "  Message-ID:  " << (m.message_id.empty() ? "-" : "<" + m.message_id + ">") << "\n";
    if (m.date) out << "  Date:        " << iso(*m.date) << "\n";
    out << "  attachments: " << m.attachments.size() << "\n";
    out << "defects:" << (m.defects.empty() ? " none\n" : "\n");
    for (const auto& defect : m.defects) out << "  " << defect << "\n";
  }
  if (!e.explanation.empty()) out << "decisions:\n" << explanation_text(Explanation::from_compact(e.explanation));
}

Object::Ptr quarantine_entry_json(const JournalEntry& e) {
  Object::Ptr o = new Object;
  o->set("id", e.id);
  o->set("outcome", e.outcome);
  o->set("reason", e.detail);
  o->set("mailbox", e.mailbox);
  o->set("source", e.source);
  o->set("uidvalidity", e.uidvalidity);
  o->set("uid", e.uid);
  o->set("message_id", e.message_id);
  o->set("raw_sha256", e.content_sha256);
  o->set("received_at", iso(e.received_at));
  o->set("updated_at", optional_time(e.updated_at));
  return o;
}

Object::Ptr quarantine_detail_json(const QuarantineDetail& d) {
  Object::Ptr o = quarantine_entry_json(d.entry);
  o->set("raw_found", d.raw_found);
  o->set("raw_size", d.raw_size);
  if (d.raw_found) {
    Object::Ptr headers = new Object;
    headers->set("from", addresses({d.parsed.from}));
    headers->set("to", addresses(d.parsed.to));
    headers->set("cc", addresses(d.parsed.cc));
    headers->set("subject", d.parsed.subject);
    headers->set("message_id", d.parsed.message_id);
    headers->set("date", d.parsed.date ? Poco::Dynamic::Var(iso(*d.parsed.date)) : Poco::Dynamic::Var());
    o->set("headers", headers);
    Array::Ptr defects = new Array;
    for (const auto& defect : d.parsed.defects) defects->add(defect);
    o->set("defects", defects);
  }
  o->set("explanation", steps_json(Explanation::from_compact(d.entry.explanation)));
  return o;
}

Object::Ptr quarantine_result_json(const QuarantineResult& r) {
  Object::Ptr o = new Object;
  o->set("id", r.id);
  o->set("result", std::string(quarantine_status_name(r.status)));
  o->set("message", r.message);
  if (r.status == QuarantineResult::Status::Done || r.status == QuarantineResult::Status::StillQuarantined) {
    o->set("outcome", std::string(outcome_name(r.outcome.kind)));
    o->set("protocol", r.outcome.protocol);
  }
  return o;
}

Object::Ptr explanation_json(const std::vector<ExplanationStep>& steps, const std::vector<ExplainedMail>& mails) {
  Object::Ptr o = new Object;
  o->set("steps", steps_json(steps));
  Array::Ptr list = new Array;
  for (const auto& m : mails) {
    Object::Ptr mail = new Object;
    mail->set("template", m.template_name);
    Array::Ptr to = new Array;
    for (const auto& r : m.recipients) to->add(r);
    mail->set("recipients", to);
    mail->set("raw", m.raw);
    list->add(mail);
  }
  o->set("mails", list);
  return o;
}

bool print_ticket_why(Store& store, const std::string& protocol, std::ostream& out) {
  const auto ticket = store.ticket_by_protocol(protocol);
  if (!ticket) return false;
  out << "why " << ticket->protocol << " (type " << ticket->type_id << ", responsible "
      << (ticket->responsible.empty() ? "nobody" : ticket->responsible) << "):\n";
  const auto entries = store.journal_of_ticket(ticket->id);
  if (entries.empty()) out << "  no inbound message of this ticket was journalled (opened through the API?)\n";
  for (const auto& e : entries) {
    out << "journal " << e.id << " " << iso(e.received_at) << " " << e.outcome << " mailbox "
        << (e.mailbox.empty() ? "-" : e.mailbox) << " <" << e.message_id << ">\n";
    if (e.explanation.empty())
      out << "  (no explanation kept: journalled before atendd kept them)\n";
    else
      out << explanation_text(Explanation::from_compact(e.explanation));
  }
  bool header = false;
  for (const auto& h : store.history(ticket->id)) {
    if (h.field != "responsible" || h.from_value.empty()) continue;
    if (!header) out << "responsible since:\n";
    header = true;
    out << "  " << iso(h.at) << " " << h.from_value << " → " << (h.to_value.empty() ? "nobody" : h.to_value) << " by "
        << h.actor << (h.justification.empty() ? "" : " — " + h.justification) << "\n";
  }
  return true;
}

Object::Ptr ticket_why_json(Store& store, const Ticket& ticket) {
  Object::Ptr o = new Object;
  o->set("protocol", ticket.protocol);
  o->set("type", ticket.type_id);
  o->set("responsible", ticket.responsible);
  Array::Ptr messages = new Array;
  for (const auto& e : store.journal_of_ticket(ticket.id)) {
    Object::Ptr m = quarantine_entry_json(e);
    m->set("explanation", steps_json(Explanation::from_compact(e.explanation)));
    messages->add(m);
  }
  o->set("messages", messages);
  Array::Ptr changes = new Array;
  for (const auto& h : store.history(ticket.id)) {
    if (h.field != "responsible" || h.from_value.empty()) continue;
    Object::Ptr c = new Object;
    c->set("at", iso(h.at));
    c->set("from", h.from_value);
    c->set("to", h.to_value);
    c->set("actor", h.actor);
    c->set("justification", h.justification);
    changes->add(c);
  }
  o->set("responsible_changes", changes);
  return o;
}

}  // namespace atendd

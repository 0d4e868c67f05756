// quarantine_report.h — how quarantined messages and explained decisions read, on a terminal and
// as JSON (the CLI and the admin API print the same fields): `quarantine list|show`, the steps of
// an explanation with the mails it would send (`route --explain`), and "why is this ticket here,
// why is it hers" (`ticket show --why`, GET /api/v1/tickets/PROTOCOL/why). Read-only.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include <Poco/JSON/Object.h>

#include "daemon/pipeline/explanation.h"
#include "daemon/pipeline/quarantine.h"
#include "storage/store.h"

namespace atendd {

// One line per entry: id, received, mailbox, source/uid, Message-ID, reason.
void print_quarantine_list(const std::vector<JournalEntry>& entries, const QuarantineSummary& summary,
                           std::ostream& out);
// The entry, its reason, the message's main headers, defects, and the explanation kept.
void print_quarantine_detail(const QuarantineDetail& detail, std::ostream& out);
Poco::JSON::Object::Ptr quarantine_entry_json(const JournalEntry& entry);
Poco::JSON::Object::Ptr quarantine_detail_json(const QuarantineDetail& detail);
Poco::JSON::Object::Ptr quarantine_result_json(const QuarantineResult& result);

// {"steps": [{"stage", "decision", "reason"}…], "mails": [{"template", "recipients", "raw"}…]}
Poco::JSON::Object::Ptr explanation_json(const std::vector<ExplanationStep>& steps,
                                         const std::vector<ExplainedMail>& mails);

// The journal entries of the messages applied to the ticket, each with its explanation, and the
// history lines that changed its responsible since. False when there is no such ticket.
bool print_ticket_why(Store& store, const std::string& protocol, std::ostream& out);
Poco::JSON::Object::Ptr ticket_why_json(Store& store, const Ticket& ticket);

std::string stringify(const Poco::JSON::Object::Ptr& object);

}  // namespace atendd

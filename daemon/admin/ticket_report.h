// ticket_report.h — tickets as administrators read them on a terminal: `atendd ticket list` (one
// line per ticket) and `atendd ticket show PROTOCOL` (the ticket, its articles, attachments,
// watchers, history and outgoing mails). Read-only.
#pragma once

#include <optional>
#include <ostream>
#include <string>

#include "storage/store.h"

namespace atendd {

void print_ticket_list(Store& store, std::optional<TicketStatus> status, int limit, std::ostream& out);
// Returns false when there is no such ticket.
bool print_ticket(Store& store, const std::string& protocol, std::ostream& out);

}  // namespace atendd

// routes_tickets.h — /api/v1/tickets: list (filters, cursor paging), one ticket with articles,
// attachments metadata, watchers, links, fields and history, an attachment's file, opening a
// ticket by hand (channel internal/phone) and lifecycle commands in an agent's name. Commands go
// through the same Engine::add_agent_reply and OutboxWriter as commands by mail: same rules,
// same mails.
#pragma once

#include <string>

#include "daemon/admin/http_server.h"

namespace atendd {

AdminResponse list_tickets(AdminContext& context, const AdminRequest& request);
AdminResponse show_ticket(AdminContext& context, const std::string& protocol);
AdminResponse ticket_attachment(AdminContext& context, const std::string& protocol, const std::string& article_id,
                                const std::string& index);
AdminResponse open_ticket(AdminContext& context, const AdminRequest& request, const AdminCaller& caller);
AdminResponse ticket_action(AdminContext& context, const AdminRequest& request, const std::string& protocol,
                            const AdminCaller& caller);

// Whole seconds since the epoch as RFC 3339 UTC ("2026-11-24T10:00:00Z").
std::string rfc3339(Timestamp at);

}  // namespace atendd

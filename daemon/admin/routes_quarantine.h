// routes_quarantine.h — /api/v1/quarantine (list; one message with its reason, headers, defects
// and decisions; retry one or all; drop one with a reason) and /api/v1/tickets/PROTOCOL/why
// ("why is this ticket here, why is it hers"). Retry and drop change state, so the router lets
// only admin tokens reach them; both go through the same Quarantine as `atendd quarantine`.
#pragma once

#include <string>

#include "daemon/admin/http_server.h"

namespace atendd {

AdminResponse list_quarantine(AdminContext& context, const AdminRequest& request);
AdminResponse show_quarantine(AdminContext& context, const std::string& id);
// `id` empty: every quarantined message, oldest first.
AdminResponse retry_quarantine(AdminContext& context, const std::string& id, const AdminCaller& caller);
// `reason` required (400 without one).
AdminResponse drop_quarantine(AdminContext& context, const std::string& id, const std::string& reason,
                              const AdminCaller& caller);
// The reason of a drop from a request body: JSON {"reason": "…"}; "" when absent or malformed.
std::string drop_reason_of(const AdminRequest& request);
AdminResponse ticket_why(AdminContext& context, const std::string& protocol);

}  // namespace atendd

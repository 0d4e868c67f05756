// routes_admin.h — /healthz (store, mailboxes and the quarantine's size and oldest entry; no
// secrets), /api/v1/outbox (list, retry),
// /api/v1/reload (SIGHUP to ourselves: the main loop validates and swaps the configuration) and
// /api/v1/stats (counts by status, type and agent, SLA breaches over a period).
#pragma once

#include <string>

#include "daemon/admin/http_server.h"

namespace atendd {

// One line per failing part ("mailbox suporte: LOGIN failed"), empty when all is well.
std::vector<std::string> health_problems(AdminContext& context, std::vector<MailboxHealth>& mailboxes);

AdminResponse healthz(AdminContext& context);
AdminResponse list_outbox(AdminContext& context, const AdminRequest& request);
AdminResponse retry_outbox(AdminContext& context, const std::string& id, const AdminCaller& caller);
AdminResponse reload(AdminContext& context, const AdminCaller& caller);
AdminResponse stats(AdminContext& context, const AdminRequest& request);

}  // namespace atendd

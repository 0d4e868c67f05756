// status_page.h — the HTML pages for administrators: GET / (mailboxes, ticket counts, SLA
// breaches, failed mail with a retry button, the latest tickets), GET /ui/tickets/PROTOCOL, the
// login form (POST /login sets an HttpOnly, SameSite=Strict cookie with the token) and
// /logout. Rendered from templates/admin/html with Mustache, every value HTML-escaped; no
// JavaScript.
#pragma once

#include <string>
#include <vector>

#include "daemon/admin/http_server.h"

namespace atendd {

constexpr const char* kSessionCookie = "atendd_session";

AdminResponse login_page(const std::string& error);
AdminResponse login(AdminContext& context, const AdminRequest& request);
AdminResponse logout();
// GET / and /ui/… for an authenticated caller.
AdminResponse status_route(AdminContext& context, const AdminRequest& request, const std::vector<std::string>& path,
                           const AdminCaller& caller);

}  // namespace atendd

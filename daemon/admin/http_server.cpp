// http_server.cpp — see http_server.h. Dispatch: method and path → route; authentication and the
// body limit are decided here once, so a route never sees an unauthenticated or unbounded request.
#include "daemon/admin/http_server.h"

#include <signal.h>
#include <unistd.h>

#include <istream>

#include <Poco/JSON/Object.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/String.h>
#include <Poco/ThreadPool.h>
#include <Poco/URI.h>

#include "daemon/admin/metrics.h"
#include "daemon/admin/routes_admin.h"
#include "daemon/admin/routes_quarantine.h"
#include "daemon/admin/routes_contacts.h"
#include "daemon/admin/routes_tickets.h"
#include "daemon/admin/status_page.h"
#include "daemon/runtime.h"
#include "daemon/sources/webhook_receiver.h"

namespace atendd {

std::string AdminRequest::param(const std::string& name) const {
  for (const auto& [k, v] : query)
    if (k == name) return v;
  return "";
}

std::string AdminRequest::header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? "" : it->second;
}

AdminResponse json_error(int status, const std::string& message) {
  Poco::JSON::Object o;
  o.set("error", message);
  std::ostringstream out;
  o.stringify(out);
  return json_reply(status, out.str());
}

AdminResponse json_reply(int status, const std::string& json) {
  AdminResponse r;
  r.status = status;
  r.body = json + "\n";
  return r;
}

AdminContext::AdminContext(const Config& c, Poco::Logger& l, std::shared_ptr<const Renderer> renderer)
    : config(c), log(l), runtime(std::make_unique<Runtime>(c, l, std::move(renderer))),
      tokens(c.server.admin_token_hashes) {}

AdminContext::~AdminContext() = default;

namespace {

std::vector<std::string> segments_of(const std::string& path) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at < path.size()) {
    const size_t next = path.find('/', at);
    const std::string part = path.substr(at, next == std::string::npos ? std::string::npos : next - at);
    if (!part.empty()) out.push_back(part);
    if (next == std::string::npos) break;
    at = next + 1;
  }
  return out;
}

std::optional<AdminCaller> caller_of(AdminContext& context, const AdminRequest& request) {
  std::string token = token_of_authorization(request.header("authorization"));
  if (token.empty()) token = cookie_value(request.header("cookie"), kSessionCookie);
  return context.tokens.check(token);
}

bool is_html_route(const std::vector<std::string>& s) {
  return s.empty() || s[0] == "ui" || s[0] == "login" || s[0] == "logout";
}

}  // namespace

AdminResponse route_request(AdminContext& context, const AdminRequest& request) {
  const auto s = segments_of(request.path);
  const std::string& m = request.method;
  const bool get = m == "GET" || m == "HEAD";

  // Open to everyone: health, metrics, the login form, the webhooks (signed by the provider).
  if (s.size() == 1 && s[0] == "healthz") return get ? healthz(context) : json_error(405, "method not allowed");
  if (s.size() == 1 && s[0] == "metrics") {
    if (!get) return json_error(405, "method not allowed");
    AdminResponse r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = render_metrics(context);
    return r;
  }
  if (s.size() == 2 && s[0] == "webhooks") return context.webhooks->handle(request, s[1]);
  if (s.size() == 1 && s[0] == "login") return m == "POST" ? login(context, request) : login_page("");
  if (s.size() == 1 && s[0] == "logout") return logout();

  const bool known = is_html_route(s) || (s.size() >= 2 && s[0] == "api" && s[1] == "v1");
  if (!known) return json_error(404, "no such route: " + request.path);

  const auto caller = caller_of(context, request);
  if (!caller) {
    if (is_html_route(s)) return login_page(request.header("authorization").empty() ? "" : "wrong token");
    AdminResponse r = json_error(401, request.header("authorization").empty() ? "a bearer token is required"
                                                                              : "the token is not valid");
    r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"atendd\"");
    return r;
  }
  if (!get && caller->role != AdminRole::Admin)
    return json_error(403, "the token '" + caller->name + "' may only read (role read)");

  if (is_html_route(s)) return status_route(context, request, s, *caller);

  // /api/v1/…
  const std::vector<std::string> r(s.begin() + 2, s.end());
  if (r.size() == 1 && r[0] == "tickets") {
    if (get) return list_tickets(context, request);
    if (m == "POST") return open_ticket(context, request, *caller);
  } else if (r.size() == 2 && r[0] == "tickets") {
    if (get) return request.param("why") == "1" ? ticket_why(context, r[1]) : show_ticket(context, r[1]);
  } else if (r.size() == 3 && r[0] == "tickets" && r[2] == "why") {
    if (get) return ticket_why(context, r[1]);
  } else if (r.size() == 1 && r[0] == "quarantine") {
    if (get) return list_quarantine(context, request);
  } else if (r.size() == 2 && r[0] == "quarantine" && r[1] == "retry") {
    if (m == "POST") return retry_quarantine(context, "", *caller);
  } else if (r.size() == 2 && r[0] == "quarantine") {
    if (get) return show_quarantine(context, r[1]);
  } else if (r.size() == 3 && r[0] == "quarantine" && r[2] == "retry") {
    if (m == "POST") return retry_quarantine(context, r[1], *caller);
  } else if (r.size() == 3 && r[0] == "quarantine" && r[2] == "drop") {
    if (m == "POST") return drop_quarantine(context, r[1], drop_reason_of(request), *caller);
  } else if (r.size() == 3 && r[0] == "tickets" && r[2] == "actions") {
    if (m == "POST") return ticket_action(context, request, r[1], *caller);
  } else if (r.size() == 6 && r[0] == "tickets" && r[2] == "articles" && r[4] == "attachments") {
    if (get) return ticket_attachment(context, r[1], r[3], r[5]);
  } else if (r.size() == 1 && r[0] == "outbox") {
    if (get) return list_outbox(context, request);
  } else if (r.size() == 3 && r[0] == "outbox" && r[2] == "retry") {
    if (m == "POST") return retry_outbox(context, r[1], *caller);
  } else if (r.size() == 1 && r[0] == "reload") {
    if (m == "POST") return reload(context, *caller);
  } else if (r.size() == 1 && r[0] == "stats") {
    if (get) return stats(context, request);
  } else if (r.size() == 2 && r[0] == "contacts") {
    if (get) return show_contact(context, r[1]);
  } else if (r.size() == 3 && r[0] == "contacts" && r[2] == "merge") {
    if (m == "POST") return merge_contact(context, request, r[1], *caller);
  } else {
    return json_error(404, "no such route: " + request.path);
  }
  return json_error(405, "method " + m + " not allowed on " + request.path);
}

namespace {

class Handler : public Poco::Net::HTTPRequestHandler {
 public:
  explicit Handler(std::shared_ptr<AdminContext> context) : context_(std::move(context)) {}

  void handleRequest(Poco::Net::HTTPServerRequest& in, Poco::Net::HTTPServerResponse& out) override {
    AdminResponse reply;
    AdminRequest request;
    try {
      reply = serve(in, request);
    } catch (const std::exception& e) {
      context_->log.error("admin: " + in.getMethod() + " " + request.path + ": " + e.what());
      reply = json_error(500, "internal error");
    }
    out.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(reply.status));
    out.setContentType(reply.content_type);
    out.set("X-Content-Type-Options", "nosniff");
    out.set("Cache-Control", "no-store");
    for (const auto& [k, v] : reply.headers) out.add(k, v);
    if (reply.status == 413) out.setKeepAlive(false);  // the rest of the body was not read
    out.setContentLength(static_cast<std::streamsize>(reply.body.size()));
    if (in.getMethod() == "HEAD") {
      out.send();
    } else {
      out.sendBuffer(reply.body.data(), reply.body.size());
    }
    if (reply.raise_reload) {
      // Process-directed, so the main thread's sigwait gets it (every thread blocks SIGHUP).
      ::kill(::getpid(), SIGHUP);
    }
  }

 private:
  AdminResponse serve(Poco::Net::HTTPServerRequest& in, AdminRequest& request) {
    request.method = in.getMethod();
    Poco::URI uri;
    try {
      uri = Poco::URI(in.getURI());
      request.path = uri.getPath();
      request.query = uri.getQueryParameters();
    } catch (const Poco::Exception&) {
      return json_error(400, "malformed request URI");
    }
    for (const auto& [name, value] : in) request.headers[Poco::toLower(name)] = value;

    if (in.hasContentLength() && in.getContentLength64() > static_cast<Poco::Int64>(AdminServer::kMaxBody))
      return json_error(413, "request body over " + std::to_string(AdminServer::kMaxBody) + " bytes");
    std::istream& body = in.stream();
    char buffer[8192];
    while (body.read(buffer, sizeof buffer) || body.gcount() > 0) {
      request.body.append(buffer, static_cast<size_t>(body.gcount()));
      if (request.body.size() > AdminServer::kMaxBody)
        return json_error(413, "request body over " + std::to_string(AdminServer::kMaxBody) + " bytes");
    }
    return route_request(*context_, request);
  }

  std::shared_ptr<AdminContext> context_;
};

class Factory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit Factory(std::shared_ptr<AdminContext> context) : context_(std::move(context)) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
    return new Handler(context_);
  }

 private:
  std::shared_ptr<AdminContext> context_;
};

}  // namespace

AdminServer::AdminServer(const Config& config, Poco::Logger& log,
                         std::function<std::vector<MailboxHealth>()> mailboxes,
                         std::shared_ptr<const Renderer> renderer)
    : context_(std::make_shared<AdminContext>(config, log, std::move(renderer))) {
  context_->mailboxes = std::move(mailboxes);
  context_->webhooks = std::make_unique<WebhookReceiver>(*context_);
}

AdminServer::~AdminServer() { stop(); }

void AdminServer::start() {
  Poco::Net::SocketAddress address(context_->config.server.admin_listen);
  Poco::Net::ServerSocket socket;
  socket.bind(address, /*reuseAddress*/ true, /*reusePort*/ false);  // notes/stack.md: no SO_REUSEPORT
  socket.listen(64);
  port_ = socket.address().port();
  auto* params = new Poco::Net::HTTPServerParams;
  params->setMaxThreads(8);
  params->setMaxQueued(64);
  params->setKeepAlive(true);
  params->setTimeout(Poco::Timespan(10, 0));
  // One thread kept while idle (the acceptor has its own); up to 8 are started under load.
  pool_ = std::make_unique<Poco::ThreadPool>(1, 8);
  server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(context_), *pool_, socket, params);
  server_->start();
  context_->log.information("admin endpoint listening on " + socket.address().toString());
}

void AdminServer::stop() {
  if (server_) {
    server_->stopAll(true);
    server_.reset();
  }
  if (pool_) {
    pool_->joinAll();
    pool_.reset();
  }
}

}  // namespace atendd

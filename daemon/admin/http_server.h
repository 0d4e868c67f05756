// http_server.h — the admin HTTP endpoint (POCO HTTPServer) and the messaging webhooks on the
// same listener: /healthz, /metrics, /api/v1/…, the HTML status page at /, POST /webhooks/ID.
// Binds without SO_REUSEPORT (a second instance fails instead of sharing the port), bounds every
// request body, answers JSON errors {"error": …}, and never puts a token or secret in a reply
// or a log line. Handlers share one store connection behind a mutex.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <Poco/Logger.h>

#include "daemon/admin/auth.h"
#include "daemon/config/config.h"
#include "daemon/sources/imap_poller.h"

namespace Poco::Net {
class HTTPServer;
}
namespace Poco {
class ThreadPool;
}

namespace atendd {

class Renderer;
class Runtime;
class WebhookReceiver;

// A mailbox as /healthz, /metrics and the status page show it.
struct MailboxHealth {
  std::string id;
  int poll_seconds = 30;
  bool running = false;          // its poller thread is up
  ImapPollerStatus status;
};

// A request as the routes see it: the body already read (bounded).
struct AdminRequest {
  std::string method;
  std::string path;                                  // decoded, without the query
  std::vector<std::pair<std::string, std::string>> query;
  std::map<std::string, std::string> headers;        // lower-case names
  std::string body;
  std::string param(const std::string& name) const;  // first query value, or ""
  std::string header(const std::string& name) const; // by lower-case name, or ""
};

struct AdminResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  bool raise_reload = false;  // after the reply went out: SIGHUP to ourselves (POST /api/v1/reload)
};

AdminResponse json_error(int status, const std::string& message);
AdminResponse json_reply(int status, const std::string& json);

// What the routes share: the checked configuration, one store connection (take `lock` around
// every use), the tokens, and where the daemon's threads stand.
struct AdminContext {
  const Config& config;
  Poco::Logger& log;
  std::unique_ptr<Runtime> runtime;
  std::mutex lock;
  TokenCheck tokens;
  std::function<std::vector<MailboxHealth>()> mailboxes;
  std::unique_ptr<WebhookReceiver> webhooks;
  // `renderer`: templates already compiled by the service (shared, read-only); null = compile.
  AdminContext(const Config& c, Poco::Logger& l, std::shared_ptr<const Renderer> renderer = nullptr);
  ~AdminContext();
};

class AdminServer {
 public:
  static constexpr std::size_t kMaxBody = 1u << 20;  // larger bodies get 413

  // `mailboxes` reports the IMAP pollers (may be called from any thread); `renderer` as in
  // AdminContext.
  AdminServer(const Config& config, Poco::Logger& log, std::function<std::vector<MailboxHealth>()> mailboxes,
              std::shared_ptr<const Renderer> renderer = nullptr);
  ~AdminServer();
  // Binds server.admin_listen and starts serving; throws when the address cannot be bound.
  void start();
  // Stops accepting, finishes the requests in hand.
  void stop();
  int port() const { return port_; }

 private:
  std::shared_ptr<AdminContext> context_;
  std::unique_ptr<Poco::ThreadPool> pool_;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
  int port_ = 0;
};

// Routes one request (exposed for the route files and tests).
AdminResponse route_request(AdminContext& context, const AdminRequest& request);

}  // namespace atendd

// admin_api_test.cpp — the admin HTTP endpoint of the running daemon over loopback: tokens and
// roles, error statuses, every /api/v1 route, /healthz against a real Dovecot, /metrics, the
// status page (also in headless Chromium when it is installed) and the mails an API action sends.
#include <cstdlib>

#include <catch2/catch.hpp>

#include "admin_client.h"
#include "storage/sqlite_store.h"
#include "support/dovecot.h"

using namespace atendd;
using namespace atendd::test;

namespace {

std::string open_body(const std::string& subject) {
  return "{\"channel\":\"phone\",\"subject\":\"" + subject +
         "\",\"text\":\"Customer called\",\"contact\":{\"address\":\"joana@cliente.test\",\"name\":\"Joana\"}}";
}

}  // namespace

TEST_CASE("the API refuses a missing or wrong token and a read token on an admin action", "[admin]") {
  AdminDaemon d;
  CHECK(http("GET", d.base + "/healthz").status == 200);
  CHECK(http("GET", d.base + "/api/v1/tickets").status == 401);
  CHECK(http("GET", d.base + "/api/v1/tickets", "wrong-token-0123456789").status == 401);
  CHECK(http("GET", d.base + "/api/v1/tickets", kReadToken).status == 200);
  const auto refused = http("POST", d.base + "/api/v1/tickets", kReadToken, open_body("x"));
  CHECK(refused.status == 403);
  CHECK(refused.json()->getValue<std::string>("error").find("read") != std::string::npos);
  CHECK(http("POST", d.base + "/api/v1/reload", kReadToken, "{}").status == 403);
  CHECK(http("GET", d.base + "/api/v1/nothing", kReadToken).status == 404);
  CHECK(http("GET", d.base + "/nothing/here").status == 404);
  CHECK(http("GET", d.base + "/api/v1/tickets/19990101000001", kReadToken).status == 404);
}

TEST_CASE("malformed JSON gets 400 with the reason and an oversized body gets 413", "[admin]") {
  AdminDaemon d;
  const auto bad = http("POST", d.base + "/api/v1/tickets", kAdminToken, "{\"subject\": ");
  CHECK(bad.status == 400);
  CHECK(bad.json()->getValue<std::string>("error").find("malformed JSON") != std::string::npos);
  CHECK(http("POST", d.base + "/api/v1/tickets", kAdminToken, "[1,2]").status == 400);
  const std::string big(2u << 20, 'x');
  CHECK(http("POST", d.base + "/api/v1/tickets", kAdminToken, big).status == 413);
  // Nothing was opened by any of them.
  CHECK(SqliteStore(d.state_dir + "/atendd.db").tickets(std::nullopt, 10).empty());
}

TEST_CASE("tickets opened through the API are listed with filters and cursor paging and shown whole", "[admin]") {
  AdminDaemon d;
  std::vector<std::string> protocols;
  for (int i = 0; i < 3; ++i) {
    const auto opened = http("POST", d.base + "/api/v1/tickets", kAdminToken, open_body("Printer " + std::to_string(i)));
    REQUIRE(opened.status == 201);
    protocols.push_back(opened.json()->getValue<std::string>("protocol"));
  }
  auto page = http("GET", d.base + "/api/v1/tickets?limit=2&status=new&type=geral&agent=maria", kReadToken);
  REQUIRE(page.status == 200);
  auto json = page.json();
  REQUIRE(json->getArray("tickets")->size() == 2);
  CHECK(json->getArray("tickets")->getObject(0)->getValue<std::string>("protocol") == protocols[2]);
  const std::string cursor = json->getValue<std::string>("next_cursor");
  auto rest = http("GET", d.base + "/api/v1/tickets?limit=2&cursor=" + cursor, kReadToken).json();
  REQUIRE(rest->getArray("tickets")->size() == 1);
  CHECK(rest->getArray("tickets")->getObject(0)->getValue<std::string>("protocol") == protocols[0]);
  CHECK(rest->isNull("next_cursor"));
  CHECK(http("GET", d.base + "/api/v1/tickets?q=Printer%201", kReadToken).json()->getArray("tickets")->size() == 1);
  CHECK(http("GET", d.base + "/api/v1/tickets?contact=joana", kReadToken).json()->getArray("tickets")->size() == 3);
  CHECK(http("GET", d.base + "/api/v1/tickets?status=closed", kReadToken).json()->getArray("tickets")->size() == 0);
  CHECK(http("GET", d.base + "/api/v1/tickets?status=bogus", kReadToken).status == 400);

  auto shown = http("GET", d.base + "/api/v1/tickets/" + protocols[0], kReadToken);
  REQUIRE(shown.status == 200);
  auto ticket = shown.json();
  CHECK(ticket->getValue<std::string>("subject") == "Printer 0");
  CHECK(ticket->getObject("contact")->getValue<std::string>("address") == "joana@cliente.test");
  CHECK(articles_of_kind(ticket, "customer_message") == 1);
  CHECK(ticket->getArray("history")->size() > 0);
  CHECK(ticket->has("watchers"));

  auto stats = http("GET", d.base + "/api/v1/stats", kReadToken).json();
  CHECK(stats->getValue<int>("tickets") == 3);
  CHECK(stats->getObject("by_status")->getValue<int>("new") == 3);
  CHECK(stats->getObject("by_agent")->getValue<int>("maria") == 3);
  CHECK(stats->getObject("sla_breaches")->getValue<int>("total") == 0);

  const auto metrics = http("GET", d.base + "/metrics");
  CHECK(metrics.status == 200);
  CHECK(metrics.body.find("atendd_tickets{status=\"new\",type=\"geral\"} 3") != std::string::npos);
  CHECK(metrics.body.find("atendd_outbox_mails{state=\"pending\"}") != std::string::npos);
  CHECK(metrics.body.find("process_resident_memory_bytes") != std::string::npos);

  const auto page_html = http("GET", d.base + "/", kReadToken);
  CHECK(page_html.status == 200);
  CHECK(page_html.body.find("Tickets: 3") != std::string::npos);
  CHECK(page_html.body.find(protocols[1]) != std::string::npos);
  CHECK(http("GET", d.base + "/").status == 401);  // the login form
  CHECK(http("GET", d.base + "/ui/tickets/" + protocols[0], kReadToken).body.find("Printer 0") != std::string::npos);
}

TEST_CASE("a close action through the API sends the customer the same closing mail as a close by mail", "[admin]") {
  AdminDaemon d;
  const auto opened = http("POST", d.base + "/api/v1/tickets", kAdminToken, open_body("Broken screen"));
  REQUIRE(opened.status == 201);
  const std::string protocol = opened.json()->getValue<std::string>("protocol");
  d.sink->wait_for(1, 20);  // the opening mail (phone tickets answer the customer)

  CHECK(http("POST", d.base + "/api/v1/tickets/" + protocol + "/actions", kReadToken,
             "{\"agent\":\"maria\",\"command\":\"#close\",\"text\":\"Replaced\"}").status == 403);
  CHECK(http("POST", d.base + "/api/v1/tickets/" + protocol + "/actions", kAdminToken,
             "{\"agent\":\"nobody\",\"command\":\"#close\"}").status == 400);
  const auto refused = http("POST", d.base + "/api/v1/tickets/" + protocol + "/actions", kAdminToken,
                            "{\"agent\":\"maria\",\"command\":\"#frobnicate\"}");
  CHECK(refused.status == 422);

  const auto closed = http("POST", d.base + "/api/v1/tickets/" + protocol + "/actions", kAdminToken,
                           "{\"agent\":\"maria\",\"command\":\"#close\",\"text\":\"The screen was replaced.\"}");
  REQUIRE(closed.status == 200);
  CHECK(closed.json()->getValue<std::string>("status") == "closed");
  bool found = false;  // the closing mail to the customer, with the final opinion and the protocol
  for (int i = 0; i < 100 && !found; ++i) {
    for (const auto& m : d.sink->mails())
      found = found || (m.body().find("The screen was replaced.") != std::string::npos &&
                        m.header("Subject").find(protocol) != std::string::npos && !m.rcpt_tos.empty() &&
                        m.rcpt_tos.front() == "joana@cliente.test");
    if (!found) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(found);
}

TEST_CASE("a failed outgoing mail is listed and retried through the API", "[admin]") {
  // No SMTP server listens and one attempt is all a mail gets: the opening mail fails.
  AdminDaemon d("", false, "max_attempts = 1\n");
  REQUIRE(http("POST", d.base + "/api/v1/tickets", kAdminToken, open_body("No mail server")).status == 201);
  Poco::JSON::Array::Ptr failed;
  for (int i = 0; i < 100; ++i) {
    failed = http("GET", d.base + "/api/v1/outbox?state=failed", kReadToken).json()->getArray("mails");
    if (failed->size() > 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  REQUIRE(failed->size() > 0);
  const auto id = std::to_string(failed->getObject(0)->getValue<std::int64_t>("id"));
  CHECK(http("POST", d.base + "/api/v1/outbox/" + id + "/retry", kReadToken, "{}").status == 403);
  const auto retried = http("POST", d.base + "/api/v1/outbox/" + id + "/retry", kAdminToken, "{}");
  CHECK(retried.status == 200);
  CHECK(retried.json()->getValue<std::string>("state") == "pending");
  CHECK(http("POST", d.base + "/api/v1/outbox/999999/retry", kAdminToken, "{}").status == 404);
  CHECK(http("GET", d.base + "/api/v1/outbox?state=bogus", kReadToken).status == 400);
}

TEST_CASE("reload through the API keeps the daemon answering", "[admin]") {
  AdminDaemon d;
  CHECK(http("POST", d.base + "/api/v1/reload", kAdminToken, "{}").status == 202);
  bool answered = false;
  for (int i = 0; i < 100 && !answered; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    answered = http("GET", d.base + "/api/v1/tickets", kReadToken).status == 200;
  }
  CHECK(answered);
  CHECK(d.daemon->wait_exit(0.2) == std::nullopt);  // SIGHUP reloaded, it did not kill
}

TEST_CASE("healthz is 503 naming a mailbox that cannot log in and 200 once it can", "[admin][dovecot]") {
  Dovecot dovecot;
  auto mailbox = [&](const std::string& password_file) {
    return "[mailbox.suporte]\nurl = " + dovecot.imap_url() + "\nca_file = " + dovecot.ca_file() +
           "\nuser = support\npassword_file = " + password_file + "\npoll_seconds = 1\n";
  };
  {
    TempDir secrets;
    write_file(secrets.path() + "/wrong.pass", "not-the-password\n");
    AdminDaemon d(mailbox(secrets.path() + "/wrong.pass"));
    HttpReply health;
    for (int i = 0; i < 100; ++i) {
      health = http("GET", d.base + "/healthz");
      if (health.body.find("suporte") != std::string::npos && health.status == 503 &&
          health.body.find("not polled yet") == std::string::npos)
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    CHECK(health.status == 503);
    CHECK(health.body.find("mailbox suporte") != std::string::npos);
    CHECK(health.body.find("not-the-password") == std::string::npos);
  }
  TempDir secrets;
  write_file(secrets.path() + "/right.pass", "secret\n");
  AdminDaemon d(mailbox(secrets.path() + "/right.pass"));
  long status = 0;
  for (int i = 0; i < 100 && status != 200; ++i) {
    status = http("GET", d.base + "/healthz").status;
    if (status != 200) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(status == 200);
  CHECK(http("GET", d.base + "/metrics").body.find("atendd_mailbox_up{mailbox=\"suporte\"} 1") != std::string::npos);
}

TEST_CASE("the status page in headless Chromium shows the ticket counts and the mailbox", "[admin][chromium]") {
  if (std::system("command -v chromium >/dev/null 2>&1") != 0) {
    WARN("chromium is not installed (scripts/install-deps --tests installs it): status page not loaded in a browser");
    return;
  }
  TempDir secrets;
  write_file(secrets.path() + "/x.pass", "secret\n");
  // A mailbox nobody serves: the page must still name it and show its error.
  AdminDaemon d("[mailbox.vendas]\nurl = imap://127.0.0.1:" + std::to_string(free_port()) +
                "/INBOX\ntls = none\nuser = u\npassword_file = " + secrets.path() + "/x.pass\npoll_seconds = 1\n");
  REQUIRE(http("POST", d.base + "/api/v1/tickets", kAdminToken, open_body("Seen in a browser")).status == 201);
  // The browser signs in with HTTP Basic credentials in the URL (the token as the password).
  const std::string url = "http://ops:" + std::string(kReadToken) + "@" + d.base.substr(7) + "/";
  const std::string out = d.dir.path() + "/dom.html";
  const std::string command = "chromium --headless --no-sandbox --disable-gpu --dump-dom '" + url + "' > " + out +
                              " 2>/dev/null";
  REQUIRE(std::system(command.c_str()) == 0);
  const std::string dom = read_file(out);
  CHECK(dom.find("Tickets: 1") != std::string::npos);
  CHECK(dom.find("vendas") != std::string::npos);
  CHECK(dom.find("Seen in a browser") != std::string::npos);
}

// smtp_test.cpp — the outbox against a failing SMTP server: down for a while and back (every mail
// delivered once, in order per ticket, the attempts, errors and next tries visible through the
// admin API and /metrics meanwhile), and answering 4xx then 5xx (retried, then failed for good).
#include "admin/admin_client.h"
#include "faults/faults_site.h"

using namespace atendd;
using namespace atendd::test;

namespace {

// The value of one metric line ("atendd_outbox_mails{state=\"pending\"}"), or -1.
long metric(const std::string& text, const std::string& name) {
  const auto at = text.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::atol(text.c_str() + at + name.size() + 2);
}

Poco::JSON::Array::Ptr outbox(const Site& site, const std::string& state) {
  return http("GET", site.admin_url("/api/v1/outbox?state=" + state), Site::kReadToken).json()->getArray("mails");
}

}  // namespace

TEST_CASE("mail queued while the SMTP server is down is delivered once and in order per ticket and recipient when it is back",
          "[faults][smtp]") {
  Site site;
  FaultFigures figures{"smtp_down"};
  site.sink.stop();
  std::vector<std::string> raws;
  for (int i = 0; i < 10; ++i) raws.push_back(new_message("down-" + std::to_string(i) + "@cliente.test",
                                                          "d" + std::to_string(i) + "@cliente.test",
                                                          "Sem SMTP " + std::to_string(i)));
  for (int i = 0; i < 10; ++i) raws.push_back(follow_up("down-re-" + std::to_string(i) + "@cliente.test",
                                                        "d" + std::to_string(i) + "@cliente.test",
                                                        "Sem SMTP " + std::to_string(i),
                                                        "down-" + std::to_string(i) + "@cliente.test"));
  site.dovecot->add_unseen_many("support", raws);
  figures.messages = static_cast<long>(raws.size());
  figures.faults = 1;
  auto daemon = site.start();
  REQUIRE(eventually(60, [&] { return site.all_seen(raws.size()); }));

  // While it is down: the mails wait, with attempts, the error and the next try visible.
  std::string seen;
  const bool waiting_visible = eventually(20, [&] {
    auto pending = outbox(site, "pending");
    seen = http("GET", site.admin_url("/api/v1/outbox?state=pending&limit=3"), Site::kReadToken).body;
    for (size_t i = 0; i < pending->size(); ++i) {
      auto m = pending->getObject(static_cast<unsigned>(i));
      // One connection attempt a second while it is down (the due mail tried first); each tried
      // mail keeps the error and waits for its backoff.
      if (m->getValue<int>("attempts") >= 1 && m->getValue<std::string>("last_error").find("refused") != std::string::npos &&
          m->getValue<std::string>("next_attempt_at") > m->getValue<std::string>("created_at"))
        return true;
    }
    return false;
  });
  if (!waiting_visible) std::cerr << "outbox while SMTP is down: " << seen << "\n";
  REQUIRE(waiting_visible);
  sleep_ms(3000);  // long enough for several mails to be tried and put off by their backoff
  const std::string metrics = http("GET", site.admin_url("/metrics"), Site::kReadToken).body;
  CHECK(metric(metrics, "atendd_outbox_mails{state=\"pending\"}") + metric(metrics, "atendd_outbox_mails{state=\"sending\"}") > 0);
  CHECK(metric(metrics, "atendd_outbox_send_latency_seconds_count") == 0);
  CHECK(metric(metrics, "atendd_outbox_retrying") > 0);  // backing off, visible
  CHECK(metric(metrics, "atendd_outbox_unsent_attempts") >= metric(metrics, "atendd_outbox_retrying"));
  CHECK(site.sink.mails().empty());

  // Back up: everything goes out once, each ticket's mails in the order they were queued.
  site.sink.start();
  auto store = site.store();
  REQUIRE(eventually(60, [&] {
    auto c = census(*site.store());
    return c.outbox > 0 && c.outbox_not_sent == 0;
  }));
  const auto mails = site.sink.mails();
  const StoreCensus c = census(*store);
  CHECK(mails.size() == static_cast<size_t>(c.outbox));
  figures.duplicate_mails = duplicate_mails(mails);
  CHECK(figures.duplicate_mails == 0);
  std::map<std::string, size_t> arrival;
  for (size_t i = 0; i < mails.size(); ++i) {
    std::string id = mails[i].header("Message-ID");
    arrival[id.substr(1, id.size() - 2)] = i;
  }
  long out_of_order = 0;
  for (const auto& t : store->tickets(std::nullopt, 1000)) {
    // Each recipient gets the ticket's mails in the order they were queued.
    std::map<std::vector<std::string>, std::vector<OutboxMail>> by_recipients;
    for (const auto& m : store->outbox_of_ticket(t.id)) by_recipients[m.recipients].push_back(m);
    for (const auto& [recipients, queued] : by_recipients)
      for (size_t i = 1; i < queued.size(); ++i)
        if (arrival[queued[i - 1].message_id] > arrival[queued[i].message_id]) ++out_of_order;
  }
  CHECK(out_of_order == 0);
  const std::string after = http("GET", site.admin_url("/metrics"), Site::kReadToken).body;
  CHECK(metric(after, "atendd_outbox_send_latency_seconds_count") == c.outbox);
  CHECK(metric(after, "atendd_outbox_retrying") == 0);
  CHECK(metric(after, "atendd_outbox_unsent_attempts") == 0);
  CHECK(daemon->stop() == 0);
  figures.note = std::to_string(c.outbox) + " mails, " + std::to_string(out_of_order) + " out of order";
  record(figures);
}

TEST_CASE("an SMTP server answering 4xx gets the mail again later and one answering 5xx fails it for good",
          "[faults][smtp]") {
  Site site;
  FaultFigures figures{"smtp_4xx_5xx"};
  site.sink.set_mode("4xx");
  auto daemon = site.start();
  site.dovecot->add_unseen("support", new_message("temp-1@cliente.test", "t1@cliente.test", "Falha temporaria"));
  figures.messages = 1;
  // 451: retried, attempts growing, the server's answer kept.
  REQUIRE(eventually(30, [&] {
    auto pending = outbox(site, "pending");
    for (size_t i = 0; i < pending->size(); ++i) {
      auto m = pending->getObject(static_cast<unsigned>(i));
      if (m->getValue<int>("attempts") >= 2 && m->getValue<std::string>("last_error").find("451") != std::string::npos)
        return true;
    }
    return false;
  }));
  CHECK(outbox(site, "failed")->size() == 0);
  // 554: failed for good, no more attempts, visible in the API and the metrics.
  site.sink.set_mode("5xx");
  REQUIRE(eventually(30, [&] { return outbox(site, "failed")->size() == 2; }));
  auto failed = outbox(site, "failed");
  for (size_t i = 0; i < failed->size(); ++i)
    CHECK(failed->getObject(static_cast<unsigned>(i))->getValue<std::string>("last_error").find("554") != std::string::npos);
  const std::string metrics = http("GET", site.admin_url("/metrics"), Site::kReadToken).body;
  CHECK(metric(metrics, "atendd_outbox_mails{state=\"failed\"}") == 2);
  const int attempts = failed->getObject(0)->getValue<int>("attempts");
  sleep_ms(3000);
  CHECK(outbox(site, "failed")->getObject(0)->getValue<int>("attempts") == attempts);  // no more tries
  CHECK(site.sink.mails().empty());
  // An administrator's retry once the server is fine again sends it, once.
  site.sink.set_mode("ok");
  for (size_t i = 0; i < failed->size(); ++i)
    CHECK(http("POST", site.admin_url("/api/v1/outbox/" + std::to_string(failed->getObject(static_cast<unsigned>(i))->getValue<long>("id")) + "/retry"),
               Site::kAdminToken).status == 200);
  CHECK(site.sink.wait_for(2, 20).size() == 2);
  sleep_ms(1500);
  CHECK(site.sink.mails().size() == 2);
  CHECK(daemon->stop() == 0);
  figures.faults = 2;
  record(figures);
}

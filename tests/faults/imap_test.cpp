// imap_test.cpp — the IMAP intake when the connection dies: a TCP proxy cuts connections in the
// middle of a FETCH literal, then the Dovecot server itself is stopped and started again with new
// mail waiting. The daemon reconnects, catches up, reports the outage on /healthz meanwhile, and
// every message ends as exactly one article, flagged \Seen once applied.
#include "admin/admin_client.h"
#include "faults/faults_site.h"
#include "support/tcp_proxy.h"

using namespace atendd;
using namespace atendd::test;

TEST_CASE("connections cut mid-FETCH and a restarted IMAP server lose no message and double none",
          "[faults][imap]") {
  Site site;
  TcpProxy proxy(site.dovecot->imap_port());
  site.imap_port = proxy.port();
  site.write_config();
  FaultFigures figures{"imap_cut_restart"};

  // 30 messages of ~20 KB: one FETCH of ~600 KB, cut after 200 KB, three connections in a row.
  const std::string filler(20000, 'x');
  std::vector<std::string> first, second;
  for (int i = 0; i < 30; ++i)
    first.push_back(new_message("cut-" + std::to_string(i) + "@cliente.test", "k" + std::to_string(i) + "@cliente.test",
                                "Corte " + std::to_string(i), "Linha longa:\r\n" + filler + "\r\n"));
  site.dovecot->add_unseen_many("support", first);
  proxy.cut_after(200000, 3);
  auto daemon = site.start();
  REQUIRE(eventually(90, [&] { return site.all_seen(first.size()); }));
  CHECK(proxy.connections_cut() == 3);
  figures.faults += proxy.connections_cut();

  // The server goes away (the established session dies with it): /healthz says so; it comes back
  // with new mail waiting.
  site.dovecot->stop();
  proxy.cut_all();
  ++figures.faults;
  std::string health;
  CHECK(eventually(20, [&] {
    const auto reply = http("GET", site.admin_url("/healthz"));
    health = reply.body;
    return reply.status == 503 && reply.body.find("suporte") != std::string::npos;
  }));
  INFO(health);
  site.dovecot->start();
  for (int i = 0; i < 20; ++i)
    second.push_back(follow_up("cut-re-" + std::to_string(i) + "@cliente.test", "k" + std::to_string(i) + "@cliente.test",
                               "Corte " + std::to_string(i), "cut-" + std::to_string(i) + "@cliente.test"));
  site.dovecot->add_unseen_many("support", second);
  REQUIRE(eventually(90, [&] { return site.all_seen(first.size() + second.size()); }));
  CHECK(eventually(20, [&] { return http("GET", site.admin_url("/healthz")).status == 200; }));
  CHECK(eventually(30, [&] { return census(*site.store()).outbox_not_sent == 0; }));
  CHECK(daemon->stop() == 0);

  const StoreCensus c = census(*site.store());
  std::vector<std::string> ids;
  for (int i = 0; i < 30; ++i) ids.push_back("cut-" + std::to_string(i) + "@cliente.test");
  for (int i = 0; i < 20; ++i) ids.push_back("cut-re-" + std::to_string(i) + "@cliente.test");
  count_articles(c, ids, figures);
  CHECK(figures.lost == 0);
  CHECK(figures.duplicated_articles == 0);
  CHECK(c.tickets == 30);
  CHECK(site.store()->journal(1000).size() == first.size() + second.size());
  figures.duplicate_mails = duplicate_mails(site.sink.mails());
  CHECK(figures.duplicate_mails == 0);
  record(figures);
}

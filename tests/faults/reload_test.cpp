// reload_test.cpp — configuration reloads under load: SIGHUP every second while a few hundred
// messages arrive in the support mailbox; every message ends as exactly one article, every mail
// is queued once and sent once, and the daemon keeps running throughout.
#include <signal.h>

#include "faults/faults_site.h"

using namespace atendd;
using namespace atendd::test;

TEST_CASE("SIGHUP every second while mail is flowing loses no message and doubles none", "[faults][reload]") {
  Site site;
  FaultFigures figures{"sighup_under_load"};
  auto daemon = site.start();
  std::vector<std::string> ids, raws;
  for (int i = 0; i < 300; ++i) {
    const std::string id = (i % 3 == 2 ? "hup-re-" : "hup-") + std::to_string(i) + "@cliente.test";
    if (i % 3 == 2)
      raws.push_back(follow_up(id, "h" + std::to_string(i - 1) + "@cliente.test", "Recarga " + std::to_string(i - 1),
                               "hup-" + std::to_string(i - 1) + "@cliente.test"));
    else
      raws.push_back(new_message(id, "h" + std::to_string(i) + "@cliente.test", "Recarga " + std::to_string(i)));
    ids.push_back(id);
  }
  // 20 rounds: 15 messages in, one SIGHUP, one second.
  for (int round = 0; round < 20; ++round) {
    site.dovecot->add_unseen_many("support", std::vector<std::string>(raws.begin() + round * 15, raws.begin() + round * 15 + 15));
    REQUIRE(::kill(daemon->pid(), SIGHUP) == 0);
    ++figures.faults;
    sleep_ms(1000);
    if (daemon->wait_exit(0)) break;
  }
  CHECK_FALSE(daemon->wait_exit(0));
  figures.crashes += daemon->wait_exit(0) ? 1 : 0;
  CHECK(eventually(90, [&] { return site.all_seen(raws.size()); }));
  CHECK(eventually(60, [&] {
    const auto c = census(*site.store());
    return c.outbox > 0 && c.outbox_not_sent == 0;
  }));
  CHECK(daemon->stop() == 0);
  const StoreCensus c = census(*site.store());
  count_articles(c, ids, figures);
  CHECK(figures.lost == 0);
  CHECK(figures.duplicated_articles == 0);
  CHECK(c.tickets == 200);
  for (const auto& [id, n] : c.outbox_by_message_id) CHECK(n == 1);
  figures.duplicate_mails = duplicate_mails(site.sink.mails());
  CHECK(figures.duplicate_mails == 0);
  CHECK(site.sink.mails().size() == static_cast<size_t>(c.outbox));
  record(figures);
}

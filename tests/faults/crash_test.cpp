// crash_test.cpp — invariants 1 and 2 under SIGKILL at random moments: a thousand customer
// messages (new tickets and follow-ups) arrive in a real Dovecot mailbox while the daemon is
// killed again and again; after the last restart every message is exactly one article, no ticket
// exists twice, every outgoing mail is in the outbox once and sent, and the mails the SMTP server
// got twice are counted (at most one per kill). The seed comes from ATENDD_FAULTS_SEED when set.
#include "faults/faults_site.h"

using namespace atendd;
using namespace atendd::test;

TEST_CASE("a thousand messages with the daemon killed at random moments are each one article and mailed once",
          "[faults][crash]") {
  const unsigned seed = fault_seed("crash_anywhere");
  std::mt19937 random(seed);
  constexpr int kMessages = 1000;
  constexpr int kKills = 24;

  // 600 new tickets and 400 follow-ups, each after the message it answers.
  struct Message {
    std::string id, raw;
    bool opens = false;
  };
  std::vector<Message> messages;
  std::vector<int> opened;  // indexes of new-ticket messages so far
  for (int i = 0; messages.size() < kMessages; ++i) {
    const bool reply = opened.size() > 5 && random() % 5 < 2;
    Message m;
    if (reply) {
      const int parent = opened[random() % opened.size()];
      m.id = "follow-" + std::to_string(i) + "@cliente.test";
      m.raw = follow_up(m.id, "c" + std::to_string(parent) + "@cliente.test", "Pedido " + std::to_string(parent),
                        "new-" + std::to_string(parent) + "@cliente.test");
    } else {
      m.id = "new-" + std::to_string(i) + "@cliente.test";
      m.raw = new_message(m.id, "c" + std::to_string(i) + "@cliente.test", "Pedido " + std::to_string(i));
      m.opens = true;
      opened.push_back(i);
    }
    messages.push_back(std::move(m));
  }

  Site site;
  FaultFigures figures{"crash_anywhere"};
  figures.messages = kMessages;
  figures.note = "seed " + std::to_string(seed);
  size_t next = 0;
  for (int kill = 0; kill < kKills; ++kill) {
    auto daemon = site.start(false);
    // Deliver a share of the mail while it runs, then kill it somewhere in the middle of things.
    const size_t share = (messages.size() - next) / static_cast<size_t>(kKills - kill);
    std::vector<std::string> raws;
    for (size_t i = 0; i < share; ++i) raws.push_back(messages[next++].raw);
    sleep_ms(static_cast<long>(random() % 400));
    site.dovecot->add_unseen_many("support", raws);
    sleep_ms(200 + static_cast<long>(random() % 1800));
    if (daemon->wait_exit(0)) {
      ++figures.crashes;  // it died by itself
      continue;
    }
    daemon->kill();
    ++figures.faults;
  }
  REQUIRE(next == messages.size());

  // The last start: everything is caught up and sent, and the daemon stops cleanly.
  auto daemon = site.start();
  const bool caught_up = eventually(150, [&] {
    if (!site.all_seen(kMessages)) return false;
    auto c = census(*site.store());
    return c.outbox_not_sent == 0 && c.outbox > 0 && site.sink.mails().size() >= static_cast<size_t>(c.outbox_sent);
  });
  CHECK(caught_up);
  CHECK(daemon->stop() == 0);

  auto store = site.store();
  const StoreCensus c = census(*store);
  std::vector<std::string> ids;
  long openers = 0;
  for (const auto& m : messages) {
    ids.push_back(m.id);
    openers += m.opens ? 1 : 0;
  }
  count_articles(c, ids, figures);
  const long lost = figures.lost, doubled = figures.duplicated_articles;
  CHECK(lost == 0);
  CHECK(doubled == 0);
  CHECK(c.tickets == openers);  // no ticket twice
  for (const auto& [subject, n] : c.ticket_by_subject) {
    INFO(subject);
    CHECK(n == 1);
  }
  // Every outgoing mail once in the outbox: one opening and one forward per ticket, one
  // customer update per follow-up, no Message-ID twice, all of them sent.
  CHECK(c.outbox_templates.at("opening") == openers);
  CHECK(c.outbox_templates.at("forward") == openers);
  for (const auto& [id, n] : c.outbox_by_message_id) {
    INFO(id);
    CHECK(n == 1);
  }
  CHECK(c.outbox_not_sent == 0);
  const auto mails = site.sink.mails();
  std::set<std::string> distinct;
  for (const auto& m : mails) distinct.insert(m.header("Message-ID"));
  CHECK(distinct.size() == static_cast<size_t>(c.outbox));  // every queued mail reached the server
  figures.duplicate_mails = duplicate_mails(mails);
  std::cerr << "crash_anywhere: " << figures.faults << " kills, " << c.tickets << " tickets, " << c.outbox
            << " mails queued, " << mails.size() << " received, " << figures.duplicate_mails << " sent twice\n";
  CHECK(figures.duplicate_mails <= figures.faults);  // at most one per kill
  CHECK(figures.crashes == 0);
  for (const auto& [name, n] : c.outbox_templates) std::cerr << "  outbox " << name << ": " << n << "\n";
  record(figures);
}

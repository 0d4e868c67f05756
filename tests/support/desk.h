// desk.h — a support desk inside the test process, on the configuration each test file gives it:
// a real SQLite store in a temporary directory, the real templates, the inbound pipeline and a
// fixed clock. Mail is delivered by hand; tickets and queued mails are read back from the store.
// Test files derive their own fixture from it with their configuration and their helpers.
#pragma once

#include <algorithm>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "daemon/pipeline/inbound.h"
#include "daemon/runtime.h"
#include "storage/sqlite_store.h"
#include "support/processes.h"
#include "tickets/config_for_tests.h"

namespace atendd::test {

struct Desk {
  TempDir dir;
  Config config;
  SqliteStore store{dir.path() + "/a.db"};
  BlobStore blobs{dir.path(), store, 128 * 1024};  // as the daemon has them with SQLite
  std::unique_ptr<Renderer> renderer;
  FixedClock clock{1795478400};  // 2026-11-24T00:00:00Z
  Poco::Logger& log;
  std::unique_ptr<InboundPipeline> pipeline;
  int serial = 0;

  // `ini`: the whole configuration (checked as the daemon checks it); `logger`: the log's name.
  Desk(const std::string& ini, const std::string& logger) : log(Poco::Logger::get(logger)) {
    config = config_from(ini);
    renderer = make_renderer(config);
    pipeline = std::make_unique<InboundPipeline>(store, blobs, config, *renderer, clock, log);
  }

  // One message into mailbox "suporte", a minute after the previous one, with Message-ID <mN@test>.
  Outcome deliver(const std::string& headers, const std::string& body) {
    RawMessage raw;
    raw.bytes = headers + "Message-ID: <m" + std::to_string(++serial) + "@test>\r\n\r\n" + body;
    raw.mailbox = "suporte";
    clock.advance(60);
    return pipeline->process(raw);
  }
  Ticket ticket(const std::string& protocol) { return *store.ticket_by_protocol(protocol); }
  // The mails to `address` in any of `states`, state by state in the order given.
  std::vector<OutboxMail> mails_in(std::initializer_list<OutboxState> states, const std::string& address) {
    std::vector<OutboxMail> out;
    for (auto state : states)
      for (const auto& m : store.outbox_in_state(state, 1000))
        if (std::find(m.recipients.begin(), m.recipients.end(), address) != m.recipients.end()) out.push_back(m);
    return out;
  }
};

}  // namespace atendd::test

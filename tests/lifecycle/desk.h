// desk.h — the `Desk` fixture of the lifecycle tests: a real SQLite store, the real templates,
// the inbound pipeline and a fixed clock; customers and agents write by e-mail, the scheduler is
// ticked by hand; helpers read the queued mails and the history.
#pragma once

#include "../tickets/config_for_tests.h"
#include "daemon/outbox/outbox_writer.h"
#include "daemon/pipeline/inbound.h"
#include "daemon/runtime.h"
#include "daemon/tickets/scheduler.h"
#include "parsers/mime_reader.h"
#include "storage/sqlite_store.h"
#include "support/processes.h"

using namespace atendd;

namespace lifecycle_test {

struct Desk {
  test::TempDir dir;
  Config config;
  SqliteStore store{dir.path() + "/a.db"};
  BlobStore blobs{dir.path(), store, 128 * 1024};  // as the daemon has them with SQLite
  std::unique_ptr<Renderer> renderer;
  FixedClock clock{1795478400};  // 2026-11-24T00:00:00Z
  Poco::Logger& log = Poco::Logger::get("lifecycle-test");
  std::unique_ptr<InboundPipeline> pipeline;
  int serial = 0;

  explicit Desk(const std::string& extra = "") {
    config = config_from(
        "[server]\nname = Suporte\naddress = suporte@example.com\nreply_address = suporte+{token}@example.com\n"
        "[agent.maria]\nemail = maria@example.com\nname = Maria Souza\ndepartment = suporte\n"
        "[agent.joao]\nemail = joao@example.com\nname = Joao Alves\ndepartment = qualidade\n"
        "[agent.chefe]\nemail = chefe@example.com\nname = Carla Chefe\ndepartment = suporte\nchief = true\nlevel = 5\n"
        "[type.garantia]\nname = Garantia\ndepartment = suporte\nassign = agent:maria\nreopen_days = 30\n"
        "first_response_hours = 4\nauto_close_days = 5\nwatchers = gerente@example.com\n"
        "[type.sigilo]\nname = Sigilo\nmatch_subject = sigilo\nassign = agent:chefe\nlevel = 3\nreopen_days = 0\n" +
        extra);
    renderer = make_renderer(config);
    pipeline = std::make_unique<InboundPipeline>(store, blobs, config, *renderer, clock, log);
  }

  Outcome deliver(const std::string& headers, const std::string& body) {
    RawMessage raw;
    raw.bytes = headers + "Message-ID: <m" + std::to_string(++serial) + "@test>\r\n\r\n" + body;
    raw.mailbox = "suporte";
    clock.advance(60);
    return pipeline->process(raw);
  }
  Outcome customer(const std::string& subject, const std::string& body) {
    return deliver("From: Ana Lima <ana@cliente.org>\r\nTo: suporte@example.com\r\nSubject: " + subject + "\r\n", body);
  }
  // An agent's mail through the ticket's reply address (how agents are recognised).
  Outcome agent(const std::string& who, const std::string& protocol, const std::string& body) {
    return deliver("From: " + who + "@example.com\r\nTo: suporte+" + ticket(protocol).reply_token +
                       "@example.com\r\nSubject: Re: [#" + protocol + "]\r\n",
                   body);
  }
  TickResult tick() {
    OutboxWriter writer(store, blobs, config, *renderer, clock);
    Scheduler scheduler(store, config, clock,
                        [&writer](const TicketUpdate& u) { writer.queue(u, no_inbound_message()); }, log);
    return scheduler.tick();
  }
  std::vector<OutboxMail> mails_to(const std::string& address) {
    std::vector<OutboxMail> out;
    for (const auto& m : store.outbox_in_state(OutboxState::Pending, 1000))
      if (std::find(m.recipients.begin(), m.recipients.end(), address) != m.recipients.end()) out.push_back(m);
    return out;
  }
  std::vector<std::string> templates_to(const std::string& address) {
    std::vector<std::string> out;
    for (const auto& m : mails_to(address)) out.push_back(m.template_name);
    return out;
  }
  Ticket ticket(const std::string& protocol) { return *store.ticket_by_protocol(protocol); }
  bool history_has(const std::string& protocol, const std::string& field, const std::string& to) {
    for (const auto& h : store.history(ticket(protocol).id))
      if (h.field == field && h.to_value == to) return true;
    return false;
  }
};

inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }
// A queued mail's decoded text and headers (the raw form may be quoted-printable).
inline std::string readable(const std::string& raw) {
  const ParsedMessage parsed = parse_message(raw);
  std::string out = parsed.subject + "\n";
  for (const auto& to : parsed.to) out += to.address + "\n";
  return out + parsed.text;
}
using Names = std::vector<std::string>;

}  // namespace lifecycle_test

using namespace lifecycle_test;

// assignment_test.cpp — who becomes responsible: a fixed agent, round-robin over the department
// (remembered in the store across processes), or the least loaded agent.
#include "daemon/tickets/assignment.h"

#include "config_for_tests.h"
#include "storage/sqlite_store.h"
#include "support/processes.h"

using namespace atendd;

namespace {

const std::string kAgents =
    "[server]\naddress = suporte@example.com\n"
    "[agent.ana]\nemail = ana@example.com\ndepartment = suporte\n"
    "[agent.bruno]\nemail = bruno@example.com\ndepartment = suporte\n"
    "[agent.carla]\nemail = carla@example.com\ndepartment = suporte\n"
    "[agent.diego]\nemail = diego@example.com\ndepartment = vendas\n";

}  // namespace

TEST_CASE("round-robin takes each agent of the department in turn and survives a restart", "[assignment]") {
  const Config config = config_from(kAgents + "[type.geral]\nname = Geral\ndepartment = suporte\nassign = round_robin\n");
  test::TempDir dir;
  std::vector<std::string> got;
  {
    SqliteStore store(dir.path() + "/a.db");
    for (int i = 0; i < 4; ++i) got.push_back(assign_responsible(*config.type("geral"), config, store));
  }
  SqliteStore reopened(dir.path() + "/a.db");
  got.push_back(assign_responsible(*config.type("geral"), config, reopened));
  CHECK(got == std::vector<std::string>{"ana", "bruno", "carla", "ana", "bruno"});
}

TEST_CASE("a fixed agent is always the responsible", "[assignment]") {
  const Config config = config_from(kAgents + "[type.vip]\nname = VIP\nassign = agent:diego\n");
  test::TempDir dir;
  SqliteStore store(dir.path() + "/a.db");
  CHECK(assign_responsible(*config.type("vip"), config, store) == "diego");
  CHECK(assign_responsible(*config.type("vip"), config, store) == "diego");
}

TEST_CASE("least loaded picks the department's agent with the fewest open tickets", "[assignment]") {
  const Config config = config_from(kAgents + "[type.geral]\nname = Geral\ndepartment = suporte\nassign = least_loaded\n");
  test::TempDir dir;
  SqliteStore store(dir.path() + "/a.db");
  const auto contact = store.find_or_add_contact("c@example.com", "");
  int n = 0;
  for (const std::string agent : {"ana", "ana", "bruno"}) {
    Ticket t;
    t.protocol = std::to_string(++n);
    t.reply_token = t.protocol;
    t.contact_id = contact.id;
    t.responsible = agent;
    store.add_ticket(t);
  }
  CHECK(assign_responsible(*config.type("geral"), config, store) == "carla");
}

TEST_CASE("a department without agents leaves the ticket unassigned", "[assignment]") {
  const Config config = config_from(kAgents + "[type.rh]\nname = RH\ndepartment = rh\nassign = round_robin\n");
  test::TempDir dir;
  SqliteStore store(dir.path() + "/a.db");
  CHECK(assign_responsible(*config.type("rh"), config, store).empty());
}

// lifecycle_table_test.cpp — the state machine, case by case, generated from lifecycle.h's one
// table: for every status and every command or event, the engine (or the scheduler) on a real
// SQLite store must end in the status the table says, or refuse with its reason and change
// nothing, and send the mails the table names. A case the table lacks shows up here by name.
#include <set>

#include "config_for_tests.h"
#include "daemon/tickets/engine.h"
#include "daemon/tickets/lifecycle.h"
#include "daemon/tickets/scheduler.h"
#include "storage/sqlite_store.h"
#include "support/processes.h"

using namespace atendd;

namespace {

const std::string kConfig =
    "[server]\naddress = suporte@example.com\nname = Suporte\n"
    "[agent.maria]\nemail = maria@example.com\nname = Maria Souza\ndepartment = suporte\nlevel = 1\nchief = true\n"
    "[agent.pedro]\nemail = pedro@example.com\nname = Pedro Lima\ndepartment = suporte\nlevel = 1\n"
    "[agent.joao]\nemail = joao@example.com\nname = Joao Alves\ndepartment = vendas\nlevel = 1\n"
    "[type.geral]\nname = Geral\ndepartment = suporte\nassign = agent:pedro\nreopen_days = 30\nauto_close_days = 3\n"
    "expenses = true\n"
    "first_response_hours = 4\nwatchers = gerente@example.com\n"
    "[type.outro]\nname = Outro\n";

struct Bench {
  test::TempDir dir;
  SqliteStore store{dir.path() + "/a.db"};
  Config config = config_from(kConfig);
  FixedClock clock{1795478400};  // 2026-11-24T00:00:00Z
  Engine engine{store, config, clock};
  Poco::Logger& log = Poco::Logger::get("table-test");
  std::vector<OutgoingMail> scheduled_mails;
  ParsedMessage parsed;

  InboundMessage message(const std::string& from, const std::string& text) {
    parsed = ParsedMessage{};
    parsed.from = {from, ""};
    parsed.subject = "Pedido";
    parsed.message_id = "m" + std::to_string(clock.now()) + "@example.org";
    parsed.text = text;
    parsed.new_text = text;
    clock.advance(60);
    return InboundMessage{parsed, "", "deliver", "suporte", {}};
  }
  Ticket ticket_in(TicketStatus status) {
    const OpenedTicket opened = engine.open_ticket(message("ana@cliente.org", "Ajuda."), *config.type("geral"), true, "");
    Ticket t = opened.ticket;
    t.status = status;
    if (status == TicketStatus::Closed) t.closed_at = clock.now();
    store.update_ticket(t);
    return t;
  }
};

// A command line that is good in itself (arguments and text), so only the status decides.
std::string command_for(Action action, const std::string& other_protocol) {
  switch (action) {
    case Action::Take: return "#take";
    case Action::Assign: return "#assign joao";
    case Action::Forward: return "#forward joao";
    case Action::Note: return "#note";
    case Action::Pause: return "#status waiting_third_party";
    case Action::Resume: return "#status in_progress";
    case Action::Schedule: return "#schedule 2026-12-20 14:00";
    case Action::Priority: return "#priority urgent";
    case Action::Type: return "#type outro";
    case Action::Field: return "#field pedido 4521";
    case Action::Expense: return "#expense 12,50 Taxi ao cliente";
    case Action::Analysis: return "#analysis partial Motor queimado";
    case Action::Stage: return "#stage next";
    case Action::Solve: return "#solve";
    case Action::Close: return "#close";
    case Action::Cancel: return "#cancel";
    case Action::Reopen: return "#reopen";
    case Action::Watch: return "#watch diretor@cliente.org";
    case Action::Unwatch: return "#unwatch gerente@example.com";
    case Action::Answer: return "#answer redefinir_senha";
    case Action::Link: return "#link " + other_protocol;
    case Action::Level: return "#level 1";
    default: return "";
  }
}

std::set<std::string> templates_of(const std::vector<OutgoingMail>& mails) {
  std::set<std::string> names;
  for (const auto& m : mails) names.insert(m.template_name);
  return names;
}

}  // namespace

TEST_CASE("every action of the lifecycle table has a name and every refusal a reason", "[lifecycle][table]") {
  CHECK(all_statuses().size() == 9);
  CHECK(all_actions().size() == 28);
  for (Action action : all_actions()) {
    CHECK(std::string(action_name(action)).size() > 0);
    for (TicketStatus status : all_statuses()) {
      const Transition t = transition(status, action);
      INFO(action_name(action) << " from " << status_name(status));
      CHECK(t.allowed == t.refusal.empty());
    }
  }
}

TEST_CASE("every status and every agent command ends as the lifecycle table says", "[lifecycle][table]") {
  for (Action action : all_actions()) {
    const std::string command = command_for(action, "");
    if (command.empty()) continue;
    for (TicketStatus status : all_statuses()) {
      DYNAMIC_SECTION(action_name(action) << " from " << status_name(status)) {
        Bench bench;
        const Ticket other = bench.ticket_in(TicketStatus::InProgress);
        const Ticket before = bench.ticket_in(status);
        const AgentConfig& maria = *bench.config.agent("maria");
        const Transition expected = transition(status, action);
        const TicketUpdate update = bench.engine.add_agent_reply(
            bench.message("maria@example.com", command_for(action, other.protocol) + "\nTexto do agente.\n"), before, maria);
        const Ticket after = *bench.store.ticket(before.id);
        const auto mails = templates_of(update.mails);
        if (expected.allowed) {
          CHECK(after.status == expected.to);
          CHECK(mails.count("command_error") == 0);
          for (const char* name : {"forward", "scheduled", "solution", "reopened"})
            if (std::string(mails_of(action)).find(name) != std::string::npos) CHECK(mails.count(name) == 1);
          if (action == Action::Close) CHECK(mails.count("closing") == 1);
        } else {
          CHECK(after.status == before.status);
          CHECK(after.responsible == before.responsible);
          CHECK(after.priority == before.priority);
          CHECK(after.stage == before.stage);
          REQUIRE(update.mails.size() == 1);
          CHECK(update.mails[0].template_name == "command_error");
          CHECK(update.mails[0].error.find(expected.refusal) != std::string::npos);
        }
      }
    }
  }
}

TEST_CASE("every status and every reply ends as the lifecycle table says", "[lifecycle][table]") {
  for (Action action : {Action::CustomerReply, Action::AgentReply}) {
    for (TicketStatus status : all_statuses()) {
      DYNAMIC_SECTION(action_name(action) << " from " << status_name(status)) {
        Bench bench;
        const Ticket before = bench.ticket_in(status);
        const Transition expected = transition(status, action);
        REQUIRE(expected.allowed);  // replies are never refused: at worst they change nothing
        const TicketUpdate update =
            action == Action::CustomerReply
                ? bench.engine.add_customer_message(bench.message("ana@cliente.org", "Mais uma coisa."), before, false)
                : bench.engine.add_agent_reply(bench.message("maria@example.com", "Resposta."), before,
                                               *bench.config.agent("maria"));
        CHECK(bench.store.ticket(before.id)->status == expected.to);
        CHECK(templates_of(update.mails).count(action == Action::AgentReply ? "reply"
                                               : status == TicketStatus::Closed ? "reopened"
                                                                                : "customer_update") == 1);
      }
    }
  }
}

TEST_CASE("every status and every scheduler event ends as the lifecycle table says", "[lifecycle][table][scheduler]") {
  for (Action action : {Action::DeadlinePassed, Action::ScheduledDay, Action::AutoClose}) {
    for (TicketStatus status : all_statuses()) {
      DYNAMIC_SECTION(action_name(action) << " from " << status_name(status)) {
        Bench bench;
        Ticket before = bench.ticket_in(status);
        const Transition expected = transition(status, action);
        if (action == Action::ScheduledDay) bench.store.set_timer(before.id, "reminder", bench.clock.now());
        if (action == Action::AutoClose) bench.store.set_timer(before.id, "auto_close", bench.clock.now());
        bench.clock.advance(action == Action::DeadlinePassed ? 5 * 3600 : 60);
        std::vector<OutgoingMail> mails;
        Scheduler scheduler(bench.store, bench.config, bench.clock,
                            [&mails](const TicketUpdate& u) { mails.insert(mails.end(), u.mails.begin(), u.mails.end()); },
                            bench.log);
        const TickResult result = scheduler.tick();
        CHECK(result.failed == 0);
        const Ticket after = *bench.store.ticket(before.id);
        CHECK(after.status == (expected.allowed ? expected.to : before.status));
        const std::string mail = action == Action::DeadlinePassed ? "escalation"
                                 : action == Action::ScheduledDay ? "reminder"
                                                                  : "closing";
        CHECK(templates_of(mails).count(mail) == (expected.allowed ? 1u : 0u));
      }
    }
  }
}

TEST_CASE("every status and an approving customer reply end as the lifecycle table says", "[lifecycle][table][confirmation]") {
  for (TicketStatus status : all_statuses()) {
    DYNAMIC_SECTION("customer_approval from " << status_name(status)) {
      Bench bench;
      const Ticket before = bench.ticket_in(status);
      const Transition approval = transition(status, Action::CustomerApproval);
      // Where the table refuses the approval, the reply is an ordinary customer reply.
      const Transition expected = approval.allowed ? approval : transition(status, Action::CustomerReply);
      const TicketUpdate update =
          bench.engine.add_customer_message(bench.message("ana@cliente.org", "Ok, resolvido. Obrigada!"), before, false);
      CHECK(bench.store.ticket(before.id)->status == expected.to);
      CHECK(templates_of(update.mails).count("closing") == (approval.allowed ? 1u : 0u));
    }
  }
}

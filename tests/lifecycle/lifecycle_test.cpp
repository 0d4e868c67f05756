// lifecycle_test.cpp — how an "atendimento" lives (seeds 000 and 003), end to end through the
// inbound path on a real SQLite store with the real templates: agents' commands by e-mail, the
// mails each step sends, refusals that change nothing, and the scheduler moved by a fixed clock
// (scheduled reminders, SLA escalation once, auto-close of solved tickets).
#include "desk.h"

TEST_CASE("the seed 000 flow runs from the start to the closing e-mail and a reopening", "[lifecycle][seed]") {
  Desk desk;
  const Outcome opened = desk.customer("Garantia do liquidificador", "O liquidificador parou de funcionar.\r\n");
  REQUIRE(opened.kind == Outcome::Kind::TicketCreated);
  const std::string p = opened.protocol;
  CHECK(desk.templates_to("ana@cliente.org") == Names{"opening"});  // the customer is told
  CHECK(desk.templates_to("maria@example.com") == Names{"forward"});  // the responsible gets it

  desk.agent("maria", p, "#take\r\n#stage next\r\n");
  CHECK(desk.ticket(p).status == TicketStatus::InProgress);
  CHECK(desk.ticket(p).stage == "analise");

  desk.agent("maria", p, "#note\r\nAnalise parcial: motor queimado, verificar lote.\r\n");  // partial analysis
  desk.agent("maria", p, "#forward joao\r\nA qualidade precisa avaliar o lote.\r\n");
  Ticket t = desk.ticket(p);
  CHECK(t.responsible == "joao");
  CHECK(t.department == "qualidade");
  const auto to_joao = desk.mails_to("joao@example.com");
  REQUIRE(to_joao.size() == 1);
  CHECK(to_joao[0].template_name == "forward");
  CHECK(contains(readable(to_joao[0].raw), "A qualidade precisa avaliar o lote."));
  CHECK(contains(readable(to_joao[0].raw), "motor queimado"));  // the ticket so far, notes included

  desk.agent("joao", p, "#close\r\nProcedente: troca do produto autorizada.\r\n");
  t = desk.ticket(p);
  CHECK(t.status == TicketStatus::Closed);
  CHECK(t.stage == "conclusao");
  const auto to_ana = desk.mails_to("ana@cliente.org");
  REQUIRE(to_ana.back().template_name == "closing");
  CHECK(contains(readable(to_ana.back().raw), "troca do produto autorizada"));
  CHECK(desk.templates_to("gerente@example.com") == Names{"watcher_opened", "watcher_closed"});
  for (const auto& mail : to_ana) CHECK_FALSE(contains(readable(mail.raw), "motor queimado"));  // notes never leave

  desk.agent("joao", p, "#reopen\r\nO cliente ligou: a troca nao resolveu.\r\n");
  t = desk.ticket(p);
  CHECK(t.status == TicketStatus::Reopened);
  CHECK(t.times_reopened == 1);
  CHECK(desk.history_has(p, "responsible", "joao"));
  CHECK(desk.history_has(p, "status", "closed"));
}

TEST_CASE("handing a ticket back to whoever forwarded it needs a justification", "[lifecycle][forward]") {
  Desk desk;
  const std::string p = desk.customer("Garantia", "Defeito.\r\n").protocol;
  desk.agent("maria", p, "#forward joao\r\nPara a qualidade.\r\n");
  desk.agent("joao", p, "#assign maria\r\n");
  CHECK(desk.ticket(p).responsible == "joao");
  CHECK(desk.templates_to("joao@example.com").back() == "command_error");
  desk.agent("joao", p, "#assign maria\r\nNao e defeito de fabrica.\r\n");
  CHECK(desk.ticket(p).responsible == "maria");
}

TEST_CASE("a refused command changes nothing and explains what was wrong and what is allowed", "[lifecycle][refusal]") {
  Desk desk;
  const std::string p = desk.customer("Garantia", "Defeito.\r\n").protocol;
  const Ticket before = desk.ticket(p);
  const size_t articles = desk.store.articles(before.id).size();
  desk.agent("maria", p, "#take\r\n#priority altissima\r\n#schedule 2026-02-30\r\nTexto.\r\n");
  const Ticket after = desk.ticket(p);
  CHECK(after.status == before.status);
  CHECK(after.responsible == before.responsible);
  CHECK(after.priority == before.priority);
  CHECK(desk.store.articles(before.id).size() == articles);
  CHECK(desk.templates_to("ana@cliente.org") == Names{"opening"});
  const auto error = desk.mails_to("maria@example.com").back();
  REQUIRE(error.template_name == "command_error");
  CHECK(contains(readable(error.raw), "urgent, high, normal or low"));
  CHECK(contains(readable(error.raw), "YYYY-MM-DD"));
  CHECK(contains(readable(error.raw), "nothing was applied"));
}

TEST_CASE("text after commands that leave it is relayed to the customer", "[lifecycle][relay]") {
  Desk desk;
  const std::string p = desk.customer("Garantia", "Defeito.\r\n").protocol;
  desk.agent("maria", p, "#take\r\n#priority urgent\r\n#answer garantia_aprovada\r\nBoa tarde!\r\n");
  const Ticket t = desk.ticket(p);
  CHECK(t.status == TicketStatus::InProgress);
  CHECK(t.priority == 1);
  CHECK(t.first_response_at.has_value());
  const auto reply = desk.mails_to("ana@cliente.org").back();
  REQUIRE(reply.template_name == "reply");
  CHECK(contains(readable(reply.raw), "Boa tarde!"));
  CHECK(contains(readable(reply.raw), "foi aprovado"));
  CHECK_FALSE(contains(readable(reply.raw), "#take"));
}

TEST_CASE("a customer's #close is only text", "[lifecycle][security]") {
  Desk desk;
  const std::string p = desk.customer("Garantia", "Defeito.\r\n").protocol;
  desk.customer("Re: [#" + p + "] Garantia", "#close\r\nPodem encerrar.\r\n");
  CHECK(desk.ticket(p).status == TicketStatus::New);
  CHECK(desk.templates_to("maria@example.com").back() == "customer_update");
}

TEST_CASE("an agent below the ticket's level can neither answer nor command it", "[lifecycle][security]") {
  Desk desk;
  const std::string p = desk.customer("Assunto sigilo", "Confidencial.\r\n").protocol;
  desk.agent("maria", p, "#close\r\nEncerrado.\r\n");
  CHECK(desk.ticket(p).status == TicketStatus::New);
  CHECK(desk.templates_to("maria@example.com") == Names{"command_error"});
  desk.agent("chefe", p, "#level 0\r\n");
  CHECK(desk.ticket(p).level == 0);
}

TEST_CASE("a scheduled ticket tells the customer the date and reminds the responsible on the day", "[lifecycle][schedule]") {
  Desk desk;
  const std::string p = desk.customer("Garantia", "Defeito.\r\n").protocol;
  desk.agent("maria", p, "#schedule 2026-11-27 14:30\r\nO tecnico visita na sexta.\r\n");
  Ticket t = desk.ticket(p);
  CHECK(t.status == TicketStatus::Scheduled);
  CHECK(t.times_scheduled == 1);
  const auto told = desk.mails_to("ana@cliente.org").back();
  REQUIRE(told.template_name == "scheduled");
  CHECK(contains(readable(told.raw), "27/11/2026 14:30"));
  CHECK(contains(readable(told.raw), "O tecnico visita na sexta."));

  desk.clock.advance(86400);
  CHECK(desk.tick().reminded == 0);
  desk.clock.advance(2 * 86400);  // 2026-11-27
  CHECK(desk.tick().reminded == 1);
  CHECK(desk.templates_to("maria@example.com").back() == "reminder");
  CHECK(desk.tick().reminded == 0);  // once
}

TEST_CASE("an SLA breach sends one escalation to the responsible and the department's chiefs", "[lifecycle][sla]") {
  Desk desk;
  const std::string p = desk.customer("Garantia", "Defeito.\r\n").protocol;
  desk.clock.advance(3 * 3600);
  CHECK(desk.tick().escalated == 0);
  desk.clock.advance(2 * 3600);
  CHECK(desk.tick().escalated == 1);
  CHECK(desk.tick().escalated == 0);
  desk.clock.advance(3600);
  CHECK(desk.tick().escalated == 0);
  const auto escalations = desk.mails_to("chefe@example.com");
  REQUIRE(escalations.size() == 1);
  CHECK(escalations[0].template_name == "escalation");
  CHECK(contains(readable(escalations[0].raw), "maria@example.com"));
  CHECK(desk.history_has(p, "sla_breached", "24/11/2026 04:01"));
}

TEST_CASE("a solved ticket closes by itself after the type's days with the closing e-mail", "[lifecycle][auto-close]") {
  Desk desk;
  const std::string p = desk.customer("Garantia", "Defeito.\r\n").protocol;
  desk.agent("maria", p, "#solve\r\nTrocamos a peca defeituosa.\r\n");
  CHECK(desk.ticket(p).status == TicketStatus::Solved);
  CHECK(desk.templates_to("ana@cliente.org").back() == "solution");
  desk.clock.advance(4 * 86400);
  CHECK(desk.tick().auto_closed == 0);
  desk.clock.advance(86400);
  CHECK(desk.tick().auto_closed == 1);
  CHECK(desk.ticket(p).status == TicketStatus::Closed);
  const auto closing = desk.mails_to("ana@cliente.org").back();
  REQUIRE(closing.template_name == "closing");
  CHECK(contains(readable(closing.raw), "Trocamos a peca defeituosa."));
}

TEST_CASE("a customer reply to a solved ticket keeps it from closing by itself", "[lifecycle][auto-close]") {
  Desk desk;
  const std::string p = desk.customer("Garantia", "Defeito.\r\n").protocol;
  desk.agent("maria", p, "#solve\r\nTrocamos a peca.\r\n");
  desk.customer("Re: [#" + p + "] Garantia", "Continua com defeito.\r\n");
  CHECK(desk.ticket(p).status == TicketStatus::InProgress);
  desk.clock.advance(6 * 86400);
  CHECK(desk.tick().auto_closed == 0);
}

TEST_CASE("a cancelled ticket cannot be reopened or closed", "[lifecycle][cancel]") {
  Desk desk;
  const std::string p = desk.customer("Garantia", "Defeito.\r\n").protocol;
  desk.agent("maria", p, "#cancel\r\nAberto em duplicidade.\r\n");
  CHECK(desk.ticket(p).status == TicketStatus::Cancelled);
  desk.agent("maria", p, "#reopen\r\n");
  desk.agent("maria", p, "#close\r\nParecer.\r\n");
  CHECK(desk.ticket(p).status == TicketStatus::Cancelled);
  const auto mails = desk.mails_to("maria@example.com");
  REQUIRE(mails.size() == 3);
  CHECK(contains(readable(mails[1].raw), "a cancelled ticket cannot be reopened"));
  CHECK(contains(readable(mails[2].raw), "a cancelled ticket cannot be closed"));
}

TEST_CASE("a decision stage takes one of its answers and a stage may require the next responsible", "[lifecycle][workflow]") {
  Desk desk(
      "[type.troca]\nname = Troca\nmatch_subject = troca\nassign = agent:maria\nworkflow = garantia\n"
      "[workflow.garantia]\nstages = abertura, analise, decisao, troca, conclusao\n"
      "stage_analise = requires_responsible\nstage_decisao = decision: aprovado -> troca, reprovado -> conclusao\n"
      "stage_conclusao = closes\n");
  const std::string p = desk.customer("Pedido de troca", "Quero trocar.\r\n").protocol;
  desk.agent("maria", p, "#stage next\r\n");
  CHECK(desk.ticket(p).stage == "abertura");
  desk.agent("maria", p, "#stage next joao\r\nAnalise tecnica.\r\n");
  CHECK(desk.ticket(p).stage == "analise");
  CHECK(desk.ticket(p).responsible == "joao");
  desk.agent("joao", p, "#stage decisao\r\n");
  desk.agent("joao", p, "#stage reprovado\r\nFora da garantia: uso indevido.\r\n");
  const Ticket t = desk.ticket(p);
  CHECK(t.stage == "conclusao");
  CHECK(t.status == TicketStatus::Closed);
  CHECK(desk.mails_to("ana@cliente.org").back().template_name == "closing");
}

TEST_CASE("fields links watchers and type changes go to history", "[lifecycle][history]") {
  Desk desk("[type.outro]\nname = Outro\nmatch_subject = outro\nallow_type_change = false\n");
  const std::string p = desk.customer("Garantia", "Defeito.\r\n").protocol;
  const std::string q = desk.customer("Garantia de novo", "Outro defeito.\r\n").protocol;
  desk.agent("maria", p,
             "#field nota_fiscal 12345\r\n#link " + q + "\r\n#watch diretor@cliente.org\r\n#unwatch gerente@example.com\r\n"
             "#type outro\r\n");
  CHECK(desk.store.fields(desk.ticket(p).id) == std::vector<std::pair<std::string, std::string>>{{"nota_fiscal", "12345"}});
  CHECK(desk.store.links(desk.ticket(q).id) == std::vector<TicketId>{desk.ticket(p).id});
  CHECK(desk.store.watchers(desk.ticket(p).id) == std::vector<std::string>{"diretor@cliente.org"});
  CHECK(desk.ticket(p).type_id == "outro");
  CHECK(desk.history_has(p, "field.nota_fiscal", "12345"));
  CHECK(desk.history_has(q, "linked", p));
  desk.agent("maria", p, "#type garantia\r\n");
  CHECK(desk.ticket(p).type_id == "outro");
  CHECK(contains(readable(desk.mails_to("maria@example.com").back().raw), "does not allow changing the type"));
}

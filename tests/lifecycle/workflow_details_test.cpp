// workflow_details_test.cpp — the workflow details of seed 003 end to end through the inbound
// path: a stage that enters another workflow and comes back (or ends there), a stage that
// requires naming the next responsible, canned answers ("parecer padrão") tied to stages; and the
// scheduling periods of seed 004 ("Melhor horário": morning, afternoon, evening, any).
#include "desk.h"

namespace {

const char* const kImplantacao =
    "[type.implantacao]\nname = Implantacao\nmatch_subject = (?i)implanta\nassign = agent:maria\n"
    "workflow = implantacao\n"
    "[workflow.implantacao]\nstages = abertura, implantar, acompanhamento, conclusao\n"
    "stage_acompanhamento = workflow:duvidas, requires_responsible\nstage_conclusao = closes\n"
    "[workflow.duvidas]\nstages = contato, retorno\nstage_retorno = answers:garantia_aprovada\n";

}  // namespace

TEST_CASE("a stage enters another workflow and the ticket comes back to the stage after it",
          "[workflow][subflow][lifecycle][seed]") {
  Desk desk(kImplantacao);
  const std::string p = desk.customer("Implantacao do sistema", "Quando instalam?\r\n").protocol;
  desk.agent("maria", p, "#take\r\n#stage next\r\n");
  CHECK(desk.ticket(p).stage == "implantar");

  // Entering the follow-up flow requires the next responsible (the entering stage's option).
  desk.agent("maria", p, "#stage next\r\nSistema implantado.\r\n");
  CHECK(desk.ticket(p).stage == "implantar");
  CHECK(contains(readable(desk.mails_to("maria@example.com").back().raw), "requires naming the next responsible"));
  desk.agent("maria", p, "#stage next joao\r\nSistema implantado; acompanhar as duvidas.\r\n");
  Ticket t = desk.ticket(p);
  CHECK(t.stage == "acompanhamento/contato");
  CHECK(t.responsible == "joao");
  CHECK(desk.history_has(p, "stage", "acompanhamento/contato"));
  CHECK(desk.history_has(p, "workflow", "duvidas"));

  desk.agent("joao", p, "#stage next\r\nCliente orientado.\r\n");
  CHECK(desk.ticket(p).stage == "acompanhamento/retorno");
  desk.agent("joao", p, "#stage next\r\nSem mais duvidas.\r\n");  // past the last stage of duvidas
  t = desk.ticket(p);
  CHECK(t.stage == "conclusao");
  CHECK(t.status == TicketStatus::Closed);  // conclusao closes: the text is the final opinion
  CHECK(desk.history_has(p, "workflow", "implantacao"));
  const auto closing = desk.mails_to("ana@cliente.org").back();
  REQUIRE(closing.template_name == "closing");
  CHECK(contains(readable(closing.raw), "Sem mais duvidas."));
}

TEST_CASE("a sub-workflow entered for good keeps the ticket until its own closing stage",
          "[workflow][subflow][lifecycle]") {
  Desk desk(
      "[type.obra]\nname = Obra\nmatch_subject = obra\nassign = agent:maria\nworkflow = obra\n"
      "[workflow.obra]\nstages = abertura, vistoria\nstage_vistoria = workflow:laudo:end\n"
      "[workflow.laudo]\nstages = medicao, laudo_final\nstage_laudo_final = closes\n");
  const std::string p = desk.customer("Reforma da obra", "Vistoria.\r\n").protocol;
  desk.agent("maria", p, "#stage next\r\n");
  CHECK(desk.ticket(p).stage == "vistoria/medicao");
  desk.agent("maria", p, "#stage abertura\r\n");  // no way back out of a flow entered for good
  CHECK(desk.ticket(p).stage == "vistoria/medicao");
  CHECK(contains(readable(desk.mails_to("maria@example.com").back().raw), "no stage \"abertura\""));
  desk.agent("maria", p, "#close\r\nLaudo entregue.\r\n");
  CHECK(desk.ticket(p).stage == "vistoria/laudo_final");
  CHECK(desk.ticket(p).status == TicketStatus::Closed);
}

TEST_CASE("a stage requiring the next responsible refuses #stage next without one and says why",
          "[workflow][lifecycle][refusal]") {
  Desk desk(
      "[type.troca]\nname = Troca\nmatch_subject = troca\nassign = agent:maria\nworkflow = troca\n"
      "[workflow.troca]\nstages = abertura, analise, conclusao\nstage_analise = requires_responsible\n"
      "stage_conclusao = closes\n");
  const std::string p = desk.customer("Pedido de troca", "Quero trocar.\r\n").protocol;
  const size_t history = desk.store.history(desk.ticket(p).id).size();
  desk.agent("maria", p, "#stage next\r\nPara analise.\r\n");
  CHECK(desk.ticket(p).stage == "abertura");
  CHECK(desk.ticket(p).responsible == "maria");
  const auto error = desk.mails_to("maria@example.com").back();
  REQUIRE(error.template_name == "command_error");
  const std::string text = readable(error.raw);
  CHECK(contains(text, "stage analise requires naming the next responsible"));
  CHECK(contains(text, "#stage next AGENT"));
  CHECK(contains(text, "#forward AGENT"));
  CHECK(desk.store.history(desk.ticket(p).id).size() == history + 2);  // command_refused and the mail

  desk.agent("maria", p, "#forward joao\r\n#stage next\r\nPara a qualidade analisar.\r\n");
  CHECK(desk.ticket(p).stage == "analise");
  CHECK(desk.ticket(p).responsible == "joao");
}

TEST_CASE("#answer without a name lists the stage's canned answers with their text and applies nothing",
          "[workflow][answers][lifecycle]") {
  Desk desk(kImplantacao);
  const std::string p = desk.customer("Implantacao do sistema", "Quando instalam?\r\n").protocol;
  desk.agent("maria", p, "#stage implantar\r\n");
  desk.agent("maria", p, "#stage next joao\r\nAcompanhar.\r\n");
  desk.agent("joao", p, "#stage next\r\nCliente orientado.\r\n");
  REQUIRE(desk.ticket(p).stage == "acompanhamento/retorno");
  const size_t to_ana = desk.mails_to("ana@cliente.org").size();

  desk.agent("joao", p, "#take\r\n#answer\r\n");
  CHECK(desk.ticket(p).status == TicketStatus::New);  // nothing applied, #take included
  const auto help = desk.mails_to("joao@example.com").back();
  REQUIRE(help.template_name == "command_error");
  const std::string text = readable(help.raw);
  CHECK(contains(text, "The answers of stage acompanhamento/retorno:"));
  CHECK(contains(text, "#answer garantia_aprovada"));
  CHECK(contains(text, "foi aprovado"));  // the answer's text as the customer would read it
  CHECK(contains(text, "Other answers: redefinir_senha"));
  CHECK(desk.mails_to("ana@cliente.org").size() == to_ana);

  desk.agent("joao", p, "#answer garantia_aprovada\r\n");
  const auto reply = desk.mails_to("ana@cliente.org").back();
  REQUIRE(reply.template_name == "reply");
  CHECK(contains(readable(reply.raw), "foi aprovado"));
}

TEST_CASE("#answer without a name in a stage without answers lists every answer", "[answers][lifecycle]") {
  Desk desk;
  const std::string p = desk.customer("Garantia", "Defeito.\r\n").protocol;
  desk.agent("maria", p, "#answer\r\n");
  const std::string text = readable(desk.mails_to("maria@example.com").back().raw);
  CHECK(contains(text, "Stage abertura has no answers of its own."));
  CHECK(contains(text, "The answers: garantia_aprovada, redefinir_senha"));
}

TEST_CASE("a stage naming a canned answer that does not exist fails the template check", "[answers][config]") {
  const Config config = config_from(
      "[server]\naddress = suporte@example.com\n[workflow.w]\nstages = a, b\nstage_b = answers:garantia_aprovada|sumiu\n");
  CHECK_THROWS_WITH(make_renderer(config), Catch::Contains("[workflow.w] stage_b: no canned answer \"sumiu\""));
  const Config good = config_from("[server]\naddress = suporte@example.com\n[workflow.w]\nstages = a, b\n"
                                  "stage_b = answers:garantia_aprovada|redefinir_senha\n");
  CHECK(good.workflows.at("w").stage_options.at("b").canned_answers ==
        std::vector<std::string>{"garantia_aprovada", "redefinir_senha"});
  CHECK_NOTHROW(make_renderer(good));
}

TEST_CASE("#schedule takes a period of the day and the customer's mail says it in words", "[schedule][lifecycle][seed]") {
  struct Case {
    const char* locale;
    const char* word;
    const char* date_shown;
    const char* words;
  };
  const Case cases[] = {
      {"pt_BR", "morning", "27/11/2026", "agendado para 27/11/2026, no período da manhã."},
      {"pt_BR", "tarde", "27/11/2026", "agendado para 27/11/2026, no período da tarde."},
      {"pt_BR", "evening", "27/11/2026", "agendado para 27/11/2026, no período da noite."},
      {"pt_BR", "any", "27/11/2026", "agendado para 27/11/2026, em qualquer horário."},
      {"en", "morning", "2026-11-27", "scheduled for 2026-11-27, in the morning."},
      {"en", "Afternoon", "2026-11-27", "scheduled for 2026-11-27, in the afternoon."},
      {"en", "noite", "2026-11-27", "scheduled for 2026-11-27, in the evening."},
      {"en", "any", "2026-11-27", "scheduled for 2026-11-27, at any time of the day."},
  };
  for (const Case& c : cases) {
    INFO(c.locale << " " << c.word);
    Desk desk;
    desk.config.server.locale = c.locale;
    desk.renderer = make_renderer(desk.config);
    desk.pipeline = std::make_unique<InboundPipeline>(desk.store, desk.blobs, desk.config, *desk.renderer, desk.clock,
                                                      desk.log);
    const std::string p = desk.customer("Garantia", "Defeito.\r\n").protocol;
    desk.agent("maria", p, std::string("#schedule 2026-11-27 ") + c.word + "\r\n");
    const Ticket t = desk.ticket(p);
    CHECK(t.status == TicketStatus::Scheduled);
    const auto told = desk.mails_to("ana@cliente.org").back();
    REQUIRE(told.template_name == "scheduled");
    CHECK(contains(readable(told.raw), c.words));
    // The reminder comes on the day, as with a date alone, and names the period too.
    desk.clock.advance(3 * 86400);
    CHECK(desk.tick().reminded == 1);
    const auto reminder = desk.mails_to("maria@example.com").back();
    REQUIRE(reminder.template_name == "reminder");
    CHECK(contains(readable(reminder.raw), std::string(c.date_shown) + ", " + (std::string(c.words).substr(std::string(c.words).find(", ") + 2))));
  }
}

TEST_CASE("#schedule refuses a word that is neither a time nor a period", "[schedule][lifecycle][refusal]") {
  Desk desk;
  const std::string p = desk.customer("Garantia", "Defeito.\r\n").protocol;
  desk.agent("maria", p, "#schedule 2026-11-27 madrugada\r\n");
  CHECK(desk.ticket(p).status == TicketStatus::New);
  CHECK(contains(readable(desk.mails_to("maria@example.com").back().raw), "morning|afternoon|evening|any"));
  desk.agent("maria", p, "#schedule 2026-11-27 14:30\r\n");  // a time still works, without a period
  CHECK(desk.ticket(p).status == TicketStatus::Scheduled);
  const std::string told = readable(desk.mails_to("ana@cliente.org").back().raw);
  CHECK(contains(told, "agendado para 27/11/2026 14:30."));
}

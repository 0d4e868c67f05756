// confirmation_test.cpp — the customer's confirmation of a solution (seed 001 "Avisado" →
// "Confirmado"), end to end through the inbound path: an approval phrase in the new part of the
// reply closes the ticket as confirmed with the closing e-mail; the same phrase only in the quoted
// history (our solution mail asks for it) does not; any other reply puts it back in progress;
// silence for the type's days closes it as unconfirmed (clock moved, scheduler ticked). A real
// reply of the corpus (Thunderbird, quote above the new text) checks the quote is never read.
#include <filesystem>
#include <sstream>

#include "desk.h"
#include "support/corpus.h"

namespace {

// The customer's reply as a mail client writes it: the new text, an attribution line and the
// whole solution mail we sent quoted with "> ".
std::string reply_quoting(Desk& desk, const std::string& new_text) {
  const auto mails = desk.mails_to("ana@cliente.org");
  REQUIRE(!mails.empty());
  REQUIRE(mails.back().template_name == "solution");
  std::istringstream lines(parse_message(mails.back().raw).text);
  std::string quoted;
  for (std::string line; std::getline(lines, line);) quoted += "> " + line + "\r\n";
  return new_text + "\r\n\r\nEm 24/11/2026 10:00, Suporte <suporte@example.com> escreveu:\r\n" + quoted;
}

std::string field_of(Desk& desk, const std::string& protocol, const std::string& name) {
  for (const auto& [field, value] : desk.store.fields(desk.ticket(protocol).id))
    if (field == name) return value;
  return "";
}

}  // namespace

TEST_CASE("an approval phrase in the new part of the customer's reply closes the ticket as confirmed",
          "[confirmation][lifecycle][seed]") {
  Desk desk;
  const std::string p = desk.customer("Garantia do liquidificador", "Parou de funcionar.\r\n").protocol;
  desk.agent("maria", p, "#solve\r\nTrocamos o motor do liquidificador.\r\n");
  REQUIRE(desk.ticket(p).status == TicketStatus::Solved);  // 001 "Avisado": the customer was told
  CHECK(contains(readable(desk.mails_to("ana@cliente.org").back().raw), "ok, resolvido"));  // and how to confirm

  desk.customer("Re: [#" + p + "] Garantia do liquidificador", reply_quoting(desk, "OK, resolvido!! Obrigada."));
  const Ticket t = desk.ticket(p);
  CHECK(t.status == TicketStatus::Closed);
  CHECK(t.closed_at.has_value());
  CHECK(field_of(desk, p, "confirmation") == "confirmed");
  bool said = false;  // history says who confirmed and with what words
  for (const auto& h : desk.store.history(t.id))
    if (h.field == "confirmation" && h.to_value == "confirmed" && h.actor == "ana@cliente.org" &&
        contains(h.justification, "ok, resolvido"))
      said = true;
  CHECK(said);
  const auto closing = desk.mails_to("ana@cliente.org").back();
  REQUIRE(closing.template_name == "closing");
  CHECK(contains(readable(closing.raw), "Trocamos o motor do liquidificador."));  // the final opinion
  CHECK(desk.templates_to("maria@example.com").back() == "customer_update");     // the agent sees the words
  CHECK(contains(readable(desk.mails_to("maria@example.com").back().raw), "confirmou"));
  CHECK(desk.templates_to("gerente@example.com").back() == "watcher_closed");
  desk.clock.advance(10 * 86400);
  CHECK(desk.tick().auto_closed == 0);  // nothing left for the scheduler
}

TEST_CASE("the approval phrase only in the quoted history does not close the ticket", "[confirmation][lifecycle]") {
  Desk desk;
  const std::string p = desk.customer("Garantia", "Defeito.\r\n").protocol;
  desk.agent("maria", p, "#solve\r\nTrocamos a peca.\r\n");
  // Our solution mail itself says "ok, resolvido"; the customer's own words say otherwise.
  desk.customer("Re: [#" + p + "] Garantia", reply_quoting(desk, "Continua fazendo barulho."));
  CHECK(desk.ticket(p).status == TicketStatus::InProgress);
  CHECK(field_of(desk, p, "confirmation").empty());
  CHECK_FALSE(desk.history_has(p, "confirmation", "confirmed"));
  CHECK(desk.templates_to("ana@cliente.org").back() == "solution");  // no closing
}

TEST_CASE("a negated approval phrase puts the solved ticket back in progress", "[confirmation][lifecycle]") {
  Desk desk;
  const std::string p = desk.customer("Garantia", "Defeito.\r\n").protocol;
  desk.agent("maria", p, "#solve\r\nTrocamos a peca.\r\n");
  desk.customer("Re: [#" + p + "] Garantia", "Ainda nao pode fechar: o visor apagou.\r\n");
  CHECK(desk.ticket(p).status == TicketStatus::InProgress);
  CHECK(desk.history_has(p, "status", "in_progress"));
}

TEST_CASE("silence after the solution closes the ticket as unconfirmed after the type's days",
          "[confirmation][lifecycle][auto-close]") {
  Desk desk;  // garantia: auto_close_days = 5
  const std::string p = desk.customer("Garantia", "Defeito.\r\n").protocol;
  desk.agent("maria", p, "#solve\r\nTrocamos a peca.\r\n");
  desk.clock.advance(5 * 86400 - 3600);
  CHECK(desk.tick().auto_closed == 0);
  CHECK(desk.ticket(p).status == TicketStatus::Solved);
  desk.clock.advance(3600);
  CHECK(desk.tick().auto_closed == 1);
  CHECK(desk.ticket(p).status == TicketStatus::Closed);
  CHECK(field_of(desk, p, "confirmation") == "unconfirmed");
  CHECK(desk.history_has(p, "confirmation", "unconfirmed"));
  CHECK(desk.templates_to("ana@cliente.org").back() == "closing");
}

TEST_CASE("confirmed and unconfirmed closings are counted per type", "[confirmation][lifecycle][stats]") {
  Desk desk;
  const std::string a = desk.customer("Garantia A", "Defeito.\r\n").protocol;
  const std::string b = desk.customer("Garantia B", "Defeito.\r\n").protocol;
  const std::string c = desk.customer("Garantia C", "Defeito.\r\n").protocol;
  for (const auto& p : {a, b, c}) desk.agent("maria", p, "#solve\r\nTrocamos a peca.\r\n");
  desk.customer("Re: [#" + a + "] Garantia A", "Obrigado, funcionou!\r\n");
  desk.customer("Re: [#" + b + "] Garantia B", "Yes, solved. Thanks\r\n");  // any configured locale
  desk.clock.advance(6 * 86400);
  CHECK(desk.tick().auto_closed == 1);
  std::map<std::string, std::int64_t> counts;
  for (const auto& row : desk.store.field_counts("confirmation", 0, 0)) {
    CHECK(row.type_id == "garantia");
    counts[row.value] += row.count;
  }
  CHECK(counts["confirmed"] == 2);
  CHECK(counts["unconfirmed"] == 1);
}

TEST_CASE("phrases from the configuration replace a locale's defaults", "[confirmation][lifecycle][config]") {
  Desk desk("[confirmation]\nphrases_pt_BR = tudo certo | podem arquivar\nphrases_en =\n");
  const std::string p = desk.customer("Garantia", "Defeito.\r\n").protocol;
  const std::string q = desk.customer("Garantia 2", "Defeito.\r\n").protocol;
  desk.agent("maria", p, "#solve\r\nTrocamos a peca.\r\n");
  desk.agent("maria", q, "#solve\r\nTrocamos a peca.\r\n");
  desk.customer("Re: [#" + p + "] Garantia", "Ok, resolvido.\r\n");  // a default no more
  CHECK(desk.ticket(p).status == TicketStatus::InProgress);
  desk.customer("Re: [#" + q + "] Garantia 2", "Tudo certo, podem arquivar!\r\n");
  CHECK(desk.ticket(q).status == TicketStatus::Closed);
}

TEST_CASE("a real reply with the quote above its new text approves only by its own words", "[confirmation][lifecycle][corpus]") {
  const std::string path = test::corpus_dir() + "/zammad/mail005.box";
  if (!std::filesystem::exists(path)) {
    WARN("mail corpus not found at " << path << ": test skipped");
    return;
  }
  // Thunderbird's "Am …, schrieb …:" attribution, the quoted history, then the customer's text.
  const std::string raw = test::read_file(path);
  const auto blank = raw.find("\n\n");
  REQUIRE(blank != std::string::npos);
  const std::string body = raw.substr(blank + 2);
  const auto history_end = body.find("Hallo Martin,");
  REQUIRE(history_end != std::string::npos);
  const std::string quoted_approval =
      body.substr(0, history_end) + "> Problem solved, you can close it.\n" + body.substr(history_end);
  const std::string own_approval = body + "\nProblem solved, you can close it.\n";

  Desk desk;
  const std::string p = desk.customer("Garantia", "Defeito.\r\n").protocol;
  const std::string q = desk.customer("Garantia 2", "Defeito.\r\n").protocol;
  desk.agent("maria", p, "#solve\r\nTrocamos a peca.\r\n");
  desk.agent("maria", q, "#solve\r\nTrocamos a peca.\r\n");
  const std::string headers = "From: Ana Lima <ana@cliente.org>\r\nTo: suporte@example.com\r\n"
                              "Content-Type: text/plain; charset=UTF-8; format=flowed\r\n"
                              "Content-Transfer-Encoding: 8bit\r\nSubject: Re: [#";
  desk.deliver(headers + p + "] Garantia\r\n", quoted_approval);
  CHECK(desk.ticket(p).status == TicketStatus::InProgress);
  desk.deliver(headers + q + "] Garantia 2\r\n", own_approval);
  CHECK(desk.ticket(q).status == TicketStatus::Closed);
  CHECK(desk.history_has(q, "confirmation", "confirmed"));
}

TEST_CASE("only the customer confirms: a watcher's approval phrase does not close the ticket", "[confirmation][lifecycle][security]") {
  Desk desk;
  const std::string p = desk.customer("Garantia", "Defeito.\r\n").protocol;
  desk.agent("maria", p, "#watch diretor@cliente.org\r\n");
  desk.agent("maria", p, "#solve\r\nTrocamos a peca.\r\n");
  desk.deliver("From: Diretor <diretor@cliente.org>\r\nTo: suporte+" + desk.ticket(p).reply_token +
                   "@example.com\r\nSubject: Re: [#" + p + "] Garantia\r\n",
               "Ok, resolvido. Pode fechar.\r\n");
  CHECK(desk.ticket(p).status == TicketStatus::InProgress);
  CHECK_FALSE(desk.history_has(p, "confirmation", "confirmed"));
}

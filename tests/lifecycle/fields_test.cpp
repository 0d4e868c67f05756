// fields_test.cpp — the typed fields a type defines (issue 13, seeds 000 and 002-004): values
// checked by kind, #field with history, refusals that change nothing and explain, required
// fields to open (asked of the responsible, never refusing the customer) and to close, and the
// fields in the templates; expenses, the analysis verdict and a stage's days to the next contact.
#include <filesystem>
#include <fstream>

#include "daemon/tickets/fields.h"
#include "desk.h"

namespace {

namespace fs = std::filesystem;

const char* const kTroca =
    "[type.troca]\nname = Troca\nmatch_subject = troca\nassign = agent:maria\n"
    "fields = product:text:required_to_close, invoice:text, quantity:int, indemnity:money, bought:date, "
    "channel:choice(phone|email|whatsapp|portal):required_to_open\n";

FieldSpec spec(FieldKind kind) {
  FieldSpec f;
  f.name = "x";
  f.kind = kind;
  if (kind == FieldKind::Choice) f.choices = {"phone", "email", "whatsapp"};
  return f;
}

std::map<std::string, std::string> fields_of(Desk& desk, const std::string& protocol) {
  std::map<std::string, std::string> out;
  for (const auto& [name, value] : desk.store.fields(desk.ticket(protocol).id)) out[name] = value;
  return out;
}

}  // namespace

TEST_CASE("every kind of field takes its valid values in one form and refuses the others", "[fields]") {
  struct Case {
    FieldKind kind;
    const char* raw;
    const char* stored;  // nullptr: refused
  };
  const Case cases[] = {
      {FieldKind::Text, "Liquidificador X200", "Liquidificador X200"},
      {FieldKind::Text, "  ", nullptr},
      {FieldKind::Text, "a\tb", nullptr},
      {FieldKind::Int, "3", "3"},
      {FieldKind::Int, "007", "7"},
      {FieldKind::Int, "-12", "-12"},
      {FieldKind::Int, "3.5", nullptr},
      {FieldKind::Int, "tres", nullptr},
      {FieldKind::Money, "1234", "1234.00"},
      {FieldKind::Money, "1234,5", "1234.50"},
      {FieldKind::Money, "1.234,50", "1234.50"},
      {FieldKind::Money, "1,234.50", "1234.50"},
      {FieldKind::Money, "R$ 99,90", "99.90"},
      {FieldKind::Money, "12,3,4", nullptr},
      {FieldKind::Money, "dez reais", nullptr},
      {FieldKind::Money, "-5", nullptr},
      {FieldKind::Date, "2026-02-28", "2026-02-28"},
      {FieldKind::Date, "2024-02-29", "2024-02-29"},
      {FieldKind::Date, "2026-02-29", nullptr},
      {FieldKind::Date, "28/02/2026", nullptr},
      {FieldKind::Choice, "WhatsApp", "whatsapp"},
      {FieldKind::Choice, "fax", nullptr},
  };
  for (const Case& c : cases) {
    INFO(field_kind_name(c.kind) << " \"" << c.raw << "\"");
    const FieldValue checked = check_field_value(spec(c.kind), c.raw);
    if (c.stored) {
      CHECK(checked.ok);
      CHECK(checked.value == c.stored);
    } else {
      CHECK_FALSE(checked.ok);
      CHECK(checked.error.find("field x") != std::string::npos);
    }
  }
}

TEST_CASE("a customer mail opens the ticket without a field required to open and the responsible is asked for it",
          "[fields][lifecycle]") {
  Desk desk(kTroca);
  const Outcome opened = desk.customer("Pedido de troca", "Quero trocar o produto.\r\n");
  REQUIRE(opened.kind == Outcome::Kind::TicketCreated);
  const std::string p = opened.protocol;
  CHECK(desk.ticket(p).type_id == "troca");
  CHECK(desk.templates_to("ana@cliente.org") == Names{"opening"});  // the customer is not refused
  const auto to_maria = desk.mails_to("maria@example.com");
  REQUIRE(to_maria.size() == 1);
  CHECK(to_maria[0].template_name == "forward");
  CHECK(contains(readable(to_maria[0].raw), "#field channel VALUE"));
  CHECK(contains(readable(to_maria[0].raw), "phone|email|whatsapp|portal"));
  CHECK(desk.history_has(p, "fields_missing", "channel"));
}

TEST_CASE("#field sets a typed value in its canonical form with history", "[fields][lifecycle]") {
  Desk desk(kTroca);
  const std::string p = desk.customer("Pedido de troca", "Quero trocar.\r\n").protocol;
  desk.agent("maria", p, "#field indemnity 1.234,50\r\n#field channel WhatsApp\r\n#field quantity 02\r\n#note\r\nDados do cliente.\r\n");
  const auto fields = fields_of(desk, p);
  CHECK(fields.at("indemnity") == "1234.50");
  CHECK(fields.at("channel") == "whatsapp");
  CHECK(fields.at("quantity") == "2");
  CHECK(desk.history_has(p, "field.indemnity", "1234.50"));
  CHECK(desk.history_has(p, "field.channel", "whatsapp"));

  desk.agent("maria", p, "#field quantity 3\r\n#note\r\nO cliente corrigiu.\r\n");
  bool changed = false;
  for (const auto& h : desk.store.history(desk.ticket(p).id))
    if (h.field == "field.quantity" && h.from_value == "2" && h.to_value == "3" && h.actor == "maria") changed = true;
  CHECK(changed);
}

TEST_CASE("a refused field value changes nothing and explains what the field takes", "[fields][lifecycle]") {
  Desk desk(kTroca);
  const std::string p = desk.customer("Pedido de troca", "Quero trocar.\r\n").protocol;
  desk.agent("maria", p, "#field quantity 2\r\n#note\r\nAnotado.\r\n");
  const auto history_before = desk.store.history(desk.ticket(p).id).size();

  // A good command before a bad one is not applied either.
  desk.agent("maria", p, "#priority urgent\r\n#field quantity muitos\r\n#field color azul\r\n");
  CHECK(fields_of(desk, p).at("quantity") == "2");
  CHECK(desk.ticket(p).priority == static_cast<int>(Priority::Normal));
  const auto history = desk.store.history(desk.ticket(p).id);
  REQUIRE(history.size() == history_before + 2);  // the refusal and the command_error mail, nothing else
  CHECK(history[history_before].field == "command_refused");
  CHECK(history[history_before + 1].field == "mail_queued");
  const auto to_maria = desk.mails_to("maria@example.com");
  REQUIRE(to_maria.back().template_name == "command_error");
  const std::string error = readable(to_maria.back().raw);
  CHECK(contains(error, "\"muitos\" is not a whole number (field quantity)"));
  CHECK(contains(error, "the type troca has no field \"color\""));
  CHECK(contains(error, "quantity (int)"));
}

TEST_CASE("closing without a required field is refused naming the field until it is set", "[fields][lifecycle]") {
  Desk desk(kTroca);
  const std::string p = desk.customer("Pedido de troca", "Quero trocar.\r\n").protocol;
  desk.agent("maria", p, "#take\r\n");

  desk.agent("maria", p, "#close\r\nTroca autorizada.\r\n");
  CHECK(desk.ticket(p).status == TicketStatus::InProgress);
  auto to_maria = desk.mails_to("maria@example.com");
  REQUIRE(to_maria.back().template_name == "command_error");
  CHECK(contains(readable(to_maria.back().raw), "required fields product, channel"));
  CHECK(contains(readable(to_maria.back().raw), "#field product VALUE"));

  desk.agent("maria", p, "#field product Liquidificador X200\r\n#solve\r\nTroca autorizada.\r\n");
  CHECK(desk.ticket(p).status == TicketStatus::InProgress);
  CHECK(fields_of(desk, p).count("product") == 0);  // refused as a whole
  to_maria = desk.mails_to("maria@example.com");
  CHECK(contains(readable(to_maria.back().raw), "required field channel"));

  // Fields set on the same message count for the closing.
  desk.agent("maria", p, "#field product Liquidificador X200\r\n#field channel email\r\n#close\r\nTroca autorizada.\r\n");
  CHECK(desk.ticket(p).status == TicketStatus::Closed);
  CHECK(desk.history_has(p, "field.product", "Liquidificador X200"));
}

TEST_CASE("a type without typed fields keeps free-form fields", "[fields][lifecycle]") {
  Desk desk;
  const std::string p = desk.customer("Garantia", "Defeito.\r\n").protocol;
  desk.agent("maria", p, "#field lote A-17\r\n#note\r\nLote anotado.\r\n");
  CHECK(fields_of(desk, p).at("lote") == "A-17");
}

TEST_CASE("templates render the ticket's fields by name", "[fields][lifecycle][templates]") {
  test::TempDir overrides;
  for (const char* locale : {"pt_BR", "en"}) {
    fs::create_directories(overrides.path() + "/" + locale);
    std::ofstream(overrides.path() + "/" + locale + "/closing.mustache")
        << "Subject: Encerrado\n\nProduto: {{fields.product}}\nCanal: {{fields.channel}}\nNota: {{fields.invoice}}.\n"
        << "{{final_opinion}}\n";
  }
  Desk desk(std::string(kTroca) + "templates_dir = " + overrides.path() + "\n");
  const std::string p = desk.customer("Pedido de troca", "Quero trocar.\r\n").protocol;
  desk.agent("maria", p, "#field product Liquidificador X200\r\n#field channel portal\r\n#close\r\nTroca autorizada.\r\n");
  REQUIRE(desk.ticket(p).status == TicketStatus::Closed);
  const auto to_ana = desk.mails_to("ana@cliente.org");
  REQUIRE(to_ana.back().template_name == "closing");
  const std::string text = readable(to_ana.back().raw);
  CHECK(contains(text, "Produto: Liquidificador X200"));
  CHECK(contains(text, "Canal: portal"));
  CHECK(contains(text, "Nota: ."));  // a field of the type not set renders empty
}

TEST_CASE("expenses are recorded with history and listed with a total on types that keep them", "[expenses][lifecycle]") {
  Desk desk(std::string(kTroca) + "expenses = true\n");
  const std::string p = desk.customer("Pedido de troca", "Quero trocar.\r\n").protocol;
  desk.agent("maria", p, "#expense 12,50 Taxi ate o cliente\r\n#expense 1.000 Produto novo\r\n");
  const auto expenses = desk.store.expenses(desk.ticket(p).id);
  REQUIRE(expenses.size() == 2);
  CHECK(expenses[0].amount_cents == 1250);
  CHECK(expenses[0].description == "Taxi ate o cliente");
  CHECK(expenses[0].author == "maria");
  CHECK(expenses[1].amount_cents == 100000);
  CHECK(desk.history_has(p, "expense", "12.50 Taxi ate o cliente"));
  CHECK(money_text(expenses[0].amount_cents + expenses[1].amount_cents) == "1012.50");
  CHECK(desk.store.expense_totals(0, 0).at(0).type_id == "troca");
}

TEST_CASE("an expense is refused on a type without expenses or with a bad amount and nothing is recorded",
          "[expenses][lifecycle]") {
  Desk desk(std::string(kTroca) + "expenses = true\n");
  const std::string g = desk.customer("Garantia", "Defeito.\r\n").protocol;
  desk.agent("maria", g, "#expense 10 Taxi\r\n");
  CHECK(desk.store.expenses(desk.ticket(g).id).empty());
  CHECK(contains(readable(desk.mails_to("maria@example.com").back().raw), "does not record expenses"));

  const std::string p = desk.customer("Pedido de troca", "Quero trocar.\r\n").protocol;
  desk.agent("maria", p, "#expense 10 Taxi\r\n#expense dez Onibus\r\n");
  CHECK(desk.store.expenses(desk.ticket(p).id).empty());
  CHECK(contains(readable(desk.mails_to("maria@example.com").back().raw), "\"dez\" is not an amount of money"));
}

TEST_CASE("the seed 000 analysis runs two partial analyses with a forward between them to a final verdict",
          "[analysis][lifecycle][seed]") {
  Desk desk;
  const std::string p = desk.customer("Garantia do liquidificador", "Parou de funcionar.\r\n").protocol;
  desk.agent("maria", p, "#take\r\n#analysis partial Motor queimado: verificar o lote.\r\n");
  CHECK(fields_of(desk, p).at("analysis") == "partial");
  desk.agent("maria", p, "#analysis partial Lote 17 suspeito.\r\n#forward joao\r\nA qualidade precisa avaliar.\r\n");
  CHECK(desk.ticket(p).responsible == "joao");
  const auto to_joao = desk.mails_to("joao@example.com");
  REQUIRE(to_joao.size() == 1);
  CHECK(contains(readable(to_joao[0].raw), "Motor queimado"));  // the earlier analysis goes along
  CHECK(contains(readable(to_joao[0].raw), "Lote 17 suspeito"));
  desk.agent("joao", p, "#analysis valid\r\nDefeito de fabrica confirmado no lote 17.\r\n");
  CHECK(fields_of(desk, p).at("analysis") == "valid");
  int analyses = 0;
  for (const auto& article : desk.store.articles(desk.ticket(p).id))
    if (article.kind == ArticleKind::Analysis) ++analyses;
  CHECK(analyses == 3);
  bool final_verdict = false;
  for (const auto& h : desk.store.history(desk.ticket(p).id))
    if (h.field == "analysis" && h.from_value == "partial" && h.to_value == "valid" && h.actor == "joao")
      final_verdict = true;
  CHECK(final_verdict);
  desk.agent("joao", p, "#close\r\nProcedente: troca autorizada.\r\n");
  CHECK(desk.ticket(p).status == TicketStatus::Closed);
  for (const auto& mail : desk.mails_to("ana@cliente.org")) CHECK_FALSE(contains(readable(mail.raw), "Lote 17"));
  const auto counts = desk.store.field_counts("analysis", 0, 0);
  REQUIRE(counts.size() == 1);
  CHECK(counts[0].value == "valid");
}

TEST_CASE("an analysis without a verdict or a text is refused and changes nothing", "[analysis][lifecycle]") {
  Desk desk;
  const std::string p = desk.customer("Garantia", "Defeito.\r\n").protocol;
  desk.agent("maria", p, "#analysis maybe Talvez.\r\n");
  CHECK(contains(readable(desk.mails_to("maria@example.com").back().raw), "is not a verdict"));
  desk.agent("maria", p, "#analysis valid\r\n");
  CHECK(contains(readable(desk.mails_to("maria@example.com").back().raw), "#analysis needs the analysis"));
  CHECK(fields_of(desk, p).count("analysis") == 0);
}

TEST_CASE("a stage's own days to the next contact override the type's", "[workflow][lifecycle]") {
  Desk desk(
      "[type.obra]\nname = Obra\nmatch_subject = obra\nassign = agent:maria\nnext_contact_days = 1\nworkflow = obra\n"
      "[workflow.obra]\nstages = abertura, vistoria, conclusao\nstage_vistoria = next_contact_days:5\n");
  const std::string p = desk.customer("Reforma da obra", "Vistoria.\r\n").protocol;
  const Ticket opened = desk.ticket(p);
  REQUIRE(opened.next_contact_due);
  CHECK(*opened.next_contact_due == opened.opened_at + 86400);
  desk.agent("maria", p, "#take\r\n#stage next\r\n");
  const Ticket moved = desk.ticket(p);
  CHECK(moved.stage == "vistoria");
  REQUIRE(moved.next_contact_due);
  CHECK(*moved.next_contact_due == desk.clock.now() + 5 * 86400);
}

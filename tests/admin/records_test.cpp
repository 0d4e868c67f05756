// records_test.cpp — what the seeds record on a ticket (issue 13), through the running daemon over
// real HTTP: typed fields set and refused through the admin API by kind and when they are
// required; expenses, analysis verdicts and confirmed / unconfirmed closings counted in
// /api/v1/stats (the customer's approval arriving through `atendd deliver`, the silence through a
// restart after the auto-close day); the fields and expenses on the HTML ticket page.
#include <catch2/catch.hpp>

#include "admin_client.h"
#include "storage/sqlite_store.h"

using namespace atendd;
using namespace atendd::test;

namespace {

const char* const kRecords =
    "expenses = true\n"
    "auto_close_days = 3\n"
    "fields = product:text:required_to_close, invoice:text, quantity:int, indemnity:money, bought:date, "
    "channel:choice(phone|email|whatsapp|portal):required_to_open\n";

std::string open_phone_ticket(AdminDaemon& d, const std::string& subject) {
  const auto opened = http("POST", d.base + "/api/v1/tickets", kAdminToken,
                           "{\"channel\":\"phone\",\"subject\":\"" + subject +
                               "\",\"text\":\"O cliente ligou.\",\"contact\":{\"address\":\"joana@cliente.test\","
                               "\"name\":\"Joana\"}}");
  REQUIRE(opened.status == 201);
  return opened.json()->getValue<std::string>("protocol");
}

HttpReply act(AdminDaemon& d, const std::string& protocol, const std::string& command, const std::string& text = "") {
  std::string body = "{\"agent\":\"maria\",\"command\":\"" + command + "\"";
  if (!text.empty()) body += ",\"text\":\"" + text + "\"";
  return http("POST", d.base + "/api/v1/tickets/" + protocol + "/actions", kAdminToken, body + "}");
}

Poco::JSON::Object::Ptr ticket_of(AdminDaemon& d, const std::string& protocol) {
  const auto shown = http("GET", d.base + "/api/v1/tickets/" + protocol, kReadToken);
  REQUIRE(shown.status == 200);
  return shown.json();
}

std::vector<std::string> strings_of(const Poco::JSON::Array::Ptr& array) {
  std::vector<std::string> out;
  for (size_t i = 0; i < array->size(); ++i) out.push_back(array->getElement<std::string>(static_cast<unsigned>(i)));
  return out;
}

// The customer's reply piped into `atendd deliver` as an MTA would.
void customer_replies(AdminDaemon& d, const std::string& protocol, const std::string& text) {
  static int serial = 0;
  const std::string mail = "From: Joana <joana@cliente.test>\r\nTo: suporte@atendd.test\r\nSubject: Re: [#" + protocol +
                           "] Troca\r\nMessage-ID: <reply" + std::to_string(++serial) +
                           "@cliente.test>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text + "\r\n";
  const RunResult result = run_atendd({"--config", d.dir.path() + "/atendd.ini", "deliver", "--mailbox", "suporte"}, mail);
  INFO(result.out << result.err);
  REQUIRE(result.exit_code == 0);
}

}  // namespace

TEST_CASE("typed fields are set and refused through the admin API by kind and when they are required",
          "[admin][fields]") {
  AdminDaemon d(kRecords);
  const std::string p = open_phone_ticket(d, "Troca do liquidificador");
  // Opened although a field required to open is missing (nobody's request is refused for it).
  auto ticket = ticket_of(d, p);
  CHECK(strings_of(ticket->getArray("fields_missing")) == std::vector<std::string>{"product", "channel"});

  struct Case {
    const char* field;
    const char* raw;
    const char* stored;  // nullptr: refused with 422
  };
  const Case cases[] = {
      {"invoice", "NF 4521", "NF 4521"},     {"quantity", "007", "7"},          {"quantity", "3.5", nullptr},
      {"quantity", "tres", nullptr},         {"indemnity", "1.234,50", "1234.50"}, {"indemnity", "R$ 99,90", "99.90"},
      {"indemnity", "dez reais", nullptr},   {"bought", "2024-02-29", "2024-02-29"}, {"bought", "2026-02-29", nullptr},
      {"bought", "28/02/2026", nullptr},     {"channel", "fax", nullptr},       {"color", "azul", nullptr},
  };
  for (const Case& c : cases) {
    INFO(c.field << " \"" << c.raw << "\"");
    const auto reply = act(d, p, std::string("#field ") + c.field + " " + c.raw);
    if (c.stored) {
      CHECK(reply.status == 200);
      CHECK(ticket_of(d, p)->getObject("fields")->getValue<std::string>(c.field) == c.stored);
    } else {
      CHECK(reply.status == 422);
      CHECK(reply.json()->getValue<std::string>("error").find(c.field) != std::string::npos);
    }
  }

  // Required to close: refused naming the fields until they are set.
  const auto refused = act(d, p, "#close", "Troca autorizada.");
  REQUIRE(refused.status == 422);
  CHECK(refused.json()->getValue<std::string>("error").find("required fields product, channel") != std::string::npos);
  CHECK(ticket_of(d, p)->getValue<std::string>("status") == "new");
  REQUIRE(act(d, p, "#field channel WhatsApp").status == 200);
  CHECK(strings_of(ticket_of(d, p)->getArray("fields_missing")) == std::vector<std::string>{"product"});
  REQUIRE(act(d, p, "#field product Liquidificador X200").status == 200);
  const auto closed = act(d, p, "#close", "Troca autorizada.");
  REQUIRE(closed.status == 200);
  CHECK(closed.json()->getValue<std::string>("status") == "closed");
  ticket = ticket_of(d, p);
  CHECK(ticket->getObject("fields")->getValue<std::string>("channel") == "whatsapp");
  CHECK(ticket->getArray("fields_missing")->size() == 0);

  // The HTML ticket page shows the fields by the type's order with their kind.
  const auto page = http("GET", d.base + "/ui/tickets/" + p, kReadToken);
  REQUIRE(page.status == 200);
  CHECK(page.body.find("<td>indemnity</td><td>money</td><td>99.90</td>") != std::string::npos);
  CHECK(page.body.find("<td>product</td><td>text</td><td>Liquidificador X200</td>") != std::string::npos);
  // A required field still missing is marked on the page.
  const std::string q = open_phone_ticket(d, "Outra troca");
  const auto other = http("GET", d.base + "/ui/tickets/" + q, kReadToken);
  CHECK(other.body.find("<td>channel</td><td>choice</td><td></td><td>required, missing</td>") != std::string::npos);
}

TEST_CASE("expenses verdicts and confirmed and unconfirmed closings are counted in the stats over HTTP",
          "[admin][stats][confirmation]") {
  AdminDaemon d(kRecords);
  const std::string a = open_phone_ticket(d, "Troca A");
  const std::string b = open_phone_ticket(d, "Troca B");
  const std::string c = open_phone_ticket(d, "Troca C");
  for (const auto& p : {a, b, c}) {
    REQUIRE(act(d, p, "#field channel phone").status == 200);
    REQUIRE(act(d, p, "#field product Liquidificador").status == 200);
  }
  REQUIRE(act(d, a, "#expense 12,50 Taxi ate o cliente").status == 200);
  REQUIRE(act(d, a, "#expense 100 Motor novo").status == 200);
  REQUIRE(act(d, b, "#expense 7,25 Correio").status == 200);
  CHECK(act(d, c, "#expense zero Nada").status == 422);
  REQUIRE(act(d, a, "#analysis partial", "Motor queimado.").status == 200);
  REQUIRE(act(d, a, "#analysis valid", "Defeito de fabrica.").status == 200);
  REQUIRE(act(d, b, "#analysis invalid", "Uso indevido.").status == 200);
  for (const auto& p : {a, b, c}) REQUIRE(act(d, p, "#solve", "Trocamos o motor.").status == 200);

  customer_replies(d, a, "Ok, resolvido! Obrigada.");        // approves: closed as confirmed
  customer_replies(d, b, "Continua fazendo barulho.");      // back in progress
  CHECK(ticket_of(d, a)->getValue<std::string>("status") == "closed");
  CHECK(ticket_of(d, a)->getObject("fields")->getValue<std::string>("confirmation") == "confirmed");
  CHECK(ticket_of(d, b)->getValue<std::string>("status") == "in_progress");
  CHECK(ticket_of(d, c)->getValue<std::string>("status") == "solved");

  // C stays silent past its type's auto_close_days: the daemon is stopped, the day moved, and its
  // scheduler closes C as unconfirmed on its first tick after the restart.
  d.daemon.reset();
  {
    SqliteStore store(d.state_dir + "/atendd.db");
    const auto ticket = store.ticket_by_protocol(c);
    REQUIRE(ticket);
    REQUIRE(store.timer(ticket->id, "auto_close"));
    store.set_timer(ticket->id, "auto_close", static_cast<Timestamp>(std::time(nullptr)) - 60);
  }
  d.daemon = std::make_unique<DaemonProcess>(std::vector<std::string>{"--config", d.dir.path() + "/atendd.ini"});
  std::string status;
  for (int i = 0; i < 200 && status != "closed"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const auto shown = http("GET", d.base + "/api/v1/tickets/" + c, kReadToken);
    if (shown.status == 200) status = shown.json()->getValue<std::string>("status");
  }
  REQUIRE(status == "closed");
  CHECK(ticket_of(d, c)->getObject("fields")->getValue<std::string>("confirmation") == "unconfirmed");

  const auto reply = http("GET", d.base + "/api/v1/stats", kReadToken);
  REQUIRE(reply.status == 200);
  const auto stats = reply.json();
  CHECK(stats->getObject("expenses_by_type")->getObject("geral")->getValue<int>("count") == 3);
  CHECK(stats->getObject("expenses_by_type")->getObject("geral")->getValue<std::string>("amount") == "119.75");
  CHECK(stats->getValue<std::string>("expenses_total") == "119.75");
  CHECK(stats->getObject("analysis")->getValue<int>("valid") == 1);
  CHECK(stats->getObject("analysis")->getValue<int>("invalid") == 1);
  CHECK_FALSE(stats->getObject("analysis")->has("partial"));  // the last verdict of each ticket
  CHECK(stats->getObject("confirmations")->getValue<int>("confirmed") == 1);
  CHECK(stats->getObject("confirmations")->getValue<int>("unconfirmed") == 1);
  CHECK(stats->getObject("confirmations_by_type")->getObject("geral")->getValue<int>("confirmed") == 1);
  CHECK(stats->getObject("by_status")->getValue<int>("closed") == 2);

  // The ticket's own expenses with their total, in the API and on the HTML page.
  const auto ticket = ticket_of(d, a);
  CHECK(ticket->getArray("expenses")->size() == 2);
  CHECK(ticket->getValue<std::string>("expenses_total") == "112.50");
  const auto page = http("GET", d.base + "/ui/tickets/" + a, kReadToken);
  CHECK(page.body.find("<b>112.50</b>") != std::string::npos);
  CHECK(page.body.find("<td>confirmation</td><td></td><td>confirmed</td>") != std::string::npos);
  CHECK(page.body.find("stage conclusao") != std::string::npos);
}

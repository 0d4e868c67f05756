// lifecycle_deliver_test.cpp — the seed 000 flow with the real binary and a real SMTP server:
// each step is a mail piped into `atendd deliver` (a new process every time, as from an MTA), and
// each mail atendd sends is read back from what the SMTP server received.
#include <regex>
#include <thread>

#include <catch2/catch.hpp>

#include "parsers/mime_reader.h"
#include "storage/sqlite_store.h"
#include "support/processes.h"

using namespace atendd;
using namespace atendd::test;

namespace {

struct Office {
  TempDir dir;
  SmtpSink sink{dir.path() + "/sink"};
  std::string config = dir.path() + "/atendd.ini";
  std::string state_dir = dir.path() + "/state";
  int serial = 0;

  Office() {
    write_file(config,
               "[server]\nname = Suporte\naddress = suporte@atendd.test\nreply_address = suporte+{token}@atendd.test\n"
               "state_dir = " + state_dir + "\nlocale = pt_BR\n"
               "[smtp]\nhost = 127.0.0.1\nport = " + std::to_string(sink.port()) + "\ntimeout_seconds = 5\n"
               "[agent.maria]\nemail = maria@atendd.test\nname = Maria Souza\ndepartment = suporte\n"
               "[agent.joao]\nemail = joao@atendd.test\nname = Joao Alves\ndepartment = qualidade\n"
               "[type.garantia]\nname = Garantia\ndepartment = suporte\nassign = agent:maria\nreopen_days = 30\n"
               "watchers = gerente@atendd.test\n");
  }
  RunResult deliver(const std::string& headers, const std::string& body) {
    const RunResult run = run_atendd({"--config", config, "deliver", "--mailbox", "suporte"},
                                     headers + "Message-ID: <step" + std::to_string(++serial) + "@test>\r\n\r\n" + body);
    REQUIRE(run.exit_code == 0);
    return run;
  }
  std::string token(const std::string& protocol) {
    return SqliteStore(state_dir + "/atendd.db").ticket_by_protocol(protocol)->reply_token;
  }
  // The agent answers the last mail she got, to its Reply-To: the ticket's agent token (the
  // customer's reply token proves no agent).
  RunResult agent(const std::string& who, const std::string& protocol, const std::string& body) {
    const auto got = received_by(who + "@atendd.test", 1);
    REQUIRE(!got.empty());
    const auto reply_to = got.back().headers_named("Reply-To");
    REQUIRE(!reply_to.empty());
    std::smatch m;
    REQUIRE(std::regex_search(reply_to.back(), m, std::regex("suporte\\+[0-9a-f]+@atendd\\.test")));
    return deliver("From: " + who + "@atendd.test\r\nTo: " + m[0].str() + "\r\nSubject: Re: [#" + protocol + "]\r\n",
                   body);
  }
  // The decoded mails the SMTP server got for `rcpt`, in order.
  std::vector<ParsedMessage> received_by(const std::string& rcpt, size_t at_least) {
    std::vector<ParsedMessage> out;
    for (int i = 0; i < 100; ++i) {
      out.clear();
      for (const auto& m : sink.mails())
        if (std::find(m.rcpt_tos.begin(), m.rcpt_tos.end(), rcpt) != m.rcpt_tos.end()) out.push_back(parse_message(m.raw));
      if (out.size() >= at_least) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return out;
  }
};

}  // namespace

TEST_CASE("the seed 000 flow by e-mail reaches the customer and agents through a real SMTP server", "[lifecycle][smtp][seed]") {
  Office office;
  const RunResult opened = office.deliver("From: Ana Lima <ana@cliente.test>\r\nTo: suporte@atendd.test\r\n"
                                          "Subject: Garantia do liquidificador\r\n",
                                          "O liquidificador parou de funcionar.\r\n");
  std::smatch m;
  REQUIRE(std::regex_search(opened.out, m, std::regex("ticket_created ([0-9]+)")));
  const std::string p = m[1];
  CHECK(office.received_by("ana@cliente.test", 1).at(0).text.find(p) != std::string::npos);  // told the protocol
  CHECK(office.received_by("maria@atendd.test", 1).size() == 1);                              // the responsible got it

  office.agent("maria", p, "#take\r\n#note\r\nMotor queimado: verificar o lote.\r\n");
  office.agent("maria", p, "#forward joao\r\nA qualidade precisa avaliar o lote.\r\n");
  const auto to_joao = office.received_by("joao@atendd.test", 1);
  REQUIRE(to_joao.size() == 1);
  CHECK(to_joao[0].text.find("A qualidade precisa avaliar o lote.") != std::string::npos);

  office.agent("joao", p, "#close\r\nProcedente: troca do produto autorizada.\r\n");
  const auto to_ana = office.received_by("ana@cliente.test", 2);
  REQUIRE(to_ana.size() == 2);
  CHECK(to_ana[1].subject.find("[#" + p + "]") != std::string::npos);
  CHECK(to_ana[1].text.find("troca do produto autorizada") != std::string::npos);
  for (const auto& mail : to_ana) CHECK(mail.text.find("Motor queimado") == std::string::npos);  // notes never leave
  CHECK(office.received_by("gerente@atendd.test", 2).size() == 2);  // opened and closed notices

  // The customer answers the closing e-mail inside the window: the ticket reopens for Joao.
  office.deliver("From: Ana Lima <ana@cliente.test>\r\nTo: suporte+" + office.token(p) + "@atendd.test\r\nSubject: Re: [#" +
                     p + "] Garantia\r\n",
                 "A troca nao resolveu.\r\n");
  const auto reopened = office.received_by("joao@atendd.test", 2);
  REQUIRE(reopened.size() == 2);
  SqliteStore store(office.state_dir + "/atendd.db");
  const Ticket t = *store.ticket_by_protocol(p);
  CHECK(t.status == TicketStatus::Reopened);
  CHECK(t.responsible == "joao");
  CHECK(store.tickets(std::nullopt, 10).size() == 1);
}

TEST_CASE("a bad command by e-mail changes nothing and the agent is told why through the real SMTP server", "[lifecycle][smtp][refusal]") {
  Office office;
  const RunResult opened = office.deliver("From: ana@cliente.test\r\nTo: suporte@atendd.test\r\nSubject: Troca\r\n", "Oi.\r\n");
  std::smatch m;
  REQUIRE(std::regex_search(opened.out, m, std::regex("ticket_created ([0-9]+)")));
  const std::string p = m[1];
  office.agent("maria", p, "#priority altissima\r\n#close\r\nEncerrado.\r\n");
  const auto to_maria = office.received_by("maria@atendd.test", 2);
  REQUIRE(to_maria.size() == 2);
  CHECK(to_maria[1].text.find("altissima") != std::string::npos);
  SqliteStore store(office.state_dir + "/atendd.db");
  CHECK(store.ticket_by_protocol(p)->status == TicketStatus::New);
  CHECK(office.received_by("ana@cliente.test", 1).size() == 1);  // the opening e-mail only
}

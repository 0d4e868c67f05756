// route_explain_test.cpp — `atendd route --explain FILE` through the real binary: one real or
// hand-made message per kind of decision (type by match_subject, match_to, a mailbox's default,
// the server's default; fixed, round-robin and least-loaded assignment; a loop; an auto-reply; a
// bounce of our mail and one of someone else's; a reply by subject tag, by In-Reply-To; an agent
// by agent token with commands; a stranger refused; an agent's address without proof), each
// asserting the reasons printed. Around them all: the state directory (store file included) keeps
// its checksum and the SMTP sink receives nothing.
#include <filesystem>
#include <regex>
#include <thread>

#include <catch2/catch.hpp>

#include <Poco/JSON/Parser.h>

#include "storage/blob_store.h"
#include "support/corpus.h"
#include "support/processes.h"

using namespace atendd;
using namespace atendd::test;

namespace {

// Every file under `dir` (path and SHA-256 of its bytes), in path order.
std::string tree_checksum(const std::string& dir) {
  std::vector<std::string> lines;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir))
    if (entry.is_regular_file())
      lines.push_back(entry.path().string() + " " + sha256_hex(read_file(entry.path().string())));
  std::sort(lines.begin(), lines.end());
  std::string all;
  for (const auto& line : lines) all += line + "\n";
  return all;
}

struct ExplainDesk {
  TempDir dir;
  SmtpSink sink{dir.path() + "/sink"};
  std::string config;
  std::string state_dir;
  int serial = 0;

  ExplainDesk() {
    state_dir = dir.path() + "/state";
    config = dir.path() + "/atendd.ini";
    write_file(dir.path() + "/vendas.pass", "secret\n");
    write_file(config,
               "[server]\n"
               "name = Suporte Teste\n"
               "address = suporte@atendd.test\n"
               "reply_address = suporte+{token}@atendd.test\n"
               "state_dir = " + state_dir + "\n"
               "locale = en\n"
               "default_type = geral\n"
               "[smtp]\n"
               "host = 127.0.0.1\n"
               "port = " + std::to_string(sink.port()) + "\n"
               "timeout_seconds = 5\n"
               "[mailbox.vendas]\n"
               "url = imap://127.0.0.1:1/INBOX\n"
               "tls = none\n"
               "user = vendas\n"
               "password_file = vendas.pass\n"
               "default_type = comercial\n"
               "[agent.ana]\nemail = ana@atendd.test\nname = Ana\ndepartment = suporte\n"
               "[agent.bruno]\nemail = bruno@atendd.test\nname = Bruno\ndepartment = suporte\n"
               "[agent.maria]\nemail = maria@atendd.test\nname = Maria Souza\ndepartment = suporte\n"
               "[agent.carla]\nemail = carla@atendd.test\nname = Carla\ndepartment = vendas\n"
               "[type.garantia]\nname = Garantia\nmatch_subject = (?i)garantia|defeito\npriority = high\n"
               "department = suporte\nassign = agent:maria\n"
               "[type.financeiro]\nname = Financeiro\nmatch_to = financeiro@atendd.test\npriority = urgent\n"
               "department = suporte\nassign = round_robin\n"
               "[type.comercial]\nname = Comercial\ndepartment = vendas\nassign = least_loaded\n"
               "[type.geral]\nname = Geral\ndepartment = suporte\nassign = round_robin\n");
  }
  RunResult deliver(const std::string& message) {
    return run_atendd({"--config", config, "deliver", "--mailbox", "vendas"}, message);
  }
  // Writes the message to a file and explains it; the printed text.
  RunResult explain(const std::string& message, const std::vector<std::string>& extra = {}) {
    const std::string path = dir.path() + "/m" + std::to_string(++serial) + ".eml";
    write_file(path, message);
    std::vector<std::string> args = {"--config", config, "route", "--explain", path};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_atendd(args);
  }
};

std::string customer(const std::string& subject, const std::string& more = "") {
  static int n = 0;
  return "From: Joana Cliente <joana@cliente.test>\r\nTo: suporte@atendd.test\r\nSubject: " + subject +
         "\r\nMessage-ID: <x" + std::to_string(++n) + "@cliente.test>\r\nDate: Tue, 24 Nov 2026 10:00:00 +0000\r\n" +
         more + "\r\nTexto da mensagem.\r\n";
}

// The line of a stage in the printed explanation ("" when the stage printed nothing).
std::string line_of(const std::string& out, const std::string& stage, int nth = 0) {
  std::size_t at = 0;
  for (int i = 0; i <= nth; ++i) {
    at = out.find("\n  " + stage + " ", i == 0 ? 0 : at + 1);
    if (at == std::string::npos) return "";
  }
  const auto end = out.find('\n', at + 1);
  return out.substr(at + 1, end - at - 1);
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("route explain prints every stage's decision and why and changes nothing", "[explain][smtp]") {
  ExplainDesk desk;
  // A ticket to reply to, bounce against and refuse strangers from.
  const RunResult seeded = desk.deliver(customer("Produto com defeito"));
  INFO(seeded.out << seeded.err);
  REQUIRE(seeded.exit_code == 0);
  std::smatch m;
  REQUIRE(std::regex_search(seeded.out, m, std::regex("ticket_created ([0-9]+)")));
  const std::string protocol = m[1];
  const auto sent = desk.sink.wait_for(2, 10);
  REQUIRE(sent.size() == 2);
  std::string opening_id, agent_token;  // the agent token: in the Reply-To of the forward to Maria
  for (const auto& mail : sent) {
    if (mail.rcpt_tos.front() == "joana@cliente.test") opening_id = mail.header("Message-ID");
    if (mail.rcpt_tos.front() == "maria@atendd.test") {
      std::smatch t;
      const std::string reply_to = mail.header("Reply-To");
      REQUIRE(std::regex_search(reply_to, t, std::regex("suporte\\+([0-9a-f]+)@")));
      agent_token = t[1];
    }
  }
  REQUIRE(!opening_id.empty());
  REQUIRE(!agent_token.empty());

  const std::string before = tree_checksum(desk.state_dir);
  REQUIRE(has(before, "atendd.db "));

  SECTION("explanations") {
    // 1. A new ticket typed by match_subject, with a fixed responsible.
    RunResult r = desk.explain(customer("Garantia vencida?"));
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(has(r.out, "nothing was written, nothing was sent"));
    CHECK(has(line_of(r.out, "loop_guard"), "pass"));
    CHECK(has(line_of(r.out, "sender"), "customer — known contact joana@cliente.test"));
    CHECK(has(line_of(r.out, "threader"), "new ticket — no subject tag of ours"));
    CHECK(has(line_of(r.out, "type_router"), "type garantia — match_subject (?i)garantia|defeito ('Garantia')"));
    CHECK(has(line_of(r.out, "priority"), "high — type garantia's priority"));
    CHECK(has(line_of(r.out, "assignment"), "maria — fixed: type garantia has assign = agent:maria"));
    CHECK(has(line_of(r.out, "outbox"), "queue opening — to joana@cliente.test"));
    CHECK(has(line_of(r.out, "outbox", 1), "queue forward — to maria@atendd.test"));
    CHECK(has(r.out, "2 mail(s) would be sent"));
    CHECK(has(r.out, "=== mail 1 of 2: opening to joana@cliente.test ==="));
    CHECK(has(r.out, "Auto-Submitted: auto-replied"));
    CHECK(has(r.out, "Subject: [#"));

    // 2. match_to and round-robin.
    r = desk.explain("From: Rui <rui@cliente.test>\r\nTo: financeiro@atendd.test\r\nSubject: Boleto\r\n"
                     "Message-ID: <fin@cliente.test>\r\n\r\nSegunda via.\r\n");
    INFO(r.out);
    CHECK(has(line_of(r.out, "type_router"), "type financeiro — match_to financeiro@atendd.test"));
    CHECK(has(line_of(r.out, "priority"), "urgent"));
    CHECK(has(line_of(r.out, "assignment"), "round-robin of department suporte: position 1 of 3 (ana, bruno, maria)"));
    CHECK(has(line_of(r.out, "sender"), "new contact rui@cliente.test"));

    // 3. A mailbox's default type and least-loaded assignment.
    r = desk.explain(customer("Orçamento de 30 licenças"), {"--mailbox", "vendas"});
    INFO(r.out);
    CHECK(has(r.out, "(mailbox vendas)"));
    CHECK(has(line_of(r.out, "type_router"), "type comercial — no type's match_* keys matched; mailbox vendas's default_type"));
    CHECK(has(line_of(r.out, "assignment"), "carla — least loaded of department vendas: open tickets carla 0"));

    // 4. The server's default type.
    r = desk.explain(customer("Dúvida sobre o acesso"));
    INFO(r.out);
    CHECK(has(line_of(r.out, "type_router"), "type geral — no type's match_* keys matched; the configuration's default type"));

    // 5. A loop: our own X-Loop.
    r = desk.explain(customer("Re: Recebemos", "X-Loop: suporte@atendd.test\r\n"));
    INFO(r.out);
    CHECK(has(line_of(r.out, "loop_guard"), "ignore — loop: carries our X-Loop header (X-Loop: suporte@atendd.test)"));
    CHECK(has(r.out, "outcome: ignored"));
    CHECK(has(r.out, "0 mail(s) would be sent"));
    CHECK(line_of(r.out, "threader").empty());

    // 6. A real auto-reply (Precedence: bulk): stored, never answered.
    const std::string corpus = corpus_dir() + "/zammad/";
    if (std::filesystem::exists(corpus + "mail089.box")) {
      r = desk.explain(read_file(corpus + "mail089.box"));
      INFO(r.out);
      CHECK(has(line_of(r.out, "loop_guard"), "no automatic answer — the message is automatic"));
      CHECK(has(line_of(r.out, "loop_guard"), "Precedence: bulk"));
      CHECK(has(line_of(r.out, "engine"), "mail_skipped opening"));
      CHECK(!has(r.out, "queue opening"));
    } else {
      WARN("mail corpus not found at " << corpus << ": the auto-reply case is skipped");
    }

    // 7. A bounce of our opening mail: a note on its ticket, nobody mailed.
    r = desk.explain(
        "From: MAILER-DAEMON@mx.cliente.test\r\nTo: suporte@atendd.test\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn1@mx.cliente.test>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n"
        "--B\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.cliente.test\r\n\r\n"
        "Final-Recipient: rfc822; joana@cliente.test\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
        "--B\r\nContent-Type: message/rfc822\r\n\r\nMessage-ID: " + opening_id +
        "\r\nFrom: suporte@atendd.test\r\nSubject: x\r\n\r\nbody\r\n--B--\r\n");
    INFO(r.out);
    CHECK(has(line_of(r.out, "bounce"), "note on ticket " + protocol));
    CHECK(has(line_of(r.out, "bounce"), "for joana@cliente.test"));
    CHECK(has(line_of(r.out, "bounce"), "(our mail of that ticket)"));
    CHECK(has(r.out, "outcome: appended " + protocol));
    CHECK(has(r.out, "0 mail(s) would be sent"));

    // 8. A real bounce of a mail that is not ours.
    if (std::filesystem::exists(corpus + "mail033-undelivered-mail-returned-to-sender-notification.box")) {
      r = desk.explain(read_file(corpus + "mail033-undelivered-mail-returned-to-sender-notification.box"));
      INFO(r.out);
      CHECK(has(line_of(r.out, "bounce"), "not of our mail"));
      CHECK(has(line_of(r.out, "bounce"), "(none of our mails)"));
      CHECK(has(line_of(r.out, "loop_guard"), "no automatic answer — the message is a delivery status notification"));
    }

    // 9. The customer's reply by subject tag.
    r = desk.explain(customer("Re: [#" + protocol + "] Produto com defeito"));
    INFO(r.out);
    CHECK(has(line_of(r.out, "sender"), "customer — joana@cliente.test is the ticket's contact"));
    CHECK(has(line_of(r.out, "threader"), "ticket " + protocol + " — subject tag #" + protocol));
    CHECK(has(r.out, "outcome: appended " + protocol));
    CHECK(has(line_of(r.out, "outbox"), "queue customer_update — to maria@atendd.test"));

    // 10. A reply found by In-Reply-To alone (the client dropped the tag).
    r = desk.explain(customer("Re: sua solicitação", "In-Reply-To: " + opening_id + "\r\n"));
    INFO(r.out);
    CHECK(has(line_of(r.out, "threader"), "ticket " + protocol + " — In-Reply-To " + opening_id + " is a mail of this ticket"));

    // 11. The agent, proven by the agent token of the mails to her, with commands.
    r = desk.explain("From: Maria Souza <maria@atendd.test>\r\nTo: suporte+" + agent_token +
                     "@atendd.test\r\nSubject: Re: [#" + protocol + "] Produto com defeito\r\n"
                     "Message-ID: <ag1@atendd.test>\r\n\r\n#priority urgent\r\n#note\r\nligar amanhã\r\n");
    INFO(r.out);
    CHECK(has(line_of(r.out, "sender"), "agent maria — maria@atendd.test with the ticket's agent token"));
    CHECK(has(line_of(r.out, "threader"), "ticket " + protocol + " — subject tag"));
    CHECK(has(line_of(r.out, "commands"), "#priority urgent, #note — from agent maria's first lines"));
    CHECK(has(line_of(r.out, "engine"), "priority high → urgent"));

    // 12. A stranger writing with the ticket's tag is refused and opens his own ticket.
    r = desk.explain("From: intruso@fora.test\r\nTo: suporte@atendd.test\r\nSubject: Re: [#" + protocol +
                     "] quero ver\r\nMessage-ID: <evil@fora.test>\r\n\r\nMostre.\r\n");
    INFO(r.out);
    CHECK(has(line_of(r.out, "threader"), "refused ticket " + protocol + " — subject tag #" + protocol +
                                              "; but sender intruso@fora.test does not belong to ticket " + protocol));
    CHECK(has(line_of(r.out, "threader", 1), "new ticket — no candidate ticket accepted the sender"));

    // 13. An agent's address without the token is not enough to act on the ticket.
    r = desk.explain("From: maria@atendd.test\r\nTo: suporte@atendd.test\r\nSubject: Re: [#" + protocol +
                     "] x\r\nMessage-ID: <forged@atendd.test>\r\n\r\n#close\r\n");
    INFO(r.out);
    CHECK(has(line_of(r.out, "threader"), "(an agent's address without the ticket's agent token)"));
    CHECK(has(line_of(r.out, "sender"), "the address of agent maria"));

    // 14. A real customer message from the corpus, with its defects and attachments.
    if (std::filesystem::exists(corpus + "mail079.box")) {
      r = desk.explain(read_file(corpus + "mail079.box"));
      INFO(r.out);
      CHECK(has(line_of(r.out, "parser"), "From me@example.com"));
      CHECK(has(r.out, "outcome: ticket_created"));
      CHECK(has(r.out, "=== mail 2 of 2: forward to"));
    }

    // --json for tools.
    r = desk.explain(customer("Garantia"), {"--json"});
    INFO(r.out);
    REQUIRE(r.exit_code == 0);
    Poco::JSON::Parser parser;
    const auto json = parser.parse(r.out).extract<Poco::JSON::Object::Ptr>();
    CHECK(json->getValue<bool>("written") == false);
    CHECK(json->getValue<std::string>("outcome") == "ticket_created");
    const auto steps = json->getArray("steps");
    bool typed = false;
    for (std::size_t i = 0; i < steps->size(); ++i) {
      const auto step = steps->getObject(static_cast<unsigned>(i));
      typed = typed || (step->getValue<std::string>("stage") == "type_router" &&
                        step->getValue<std::string>("decision") == "type garantia");
    }
    CHECK(typed);
    CHECK(json->getArray("mails")->size() == 2);
  }

  SECTION("bad input") {
    RunResult r = desk.explain(customer("x"), {"--mailbox", "nenhuma"});
    CHECK(r.exit_code == 64);
    CHECK(has(r.err, "no mailbox 'nenhuma'"));
    r = run_atendd({"--config", desk.config, "route", "--explain", desk.dir.path() + "/missing.eml"});
    CHECK(r.exit_code == 66);
    r = run_atendd({"--config", desk.config, "route", desk.dir.path() + "/missing.eml"});
    CHECK(r.exit_code == 64);
    r = desk.explain("");
    CHECK(r.exit_code == 0);
    CHECK(has(r.out, "outcome: rejected (empty message)"));
  }

  // Nothing written (store file, blobs, everything under the state directory), nothing sent.
  CHECK(tree_checksum(desk.state_dir) == before);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK(desk.sink.mails().size() == 2);
}

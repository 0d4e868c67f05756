// type_router_test.cpp — the attendance type of a new ticket comes from the first type, in file
// order, whose every rule matches; defaults catch the rest.
#include "daemon/pipeline/type_router.h"

#include "config_for_tests.h"
#include "support/processes.h"

using namespace atendd;

namespace {

// The configuration, with the mailbox's password in a real file (the loader checks it exists).
Config types_config() {
  static test::TempDir dir;
  test::write_file(dir.path() + "/vendas.pass", "secret\n");
  return config_from(
    "[server]\naddress = suporte@example.com\ndefault_type = geral\n"
    "[mailbox.vendas]\nurl = imap://127.0.0.1/INBOX\nuser = v\ndefault_type = comercial\n"
    "password_file = " + dir.path() + "/vendas.pass\n"
    "[type.garantia]\nname = Garantia\nmatch_subject = (?i)garantia|defeito\n"
    "[type.financeiro]\nname = Financeiro\nmatch_to = Financeiro@example.com\n"
    "[type.parceiro]\nname = Parceiro\nmatch_from_domain = parceiro.com.br\nmatch_subject = (?i)pedido\n"
    "[type.comercial]\nname = Comercial\n"
    "[type.geral]\nname = Geral\n");
}

ParsedMessage message(const std::string& from, const std::string& to, const std::string& subject) {
  ParsedMessage m;
  m.from = {from, ""};
  m.to = {{to, ""}};
  m.subject = subject;
  return m;
}

}  // namespace

TEST_CASE("a subject pattern picks its type, case-insensitively and in UTF-8", "[types]") {
  const Config config = types_config();
  TypeRouter router(config);
  CHECK(router.route(message("a@b.com", "suporte@example.com", "Produto com DEFEITO"), "suporte")->id == "garantia");
  CHECK(router.route(message("a@b.com", "suporte@example.com", "Solicitação de garantia"), "suporte")->id == "garantia");
}

TEST_CASE("a recipient address picks its type whatever its case", "[types]") {
  const Config config = types_config();
  TypeRouter router(config);
  CHECK(router.route(message("a@b.com", "financeiro@EXAMPLE.com", "boleto"), "suporte")->id == "financeiro");
}

TEST_CASE("a type with two rules needs both to match", "[types]") {
  const Config config = types_config();
  TypeRouter router(config);
  CHECK(router.route(message("x@parceiro.com.br", "suporte@example.com", "Pedido 12"), "suporte")->id == "parceiro");
  CHECK(router.route(message("x@parceiro.com.br", "suporte@example.com", "Dúvida"), "suporte")->id == "geral");
  CHECK(router.route(message("x@outro.com", "suporte@example.com", "Pedido 12"), "suporte")->id == "geral");
}

TEST_CASE("the first matching type in file order wins", "[types]") {
  const Config config = types_config();
  TypeRouter router(config);
  CHECK(router.route(message("a@b.com", "financeiro@example.com", "garantia do boleto"), "suporte")->id == "garantia");
}

TEST_CASE("without a match the mailbox's default type applies, then the configuration's", "[types]") {
  const Config config = types_config();
  TypeRouter router(config);
  CHECK(router.route(message("a@b.com", "x@example.com", "olá"), "vendas")->id == "comercial");
  CHECK(router.route(message("a@b.com", "x@example.com", "olá"), "suporte")->id == "geral");
}

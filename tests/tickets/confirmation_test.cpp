// confirmation_test.cpp — confirmation.h alone: how replies are normalised and which new parts
// approve a solution (whole words, any configured locale, never after a negation or in a quote).
#include <catch2/catch.hpp>

#include "daemon/tickets/confirmation.h"

using namespace atendd;

TEST_CASE("phrases are compared without case accents or punctuation", "[confirmation]") {
  CHECK(normalise_phrase("OK, Resolvido!!") == "ok resolvido");
  CHECK(normalise_phrase("  Está   RESOLVIDO. ") == "esta resolvido");
  CHECK(normalise_phrase("Não, ÇÃO à é í ó ú ü ñ") == "nao cao a e i o u u n");
  CHECK(normalise_phrase("...") == "");
}

TEST_CASE("the new part approves the solution only with a whole phrase not negated", "[confirmation]") {
  const ConfirmationConfig defaults;
  struct Case {
    const char* text;
    const char* phrase;  // "" = no approval
  };
  const Case cases[] = {
      {"Ok, resolvido! Obrigada.", "ok, resolvido"},
      {"Bom dia.\nPODE FECHAR o chamado.", "pode fechar"},
      {"obrigado — funcionou", "obrigado, funcionou"},
      {"Agora está resolvido, valeu", "está resolvido"},
      {"esta resolvido", "está resolvido"},
      {"Yes, solved. Thanks!", "yes, solved"},
      {"You can close it.", "you can close it"},
      {"Ainda não pode fechar.", ""},
      {"Nao pode fechar!", ""},
      {"You can't close it yet", ""},
      {"O problema não foi resolvido.", ""},
      {"okresolvido", ""},
      {"> ok, resolvido\n> pode fechar\nContinua quebrado.", ""},
      {"", ""},
  };
  for (const Case& c : cases) {
    INFO("\"" << c.text << "\"");
    CHECK(approval_phrase(c.text, defaults) == c.phrase);
  }
}

TEST_CASE("only the configured phrases approve", "[confirmation]") {
  ConfirmationConfig mine;
  mine.phrases = {{"pt_BR", {"tudo certo"}}};
  CHECK(approval_phrase("Tudo certo!", mine) == "tudo certo");
  CHECK(approval_phrase("Ok, resolvido", mine).empty());
}

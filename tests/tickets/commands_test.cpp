// commands_test.cpp — reading the command lines of an agent's message: names, arguments, the text
// after them, and an error that says what is allowed for every line that is not a good command.
#include <catch2/catch.hpp>

#include "daemon/tickets/commands.h"

using namespace atendd;

TEST_CASE("command lines at the top are read with their arguments and the rest is the text", "[commands]") {
  const CommandLines lines = read_commands("\r\n#Forward joao\r\n\r\n#field pedido 45 21\r\nO cliente pediu troca.\r\n#close\r\n");
  REQUIRE(lines.errors.empty());
  REQUIRE(lines.commands.size() == 2);
  CHECK(lines.commands[0].name == "forward");
  CHECK(lines.commands[0].args == std::vector<std::string>{"joao"});
  CHECK(lines.commands[1].args == std::vector<std::string>{"pedido", "45 21"});
  CHECK(lines.commands[1].line_number == 4);
  CHECK(lines.text == "O cliente pediu troca.\n#close");
}

TEST_CASE("an unknown command is an error listing every command", "[commands]") {
  const CommandLines lines = read_commands("#fechar\ntexto");
  REQUIRE(lines.errors.size() == 1);
  CHECK(lines.errors[0].find("unknown command #fechar") != std::string::npos);
  CHECK(lines.errors[0].find("#schedule YYYY-MM-DD [HH:MM|morning|afternoon|evening|any]") != std::string::npos);
  CHECK(lines.errors[0].find("#answer [NAME]") != std::string::npos);
}

TEST_CASE("a command with too many or too few arguments says how to write it", "[commands]") {
  const CommandLines lines = read_commands("#take now\n#assign\n#schedule 2026-12-01 10:00 extra");
  REQUIRE(lines.errors.size() == 3);
  CHECK(lines.errors[1].find("write it as #assign AGENT") != std::string::npos);
  CHECK(lines.commands.empty());
}

TEST_CASE("a message is a command message only when its first non-blank line is a command", "[commands]") {
  CHECK(begins_with_command("\n  #note\nx"));
  CHECK_FALSE(begins_with_command("Obrigado!\n#close"));
  CHECK_FALSE(begins_with_command("#1 na fila"));
  CHECK_FALSE(begins_with_command(""));
}

// fuzz_commands.cpp — libFuzzer target for the agent command reader: any bytes as the new text of
// an agent's message go through begins_with_command and read_commands, which must never throw or
// crash, and must only return known command names (lower case) with their line numbers in range.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "daemon/tickets/commands.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  const bool begins = atendd::begins_with_command(body);
  const atendd::CommandLines lines = atendd::read_commands(body);
  int lines_in_body = 1;
  for (char c : body) lines_in_body += c == '\n';
  for (const auto& command : lines.commands) {
    if (command.name.empty() || atendd::usage_of(command.name).empty()) {
      std::fprintf(stderr, "fuzz_commands: unknown command name '%s' accepted\n", command.name.c_str());
      std::abort();
    }
    for (char c : command.name)
      if (c >= 'A' && c <= 'Z') {
        std::fprintf(stderr, "fuzz_commands: command name not lower case\n");
        std::abort();
      }
    if (command.line_number < 1 || command.line_number > lines_in_body) {
      std::fprintf(stderr, "fuzz_commands: line number %d out of range\n", command.line_number);
      std::abort();
    }
  }
  if (!begins && !lines.commands.empty()) {
    std::fprintf(stderr, "fuzz_commands: commands read from a body that does not begin with one\n");
    std::abort();
  }
  return 0;
}

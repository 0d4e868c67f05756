// commands.h — reads the command lines at the top of an agent's message ("#take", "#forward
// maria", …) into a list of Commands and the text that goes with them. Syntax only: the names,
// how many arguments each takes. Whether a command is allowed is the engine's and lifecycle.h's
// business. Never throws; a bad line is an error in the result, with what is allowed.
#pragma once

#include <string>
#include <vector>

namespace atendd {

struct Command {
  std::string name;               // lower case, without '#': "take", "forward", …
  std::vector<std::string> args;  // as written; #field's VALUE is the rest of its line
  std::string line;               // the whole line as written, for errors
  int line_number = 0;            // 1-based, within the message's new text
};

struct CommandLines {
  std::vector<Command> commands;    // the good ones, in order
  std::string text;                 // everything after the command lines, trimmed
  std::vector<std::string> errors;  // "line 2 '#frobnicate': unknown command; known: …"
};

// Whether the message's first non-blank line is a command ("#" and a letter).
bool begins_with_command(const std::string& body);

// Reads the leading command lines (blank lines between them are skipped); the first other line
// starts the text.
CommandLines read_commands(const std::string& body);

// "#take, #assign AGENT, …": every command with its arguments, for error mails.
std::string command_usage();
// The usage of one command ("#schedule YYYY-MM-DD [HH:MM]"), or "" for an unknown name.
std::string usage_of(const std::string& name);

}  // namespace atendd

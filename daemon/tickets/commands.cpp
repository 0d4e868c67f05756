// commands.cpp — see commands.h. The one list of commands and their arguments is kSpecs.
#include "daemon/tickets/commands.h"

#include <cctype>
#include <sstream>

namespace atendd {

namespace {

struct Spec {
  const char* name;
  size_t min_args;
  size_t max_args;
  bool rest_is_last;  // the last argument takes the rest of the line (spaces included)
  const char* usage;
};

const Spec kSpecs[] = {
    {"take", 0, 0, false, "#take"},
    {"assign", 1, 1, false, "#assign AGENT"},
    {"forward", 1, 1, false, "#forward AGENT-OR-DEPARTMENT"},
    {"note", 0, 0, false, "#note"},
    {"status", 1, 1, false, "#status waiting_third_party|in_progress"},
    {"schedule", 1, 2, false, "#schedule YYYY-MM-DD [HH:MM|morning|afternoon|evening|any]"},
    {"priority", 1, 1, false, "#priority urgent|high|normal|low"},
    {"type", 1, 1, false, "#type TYPE"},
    {"field", 2, 2, true, "#field NAME VALUE"},
    {"expense", 2, 2, true, "#expense AMOUNT DESCRIPTION"},
    {"analysis", 1, 2, true, "#analysis valid|invalid|partial [TEXT]"},
    {"stage", 1, 2, false, "#stage next|STAGE|ANSWER [AGENT]"},
    {"solve", 0, 0, false, "#solve"},
    {"close", 0, 0, false, "#close"},
    {"cancel", 0, 0, false, "#cancel"},
    {"reopen", 0, 0, false, "#reopen"},
    {"watch", 1, 1, false, "#watch ADDRESS"},
    {"unwatch", 1, 1, false, "#unwatch ADDRESS"},
    {"answer", 0, 1, false, "#answer [NAME]"},
    {"link", 1, 1, false, "#link PROTOCOL"},
    {"contact", 2, 2, false, "#contact link ADDRESS|CHANNEL:ID"},
    {"level", 1, 1, false, "#level N"},
};

const Spec* spec_of(const std::string& name) {
  for (const Spec& spec : kSpecs)
    if (name == spec.name) return &spec;
  return nullptr;
}

std::string trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  const auto last = s.find_last_not_of(" \t\r\n");
  return s.substr(first, last - first + 1);
}

bool is_command_line(const std::string& line) {
  const std::string t = trim(line);
  return t.size() >= 2 && t[0] == '#' && std::isalpha(static_cast<unsigned char>(t[1]));
}

std::vector<std::string> split_lines(const std::string& body) {
  std::vector<std::string> lines;
  std::string line;
  std::istringstream in(body);
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  return lines;
}

}  // namespace

bool begins_with_command(const std::string& body) {
  for (const auto& line : split_lines(body)) {
    if (trim(line).empty()) continue;
    return is_command_line(line);
  }
  return false;
}

std::string command_usage() {
  std::string out;
  for (const Spec& spec : kSpecs) out += (out.empty() ? "" : ", ") + std::string(spec.usage);
  return out;
}

std::string usage_of(const std::string& name) {
  const Spec* spec = spec_of(name);
  return spec ? spec->usage : "";
}

CommandLines read_commands(const std::string& body) {
  CommandLines result;
  const auto lines = split_lines(body);
  size_t i = 0;
  for (; i < lines.size(); ++i) {
    const std::string line = trim(lines[i]);
    if (line.empty()) continue;
    if (!is_command_line(line)) break;

    // "#name arg arg…"; the name ends at the first blank (a trailing ':' is forgiven).
    size_t at = line.find_first_of(" \t");
    std::string name = line.substr(1, at == std::string::npos ? std::string::npos : at - 1);
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!name.empty() && name.back() == ':') name.pop_back();
    const std::string where = "line " + std::to_string(i + 1) + " '" + line + "'";
    const Spec* spec = spec_of(name);
    if (!spec) {
      result.errors.push_back(where + ": unknown command #" + name + "; the commands are: " + command_usage());
      continue;
    }
    Command command;
    command.name = name;
    command.line = line;
    command.line_number = static_cast<int>(i + 1);
    std::string rest = at == std::string::npos ? "" : trim(line.substr(at));
    while (!rest.empty()) {
      if (spec->rest_is_last && command.args.size() + 1 == spec->max_args) {
        command.args.push_back(rest);
        break;
      }
      const size_t end = rest.find_first_of(" \t");
      command.args.push_back(rest.substr(0, end));
      rest = end == std::string::npos ? "" : trim(rest.substr(end));
    }
    if (command.args.size() < spec->min_args || command.args.size() > spec->max_args) {
      const std::string expected = spec->min_args == spec->max_args
                                       ? std::to_string(spec->min_args)
                                       : std::to_string(spec->min_args) + " or " + std::to_string(spec->max_args);
      result.errors.push_back(where + ": #" + name + " takes " + expected + " argument" +
                              (spec->max_args == 1 && spec->min_args == 1 ? "" : "s") + ", " +
                              std::to_string(command.args.size()) + " given; write it as " + spec->usage);
      continue;
    }
    result.commands.push_back(std::move(command));
  }
  std::string text;
  for (; i < lines.size(); ++i) text += lines[i] + "\n";
  result.text = trim(text);
  return result;
}

}  // namespace atendd

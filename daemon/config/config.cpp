// config.cpp — the small methods of the Config value types (config.h): look-ups by id and
// address, names of enums, and the one-line form of a problem. No reading or checking here
// (that is config_loader.cpp).
#include "daemon/config/config.h"

#include <Poco/String.h>

namespace atendd {

const char* priority_name(Priority p) {
  switch (p) {
    case Priority::Urgent:
      return "urgent";
    case Priority::High:
      return "high";
    case Priority::Normal:
      return "normal";
    case Priority::Low:
      return "low";
  }
  return "normal";
}

const char* field_kind_name(FieldKind kind) {
  switch (kind) {
    case FieldKind::Text:
      return "text";
    case FieldKind::Int:
      return "int";
    case FieldKind::Money:
      return "money";
    case FieldKind::Date:
      return "date";
    case FieldKind::Choice:
      return "choice";
  }
  return "text";
}

const FieldSpec* TypeConfig::field(const std::string& wanted) const {
  for (const auto& f : fields)
    if (f.name == wanted) return &f;
  return nullptr;
}

const TypeConfig* Config::type(const std::string& id) const {
  for (const auto& t : types) {
    if (t.id == id) return &t;
  }
  return nullptr;
}

const AgentConfig* Config::agent(const std::string& id) const {
  auto found = agents.find(id);
  return found == agents.end() ? nullptr : &found->second;
}

std::string ServerConfig::reply_token_of(const std::string& address) const {
  const std::string pattern = Poco::toLower(reply_address);
  const auto placeholder = pattern.find("{token}");
  if (placeholder == std::string::npos) return "";
  const std::string a = Poco::toLower(address);
  const std::string prefix = pattern.substr(0, placeholder), suffix = pattern.substr(placeholder + 7);
  if (a.size() <= prefix.size() + suffix.size()) return "";
  if (a.compare(0, prefix.size(), prefix) != 0) return "";
  if (a.compare(a.size() - suffix.size(), suffix.size(), suffix) != 0) return "";
  return a.substr(prefix.size(), a.size() - prefix.size() - suffix.size());
}

bool ServerConfig::is_our_address(const std::string& address) const {
  if (address.empty()) return false;
  return Poco::icompare(address, this->address) == 0 || !reply_token_of(address).empty();
}

const AgentConfig* Config::agent_by_email(const std::string& address) const {
  for (const auto& [id, agent] : agents) {
    if (Poco::icompare(agent.email, address) == 0) return &agent;
  }
  return nullptr;
}

std::string ConfigProblem::to_string() const {
  std::string out = file;
  if (line > 0) out += ":" + std::to_string(line);
  out += ": ";
  if (!key.empty()) out += key + ": ";
  out += message;
  return out;
}

}  // namespace atendd

// type_router.cpp — first-match type selection; see type_router.h.
#include "daemon/pipeline/type_router.h"

#include <algorithm>

#include <Poco/String.h>

#include "parsers/address_list.h"  // domain_of

namespace atendd {

namespace {

// PCRE has no "(?i)" prefix syntax problem, but we strip it into the option to keep UTF-8 mode on.
std::unique_ptr<Poco::RegularExpression> compile_subject(const std::string& pattern) {
  if (pattern.empty()) return nullptr;
  int options = Poco::RegularExpression::RE_UTF8;
  std::string body = pattern;
  if (body.rfind("(?i)", 0) == 0) {
    options |= Poco::RegularExpression::RE_CASELESS;
    body = body.substr(4);
  }
  return std::make_unique<Poco::RegularExpression>(body, options);
}

bool contains(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

}  // namespace

TypeRouter::TypeRouter(const Config& config) : config_(config) {
  for (const auto& type : config_.types) rules_.push_back({&type, compile_subject(type.match_subject)});
}

bool TypeRouter::matches(const Rule& rule, const ParsedMessage& message, const std::string& mailbox,
                         std::string& matched) const {
  const TypeConfig& type = *rule.type;
  bool any_rule = false;
  std::vector<std::string> keys;
  if (!type.match_mailbox.empty()) {
    any_rule = true;
    if (!contains(type.match_mailbox, mailbox)) return false;
    keys.push_back("match_mailbox " + mailbox);
  }
  if (!type.match_to.empty()) {
    any_rule = true;
    std::string found;
    for (const auto* list : {&message.to, &message.cc})
      for (const auto& address : *list)
        if (found.empty() && contains(type.match_to, Poco::toLower(address.address))) found = Poco::toLower(address.address);
    if (found.empty()) return false;
    keys.push_back("match_to " + found);
  }
  if (rule.subject) {
    any_rule = true;
    Poco::RegularExpression::Match found;
    if (rule.subject->match(message.subject, found) == 0) return false;  // a search, not anchored
    keys.push_back("match_subject " + type.match_subject + " ('" + message.subject.substr(found.offset, found.length) +
                   "')");
  }
  if (!type.match_from_domain.empty()) {
    any_rule = true;
    if (!contains(type.match_from_domain, domain_of(message.from.address))) return false;
    keys.push_back("match_from_domain " + domain_of(message.from.address));
  }
  for (const auto& key : keys) matched += (matched.empty() ? "" : ", ") + key;
  return any_rule;  // a type with no rule is only ever a default
}

const TypeConfig* TypeRouter::route(const ParsedMessage& message, const std::string& mailbox,
                                    Explanation* sink) const {
  for (const auto& rule : rules_) {
    std::string matched;
    if (matches(rule, message, mailbox, matched)) {
      explain(sink, "type_router", "type " + rule.type->id, matched);
      return rule.type;
    }
  }
  auto box = config_.mailboxes.find(mailbox);
  if (box != config_.mailboxes.end() && !box->second.default_type.empty())
    if (const TypeConfig* type = config_.type(box->second.default_type)) {
      explain(sink, "type_router", "type " + type->id, "no type's match_* keys matched; mailbox " + mailbox + "'s default_type");
      return type;
    }
  if (const TypeConfig* type = config_.type(config_.default_type)) {
    explain(sink, "type_router", "type " + type->id, "no type's match_* keys matched; the configuration's default type");
    return type;
  }
  if (config_.types.empty()) return nullptr;
  explain(sink, "type_router", "type " + config_.types.front().id, "no type matched and no default: the first type");
  return &config_.types.front();
}

}  // namespace atendd

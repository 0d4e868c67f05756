// loop_guard.cpp — see loop_guard.h.
#include "daemon/pipeline/loop_guard.h"

#include <Poco/String.h>

namespace atendd {

namespace {

std::string local_part(const std::string& address) {
  const auto at = address.find('@');
  return Poco::toLower(at == std::string::npos ? address : address.substr(0, at));
}

// Our own addresses: the server's, its per-ticket reply address pattern, and the agents' are not
// ours (agents write to us), so only the server's count.
bool is_our_address(const std::string& address, const ServerConfig& server) {
  const std::string a = Poco::toLower(address);
  if (a.empty()) return false;
  if (a == Poco::toLower(server.address)) return true;
  const std::string reply = Poco::toLower(server.reply_address);
  const auto token = reply.find("{token}");
  if (token == std::string::npos) return false;
  const std::string prefix = reply.substr(0, token), suffix = reply.substr(token + 7);
  return a.size() > prefix.size() + suffix.size() && a.compare(0, prefix.size(), prefix) == 0 &&
         a.compare(a.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

LoopVerdict check_loops(const ParsedMessage& message, const Config& config) {
  LoopVerdict verdict;
  for (const auto& loop : message.headers_named("X-Loop")) {
    if (Poco::icompare(Poco::trim(loop), config.server.address) == 0) {
      verdict.ignore = true;
      verdict.may_auto_answer = false;
      verdict.reason = "loop: carries our X-Loop header";
      return verdict;
    }
  }
  if (is_our_address(message.from.address, config.server)) {
    verdict.ignore = true;
    verdict.may_auto_answer = false;
    verdict.reason = "loop: sent from our own address " + message.from.address;
    return verdict;
  }
  const std::string local = local_part(message.from.address);
  if (message.is_bounce) {
    verdict.may_auto_answer = false;
    verdict.reason = "no automatic answer: the message is a delivery status notification";
  } else if (local == "mailer-daemon" || local == "postmaster") {
    verdict.may_auto_answer = false;
    verdict.reason = "no automatic answer: sent by " + local;
  } else if (message.auto_submitted) {
    verdict.may_auto_answer = false;
    verdict.reason = "no automatic answer: the message is automatic (Auto-Submitted/Precedence)";
  } else if (message.from.address.empty() ||
             (message.header("Return-Path") && Poco::trim(*message.header("Return-Path")) == "<>")) {
    verdict.may_auto_answer = false;
    verdict.reason = "no automatic answer: null sender";
  }
  return verdict;
}

}  // namespace atendd

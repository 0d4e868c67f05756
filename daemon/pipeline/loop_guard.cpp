// loop_guard.cpp — see loop_guard.h.
#include "daemon/pipeline/loop_guard.h"

#include <Poco/String.h>

namespace atendd {

namespace {

std::string local_part(const std::string& address) {
  const auto at = address.find('@');
  return Poco::toLower(at == std::string::npos ? address : address.substr(0, at));
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
  if (config.server.is_our_address(message.from.address)) {
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

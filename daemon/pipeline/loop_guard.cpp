// loop_guard.cpp — see loop_guard.h.
#include "daemon/pipeline/loop_guard.h"

#include <Poco/String.h>

namespace atendd {

namespace {

std::string local_part(const std::string& address) {
  const auto at = address.find('@');
  return Poco::toLower(at == std::string::npos ? address : address.substr(0, at));
}

LoopVerdict verdict_of(const ParsedMessage& message, const Config& config) {
  LoopVerdict verdict;
  for (const auto& loop : message.headers_named("X-Loop")) {
    if (Poco::icompare(Poco::trim(loop), config.server.address) == 0) {
      verdict.ignore = true;
      verdict.may_auto_answer = false;
      verdict.reason = "loop: carries our X-Loop header (X-Loop: " + Poco::trim(loop) + ")";
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

}  // namespace

LoopVerdict check_loops(const ParsedMessage& message, const Config& config, Explanation* explain) {
  LoopVerdict verdict = verdict_of(message, config);
  if (!explain) return verdict;
  if (verdict.ignore) {
    explain->add("loop_guard", "ignore", verdict.reason);
  } else if (!verdict.may_auto_answer) {
    const std::string prefix = "no automatic answer: ";
    std::string why = verdict.reason.rfind(prefix, 0) == 0 ? verdict.reason.substr(prefix.size()) : verdict.reason;
    if (message.auto_submitted && !message.automatic_because.empty() && !message.is_bounce)
      why += " — " + message.automatic_because;
    explain->add("loop_guard", "no automatic answer", why);
  } else {
    explain->add("loop_guard", "pass", "no X-Loop of ours, not from our address, not automatic");
  }
  return verdict;
}

}  // namespace atendd

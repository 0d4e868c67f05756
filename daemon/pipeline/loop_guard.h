// loop_guard.h — the first filter: keeps atendd out of mail loops (DESIGN.md, invariant 3).
// A message that carries our own X-Loop or comes from one of our own addresses is ignored
// altogether; an automatic message (RFC 3834 Auto-Submitted, Precedence bulk/junk/list,
// auto-responder headers), a bounce or a mailer-daemon/postmaster sender still makes its ticket
// but never gets an automatic answer.
#pragma once

#include <string>

#include "daemon/config/config.h"
#include "daemon/pipeline/explanation.h"
#include "parsers/message.h"

namespace atendd {

struct LoopVerdict {
  bool ignore = false;          // drop the message (journalled with `reason`)
  bool may_auto_answer = true;  // false: no automatic mail to the sender
  std::string reason;
};

// `explain` (may be null) gets the verdict and the header or address behind it.
LoopVerdict check_loops(const ParsedMessage& message, const Config& config, Explanation* explain = nullptr);

}  // namespace atendd

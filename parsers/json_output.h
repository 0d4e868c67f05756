// json_output.h — the `atendd parse --json` contract of DESIGN.md ("Contracts other tools rely on").
#pragma once

#include <string>

#include "parsers/message.h"

namespace atendd {

// One JSON object: from, to, cc, reply_to, subject, message_id, in_reply_to, references, date
// (RFC 3339 or null), auto_submitted, is_bounce, text, html, attachments, defects.
std::string to_json(const ParsedMessage& message);

}  // namespace atendd

// mime_reader.h — turns raw RFC 5322 bytes into a ParsedMessage.
// Never throws on content: malformed MIME, wrong charsets and binary junk yield the best reading
// plus defects (DESIGN.md, invariant 4).
#pragma once

#include <string_view>

#include "parsers/message.h"

namespace atendd {

ParsedMessage parse_message(std::string_view raw);

}  // namespace atendd

// quote_split.h — tells the new part of a reply from the quoted history and the signature
// below it (attribution lines in en/pt_BR/fr/de, Outlook header blocks, "> " runs, "-- " and
// mobile signatures). Conservative: when unsure, text stays in new_text.
#pragma once

#include <string>

namespace atendd {

struct SplitText {
  std::string new_text;   // what the sender wrote now; never empty when the input is not blank
  std::string quoted;     // the quoted history (attribution line or header block onwards)
  std::string signature;  // from the "-- " line or mobile signature to the quote
};

// Splits a plain-text (LF or CRLF) reply. When every line would be quote or signature, the whole
// text is returned as new_text and the other two fields are empty.
SplitText split_reply(const std::string& text);

}  // namespace atendd

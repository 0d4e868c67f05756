// transfer_encoding.h — decoders for Content-Transfer-Encoding (base64, quoted-printable,
// uuencode). Tolerant by design: they skip what does not belong, stop at sensible ends and never
// throw; the caller decides whether a damaged body is worth a defect.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace atendd {

// Decodes base64, ignoring line breaks, blanks and any other foreign characters; stops at the
// first '=' padding. `damaged` (when given) is set when foreign characters were skipped.
std::string decode_base64(std::string_view text, bool* damaged = nullptr);

// Decodes quoted-printable (RFC 2045 6.7): "=XX", soft line breaks; a malformed "=" is kept.
// `header_q`: the RFC 2047 "Q" variant, where '_' stands for a space.
std::string decode_quoted_printable(std::string_view text, bool header_q = false);

struct UuFile {
  std::string name;  // from the "begin MODE NAME" line
  std::string data;
};

// Finds "begin MODE NAME ... end" blocks in a text body. Returns the files and, in
// `remaining_text`, the text with those blocks removed.
std::vector<UuFile> extract_uuencoded(std::string_view text, std::string* remaining_text);

// Decodes a body sent with Content-Transfer-Encoding x-uuencode (with or without begin/end).
std::string decode_uuencode_body(std::string_view text, std::string* name);

}  // namespace atendd

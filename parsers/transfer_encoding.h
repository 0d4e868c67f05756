// transfer_encoding.h — decoders for Content-Transfer-Encoding (base64, quoted-printable,
// uuencode). Tolerant by design: they skip what does not belong, stop at sensible ends and never
// throw; the caller decides whether a damaged body is worth a defect.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace atendd {

// Decodes base64, ignoring line breaks, blanks and any other foreign characters; stops at the
// first '=' padding. `damaged` (when given) is set when foreign characters were skipped.
std::string decode_base64(std::string_view text, bool* damaged = nullptr);
// The same, writing to `out` (room for text.size() / 4 * 3 + 3 bytes; `out` may be text.data():
// the output never overtakes the input). Returns the number of bytes written.
std::size_t decode_base64_to(std::string_view text, char* out, bool* damaged = nullptr);
// Decodes a body in its own buffer: no second copy of a large attachment.
void decode_base64_in_place(std::string& text, bool* damaged = nullptr);

// Decodes quoted-printable (RFC 2045 6.7): "=XX", soft line breaks; a malformed "=" is kept.
// `header_q`: the RFC 2047 "Q" variant, where '_' stands for a space.
std::string decode_quoted_printable(std::string_view text, bool header_q = false);
// The same, writing to `out` (room for text.size() bytes; may be text.data()). Returns the size.
std::size_t decode_quoted_printable_to(std::string_view text, char* out, bool header_q = false);
void decode_quoted_printable_in_place(std::string& text);

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

// body_encoding.h — the Content-Transfer-Encodings atendd writes (quoted-printable, base64), each
// in one pass into a std::string with CRLF line ends. The decoders are in parsers/transfer_encoding.
#pragma once

#include <string>
#include <string_view>

namespace atendd {

// Quoted-printable per RFC 2045 section 6.7: lines of at most 76 characters with "=" soft breaks,
// "=XX" (upper-case hex) for '=', controls and bytes above 126, a space or tab before a line end
// (or at the very end) encoded, and every line break of the text (CRLF, LF or lone CR) written
// as a hard CRLF break. Appends to `out`.
void encode_quoted_printable(std::string_view text, std::string& out);
std::string encode_quoted_printable(std::string_view text);

// Base64 (RFC 2045 section 6.8) with CRLF between lines of 72 characters (none after the last:
// the multipart delimiter brings its own).
// Appends to `out`.
void encode_base64_lines(std::string_view data, std::string& out);

}  // namespace atendd

// encoded_words.h — RFC 2047 encoded words in header text and RFC 2231 MIME parameters.
// Decodes to UTF-8 and never throws: a malformed encoded word is kept literally, raw 8-bit bytes
// are read through the charset guess of charset.h. Addresses are not decoded here (RFC 2047 §5).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace atendd {

// Decodes every RFC 2047 encoded word (B and Q) in unstructured header text. Whitespace between
// two adjacent encoded words is dropped; everything else is kept. Raw 8-bit bytes outside encoded
// words are converted with guess_to_utf8(…, fallback_charset).
std::string decode_header_text(std::string_view value, std::string_view fallback_charset = {});

// Finds the encoded word starting at value[pos] ("=?charset?B|Q?text?="). Returns its length, or
// 0 when there is none. Used by the address tokenizer to keep an encoded word in one piece.
std::size_t encoded_word_length(std::string_view value, std::size_t pos);

// A Content-Type / Content-Disposition value: "type/subtype" or "attachment" plus parameters.
struct MimeField {
  std::string value;                                       // lower case, trimmed
  std::vector<std::pair<std::string, std::string>> params;  // names lower case, values decoded

  // The parameter's value, or "" when absent.
  std::string param(std::string_view name) const;
  bool has_param(std::string_view name) const;
};

// Parses a raw field value by hand (quoted strings may hold ';'), joins RFC 2231 continuations
// (name*0*=, name*1=…), percent-decodes charset''value forms, and decodes Outlook-style RFC 2047
// words inside quoted values. Never throws.
MimeField parse_mime_field(std::string_view raw, std::string_view fallback_charset = {});

}  // namespace atendd

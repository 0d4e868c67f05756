// charset.h — converts the bytes of a header or body part to UTF-8 (glibc iconv, uchardet last).
// Knows the aliases real mail uses (ks_c_5601-1987, gb2312 meaning GBK…) and the usual wrong
// labels. Never throws and never drops a byte silently: what cannot be read becomes U+FFFD.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace atendd {

// True when `bytes` is well-formed UTF-8 (no overlongs, no surrogates).
bool is_valid_utf8(std::string_view bytes);

// True when every byte is below 0x80.
bool is_ascii(std::string_view bytes);

// Replaces every ill-formed UTF-8 sequence with U+FFFD; valid input is returned unchanged.
std::string sanitize_utf8(std::string_view bytes);

// The iconv name to use for a MIME charset label ("ks_c_5601-1987" -> "CP949", "gb2312" ->
// "GB18030", "latin1" -> "ISO-8859-1"); lower-cased label otherwise, empty for an empty label.
std::string canonical_charset(std::string_view label);

// Converts `bytes` from `charset` only when every byte converts; nothing when the charset is
// unknown or any byte is invalid in it.
std::optional<std::string> convert_strict(std::string_view bytes, std::string_view charset);

// Converts `bytes` labelled `charset` to UTF-8. Handles wrong labels: a us-ascii/unknown/empty
// label over UTF-8 or 8-bit bytes, ISO-2022-JP over Shift_JIS bytes, ISO-8859-1 over
// windows-1252. Invalid bytes become U+FFFD. `lossy` (when given) is set when any did.
std::string to_utf8(std::string_view bytes, std::string_view charset, bool* lossy = nullptr);
// The same, but nothing when the UTF-8 is `bytes` unchanged (valid UTF-8 as labelled, or ASCII
// in an ASCII-compatible charset: the usual case), so that the caller keeps them without a copy.
std::optional<std::string> to_utf8_if_changed(std::string_view bytes, std::string_view charset,
                                              bool* lossy = nullptr);

// For raw 8-bit text with no usable label (headers): valid UTF-8 is kept, else the hint charset
// (the body's) if it converts cleanly, else uchardet's guess, else windows-1252.
std::string guess_to_utf8(std::string_view bytes, std::string_view hint = {});

}  // namespace atendd

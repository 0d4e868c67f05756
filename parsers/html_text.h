// html_text.h — plain text from an HTML body (libxml2's forgiving HTML parser).
// Block elements become line breaks, script/style/head are dropped, entities are decoded. Never
// fetches anything (HTML_PARSE_NONET) and never throws.
#pragma once

#include <string>
#include <string_view>

namespace atendd {

// `html` must be UTF-8 (convert first). Returns UTF-8 text with at most one blank line in a row.
std::string html_to_text(std::string_view html);

}  // namespace atendd

// address_list.h — reads From/To/Cc/Reply-To values into addresses with decoded display names.
// Copes with what real mail writes (comments as names, groups, stray brackets, unquoted spaces,
// no angle brackets) but never decodes encoded words inside an address (RFC 2047 §5): decoding
// "=?utf-8?Q?agent?=@example.com" would let a stranger pose as agent@example.com.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "parsers/message.h"

namespace atendd {

// Parses an address-list header value (already unfolded, raw bytes). Display names are decoded
// (RFC 2047, raw 8-bit through the charset guess with `fallback_charset`). Entries without any
// address are kept only when they have a name. `defects` (when given) gets short phrases.
std::vector<Address> parse_address_list(std::string_view value, std::string_view fallback_charset = {},
                                        std::vector<std::string>* defects = nullptr);

// The domain of an address, lower-cased: "Ana@Cliente.COM.br" → "cliente.com.br"; "" without '@'.
std::string domain_of(const std::string& address);

}  // namespace atendd

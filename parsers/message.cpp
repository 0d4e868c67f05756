// message.cpp — header lookup on a ParsedMessage (case-insensitive, in message order).
// The only behaviour of the value type; it reads and never changes the message.
#include "parsers/message.h"

#include "parsers/ascii_case.h"

namespace atendd {

const std::string* ParsedMessage::header(std::string_view name) const {
  for (const auto& [key, value] : headers)
    if (ascii::iequals(key, name)) return &value;
  return nullptr;
}

std::vector<std::string> ParsedMessage::headers_named(std::string_view name) const {
  std::vector<std::string> values;
  for (const auto& [key, value] : headers)
    if (ascii::iequals(key, name)) values.push_back(value);
  return values;
}

}  // namespace atendd

// message.cpp — header lookup on a ParsedMessage (case-insensitive, in message order).
// The only behaviour of the value type; it reads and never changes the message.
#include "parsers/message.h"

#include <cctype>

namespace atendd {
namespace {

bool same_name(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

}  // namespace

const std::string* ParsedMessage::header(std::string_view name) const {
  for (const auto& [key, value] : headers)
    if (same_name(key, name)) return &value;
  return nullptr;
}

std::vector<std::string> ParsedMessage::headers_named(std::string_view name) const {
  std::vector<std::string> values;
  for (const auto& [key, value] : headers)
    if (same_name(key, name)) values.push_back(value);
  return values;
}

}  // namespace atendd

// ascii_case.h — ASCII case handling for the parser stage: comparisons and searches that ignore
// case without allocating, and one lower-casing copy for where a lower-cased string is kept.
// Only 'A'..'Z' are folded; every other byte (UTF-8 included) compares as it is, which is what
// std::tolower does in the "C" locale atendd runs in. Header names, MIME tokens, charset labels and
// the phrases mail clients write ("wrote:", "-----Original Message-----") are matched with these.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace atendd::ascii {

constexpr char to_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
constexpr char to_upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

// A lower-cased copy, for a value that is stored or returned lower-cased.
inline std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = to_lower(c);
  return out;
}

constexpr bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (to_lower(a[i]) != to_lower(b[i])) return false;
  return true;
}

constexpr bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

constexpr bool iends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && iequals(s.substr(s.size() - suffix.size()), suffix);
}

// The first position at or after `from` where `needle` occurs ignoring case, or npos.
// An empty needle is found at `from` (when from <= text.size()), as std::string_view::find does.
constexpr std::size_t ifind(std::string_view text, std::string_view needle, std::size_t from = 0) {
  if (from > text.size() || needle.size() > text.size() - from) return std::string_view::npos;
  if (needle.empty()) return from;
  const char first_lower = to_lower(needle.front());
  const std::size_t last = text.size() - needle.size();
  for (std::size_t at = from; at <= last; ++at) {
    if (to_lower(text[at]) != first_lower) continue;
    if (iequals(text.substr(at + 1, needle.size() - 1), needle.substr(1))) return at;
  }
  return std::string_view::npos;
}

constexpr bool icontains(std::string_view text, std::string_view needle) {
  return ifind(text, needle) != std::string_view::npos;
}

}  // namespace atendd::ascii

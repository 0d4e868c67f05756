// date_time.cpp — RFC 5322 date reading by hand (tolerant of obsolete forms and trailing junk),
// with POCO's DateTimeParser as the fallback for layouts the hand reader does not know.
#include "parsers/date_time.h"

#include <Poco/DateTime.h>
#include <Poco/DateTimeParser.h>
#include <Poco/Timestamp.h>

#include <cctype>
#include <string>
#include <vector>

#include "parsers/ascii_case.h"

namespace atendd {
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

namespace {

int month_number(std::string_view token) {
  if (token.size() < 3) return 0;
  static const char* const names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                      "jul", "aug", "sep", "oct", "nov", "dec"};
  for (int i = 0; i < 12; ++i)
    if (ascii::iequals(token.substr(0, 3), names[i])) return i + 1;
  return 0;
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

// Zone offset in seconds, or nothing when the token is no zone.
std::optional<int> zone_offset(std::string_view token) {
  if (token.empty()) return std::nullopt;
  if ((token[0] == '+' || token[0] == '-') && token.size() >= 5 && all_digits(token.substr(1, 4))) {
    const int hh = (token[1] - '0') * 10 + (token[2] - '0');
    const int mm = (token[3] - '0') * 10 + (token[4] - '0');
    if (hh > 23 || mm > 59) return std::nullopt;
    const int offset = hh * 3600 + mm * 60;
    return token[0] == '-' ? -offset : offset;
  }
  std::size_t letters = 0;
  while (letters < token.size() && std::isalpha(static_cast<unsigned char>(token[letters]))) ++letters;
  const std::string_view z = token.substr(0, letters);
  struct Named {
    const char* name;
    int hours;
  };
  static const Named zones[] = {{"UT", 0},   {"UTC", 0},  {"GMT", 0},  {"Z", 0},    {"WET", 0},  {"BST", 1},
                                {"CET", 1},  {"MET", 1},  {"CEST", 2}, {"MEST", 2}, {"EET", 2},  {"EEST", 3},
                                {"EST", -5}, {"EDT", -4}, {"CST", -6}, {"CDT", -5}, {"MST", -7}, {"MDT", -6},
                                {"PST", -8}, {"PDT", -7}, {"JST", 9},  {"KST", 9},  {"IST", 5}};
  for (const auto& named : zones)
    if (ascii::iequals(z, named.name)) return named.hours * 3600;
  return std::nullopt;
}

std::optional<std::int64_t> parse_by_hand(std::string_view value) {
  // Comments out, then tokens split at blanks and commas.
  std::string text;
  int depth = 0;
  for (char c : value) {
    if (c == '(') ++depth;
    else if (c == ')' && depth > 0) --depth;
    else if (depth == 0) text += c;
  }
  std::vector<std::string> tokens;
  tokens.reserve(8);  // "Tue, 12 Mar 2024 07:15:29 -0300" is six
  std::string current;
  for (char c : text) {
    if (c == ' ' || c == '\t' || c == ',' || c == '\r' || c == '\n') {
      if (!current.empty()) tokens.push_back(std::move(current));
      current.clear();
    } else {
      current += c;
    }
  }
  if (!current.empty()) tokens.push_back(std::move(current));

  int day = 0, month = 0, hour = -1, minute = 0, second = 0;
  std::int64_t year = -1;
  int offset = 0;
  bool have_zone = false;
  for (const std::string& raw_token : tokens) {
    std::string_view token = raw_token;
    if (hour < 0 && token.find(':') != std::string_view::npos) {
      // hh:mm[:ss] (a zone may be glued on, "17:30:44+0200")
      int parts[3] = {0, 0, 0};
      int n = 0;
      std::size_t i = 0;
      while (n < 3 && i < token.size()) {
        std::size_t start = i;
        while (i < token.size() && std::isdigit(static_cast<unsigned char>(token[i])) && i - start < 2) ++i;
        if (i == start) break;
        parts[n++] = std::stoi(std::string(token.substr(start, i - start)));
        if (i < token.size() && token[i] == ':') ++i;
        else break;
      }
      if (n >= 2) {
        hour = parts[0];
        minute = parts[1];
        second = parts[2];
        if (i < token.size()) {
          if (auto z = zone_offset(token.substr(i))) {
            offset = *z;
            have_zone = true;
          }
        }
        continue;
      }
    }
    if (month == 0 && month_number(token) > 0 && std::isalpha(static_cast<unsigned char>(token[0]))) {
      month = month_number(token);
      continue;
    }
    if (all_digits(token)) {
      if (day == 0 && token.size() <= 2 && year < 0) {
        day = std::stoi(raw_token);
        continue;
      }
      if (year < 0 && token.size() <= 4) {
        year = std::stoll(raw_token);
        if (token.size() <= 2) year += year < 50 ? 2000 : 1900;
        else if (token.size() == 3) year += 1900;
        continue;
      }
    }
    if (hour >= 0 && !have_zone) {
      if (auto z = zone_offset(token)) {
        offset = *z;
        have_zone = true;
        break;  // whatever follows the zone is junk
      }
    }
  }
  if (day < 1 || day > 31 || month == 0 || year < 1000 || year > 9999 || hour < 0 || hour > 23 || minute > 59 ||
      second > 60)
    return std::nullopt;
  const std::int64_t days = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  return days * 86400 + hour * 3600 + minute * 60 + second - offset;
}

}  // namespace

std::optional<std::int64_t> parse_mail_date(std::string_view value) {
  if (value.size() > 200) value = value.substr(0, 200);
  if (auto t = parse_by_hand(value)) return t;
  try {
    Poco::DateTime dt;
    int tzd = 0;
    if (Poco::DateTimeParser::tryParse(std::string(value), dt, tzd))
      return static_cast<std::int64_t>(dt.timestamp().epochTime()) - tzd;
  } catch (...) {
  }
  return std::nullopt;
}

}  // namespace atendd

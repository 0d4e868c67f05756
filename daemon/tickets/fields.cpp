// fields.cpp — see fields.h.
#include "daemon/tickets/fields.h"

#include <cctype>

namespace atendd {

namespace {

bool digits(const std::string& s) {
  if (s.empty()) return false;
  for (unsigned char c : s)
    if (!std::isdigit(c)) return false;
  return true;
}

std::string strip_zeros(const std::string& s) {
  const auto first = s.find_first_not_of('0');
  return first == std::string::npos ? "0" : s.substr(first);
}

bool real_date(const std::string& s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-' || !digits(s.substr(0, 4)) || !digits(s.substr(5, 2)) ||
      !digits(s.substr(8, 2)))
    return false;
  const int year = std::stoi(s.substr(0, 4)), month = std::stoi(s.substr(5, 2)), day = std::stoi(s.substr(8, 2));
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return year >= 1900 && month >= 1 && month <= 12 && day >= 1 &&
         day <= kDays[month - 1] + (month == 2 && leap ? 1 : 0);
}

}  // namespace

FieldValue check_field_value(const FieldSpec& field, const std::string& raw) {
  FieldValue out;
  const auto first = raw.find_first_not_of(" \t");
  const std::string v = first == std::string::npos ? "" : raw.substr(first, raw.find_last_not_of(" \t") - first + 1);
  auto bad = [&](const std::string& what) {
    out.error = "\"" + v + "\" is not " + what + " (field " + field.name + ")";
    return out;
  };
  if (v.empty()) return bad("a value");
  switch (field.kind) {
    case FieldKind::Text:
      for (unsigned char c : v)
        if (c < 0x20 || c == 0x7f) return bad("one line of text");
      if (v.size() > 500) return bad("short enough (500 bytes at most)");
      out.value = v;
      break;
    case FieldKind::Int: {
      const bool negative = v[0] == '-';
      const std::string number = negative || v[0] == '+' ? v.substr(1) : v;
      if (!digits(number) || strip_zeros(number).size() > 18) return bad("a whole number");
      out.value = (negative && strip_zeros(number) != "0" ? "-" : "") + strip_zeros(number);
      break;
    }
    case FieldKind::Money: {
      // 1234, 1234.5, 1234,50, 1.234,50 and 1,234.50: the last '.' or ',' followed by one or two
      // digits is the decimal separator; the others group thousands.
      std::string s = v;
      if (s.rfind("R$", 0) == 0 || s[0] == '$') s = s.substr(s[0] == '$' ? 1 : 2);
      const auto start = s.find_first_not_of(' ');
      s = start == std::string::npos ? "" : s.substr(start);
      std::string whole, cents;
      const auto sep = s.find_last_of(".,");
      if (sep != std::string::npos && s.size() - sep - 1 >= 1 && s.size() - sep - 1 <= 2) {
        whole = s.substr(0, sep);
        cents = s.substr(sep + 1);
      } else {
        whole = s;
      }
      std::string plain;
      for (size_t i = 0; i < whole.size(); ++i) {
        const char c = whole[i];
        if (c == '.' || c == ',') {
          if (whole.size() - i - 1 < 3 || (whole.size() - i - 1) % 3 != 0 || i == 0) return bad("an amount of money");
          continue;
        }
        plain += c;
      }
      if (!digits(plain) || (!cents.empty() && !digits(cents)) || strip_zeros(plain).size() > 15)
        return bad("an amount of money (1234.50 or 1.234,50)");
      if (cents.size() == 1) cents += "0";
      if (cents.empty()) cents = "00";
      out.value = strip_zeros(plain) + "." + cents;
      break;
    }
    case FieldKind::Date:
      if (!real_date(v)) return bad("a date (YYYY-MM-DD)");
      out.value = v;
      break;
    case FieldKind::Choice: {
      std::string lower;
      for (unsigned char c : v) lower += static_cast<char>(std::tolower(c));
      std::string options;
      for (const auto& choice : field.choices) {
        std::string l;
        for (unsigned char c : choice) l += static_cast<char>(std::tolower(c));
        if (l == lower) out.value = choice;
        options += (options.empty() ? "" : ", ") + choice;
      }
      if (out.value.empty()) return bad("one of " + options);
      break;
    }
  }
  out.ok = true;
  return out;
}

std::string money_text(std::int64_t cents) {
  const std::int64_t whole = (cents < 0 ? -cents : cents) / 100, part = (cents < 0 ? -cents : cents) % 100;
  return (cents < 0 ? "-" : "") + std::to_string(whole) + "." + (part < 10 ? "0" : "") + std::to_string(part);
}

std::string describe_fields(const TypeConfig& type) {
  std::string out;
  for (const auto& f : type.fields) {
    std::string kind = field_kind_name(f.kind);
    if (f.kind == FieldKind::Choice) {
      kind += "(";
      for (size_t i = 0; i < f.choices.size(); ++i) kind += (i ? "|" : "") + f.choices[i];
      kind += ")";
    }
    out += (out.empty() ? "" : ", ") + f.name + " (" + kind + ")";
  }
  return out.empty() ? "none" : out;
}

std::vector<std::string> missing_fields(const TypeConfig& type, const std::map<std::string, std::string>& values,
                                        bool to_open, bool to_close) {
  std::vector<std::string> out;
  for (const auto& f : type.fields) {
    if (!((to_open && f.required_to_open) || (to_close && f.required_to_close))) continue;
    const auto found = values.find(f.name);
    if (found == values.end() || found->second.empty()) out.push_back(f.name);
  }
  return out;
}

}  // namespace atendd

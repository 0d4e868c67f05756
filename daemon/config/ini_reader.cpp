// ini_reader.cpp — reads atendd's INI syntax line by line, keeping file:line for every key,
// because Poco's IniFileConfiguration loses lines, keeps inline comments in values and reads
// '#' lines as keys (notes/stack.md). Values go into a MapConfiguration untouched otherwise.
#include "daemon/config/ini_reader.h"

#include <map>

namespace atendd {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

bool is_name(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_name_char(c)) return false;
  }
  return true;
}

// "kind" or "kind.NAME"; both parts letters, digits, '_' and '-'.
bool is_section_name(std::string_view s) {
  auto dot = s.find('.');
  if (dot == std::string_view::npos) return is_name(s);
  return is_name(s.substr(0, dot)) && is_name(s.substr(dot + 1));
}

bool starts_comment(std::string_view rest) {
  return !rest.empty() && (rest.front() == ';' || rest.front() == '#');
}

class Reader {
 public:
  Reader(const std::string& file, IniDocument& doc) : file_(file), doc_(doc) {}

  void line(std::string_view text, int number) {
    auto t = trim(text);
    if (t.empty() || starts_comment(t)) return;
    if (t.front() == '[') {
      header(t, number);
    } else {
      entry(t, number);
    }
  }

 private:
  void problem(int line, std::string key, std::string message) {
    doc_.problems.push_back({file_, line, std::move(key), std::move(message)});
  }

  void header(std::string_view t, int number) {
    current_ = kNone;
    skipping_ = true;  // keys under a broken header are not reported once more each
    auto close = t.find(']');
    if (close == std::string_view::npos) {
      problem(number, "", "section header without closing ']'");
      return;
    }
    auto rest = trim(t.substr(close + 1));
    auto name = trim(t.substr(1, close - 1));
    if (!rest.empty() && !starts_comment(rest)) {
      problem(number, std::string(name), "unexpected text after the section header");
      return;
    }
    if (!is_section_name(name)) {
      problem(number, std::string(name),
              "bad section name: expected [section] or [section.NAME] with letters, digits, "
              "'_' or '-'");
      return;
    }
    skipping_ = false;
    std::string key(name);
    auto found = index_.find(key);
    if (found != index_.end()) {
      current_ = found->second;
      return;
    }
    current_ = doc_.sections.size();
    index_.emplace(key, current_);
    doc_.sections.push_back({key, number, {}});
  }

  void entry(std::string_view t, int number) {
    std::string section = current_ != kNone ? doc_.sections[current_].name : std::string();
    auto eq = t.find('=');
    if (eq == std::string_view::npos) {
      problem(number, section, "expected \"[section]\", \"key = value\" or a comment");
      return;
    }
    auto key = trim(t.substr(0, eq));
    if (!is_name(key)) {
      problem(number, section,
              "expected \"key = value\" with a key of letters, digits, '_' or '-'");
      return;
    }
    if (skipping_) return;
    std::string full = section + "." + std::string(key);
    if (current_ == kNone) {
      problem(number, std::string(key), "key outside of any [section]");
      return;
    }
    std::string value;
    if (!read_value(t.substr(eq + 1), number, full, value)) return;
    auto first = key_lines_.find(full);
    if (first != key_lines_.end()) {
      problem(number, full, "repeated; first set at line " + std::to_string(first->second));
      return;
    }
    key_lines_.emplace(full, number);
    doc_.sections[current_].entries.push_back({std::string(key), number});
    doc_.values->setString(full, value);
  }

  // `raw` is everything after '='.
  bool read_value(std::string_view raw, int number, const std::string& full, std::string& out) {
    auto v = trim(raw);
    if (!v.empty() && v.front() == '"') {
      auto close = v.find('"', 1);
      if (close == std::string_view::npos) {
        problem(number, full, "value without closing '\"'");
        return false;
      }
      auto rest = trim(v.substr(close + 1));
      if (!rest.empty() && !starts_comment(rest)) {
        problem(number, full, "unexpected text after the closing '\"'");
        return false;
      }
      out.assign(v.substr(1, close - 1));
      return true;
    }
    for (std::size_t i = 1; i < raw.size(); ++i) {
      if ((raw[i] == ';' || raw[i] == '#') && is_space(raw[i - 1])) {
        raw = raw.substr(0, i);
        break;
      }
    }
    out.assign(trim(raw));
    return true;
  }

  const std::string& file_;
  IniDocument& doc_;
  static constexpr std::size_t kNone = static_cast<std::size_t>(-1);
  std::size_t current_ = kNone;  // index into doc_.sections
  bool skipping_ = false;
  std::map<std::string, std::size_t> index_;
  std::map<std::string, int> key_lines_;
};

}  // namespace

IniDocument read_ini(std::string_view text, const std::string& file) {
  IniDocument doc;
  doc.values = new Poco::Util::MapConfiguration;
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  Reader reader(file, doc);
  int number = 0;
  while (!text.empty()) {
    auto end = text.find('\n');
    auto line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    reader.line(line, ++number);
  }
  return doc;
}

}  // namespace atendd

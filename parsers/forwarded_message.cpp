// forwarded_message.cpp — see forwarded_message.h. Inline forwards are read from the message's
// text (the plain part, or the text made from its HTML): the first quoting structure of the text
// must be a forward's header block, else it is a reply (or nothing) and no forward is found.
#include "parsers/forwarded_message.h"

#include <cctype>
#include <string_view>

#include "parsers/address_list.h"
#include "parsers/ascii_case.h"
#include "parsers/date_time.h"
#include "parsers/mime_reader.h"

namespace atendd {
namespace {

using ascii::icontains;
using ascii::iends_with;
using ascii::iequals;
using ascii::istarts_with;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (true) {
    const std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return lines;
}

std::string join_lines(const std::vector<std::string_view>& lines, std::size_t from, std::size_t to) {
  std::string out;
  for (std::size_t k = from; k < to && k < lines.size(); ++k) {
    out.append(lines[k]);
    out += '\n';
  }
  // No blank lines around the block.
  while (!out.empty() && std::isspace(static_cast<unsigned char>(out.back()))) out.pop_back();
  std::size_t start = 0;
  while (start < out.size()) {
    const std::size_t nl = out.find('\n', start);
    if (nl == std::string::npos || !trim(std::string_view(out).substr(start, nl - start)).empty()) break;
    start = nl + 1;
  }
  return out.substr(start);
}

// The subject's first prefix ("Fwd", "RE", …) as written, after any "[tag]"; "" when none.
std::string_view first_prefix(std::string_view subject) {
  std::string_view s = trim(subject);
  while (!s.empty() && s.front() == '[') {
    const std::size_t close = s.find(']');
    if (close == std::string_view::npos) break;
    s = trim(s.substr(close + 1));
  }
  const std::size_t colon = s.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon > 6) return "";
  std::string_view word = trim(s.substr(0, colon));
  for (char c : word)
    if (!std::isalpha(static_cast<unsigned char>(c))) return "";
  return word;
}

bool is_quote_line(std::string_view line) {
  line = trim(line);
  return !line.empty() && line.front() == '>';
}

// "On … wrote:", "Em … escreveu:" wrapped over up to three lines, starting at line i.
bool is_attribution_at(const std::vector<std::string_view>& lines, std::size_t i) {
  const std::string_view first = trim(lines[i]);
  if (!istarts_with(first, "on ") && !istarts_with(first, "em ") && !istarts_with(first, "le ") &&
      !istarts_with(first, "am "))
    return false;
  std::string joined;
  for (std::size_t n = 0; n < 3 && i + n < lines.size(); ++n) {
    const std::string_view line = trim(lines[i + n]);
    if (line.empty() || is_quote_line(line)) break;
    if (!joined.empty()) joined += ' ';
    joined += line;
    if (joined.size() > 300) break;
    if (iends_with(joined, "wrote:") || iends_with(joined, "escreveu:") || iends_with(joined, "a écrit :") ||
        iends_with(joined, "a écrit:") ||
        (istarts_with(joined, "am ") && icontains(joined, " schrieb") && iends_with(joined, ":")))
      return true;
  }
  return false;
}

enum class Separator { None, Gmail, Thunderbird, Outlook, Apple };

Separator separator_of(std::string_view line) {
  const std::string_view s = trim(line);
  if (s.empty()) return Separator::None;
  if (iequals(s, "begin forwarded message:") || iequals(s, "início da mensagem encaminhada:") ||
      iequals(s, "inicio da mensagem encaminhada:"))
    return Separator::Apple;
  if (s.front() != '-') return Separator::None;
  std::size_t dashes = 0;
  while (dashes < s.size() && s[dashes] == '-') ++dashes;
  if (dashes < 4 || s.back() != '-') return Separator::None;
  const std::string_view words = trim(s.substr(dashes));
  const bool forwarded = istarts_with(words, "forwarded message") || istarts_with(words, "mensagem encaminhada") ||
                         istarts_with(words, "mensaje reenviado") || istarts_with(words, "message transféré");
  if (forwarded) return dashes >= 10 ? Separator::Gmail : Separator::Thunderbird;
  if (istarts_with(words, "original message") || istarts_with(words, "mensagem original") ||
      istarts_with(words, "mensaje original"))
    return Separator::Outlook;
  return Separator::None;
}

enum class Field { None, From, Date, To, Cc, Subject, Other };

// One "Label: value" line of a forwarded header block ("*De:* …" from HTML bold too).
Field label_of(std::string_view line, std::string* value, bool* portuguese = nullptr) {
  line = trim(line);
  while (!line.empty() && line.front() == '*') line.remove_prefix(1);
  const std::size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon > 24) return Field::None;
  std::string_view label = trim(line.substr(0, colon));
  while (!label.empty() && label.back() == '*') label.remove_suffix(1);
  std::string_view rest = line.substr(colon + 1);
  while (!rest.empty() && (rest.front() == '*' || rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
  if (value) *value = std::string(trim(rest));
  auto is = [&label](std::initializer_list<const char*> names) {
    for (const char* n : names)
      if (iequals(label, n)) return true;
    return false;
  };
  bool pt = false;
  Field field = Field::None;
  if (is({"from", "von"})) field = Field::From;
  else if (is({"de"})) field = Field::From, pt = true;
  else if (is({"date", "sent", "gesendet", "datum"})) field = Field::Date;
  else if (is({"data", "enviado", "enviada", "enviado em", "enviada em"})) field = Field::Date, pt = true;
  else if (is({"to", "an"})) field = Field::To;
  else if (is({"para"})) field = Field::To, pt = true;
  else if (is({"cc", "bcc", "cco"})) field = Field::Cc;
  else if (is({"subject", "betreff"})) field = Field::Subject;
  else if (is({"assunto"})) field = Field::Subject, pt = true;
  else if (is({"reply-to", "responder a", "importance", "importância", "prioridade", "priority"})) field = Field::Other;
  if (portuguese && pt) *portuguese = true;
  return field;
}

struct HeaderBlock {
  bool found = false;
  std::size_t end = 0;  // first line after the block
  std::string from, date, to, cc, subject;
  bool portuguese = false;
};

// Reads the header block of a forward starting at line `start` (after up to two blank lines).
HeaderBlock read_block(const std::vector<std::string_view>& lines, std::size_t start) {
  HeaderBlock block;
  std::size_t k = start;
  for (int blanks = 0; k < lines.size() && trim(lines[k]).empty() && blanks < 2; ++k, ++blanks) {
  }
  Field last = Field::None;
  int fields = 0;
  for (; k < lines.size(); ++k) {
    if (trim(lines[k]).empty()) break;
    std::string value;
    const Field field = label_of(lines[k], &value, &block.portuguese);
    if (field == Field::None) {
      // Outlook wraps long recipient lists onto the next lines.
      if ((last == Field::To || last == Field::Cc) && fields > 0) {
        (last == Field::To ? block.to : block.cc) += " " + std::string(trim(lines[k]));
        continue;
      }
      break;
    }
    ++fields;
    last = field;
    switch (field) {
      case Field::From: if (block.from.empty()) block.from = value; break;
      case Field::Date: if (block.date.empty()) block.date = value; break;
      case Field::To: if (block.to.empty()) block.to = value; break;
      case Field::Cc: if (block.cc.empty()) block.cc = value; break;
      case Field::Subject: if (block.subject.empty()) block.subject = value; break;
      default: break;
    }
  }
  block.end = k;
  block.found = !block.from.empty() && (!block.date.empty() || !block.subject.empty());
  return block;
}

// An Outlook header block without a separator line: "From:" then, within four lines, a date,
// a recipient and a subject label.
bool is_outlook_block(const std::vector<std::string_view>& lines, std::size_t i) {
  std::string value;
  if (label_of(lines[i], &value) != Field::From) return false;
  bool date = false, to = false, subject = false;
  for (std::size_t k = i + 1; k < lines.size() && k <= i + 5; ++k) {
    const Field f = label_of(lines[k], nullptr);
    date = date || f == Field::Date;
    to = to || f == Field::To;
    subject = subject || f == Field::Subject;
  }
  return date && (to || subject);
}

// "João Silva [mailto:joao@x.com]", "João <joao@x.com>", "joao@x.com", "\"Silva, João\" <…>",
// "João Silva <joao@x.com <mailto:joao@x.com>>" (Outlook HTML made text).
Address read_sender(const std::string& value) {
  std::string v = value;
  // Outlook writes the address as "[mailto:…]" and its HTML becomes "<mailto:…>" in text.
  for (const char* marker : {"[mailto:", "<mailto:"}) {
    const std::size_t at = ascii::ifind(v, marker);
    if (at != std::string::npos) {
      const std::size_t close = v.find_first_of("]>", at);
      const std::string address = v.substr(at + 8, close == std::string::npos ? std::string::npos : close - at - 8);
      std::string name = std::string(trim(v.substr(0, at)));
      const std::size_t lt = name.find('<');
      if (lt != std::string::npos) name = std::string(trim(name.substr(0, lt)));
      v = (name.empty() ? "" : "\"" + name + "\" ") + "<" + std::string(trim(address)) + ">";
      break;
    }
  }
  std::vector<Address> list = parse_address_list(v);
  for (auto& a : list) {
    if (a.address.find('@') == std::string::npos) continue;
    std::string name = std::string(trim(a.name));
    while (!name.empty() && (name.front() == '"' || name.front() == '\'' || name.front() == '*')) name.erase(0, 1);
    while (!name.empty() && (name.back() == '"' || name.back() == '\'' || name.back() == '*')) name.pop_back();
    if (iequals(name, a.address)) name.clear();
    return {a.address, name};
  }
  return {};
}

std::vector<Address> read_recipients(const std::string& value) {
  std::string v;
  // Outlook separates with ";" and may carry "[mailto:…]" per entry.
  for (char c : value) v += c == ';' ? ',' : c;
  std::vector<Address> out;
  std::size_t start = 0;
  while (start <= v.size()) {
    const std::size_t comma = v.find(',', start);
    const std::string piece = v.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    Address a = read_sender(piece);
    if (!a.address.empty()) out.push_back(a);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

// ---- dates as mail clients print them in a forward's header block

int month_of(std::string_view word) {
  if (word.size() < 3) return 0;
  const std::string_view w = word.substr(0, 3);
  static const char* const en[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
  static const char* const pt[] = {"jan", "fev", "mar", "abr", "mai", "jun", "jul", "ago", "set", "out", "nov", "dez"};
  for (int i = 0; i < 12; ++i)
    if (iequals(w, en[i]) || iequals(w, pt[i])) return i + 1;
  return 0;
}

bool digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

// The value of one to six digits; 999999 (outside every range checked) for anything else, so a
// giant number in a forwarded header never throws.
int number(std::string_view s) {
  if (s.empty() || s.size() > 6 || !digits(s)) return 999999;
  int n = 0;
  for (char c : s) n = n * 10 + (c - '0');
  return n;
}

// "+0300", "-03:00", "GMT-3", "UTC+01:00", "(GMT-03:00)", "GMT", "UTC", "BRT": seconds east of UTC.
std::optional<int> zone_of(std::string word) {
  word = ascii::lower(word);
  while (!word.empty() && (word.front() == '(' || word.front() == '[')) word.erase(0, 1);
  while (!word.empty() && (word.back() == ')' || word.back() == ']')) word.pop_back();
  if (word == "gmt" || word == "utc" || word == "z") return 0;
  if (word == "brt") return -3 * 3600;
  if (word == "brst") return -2 * 3600;
  if (starts_with(word, "gmt") || starts_with(word, "utc")) word = word.substr(3);
  if (word.size() < 2 || (word[0] != '+' && word[0] != '-')) return std::nullopt;
  const int sign = word[0] == '-' ? -1 : 1;
  std::string rest = word.substr(1);
  int hours = 0, minutes = 0;
  if (const std::size_t colon = rest.find(':'); colon != std::string::npos) {
    if (!digits(rest.substr(0, colon)) || !digits(rest.substr(colon + 1))) return std::nullopt;
    hours = number(rest.substr(0, colon));
    minutes = number(rest.substr(colon + 1));
  } else if (digits(rest) && rest.size() <= 2) {
    hours = number(rest);
  } else if (digits(rest) && rest.size() == 4) {
    hours = number(rest.substr(0, 2));
    minutes = number(rest.substr(2));
  } else {
    return std::nullopt;
  }
  if (hours > 14 || minutes > 59) return std::nullopt;
  return sign * (hours * 3600 + minutes * 60);
}

// Outlook: "Monday, November 23, 2026 10:15 AM", "segunda-feira, 23 de novembro de 2026 10:15";
// Gmail: "Mon, Nov 23, 2026 at 10:15 AM", "seg., 23 de nov. de 2026 às 10:15"; Thunderbird and
// Apple: RFC 5322 or "23 November 2026 at 10:15:00 GMT-3"; numeric "23/11/2026 10:15".
std::optional<std::int64_t> read_client_date(const std::string& text, bool day_first, int default_offset) {
  std::vector<std::string> words;
  std::string word;
  for (char c : text) {
    if (c == ' ' || c == ',' || c == '\t') {
      if (!word.empty()) words.push_back(word);
      word.clear();
    } else {
      word += c;
    }
  }
  if (!word.empty()) words.push_back(word);

  int year = 0, month = 0, day = 0, hour = -1, minute = 0, second = 0;
  std::optional<int> zone;
  bool pm = false, am = false;
  for (std::string w : words) {
    while (!w.empty() && w.back() == '.') w.pop_back();
    const std::string l = ascii::lower(w);
    if (l.empty()) continue;
    if (l == "am" || l == "a.m") { am = true; continue; }
    if (l == "pm" || l == "p.m") { pm = true; continue; }
    if (hour < 0 && l.find(':') != std::string::npos && std::isdigit(static_cast<unsigned char>(l[0]))) {
      const std::size_t c1 = l.find(':');
      const std::size_t c2 = l.find(':', c1 + 1);
      if (!digits(l.substr(0, c1)) || !digits(l.substr(c1 + 1, c2 == std::string::npos ? std::string::npos : c2 - c1 - 1)))
        continue;
      hour = number(l.substr(0, c1));
      minute = number(l.substr(c1 + 1, 2));
      if (c2 != std::string::npos && digits(l.substr(c2 + 1, 2))) second = number(l.substr(c2 + 1, 2));
      continue;
    }
    if (l.find('/') != std::string::npos || (l.size() == 10 && l[4] == '-' && l[7] == '-')) {
      const char sep = l.find('/') != std::string::npos ? '/' : '-';
      std::vector<std::string> parts;
      std::size_t start = 0;
      while (true) {
        const std::size_t s = l.find(sep, start);
        parts.push_back(l.substr(start, s == std::string::npos ? std::string::npos : s - start));
        if (s == std::string::npos) break;
        start = s + 1;
      }
      if (parts.size() == 3 && digits(parts[0]) && digits(parts[1]) && digits(parts[2])) {
        if (parts[0].size() == 4) {
          year = number(parts[0]), month = number(parts[1]), day = number(parts[2]);
        } else if (day_first) {
          day = number(parts[0]), month = number(parts[1]), year = number(parts[2]);
        } else {
          month = number(parts[0]), day = number(parts[1]), year = number(parts[2]);
        }
        if (year < 100) year += 2000;
      }
      continue;
    }
    if (auto z = zone_of(l)) { zone = z; continue; }
    if (digits(l)) {
      if (l.size() == 4 && year == 0) year = number(l);
      else if (l.size() <= 2 && day == 0) day = number(l);
      continue;
    }
    if (month == 0 && std::isalpha(static_cast<unsigned char>(l[0])))
      if (const int m = month_of(l); m && (l.size() <= 4 || l.find('-') == std::string::npos)) month = m;
  }
  if (year < 1970 || year > 2200 || month < 1 || month > 12 || day < 1 || day > 31) return std::nullopt;
  if (hour < 0) hour = 0;
  if (pm && hour < 12) hour += 12;
  if (am && hour == 12) hour = 0;
  if (hour > 23 || minute > 59 || second > 60) return std::nullopt;
  const std::int64_t local = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
                             hour * 3600 + minute * 60 + second;
  return local - zone.value_or(default_offset);
}

// The zone of the forward's own Date header ("… -0300"), in seconds east of UTC; 0 when none.
int offset_of_date_header(const ParsedMessage& message) {
  const std::string* date = message.header("Date");
  if (!date) return 0;
  std::string_view v = trim(*date);
  const std::size_t paren = v.find('(');
  if (paren != std::string_view::npos) v = trim(v.substr(0, paren));
  const std::size_t space = v.rfind(' ');
  const std::string last(space == std::string_view::npos ? v : v.substr(space + 1));
  return zone_of(last).value_or(0);
}

std::string without_prefixes(const std::string& subject) {
  std::string s(trim(subject));
  for (int n = 0; n < 10; ++n) {
    const std::string_view p = first_prefix(s);
    if (p.empty() || (!is_forward_subject(s) && !is_reply_subject(s))) break;
    s = std::string(trim(s.substr(s.find(':') + 1)));
  }
  return s;
}

std::optional<ForwardedMessage> inline_forward(const ParsedMessage& message) {
  const std::vector<std::string_view> lines = split_lines(message.text);
  const bool forward_subject = is_forward_subject(message.subject);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    // The first quoting structure decides: a reply's quote or attribution means no forward.
    if (is_quote_line(lines[i]) || is_attribution_at(lines, i)) return std::nullopt;
    const Separator sep = separator_of(lines[i]);
    std::size_t block_start = 0;
    std::string format;
    if (sep == Separator::Gmail || sep == Separator::Thunderbird || sep == Separator::Apple) {
      block_start = i + 1;
      format = sep == Separator::Gmail ? "gmail" : sep == Separator::Thunderbird ? "thunderbird" : "apple";
    } else if (sep == Separator::Outlook || is_outlook_block(lines, i)) {
      // Outlook writes the same block for a reply and a forward: only the subject tells them apart.
      if (!forward_subject) return std::nullopt;
      block_start = sep == Separator::Outlook ? i + 1 : i;
      format = "outlook";
    } else {
      continue;
    }
    const HeaderBlock block = read_block(lines, block_start);
    if (!block.found) return std::nullopt;
    ForwardedMessage f;
    f.kind = ForwardedMessage::Kind::Inline;
    f.format = format;
    f.from = read_sender(block.from);
    if (f.from.address.empty()) return std::nullopt;
    f.to = read_recipients(block.to);
    f.cc = read_recipients(block.cc);
    f.subject = block.subject.empty() ? without_prefixes(message.subject) : block.subject;
    f.date_text = block.date;
    if (!block.date.empty()) {
      f.date = read_client_date(block.date, block.portuguese, offset_of_date_header(message));
      if (!f.date) f.date = parse_mail_date(block.date);
    }
    f.text = join_lines(lines, block.end, lines.size());
    // The note is what stands above the block, without Outlook's rule line.
    std::size_t note_end = i;
    while (note_end > 0 && trim(lines[note_end - 1]).empty()) --note_end;
    if (note_end > 0) {
      const std::string_view rule = trim(lines[note_end - 1]);
      if (rule.size() >= 10 && rule.find_first_not_of('_') == std::string_view::npos) --note_end;
    }
    f.note = join_lines(lines, 0, note_end);
    for (const auto& a : message.attachments)
      if (!a.inline_part) f.attachments.push_back(a);
    return f;
  }
  return std::nullopt;
}

std::optional<ForwardedMessage> attached_forward(const ParsedMessage& message) {
  if (message.is_bounce || !is_forward_subject(message.subject)) return std::nullopt;
  for (const auto& a : message.attachments) {
    if (a.content_type != "message/rfc822" && a.content_type != "message/global") continue;
    const ParsedMessage inner = parse_message(a.data);
    if (inner.from.address.find('@') == std::string::npos) return std::nullopt;
    ForwardedMessage f;
    f.kind = ForwardedMessage::Kind::Attached;
    f.format = "attached";
    f.from = inner.from;
    f.to = inner.to;
    f.cc = inner.cc;
    f.subject = inner.subject.empty() ? without_prefixes(message.subject) : inner.subject;
    f.date = inner.date;
    if (const std::string* d = inner.header("Date")) f.date_text = *d;
    f.message_id = inner.message_id;
    f.text = inner.text;
    f.html = inner.html;
    f.attachments = inner.attachments;
    f.note = message.text;
    return f;
  }
  return std::nullopt;
}

}  // namespace

bool is_forward_subject(const std::string& subject) {
  const std::string_view p = first_prefix(subject);
  for (std::string_view prefix : {"fwd", "fw", "enc", "tr", "wg", "rv"})
    if (iequals(p, prefix)) return true;
  return false;
}

bool is_reply_subject(const std::string& subject) {
  const std::string_view p = first_prefix(subject);
  for (std::string_view prefix : {"re", "res", "aw", "sv", "vs", "antw", "r", "ref"})
    if (iequals(p, prefix)) return true;
  return false;
}

std::optional<ForwardedMessage> find_forwarded_message(const ParsedMessage& message) {
  if (is_reply_subject(message.subject)) return std::nullopt;
  if (auto f = inline_forward(message)) return f;
  return attached_forward(message);
}

}  // namespace atendd

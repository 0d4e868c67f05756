// address_list.cpp — a forgiving RFC 5322 address-list reader.
// Display names are decoded; addresses are kept exactly as written (only whitespace collapsed,
// stray brackets removed) and never RFC 2047-decoded. Linear in the input, never throws.
#include "parsers/address_list.h"

#include <cctype>

#include "parsers/encoded_words.h"

namespace atendd {
namespace {

enum class Kind { Atom, Quoted, Comment, Angle };

struct Token {
  Kind kind;
  std::string text;          // atoms/angle: raw; quoted/comment: content without delimiters
  bool space_before = false;  // whitespace stood between this token and the previous one
};

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string collapse_blanks(std::string_view s) {
  std::string out;
  bool blank = false;
  for (char c : s) {
    if (is_blank(c)) {
      blank = true;
      continue;
    }
    if (blank && !out.empty()) out += ' ';
    blank = false;
    out += c;
  }
  return out;
}

// Splits an address list at top-level commas; group names ("team: a@b, c@d;") are dropped.
std::vector<std::string_view> split_entries(std::string_view value) {
  std::vector<std::string_view> entries;
  std::size_t start = 0;
  int comment_depth = 0;
  bool quoted = false, angle = false, seen_at = false;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (quoted) {
      if (c == '\\') ++i;
      else if (c == '"') quoted = false;
      continue;
    }
    if (comment_depth > 0) {
      if (c == '\\') ++i;
      else if (c == '(') ++comment_depth;
      else if (c == ')') --comment_depth;
      continue;
    }
    if (c == '=' && i + 1 < value.size() && value[i + 1] == '?') {
      const std::size_t n = encoded_word_length(value, i);
      if (n > 0) {
        i += n - 1;
        continue;
      }
    }
    switch (c) {
      case '"': quoted = true; break;
      case '(': comment_depth = 1; break;
      case '<': angle = true; break;
      case '>': angle = false; break;
      case '@': seen_at = true; break;
      case ':':
        // A group's display name ends at the first top-level colon before any address.
        if (!angle && !seen_at) start = i + 1;
        break;
      case ',':
      case ';':
        if (!angle) {
          entries.push_back(value.substr(start, i - start));
          start = i + 1;
          seen_at = false;
        }
        break;
      default: break;
    }
  }
  entries.push_back(value.substr(start));
  return entries;
}

std::vector<Token> tokenize(std::string_view entry) {
  std::vector<Token> tokens;
  bool space = false;
  auto push = [&](Kind kind, std::string text) {
    tokens.push_back(Token{kind, std::move(text), space});
    space = false;
  };
  std::size_t i = 0;
  while (i < entry.size()) {
    const char c = entry[i];
    if (is_blank(c)) {
      space = true;
      ++i;
    } else if (c == '"') {
      std::string text;
      ++i;
      while (i < entry.size() && entry[i] != '"') {
        if (entry[i] == '\\' && i + 1 < entry.size()) ++i;
        text += entry[i++];
      }
      ++i;  // closing quote (or past the end)
      push(Kind::Quoted, std::move(text));
    } else if (c == '(') {
      std::string text;
      int depth = 1;
      ++i;
      while (i < entry.size()) {
        if (entry[i] == '\\' && i + 1 < entry.size()) {
          text += entry[i + 1];
          i += 2;
          continue;
        }
        if (entry[i] == '(') ++depth;
        if (entry[i] == ')' && --depth == 0) break;
        text += entry[i++];
      }
      ++i;
      push(Kind::Comment, std::move(text));
    } else if (c == '<') {
      const std::size_t close = entry.find('>', i + 1);
      const std::size_t end = close == std::string_view::npos ? entry.size() : close;
      push(Kind::Angle, std::string(entry.substr(i + 1, end - i - 1)));
      i = close == std::string_view::npos ? entry.size() : close + 1;
    } else {
      std::string text;
      while (i < entry.size() && !is_blank(entry[i]) && entry[i] != '"' && entry[i] != '(' &&
             entry[i] != '<') {
        if (entry[i] == '=' && i + 1 < entry.size() && entry[i + 1] == '?') {
          const std::size_t n = encoded_word_length(entry, i);
          if (n > 0) {
            text.append(entry.substr(i, n));
            i += n;
            continue;
          }
        }
        text += entry[i++];
      }
      // An atom glued to a following quoted string or angle keeps no space flag in between.
      push(Kind::Atom, std::move(text));
    }
  }
  return tokens;
}

bool needs_quotes(std::string_view local) {
  if (local.empty()) return true;
  for (char c : local) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x80) continue;
    if (std::isalnum(u)) continue;
    if (std::string_view("!#$%&'*+-/=?^_`{|}~.").find(c) != std::string_view::npos) continue;
    return true;
  }
  return false;
}

std::string quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

// Removes stray angle brackets and blanks around an address.
std::string clean_address(std::string_view raw, std::vector<std::string>* defects) {
  std::string address = collapse_blanks(raw);
  bool stray = false;
  while (!address.empty() && (address.back() == '>' || address.back() == '<')) {
    address.pop_back();
    stray = true;
  }
  while (!address.empty() && (address.front() == '<' || address.front() == '>')) {
    address.erase(address.begin());
    stray = true;
  }
  if (stray && defects) defects->push_back("stray angle bracket in address");
  // Obsolete source route: "<@relay1,@relay2:user@example.com>".
  if (!address.empty() && address.front() == '@') {
    if (const auto colon = address.find(':'); colon != std::string::npos) address.erase(0, colon + 1);
  }
  return address;
}

std::string decode_name(std::string phrase, std::string_view fallback_charset) {
  std::string name = collapse_blanks(decode_header_text(phrase, fallback_charset));
  // Names wrapped twice in quotes ("'John'" or "\"John\"") keep no outer quotes.
  if (name.size() >= 2 && ((name.front() == '"' && name.back() == '"') ||
                           (name.front() == '\'' && name.back() == '\''))) {
    name = name.substr(1, name.size() - 2);
  }
  return collapse_blanks(name);
}

// The text of the tokens in [begin, end) (no comments), with blanks where the input had them.
std::string phrase_text(const std::vector<Token>& tokens, std::size_t begin, std::size_t end, bool requote) {
  std::string out;
  for (std::size_t k = begin; k < end; ++k) {
    const Token& t = tokens[k];
    if (t.kind == Kind::Comment || t.kind == Kind::Angle) continue;
    if (!out.empty() && t.space_before) out += ' ';
    if (t.kind == Kind::Quoted && requote && needs_quotes(t.text)) {
      out += quote(t.text);
    } else {
      out += t.text;
    }
  }
  return out;
}

std::optional<Address> parse_entry(std::string_view entry, std::string_view fallback_charset,
                                   std::vector<std::string>* defects) {
  const std::vector<Token> tokens = tokenize(entry);
  if (tokens.empty()) return std::nullopt;

  std::string first_comment;
  for (const auto& t : tokens)
    if (t.kind == Kind::Comment && first_comment.empty()) first_comment = t.text;

  for (std::size_t k = 0; k < tokens.size(); ++k) {
    if (tokens[k].kind != Kind::Angle) continue;
    Address address;
    address.address = clean_address(tokens[k].text, defects);
    std::string phrase = phrase_text(tokens, 0, k, /*requote=*/false);
    if (phrase.empty()) phrase = first_comment;
    address.name = decode_name(phrase, fallback_charset);
    if (address.address.empty() && address.name.empty()) return std::nullopt;
    return address;
  }

  // No angle brackets: an addr-spec, perhaps with a comment as name, perhaps "Name addr@host".
  // Group the non-comment tokens into blank-separated words.
  std::vector<std::pair<std::size_t, std::size_t>> words;  // token ranges
  for (std::size_t k = 0; k < tokens.size(); ++k) {
    if (tokens[k].kind == Kind::Comment) continue;
    if (words.empty() || tokens[k].space_before || tokens[k - 1].kind == Kind::Comment)
      words.emplace_back(k, k + 1);
    else
      words.back().second = k + 1;
  }
  Address address;
  if (words.empty()) {
    address.name = decode_name(first_comment, fallback_charset);
    if (address.name.empty()) return std::nullopt;
    return address;
  }
  auto word_text = [&](std::size_t w) {
    return phrase_text(tokens, words[w].first, words[w].second, /*requote=*/true);
  };
  auto has_at = [&](std::size_t w) { return word_text(w).find('@') != std::string::npos; };
  std::size_t at_words = 0;
  for (std::size_t w = 0; w < words.size(); ++w)
    if (has_at(w)) ++at_words;

  if (at_words == 0) {
    // "Name (user@example.com)": the address only in a comment.
    for (const auto& t : tokens) {
      const std::string inside = collapse_blanks(t.text);
      if (t.kind == Kind::Comment && inside.find('@') != std::string::npos &&
          inside.find(' ') == std::string::npos && inside.find("=?") == std::string::npos) {
        address.address = clean_address(inside, defects);
        address.name = decode_name(phrase_text(tokens, 0, tokens.size(), false), fallback_charset);
        if (defects) defects->push_back("address inside a comment");
        return address;
      }
    }
    // No address at all ("undisclosed-recipients", "MAILER-DAEMON", junk): a name only.
    address.name = decode_name(phrase_text(tokens, 0, tokens.size(), false), fallback_charset);
    if (defects) defects->push_back("address without @");
    if (address.name.empty()) return std::nullopt;
    return address;
  }
  if (words.size() > 1 && at_words == 1 && has_at(words.size() - 1)) {
    // "Name addr@host" without angle brackets.
    address.address = clean_address(word_text(words.size() - 1), defects);
    address.name = decode_name(phrase_text(tokens, 0, words.back().first, false), fallback_charset);
    if (defects) defects->push_back("address without angle brackets");
    return address;
  }
  // One addr-spec, possibly with blanks inside its local part ("power quadrant system@x").
  std::string spec;
  for (std::size_t w = 0; w < words.size(); ++w) {
    if (!spec.empty()) spec += ' ';
    spec += word_text(w);
  }
  address.address = clean_address(spec, defects);
  address.name = decode_name(first_comment, fallback_charset);
  return address;
}

}  // namespace

std::vector<Address> parse_address_list(std::string_view value, std::string_view fallback_charset,
                                        std::vector<std::string>* defects) {
  std::vector<Address> out;
  // A header with thousands of recipients is still read, but not without bound.
  constexpr std::size_t kMaxEntries = 2000;
  for (std::string_view entry : split_entries(value)) {
    if (out.size() >= kMaxEntries) {
      if (defects) defects->push_back("too many addresses");
      break;
    }
    if (auto address = parse_entry(entry, fallback_charset, defects)) out.push_back(std::move(*address));
  }
  return out;
}

std::string domain_of(const std::string& address) {
  const auto at = address.rfind('@');
  if (at == std::string::npos) return "";
  std::string domain = address.substr(at + 1);
  for (char& c : domain)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return domain;
}

}  // namespace atendd

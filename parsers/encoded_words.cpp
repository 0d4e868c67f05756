// encoded_words.cpp — RFC 2047 decoding and RFC 2231 parameter parsing, to UTF-8.
// Tolerates what real mail does (spaces inside Q words, extra base64 padding, words split inside
// a multi-byte character); keeps what it cannot decode as written.
#include "parsers/encoded_words.h"

#include <algorithm>
#include <cctype>
#include <map>

#include "parsers/ascii_case.h"
#include "parsers/charset.h"
#include "parsers/transfer_encoding.h"

namespace atendd {
namespace {

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

struct EncodedWord {
  std::size_t length = 0;
  std::string charset;
  std::string bytes;
};

// Where an encoded word's parts are, before anything is decoded.
struct EncodedWordSpan {
  std::size_t length = 0;  // 0: no encoded word here
  std::string_view charset;
  char encoding = 0;  // 'B' or 'Q'
  std::string_view text;
};

EncodedWordSpan locate_encoded_word(std::string_view value, std::size_t pos) {
  EncodedWordSpan word;
  if (pos + 8 > value.size() || value[pos] != '=' || value[pos + 1] != '?') return word;
  std::size_t i = pos + 2;
  const std::size_t charset_start = i;
  while (i < value.size() && value[i] != '?' && !is_blank(value[i]) && i - charset_start < 64) ++i;
  if (i >= value.size() || value[i] != '?' || i == charset_start) return word;
  const std::string_view charset = value.substr(charset_start, i - charset_start);
  ++i;
  if (i + 1 >= value.size() || value[i + 1] != '?') return word;
  const char encoding = ascii::to_upper(value[i]);
  if (encoding != 'B' && encoding != 'Q') return word;
  i += 2;
  const std::size_t text_start = i;
  // Encoded text runs to "?="; no '?' inside, no line breaks, bounded length.
  while (i < value.size() && value[i] != '?' && value[i] != '\r' && value[i] != '\n' &&
         i - text_start < 8192)
    ++i;
  if (i + 1 >= value.size() || value[i] != '?' || value[i + 1] != '=') return word;
  word.charset = charset;
  word.encoding = encoding;
  word.text = value.substr(text_start, i - text_start);
  word.length = i + 2 - pos;
  return word;
}

EncodedWord parse_encoded_word(std::string_view value, std::size_t pos) {
  EncodedWord word;
  const EncodedWordSpan span = locate_encoded_word(value, pos);
  if (span.length == 0) return word;
  const std::string_view text = span.text;
  if (span.encoding == 'B') {
    word.bytes = decode_base64(text);  // skips blanks inside the word
  } else {
    word.bytes = decode_quoted_printable(text, /*header_q=*/true);
  }
  std::string_view cs = span.charset;
  if (const auto star = cs.find('*'); star != std::string_view::npos) cs = cs.substr(0, star);  // RFC 2231 §5
  word.charset = ascii::lower(cs);
  word.length = span.length;
  return word;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// A plain (non-RFC 2231) parameter value: Outlook's encoded words, or raw 8-bit bytes.
std::string decode_plain_param(std::string_view value, std::string_view fallback_charset) {
  if (value.find("=?") != std::string_view::npos) return decode_header_text(value, fallback_charset);
  if (!is_ascii(value)) return guess_to_utf8(value, fallback_charset);
  return std::string(value);
}

}  // namespace

std::size_t encoded_word_length(std::string_view value, std::size_t pos) {
  return locate_encoded_word(value, pos).length;
}

std::string decode_header_text(std::string_view value, std::string_view fallback_charset) {
  // Most header values (Received, DKIM-Signature, ids…) hold no encoded word at all.
  if (value.find("=?") == std::string_view::npos)
    return is_ascii(value) ? std::string(value) : guess_to_utf8(value, fallback_charset);
  std::string out;
  out.reserve(value.size());
  std::string run_bytes;    // bytes of adjacent encoded words in one charset, converted together
  std::string run_charset;
  bool previous_was_word = false;

  auto flush_run = [&] {
    if (!run_bytes.empty()) out += to_utf8(run_bytes, run_charset);
    run_bytes.clear();
    run_charset.clear();
  };
  std::size_t literal_start = 0;
  auto flush_literal = [&](std::size_t end) {
    if (end <= literal_start) return;
    const std::string_view literal = value.substr(literal_start, end - literal_start);
    if (is_ascii(literal)) out.append(literal);
    else out += guess_to_utf8(literal, fallback_charset);
  };

  std::size_t i = 0;
  while (i < value.size()) {
    if (!previous_was_word) {
      // Nothing happens before the next "=?": go there at once.
      i = value.find("=?", i);
      if (i == std::string_view::npos) break;
    }
    if (value[i] == '=' && i + 1 < value.size() && value[i + 1] == '?') {
      EncodedWord word = parse_encoded_word(value, i);
      if (word.length > 0) {
        // Text since the last encoded word: dropped when it is only whitespace between words.
        const std::string_view between = value.substr(literal_start, i - literal_start);
        const bool only_blank = trim(between).empty();
        if (!(previous_was_word && only_blank)) {
          flush_run();
          flush_literal(i);
        }
        if (!run_bytes.empty() && word.charset != run_charset) flush_run();
        run_charset = word.charset;
        run_bytes += word.bytes;
        previous_was_word = true;
        i += word.length;
        literal_start = i;
        continue;
      }
    }
    if (!is_blank(value[i]) && previous_was_word) {
      // Real text after a word ends the run.
      flush_run();
      previous_was_word = false;
    }
    ++i;
  }
  flush_run();
  flush_literal(value.size());
  return out;
}

std::string MimeField::param(std::string_view name) const {
  for (const auto& [key, val] : params)
    if (key == name) return val;
  return {};
}

bool MimeField::has_param(std::string_view name) const {
  return std::any_of(params.begin(), params.end(), [&](const auto& p) { return p.first == name; });
}

MimeField parse_mime_field(std::string_view raw, std::string_view fallback_charset) {
  MimeField field;
  // Split at ';' outside quoted strings.
  std::vector<std::string_view> pieces;
  {
    std::size_t start = 0;
    bool quoted = false;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      const char c = raw[i];
      if (quoted && c == '\\') {
        ++i;
      } else if (c == '"') {
        quoted = !quoted;
      } else if (c == ';' && !quoted) {
        pieces.push_back(raw.substr(start, i - start));
        start = i + 1;
      }
    }
    pieces.push_back(raw.substr(start));
  }
  {
    std::string_view first = trim(pieces.front());
    if (const auto paren = first.find('('); paren != std::string_view::npos)  // "text/plain (comment)"
      first = trim(first.substr(0, paren));
    // Some senders put no ';' before the first parameter: "text/plain charset=utf-8".
    const auto blank = first.find_first_of(" \t");
    if (blank != std::string_view::npos && first.find('=', blank) != std::string_view::npos) {
      pieces.insert(pieces.begin() + 1, first.substr(blank + 1));
      first = first.substr(0, blank);
    }
    field.value = ascii::lower(trim(first));
  }

  struct Segment {
    bool extended = false;
    std::string value;
  };
  // base name -> (index -> segment); index -1 marks a plain "name=" / "name*=" value.
  std::map<std::string, std::map<int, Segment>> continuations;
  std::vector<std::string> order;

  for (std::size_t p = 1; p < pieces.size(); ++p) {
    const std::string_view piece = trim(pieces[p]);
    const auto eq = piece.find('=');
    if (eq == std::string_view::npos) continue;
    std::string name = ascii::lower(trim(piece.substr(0, eq)));
    std::string_view rest = trim(piece.substr(eq + 1));
    std::string value;
    if (!rest.empty() && rest.front() == '"') {
      for (std::size_t i = 1; i < rest.size(); ++i) {
        if (rest[i] == '\\' && i + 1 < rest.size()) {
          value += rest[++i];
        } else if (rest[i] == '"') {
          break;
        } else {
          value += rest[i];
        }
      }
    } else {
      value = std::string(rest);
    }
    if (name.empty()) continue;
    bool extended = false;
    if (name.back() == '*') {
      extended = true;
      name.pop_back();
    }
    int index = -1;
    if (const auto star = name.rfind('*'); star != std::string::npos) {
      const std::string digits = name.substr(star + 1);
      if (!digits.empty() && digits.size() < 4 &&
          std::all_of(digits.begin(), digits.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
        index = std::stoi(digits);
        name.erase(star);
      }
    }
    if (continuations.find(name) == continuations.end()) order.push_back(name);
    auto& segments = continuations[name];
    // A plain "filename=" next to a "filename*=": the RFC 2231 form wins.
    const int key = index < 0 ? (extended ? -1 : -2) : index;
    if (segments.find(key) == segments.end()) segments[key] = Segment{extended, std::move(value)};
  }

  for (const auto& name : order) {
    const auto& segments = continuations[name];
    std::string decoded;
    bool have_numbered = false;
    for (const auto& [index, segment] : segments)
      if (index >= 0) have_numbered = true;
    if (have_numbered || segments.count(-1)) {
      std::string bytes;
      std::string charset;
      bool first = true;
      bool any_extended = false;
      for (const auto& [index, segment] : segments) {
        if (index == -2) continue;
        if (!have_numbered && index != -1) continue;
        if (have_numbered && index < 0) continue;
        std::string_view v = segment.value;
        if (segment.extended) {
          any_extended = true;
          if (first) {
            // charset'language'value
            const auto q1 = v.find('\'');
            const auto q2 = q1 == std::string_view::npos ? q1 : v.find('\'', q1 + 1);
            if (q2 != std::string_view::npos) {
              charset = std::string(v.substr(0, q1));
              v = v.substr(q2 + 1);
            }
          }
          bytes += percent_decode(v);
        } else {
          bytes += std::string(v);
        }
        first = false;
      }
      if (any_extended || !charset.empty()) {
        decoded = charset.empty() ? to_utf8(bytes, "us-ascii") : to_utf8(bytes, charset);
      } else {
        decoded = decode_plain_param(bytes, fallback_charset);
      }
    } else if (segments.count(-2)) {
      decoded = decode_plain_param(segments.at(-2).value, fallback_charset);
    }
    field.params.emplace_back(name, std::move(decoded));
  }
  return field;
}

}  // namespace atendd

// transfer_encoding.cpp — base64, quoted-printable and uuencode decoding for mail bodies.
// Linear in the input and never reads past it; damaged input decodes as far as it can.
#include "parsers/transfer_encoding.h"

#include <cctype>

namespace atendd {
namespace {

int base64_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;  // '-' and '_': the URL-safe alphabet some senders use
  if (c == '/' || c == '_') return 63;
  return -1;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Splits into lines without their line ending.
template <typename Fn>
void for_each_line(std::string_view text, Fn&& fn) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    std::size_t end = nl == std::string_view::npos ? text.size() : nl;
    std::size_t next = nl == std::string_view::npos ? text.size() : nl + 1;
    std::string_view line = text.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!fn(line, pos, next)) return;
    pos = next;
  }
}

// Decodes one uuencoded line into `out`; false when the line is not uuencoded data.
bool decode_uu_line(std::string_view line, std::string& out) {
  if (line.empty()) return false;
  const int n = (static_cast<unsigned char>(line[0]) - 0x20) & 0x3F;
  if (n == 0) return true;
  auto value = [&](std::size_t i) -> int {
    if (i >= line.size()) return 0;
    return (static_cast<unsigned char>(line[i]) - 0x20) & 0x3F;
  };
  std::string decoded;
  for (std::size_t i = 1; decoded.size() < static_cast<std::size_t>(n); i += 4) {
    if (i >= line.size() + 4) return false;
    const int a = value(i), b = value(i + 1), c = value(i + 2), d = value(i + 3);
    decoded += static_cast<char>((a << 2) | (b >> 4));
    decoded += static_cast<char>(((b & 0x0F) << 4) | (c >> 2));
    decoded += static_cast<char>(((c & 0x03) << 6) | d);
  }
  decoded.resize(static_cast<std::size_t>(n));
  out += decoded;
  return true;
}

// "begin 644 name" -> name; false when the line is not a begin line.
bool parse_begin_line(std::string_view line, std::string* name) {
  if (line.substr(0, 6) != "begin ") return false;
  std::size_t i = 6;
  std::size_t digits = 0;
  while (i < line.size() && line[i] >= '0' && line[i] <= '7') {
    ++i;
    ++digits;
  }
  if (digits < 3 || digits > 4 || i >= line.size() || line[i] != ' ') return false;
  std::string_view n = line.substr(i + 1);
  while (!n.empty() && std::isspace(static_cast<unsigned char>(n.back()))) n.remove_suffix(1);
  if (n.empty()) return false;
  if (name) *name = std::string(n);
  return true;
}

}  // namespace

std::string decode_base64(std::string_view text, bool* damaged) {
  std::string out;
  out.reserve(text.size() / 4 * 3 + 3);
  unsigned int accumulator = 0;
  int bits = 0;
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '=') break;
    const int v = base64_value(c);
    if (v < 0) {
      if (damaged && !std::isspace(c)) *damaged = true;
      continue;
    }
    accumulator = (accumulator << 6) | static_cast<unsigned int>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((accumulator >> bits) & 0xFF);
    }
  }
  return out;
}

std::string decode_quoted_printable(std::string_view text, bool header_q) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '_' && header_q) {
      out += ' ';
    } else if (c == '=') {
      if (i + 2 < text.size() && hex_value(text[i + 1]) >= 0 && hex_value(text[i + 2]) >= 0) {
        out += static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
        i += 2;
      } else {
        // Soft line break: "=" then optional blanks then the line end.
        std::size_t j = i + 1;
        while (j < text.size() && (text[j] == ' ' || text[j] == '\t')) ++j;
        if (j < text.size() && text[j] == '\r') ++j;
        if (j < text.size() && text[j] == '\n') {
          i = j;
        } else if (j >= text.size()) {
          i = j;
        } else {
          out += c;  // a lone '=' that is not an escape: keep it
        }
      }
    } else if ((c == ' ' || c == '\t') && !header_q) {
      // Trailing blanks before a line end are transport padding (RFC 2045 6.7 rule 3).
      std::size_t j = i;
      while (j < text.size() && (text[j] == ' ' || text[j] == '\t')) ++j;
      if (j < text.size() && (text[j] == '\r' || text[j] == '\n')) {
        i = j - 1;
      } else {
        out.append(text.substr(i, j - i));
        i = j - 1;
      }
    } else {
      out += c;
    }
  }
  return out;
}

std::vector<UuFile> extract_uuencoded(std::string_view text, std::string* remaining_text) {
  std::vector<UuFile> files;
  std::string remaining;
  if (text.find("begin ") == std::string_view::npos) {
    if (remaining_text) *remaining_text = std::string(text);
    return files;
  }
  bool inside = false;
  UuFile current;
  std::size_t block_start = 0;
  std::size_t copied_to = 0;
  for_each_line(text, [&](std::string_view line, std::size_t pos, std::size_t next) {
    if (!inside) {
      std::string name;
      if ((pos == 0 || text[pos - 1] == '\n') && parse_begin_line(line, &name)) {
        inside = true;
        current = UuFile{name, {}};
        block_start = pos;
      }
      return true;
    }
    if (line == "end") {
      remaining.append(text.substr(copied_to, block_start - copied_to));
      copied_to = next;
      files.push_back(std::move(current));
      current = UuFile{};
      inside = false;
      return true;
    }
    if (line == "`" || line.empty()) return true;
    decode_uu_line(line, current.data);
    return true;
  });
  if (inside && !current.data.empty()) {
    // No "end" line: take what was there.
    remaining.append(text.substr(copied_to, block_start - copied_to));
    copied_to = text.size();
    files.push_back(std::move(current));
  }
  remaining.append(text.substr(copied_to < text.size() ? copied_to : text.size()));
  if (remaining_text) *remaining_text = std::move(remaining);
  return files;
}

std::string decode_uuencode_body(std::string_view text, std::string* name) {
  std::string out;
  bool begun = text.find("begin ") == std::string_view::npos;  // headless: decode every line
  for_each_line(text, [&](std::string_view line, std::size_t, std::size_t) {
    if (!begun) {
      std::string n;
      if (parse_begin_line(line, &n)) {
        begun = true;
        if (name) *name = n;
      }
      return true;
    }
    if (line == "end") return false;
    if (line == "`" || line.empty()) return true;
    decode_uu_line(line, out);
    return true;
  });
  return out;
}

}  // namespace atendd

// transfer_encoding.cpp — base64, quoted-printable and uuencode decoding for mail bodies.
// Linear in the input and never reads past it; damaged input decodes as far as it can.
#include "parsers/transfer_encoding.h"

#include <cctype>

namespace atendd {
namespace {

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
  const std::size_t start = out.size();
  const auto want = static_cast<std::size_t>(n);
  for (std::size_t i = 1; out.size() - start < want; i += 4) {
    if (i >= line.size() + 4) {
      out.resize(start);
      return false;
    }
    const int a = value(i), b = value(i + 1), c = value(i + 2), d = value(i + 3);
    const char bytes[3] = {static_cast<char>((a << 2) | (b >> 4)), static_cast<char>(((b & 0x0F) << 4) | (c >> 2)),
                           static_cast<char>(((c & 0x03) << 6) | d)};
    out.append(bytes, 3);
  }
  out.resize(start + want);
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

namespace {

// Base64 alphabet values; the high bits mark what is not data.
constexpr unsigned char kB64Blank = 0x40;  // white space: skipped silently
constexpr unsigned char kB64Pad = 0x80;    // '=': the end of the data
constexpr unsigned char kB64Junk = 0xC0;   // anything else: skipped, the body is damaged

struct Base64Table {
  unsigned char v[256];
  constexpr Base64Table() : v() {
    for (int c = 0; c < 256; ++c) {
      unsigned char x = kB64Junk;
      if (c >= 'A' && c <= 'Z') x = static_cast<unsigned char>(c - 'A');
      else if (c >= 'a' && c <= 'z') x = static_cast<unsigned char>(c - 'a' + 26);
      else if (c >= '0' && c <= '9') x = static_cast<unsigned char>(c - '0' + 52);
      else if (c == '+' || c == '-') x = 62;  // '-' and '_': the URL-safe alphabet some senders use
      else if (c == '/' || c == '_') x = 63;
      else if (c == '=') x = kB64Pad;
      else if (c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r') x = kB64Blank;
      v[c] = x;
    }
  }
};
constexpr Base64Table kBase64;

struct HexTable {
  signed char v[256];
  constexpr HexTable() : v() {
    for (int c = 0; c < 256; ++c) {
      signed char x = -1;
      if (c >= '0' && c <= '9') x = static_cast<signed char>(c - '0');
      else if (c >= 'A' && c <= 'F') x = static_cast<signed char>(c - 'A' + 10);
      else if (c >= 'a' && c <= 'f') x = static_cast<signed char>(c - 'a' + 10);
      v[c] = x;
    }
  }
};
constexpr HexTable kHex;

// What a byte is to the quoted-printable decoder; the first two classes decode to themselves.
constexpr unsigned char kQpPlain = 0;
constexpr unsigned char kQpLineEnd = 1;    // '\r', '\n'
constexpr unsigned char kQpEquals = 2;
constexpr unsigned char kQpBlank = 3;      // ' ', '\t'
constexpr unsigned char kQpUnderscore = 4;  // a space in RFC 2047 Q words

struct QpClassTable {
  unsigned char v[256];
  constexpr QpClassTable() : v() {
    for (int c = 0; c < 256; ++c) {
      unsigned char x = kQpPlain;
      if (c == '\r' || c == '\n') x = kQpLineEnd;
      else if (c == '=') x = kQpEquals;
      else if (c == ' ' || c == '\t') x = kQpBlank;
      else if (c == '_') x = kQpUnderscore;
      v[c] = x;
    }
  }
};
constexpr QpClassTable kQpClass;

}  // namespace

std::size_t decode_base64_to(std::string_view text, char* out, bool* damaged) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* const end = p + text.size();
  char* o = out;
  unsigned int accumulator = 0;
  int bits = 0;
  while (p < end) {
    if (bits == 0) {
      // Whole groups of four data characters: the bulk of every line.
      while (end - p >= 4) {
        const unsigned int a = kBase64.v[p[0]], b = kBase64.v[p[1]], c = kBase64.v[p[2]], d = kBase64.v[p[3]];
        if ((a | b | c | d) & 0xC0) break;
        const unsigned int v = (a << 18) | (b << 12) | (c << 6) | d;
        o[0] = static_cast<char>(v >> 16);
        o[1] = static_cast<char>((v >> 8) & 0xFF);
        o[2] = static_cast<char>(v & 0xFF);
        o += 3;
        p += 4;
      }
      if (p >= end) break;
    }
    // One character at a time around line breaks, padding and junk.
    const unsigned int v = kBase64.v[*p++];
    if (v == kB64Pad) break;
    if (v & 0xC0) {
      if (damaged && v == kB64Junk) *damaged = true;
      continue;
    }
    accumulator = (accumulator << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      *o++ = static_cast<char>((accumulator >> bits) & 0xFF);
    }
  }
  return static_cast<std::size_t>(o - out);
}

std::string decode_base64(std::string_view text, bool* damaged) {
  std::string out;
  out.resize(text.size() / 4 * 3 + 3);
  out.resize(decode_base64_to(text, out.data(), damaged));
  return out;
}

void decode_base64_in_place(std::string& text, bool* damaged) {
  text.resize(decode_base64_to(text, text.data(), damaged));
}

std::size_t decode_quoted_printable_to(std::string_view text, char* out, bool header_q) {
  const char* p = text.data();
  const char* const end = p + text.size();
  char* o = out;
  auto class_of = [](char c) { return kQpClass.v[static_cast<unsigned char>(c)]; };
  while (p < end) {
    // The bulk: bytes that decode to themselves.
    while (p < end && class_of(*p) <= kQpLineEnd) *o++ = *p++;
    if (p >= end) break;
    const char c = *p;
    const unsigned char kind = class_of(c);
    if (kind == kQpEquals) {
      if (end - p > 2 && kHex.v[static_cast<unsigned char>(p[1])] >= 0 &&
          kHex.v[static_cast<unsigned char>(p[2])] >= 0) {
        *o++ = static_cast<char>(kHex.v[static_cast<unsigned char>(p[1])] * 16 +
                                 kHex.v[static_cast<unsigned char>(p[2])]);
        p += 3;
        continue;
      }
      // Soft line break: "=" then optional blanks then the line end (or the end of the text).
      const char* j = p + 1;
      while (j < end && (*j == ' ' || *j == '\t')) ++j;
      if (j < end && *j == '\r') ++j;
      if (j < end && *j == '\n') {
        p = j + 1;
      } else if (j >= end) {
        p = end;
      } else {
        *o++ = c;  // a lone '=' that is not an escape: keep it
        ++p;
      }
    } else if (kind == kQpUnderscore) {
      *o++ = header_q ? ' ' : c;
      ++p;
    } else if (header_q) {  // a blank
      *o++ = c;
      ++p;
    } else {
      // Trailing blanks before a line end are transport padding (RFC 2045 6.7 rule 3).
      const char* j = p;
      while (j < end && class_of(*j) == kQpBlank) ++j;
      if (j < end && (*j == '\r' || *j == '\n')) {
        p = j;
      } else {
        while (p < j) *o++ = *p++;
      }
    }
  }
  return static_cast<std::size_t>(o - out);
}

std::string decode_quoted_printable(std::string_view text, bool header_q) {
  std::string out;
  out.resize(text.size());
  out.resize(decode_quoted_printable_to(text, out.data(), header_q));
  return out;
}

void decode_quoted_printable_in_place(std::string& text) {
  text.resize(decode_quoted_printable_to(text, text.data(), false));
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

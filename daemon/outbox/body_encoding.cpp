// body_encoding.cpp — one-pass quoted-printable and base64 writers for outgoing mail bodies.
#include "daemon/outbox/body_encoding.h"

#include <array>

namespace atendd {

namespace {

constexpr char kHex[] = "0123456789ABCDEF";
constexpr size_t kMaxLine = 76;  // RFC 2045: encoded lines of at most 76 characters

}  // namespace

// What a byte needs in quoted-printable: kept as it is, kept unless it ends a line (space, tab),
// a line break (CR, LF), or "=XX".
enum ByteClass : unsigned char { kLiteral, kBlank, kBreak, kEncoded };

constexpr std::array<ByteClass, 256> byte_classes() {
  std::array<ByteClass, 256> table{};
  for (int c = 0; c < 256; ++c)
    table[c] = (c >= 33 && c <= 126 && c != '=') ? kLiteral : kEncoded;
  table[' '] = table['\t'] = kBlank;
  table['\r'] = table['\n'] = kBreak;
  return table;
}

void encode_quoted_printable(std::string_view text, std::string& out) {
  // Written through a pointer into room for the worst case (every byte "=XX", plus a soft break
  // per 25 triplets), then trimmed: no per-character capacity checks. Most bytes take the short
  // paths (a literal or "=XX" that fits the line); only a piece that would reach column 76 asks
  // whether its line ends there (the last piece may take the 76th column, any other must leave
  // room for the "=" of a soft break).
  static constexpr std::array<ByteClass, 256> kClass = byte_classes();
  const size_t start = out.size();
  const size_t size = text.size();
  out.resize(start + size * 4 + 8);
  char* w = out.data() + start;
  size_t line = 0;  // characters on the current output line
  const auto* in = reinterpret_cast<const unsigned char*>(text.data());
  auto at_line_end = [&](size_t i) { return i + 1 == size || in[i + 1] == '\r' || in[i + 1] == '\n'; };
  for (size_t i = 0; i < size; ++i) {
    const unsigned char c = in[i];
    ByteClass cls = kClass[c];
    if (cls == kLiteral && line < kMaxLine - 1) {
      *w++ = static_cast<char>(c);
      ++line;
      continue;
    }
    if (cls == kBreak) {
      *w++ = '\r';
      *w++ = '\n';
      line = 0;
      if (c == '\r' && i + 1 < size && in[i + 1] == '\n') ++i;
      continue;
    }
    if (cls == kEncoded && line + 3 <= kMaxLine - 1) {
      *w++ = '=';
      *w++ = kHex[c >> 4];
      *w++ = kHex[c & 15];
      line += 3;
      continue;
    }
    const bool ends_line = at_line_end(i);
    if (cls == kBlank) cls = ends_line ? kEncoded : kLiteral;
    const size_t n = cls == kLiteral ? 1 : 3;
    if (line + n > (ends_line ? kMaxLine : kMaxLine - 1)) {
      *w++ = '=';
      *w++ = '\r';
      *w++ = '\n';
      line = 0;
    }
    if (cls == kLiteral) {
      *w++ = static_cast<char>(c);
    } else {
      *w++ = '=';
      *w++ = kHex[c >> 4];
      *w++ = kHex[c & 15];
    }
    line += n;
  }
  out.resize(static_cast<size_t>(w - out.data()));
}

std::string encode_quoted_printable(std::string_view text) {
  std::string out;
  encode_quoted_printable(text, out);
  return out;
}

void encode_base64_lines(std::string_view data, std::string& out) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  constexpr size_t kGroupsPerLine = 18;  // 72 characters
  const size_t groups = (data.size() + 2) / 3;
  out.reserve(out.size() + groups * 4 + (groups / kGroupsPerLine + 1) * 2);
  const auto* in = reinterpret_cast<const unsigned char*>(data.data());
  size_t i = 0;
  size_t on_line = 0;
  while (i + 3 <= data.size()) {
    const unsigned v = (unsigned(in[i]) << 16) | (unsigned(in[i + 1]) << 8) | in[i + 2];
    const char quad[4] = {kAlphabet[v >> 18], kAlphabet[(v >> 12) & 63], kAlphabet[(v >> 6) & 63], kAlphabet[v & 63]};
    out.append(quad, 4);
    i += 3;
    if (++on_line == kGroupsPerLine && i < data.size()) {
      out += "\r\n";
      on_line = 0;
    }
  }
  const size_t rest = data.size() - i;
  if (rest > 0) {
    const unsigned v = (unsigned(in[i]) << 16) | (rest == 2 ? unsigned(in[i + 1]) << 8 : 0u);
    const char quad[4] = {kAlphabet[v >> 18], kAlphabet[(v >> 12) & 63],
                          rest == 2 ? kAlphabet[(v >> 6) & 63] : '=', '='};
    out.append(quad, 4);
  }
}

}  // namespace atendd

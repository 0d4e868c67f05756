// charset.cpp — iconv-based conversion to UTF-8 with the aliases and wrong labels of real mail.
// Must never lose text silently: an invalid byte becomes U+FFFD, an unknown charset falls back
// to a guess, and every iconv handle is closed on every path.
#include "parsers/charset.h"

#include <iconv.h>
#include <uchardet/uchardet.h>

#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include "parsers/ascii_case.h"

namespace atendd {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// True when none of the 8 bytes at p has its high bit set (one load instead of eight tests).
bool eight_ascii_bytes(const char* p) {
  std::uint64_t word;
  std::memcpy(&word, p, sizeof word);
  return (word & 0x8080808080808080ull) == 0;
}

// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is ill-formed.
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return 1;
  std::size_t len = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    const auto d = static_cast<unsigned char>(s[i + k]);
    if (k == 1 ? (d < lo || d > hi) : (d < 0x80 || d > 0xBF)) return 0;
  }
  return len;
}

// Runs iconv over `bytes`. strict: fail on the first invalid byte. Otherwise each invalid or
// truncated sequence becomes U+FFFD and conversion goes on with the next byte.
std::optional<std::string> run_iconv(std::string_view bytes, const std::string& charset, bool strict,
                                     bool* lossy) {
  iconv_t cd = iconv_open("UTF-8", charset.c_str());
  if (cd == reinterpret_cast<iconv_t>(-1)) return std::nullopt;
  std::string out;
  out.reserve(bytes.size() + bytes.size() / 2 + 16);
  char buffer[8192];
  char* in = const_cast<char*>(bytes.data());
  std::size_t in_left = bytes.size();
  bool failed = false;
  while (true) {
    char* out_ptr = buffer;
    std::size_t out_left = sizeof buffer;
    const bool flushing = in_left == 0;
    const std::size_t rc = flushing ? iconv(cd, nullptr, nullptr, &out_ptr, &out_left)
                                    : iconv(cd, &in, &in_left, &out_ptr, &out_left);
    out.append(buffer, static_cast<std::size_t>(out_ptr - buffer));
    if (rc != static_cast<std::size_t>(-1)) {
      if (flushing) break;
      continue;
    }
    if (errno == E2BIG) continue;
    if (errno == EILSEQ || errno == EINVAL) {
      if (strict || flushing) {
        failed = true;
        break;
      }
      if (lossy) *lossy = true;
      out.append(kReplacement);
      ++in;
      --in_left;
      iconv(cd, nullptr, nullptr, nullptr, nullptr);  // reset shift state
      continue;
    }
    failed = true;
    break;
  }
  iconv_close(cd);
  if (failed && strict) return std::nullopt;
  return out;
}

void append_code_point(std::string& out, unsigned int cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// windows-1252 by table (it is the last-resort reading of anything, so it must be fast); the five
// bytes it leaves undefined are read as their Latin-1 control characters.
std::string windows_1252_to_utf8(std::string_view bytes) {
  static const unsigned short c1[32] = {
      0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
      0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
      0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};
  std::string out;
  out.reserve(bytes.size() + bytes.size() / 2);
  for (char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    append_code_point(out, c >= 0x80 && c <= 0x9F ? c1[c - 0x80] : c);
  }
  return out;
}

bool has_c1_bytes(std::string_view bytes) {
  for (char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x80 && c <= 0x9F) return true;
  }
  return false;
}

std::string detect_charset(std::string_view bytes) {
  uchardet_t ud = uchardet_new();
  if (!ud) return {};
  // A guess needs a sample, not the whole of a big part.
  const std::size_t sample = bytes.size() < 256 * 1024 ? bytes.size() : 256 * 1024;
  std::string result;
  if (uchardet_handle_data(ud, bytes.data(), sample) == 0) {
    uchardet_data_end(ud);
    const char* cs = uchardet_get_charset(ud);
    if (cs) result = cs;
  }
  uchardet_delete(ud);
  return result;
}

}  // namespace

bool is_valid_utf8(std::string_view bytes) {
  for (std::size_t i = 0; i < bytes.size();) {
    if (i + 8 <= bytes.size() && eight_ascii_bytes(bytes.data() + i)) {
      i += 8;
      continue;
    }
    const std::size_t n = utf8_sequence_length(bytes, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

bool is_ascii(std::string_view bytes) {
  std::size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8)
    if (!eight_ascii_bytes(bytes.data() + i)) return false;
  for (; i < bytes.size(); ++i)
    if (static_cast<unsigned char>(bytes[i]) >= 0x80) return false;
  return true;
}

std::string sanitize_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (std::size_t i = 0; i < bytes.size();) {
    const std::size_t n = utf8_sequence_length(bytes, i);
    if (n == 0) {
      out.append(kReplacement);
      ++i;
    } else {
      out.append(bytes.substr(i, n));
      i += n;
    }
  }
  return out;
}

std::string canonical_charset(std::string_view label) {
  // The label's aliases, each with the name iconv knows it by (the common ones first).
  struct Alias {
    std::string_view label;  // lower case
    std::string_view iconv_name;
  };
  static constexpr Alias kAliases[] = {
      {"utf-8", "UTF-8"}, {"us-ascii", "US-ASCII"}, {"iso-8859-1", "ISO-8859-1"}, {"utf8", "UTF-8"},
      {"unicode-1-1-utf-8", "UTF-8"},
      {"ks_c_5601-1987", "CP949"}, {"ks_c_5601", "CP949"}, {"euc-kr", "CP949"}, {"ks_c_5601-1989", "CP949"},
      {"korean", "CP949"},
      {"gb2312", "GB18030"}, {"gbk", "GB18030"}, {"x-gbk", "GB18030"}, {"gb_2312-80", "GB18030"},
      {"euc-cn", "GB18030"}, {"cn-gb", "GB18030"}, {"chinese", "GB18030"},
      {"big5", "BIG5-HKSCS"}, {"big-5", "BIG5-HKSCS"}, {"x-x-big5", "BIG5-HKSCS"},
      {"shift_jis", "CP932"}, {"shift-jis", "CP932"}, {"sjis", "CP932"}, {"x-sjis", "CP932"},
      {"ms_kanji", "CP932"}, {"windows-31j", "CP932"}, {"cp932", "CP932"},
      {"unicode-1-1-utf-7", "UTF-7"}, {"utf7", "UTF-7"},
      {"latin1", "ISO-8859-1"}, {"latin-1", "ISO-8859-1"}, {"l1", "ISO-8859-1"}, {"iso8859-1", "ISO-8859-1"},
      {"iso_8859-1", "ISO-8859-1"},
      {"ascii", "US-ASCII"}, {"ansi_x3.4-1968", "US-ASCII"}, {"us", "US-ASCII"}, {"default", "US-ASCII"},
      {"none", "US-ASCII"}, {"unknown", "US-ASCII"}, {"unknown-8bit", "US-ASCII"}, {"x-unknown", "US-ASCII"},
      {"8bit", "US-ASCII"}, {"x-user-defined", "US-ASCII"},
      {"x-mac-roman", "MACINTOSH"}, {"macintosh", "MACINTOSH"}, {"mac", "MACINTOSH"},
  };
  auto quote_or_space = [](char c) { return c == '"' || c == '\'' || std::isspace(static_cast<unsigned char>(c)); };
  std::string_view cs = label;
  while (!cs.empty() && quote_or_space(cs.front())) cs.remove_prefix(1);
  while (!cs.empty() && quote_or_space(cs.back())) cs.remove_suffix(1);
  if (const auto star = cs.find('*'); star != std::string_view::npos) cs = cs.substr(0, star);  // RFC 2231 language
  // "utf-8 Content-Transfer-Encoding: 7bit": a folded header line glued onto the label.
  if (const auto blank = cs.find_first_of(" \t;"); blank != std::string_view::npos) cs = cs.substr(0, blank);
  if (cs.empty()) return {};
  for (const Alias& alias : kAliases)
    if (ascii::iequals(cs, alias.label)) return std::string(alias.iconv_name);
  if (ascii::istarts_with(cs, "cp-")) return "CP" + ascii::lower(cs.substr(3));
  if (ascii::istarts_with(cs, "x-cp")) return "CP" + ascii::lower(cs.substr(4));
  if (ascii::istarts_with(cs, "iso8859-")) return "ISO-8859-" + ascii::lower(cs.substr(8));
  return ascii::lower(cs);
}

std::optional<std::string> convert_strict(std::string_view bytes, std::string_view charset) {
  const std::string cs = canonical_charset(charset);
  if (cs.empty()) return std::nullopt;
  if (cs == "UTF-8") {
    if (is_valid_utf8(bytes)) return std::string(bytes);
    return std::nullopt;
  }
  if (cs == "US-ASCII") {
    if (is_ascii(bytes)) return std::string(bytes);
    return std::nullopt;
  }
  return run_iconv(bytes, cs, true, nullptr);
}

std::optional<std::string> to_utf8_if_changed(std::string_view bytes, std::string_view charset, bool* lossy) {
  if (lossy) *lossy = false;
  const std::string cs = canonical_charset(charset);
  // Plain ASCII reads the same in every charset we accept, except the stateful ISO-2022 and
  // UTF-7 families, which are 7-bit by design.
  const bool seven_bit_charset = cs.rfind("ISO-2022", 0) == 0 || cs.rfind("iso-2022", 0) == 0 ||
                                 cs == "UTF-7" || cs == "hz-gb-2312";
  if (is_ascii(bytes) && !seven_bit_charset) return std::nullopt;
  if (cs.empty() || cs == "US-ASCII") {
    // Labelled us-ascii (or nothing) but 8-bit: the usual lie is UTF-8, else a Western legacy
    // charset.
    if (is_valid_utf8(bytes)) return std::nullopt;
    return guess_to_utf8(bytes);
  }
  if (cs == "UTF-8") {
    if (is_valid_utf8(bytes)) return std::nullopt;
    if (lossy) *lossy = true;
    return sanitize_utf8(bytes);
  }
  if (cs == "ISO-8859-1") {
    if (has_c1_bytes(bytes)) return windows_1252_to_utf8(bytes);
    if (auto r = run_iconv(bytes, cs, true, nullptr)) return r;
  }
  if (cs == "iso-2022-jp" || cs == "ISO-2022-JP") {
    if (auto r = run_iconv(bytes, "ISO-2022-JP-2", true, nullptr)) return r;
    if (!is_ascii(bytes)) {
      // Shift_JIS (or EUC-JP) bytes under an ISO-2022-JP label.
      if (auto r = run_iconv(bytes, "CP932", true, nullptr)) return r;
      if (auto r = run_iconv(bytes, "EUC-JP", true, nullptr)) return r;
    }
  }
  if (auto r = run_iconv(bytes, cs, true, nullptr)) return r;
  // Invalid somewhere under a known label: the text may really be UTF-8 (a common mislabel).
  if (!is_ascii(bytes) && is_valid_utf8(bytes)) return std::nullopt;
  if (auto r = run_iconv(bytes, cs, false, lossy)) return r;
  // The label is not a charset iconv knows.
  if (lossy) *lossy = true;
  return guess_to_utf8(bytes);
}

std::string to_utf8(std::string_view bytes, std::string_view charset, bool* lossy) {
  std::optional<std::string> converted = to_utf8_if_changed(bytes, charset, lossy);
  return converted ? std::move(*converted) : std::string(bytes);
}

std::string guess_to_utf8(std::string_view bytes, std::string_view hint) {
  if (is_valid_utf8(bytes)) return std::string(bytes);
  const std::string cs = canonical_charset(hint);
  if (!cs.empty() && cs != "US-ASCII" && cs != "UTF-8") {
    if (cs == "iso-2022-jp" || cs == "ISO-2022-JP") {
      if (auto r = run_iconv(bytes, "CP932", true, nullptr)) return std::move(*r);
    } else if (cs == "ISO-8859-1" || cs == "windows-1252") {
      // Any byte "converts" from a single-byte Western charset; ask uchardet first below.
    } else if (auto r = run_iconv(bytes, cs, true, nullptr)) {
      return std::move(*r);
    }
  }
  const std::string detected = detect_charset(bytes);
  if (!detected.empty() && !ascii::iequals(detected, "ascii") && !ascii::iequals(detected, "utf-8")) {
    if (auto r = run_iconv(bytes, canonical_charset(detected), true, nullptr)) return std::move(*r);
  }
  return windows_1252_to_utf8(bytes);
}

}  // namespace atendd

// quote_split.cpp — split_reply: finds where a reply's quoted history starts (attribution line,
// Outlook header block, run of "> " lines) and where its signature starts ("-- ", "Sent from my
// iPhone"…), and cuts there only when the cut is clearly one; see quote_split.h.
#include "parsers/quote_split.h"

#include <cctype>
#include <string_view>
#include <vector>

#include "parsers/ascii_case.h"

namespace atendd {
namespace {

constexpr std::size_t kMaxAttributionLines = 3;    // an attribution wrapped over up to 3 lines
constexpr std::size_t kMaxAttributionChars = 300;
constexpr std::size_t kOutlookWindow = 4;          // header lines expected after "From:"

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

using ascii::icontains;
using ascii::iends_with;
using ascii::istarts_with;

bool is_blank_line(std::string_view line) { return trim(line).empty(); }

bool is_quote_line(std::string_view line) {
  line = trim(line);
  return !line.empty() && line.front() == '>';
}

// "On … wrote:", "Em … escreveu:", "Le … a écrit :", "Am … schrieb …:", as one joined line.
bool is_attribution(std::string_view s) {
  if (istarts_with(s, "on ") && iends_with(s, "wrote:")) return true;
  if (istarts_with(s, "em ") && iends_with(s, "escreveu:")) return true;
  if (istarts_with(s, "le ") && (iends_with(s, "a écrit :") || iends_with(s, "a écrit:"))) return true;
  if (istarts_with(s, "am ") && icontains(s, " schrieb ") && iends_with(s, ":")) return true;
  return false;
}

// Number of lines (1..3) making up an attribution starting at line i, 0 when none does.
std::size_t attribution_at(const std::vector<std::string_view>& lines, std::size_t i) {
  const std::string_view first = trim(lines[i]);
  if (!istarts_with(first, "on ") && !istarts_with(first, "em ") && !istarts_with(first, "le ") &&
      !istarts_with(first, "am "))
    return 0;
  std::string joined;
  for (std::size_t n = 0; n < kMaxAttributionLines && i + n < lines.size(); ++n) {
    const std::string_view line = trim(lines[i + n]);
    if (line.empty() || is_quote_line(line)) break;
    if (!joined.empty()) joined += ' ';
    joined.append(line);
    if (joined.size() > kMaxAttributionChars) break;
    if (is_attribution(joined)) return n + 1;
  }
  return 0;
}

// A header label of an Outlook block, with optional bold markers: "From:", "*De:*".
bool has_label(std::string_view line, std::initializer_list<std::string_view> labels) {
  line = trim(line);
  while (!line.empty() && line.front() == '*') line.remove_prefix(1);
  const std::string_view s = line.substr(0, 20);
  for (std::string_view label : labels)
    if (istarts_with(s, label) && s.size() > label.size() &&
        (s[label.size()] == ':' || (s[label.size()] == '*' && s.size() > label.size() + 1 &&
                                    s[label.size() + 1] == ':')))
      return true;
  return false;
}

bool is_outlook_separator(std::string_view line) {
  const std::string_view s = trim(line);
  if (s.substr(0, 5) != "-----") return false;
  return icontains(s, "original message") || icontains(s, "mensagem original") || icontains(s, "message d'origine") ||
         icontains(s, "ursprüngliche nachricht");
}

bool is_outlook_header_block(const std::vector<std::string_view>& lines, std::size_t i) {
  if (!has_label(lines[i], {"from", "de", "von"})) return false;
  bool sent = false, to = false, subject = false;
  for (std::size_t k = i + 1; k < lines.size() && k <= i + kOutlookWindow; ++k) {
    sent = sent || has_label(lines[k], {"sent", "enviado", "enviada em", "date", "data", "envoyé", "gesendet"});
    to = to || has_label(lines[k], {"to", "para", "à", "an"});
    subject = subject || has_label(lines[k], {"subject", "assunto", "objet", "betreff"});
  }
  return sent && to && subject;
}

bool is_mobile_signature(std::string_view line) {
  const std::string_view s = trim(line);
  for (std::string_view phrase :
       {"sent from my ", "sent from mail for windows", "sent from outlook", "sent from yahoo mail",
        "get outlook for ", "enviado do meu ", "enviado de meu ", "enviado do email para windows",
        "enviado do outlook", "enviado do yahoo mail", "obter o outlook para ", "envoyé de mon ",
        "von meinem iphone gesendet", "gesendet von meinem "})
    if (s.size() < 80 && istarts_with(s, phrase)) return true;
  return false;
}

std::string join(const std::vector<std::string_view>& lines, std::size_t from, std::size_t to) {
  std::string out;
  std::size_t size = 0;
  for (std::size_t k = from; k < to; ++k) size += lines[k].size() + 1;
  out.reserve(size);
  for (std::size_t k = from; k < to; ++k) {
    out.append(lines[k]);
    if (k + 1 < to) out += '\n';
  }
  return out;
}

std::string trim_block(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  std::size_t start = 0;
  while (start < s.size()) {
    const std::size_t nl = s.find('\n', start);
    if (nl == std::string::npos || !is_blank_line(std::string_view(s).substr(start, nl - start))) break;
    start = nl + 1;
  }
  return s.substr(start);
}

}  // namespace

SplitText split_reply(const std::string& text) {
  std::vector<std::string_view> lines;
  lines.reserve(64);
  {
    std::string_view rest = text;
    while (true) {
      const std::size_t nl = rest.find('\n');
      std::string_view line = rest.substr(0, nl);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      lines.push_back(line);
      if (nl == std::string_view::npos) break;
      rest.remove_prefix(nl + 1);
    }
  }
  const std::size_t n = lines.size();

  // Where the quoted history starts: the first attribution, Outlook block or "> " run after which
  // nothing new follows (new text after quoted lines means an interleaved reply: keep it whole).
  std::size_t cut = n;
  for (std::size_t i = 0; i < n && cut == n; ++i) {
    std::size_t body_from = n;  // first line after the header of the quote
    if (const std::size_t len = attribution_at(lines, i)) body_from = i + len;
    else if (is_outlook_separator(lines[i]) || is_outlook_header_block(lines, i)) body_from = i + 1;
    else if (is_quote_line(lines[i])) body_from = i;
    else continue;

    // Inside a quote every line is quoted, blank, or (for attributions and Outlook blocks, whose
    // quoted text is not marked) anything up to the end.
    bool only_quotes_follow = true;
    bool quoted_run = false;
    std::size_t k = body_from;
    while (k < n && is_blank_line(lines[k])) ++k;
    if (k < n && is_quote_line(lines[k])) {
      quoted_run = true;
      for (; k < n; ++k) {
        if (is_quote_line(lines[k]) || is_blank_line(lines[k])) continue;
        // A signature or a nested attribution/header after the quote is still no new text.
        if (trim(lines[k]) == "--" || lines[k] == "-- " || is_mobile_signature(lines[k])) break;
        if (attribution_at(lines, k) || is_outlook_separator(lines[k]) || is_outlook_header_block(lines, k))
          continue;
        only_quotes_follow = false;
        break;
      }
    }
    if (body_from == i && !quoted_run) continue;
    if (!only_quotes_follow) continue;
    cut = i;
    // An attribution line just above a "> " run belongs to the quote.
    if (is_quote_line(lines[i])) {
      std::size_t above = i;
      while (above > 0 && is_blank_line(lines[above - 1])) --above;
      for (std::size_t len = 1; len <= kMaxAttributionLines && len <= above; ++len)
        if (attribution_at(lines, above - len) == len) {
          cut = above - len;
          break;
        }
    }
  }

  // An Outlook rule ("____…") just above the quote belongs to it.
  if (cut < n) {
    std::size_t above = cut;
    while (above > 0 && is_blank_line(lines[above - 1])) --above;
    if (above > 0) {
      const std::string_view rule = trim(lines[above - 1]);
      if (rule.size() >= 10 && rule.find_first_not_of('_') == std::string_view::npos) cut = above - 1;
    }
  }

  // The signature: the last "-- " line above the cut, else a mobile signature among the last two
  // non-blank lines above it.
  std::size_t sig = cut;
  for (std::size_t i = cut; i-- > 0;)
    if (lines[i] == "-- ") {
      sig = i;
      break;
    }
  if (sig == cut) {
    std::size_t seen = 0;
    for (std::size_t i = cut; i-- > 0 && seen < 2;) {
      if (is_blank_line(lines[i])) continue;
      ++seen;
      if (is_mobile_signature(lines[i])) {
        sig = i;
        break;
      }
    }
  }

  SplitText out;
  out.new_text = trim_block(join(lines, 0, sig));
  if (out.new_text.find_first_not_of(" \t\r\n") == std::string::npos) {
    out.new_text = text;  // all quote or signature: keep everything
    return out;
  }
  out.signature = trim_block(join(lines, sig, cut));
  out.quoted = trim_block(join(lines, cut, n));
  return out;
}

}  // namespace atendd

// imap_response.cpp — see imap_response.h. Bounds every line and literal; a malformed response
// is an ImapProtocolError, never an out-of-range read.
#include "daemon/sources/imap_response.h"

#include <algorithm>
#include <cctype>

namespace atendd {

namespace {

std::string upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// A non-negative decimal of at most 18 digits (fits in int64 without overflow).
std::optional<std::int64_t> to_number(std::string_view s) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  std::int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

// Splits off the first space-separated token of `s`.
std::string_view first_token(std::string_view s, std::string_view& rest) {
  const auto space = s.find(' ');
  if (space == std::string_view::npos) {
    rest = {};
    return s;
  }
  rest = s.substr(space + 1);
  return s.substr(0, space);
}

// The literal size announced at the end of a line segment ("… {123}" or "{123+}"), if any.
std::optional<std::size_t> literal_at_end(std::string_view segment, std::size_t& open_at) {
  if (segment.empty() || segment.back() != '}') return std::nullopt;
  const auto open = segment.rfind('{');
  if (open == std::string_view::npos) return std::nullopt;
  std::string_view digits = segment.substr(open + 1, segment.size() - open - 2);
  if (!digits.empty() && digits.back() == '+') digits.remove_suffix(1);  // LITERAL+ (RFC 7888)
  auto n = to_number(digits);
  if (!n) return std::nullopt;
  open_at = open;
  return static_cast<std::size_t>(*n);
}

void fill_fields(ImapResponse& r) {
  std::string_view line = r.line;
  std::string_view rest;
  if (!line.empty() && line[0] == '+') {
    r.kind = ImapResponse::Kind::Continuation;
    line.remove_prefix(1);
    if (!line.empty() && line[0] == ' ') line.remove_prefix(1);
    r.text = std::string(line);
    return;
  }
  if (line.size() >= 2 && line[0] == '*' && line[1] == ' ') {
    r.kind = ImapResponse::Kind::Untagged;
    std::string_view word = first_token(line.substr(2), rest);
    if (auto n = to_number(word)) {
      r.number = n;
      word = first_token(rest, rest);
    }
    if (word.empty()) throw ImapProtocolError("untagged response without a keyword");
    r.keyword = upper(word);
    if (r.keyword == "OK" || r.keyword == "NO" || r.keyword == "BAD" || r.keyword == "BYE" ||
        r.keyword == "PREAUTH") {
      r.status = r.keyword;
    }
  } else {
    r.kind = ImapResponse::Kind::Tagged;
    std::string_view tag = first_token(line, rest);
    if (tag.empty() || tag == "*") throw ImapProtocolError("response without a tag");
    r.tag = std::string(tag);
    r.status = upper(first_token(rest, rest));
    if (r.status != "OK" && r.status != "NO" && r.status != "BAD") {
      throw ImapProtocolError("tagged response without OK, NO or BAD");
    }
    r.keyword = r.status;
  }
  r.text = std::string(rest);
  if (!r.status.empty() && !rest.empty() && rest[0] == '[') {
    const auto close = rest.find(']');
    if (close != std::string_view::npos) {
      r.code = std::string(rest.substr(1, close - 1));
      rest.remove_prefix(close + 1);
      if (!rest.empty() && rest[0] == ' ') rest.remove_prefix(1);
      r.text = std::string(rest);
    }
  }
}

// Walks the parenthesised list of a FETCH response.
class FetchScanner {
 public:
  FetchScanner(const ImapResponse& r, std::size_t start) : r_(r), s_(r.line), i_(start) {}

  void skip_spaces() {
    while (i_ < s_.size() && s_[i_] == ' ') ++i_;
  }
  bool at(char c) const { return i_ < s_.size() && s_[i_] == c; }
  bool done() const { return i_ >= s_.size(); }
  void expect(char c) {
    if (!at(c)) throw ImapProtocolError(std::string("FETCH: expected '") + c + "'");
    ++i_;
  }

  // An item name such as UID, FLAGS, BODY[HEADER.FIELDS (SUBJECT)]<0>.
  std::string name() {
    const std::size_t begin = i_;
    while (i_ < s_.size() && s_[i_] != ' ' && s_[i_] != ')' && s_[i_] != '(') {
      if (s_[i_] == '[') {
        const auto close = s_.find(']', i_);
        if (close == std::string::npos) throw ImapProtocolError("FETCH: unterminated '['");
        i_ = close + 1;
      } else {
        ++i_;
      }
    }
    if (i_ == begin) throw ImapProtocolError("FETCH: item name expected");
    return upper(std::string_view(s_).substr(begin, i_ - begin));
  }

  // One value: a literal, a quoted string, a parenthesised list (returned as written, without
  // the outer parentheses) or an atom.
  std::string value() {
    if (at('{')) {
      const auto it = std::find(r_.literal_offsets.begin(), r_.literal_offsets.end(), i_);
      if (it == r_.literal_offsets.end()) throw ImapProtocolError("FETCH: '{' that is no literal");
      const auto close = s_.find('}', i_);
      if (close == std::string::npos) throw ImapProtocolError("FETCH: unterminated literal marker");
      i_ = close + 1;
      return r_.literals[static_cast<std::size_t>(it - r_.literal_offsets.begin())];
    }
    if (at('"')) return quoted();
    if (at('(')) {
      const std::size_t begin = ++i_;
      int depth = 1;
      while (depth > 0) {
        if (done()) throw ImapProtocolError("FETCH: unterminated list");
        if (at('"')) {
          quoted();
          continue;
        }
        if (at('{') && std::find(r_.literal_offsets.begin(), r_.literal_offsets.end(), i_) !=
                           r_.literal_offsets.end()) {
          value();
          continue;
        }
        if (at('(')) ++depth;
        if (at(')')) --depth;
        ++i_;
      }
      return s_.substr(begin, i_ - 1 - begin);
    }
    const std::size_t begin = i_;
    while (i_ < s_.size() && s_[i_] != ' ' && s_[i_] != ')' && s_[i_] != '(') ++i_;
    if (i_ == begin) throw ImapProtocolError("FETCH: value expected");
    return s_.substr(begin, i_ - begin);
  }

 private:
  std::string quoted() {
    expect('"');
    std::string out;
    while (!at('"')) {
      if (done()) throw ImapProtocolError("FETCH: unterminated quoted string");
      if (at('\\') && i_ + 1 < s_.size()) ++i_;
      out += s_[i_++];
    }
    ++i_;
    return out;
  }

  const ImapResponse& r_;
  const std::string& s_;
  std::size_t i_;
};

}  // namespace

FetchData parse_fetch(const ImapResponse& response) {
  if (response.kind != ImapResponse::Kind::Untagged || response.keyword != "FETCH") {
    throw ImapProtocolError("not a FETCH response");
  }
  FetchData out;
  const std::size_t start = response.line.size() - response.text.size();
  FetchScanner scan(response, start);
  scan.skip_spaces();
  scan.expect('(');
  for (;;) {
    scan.skip_spaces();
    if (scan.at(')')) break;
    if (scan.done()) throw ImapProtocolError("FETCH: unterminated item list");
    const std::string name = scan.name();
    scan.skip_spaces();
    std::string value = scan.value();
    if (name == "UID") {
      out.uid = to_number(value);
      if (!out.uid) throw ImapProtocolError("FETCH: UID is not a number");
    } else if (name == "RFC822.SIZE") {
      out.size = to_number(value);
      if (!out.size) throw ImapProtocolError("FETCH: RFC822.SIZE is not a number");
    } else if (name == "FLAGS") {
      out.flags = std::move(value);
    } else if (name.rfind("BODY[]", 0) == 0 || name.rfind("BODY[HEADER]", 0) == 0 ||
               name == "RFC822" || name == "RFC822.HEADER") {  // "<0>" follows a partial fetch
      out.body = std::move(value);
    }
  }
  return out;
}

std::vector<std::int64_t> parse_search(const ImapResponse& response) {
  std::vector<std::int64_t> out;
  if (response.keyword != "SEARCH") return out;
  std::string_view rest = response.text;
  while (!rest.empty()) {
    if (auto n = to_number(first_token(rest, rest))) out.push_back(*n);
  }
  return out;
}

std::vector<std::string> parse_capabilities(const ImapResponse& response) {
  std::string_view list;
  if (response.keyword == "CAPABILITY" && response.kind == ImapResponse::Kind::Untagged) {
    list = response.text;
  } else if (response.code.rfind("CAPABILITY ", 0) == 0) {
    list = std::string_view(response.code).substr(11);
  }
  std::vector<std::string> out;
  while (!list.empty()) {
    std::string_view word = first_token(list, list);
    if (!word.empty()) out.push_back(upper(word));
  }
  return out;
}

std::optional<std::int64_t> code_number(const ImapResponse& response, std::string_view name) {
  std::string_view rest;
  std::string_view word = first_token(response.code, rest);
  if (upper(word) != upper(name)) return std::nullopt;
  return to_number(first_token(rest, rest));
}

std::string imap_quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '\r' || c == '\n') continue;  // cannot be quoted; never part of a folder name
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

ImapResponseReader::ImapResponseReader(std::size_t max_line, std::size_t max_literal)
    : max_line_(max_line), max_literal_(max_literal) {}

void ImapResponseReader::feed(std::string_view bytes) { buffer_.append(bytes.data(), bytes.size()); }

void ImapResponseReader::reset() {
  buffer_.clear();
  pos_ = 0;
  current_ = ImapResponse{};
  in_literal_ = false;
  literal_left_ = 0;
  failed_ = false;
  failure_.clear();
}

void ImapResponseReader::fail(const std::string& why) {
  failed_ = true;
  failure_ = why;
  throw ImapProtocolError(why);
}

void ImapResponseReader::compact() {
  if (pos_ == buffer_.size()) {
    buffer_.clear();
    pos_ = 0;
  } else if (pos_ > (1u << 20) && pos_ > buffer_.size() / 2) {
    buffer_.erase(0, pos_);
    pos_ = 0;
  }
}

std::optional<ImapResponse> ImapResponseReader::next() {
  if (failed_) throw ImapProtocolError(failure_);
  for (;;) {
    if (in_literal_) {
      const std::size_t take = std::min(literal_left_, buffer_.size() - pos_);
      current_.literals.back().append(buffer_, pos_, take);
      pos_ += take;
      literal_left_ -= take;
      compact();
      if (literal_left_ > 0) return std::nullopt;
      in_literal_ = false;
    }
    const auto lf = buffer_.find('\n', pos_);
    if (lf == std::string::npos) {
      if (buffer_.size() - pos_ + current_.line.size() > max_line_) fail("IMAP response line too long");
      compact();
      return std::nullopt;
    }
    std::size_t end = lf;
    if (end > pos_ && buffer_[end - 1] == '\r') --end;
    if (end - pos_ + current_.line.size() > max_line_) fail("IMAP response line too long");
    std::string_view segment(buffer_.data() + pos_, end - pos_);
    if (segment.find('\0') != std::string_view::npos) fail("NUL byte in an IMAP response line");
    std::size_t open = 0;
    const auto literal = literal_at_end(segment, open);
    current_.line.append(segment.data(), segment.size());
    pos_ = lf + 1;
    if (literal) {
      if (*literal > max_literal_) fail("IMAP literal too large: " + std::to_string(*literal));
      current_.literal_offsets.push_back(current_.line.size() - segment.size() + open);
      current_.literals.emplace_back();
      current_.literals.back().reserve(std::min<std::size_t>(*literal, 64u << 20));
      literal_left_ = *literal;
      in_literal_ = true;
      continue;
    }
    ImapResponse done = std::move(current_);
    current_ = ImapResponse{};
    compact();
    if (done.line.empty()) fail("empty IMAP response line");
    try {
      fill_fields(done);
    } catch (const ImapProtocolError& e) {
      fail(e.what());
    }
    return done;
  }
}

}  // namespace atendd

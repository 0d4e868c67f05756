// imap_response.h — turns the bytes an IMAP server sends into whole responses (RFC 3501 §7):
// tagged completions, untagged data (EXISTS, EXPUNGE, FETCH, SEARCH, CAPABILITY, response codes)
// and continuation requests, with {N} literals kept byte for byte however the bytes were split.
// Pure: no I/O. Never trusts its input: junk gives an ImapProtocolError, never a crash, and every
// line and literal is bounded.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace atendd {

class ImapProtocolError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ImapResponse {
  enum class Kind { Tagged, Untagged, Continuation };
  Kind kind = Kind::Untagged;
  std::string tag;                 // Tagged only
  std::string status;              // upper case: OK NO BAD (tagged); OK NO BAD BYE PREAUTH (untagged)
  std::optional<std::int64_t> number;  // "* 5 EXISTS" → 5
  std::string keyword;             // upper case: EXISTS EXPUNGE FETCH SEARCH CAPABILITY FLAGS OK …
  std::string code;                // response code without brackets: "UIDVALIDITY 3857529045"
  std::string text;                // what follows the keyword / status (literals shown as {N})
  std::string line;                // the whole response, literals shown as {N}
  std::vector<std::string> literals;        // literal contents, in order
  std::vector<std::size_t> literal_offsets; // where in `line` each literal's "{N}" starts

  bool is_ok() const { return status == "OK"; }
};

// What a FETCH response says about one message.
struct FetchData {
  std::optional<std::int64_t> uid;
  std::optional<std::int64_t> size;  // RFC822.SIZE
  std::optional<std::string> body;   // BODY[] or BODY[HEADER] (whichever came)
  std::string flags;                 // the FLAGS list's content, as sent
};

// Reads the items of an untagged FETCH response; unknown items are skipped. Throws
// ImapProtocolError when the response is not a well-formed FETCH.
FetchData parse_fetch(const ImapResponse& response);

// The numbers of an untagged SEARCH response.
std::vector<std::int64_t> parse_search(const ImapResponse& response);

// The upper-cased capability names of "* CAPABILITY …" or of a [CAPABILITY …] response code;
// empty when the response carries none.
std::vector<std::string> parse_capabilities(const ImapResponse& response);

// The number after `name` in a response code ("UIDVALIDITY 42" → 42), if that is the code.
std::optional<std::int64_t> code_number(const ImapResponse& response, std::string_view name);

// Quotes a string for an IMAP command (RFC 3501 quoted string).
std::string imap_quote(std::string_view text);

class ImapResponseReader {
 public:
  // A line longer than max_line (without its literals) or a literal longer than max_literal is
  // a protocol error.
  explicit ImapResponseReader(std::size_t max_line = 8u << 20, std::size_t max_literal = 1u << 30);

  // Adds bytes as they came from the connection.
  void feed(std::string_view bytes);
  // The next complete response, or nothing until more bytes are fed. Throws ImapProtocolError
  // on input that cannot be a response; the reader is then unusable until reset().
  std::optional<ImapResponse> next();
  // Forgets everything fed so far.
  void reset();
  // Bytes fed but not yet returned as part of a response.
  std::size_t pending() const { return buffer_.size() - pos_; }

 private:
  void compact();
  void fail(const std::string& why);

  std::size_t max_line_;
  std::size_t max_literal_;
  std::string buffer_;
  std::size_t pos_ = 0;
  ImapResponse current_;
  bool in_literal_ = false;
  std::size_t literal_left_ = 0;
  bool failed_ = false;
  std::string failure_;
};

}  // namespace atendd

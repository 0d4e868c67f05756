// message.h — ParsedMessage: what the parser makes of raw RFC 5322 bytes (DESIGN.md, "Parser").
// Plain value types, no behaviour: every later stage reads these and none of them re-parses.
// All strings are UTF-8; a broken message still fills what could be read and lists its defects.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace atendd {

struct Address {
  std::string address;  // local@domain as written (not lower-cased), empty when unusable
  std::string name;     // display name, decoded; empty when none
};

struct Attachment {
  std::string filename;      // decoded (RFC 2047 / 2231), no path; made up from the type when unnamed
  std::string content_type;  // "application/pdf", lower case
  std::string content_id;    // without angle brackets, empty when none
  bool inline_part = false;  // Content-Disposition: inline or a multipart/related image
  std::string data;          // decoded bytes
};

struct ParsedMessage {
  Address from;
  std::vector<Address> to;
  std::vector<Address> cc;
  std::vector<Address> reply_to;
  std::string subject;                  // decoded, UTF-8
  std::string message_id;               // without angle brackets, empty when missing
  std::string in_reply_to;              // first id, without angle brackets
  std::vector<std::string> references;  // ids without angle brackets, oldest first
  std::optional<std::int64_t> date;     // seconds since the epoch (UTC); empty when unreadable
  bool auto_submitted = false;  // RFC 3834 Auto-Submitted other than "no", Precedence bulk/junk/list,
                                // X-Autoreply, auto-responder markers, or a sender local part
                                // noreply/no-reply/donotreply/mailer-daemon/postmaster
  std::string automatic_because;  // what made it automatic: "Precedence: bulk", "sender noreply"
  bool is_bounce = false;       // delivery status notification (multipart/report, mailer-daemon)
  std::string bounced_recipient;   // bounces: Original-Recipient, else Final-Recipient, of the first
                                   // message/delivery-status recipient ("rfc822;" stripped)
  std::string bounced_message_id;  // bounces: Message-ID (no angle brackets) of the returned
                                   // message/rfc822 or text/rfc822-headers part
  std::string text;             // body to show: the plain part, or text derived from HTML
  std::string new_text;         // the reply's new part: text without quoted history and signature
                                // (quote_split.h); the whole text when no quote is recognised
  std::optional<std::string> html;
  std::vector<Attachment> attachments;
  std::vector<std::string> defects;  // what was wrong with the input, one short phrase each

  // Raw header values by name (case-insensitive lookup), as decoded UTF-8; for filters that need
  // a header the struct does not carry (X-Loop, Precedence, Authentication-Results…).
  std::vector<std::pair<std::string, std::string>> headers;

  // Returns the first header of that name (case-insensitive), or nullptr.
  const std::string* header(std::string_view name) const;
  // Returns every header of that name, in order.
  std::vector<std::string> headers_named(std::string_view name) const;
};

}  // namespace atendd

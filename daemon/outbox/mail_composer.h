// mail_composer.h — builds the bytes of an outgoing e-mail (RFC 5322 + MIME, CRLF line ends).
// Every header value is stripped of CR/LF before it is written (invariant 5), non-ASCII names
// and subjects are RFC 2047-encoded, and the text goes out as UTF-8 quoted-printable.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "parsers/message.h"
#include "storage/store.h"

namespace atendd {

struct FileToSend {
  std::string filename;
  std::string content_type;
  std::string data;
};

struct MailParts {
  Address from;
  std::vector<Address> to;
  std::vector<Address> cc;
  std::optional<Address> reply_to;
  std::string subject;
  std::string text;
  std::optional<std::string> html;
  std::string message_id;              // without angle brackets
  std::string in_reply_to;             // without angle brackets; empty = none
  std::vector<std::string> references; // without angle brackets
  std::string auto_submitted;          // "auto-replied", "auto-generated" or empty
  std::string x_loop;                  // our address; empty = none
  std::vector<std::pair<std::string, std::string>> extra_headers;
  std::vector<FileToSend> files;
  Timestamp date = 0;
};

// Removes CR, LF and NUL: what a header value must never carry.
std::string header_safe(const std::string& value);
// The whole message, CRLF everywhere.
std::string compose_mail(const MailParts& parts);

}  // namespace atendd

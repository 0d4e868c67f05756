// mail_composer.cpp — writes the mail into one std::string: the headers (RFC 2047 words from
// POCO's MailMessage::encodeWord), the bodies through body_encoding (quoted-printable, base64)
// and the multipart framing as POCO's MultipartWriter did it, without its char-by-char streams.
#include "daemon/outbox/mail_composer.h"

#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/Net/MailMessage.h>
#include <Poco/Net/MediaType.h>
#include <Poco/Net/MessageHeader.h>
#include <Poco/Net/MultipartWriter.h>
#include <Poco/String.h>
#include <Poco/Timestamp.h>

#include "daemon/outbox/body_encoding.h"
#include "daemon/tickets/engine.h"  // random_hex

namespace atendd {

namespace {

using Poco::Net::MailMessage;

// The shape of POCO's MultipartWriter::createBoundary, from the system's generator (POCO seeds a
// generator from /dev/urandom on every call).
std::string new_boundary() { return "MIME_boundary_" + random_hex(8); }

bool is_ascii(const std::string& s) {
  for (unsigned char c : s)
    if (c >= 0x80) return false;
  return true;
}

std::string encoded(const std::string& text) {
  const std::string safe = header_safe(text);
  return is_ascii(safe) ? safe : MailMessage::encodeWord(safe, "UTF-8");
}

// Leading ASCII words stay readable (the "[#PROTOCOL]" tag survives clients that do not decode);
// from the first word with non-ASCII on, the rest is one RFC 2047 encoded word sequence.
std::string encoded_subject(const std::string& subject) {
  const std::string safe = header_safe(subject);
  size_t first = 0;
  while (first < safe.size() && static_cast<unsigned char>(safe[first]) < 0x80) ++first;
  if (first == safe.size()) return safe;
  const size_t space = safe.rfind(' ', first);
  const size_t split = space == std::string::npos ? 0 : space + 1;
  return safe.substr(0, split) + MailMessage::encodeWord(safe.substr(split), "UTF-8");
}

// "Name <address>" with the name quoted or encoded as needed.
std::string mailbox(const Address& a) {
  const std::string address = header_safe(a.address);
  if (a.name.empty()) return "<" + address + ">";
  const std::string name = header_safe(a.name);
  if (!is_ascii(name)) return MailMessage::encodeWord(name, "UTF-8") + " <" + address + ">";
  std::string quoted = "\"";
  for (char c : name) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return quoted + "\" <" + address + ">";
}

std::string bracketed_list(const std::vector<std::string>& ids) {
  std::string out;
  for (const auto& id : ids) {
    if (id.empty()) continue;
    if (!out.empty()) out += ' ';
    out += "<" + header_safe(id) + ">";
  }
  return out;
}

// POCO writes bare LF from some encoders; SMTP servers want CRLF only.
// Copies the runs between line ends whole (a character at a time was 17,000 instructions a mail).
std::string to_crlf(const std::string& in) {
  std::string out;
  out.reserve(in.size() + in.size() / 40 + 2);
  for (size_t start = 0; start < in.size();) {
    const size_t end = in.find_first_of("\r\n", start);
    if (end == std::string::npos) {
      out.append(in, start, std::string::npos);
      break;
    }
    out.append(in, start, end - start);
    out += "\r\n";
    start = end + (in[end] == '\r' && end + 1 < in.size() && in[end + 1] == '\n' ? 2 : 1);
  }
  return out;
}

}  // namespace

std::string header_safe(const std::string& value) {
  if (value.find_first_of(std::string_view("\r\n\0", 3)) == std::string::npos) return value;  // the usual case
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\r' || c == '\n' || c == '\0') {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

namespace {

// The header block in the order POCO's MailMessage wrote it (Date and Content-Type first, then
// in the order set); setting a name again replaces the value in place (case-insensitive).
class HeaderList {
 public:
  void set(std::string name, std::string value) {
    for (auto& [n, v] : headers_)
      if (Poco::icompare(n, name) == 0) {
        v = std::move(value);
        return;
      }
    headers_.emplace_back(std::move(name), std::move(value));
  }
  void write(std::string& out) const {
    std::string block;
    for (const auto& [name, value] : headers_) {
      block += name;
      block += ": ";
      block += value;
      block += "\r\n";
    }
    out += to_crlf(block);  // RFC 2047 folding is CRLF already; this keeps it so whatever writes it
  }

 private:
  std::vector<std::pair<std::string, std::string>> headers_;
};

const std::string kTextType = "text/plain; charset=UTF-8";

// One MIME part: its header lines (Content-Type, Content-Transfer-Encoding, Content-Disposition)
// and its encoded body, framed by `boundary` the way Poco::Net::MultipartWriter frames parts.
void open_part(std::string& out, const std::string& boundary, bool first, const std::string& type,
               const char* encoding, const std::string& disposition) {
  if (!first) out += "\r\n";
  out += "--";
  out += boundary;
  out += "\r\nContent-Type: ";
  out += type;
  out += "\r\nContent-Transfer-Encoding: ";
  out += encoding;
  out += "\r\nContent-Disposition: ";
  out += disposition;
  out += "\r\n\r\n";
}

void close_parts(std::string& out, const std::string& boundary) {
  out += "\r\n--";
  out += boundary;
  out += "--\r\n";
}

}  // namespace

std::string compose_mail(const MailParts& parts) {
  HeaderList headers;
  headers.set("Date", Poco::DateTimeFormatter::format(Poco::Timestamp::fromEpochTime(static_cast<std::time_t>(parts.date)),
                                                      Poco::DateTimeFormat::RFC1123_FORMAT));
  headers.set("Content-Type", kTextType);
  headers.set("From", mailbox(parts.from));
  // The To header is written by hand: POCO quotes real names, and an encoded word inside quotes
  // is not decoded by strict readers (RFC 2047, section 5). Envelope recipients go separately.
  std::string to_header;
  for (const auto& to : parts.to) to_header += (to_header.empty() ? "" : ", ") + mailbox(to);
  headers.set("To", to_header);
  std::string cc_header;
  for (const auto& cc : parts.cc) cc_header += (cc_header.empty() ? "" : ", ") + mailbox(cc);
  if (!cc_header.empty()) headers.set("Cc", cc_header);
  headers.set("Subject", encoded_subject(parts.subject));
  headers.set("Message-ID", "<" + header_safe(parts.message_id) + ">");
  if (!parts.in_reply_to.empty()) headers.set("In-Reply-To", "<" + header_safe(parts.in_reply_to) + ">");
  const std::string references = bracketed_list(parts.references);
  if (!references.empty()) headers.set("References", references);
  if (parts.reply_to) headers.set("Reply-To", mailbox(*parts.reply_to));
  if (!parts.auto_submitted.empty()) headers.set("Auto-Submitted", header_safe(parts.auto_submitted));
  if (!parts.x_loop.empty()) headers.set("X-Loop", header_safe(parts.x_loop));
  for (const auto& [name, value] : parts.extra_headers) headers.set(header_safe(name), header_safe(value));

  std::string out;
  size_t body_size = parts.text.size() + (parts.html ? parts.html->size() : 0);
  for (const auto& file : parts.files) body_size += file.data.size() / 3 * 4 + file.data.size() / 27;
  out.reserve(1024 + body_size + body_size / 8);
  const bool multipart = parts.html.has_value() || !parts.files.empty();
  if (!multipart) {
    headers.set("Content-Type", kTextType);
    headers.set("Content-Transfer-Encoding", "quoted-printable");
    headers.write(out);
    out += "\r\n";
    encode_quoted_printable(parts.text, out);
    return out;
  }
  const std::string boundary = new_boundary();
  headers.set("Content-Type", "multipart/mixed; boundary=" + boundary);
  headers.set("Mime-Version", "1.0");
  headers.write(out);
  out += "\r\n";
  if (parts.html) {
    const std::string inner = new_boundary();
    open_part(out, boundary, true, "multipart/alternative; boundary=" + inner, "7bit", "inline");
    open_part(out, inner, true, kTextType, "quoted-printable", "inline");
    encode_quoted_printable(parts.text, out);
    open_part(out, inner, false, "text/html; charset=UTF-8", "quoted-printable", "inline");
    encode_quoted_printable(*parts.html, out);
    close_parts(out, inner);
  } else {
    open_part(out, boundary, true, kTextType, "quoted-printable", "inline");
    encode_quoted_printable(parts.text, out);
  }
  for (const auto& file : parts.files) {
    const std::string name = encoded(file.filename);
    Poco::Net::MediaType type(header_safe(file.content_type));
    if (!name.empty()) type.setParameter("name", name);
    std::string disposition = "attachment";
    if (!name.empty()) {
      disposition += "; filename=";
      Poco::Net::MessageHeader::quote(name, disposition);
    }
    open_part(out, boundary, false, to_crlf(type.toString()), "base64", to_crlf(disposition));
    encode_base64_lines(file.data, out);
  }
  close_parts(out, boundary);
  return out;
}

}  // namespace atendd

// mail_composer.cpp — composes with POCO's MailMessage (QP, RFC 2047 words, multipart writer).
#include "daemon/outbox/mail_composer.h"

#include <sstream>

#include <Poco/Net/MailMessage.h>
#include <Poco/Net/StringPartSource.h>
#include <Poco/Timestamp.h>

namespace atendd {

namespace {

using Poco::Net::MailMessage;

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
std::string to_crlf(const std::string& in) {
  std::string out;
  out.reserve(in.size() + in.size() / 40);
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '\r') {
      out += "\r\n";
      if (i + 1 < in.size() && in[i + 1] == '\n') ++i;
    } else if (c == '\n') {
      out += "\r\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string header_safe(const std::string& value) {
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

std::string compose_mail(const MailParts& parts) {
  MailMessage message;
  message.setSender(mailbox(parts.from));
  // The To header is written by hand: POCO quotes real names, and an encoded word inside quotes
  // is not decoded by strict readers (RFC 2047, section 5). Envelope recipients go separately.
  std::string to_header;
  for (const auto& to : parts.to) to_header += (to_header.empty() ? "" : ", ") + mailbox(to);
  message.set("To", to_header);
  std::string cc_header;
  for (const auto& cc : parts.cc) cc_header += (cc_header.empty() ? "" : ", ") + mailbox(cc);
  if (!cc_header.empty()) message.set("Cc", cc_header);
  message.setSubject(encoded_subject(parts.subject));
  message.setDate(Poco::Timestamp::fromEpochTime(static_cast<std::time_t>(parts.date)));
  message.set("Message-ID", "<" + header_safe(parts.message_id) + ">");
  if (!parts.in_reply_to.empty()) message.set("In-Reply-To", "<" + header_safe(parts.in_reply_to) + ">");
  const std::string references = bracketed_list(parts.references);
  if (!references.empty()) message.set("References", references);
  if (parts.reply_to) message.set("Reply-To", mailbox(*parts.reply_to));
  if (!parts.auto_submitted.empty()) message.set("Auto-Submitted", header_safe(parts.auto_submitted));
  if (!parts.x_loop.empty()) message.set("X-Loop", header_safe(parts.x_loop));
  for (const auto& [name, value] : parts.extra_headers) message.set(header_safe(name), header_safe(value));

  const std::string text_type = "text/plain; charset=UTF-8";
  const bool multipart = parts.html.has_value() || !parts.files.empty();
  if (!multipart) {
    message.setContentType(text_type);
    message.setContent(parts.text, MailMessage::ENCODING_QUOTED_PRINTABLE);
  } else {
    if (parts.html) {
      auto* alternative = new Poco::Net::MultipartSource("multipart/alternative");
      alternative->addPart("", new Poco::Net::StringPartSource(parts.text, text_type), MailMessage::CONTENT_INLINE,
                           MailMessage::ENCODING_QUOTED_PRINTABLE);
      alternative->addPart("", new Poco::Net::StringPartSource(*parts.html, "text/html; charset=UTF-8"),
                           MailMessage::CONTENT_INLINE, MailMessage::ENCODING_QUOTED_PRINTABLE);
      message.addContent(alternative, MailMessage::ENCODING_7BIT);
    } else {
      message.addContent(new Poco::Net::StringPartSource(parts.text, text_type),
                         MailMessage::ENCODING_QUOTED_PRINTABLE);
    }
    for (const auto& file : parts.files) {
      const std::string name = encoded(file.filename);
      message.addAttachment(name, new Poco::Net::StringPartSource(file.data, header_safe(file.content_type), name),
                            MailMessage::ENCODING_BASE64);
    }
  }
  std::ostringstream out;
  message.write(out);
  return to_crlf(out.str());
}

}  // namespace atendd

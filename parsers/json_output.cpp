// json_output.cpp — serialises a ParsedMessage as the `atendd parse --json` object (DESIGN.md).
// Hand-written so that the output is always valid JSON with valid UTF-8, whatever the strings
// hold: ill-formed bytes become U+FFFD, control characters are escaped.
#include "parsers/json_output.h"

#include <cstdio>
#include <ctime>

#include "parsers/charset.h"

namespace atendd {
namespace {

void append_string(std::string& out, std::string_view raw) {
  const std::string text = is_valid_utf8(raw) ? std::string(raw) : sanitize_utf8(raw);
  out += '"';
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    switch (ch) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20 || c == 0x7F) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

void append_address(std::string& out, const Address& a) {
  out += "{\"address\":";
  append_string(out, a.address);
  out += ",\"name\":";
  append_string(out, a.name);
  out += '}';
}

void append_addresses(std::string& out, const std::vector<Address>& list) {
  out += '[';
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (i) out += ',';
    append_address(out, list[i]);
  }
  out += ']';
}

void append_strings(std::string& out, const std::vector<std::string>& list) {
  out += '[';
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (i) out += ',';
    append_string(out, list[i]);
  }
  out += ']';
}

void append_optional_id(std::string& out, const std::string& id) {
  if (id.empty()) out += "null";
  else append_string(out, id);
}

}  // namespace

std::string to_json(const ParsedMessage& m) {
  std::string out;
  out.reserve(1024 + m.text.size() + (m.html ? m.html->size() : 0));
  out += "{\"from\":";
  if (m.from.address.empty() && m.from.name.empty()) out += "null";
  else append_address(out, m.from);
  out += ",\"to\":";
  append_addresses(out, m.to);
  out += ",\"cc\":";
  append_addresses(out, m.cc);
  out += ",\"reply_to\":";
  append_addresses(out, m.reply_to);
  out += ",\"subject\":";
  append_string(out, m.subject);
  out += ",\"message_id\":";
  append_optional_id(out, m.message_id);
  out += ",\"in_reply_to\":";
  append_optional_id(out, m.in_reply_to);
  out += ",\"references\":";
  append_strings(out, m.references);
  out += ",\"date\":";
  if (m.date) {
    const std::time_t t = static_cast<std::time_t>(*m.date);
    std::tm tm{};
    char buf[40];
    if (gmtime_r(&t, &tm) && std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm) > 0 &&
        tm.tm_year + 1900 >= 0 && tm.tm_year + 1900 <= 9999)
      append_string(out, buf);
    else
      out += "null";
  } else {
    out += "null";
  }
  out += ",\"auto_submitted\":";
  out += m.auto_submitted ? "true" : "false";
  out += ",\"is_bounce\":";
  out += m.is_bounce ? "true" : "false";
  out += ",\"bounce\":";
  if (m.bounced_recipient.empty() && m.bounced_message_id.empty()) {
    out += "null";
  } else {
    out += "{\"recipient\":";
    append_optional_id(out, m.bounced_recipient);
    out += ",\"message_id\":";
    append_optional_id(out, m.bounced_message_id);
    out += '}';
  }
  out += ",\"text\":";
  append_string(out, m.text);
  out += ",\"new_text\":";
  append_string(out, m.new_text);
  out += ",\"html\":";
  if (m.html) append_string(out, *m.html);
  else out += "null";
  out += ",\"attachments\":[";
  for (std::size_t i = 0; i < m.attachments.size(); ++i) {
    const Attachment& a = m.attachments[i];
    if (i) out += ',';
    out += "{\"filename\":";
    append_string(out, a.filename);
    out += ",\"content_type\":";
    append_string(out, a.content_type);
    out += ",\"size\":";
    out += std::to_string(a.data.size());
    out += ",\"inline\":";
    out += a.inline_part ? "true" : "false";
    out += '}';
  }
  out += "],\"defects\":";
  append_strings(out, m.defects);
  out += '}';
  return out;
}

}  // namespace atendd

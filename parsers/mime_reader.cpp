// mime_reader.cpp — raw RFC 5322 bytes to ParsedMessage: our own header reader (mbox line,
// junk lines, 8-bit bytes), mimetic for the MIME tree, and body/attachment selection around it.
// Never throws and never aborts on content; work is bounded on giant or hostile input
// (DESIGN.md, invariant 4). Every oddity found is named in ParsedMessage::defects.
#include "parsers/mime_reader.h"

#pragma GCC diagnostic push
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // g++ -O3: mimetic's Base64 encoder
#endif
#include <mimetic/mimetic.h>
#pragma GCC diagnostic pop

#include <algorithm>
#include <cctype>
#include <cstring>
#include <memory>
#include <sstream>
#include <unordered_set>

#include "parsers/address_list.h"
#include "parsers/ascii_case.h"
#include "parsers/charset.h"
#include "parsers/date_time.h"
#include "parsers/encoded_words.h"
#include "parsers/html_text.h"
#include "parsers/quote_split.h"
#include "parsers/transfer_encoding.h"

namespace atendd {
namespace {

constexpr std::size_t kMaxMessageBytes = 64u * 1024 * 1024;  // larger input is cut here
constexpr std::size_t kMaxHeaderBytes = 1024 * 1024;         // a header block past this is junk
constexpr std::size_t kMaxHeaderLines = 20000;
constexpr std::size_t kMaxMultipartCount = 400;  // mimetic recurses once per nested multipart
constexpr int kMaxDepth = 50;
constexpr std::size_t kMaxAttachments = 1000;
constexpr std::size_t kMaxPartLines = 10000;  // "--" lines (part delimiters) handed to mimetic
constexpr std::size_t kMaxIds = 500;

struct RawHeader {
  std::string name;
  std::string value;  // unfolded, trimmed, raw bytes
};

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

using ascii::iequals;

// A mimetic header field's name, without a copy.
std::string_view name_of(const mimetic::Field& field) { return {field.name().data(), field.name().size()}; }

void add_defect(std::vector<std::string>& defects, std::string defect) {
  if (defects.size() >= 100) return;
  if (std::find(defects.begin(), defects.end(), defect) == defects.end()) defects.push_back(std::move(defect));
}

// ---- header block ---------------------------------------------------------------------------

struct HeaderBlock {
  std::vector<RawHeader> headers;
  std::string_view body;
};

// A field name: printable ASCII without ':' (RFC 5322 2.2), optionally followed by blanks.
std::size_t field_name_length(std::string_view line) {
  const std::size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon > 200) return 0;
  std::size_t end = colon;
  while (end > 0 && (line[end - 1] == ' ' || line[end - 1] == '\t')) --end;
  if (end == 0) return 0;
  for (std::size_t i = 0; i < end; ++i) {
    const auto c = static_cast<unsigned char>(line[i]);
    if (c < 33 || c > 126) return 0;
  }
  return colon;
}

HeaderBlock read_header_block(std::string_view raw, std::vector<std::string>& defects) {
  struct Line {
    std::string_view text;  // without line ending
    std::size_t next;       // offset after the line ending
    enum Kind { Field, Continuation, Junk } kind;
    std::size_t colon;         // fields: where the name ends
    std::string_view content;  // fields: the value, continuations: the text, both trimmed
  };
  std::vector<Line> lines;
  lines.reserve(64);
  std::size_t pos = 0;
  std::size_t body_start = raw.size();
  bool found_end = false;
  while (pos < raw.size()) {
    const std::size_t nl = raw.find('\n', pos);
    const std::size_t end = nl == std::string_view::npos ? raw.size() : nl;
    const std::size_t next = nl == std::string_view::npos ? raw.size() : nl + 1;
    std::string_view text = raw.substr(pos, end - pos);
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    if (text.empty()) {
      body_start = next;
      found_end = true;
      break;
    }
    if (pos > kMaxHeaderBytes || lines.size() >= kMaxHeaderLines) {
      add_defect(defects, "header too long");
      body_start = pos;
      found_end = true;
      break;
    }
    Line::Kind kind = Line::Junk;
    std::size_t colon = 0;
    std::string_view content;
    if (text.front() == ' ' || text.front() == '\t') {
      kind = Line::Continuation;
      content = trim(text);
    } else if ((colon = field_name_length(text)) > 0) {
      kind = Line::Field;
      content = trim(text.substr(colon + 1));
    }
    lines.push_back(Line{text, next, kind, colon, content});
    pos = next;
  }
  (void)found_end;

  // A line that is no header field: junk when header fields follow it, else the start of a body
  // that lacks its blank separator line.
  std::size_t last_field = lines.size();
  for (std::size_t i = lines.size(); i-- > 0;)
    if (lines[i].kind == Line::Field) {
      last_field = i;
      break;
    }

  HeaderBlock block;
  block.headers.reserve(lines.size());
  bool current_valid = false;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const Line& line = lines[i];
    if (line.kind == Line::Junk || last_field == lines.size()) {
      if (last_field == lines.size() || i > last_field) {
        // Everything from here on is body.
        add_defect(defects, last_field == lines.size() && i == 0 ? "no header fields"
                                                                   : "missing blank line after header");
        body_start = static_cast<std::size_t>(line.text.data() - raw.data());
        break;
      }
      add_defect(defects, "header line without colon");
      current_valid = false;
      continue;
    }
    if (line.kind == Line::Continuation) {
      if (current_valid) {
        block.headers.back().value += ' ';
        block.headers.back().value.append(line.content);
      } else {
        add_defect(defects, "continuation line without header");
      }
      continue;
    }
    // Room for the folded lines that follow, appended above.
    std::size_t unfolded_size = line.content.size();
    for (std::size_t k = i + 1; k < lines.size() && lines[k].kind == Line::Continuation; ++k)
      unfolded_size += 1 + lines[k].content.size();
    RawHeader& header = block.headers.emplace_back();
    header.name.assign(trim(line.text.substr(0, line.colon)));
    header.value.reserve(unfolded_size);
    header.value.append(line.content);
    current_valid = true;
  }
  const bool nul_in_header =
      !lines.empty() && std::memchr(raw.data(), '\0', lines.back().next) != nullptr;
  for (auto& h : block.headers) {
    if (nul_in_header && h.value.find('\0') != std::string::npos) {
      add_defect(defects, "NUL byte in header");
      h.value.erase(std::remove(h.value.begin(), h.value.end(), '\0'), h.value.end());
    }
    const std::string_view trimmed = trim(h.value);
    if (trimmed.size() != h.value.size()) h.value = std::string(trimmed);
  }
  block.body = raw.substr(std::min(body_start, raw.size()));
  return block;
}

const RawHeader* find_header(const std::vector<RawHeader>& headers, std::string_view name) {
  for (const auto& h : headers)
    if (iequals(h.name, name)) return &h;
  return nullptr;
}

std::vector<const RawHeader*> find_headers(const std::vector<RawHeader>& headers, std::string_view name) {
  std::vector<const RawHeader*> found;
  for (const auto& h : headers)
    if (iequals(h.name, name)) found.push_back(&h);
  return found;
}

// "From sender date" (mbox) or its quoted twin ">From "; not the obsolete "From : addr" field.
bool is_mbox_separator(std::string_view raw) {
  std::string_view rest;
  if (raw.substr(0, 5) == "From ") rest = raw.substr(5);
  else if (raw.substr(0, 6) == ">From ") rest = raw.substr(6);
  else return false;
  while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
  return rest.empty() || rest.front() != ':';
}

// ---- MIME tree ------------------------------------------------------------------------------

struct PartInfo {
  MimeField type;         // value "" when the part has no Content-Type
  MimeField disposition;
  std::string encoding;   // lower case
  std::string content_id;
  std::string description;
};

std::string strip_angles(std::string_view id) {
  id = trim(id);
  if (!id.empty() && id.front() == '<') id.remove_prefix(1);
  if (!id.empty() && id.back() == '>') id.remove_suffix(1);
  return std::string(trim(id));
}

PartInfo part_info(const mimetic::MimeEntity& entity, std::string_view fallback_charset) {
  PartInfo info;
  for (const auto& field : entity.header()) {
    const std::string_view name = name_of(field);
    if (iequals(name, "content-type") && info.type.value.empty()) {
      info.type = parse_mime_field(field.value(), fallback_charset);
    } else if (iequals(name, "content-disposition") && info.disposition.value.empty()) {
      info.disposition = parse_mime_field(field.value(), fallback_charset);
    } else if (iequals(name, "content-transfer-encoding") && info.encoding.empty()) {
      info.encoding = ascii::lower(trim(field.value()));
    } else if (iequals(name, "content-id") && info.content_id.empty()) {
      info.content_id = strip_angles(field.value());
    } else if (iequals(name, "content-description") && info.description.empty()) {
      info.description = decode_header_text(field.value(), fallback_charset);
    }
  }
  if (info.type.value.find('/') == std::string::npos) info.type.value.clear();
  return info;
}

// Message-level MIME fields come from our own header reader, not mimetic's.
PartInfo top_part_info(const std::vector<RawHeader>& headers, std::string_view fallback_charset) {
  PartInfo info;
  if (const auto* h = find_header(headers, "Content-Type")) info.type = parse_mime_field(h->value, fallback_charset);
  if (const auto* h = find_header(headers, "Content-Disposition"))
    info.disposition = parse_mime_field(h->value, fallback_charset);
  if (const auto* h = find_header(headers, "Content-Transfer-Encoding")) info.encoding = ascii::lower(trim(h->value));
  if (const auto* h = find_header(headers, "Content-ID")) info.content_id = strip_angles(h->value);
  if (const auto* h = find_header(headers, "Content-Description"))
    info.description = decode_header_text(h->value, fallback_charset);
  if (info.type.value.find('/') == std::string::npos) info.type.value.clear();
  return info;
}

// Whether the message-level MIME fields read the same without the fallback charset: it only
// matters for raw 8-bit bytes in them (RFC 2047 words and RFC 2231 values name their own).
bool top_fields_are_ascii(const std::vector<RawHeader>& headers) {
  for (const char* name : {"Content-Type", "Content-Disposition", "Content-Description"})
    if (const auto* h = find_header(headers, name); h && !is_ascii(h->value)) return false;
  return true;
}

// Decodes a part's body in its own buffer (base64 and quoted-printable output never outgrows the
// input), so a large attachment exists once, not encoded plus decoded.
std::string decode_body(std::string body, const std::string& encoding, std::string* uu_name,
                        std::vector<std::string>& defects) {
  if (encoding == "base64") {
    bool damaged = false;
    decode_base64_in_place(body, &damaged);
    if (damaged) add_defect(defects, "invalid characters in base64 body");
    return body;
  }
  if (encoding == "quoted-printable") {
    decode_quoted_printable_in_place(body);
    return body;
  }
  if (encoding == "x-uuencode" || encoding == "uuencode" || encoding == "x-uue")
    return decode_uuencode_body(body, uu_name);
  if (!encoding.empty() && encoding != "7bit" && encoding != "8bit" && encoding != "binary")
    add_defect(defects, "unknown Content-Transfer-Encoding");
  return body;
}

// Takes a leaf's raw body out of the mimetic tree: the tree is walked once, and moving the bytes
// spares a copy of every attachment.
std::string take_body(mimetic::MimeEntity& entity) {
  std::string body = std::move(static_cast<std::string&>(entity.body()));
  entity.body().clear();
  return body;
}

// A piece of the message's body in document order: plain text, HTML, or both (alternative).
struct BodySegment {
  std::optional<std::string> plain;
  std::optional<std::string> html;
};

class TreeWalker {
 public:
  TreeWalker(ParsedMessage& message, std::string_view fallback_charset, std::string_view mime_body)
      : message_(message), fallback_charset_(fallback_charset), mime_body_(mime_body) {}

  // Moves each leaf's body out of `entity` while walking it.
  void walk(mimetic::MimeEntity& entity, const PartInfo& info, std::vector<BodySegment>& body,
            bool related_resource, int depth, std::string_view default_type = "text/plain");

  bool saw_delivery_status = false;
  bool saw_report = false;
  std::string status_recipient;     // first recipient named in a message/delivery-status part
  std::string returned_message_id;  // Message-ID of the first attached message or header part

 private:
  void leaf(std::string raw_body, const PartInfo& info, const std::string& type,
            std::vector<BodySegment>& body, bool related_resource);
  void add_attachment(Attachment attachment);
  void attach_message(mimetic::MimeEntity& entity, const PartInfo& info, bool related_resource);

  ParsedMessage& message_;
  std::string fallback_charset_;
  std::string_view mime_body_;  // the body mimetic parsed (for boundary checks)
};

// A name for an unnamed part, from its type: "attachment.pdf", "image.png", "attachment.bin".
std::string synthesized_name(const std::string& content_type) {
  static const std::pair<const char*, const char*> kKnown[] = {
      {"application/pdf", "attachment.pdf"},
      {"image/png", "image.png"},
      {"image/jpeg", "image.jpg"},
      {"image/jpg", "image.jpg"},
      {"image/pjpeg", "image.jpg"},
      {"image/gif", "image.gif"},
      {"image/bmp", "image.bmp"},
      {"image/webp", "image.webp"},
      {"image/tiff", "image.tiff"},
      {"image/svg+xml", "image.svg"},
      {"text/plain", "attachment.txt"},
      {"text/html", "attachment.html"},
      {"text/calendar", "invite.ics"},
      {"text/csv", "attachment.csv"},
      {"text/rfc822-headers", "headers.txt"},
      {"message/rfc822", "message.eml"},
      {"message/global", "message.eml"},
      {"message/delivery-status", "delivery-status.txt"},
      {"application/zip", "attachment.zip"},
      {"application/json", "attachment.json"},
      {"application/xml", "attachment.xml"},
      {"application/pgp-signature", "signature.asc"},
      {"application/pkcs7-signature", "smime.p7s"},
      {"application/x-pkcs7-signature", "smime.p7s"},
      {"application/ms-tnef", "winmail.dat"},
      {"application/msword", "attachment.doc"},
      {"application/vnd.ms-excel", "attachment.xls"},
      {"application/vnd.openxmlformats-officedocument.wordprocessingml.document", "attachment.docx"},
      {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "attachment.xlsx"},
      {"audio/mpeg", "audio.mp3"},
      {"video/mp4", "video.mp4"},
  };
  for (const auto& [type, name] : kKnown)
    if (content_type == type) return name;
  if (content_type.rfind("image/", 0) == 0) return "image.bin";
  return "attachment.bin";
}

// The first "Message-ID:" of a header block (bounded), without angle brackets.
std::string message_id_in_headers(std::string_view block) {
  std::size_t pos = 0;
  while (pos < block.size() && pos < kMaxHeaderBytes) {
    const std::size_t nl = block.find('\n', pos);
    std::string_view line = block.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;  // end of the header block
    if (line.size() >= 11 && iequals(line.substr(0, 11), "message-id:")) {
      std::string value(line.substr(11));
      // The id may be folded onto the next line.
      std::size_t next = nl == std::string_view::npos ? block.size() : nl + 1;
      while (next < block.size() && (block[next] == ' ' || block[next] == '\t')) {
        const std::size_t end = block.find('\n', next);
        value.append(block.substr(next, end == std::string_view::npos ? std::string_view::npos : end - next));
        next = end == std::string_view::npos ? block.size() : end + 1;
      }
      std::string id = strip_angles(value);
      id.erase(std::remove_if(id.begin(), id.end(), [](char c) { return is_blank(c); }), id.end());
      return id;
    }
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  return {};
}

// The first recipient of a message/delivery-status body: Original-Recipient when given (the
// address as we wrote it), else Final-Recipient; the address type ("rfc822;") stripped.
std::string recipient_in_status(std::string_view status) {
  std::string original, final_recipient;
  std::size_t pos = 0;
  bool in_recipient_block = false;
  while (pos < status.size()) {
    const std::size_t nl = status.find('\n', pos);
    std::string_view line = trim(status.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos));
    pos = nl == std::string_view::npos ? status.size() : nl + 1;
    if (line.empty()) {
      if (in_recipient_block && (!original.empty() || !final_recipient.empty())) break;  // first one only
      continue;
    }
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view name = trim(line.substr(0, colon));
    std::string_view value = trim(line.substr(colon + 1));
    const bool is_original = iequals(name, "original-recipient");
    if (!is_original && !iequals(name, "final-recipient")) continue;
    in_recipient_block = true;
    if (const std::size_t semi = value.find(';'); semi != std::string_view::npos) value = trim(value.substr(semi + 1));
    std::string address = strip_angles(value);
    if (is_original && original.empty()) original = address;
    if (!is_original && final_recipient.empty()) final_recipient = address;
  }
  return original.empty() ? final_recipient : original;
}

void TreeWalker::add_attachment(Attachment attachment) {
  if (message_.attachments.size() >= kMaxAttachments) {
    add_defect(message_.defects, "too many attachments");
    return;
  }
  // File names are for display: no line breaks or other control characters.
  for (auto& c : attachment.filename)
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  attachment.filename = std::string(trim(attachment.filename));
  // A name is never a path: "../../etc/passwd" is "passwd", "C:\\x\\a.doc" is "a.doc". Names made
  // from an attached message's subject keep their text, with the separators replaced.
  const bool is_message = attachment.content_type.rfind("message/", 0) == 0;
  if (is_message) {
    for (auto& c : attachment.filename)
      if (c == '/' || c == '\\') c = '_';
  } else if (const auto sep = attachment.filename.find_last_of("/\\"); sep != std::string::npos) {
    attachment.filename = std::string(trim(attachment.filename.substr(sep + 1)));
  }
  if (attachment.filename == "." || attachment.filename == "..") attachment.filename.clear();
  if (attachment.filename.empty()) attachment.filename = synthesized_name(attachment.content_type);
  message_.attachments.push_back(std::move(attachment));
}

std::string filename_of(const PartInfo& info) {
  std::string name = info.disposition.param("filename");
  if (name.empty()) name = info.type.param("name");
  return name;
}

void TreeWalker::attach_message(mimetic::MimeEntity& entity, const PartInfo& info,
                                bool related_resource) {
  Attachment a;
  a.content_type = info.type.value.empty() ? "message/rfc822" : info.type.value;
  a.content_id = info.content_id;
  a.inline_part = related_resource || info.disposition.value == "inline";
  a.filename = filename_of(info);
  const auto& parts = entity.body().parts();
  if (!parts.empty() && parts.front()) {
    const mimetic::MimeEntity& inner = *parts.front();
    if (a.filename.empty()) {
      for (const auto& field : inner.header()) {
        if (iequals(name_of(field), "subject")) {
          a.filename = std::string(trim(decode_header_text(field.value(), fallback_charset_)));
          break;
        }
      }
      if (a.filename.empty()) a.filename = info.description;
      if (!a.filename.empty()) a.filename += ".eml";
    }
    try {
      std::ostringstream os;
      os << inner;
      a.data = os.str();
      if (returned_message_id.empty()) returned_message_id = message_id_in_headers(a.data);
    } catch (...) {
      add_defect(message_.defects, "unreadable attached message");
    }
  } else {
    a.data = take_body(entity);
  }
  if (a.filename.empty() && !info.description.empty()) a.filename = info.description + ".eml";
  if (a.filename.empty()) a.filename = "message.eml";
  add_attachment(std::move(a));
}

void TreeWalker::walk(mimetic::MimeEntity& entity, const PartInfo& info, std::vector<BodySegment>& body,
                      bool related_resource, int depth, std::string_view default_type) {
  if (depth > kMaxDepth) {
    add_defect(message_.defects, "MIME nesting too deep");
    return;
  }
  std::string type = info.type.value.empty() ? std::string(default_type) : info.type.value;
  if (info.type.value.empty() && depth > 0 && entity.header().empty() && entity.body().empty() &&
      entity.body().parts().empty())
    return;  // an empty part (two boundaries in a row)

  if (type.rfind("multipart/", 0) == 0) {
    const auto& parts = entity.body().parts();
    const std::string boundary = info.type.param("boundary");
    if (boundary.empty()) add_defect(message_.defects, "multipart without boundary");
    if (parts.empty() || boundary.empty()) {
      // mimetic puts everything into the preamble when the boundary never occurs.
      std::string text = entity.body().preamble();
      text += entity.body();
      text += entity.body().epilogue();
      if (!boundary.empty()) add_defect(message_.defects, "multipart boundary never found");
      if (!trim(text).empty()) {
        PartInfo as_text = info;
        as_text.type.value = "text/plain";
        leaf(std::move(text), as_text, "text/plain", body, related_resource);
      }
      return;
    }
    if (!boundary.empty() && mime_body_.find("--" + boundary + "--") == std::string_view::npos)
      add_defect(message_.defects, "unterminated multipart boundary");
    const std::string subtype = type.substr(10);
    const std::string child_default = subtype == "digest" ? "message/rfc822" : "text/plain";

    if (subtype == "alternative") {
      // Keep the first plain and the first HTML alternative (each may be a nested multipart).
      BodySegment chosen;
      for (mimetic::MimeEntity* child : parts) {
        if (!child) continue;
        std::vector<BodySegment> alternative;
        walk(*child, part_info(*child, fallback_charset_), alternative, related_resource, depth + 1, child_default);
        for (auto& seg : alternative) {
          if (seg.plain && !chosen.plain) chosen.plain = std::move(seg.plain);
          if (seg.html && !chosen.html) chosen.html = std::move(seg.html);
        }
      }
      if (chosen.plain || chosen.html) body.push_back(std::move(chosen));
      return;
    }
    if (subtype == "report") {
      saw_report = true;
      if (iequals(info.type.param("report-type"), "delivery-status")) saw_delivery_status = true;
    }
    std::string start_id = strip_angles(info.type.param("start"));
    bool root_done = false;
    std::size_t index = 0;
    for (mimetic::MimeEntity* child : parts) {
      if (!child) continue;
      const PartInfo child_info = part_info(*child, fallback_charset_);
      bool resource = related_resource;
      if (subtype == "related") {
        // The root (the "start" part, else the first) is the body; the rest are its resources.
        const bool is_root = !root_done && (start_id.empty() || child_info.content_id == start_id);
        if (is_root) root_done = true;
        resource = resource || !is_root;
      }
      if (subtype == "signed" && index > 0) {
        // The signature itself: an attachment, never body text.
        PartInfo sig = child_info;
        if (sig.disposition.value.empty()) sig.disposition.value = "attachment";
        walk(*child, sig, body, resource, depth + 1, child_default);
      } else {
        walk(*child, child_info, body, resource, depth + 1, child_default);
      }
      ++index;
    }
    return;
  }

  if (type == "message/rfc822" || type == "message/global") {
    attach_message(entity, info, related_resource);
    return;
  }
  leaf(take_body(entity), info, type, body, related_resource);
}

void TreeWalker::leaf(std::string raw_body, const PartInfo& info, const std::string& type,
                      std::vector<BodySegment>& body, bool related_resource) {
  std::string uu_name;
  std::string data = decode_body(std::move(raw_body), info.encoding, &uu_name, message_.defects);
  std::string filename = filename_of(info);
  const bool uuencoded = info.encoding.find("uu") != std::string::npos;
  const bool is_text = type == "text/plain" || type == "text/html";
  const bool marked_attachment = info.disposition.value == "attachment";
  const std::string charset = info.type.param("charset");

  if (is_text && !marked_attachment && filename.empty() && !related_resource && !uuencoded) {
    bool lossy = false;
    std::optional<std::string> converted = to_utf8_if_changed(data, charset, &lossy);
    // The usual text is already UTF-8: it is kept without a copy, and then it is the raw too.
    std::string text = converted ? std::move(*converted) : std::move(data);
    const std::string_view raw = converted ? std::string_view(data) : std::string_view(text);
    if (lossy) add_defect(message_.defects, "invalid bytes in " + (charset.empty() ? std::string("body") : charset) + " body");
    if (type == "text/plain") {
      std::string remaining;
      // extract_uuencoded finds nothing without a "begin " line (and would copy the text).
      auto files = text.find("begin ") == std::string::npos ? std::vector<UuFile>() : extract_uuencoded(text, &remaining);
      if (!files.empty()) {
        // The uuencoded bytes went through the charset conversion above: decode from the raw.
        files = extract_uuencoded(raw, nullptr);
        text = std::move(remaining);
        for (auto& f : files) {
          Attachment a;
          a.filename = guess_to_utf8(f.name, charset);
          a.content_type = "application/octet-stream";
          a.data = std::move(f.data);
          add_attachment(std::move(a));
        }
      }
      if (!trim(text).empty()) body.push_back(BodySegment{std::move(text), std::nullopt});
    } else if (!trim(text).empty()) {
      body.push_back(BodySegment{std::nullopt, std::move(text)});
    }
    return;
  }

  Attachment a;
  a.content_type = type;
  a.content_id = info.content_id;
  a.inline_part = related_resource || info.disposition.value == "inline";
  if (filename.empty() && !uu_name.empty()) filename = guess_to_utf8(uu_name, fallback_charset_);
  if (filename.empty() && type == "message/delivery-status") filename = "delivery-status.txt";
  if (filename.empty() && type == "application/ms-tnef") filename = "winmail.dat";
  a.filename = std::move(filename);
  a.data = std::move(data);
  if (type == "message/delivery-status") {
    saw_delivery_status = true;
    if (status_recipient.empty()) status_recipient = recipient_in_status(a.data);
  }
  if (type == "text/rfc822-headers" && returned_message_id.empty())
    returned_message_id = message_id_in_headers(a.data);
  add_attachment(std::move(a));
}

// The charset that best explains raw 8-bit header bytes: the first declared charset of a text
// part that says more than "ASCII or Western".
void collect_charsets(const mimetic::MimeEntity& entity, std::vector<std::string>& out, int depth) {
  if (depth > kMaxDepth || out.size() > 20) return;
  for (const auto& field : entity.header()) {
    if (!iequals(name_of(field), "content-type")) continue;
    const MimeField type = parse_mime_field(field.value());
    const std::string cs = type.param("charset");
    if (!cs.empty()) out.push_back(cs);
    break;
  }
  for (const mimetic::MimeEntity* child : entity.body().parts())
    if (child) collect_charsets(*child, out, depth + 1);
}

std::string choose_fallback_charset(const std::vector<std::string>& charsets) {
  for (const auto& cs : charsets) {
    const std::string c = canonical_charset(cs);
    if (c == "US-ASCII" || c == "UTF-8" || c == "ISO-8859-1" || c == "windows-1252" || c == "ISO-8859-15" ||
        c == "iso-8859-15")
      continue;
    return cs;
  }
  return charsets.empty() ? std::string() : charsets.front();
}

// Finds a lower-case needle in a text, ignoring ASCII case, in increasing positions. memchr over
// both cases of the needle's first character (each remembered until passed) keeps this at memory
// speed on multi-megabyte bodies.
class CaseInsensitiveFinder {
 public:
  CaseInsensitiveFinder(std::string_view text, std::string_view needle)
      : text_(text), needle_(needle), lower_(needle.empty() ? '\0' : needle.front()),
        upper_(ascii::to_upper(lower_)),
        limit_(needle.empty() || needle.size() > text.size() ? 0 : text.size() - needle.size() + 1) {}

  // The first match at or after `from`, or npos.
  std::size_t find(std::size_t from) {
    while (from < limit_) {
      if (next_lower_ < from || next_lower_ == kUnknown) next_lower_ = scan(lower_, from);
      if (upper_ == lower_) next_upper_ = limit_;
      else if (next_upper_ < from || next_upper_ == kUnknown) next_upper_ = scan(upper_, from);
      const std::size_t at = std::min(next_lower_, next_upper_);
      if (at >= limit_) break;
      if (matches(at)) return at;
      from = at + 1;
    }
    return std::string_view::npos;
  }

 private:
  static constexpr std::size_t kUnknown = std::string_view::npos;

  std::size_t scan(char c, std::size_t from) const {
    const void* hit = std::memchr(text_.data() + from, c, limit_ - from);
    return hit ? static_cast<std::size_t>(static_cast<const char*>(hit) - text_.data()) : limit_;
  }
  bool matches(std::size_t at) const {
    for (std::size_t i = 1; i < needle_.size(); ++i)
      if (ascii::to_lower(text_[at + i]) != needle_[i]) return false;
    return true;
  }

  std::string_view text_;
  std::string_view needle_;
  char lower_;
  char upper_;
  std::size_t limit_;  // candidate positions are below this
  std::size_t next_lower_ = kUnknown;
  std::size_t next_upper_ = kUnknown;
};

// How often a lower-case needle occurs (ignoring case), counting no further than limit + 1.
std::size_t count_case_insensitive(std::string_view haystack, std::string_view needle, std::size_t limit) {
  std::size_t count = 0;
  CaseInsensitiveFinder finder(haystack, needle);
  std::size_t pos = 0;
  while (count <= limit) {
    const std::size_t at = finder.find(pos);
    if (at == std::string_view::npos) break;
    ++count;
    pos = at + needle.size();
  }
  return count;
}

// Every boundary parameter declared anywhere in the body (bounded).
std::vector<std::string> declared_boundaries(std::string_view text) {
  std::vector<std::string> found;
  static constexpr std::string_view key = "boundary=";
  CaseInsensitiveFinder finder(text, key);
  std::size_t pos = 0;
  while (found.size() < kMaxMultipartCount) {
    const std::size_t at = finder.find(pos);
    if (at == std::string_view::npos) break;
    pos = at + key.size();
    std::string value;
    if (pos < text.size() && text[pos] == '"') {
      ++pos;
      while (pos < text.size() && text[pos] != '"' && text[pos] != '\n' && value.size() < 200) value += text[pos++];
    } else {
      while (pos < text.size() && !is_blank(text[pos]) && text[pos] != ';' && text[pos] != '"' && value.size() < 200)
        value += text[pos++];
    }
    if (!value.empty() && std::find(found.begin(), found.end(), value) == found.end()) found.push_back(value);
  }
  return found;
}

// mimetic loses every later part when a nested multipart is never closed and an outer boundary
// follows (seen in Gmail delay notices). Inserts the missing closing lines; nothing when the
// structure is already sound. The result starts with CRLF: the empty line mimetic reads first.
std::optional<std::string> close_nested_multiparts(std::string_view text, const std::vector<std::string>& boundaries) {
  if (boundaries.size() < 2) return std::nullopt;
  const std::unordered_set<std::string_view> known(boundaries.begin(), boundaries.end());
  std::vector<std::string> open;
  std::string out = "\r\n";
  bool changed = false;
  std::size_t copied = 0, pos = 0;
  while (pos < text.size()) {
    const std::size_t nl = text.find('\n', pos);
    const std::size_t next = nl == std::string_view::npos ? text.size() : nl + 1;
    std::string_view line = text.substr(pos, next - pos);
    if (line.size() > 2 && line[0] == '-' && line[1] == '-') {
      line = trim(line.substr(2));
      bool closing = false;
      std::string_view name = line;
      if (known.count(name) == 0 && name.size() > 2 &&
          name.substr(name.size() - 2) == "--") {
        name.remove_suffix(2);
        closing = true;
      }
      if (known.count(name) != 0) {
        if (open.size() > 64) return std::nullopt;  // hostile nesting: leave it to the depth limits
        const auto at = std::find(open.begin(), open.end(), name);
        if (at == open.end()) {
          if (!closing) open.emplace_back(name);
        } else {
          // Inner multiparts still open: close them right here.
          std::string inserted;
          for (auto inner = open.end(); inner-- != at + 1;) inserted += "\r\n--" + *inner + "--\r\n";
          if (!inserted.empty()) {
            out.append(text.substr(copied, pos - copied));
            out += inserted;
            copied = pos;
            changed = true;
          }
          open.erase(closing ? at : at + 1, open.end());
        }
      }
    }
    pos = next;
  }
  if (!changed) return std::nullopt;
  out.append(text.substr(copied));
  return out;
}

// ---- message-level fields -------------------------------------------------------------------

// Removes every '\r', moving the text between them (memchr finds them; most lines have one).
void remove_carriage_returns(std::string& text) {
  char* const begin = text.data();
  char* const end = begin + text.size();
  char* cr = static_cast<char*>(std::memchr(begin, '\r', text.size()));
  if (!cr) return;
  char* out = cr;
  for (char* from = cr + 1; from < end;) {
    char* next = static_cast<char*>(std::memchr(from, '\r', static_cast<std::size_t>(end - from)));
    char* stop = next ? next : end;
    std::memmove(out, from, static_cast<std::size_t>(stop - from));
    out += stop - from;
    if (!next) break;
    from = next + 1;
  }
  text.resize(static_cast<std::size_t>(out - begin));
}

std::vector<std::string> message_ids(std::string_view value) {
  std::vector<std::string> ids;
  std::size_t pos = 0;
  while (ids.size() < kMaxIds) {
    const std::size_t open = value.find('<', pos);
    if (open == std::string_view::npos) break;
    const std::size_t close = value.find('>', open + 1);
    if (close == std::string_view::npos) break;
    std::string id = std::string(trim(value.substr(open + 1, close - open - 1)));
    id.erase(std::remove_if(id.begin(), id.end(), [](char c) { return is_blank(c); }), id.end());
    if (!id.empty()) ids.push_back(std::move(id));
    pos = close + 1;
  }
  if (ids.empty()) {
    // No angle brackets: accept a bare id ("local@domain") but not free text.
    const std::string_view bare = trim(value);
    if (!bare.empty() && bare.find_first_of(" \t") == std::string_view::npos && bare.find('@') != std::string_view::npos)
      ids.emplace_back(bare);
  }
  return ids;
}

// The header that makes the message automatic ("Auto-Submitted: auto-replied"), or "" when none.
std::string automatic_header(const std::vector<RawHeader>& headers) {
  for (const auto& h : headers) {
    const std::string_view name = h.name;
    const bool auto_submitted = iequals(name, "auto-submitted");
    const bool precedence = iequals(name, "precedence") || iequals(name, "x-precedence");
    const bool autoreply = iequals(name, "x-autoreply") || iequals(name, "x-autorespond") ||
                           iequals(name, "x-autogenerated") || iequals(name, "x-auto-response");
    if (!auto_submitted && !precedence && !autoreply) continue;
    std::string_view value = trim(h.value);
    if (const auto semi = value.find(';'); semi != std::string_view::npos) value = trim(value.substr(0, semi));
    const bool automatic =
        (auto_submitted && !value.empty() && !iequals(value, "no")) ||
        (precedence && (iequals(value, "bulk") || iequals(value, "junk") || iequals(value, "list"))) ||
        (autoreply && !iequals(value, "no") && !iequals(value, "false"));
    if (automatic) return h.name + ": " + std::string(trim(h.value)).substr(0, 80);
  }
  return "";
}

bool looks_like_bounce_subject(std::string_view subject) {
  for (const char* phrase : {"undeliver", "delivery status notification", "returned mail", "failure notice",
                             "delivery failure", "mail delivery failed", "delivery has failed",
                             "nicht zustellbar", "unzustellbar", "non remis", "não entregue"})
    if (ascii::icontains(subject, phrase)) return true;
  return false;
}

}  // namespace

ParsedMessage parse_message(std::string_view raw) {
  ParsedMessage message;
  try {
    if (raw.size() > kMaxMessageBytes) {
      add_defect(message.defects, "message truncated at 64 MiB");
      raw = raw.substr(0, kMaxMessageBytes);
    }
    if (raw.empty()) {
      add_defect(message.defects, "empty message");
      add_defect(message.defects, "no From header");
      return message;
    }
    // mbox separator line ("From sender date"), possibly with a ">From " quoted twin.
    while (is_mbox_separator(raw)) {
      const std::size_t nl = raw.find('\n');
      raw = nl == std::string_view::npos ? std::string_view() : raw.substr(nl + 1);
    }
    const HeaderBlock block = read_header_block(raw, message.defects);
    const auto& headers = block.headers;

    // mimetic gets our clean, normalised Content-Type as the root's header and parses the body
    // in place from `raw` (no copy of the message): it starts reading at the line break that ends
    // the header, which it takes for the empty line before the body.
    const PartInfo top_raw = top_part_info(headers, {});
    bool parse_as_text = false;
    if (top_raw.type.value.rfind("multipart/", 0) == 0 &&
        count_case_insensitive(block.body, "multipart/", kMaxMultipartCount) >= kMaxMultipartCount) {
      add_defect(message.defects, "too many nested multiparts");
      parse_as_text = true;
    }
    auto root = std::make_unique<mimetic::MimeEntity>();
    const std::string top_boundary = top_raw.type.param("boundary");
    const bool usable_boundary = !top_boundary.empty() && top_boundary.find_first_of("\"\r\n") == std::string::npos;
    // A multipart without a usable boundary stays one text for mimetic (it would split at every
    // "--"); the walk reports it and shows the whole body.
    if (!top_raw.type.value.empty() && !parse_as_text &&
        (usable_boundary || top_raw.type.value.rfind("multipart/", 0) != 0)) {
      std::string content_type = top_raw.type.value.substr(0, top_raw.type.value.find_first_of("\r\n"));
      if (usable_boundary) content_type += "; boundary=\"" + top_boundary + "\"";
      mimetic::Header& header = root->header();
      const auto field = header.insert(header.end(), mimetic::Field());
      field->name("Content-Type");
      field->value(content_type);
    }
    std::optional<std::string> repaired;  // starts with CRLF (see close_nested_multiparts)
    if (top_raw.type.value.rfind("multipart/", 0) == 0 && !parse_as_text) {
      auto boundaries = declared_boundaries(block.body);
      if (!top_boundary.empty() && std::find(boundaries.begin(), boundaries.end(), top_boundary) == boundaries.end())
        boundaries.push_back(top_boundary);
      repaired = close_nested_multiparts(block.body, boundaries);
      if (repaired) add_defect(message.defects, "nested multipart never closed");
    }
    std::string_view mime_input;  // line break + body
    std::string copied_body;      // only when the body does not follow a line break in `raw`
    if (repaired) {
      mime_input = *repaired;
    } else {
      const std::size_t at = static_cast<std::size_t>(block.body.data() - raw.data());
      if (at >= 2 && raw[at - 1] == '\n' && raw[at - 2] == '\r') {
        mime_input = raw.substr(at - 2);
      } else if (at >= 1 && raw[at - 1] == '\n' && (block.body.empty() || block.body.front() != '\r')) {
        mime_input = raw.substr(at - 1);  // LF only (a CR after it would be taken as CRLF)
      } else {
        copied_body.reserve(block.body.size() + 2);
        copied_body += "\r\n";
        copied_body.append(block.body);
        mime_input = copied_body;
      }
    }
    // mimetic builds one entity per part before we see any: a multipart of a million tiny parts
    // would take gigabytes. Cut the body before the delimiter line past the bound.
    if (top_raw.type.value.rfind("multipart/", 0) == 0 && !parse_as_text) {
      std::size_t lines = 0;
      for (std::size_t at = mime_input.find("\n--"); at != std::string_view::npos; at = mime_input.find("\n--", at + 3)) {
        if (++lines > kMaxPartLines) {
          mime_input = mime_input.substr(0, at + 1);
          add_defect(message.defects, "more than " + std::to_string(kMaxPartLines) + " MIME parts: the rest is not read");
          break;
        }
      }
    }
    // A pointer range: mimetic then copies each part's body with one append.
    root->load(mime_input.data(), mime_input.data() + mime_input.size());
    const std::string_view mime_body = repaired ? std::string_view(*repaired).substr(2) : block.body;

    std::vector<std::string> charsets;
    if (!top_raw.type.param("charset").empty()) charsets.push_back(top_raw.type.param("charset"));
    collect_charsets(*root, charsets, 0);
    const std::string fallback = choose_fallback_charset(charsets);

    // Headers, decoded.
    message.headers.reserve(std::min(headers.size(), kMaxHeaderLines));
    for (const auto& h : headers) {
      if (message.headers.size() >= kMaxHeaderLines) break;
      message.headers.emplace_back(h.name, decode_header_text(h.value, fallback));
    }

    const auto from_headers = find_headers(headers, "From");
    if (from_headers.empty()) add_defect(message.defects, "no From header");
    if (from_headers.size() > 1) add_defect(message.defects, "multiple From headers");
    bool have_from = false;
    for (const RawHeader* h : from_headers) {
      auto list = parse_address_list(h->value, fallback, &message.defects);
      for (auto& a : list) {
        if (!a.address.empty() && a.address.find('@') != std::string::npos) {
          message.from = a;
          have_from = true;
          break;
        }
      }
      if (have_from) break;
      if (!list.empty() && message.from.address.empty() && message.from.name.empty()) message.from = list.front();
    }
    if (!from_headers.empty() && !have_from) add_defect(message.defects, "no usable From address");
    auto read_list = [&](std::string_view name, std::vector<Address>& out) {
      for (const RawHeader* h : find_headers(headers, name)) {
        auto list = parse_address_list(h->value, fallback, &message.defects);
        out.insert(out.end(), list.begin(), list.end());
      }
    };
    read_list("To", message.to);
    read_list("Cc", message.cc);
    read_list("Reply-To", message.reply_to);

    if (const auto* h = find_header(headers, "Subject")) {
      if (!is_ascii(h->value) && !is_valid_utf8(h->value)) add_defect(message.defects, "invalid UTF-8 in Subject");
      std::string subject = decode_header_text(h->value, fallback);
      for (auto& c : subject)
        if (c == '\r' || c == '\n' || c == '\t') c = ' ';
      message.subject = std::string(trim(subject));
    }
    if (const auto* h = find_header(headers, "Message-ID")) {
      auto ids = message_ids(h->value);
      if (!ids.empty()) message.message_id = ids.front();
      else add_defect(message.defects, "unreadable Message-ID");
    }
    if (const auto* h = find_header(headers, "In-Reply-To")) {
      auto ids = message_ids(h->value);
      if (!ids.empty()) message.in_reply_to = ids.front();
    }
    for (const RawHeader* h : find_headers(headers, "References")) {
      for (auto& id : message_ids(h->value))
        if (message.references.size() < kMaxIds) message.references.push_back(std::move(id));
    }
    if (const auto* h = find_header(headers, "Date")) {
      message.date = parse_mail_date(h->value);
      if (!message.date) add_defect(message.defects, "unreadable Date");
    } else {
      add_defect(message.defects, "no Date header");
    }
    message.automatic_because = automatic_header(headers);
    message.auto_submitted = !message.automatic_because.empty();

    // Body and attachments.
    TreeWalker walker(message, fallback, mime_body);
    std::vector<BodySegment> body;
    PartInfo top = fallback.empty() || top_fields_are_ascii(headers) ? top_raw : top_part_info(headers, fallback);
    if (parse_as_text) {
      top.type.value = "text/plain";
      walker.walk(*root, top, body, false, 0);
    } else {
      walker.walk(*root, top, body, false, 0);
    }
    std::string text, html;
    bool any_html = false;
    for (auto& segment : body) {
      std::string piece;
      if (segment.plain) piece = std::move(*segment.plain);
      else if (segment.html) piece = html_to_text(*segment.html);
      if (segment.html) {
        if (any_html) html += '\n';
        html += *segment.html;
        any_html = true;
      }
      if (trim(piece).empty()) continue;
      if (text.empty()) {
        text = std::move(piece);
        continue;
      }
      text += text.back() == '\n' ? "\n" : "\n\n";
      text += piece;
    }
    // One line-ending convention for the text: LF.
    remove_carriage_returns(text);
    // No blank lines before the first line of text, no trailing blanks after the last.
    while (!text.empty() && is_blank(text.back())) text.pop_back();
    const std::size_t first_line = text.find_first_not_of(" \t\n");
    if (first_line != std::string::npos) {
      const std::size_t line_start = text.rfind('\n', first_line);
      if (line_start != std::string::npos) text.erase(0, line_start + 1);
    }
    message.text = std::move(text);
    message.new_text = split_reply(message.text).new_text;
    if (any_html) message.html = std::move(html);

    const std::string_view sender = message.from.address;
    const std::string_view local = sender.substr(0, sender.find('@'));
    const bool daemon_sender = iequals(local, "mailer-daemon") || iequals(local, "postmaster") ||
                               ascii::icontains(message.from.name, "mailer-daemon");
    const bool returned_message = std::any_of(message.attachments.begin(), message.attachments.end(),
                                              [](const Attachment& a) { return a.content_type == "message/rfc822"; });
    message.is_bounce = walker.saw_delivery_status ||
                        (daemon_sender && (returned_message || looks_like_bounce_subject(message.subject)));
    if (message.is_bounce) {
      message.bounced_recipient = walker.status_recipient;
      message.bounced_message_id = walker.returned_message_id;
    }
    // Machine senders that never read replies.
    bool machine_sender = false;
    for (std::string_view name : {"noreply", "no-reply", "no_reply", "donotreply", "do-not-reply", "do_not_reply",
                                  "mailer-daemon", "postmaster"})
      machine_sender = machine_sender || iequals(local, name);
    if (machine_sender) {
      if (!message.auto_submitted) message.automatic_because = "sender " + ascii::lower(local);
      message.auto_submitted = true;
    }
    // Address parsing reports each bad entry; one mention of each kind is enough.
    std::vector<std::string> unique;
    for (auto& d : message.defects)
      if (std::find(unique.begin(), unique.end(), d) == unique.end() && unique.size() < 100) unique.push_back(d);
    message.defects = std::move(unique);
  } catch (const std::exception& e) {
    add_defect(message.defects, std::string("parser error: ") + e.what());
  } catch (...) {
    add_defect(message.defects, "parser error");
  }
  return message;
}

}  // namespace atendd

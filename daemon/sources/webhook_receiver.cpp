// webhook_receiver.cpp — see webhook_receiver.h.
#include "daemon/sources/webhook_receiver.h"

#include <ctime>
#include <sstream>

#include <Poco/Base64Encoder.h>
#include <Poco/DigestEngine.h>
#include <Poco/HMACEngine.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/SHA2Engine.h>
#include <Poco/String.h>

#include "daemon/runtime.h"
#include "storage/blob_store.h"

namespace atendd {

using Poco::JSON::Array;
using Poco::JSON::Object;

namespace {

constexpr const char* kChannelDomain = ".channel.invalid";

Object::Ptr parse_json_object(const std::string& body, std::string& error) {
  try {
    Poco::JSON::Parser parser;
    auto v = parser.parse(body);
    if (v.type() == typeid(Object::Ptr)) return v.extract<Object::Ptr>();
    error = "the body must be a JSON object";
  } catch (const Poco::Exception& e) {
    error = "malformed JSON: " + e.message();
  } catch (const std::exception& e) {
    error = std::string("malformed JSON: ") + e.what();
  }
  return nullptr;
}

std::string str(const Object::Ptr& o, const std::string& key) {
  if (!o || !o->has(key) || o->isNull(key)) return "";
  return o->get(key).toString();
}

Timestamp number(const std::string& text) {
  try {
    return text.empty() ? 0 : static_cast<Timestamp>(std::stoll(text));
  } catch (const std::exception&) {
    return 0;
  }
}

// Only what a domain label and a Message-ID may hold; anything else becomes '_'.
std::string id_safe(const std::string& s) {
  std::string out;
  for (unsigned char c : s) out += (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '+') ? static_cast<char>(c) : '_';
  return out.substr(0, 200);
}

std::string encoded_word(const std::string& text) {
  std::string clean;
  for (char c : text) clean += (c == '\r' || c == '\n') ? ' ' : c;
  std::ostringstream out;
  Poco::Base64Encoder encoder(out);
  encoder.rdbuf()->setLineLength(0);
  encoder << clean;
  encoder.close();
  return "=?UTF-8?B?" + out.str() + "?=";
}

std::string rfc2822_date(Timestamp at) {
  std::time_t t = static_cast<std::time_t>(at);
  std::tm utc{};
  gmtime_r(&t, &utc);
  char buffer[64];
  std::strftime(buffer, sizeof buffer, "%a, %d %b %Y %H:%M:%S +0000", &utc);
  return buffer;
}

// "#2026112400001" in the text: the protocol the sender names (digits only, as protocols are).
std::string named_protocol(const std::string& text) {
  for (size_t at = text.find('#'); at != std::string::npos; at = text.find('#', at + 1)) {
    size_t end = at + 1;
    while (end < text.size() && std::isalnum(static_cast<unsigned char>(text[end]))) ++end;
    if (end - at - 1 >= 4) return text.substr(at + 1, end - at - 1);
  }
  return "";
}

// A stable positive 63-bit number for the provider's id: the journal's (source, mailbox,
// uidvalidity, uid) key, so a retried delivery is a duplicate whatever else changed.
std::int64_t uid_of(const std::string& channel, const std::string& id) {
  const std::string hex = sha256_hex(channel + "\n" + id);
  std::int64_t v = static_cast<std::int64_t>(std::stoull(hex.substr(0, 15), nullptr, 16));
  return v == 0 ? 1 : v;
}

}  // namespace

std::string channel_address(const std::string& channel_id, const std::string& sender_id) {
  return Poco::toLower(id_safe(sender_id) + "@" + id_safe(channel_id) + kChannelDomain);
}

bool parse_channel_address(const std::string& address, std::string& channel_id, std::string& sender_id) {
  const std::string domain = kChannelDomain;
  const auto at = address.find('@');
  if (at == std::string::npos || address.size() < domain.size() ||
      address.compare(address.size() - domain.size(), domain.size(), domain) != 0)
    return false;
  sender_id = address.substr(0, at);
  channel_id = address.substr(at + 1, address.size() - domain.size() - at - 1);
  return !sender_id.empty() && !channel_id.empty();
}

std::vector<ChannelMessage> parse_whatsapp(const std::string& body, std::string& error) {
  std::vector<ChannelMessage> out;
  auto root = parse_json_object(body, error);
  if (!root) return out;
  auto entries = root->getArray("entry");
  if (!entries) {
    error = "not a WhatsApp webhook: no \"entry\"";
    return out;
  }
  for (size_t e = 0; e < entries->size(); ++e) {
    auto entry = entries->getObject(static_cast<unsigned>(e));
    auto changes = entry ? entry->getArray("changes") : nullptr;
    for (size_t c = 0; changes && c < changes->size(); ++c) {
      auto change = changes->getObject(static_cast<unsigned>(c));
      auto value = change ? change->getObject("value") : nullptr;
      if (!value) continue;
      std::map<std::string, std::string> names;
      if (auto contacts = value->getArray("contacts"))
        for (size_t k = 0; k < contacts->size(); ++k) {
          auto contact = contacts->getObject(static_cast<unsigned>(k));
          if (contact) names[str(contact, "wa_id")] = str(contact->getObject("profile"), "name");
        }
      auto messages = value->getArray("messages");  // absent in status updates: nothing to do
      for (size_t m = 0; messages && m < messages->size(); ++m) {
        auto message = messages->getObject(static_cast<unsigned>(m));
        if (!message) continue;
        ChannelMessage cm;
        cm.id = str(message, "id");
        cm.sender_id = str(message, "from");
        cm.sender_name = names[cm.sender_id];
        cm.timestamp = number(str(message, "timestamp"));
        const std::string type = str(message, "type");
        if (type == "text") {
          cm.text = str(message->getObject("text"), "body");
        } else if (auto media = message->getObject(type)) {
          cm.text = str(media, "caption");
          cm.media.push_back(type + " " + str(media, "id") + " " + str(media, "mime_type"));
        } else {
          cm.text = "[" + type + "]";
        }
        if (cm.id.empty() || cm.sender_id.empty()) continue;
        out.push_back(std::move(cm));
      }
    }
  }
  return out;
}

std::vector<ChannelMessage> parse_telegram(const std::string& body, std::string& error) {
  std::vector<ChannelMessage> out;
  auto update = parse_json_object(body, error);
  if (!update) return out;
  if (!update->has("update_id")) {
    error = "not a Telegram update: no \"update_id\"";
    return out;
  }
  auto message = update->getObject("message");
  if (!message) message = update->getObject("edited_message");
  if (!message) return out;  // other update kinds carry no customer text
  auto chat = message->getObject("chat");
  auto from = message->getObject("from");
  ChannelMessage cm;
  cm.sender_id = str(chat, "id");
  cm.id = cm.sender_id + ":" + str(message, "message_id");
  std::string name = str(from, "first_name");
  const std::string last = str(from, "last_name");
  if (!last.empty()) name += " " + last;
  if (name.empty()) name = str(from, "username");
  cm.sender_name = name;
  cm.timestamp = number(str(message, "date"));
  cm.text = message->has("text") ? str(message, "text") : str(message, "caption");
  if (auto document = message->getObject("document"))
    cm.media.push_back("document " + str(document, "file_id") + " " + str(document, "mime_type"));
  if (auto photos = message->getArray("photo"))
    if (photos->size() > 0)
      cm.media.push_back("photo " + str(photos->getObject(static_cast<unsigned>(photos->size() - 1)), "file_id"));
  if (cm.sender_id.empty()) return out;
  out.push_back(std::move(cm));
  return out;
}

std::vector<ChannelMessage> parse_generic(const std::string& body, std::string& error) {
  std::vector<ChannelMessage> out;
  auto root = parse_json_object(body, error);
  if (!root) return out;
  auto from = root->getObject("from");
  ChannelMessage cm;
  cm.id = str(root, "id");
  cm.sender_id = str(from, "id");
  cm.sender_name = str(from, "name");
  cm.text = str(root, "text");
  cm.timestamp = number(str(root, "timestamp"));
  if (cm.id.empty() || cm.sender_id.empty()) {
    error = "the generic format needs \"id\" and \"from\": {\"id\"}";
    return out;
  }
  out.push_back(std::move(cm));
  return out;
}

Outcome deliver_channel_message(InboundPipeline& pipeline, const Config& config, const ChannelConfig& channel,
                                const ChannelMessage& message) {
  const std::string from = channel_address(channel.id, message.sender_id);
  // Threading: the ticket the text names, as a subject tag (the threader still checks that the
  // sender belongs to it); otherwise the sender's open conversation, which the pipeline looks up
  // inside its transaction (RawMessage::conversation_of), never here: a look-up out here and an
  // opening in there would let two messages of one sender handled at once open two tickets.
  const std::string protocol = named_protocol(message.text);
  std::string first_line = message.text.substr(0, message.text.find('\n'));
  if (first_line.size() > 78) first_line = first_line.substr(0, 75) + "...";
  if (first_line.empty()) first_line = message.media.empty() ? "(empty message)" : "(media)";
  std::string subject = first_line;
  if (!protocol.empty()) subject = "[#" + protocol + "] " + subject;
  std::string name;
  for (char c : message.sender_name) name += (c == '\r' || c == '\n') ? ' ' : c;

  std::string raw;
  raw += "From: " + (name.empty() ? "" : encoded_word(name) + " ") + "<" + from + ">\r\n";
  raw += "To: <" + (config.server.address.empty() ? "atendd@localhost" : config.server.address) + ">\r\n";
  raw += "Subject: " + encoded_word(subject) + "\r\n";
  raw += "Message-ID: <" + id_safe(message.id) + "@" + id_safe(channel.id) + ".webhook.atendd>\r\n";
  raw += "Date: " + rfc2822_date(message.timestamp ? message.timestamp : static_cast<Timestamp>(std::time(nullptr))) + "\r\n";
  raw += "X-Atendd-Channel: " + id_safe(channel.id) + "\r\n";
  raw += "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n";
  std::string text = message.text;
  for (const auto& m : message.media) text += "\n[media: " + m + "]";
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r') continue;
    if (text[i] == '\n') raw += "\r\n";
    else raw += text[i];
  }
  raw += "\r\n";

  RawMessage in;
  in.bytes = raw;
  in.source = "webhook";
  in.mailbox = channel.id;
  in.uidvalidity = 1;
  in.uid = uid_of(channel.id, message.id);
  in.size = static_cast<std::int64_t>(raw.size());
  if (protocol.empty()) in.conversation_of = from;
  return pipeline.process(in);
}

WebhookReceiver::WebhookReceiver(AdminContext& context) : context_(context) {}
WebhookReceiver::~WebhookReceiver() = default;

AdminResponse WebhookReceiver::handle(const AdminRequest& request, const std::string& channel_id) {
  const auto found = context_.config.channels.find(channel_id);
  if (found == context_.config.channels.end()) return json_error(404, "no channel " + channel_id);
  const ChannelConfig& channel = found->second;

  if (request.method == "GET") {
    // WhatsApp's subscription handshake: echo hub.challenge when hub.verify_token is ours.
    if (channel.kind != ChannelKind::WhatsApp) return json_error(405, "method not allowed");
    if (request.param("hub.mode") != "subscribe" || channel.verify_token.empty() ||
        !same_secret(request.param("hub.verify_token"), channel.verify_token))
      return json_error(403, "verification refused");
    AdminResponse r;
    r.content_type = "text/plain";
    r.body = request.param("hub.challenge");
    return r;
  }
  if (request.method != "POST") return json_error(405, "method not allowed");
  if (channel.secret.empty()) {
    context_.log.warning("webhook " + channel_id + ": refused: the channel has no secret_file");
    return json_error(403, "this channel has no secret configured");
  }

  // The signature first: nothing of an unsigned body is read, parsed or stored.
  std::string header, given;
  switch (channel.kind) {
    case ChannelKind::WhatsApp: header = "x-hub-signature-256"; break;
    case ChannelKind::Telegram: header = "x-telegram-bot-api-secret-token"; break;
    case ChannelKind::Generic: header = "x-atendd-signature"; break;
  }
  given = request.header(header);
  if (given.empty()) return json_error(401, "missing signature header " + header);
  bool good = false;
  if (channel.kind == ChannelKind::Telegram) {
    good = same_secret(given, channel.secret);
  } else {
    good = given.rfind("sha256=", 0) == 0 &&
           same_secret(Poco::toLower(given.substr(7)), hmac_sha256_hex(channel.secret, request.body));
  }
  if (!good) {
    context_.log.warning("webhook " + channel_id + ": bad signature, nothing stored");
    return json_error(403, "bad signature");
  }

  std::string error;
  std::vector<ChannelMessage> messages;
  switch (channel.kind) {
    case ChannelKind::WhatsApp: messages = parse_whatsapp(request.body, error); break;
    case ChannelKind::Telegram: messages = parse_telegram(request.body, error); break;
    case ChannelKind::Generic: messages = parse_generic(request.body, error); break;
  }
  if (!error.empty()) return json_error(400, error);

  std::lock_guard<std::mutex> lock(context_.lock);
  Runtime& rt = *context_.runtime;
  if (!pipeline_)
    pipeline_ = std::make_unique<InboundPipeline>(rt.store(), rt.blobs(), context_.config, rt.renderer(), rt.clock(),
                                                  context_.log);
  Array results;
  for (const auto& m : messages) {
    try {
      const Outcome outcome = deliver_channel_message(*pipeline_, context_.config, channel, m);
      Object o;
      o.set("id", m.id);
      o.set("outcome", std::string(outcome_name(outcome.kind)));
      o.set("protocol", outcome.protocol);
      results.add(o);
    } catch (const StoreError& e) {
      // Busy: nothing committed; the provider retries on a 5xx.
      context_.log.error("webhook " + channel_id + ": " + e.what());
      return json_error(503, "store busy, try again");
    }
  }
  Object out;
  out.set("messages", results);
  std::ostringstream body;
  out.stringify(body);
  return json_reply(200, body.str());
}

}  // namespace atendd

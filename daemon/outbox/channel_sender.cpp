// channel_sender.cpp — see channel_sender.h.
#include "daemon/outbox/channel_sender.h"

#include <curl/curl.h>

#include <algorithm>
#include <sstream>

#include <Poco/JSON/Object.h>

#include "daemon/sources/webhook_receiver.h"
#include "parsers/mime_reader.h"

namespace atendd {

namespace {

constexpr int kLeaseSeconds = 300;

size_t collect(char* data, size_t size, size_t count, void* out) {
  auto* text = static_cast<std::string*>(out);
  if (text->size() < 4096) text->append(data, std::min(size * count, 4096 - text->size()));
  return size * count;
}

std::string replace_token(std::string url, const std::string& token) {
  const std::string marker = "{token}";
  const auto at = url.find(marker);
  if (at != std::string::npos) url.replace(at, marker.size(), token);
  return url;
}

}  // namespace

std::string channel_request_body(const ChannelConfig& channel, const std::string& recipient, const std::string& text,
                                 const std::string& message_id) {
  Poco::JSON::Object o;
  switch (channel.kind) {
    case ChannelKind::WhatsApp: {
      o.set("messaging_product", "whatsapp");
      o.set("recipient_type", "individual");
      o.set("to", recipient);
      o.set("type", "text");
      Poco::JSON::Object body;
      body.set("preview_url", false);
      body.set("body", text);
      o.set("text", body);
      break;
    }
    case ChannelKind::Telegram:
      o.set("chat_id", recipient);
      o.set("text", text);
      break;
    case ChannelKind::Generic:
      o.set("to", recipient);
      o.set("text", text);
      o.set("message_id", message_id);
      break;
  }
  std::ostringstream out;
  o.stringify(out);
  return out.str();
}

ChannelSender::ChannelSender(Store& store, const Config& config, const Clock& clock, Poco::Logger& log)
    : store_(store), config_(config), clock_(clock), log_(log) {}

Timestamp ChannelSender::backoff_seconds(int attempts) const {
  Timestamp delay = std::max(1, config_.smtp.retry_initial_seconds);
  for (int i = 1; i < attempts && delay < config_.smtp.retry_max_seconds; ++i) delay *= 2;
  return std::min<Timestamp>(delay, std::max(1, config_.smtp.retry_max_seconds));
}

ChannelDelivery ChannelSender::post(const ChannelConfig& channel, const std::string& body) {
  ChannelDelivery result;
  CURL* curl = curl_easy_init();
  if (!curl) {
    result.error = "curl_easy_init failed";
    return result;
  }
  struct curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Content-Type: application/json");
  const bool token_in_url = channel.send_url.find("{token}") != std::string::npos;
  const std::string bearer = "Authorization: Bearer " + channel.token;
  if (!channel.token.empty() && !token_in_url) headers = curl_slist_append(headers, bearer.c_str());
  const std::string signature = "X-Atendd-Signature: sha256=" + hmac_sha256_hex(channel.secret, body);
  if (channel.kind == ChannelKind::Generic && !channel.secret.empty())
    headers = curl_slist_append(headers, signature.c_str());
  const std::string url = replace_token(channel.send_url, channel.token);
  std::string reply;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, static_cast<long>(std::max(1, config_.smtp.timeout_seconds)));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply);
  const CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK) {
    result.error = std::string("channel ") + channel.id + ": " + curl_easy_strerror(rc);
    return result;
  }
  if (status >= 200 && status < 300) {
    result.ok = true;
    return result;
  }
  result.permanent = status >= 400 && status < 500 && status != 408 && status != 429;
  std::string shown = reply.substr(0, 200);
  for (char& c : shown)
    if (c == '\r' || c == '\n') c = ' ';
  result.error = "channel " + channel.id + ": HTTP " + std::to_string(status) + " " + shown;
  return result;
}

DrainResult ChannelSender::drain_due(int batch_size) {
  DrainResult result;
  unrecorded_.record(store_, clock_.now());  // sent while the store refused: recorded first
  for (;;) {
    auto batch = store_.claim_due_channel_outbox(clock_.now(), batch_size, kLeaseSeconds);
    if (batch.empty()) return result;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const OutboxMail& mail = batch[i];
      ChannelDelivery delivery;
      delivery.permanent = true;
      std::string channel_id, sender;
      for (const auto& rcpt : mail.recipients)
        if (parse_channel_address(rcpt, channel_id, sender)) break;
      const auto channel = config_.channels.find(channel_id);
      if (channel_id.empty()) {
        delivery.error = "no channel recipient";
      } else if (channel == config_.channels.end()) {
        delivery.error = "no [channel." + channel_id + "] in the configuration";
      } else if (channel->second.send_url.empty()) {
        delivery.error = "channel " + channel_id + " has no send_url (receive only)";
      } else {
        const ParsedMessage parsed = parse_message(mail.raw);
        delivery = post(channel->second, channel_request_body(channel->second, sender, parsed.text, mail.message_id));
      }
      try {
        if (delivery.ok) {
          store_.mark_outbox_sent(mail.id, clock_.now());
          ++result.sent;
          log_.information("outbox " + std::to_string(mail.id) + " sent: " + mail.template_name +
                           " through channel " + channel_id);
        } else if (delivery.permanent || mail.attempts >= config_.smtp.max_attempts) {
          store_.mark_outbox_failed(mail.id, delivery.error);
          ++result.failed;
          log_.error("outbox " + std::to_string(mail.id) + " failed for good: " + delivery.error);
        } else {
          const Timestamp next = clock_.now() + backoff_seconds(mail.attempts);
          store_.mark_outbox_retry(mail.id, delivery.error, next);
          ++result.retried;
          log_.warning("outbox " + std::to_string(mail.id) + " not sent (attempt " + std::to_string(mail.attempts) +
                       "), next try in " + std::to_string(next - clock_.now()) + " s: " + delivery.error);
        }
      } catch (const StoreError& e) {
        if (delivery.ok) {
          unrecorded_.add(mail.id);
          log_.error("outbox " + std::to_string(mail.id) + " sent, but the store could not record it (" + e.what() +
                     "): recorded before anything else is sent");
        }
        give_back(store_, batch, i + 1);
        throw;
      }
    }
  }
}

}  // namespace atendd

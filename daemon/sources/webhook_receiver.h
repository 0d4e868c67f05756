// webhook_receiver.h — POST /webhooks/ID: a messaging provider's payload (WhatsApp Cloud API,
// Telegram Bot API update, or the generic JSON of etc/atendd.ini), checked against the
// channel's secret first (a bad or missing signature stores nothing), then each message turned
// into a small RFC 5322 message and run through the same InboundPipeline as mail: journalled
// (source "webhook", mailbox = channel id, keyed by the provider's message id, so a provider's
// retry creates nothing twice), threaded by sender into the sender's open ticket on that
// channel, "#PROTOCOL" in the text linking explicitly (only to the sender's own tickets).
#pragma once

#include <string>
#include <vector>

#include "daemon/admin/http_server.h"
#include "daemon/config/config.h"
#include "daemon/pipeline/inbound.h"
#include "daemon/tickets/reply_token.h"  // hmac_sha256_hex, same_secret

namespace atendd {

// One message as a provider sent it.
struct ChannelMessage {
  std::string id;           // the provider's message id (unique per channel)
  std::string sender_id;    // phone (WhatsApp), chat id (Telegram), the generic from.id
  std::string sender_name;
  std::string text;
  Timestamp timestamp = 0;
  std::vector<std::string> media;  // "image 12345 image/jpeg": references, not the files
};

// The contact address standing for a messaging sender: "SENDER@CHANNEL.channel.invalid" (the
// .invalid top-level domain never receives mail; the outbox hands these to channel_sender).
std::string channel_address(const std::string& channel_id, const std::string& sender_id);
// The reverse: true and the parts when `address` is a channel address.
bool parse_channel_address(const std::string& address, std::string& channel_id, std::string& sender_id);

// Provider formats; each sets `error` (and returns nothing) when the body is not that format.
std::vector<ChannelMessage> parse_whatsapp(const std::string& body, std::string& error);
std::vector<ChannelMessage> parse_telegram(const std::string& body, std::string& error);
std::vector<ChannelMessage> parse_generic(const std::string& body, std::string& error);

// Runs one channel message through the pipeline (the caller holds the pipeline's store for this
// thread): into the ticket its text names ("#PROTOCOL", the sender's own), else into the sender's
// open conversation on the channel, else a new ticket; one ticket per conversation however many
// of its messages arrive at once, on however many instances.
Outcome deliver_channel_message(InboundPipeline& pipeline, const Config& config, const ChannelConfig& channel,
                                const ChannelMessage& message);

class WebhookReceiver {
 public:
  explicit WebhookReceiver(AdminContext& context);
  ~WebhookReceiver();
  // The whole exchange for POST (and WhatsApp's GET handshake) on /webhooks/CHANNEL.
  AdminResponse handle(const AdminRequest& request, const std::string& channel_id);

 private:
  AdminContext& context_;
  std::unique_ptr<InboundPipeline> pipeline_;  // on the context's store, built on first use
};

}  // namespace atendd

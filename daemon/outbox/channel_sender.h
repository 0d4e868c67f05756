// channel_sender.h — delivers the outbox's mails to messaging contacts (recipients
// "SENDER@CHANNEL.channel.invalid", marked at insert by migration 4) through the channel's send
// API with libcurl: a WhatsApp Cloud API (Graph) text message, a Telegram sendMessage, or the
// generic callback. The text is the rendered mail's plain body. Retries with the same backoff and
// attempt limit as SMTP ([smtp] retry_*); a 4xx other than 408/429 fails the mail for good.
// Never sends a mail that is not a channel mail, and never logs the token.
#pragma once

#include <Poco/Logger.h>

#include "daemon/outbox/outbox_claims.h"
#include "daemon/config/config.h"
#include "daemon/outbox/outbox_sender.h"
#include "daemon/tickets/clock.h"
#include "storage/store.h"

namespace atendd {

// What one POST to a provider came to.
struct ChannelDelivery {
  bool ok = false;
  bool permanent = false;  // retrying cannot help (bad request, unknown recipient, no send_url)
  std::string error;
};

// The JSON body a provider's send API takes for `text` to `recipient` (WhatsApp Graph message,
// Telegram sendMessage, generic {"to","text","message_id"}).
std::string channel_request_body(const ChannelConfig& channel, const std::string& recipient, const std::string& text,
                                 const std::string& message_id);

class ChannelSender {
 public:
  ChannelSender(Store& store, const Config& config, const Clock& clock, Poco::Logger& log);
  // Sends every channel mail that is due; same result shape and the same handling of a store that
  // refuses to record a delivery as OutboxSender::drain_due.
  DrainResult drain_due(int batch_size = 50);

 private:
  ChannelDelivery post(const ChannelConfig& channel, const std::string& body);
  Timestamp backoff_seconds(int attempts) const;

  Store& store_;
  const Config& config_;
  const Clock& clock_;
  Poco::Logger& log_;
  UnrecordedSends unrecorded_;  // delivered, but the store refused to record it
};

}  // namespace atendd

// outbox_writer.h — turns the engine's OutgoingMail effects into rendered, composed mails in the
// outbox, inside the caller's transaction (so a ticket and its mails commit together), and
// records each queued mail in the ticket's history. It never talks to a mail server.
#pragma once

#include <vector>

#include "daemon/config/config.h"
#include "daemon/outbox/renderer.h"
#include "daemon/tickets/clock.h"
#include "daemon/tickets/engine.h"
#include "storage/blob_store.h"
#include "storage/store.h"

namespace atendd {

class OutboxWriter {
 public:
  OutboxWriter(Store& store, const BlobStore& blobs, const Config& config, const Renderer& renderer,
               const Clock& clock);

  // Where each queued mail is reported (its template, recipients and text); null reports nothing.
  void explain_to(Explanation* sink) { explain_ = sink; }

  // Queues every mail of `update` (its ticket as it is now, the attachments kept); `message` is
  // the inbound message they answer or relay. Returns the outbox ids.
  std::vector<std::int64_t> queue(const TicketUpdate& update, const InboundMessage& message);

  // Queues a notice that belongs to no ticket (the `rejected` template: a message we could not
  // take) to the sender of `about`, threaded under it, automatic. Returns the outbox id.
  std::int64_t queue_notice(const std::string& template_name, const ParsedMessage& about, const std::string& error);

 private:
  Store& store_;
  const BlobStore& blobs_;
  const Config& config_;
  const Renderer& renderer_;
  const Clock& clock_;
  Explanation* explain_ = nullptr;
};

// "suporte+TOKEN@example.com" from the configured reply_address, or the server address.
std::string reply_address_for(const ServerConfig& server, const std::string& token);
// The right-hand side of our Message-IDs: the server address's domain ("atendd.invalid" without).
std::string message_id_domain(const ServerConfig& server);
// "[#PROTOCOL]" from the configured subject_tag.
std::string subject_tag_for(const ServerConfig& server, const std::string& protocol);
// Formats a timestamp for templates: "dd/mm/yyyy HH:MM" (pt_BR) or "yyyy-mm-dd HH:MM" (UTC).
std::string format_date_for(const std::string& locale, Timestamp at);

}  // namespace atendd

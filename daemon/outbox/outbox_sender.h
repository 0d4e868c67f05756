// outbox_sender.h — drains the outbox: claims the mails that are due, delivers them over one
// reused SMTP connection, and marks each sent, to retry (exponential backoff) or failed (a
// permanent refusal, or too many attempts) with the error. A claimed mail is leased, so two
// senders (the daemon and `atendd deliver`) never send the same mail twice.
#pragma once

#include <Poco/Logger.h>

#include "daemon/config/config.h"
#include "daemon/outbox/outbox_claims.h"
#include "daemon/outbox/smtp_sender.h"
#include "daemon/tickets/clock.h"
#include "storage/store.h"

namespace atendd {

struct DrainResult {
  int sent = 0;
  int retried = 0;
  int failed = 0;
};

class OutboxSender {
 public:
  OutboxSender(Store& store, const SmtpConfig& smtp, const std::string& helo, const Clock& clock,
               Poco::Logger& log);

  // Sends what is due now, in batches, until nothing due is left or a delivery fails for a
  // reason that is not the mail's own (server down: the rest waits for the next round). Throws
  // StoreError when the store refuses; the mails of the batch not yet tried are given back, and a
  // mail sent but not recorded is recorded first thing in the next call, never sent twice.
  DrainResult drain_due(int batch_size = 50);
  // Closes the SMTP connection (before sleeping a long time, or at shutdown).
  void close() { smtp_.close(); }
  // The delay before attempt number `attempts + 1`.
  Timestamp backoff_seconds(int attempts) const;

 private:
  Store& store_;
  UnrecordedSends unrecorded_;  // sent, but the store refused to record it
  SmtpConfig config_;
  SmtpSender smtp_;
  const Clock& clock_;
  Poco::Logger& log_;
};

}  // namespace atendd

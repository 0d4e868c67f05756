// outbox_sender.cpp — see outbox_sender.h.
#include "daemon/outbox/outbox_sender.h"

#include <algorithm>

namespace atendd {

namespace {
constexpr int kLeaseSeconds = 300;  // a sender that dies mid-batch frees its mails after this
}

OutboxSender::OutboxSender(Store& store, const SmtpConfig& smtp, const std::string& helo, const Clock& clock,
                           Poco::Logger& log)
    : store_(store), config_(smtp), smtp_(smtp, helo), clock_(clock), log_(log) {}

Timestamp OutboxSender::backoff_seconds(int attempts) const {
  Timestamp delay = std::max(1, config_.retry_initial_seconds);
  for (int i = 1; i < attempts && delay < config_.retry_max_seconds; ++i) delay *= 2;
  return std::min<Timestamp>(delay, std::max(1, config_.retry_max_seconds));
}

DrainResult OutboxSender::drain_due(int batch_size) {
  DrainResult result;
  // Mails that went out while the store could not record it (locked, full): recorded before
  // anything else is claimed or sent, never sent again while this sender lives. Throws while the
  // store still refuses.
  unrecorded_.record(store_, clock_.now());
  for (;;) {
    auto batch = store_.claim_due_outbox(clock_.now(), batch_size, kLeaseSeconds);
    if (batch.empty()) return result;
    // Each mail is marked (its own autocommit) the moment its fate is known, before the next one
    // is sent: a crash then repeats at most the one mail that was on the wire, never a batch.
    bool server_trouble = false;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const OutboxMail& mail = batch[i];
      if (server_trouble) {
        // Give back what this round will not try: no attempt was made.
        store_.release_outbox(mail.id);
        continue;
      }
      bool sent = false;
      try {
        smtp_.send(mail.mail_from, mail.recipients, mail.raw);
        sent = true;
        store_.mark_outbox_sent(mail.id, clock_.now());
        ++result.sent;
        log_.information("outbox " + std::to_string(mail.id) + " sent: " + mail.template_name + " to " +
                         (mail.recipients.empty() ? std::string("nobody") : mail.recipients.front()) + " <" +
                         mail.message_id + ">");
      } catch (const SmtpFailure& e) {
        try {
          if (e.permanent() || mail.attempts >= config_.max_attempts) {
            store_.mark_outbox_failed(mail.id, e.what());
            ++result.failed;
            log_.error("outbox " + std::to_string(mail.id) + " failed for good after " +
                       std::to_string(mail.attempts) + " attempts: " + e.what());
          } else {
            const Timestamp next = clock_.now() + backoff_seconds(mail.attempts);
            store_.mark_outbox_retry(mail.id, e.what(), next);
            ++result.retried;
            server_trouble = !smtp_.connected();
            log_.warning("outbox " + std::to_string(mail.id) + " not sent (attempt " +
                         std::to_string(mail.attempts) + "), next try in " + std::to_string(next - clock_.now()) +
                         " s: " + e.what());
          }
        } catch (const StoreError&) {
          give_back(store_, batch, i + 1);  // this one stays claimed until its lease ends: tried again then
          throw;
        }
      } catch (const StoreError& e) {
        if (!sent) throw;  // not reached: only the marking touches the store in this block
        unrecorded_.add(mail.id);
        log_.error("outbox " + std::to_string(mail.id) + " sent, but the store could not record it (" + e.what() +
                   "): recorded before anything else is sent");
        give_back(store_, batch, i + 1);
        throw;
      }
    }
    if (server_trouble) return result;
  }
}

}  // namespace atendd

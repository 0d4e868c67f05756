// outbox_sender.cpp — see outbox_sender.h.
#include "daemon/outbox/outbox_sender.h"

#include <algorithm>
#include <string>
#include <vector>

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

namespace {

// What became of one claimed mail; written for the whole batch in one transaction.
struct Mark {
  enum class Kind { Sent, Retry, Failed, Release } kind;
  std::int64_t id;
  Timestamp at;  // sent_at, or the next attempt
  std::string error;
};

void write_marks(Store& store, const std::vector<Mark>& marks) {
  if (marks.empty()) return;
  StoreTransaction tx(store);
  for (const auto& m : marks) {
    switch (m.kind) {
      case Mark::Kind::Sent: store.mark_outbox_sent(m.id, m.at); break;
      case Mark::Kind::Retry: store.mark_outbox_retry(m.id, m.error, m.at); break;
      case Mark::Kind::Failed: store.mark_outbox_failed(m.id, m.error); break;
      case Mark::Kind::Release: store.release_outbox(m.id); break;
    }
  }
  tx.commit();
}

}  // namespace

DrainResult OutboxSender::drain_due(int batch_size) {
  DrainResult result;
  for (;;) {
    auto batch = store_.claim_due_outbox(clock_.now(), batch_size, kLeaseSeconds);
    if (batch.empty()) return result;
    // The batch's results are marked together at its end: one write transaction instead of one
    // per mail. A crash before that leaves the batch's mails claimed; their lease expires and they
    // are sent again, as a crash between a send and its own mark always could.
    std::vector<Mark> marks;
    marks.reserve(batch.size());
    bool server_trouble = false;
    for (auto& mail : batch) {
      if (server_trouble) {
        // Give back what this round will not try: no attempt was made.
        marks.push_back(Mark{Mark::Kind::Release, mail.id, 0, {}});
        continue;
      }
      try {
        smtp_.send(mail.mail_from, mail.recipients, mail.raw);
        marks.push_back(Mark{Mark::Kind::Sent, mail.id, clock_.now(), {}});
        ++result.sent;
        log_.information("outbox " + std::to_string(mail.id) + " sent: " + mail.template_name + " to " +
                         (mail.recipients.empty() ? std::string("nobody") : mail.recipients.front()) + " <" +
                         mail.message_id + ">");
      } catch (const SmtpFailure& e) {
        if (e.permanent() || mail.attempts >= config_.max_attempts) {
          marks.push_back(Mark{Mark::Kind::Failed, mail.id, 0, e.what()});
          ++result.failed;
          log_.error("outbox " + std::to_string(mail.id) + " failed for good after " +
                     std::to_string(mail.attempts) + " attempts: " + e.what());
        } else {
          const Timestamp next = clock_.now() + backoff_seconds(mail.attempts);
          marks.push_back(Mark{Mark::Kind::Retry, mail.id, next, e.what()});
          ++result.retried;
          server_trouble = !smtp_.connected();
          log_.warning("outbox " + std::to_string(mail.id) + " not sent (attempt " + std::to_string(mail.attempts) +
                       "), next try in " + std::to_string(next - clock_.now()) + " s: " + e.what());
        }
      } catch (...) {
        write_marks(store_, marks);  // what was sent stays sent; the rest waits for its lease
        throw;
      }
    }
    write_marks(store_, marks);
    if (server_trouble) return result;
  }
}

}  // namespace atendd

// deliver_command.cpp — see deliver_command.h.
#include "daemon/sources/deliver_command.h"

#include <iterator>

#include "daemon/outbox/outbox_sender.h"
#include "daemon/pipeline/inbound.h"
#include "daemon/runtime.h"

namespace atendd {

int run_deliver(const Config& config, const std::string& mailbox, std::istream& in, std::ostream& out,
                Poco::Logger& log) {
  RawMessage raw;
  raw.source = "deliver";
  raw.mailbox = mailbox;
  char buffer[65536];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    raw.bytes.append(buffer, static_cast<size_t>(in.gcount()));
    if (raw.bytes.size() > kMaxMessageBytes) {
      log.error("mailbox " + mailbox + ": message larger than " + std::to_string(kMaxMessageBytes) +
                " bytes refused");
      out << "rejected: message larger than " << kMaxMessageBytes << " bytes\n";
      return kExitDataError;
    }
  }

  try {
    Runtime runtime(config, log);
    InboundPipeline pipeline(runtime.store(), runtime.blobs(), config, runtime.renderer(), runtime.clock(), log);
    const Outcome outcome = pipeline.process(raw);
    out << outcome_name(outcome.kind);
    if (!outcome.protocol.empty()) out << " " << outcome.protocol;
    if (!outcome.detail.empty()) out << " (" << outcome.detail << ")";
    out << "\n";
    if (outcome.kind == Outcome::Kind::Rejected) return kExitDataError;
    // Quarantined: kept with its reason for `atendd quarantine retry`; the MTA's part is done.
    if (outcome.kind == Outcome::Kind::Quarantined) return kExitDone;

    // Send right away what is due; whatever fails stays queued for the daemon's sender.
    try {
      OutboxSender sender(runtime.store(), config.smtp, runtime.helo(), runtime.clock(), log);
      sender.drain_due();
      sender.close();
    } catch (const std::exception& e) {
      log.warning(std::string("outbox left for the daemon: ") + e.what());
    }
    return kExitDone;
  } catch (const StoreError& e) {
    log.error("mailbox " + mailbox + ": store unavailable, the MTA should retry: " + e.what());
    out << "try later: " << e.what() << "\n";
    return kExitTryLater;
  } catch (const std::exception& e) {
    // The blob store could not be written or the runtime could not start: retrying may help.
    log.error("mailbox " + mailbox + ": cannot take the message now: " + e.what());
    out << "try later: " << e.what() << "\n";
    return kExitTryLater;
  }
}

}  // namespace atendd

// deliver_command.h — `atendd deliver --mailbox NAME`: one message on standard input, run through
// the whole inbound path, for an MTA's pipe transport. Exit codes follow sysexits as MTAs
// expect: 0 done (also for a duplicate, an ignored loop, or a message quarantined: kept with its
// reason for `atendd quarantine retry`), 75 try again later (store busy or
// unwritable), 65 the input can never be processed (the raw message is still kept).
#pragma once

#include <istream>
#include <string>

#include <Poco/Logger.h>

#include "daemon/config/config.h"

namespace atendd {

constexpr int kExitDone = 0;
constexpr int kExitDataError = 65;
constexpr int kExitTryLater = 75;
constexpr std::size_t kMaxMessageBytes = 64 * 1024 * 1024;

// Reads the message, processes it, then tries once to send the mails it queued (a failure there
// leaves them in the outbox for the daemon). Writes one line to `out` with the outcome.
int run_deliver(const Config& config, const std::string& mailbox, std::istream& in, std::ostream& out,
                Poco::Logger& log);

}  // namespace atendd

// quarantine_command.h — the operator's commands on what the gateway decided:
//   atendd quarantine list | show ID | retry ID|--all | drop ID --reason TEXT   [--json]
//   atendd route --explain FILE [--mailbox NAME] [--json]
// `route --explain` runs the whole inbound path on FILE inside a store transaction that is
// rolled back, with a scratch blob directory that is removed afterwards, and prints every stage's
// decision and every mail that would be sent: it never writes the store or the state directory
// and never sends anything.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include <Poco/Logger.h>

#include "daemon/config/config.h"

namespace atendd {

struct OperatorOptions {
  bool json = false;
  bool all = false;           // quarantine retry --all
  std::string reason;         // quarantine drop --reason
  std::string mailbox;        // route --explain --mailbox
  int limit = 100;            // quarantine list
  std::string actor = "cli";  // who drops (the user running the command)
};

// Exit codes: 0 done; 1 nothing done (not in the quarantine, or still not applicable); 64 usage;
// 66 no such entry or file; 74 the raw message is missing.
int run_quarantine_command(const Config& config, const std::vector<std::string>& args, const OperatorOptions& options,
                           std::ostream& out, std::ostream& err, Poco::Logger& log);
// Exit codes: 0 explained; 64 usage; 66 the file cannot be read.
int run_route_explain(const Config& config, const std::string& file, const OperatorOptions& options,
                      std::ostream& out, std::ostream& err, Poco::Logger& log);

}  // namespace atendd

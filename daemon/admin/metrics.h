// metrics.h — GET /metrics in the Prometheus text format (version 0.0.4): inbound messages by
// source, mailbox and outcome (from the journal), tickets by status and type, the outbox by
// state and its send latency, mailbox poll state and poll errors, parser defects by kind (counters.h),
// SLA breaches, the process's RSS. Counts only:
// no addresses, subjects or secrets.
#pragma once

#include <string>

#include "daemon/admin/http_server.h"

namespace atendd {

std::string render_metrics(AdminContext& context);
// The resident set size of this process in bytes (/proc/self/statm), 0 when unknown.
std::int64_t process_rss_bytes();

}  // namespace atendd

// counters.h — process-wide event counters for /metrics that the store does not keep: failed poll
// attempts per mailbox (IMAP) or polled channel (Telegram getUpdates), and messages applied with
// parser defects, by kind. Counted by the intake threads, read by the admin endpoint; thread-safe,
// never throws, reset when the process starts (Prometheus counters may reset).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace atendd::counters {

// One failed attempt to poll `mailbox` (a [mailbox.ID] or a polled [channel.ID]).
void poll_error(const std::string& mailbox);
// One message applied (not a duplicate) with these parser defects; each kind counted once.
void parse_defects(const std::vector<std::string>& defects);

// Snapshots for /metrics.
std::map<std::string, std::int64_t> poll_errors();
std::int64_t messages_with_defects();
std::map<std::string, std::int64_t> defects_by_kind();

// The label for a parser defect: its fixed words, lower case and '_' ("invalid bytes in
// windows-1252 body" → "invalid_bytes_in_body", "parser error: …" → "parser_error"), so that no
// text from mail becomes a label value.
std::string defect_kind(const std::string& defect);

}  // namespace atendd::counters

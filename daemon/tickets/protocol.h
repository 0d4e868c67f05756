// protocol.h — the customer-facing ticket number ("protocolo"), from the configured format:
// {yyyy} {yy} {mm} {dd} (UTC date of opening) and {seq:N} (a store counter, zero-padded to N).
// The counter's scope is everything before {seq}, so a daily format restarts each day and
// protocols stay unique because the scope is part of the number.
#pragma once

#include <cstdint>
#include <string>

#include "storage/store.h"

namespace atendd {

// The text of the format with the date placeholders filled and {seq:N} left out (the counter scope).
std::string protocol_scope(const std::string& format, Timestamp opened_at);
// The whole protocol.
std::string format_protocol(const std::string& format, Timestamp opened_at, std::int64_t sequence);
// Takes the next number from the store (inside the caller's transaction).
std::string next_protocol(Store& store, const std::string& format, Timestamp opened_at);

}  // namespace atendd

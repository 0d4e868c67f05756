// date_time.h — reads the Date header (RFC 5322 3.3, with the obsolete and broken forms real
// mail uses) into seconds since the epoch, UTC. Never throws.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace atendd {

// "Thu, 3 May 2012 11:36:43 +0200 (CEST)" -> 1336037803. Trailing junk after the zone is ignored;
// named zones (GMT, EST, CET…) are understood; POCO's DateTimeParser is the fallback for other
// layouts. Nothing when no date can be read.
std::optional<std::int64_t> parse_mail_date(std::string_view value);

// Days since 1970-01-01 of a proleptic Gregorian date (month 1..12, day 1..31).
std::int64_t days_from_civil(std::int64_t year, unsigned month, unsigned day);

}  // namespace atendd

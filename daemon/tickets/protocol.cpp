// protocol.cpp — protocol formatting; see protocol.h.
#include "daemon/tickets/protocol.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

namespace atendd {

namespace {

// `v` zero-padded to `width` digits (snprintf: a stream per call cost a fifth of opening a ticket).
std::string padded(std::int64_t v, int width) {
  char buffer[48];
  const int n = std::snprintf(buffer, sizeof buffer, "%0*lld", std::min(width, 40), static_cast<long long>(v));
  return std::string(buffer, static_cast<std::size_t>(std::max(0, std::min<int>(n, sizeof buffer - 1))));
}

// Fills placeholders; with include_sequence false, {seq:N} becomes empty.
std::string expand(const std::string& format, Timestamp at, std::int64_t sequence, bool include_sequence) {
  std::time_t t = static_cast<std::time_t>(at);
  std::tm utc{};
  gmtime_r(&t, &utc);
  std::string out;
  for (size_t i = 0; i < format.size();) {
    if (format[i] != '{') {
      out += format[i++];
      continue;
    }
    const size_t close = format.find('}', i);
    if (close == std::string::npos) {
      out += format.substr(i);
      break;
    }
    const std::string name = format.substr(i + 1, close - i - 1);
    if (name == "yyyy") out += std::to_string(utc.tm_year + 1900);
    else if (name == "yy") out += padded((utc.tm_year + 1900) % 100, 2);
    else if (name == "mm") out += padded(utc.tm_mon + 1, 2);
    else if (name == "dd") out += padded(utc.tm_mday, 2);
    else if (name.rfind("seq", 0) == 0) {
      if (include_sequence) {
        int width = 0;
        if (name.size() > 4 && name[3] == ':') width = std::stoi(name.substr(4));
        out += padded(sequence, width);
      }
    } else {
      out += format.substr(i, close - i + 1);
    }
    i = close + 1;
  }
  return out;
}

}  // namespace

std::string protocol_scope(const std::string& format, Timestamp opened_at) {
  return expand(format, opened_at, 0, false);
}

std::string format_protocol(const std::string& format, Timestamp opened_at, std::int64_t sequence) {
  return expand(format, opened_at, sequence, true);
}

std::string next_protocol(Store& store, const std::string& format, Timestamp opened_at) {
  const std::string scope = protocol_scope(format, opened_at);
  return format_protocol(format, opened_at, store.next_sequence("protocol:" + scope));
}

}  // namespace atendd

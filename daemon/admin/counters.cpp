// counters.cpp — see counters.h.
#include "daemon/admin/counters.h"

#include <mutex>

namespace atendd::counters {

namespace {

// More kinds than this go to "other": the parser's list is short, this only bounds the labels.
constexpr std::size_t kMaxKinds = 64;

struct State {
  std::mutex mutex;
  std::map<std::string, std::int64_t> poll_errors;
  std::map<std::string, std::int64_t> defects;
  std::int64_t messages_with_defects = 0;
};

State& state() {
  static State s;
  return s;
}

}  // namespace

std::string defect_kind(const std::string& defect) {
  std::string text = defect.substr(0, defect.find(':'));
  if (text.rfind("invalid bytes in ", 0) == 0) return "invalid_bytes_in_body";  // the charset is the sender's
  std::string out;
  for (char c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    const bool word = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (word) out += c;
    else if (!out.empty() && out.back() != '_') out += '_';
  }
  while (!out.empty() && out.back() == '_') out.pop_back();
  return out.empty() || out.size() > 48 ? "other" : out;
}

void poll_error(const std::string& mailbox) {
  try {
    State& s = state();
    std::lock_guard<std::mutex> lock(s.mutex);
    ++s.poll_errors[mailbox];
  } catch (...) {
  }
}

void parse_defects(const std::vector<std::string>& defects) {
  if (defects.empty()) return;
  try {
    std::vector<std::string> kinds;
    for (const auto& d : defects) {
      const std::string kind = defect_kind(d);
      bool seen = false;
      for (const auto& k : kinds) seen = seen || k == kind;
      if (!seen) kinds.push_back(kind);
    }
    State& s = state();
    std::lock_guard<std::mutex> lock(s.mutex);
    ++s.messages_with_defects;
    for (const auto& kind : kinds) {
      if (!s.defects.count(kind) && s.defects.size() >= kMaxKinds) ++s.defects["other"];
      else ++s.defects[kind];
    }
  } catch (...) {
  }
}

std::map<std::string, std::int64_t> poll_errors() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  return s.poll_errors;
}

std::int64_t messages_with_defects() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  return s.messages_with_defects;
}

std::map<std::string, std::int64_t> defects_by_kind() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  return s.defects;
}

}  // namespace atendd::counters

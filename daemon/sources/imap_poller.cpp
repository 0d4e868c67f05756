// imap_poller.cpp — see imap_poller.h. The order per message (or batch) is fixed: hand over, then the
// mailbox's `after` action, then the stored position; a crash anywhere in between only means the
// message comes again and the journal recognises it.
#include "daemon/sources/imap_poller.h"

#include <algorithm>
#include <ctime>
#include <map>
#include <optional>
#include <thread>
#include <vector>

#include "daemon/admin/counters.h"
#include "daemon/failpoints.h"
#include "daemon/sources/imap_connection.h"

namespace atendd {

namespace {

constexpr std::size_t kMiB = 1u << 20;
// An oversized message is passed with at most this much of its header.
constexpr std::size_t kOversizedHeaderBytes = kMiB;

Timestamp now_seconds() { return static_cast<Timestamp>(std::time(nullptr)); }

// "1:3,7,9:10" for a sorted list of UIDs.
std::string uid_set(const std::vector<std::int64_t>& uids) {
  std::string out;
  for (std::size_t i = 0; i < uids.size();) {
    std::size_t j = i;
    while (j + 1 < uids.size() && uids[j + 1] == uids[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += std::to_string(uids[i]);
    if (j > i) out += ':' + std::to_string(uids[j]);
    i = j + 1;
  }
  return out;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

}  // namespace

ImapPoller::ImapPoller(const MailboxConfig& config, Store& store, Handler handle, Poco::Logger& log,
                       ImapPollerTiming timing)
    : config_(config),
      store_(store),
      handle_(std::move(handle)),
      log_(log),
      timing_(timing),
      max_message_bytes_(static_cast<std::size_t>(std::max(config.max_message_mb, 1)) * kMiB) {}

ImapPoller::ImapPoller(const MailboxConfig& config, Store& store, BatchHandler handle_batch, Poco::Logger& log,
                       ImapPollerTiming timing)
    : config_(config),
      store_(store),
      handle_batch_(std::move(handle_batch)),
      log_(log),
      timing_(timing),
      max_message_bytes_(static_cast<std::size_t>(std::max(config.max_message_mb, 1)) * kMiB) {}

ImapPollerStatus ImapPoller::status() const {
  std::lock_guard<std::mutex> lock(status_mutex_);
  return status_;
}

void ImapPoller::mark_connected() {
  std::lock_guard<std::mutex> lock(status_mutex_);
  if (!status_.connected) log_.information("mailbox " + config_.id + ": connected");
  status_.connected = true;
  status_.last_error.clear();
  ever_failed_ = false;
}

void ImapPoller::mark_success() {
  std::lock_guard<std::mutex> lock(status_mutex_);
  status_.connected = true;
  status_.last_success_at = now_seconds();
  status_.last_error.clear();
}

void ImapPoller::mark_store_busy() {
  std::lock_guard<std::mutex> lock(status_mutex_);
  status_.last_error = "store busy: messages wait on the server until it is free";
}

void ImapPoller::mark_failure(const std::string& error) {
  std::lock_guard<std::mutex> lock(status_mutex_);
  if (status_.connected) {
    log_.warning("mailbox " + config_.id + ": connection lost: " + error);
  } else if (!ever_failed_) {
    log_.error("mailbox " + config_.id + ": cannot connect: " + error);
  } else if (error != status_.last_error) {
    log_.error("mailbox " + config_.id + ": still failing: " + error);
  }
  ever_failed_ = true;
  counters::poll_error(config_.id);  // /metrics
  status_.connected = false;
  status_.last_error = error;
}

bool ImapPoller::wait(std::chrono::milliseconds how_long, const std::atomic<bool>& stop) const {
  const auto until = std::chrono::steady_clock::now() + how_long;
  while (!stop.load()) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= until) return true;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
        until - now, std::chrono::milliseconds(std::min<long long>(timing_.stop_check.count(), 100))));
  }
  return false;
}

void ImapPoller::run(const std::atomic<bool>& stop) {
  auto backoff = timing_.backoff_initial;
  while (!stop.load()) {
    bool was_connected = false;
    try {
      session(stop, was_connected);
      if (stop.load()) break;
    } catch (const std::exception& e) {
      if (stop.load()) break;  // an attempt given up because of stop is no failure
      mark_failure(e.what());
    } catch (...) {
      mark_failure("unknown error");
    }
    if (was_connected) backoff = timing_.backoff_initial;
    if (!wait(backoff, stop)) break;
    backoff = std::min(backoff * 2, timing_.backoff_max);
  }
  std::lock_guard<std::mutex> lock(status_mutex_);
  status_.connected = false;
}

void ImapPoller::session(const std::atomic<bool>& stop, bool& was_connected) {
  ImapConnection conn(config_, timing_.read_timeout, 2 * max_message_bytes_ + 16 * kMiB);
  conn.open(&stop);
  const SelectedMailbox selected = conn.select();
  mark_connected();
  was_connected = true;
  const bool use_idle = config_.idle && conn.has_capability("IDLE");
  while (!stop.load()) {
    const CycleEnd end = fetch_new(conn, selected, stop);
    if (end == CycleEnd::Stopped) break;
    if (end == CycleEnd::StoreBusy) {
      // Mail is waiting that cannot be applied: /healthz must say so while it lasts.
      mark_store_busy();
      if (!wait(timing_.busy_retry, stop)) break;
      continue;
    }
    mark_success();
    if (end == CycleEnd::MoreWaiting) continue;
    // Mail that came while we fetched or flagged was announced then (EXISTS), not again in IDLE.
    if (end == CycleEnd::CaughtUp && conn.take_new_mail_hint()) continue;
    // Caught up, about to wait (often minutes): the store gives back its page cache. With one
    // store connection per mailbox thread that is most of what an idle daemon's heap would hold,
    // and in WAL mode another connection's commit empties that cache at the next read anyway.
    store_.release_idle_memory();
    if (use_idle) {
      idle(conn, stop);
    } else if (!wait(std::chrono::seconds(config_.poll_seconds), stop)) {
      break;
    }
  }
  conn.logout();
}

ImapPoller::CycleEnd ImapPoller::fetch_new(ImapConnection& conn, const SelectedMailbox& selected,
                                           const std::atomic<bool>& stop) {
  const std::int64_t uidvalidity = selected.uidvalidity;
  auto to_raw = [&](std::int64_t uid, FetchData& f) {
    RawMessage raw;
    raw.bytes = std::move(*f.body);
    raw.source = "imap";
    raw.mailbox = config_.id;
    raw.uidvalidity = uidvalidity;
    raw.uid = uid;
    raw.size = f.size.value_or(static_cast<std::int64_t>(raw.bytes.size()));
    raw.oversized = static_cast<std::size_t>(raw.size) > max_message_bytes_;
    return raw;
  };
  std::int64_t last = 0;
  const auto state = store_.mailbox_state(config_.id);
  if (state && state->uidvalidity == uidvalidity) {
    last = state->last_uid;
  } else {
    if (state) {
      log_.warning("mailbox " + config_.id + ": UIDVALIDITY changed from " +
                   std::to_string(state->uidvalidity) + " to " + std::to_string(uidvalidity) +
                   ": reading the folder again from UID 1");
    }
    save_position(uidvalidity, 0);
  }

  // Which UIDs are new, and how big. "n:*" also answers the highest UID when it is below n.
  // What the server announced before this look is in its answer: forget those announcements.
  conn.take_new_mail_hint();
  std::vector<std::pair<std::int64_t, std::int64_t>> fresh;  // uid, size
  conn.run("UID FETCH " + std::to_string(last + 1) + ":* (UID RFC822.SIZE)", [&](ImapResponse& r) {
    if (r.keyword != "FETCH") return;
    const FetchData f = parse_fetch(r);
    if (f.uid && *f.uid > last) fresh.emplace_back(*f.uid, f.size.value_or(0));
  });
  std::sort(fresh.begin(), fresh.end());
  fresh.erase(std::unique(fresh.begin(), fresh.end(),
                          [](const auto& a, const auto& b) { return a.first == b.first; }),
              fresh.end());

  // One batch: up to batch_messages messages and about batch_bytes of them (at least one).
  struct Batch {
    std::vector<std::int64_t> whole, headers_only, order;
    std::vector<std::string> tags;  // its UID FETCH commands sent and not yet read to the end
    std::map<std::int64_t, FetchData> fetched;
  };
  std::size_t next = 0;
  auto next_batch = [&]() -> std::optional<Batch> {
    if (next >= fresh.size()) return std::nullopt;
    Batch b;
    std::size_t bytes = 0;
    while (next < fresh.size() && static_cast<int>(b.order.size()) < timing_.batch_messages) {
      const auto [uid, size] = fresh[next];
      const bool oversized = static_cast<std::size_t>(size) > max_message_bytes_;
      const std::size_t cost = oversized ? kOversizedHeaderBytes : static_cast<std::size_t>(size);
      if (!b.order.empty() && bytes + cost > timing_.batch_bytes) break;
      bytes += cost;
      (oversized ? b.headers_only : b.whole).push_back(uid);
      b.order.push_back(uid);
      ++next;
    }
    return b;
  };
  auto start_fetch = [&](Batch& b) {
    if (!b.whole.empty()) b.tags.push_back(conn.send_command("UID FETCH " + uid_set(b.whole) + " (UID RFC822.SIZE BODY.PEEK[])"));
    if (!b.headers_only.empty()) {
      b.tags.push_back(conn.send_command("UID FETCH " + uid_set(b.headers_only) + " (UID RFC822.SIZE BODY.PEEK[HEADER]<0." +
                                         std::to_string(kOversizedHeaderBytes) + ">)"));
    }
  };
  auto finish_fetch = [&](Batch& b) {
    for (const auto& tag : b.tags) {
      conn.finish(tag, "UID FETCH", [&b](ImapResponse& r) {
        if (r.keyword != "FETCH") return;
        FetchData f = parse_fetch(r);
        if (f.uid && f.body) b.fetched[*f.uid] = std::move(f);
      });
    }
    b.tags.clear();
  };

  std::optional<Batch> current = next_batch();
  if (current) {
    start_fetch(*current);
    finish_fetch(*current);
  }
  while (current) {
    std::vector<std::int64_t>& order = current->order;
    std::map<std::int64_t, FetchData>& fetched = current->fetched;
    if (handle_batch_) {
      // Group commit: the whole batch in one transaction, then one flag command, one position.
      // The next batch's FETCH goes out first: the server reads it while this one is applied.
      std::optional<Batch> ahead = next_batch();
      if (ahead) start_fetch(*ahead);
      if (stop.load()) {
        if (ahead) finish_fetch(*ahead);
        return CycleEnd::Stopped;
      }
      std::vector<RawMessage> raws;
      std::vector<std::int64_t> uids;
      for (const std::int64_t uid : order) {
        auto it = fetched.find(uid);
        if (it == fetched.end()) continue;  // expunged by someone else meanwhile
        raws.push_back(to_raw(uid, it->second));
        uids.push_back(uid);
        fetched.erase(it);
      }
      if (!raws.empty()) {
        try {
          const std::vector<Outcome> outcomes = handle_batch_(raws);
          for (std::size_t i = 0; i < outcomes.size() && i < uids.size(); ++i)
            log_.debug("mailbox " + config_.id + ": UID " + std::to_string(uids[i]) + ": " +
                       outcome_name(outcomes[i].kind));
        } catch (const StoreError& e) {
          if (e.kind() != StoreError::Kind::Busy) throw;
          log_.warning("mailbox " + config_.id + ": store busy, UIDs " + uid_set(uids) +
                       " left for a retry: " + e.what());
          if (ahead) finish_fetch(*ahead);
          return CycleEnd::StoreBusy;
        }
        if (failpoint("imap_exit_after_commit")) crash_here();  // tests of invariant 1 only
        if (ahead) finish_fetch(*ahead);  // its answers come before the flag command's
        after_handled(conn, uid_set(uids));
        save_position(uidvalidity, uids.back());
      } else if (ahead) {
        finish_fetch(*ahead);
      }
      current = std::move(ahead);
      continue;
    }
    for (const std::int64_t uid : order) {
      if (stop.load()) return CycleEnd::Stopped;
      auto it = fetched.find(uid);
      if (it == fetched.end()) continue;  // expunged by someone else meanwhile
      RawMessage raw = to_raw(uid, it->second);
      fetched.erase(it);
      try {
        const Outcome outcome = handle_(raw);
        log_.debug("mailbox " + config_.id + ": UID " + std::to_string(uid) + ": " +
                   outcome_name(outcome.kind));
      } catch (const StoreError& e) {
        if (e.kind() != StoreError::Kind::Busy) throw;
        log_.warning("mailbox " + config_.id + ": store busy, UID " + std::to_string(uid) +
                     " left for a retry: " + e.what());
        return CycleEnd::StoreBusy;
      }
      if (failpoint("imap_exit_after_commit")) crash_here();  // tests of invariant 1 only
      after_handled(conn, std::to_string(uid));
      save_position(uidvalidity, uid);
    }
    current = next_batch();
    if (current) {
      start_fetch(*current);
      finish_fetch(*current);
    }
  }
  return CycleEnd::CaughtUp;
}

void ImapPoller::after_handled(ImapConnection& conn, const std::string& u) {
  const std::string& after = config_.after;
  if (after.rfind("move:", 0) == 0) {
    const std::string folder = imap_quote(trim(after.substr(5)));
    conn.run("UID STORE " + u + " +FLAGS.SILENT (\\Seen)");
    if (conn.has_capability("MOVE")) {
      conn.run("UID MOVE " + u + " " + folder);
      return;
    }
    conn.run("UID COPY " + u + " " + folder);
    conn.run("UID STORE " + u + " +FLAGS.SILENT (\\Deleted)");
    // Without UIDPLUS a plain EXPUNGE would also remove other clients' deleted messages: the
    // message stays, flagged \Deleted, for the server's own clean-up.
    if (conn.has_capability("UIDPLUS")) conn.run("UID EXPUNGE " + u);
  } else if (after == "delete") {
    conn.run("UID STORE " + u + " +FLAGS.SILENT (\\Deleted)");
    if (conn.has_capability("UIDPLUS")) conn.run("UID EXPUNGE " + u);
  } else {
    conn.run("UID STORE " + u + " +FLAGS.SILENT (\\Seen)");
  }
}

void ImapPoller::save_position(std::int64_t uidvalidity, std::int64_t uid) {
  store_.begin();
  try {
    store_.set_mailbox_state(config_.id, MailboxState{uidvalidity, uid}, now_seconds());
    store_.commit();
  } catch (...) {
    try {
      store_.rollback();
    } catch (...) {
    }
    throw;
  }
}

void ImapPoller::idle(ImapConnection& conn, const std::atomic<bool>& stop) {
  const std::string tag = conn.send_command("IDLE");
  bool news = false;
  for (;;) {
    auto r = conn.read_response(timing_.read_timeout);
    if (!r) throw ImapError("timeout waiting for the server to accept IDLE");
    if (r->kind == ImapResponse::Kind::Continuation) break;
    if (r->kind == ImapResponse::Kind::Tagged && r->tag == tag) {
      if (!r->is_ok()) throw ImapError("IDLE failed: " + r->status + " " + r->text);
      return;
    }
    if (r->keyword == "BYE") throw ImapError("the server closed the session: " + r->text);
    if (r->keyword == "EXISTS") news = true;
  }
  // IDLE is a hint, not a promise: a notification lost in the moment between the last fetch and
  // the server's acceptance of IDLE would otherwise leave a message waiting until the reissue. So
  // fetch at least every poll_seconds, as without IDLE.
  const auto until = std::chrono::steady_clock::now() +
                     std::min<std::chrono::milliseconds>(timing_.idle_reissue,
                                                         std::chrono::seconds(std::max(config_.poll_seconds, 1)));
  while (!news && !stop.load() && std::chrono::steady_clock::now() < until) {
    auto r = conn.read_response(timing_.stop_check);
    if (!r) continue;
    if (r->keyword == "BYE") throw ImapError("the server closed the session: " + r->text);
    if (r->keyword == "EXISTS") news = true;
  }
  conn.send_line("DONE");
  for (;;) {
    auto r = conn.read_response(timing_.read_timeout);
    if (!r) throw ImapError("timeout waiting for the end of IDLE");
    if (r->kind == ImapResponse::Kind::Tagged && r->tag == tag) {
      if (!r->is_ok()) throw ImapError("IDLE failed: " + r->status + " " + r->text);
      return;
    }
    if (r->keyword == "BYE") throw ImapError("the server closed the session: " + r->text);
  }
}

}  // namespace atendd

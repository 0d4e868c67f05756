// bench_imap — IMAP end to end: N messages waiting in a real local Dovecot mailbox, taken in by
// ImapPoller with a batch handler that runs the whole InboundPipeline (group commit per fetched
// batch), each batch flagged \Seen with one UID STORE and its position committed once; against
// Dovecot's bulk `UID FETCH 1:* (BODY.PEEK[])` over the same kind of connection and the
// handler-less poller, in the same run. Usage: bench_imap [--tiny] [--batch N] (10,000 messages;
// --tiny: 200; --batch: messages per UID FETCH and per transaction, the poller's default else).

// Also measures the two per-message costs the poller pays after each handler call: one
// `UID STORE n +FLAGS.SILENT (\Seen)` round trip and one store transaction for the position.
// Needs dovecot and doveadm (tests/support/dovecot.cpp starts and stops a private instance).

#include <atomic>
#include <filesystem>
#include <memory>
#include <thread>

#include "bench/bench_common.h"
#include "daemon/pipeline/inbound.h"
#include "daemon/runtime.h"
#include "daemon/sources/imap_connection.h"
#include "daemon/sources/imap_poller.h"
#include "daemon/sources/imap_response.h"
#include "storage/blob_store.h"
#include "storage/sqlite_store.h"
#include "support/dovecot.h"

using namespace atendd;
using namespace atendd::bench;
namespace fs = std::filesystem;

namespace {

int batch_messages = ImapPollerTiming{}.batch_messages;  // --batch N

struct Row {
  double seconds = 0;
  std::uint64_t messages = 0, bytes = 0;
  long peak_kb = 0;
};

MailboxConfig mailbox_config(test::Dovecot& dovecot) {
  MailboxConfig c;
  c.id = "suporte";
  c.url = dovecot.imap_url();  // plain IMAP on 127.0.0.1 for every row alike
  c.tls = "none";
  c.user = "support";
  c.password = dovecot.password();
  c.poll_seconds = 1;
  c.idle = false;
  c.after = "seen";
  return c;
}

std::string scratch_dir() {
  std::string templ = "/var/tmp/atendd-bench-XXXXXX";
  if (!mkdtemp(templ.data())) throw std::runtime_error("mkdtemp failed");
  return templ;
}

void clear_seen(const MailboxConfig& config) {
  ImapConnection conn(config, std::chrono::seconds(60), 64u << 20);
  conn.open();
  conn.select();
  conn.run("UID STORE 1:* -FLAGS.SILENT (\\Seen)");
  conn.logout();
}

// Runs an ImapPoller until the position it commits reaches `last_uid`; the handler is `handle`.
// The time runs from the poller's start to that commit (connect and login included).
// `Handler` is ImapPoller::Handler (one message at a time) or ImapPoller::BatchHandler.
template <typename Handler>
Row run_poller(const MailboxConfig& config, SqliteStore& store, const std::string& db_path, std::int64_t last_uid,
               const Handler& handle, std::atomic<std::uint64_t>& handled) {
  ImapPollerTiming timing;
  timing.batch_messages = batch_messages;
  timing.stop_check = std::chrono::milliseconds(20);
  timing.read_timeout = std::chrono::seconds(60);
  ImapPoller poller(config, store, handle, quiet_logger("bench.imap"), timing);
  SqliteStore watcher(db_path);  // a second connection, read from this thread (WAL readers don't block)
  std::atomic<bool> stop{false};
  reset_peak_rss();
  Row r;
  const auto t0 = Steady::now();
  std::thread thread([&] { poller.run(stop); });
  const auto give_up = t0 + std::chrono::minutes(10);
  for (;;) {
    auto state = watcher.mailbox_state(config.id);
    if (state && state->last_uid >= last_uid) break;
    if (Steady::now() > give_up) {
      std::printf("  WARNING: gave up waiting; handled %llu, last error: %s\n",
                  static_cast<unsigned long long>(handled.load()), poller.status().last_error.c_str());
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  r.seconds = seconds_since(t0);
  r.peak_kb = peak_rss_kb();
  stop = true;
  thread.join();
  r.messages = handled.load();
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  bool tiny = false;
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--tiny") {
      tiny = true;
    } else if (std::string_view(argv[i]) == "--batch" && i + 1 < argc) {
      batch_messages = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: %s [--tiny] [--batch N]\n", argv[0]);
      return 2;
    }
  }
  const auto wall = Steady::now();
  const int n = tiny ? 200 : 10000;
  std::printf("bench_imap%s (%s)\n"
              "%d messages (the bench_pipeline mix) waiting in a private Dovecot's INBOX (Maildir, 127.0.0.1,\n"
              "plain IMAP, curl-based ImapConnection for every row). Poller rows: from start (connect, login)\n"
              "to the commit of the last position; each message handed over, flagged \\Seen, position saved.\n"
              "peak = VmHWM of this process (poller, pipeline, store; not Dovecot), reset before each row.\n"
              "Batches of %d messages (one UID FETCH, one transaction, one UID STORE each; the next FETCH\n"
              "sent before the current batch is applied).\n\n",
              tiny ? " --tiny" : "", kBuildNote, n, batch_messages);

  test::Dovecot dovecot({"support"});
  const Mix mix = make_mix(n);
  auto t0 = Steady::now();
  dovecot.add_unseen_many("support", mix.messages);
  const MailboxConfig config = mailbox_config(dovecot);
  std::int64_t last_uid = 0;
  {
    ImapConnection conn(config, std::chrono::seconds(60), 64u << 20);
    conn.open();
    last_uid = conn.select().uidnext - 1;
    conn.logout();
  }
  std::printf("%d messages (%.1f MB) delivered into the Maildir and indexed in %.1f s; last UID %lld\n\n", n,
              mix.bytes / 1e6, seconds_since(t0), static_cast<long long>(last_uid));

  std::printf("%-58s %7s | %9s %7s %8s | %7s\n", "what", "msgs", "msgs/s", "MB/s", "peakMiB", "/fetch");
  std::printf("%s\n", std::string(104, '-').c_str());
  auto print_row = [&](const std::string& what, const Row& r, double yard) {
    const double rate = r.messages / r.seconds;
    char ratio[16] = "1.00";
    if (yard > 0) std::snprintf(ratio, sizeof ratio, "%.3f", rate / yard);
    std::printf("%-58s %7llu | %9.0f %7.1f %8.1f | %7s\n", what.c_str(), static_cast<unsigned long long>(r.messages),
                rate, r.bytes / 1e6 / r.seconds, r.peak_kb / 1024.0, ratio);
    if (r.messages != static_cast<std::uint64_t>(n))
      std::printf("  WARNING: %llu of %d messages\n", static_cast<unsigned long long>(r.messages), n);
    return rate;
  };

  // (1) Dovecot's bulk fetch: one command, every body.
  Row fetch;
  {
    reset_peak_rss();
    t0 = Steady::now();
    ImapConnection conn(config, std::chrono::seconds(60), 64u << 20);
    conn.open();
    conn.select();
    conn.run("UID FETCH 1:* (BODY.PEEK[])", [&](ImapResponse& r) {
      if (r.keyword != "FETCH") return;
      const FetchData f = parse_fetch(r);
      if (f.body) {
        ++fetch.messages;
        fetch.bytes += f.body->size();
      }
    });
    fetch.seconds = seconds_since(t0);
    fetch.peak_kb = peak_rss_kb();
    conn.logout();
  }
  const double fetch_rate = print_row("raw UID FETCH 1:* (BODY.PEEK[]), login included (yardstick)", fetch, 0);

  // (2) the two per-message costs of the poller, measured alone
  double store_each_s = 0, store_range_s = 0, position_s = 0;
  {
    ImapConnection conn(config, std::chrono::seconds(60), 64u << 20);
    conn.open();
    conn.select();
    t0 = Steady::now();
    for (std::int64_t uid = 1; uid <= last_uid; ++uid) conn.run("UID STORE " + std::to_string(uid) + " +FLAGS.SILENT (\\Seen)");
    store_each_s = seconds_since(t0);
    conn.run("UID STORE 1:* -FLAGS.SILENT (\\Seen)");
    t0 = Steady::now();
    conn.run("UID STORE 1:" + std::to_string(last_uid) + " +FLAGS.SILENT (\\Seen)");
    store_range_s = seconds_since(t0);
    conn.run("UID STORE 1:* -FLAGS.SILENT (\\Seen)");
    conn.logout();
    const std::string dir = scratch_dir();
    {
      SqliteStore store(dir + "/atendd.db");
      t0 = Steady::now();
      for (std::int64_t uid = 1; uid <= last_uid; ++uid) {
        store.begin();
        store.set_mailbox_state("suporte", MailboxState{1, uid}, kBenchNow);
        store.commit();
      }
      position_s = seconds_since(t0);
    }
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  // (3) the poller with a handler that does nothing
  Row bare;
  {
    const std::string dir = scratch_dir();
    {
      SqliteStore store(dir + "/atendd.db");
      std::atomic<std::uint64_t> handled{0};
      std::atomic<std::uint64_t> bytes{0};
      bare = run_poller(config, store, dir + "/atendd.db", last_uid,
                        ImapPoller::BatchHandler([&](const std::vector<RawMessage>& batch) {
                          std::vector<Outcome> outcomes(batch.size());
                          for (std::size_t i = 0; i < batch.size(); ++i) {
                            ++handled;
                            bytes += batch[i].bytes.size();
                            outcomes[i].kind = Outcome::Kind::TicketCreated;
                          }
                          return outcomes;
                        }),
                        handled);
      bare.bytes = bytes.load();
    }
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  const double bare_rate = print_row("ImapPoller, handler that does nothing", bare, fetch_rate);
  clear_seen(config);

  // (4) the poller running the whole pipeline: what the daemon does
  Row full;
  double handler_s = 0;
  int created = 0, appended = 0, other = 0;
  std::size_t unseen_after = 0;
  {
    const std::string dir = scratch_dir();
    {
      Config desk = bench_config(dir);
      SqliteStore store(dir + "/atendd.db");
      BlobStore blobs(dir, store, static_cast<std::size_t>(desk.server.database_blob_max_kb) * 1024);  // as the daemon
      std::unique_ptr<Renderer> renderer = make_renderer(desk);
      FixedClock clock(kBenchNow);
      InboundPipeline pipeline(store, blobs, desk, *renderer, clock, quiet_logger("bench.imap.pipeline"));
      std::atomic<std::uint64_t> handled{0};
      std::uint64_t bytes = 0;
      std::int64_t handler_ns = 0;
      // What the daemon hands over: whole fetched batches, group committed.
      full = run_poller(config, store, dir + "/atendd.db", last_uid,
                        ImapPoller::BatchHandler([&](const std::vector<RawMessage>& batch) {
                          const auto h0 = Steady::now();
                          std::vector<Outcome> outcomes = pipeline.process_batch(batch);
                          handler_ns +=
                              std::chrono::duration_cast<std::chrono::nanoseconds>(Steady::now() - h0).count();
                          for (std::size_t i = 0; i < batch.size(); ++i) {
                            bytes += batch[i].bytes.size();
                            const Outcome& o = outcomes[i];
                            if (o.kind == Outcome::Kind::TicketCreated) ++created;
                            else if (o.kind == Outcome::Kind::Appended) ++appended;
                            else ++other;
                            ++handled;
                          }
                          return outcomes;
                        }),
                        handled);
      full.bytes = bytes;
      handler_s = handler_ns / 1e9;
    }
    std::error_code ec;
    fs::remove_all(dir, ec);
    for (const auto& m : dovecot.list("support")) unseen_after += !m.seen();
  }
  const double full_rate = print_row("ImapPoller + InboundPipeline (end to end)", full, fetch_rate);
  std::printf("  outcomes: %d tickets created, %d replies appended, %d other; %zu messages left unseen\n", created,
              appended, other, unseen_after);

  const double per = 1e6 / n;
  std::printf("\nper message (us):\n"
              "  bulk fetch share (raw FETCH time / N)                                %8.1f\n"
              "  handler-less poller                                                 %8.1f\n"
              "  end to end                                                          %8.1f\n"
              "    of which InboundPipeline::process_batch (timed in the handler)    %8.1f\n"
              "    of which the poller (fetch, \\Seen STORE, position commit)         %8.1f\n"
              "  measured alone: one UID STORE +FLAGS.SILENT (\\Seen) round trip       %8.1f   (one STORE of the whole\n"
              "                  UID range instead: %.1f us per message)\n"
              "  measured alone: one position commit (BEGIN, UPDATE, COMMIT)          %8.1f\n",
              fetch.seconds * per, bare.seconds * per, full.seconds * per, handler_s * per,
              (full.seconds - handler_s) * per, store_each_s * per, store_range_s * per, position_s * per);

  summary("imap", std::to_string(n) + " msgs, poller + pipeline", full_rate, "msg/s", full.bytes / 1e6 / full.seconds,
          full.peak_kb / 1024.0, "raw UID FETCH 1:* (BODY.PEEK[])", fetch_rate);
  summary("imap", "poller, handler doing nothing", bare_rate, "msg/s", bare.bytes / 1e6 / bare.seconds,
          bare.peak_kb / 1024.0, "raw UID FETCH 1:* (BODY.PEEK[])", fetch_rate);
  summary("imap", "yardstick: raw UID FETCH 1:* (BODY.PEEK[])", fetch_rate, "msg/s", fetch.bytes / 1e6 / fetch.seconds,
          fetch.peak_kb / 1024.0, "-", 0);
  std::printf("\ntotal wall time %.1f s\n", seconds_since(wall));
  return full.messages == static_cast<std::uint64_t>(n) && unseen_after == 0 ? 0 : 1;
}

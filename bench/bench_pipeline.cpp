// bench_pipeline — the whole inbound path without network: InboundPipeline::process_batch (blob,
// parse, journal, thread, rules, ticket engine, templates rendered into the outbox; batches of
// ImapPollerTiming::batch_messages as the IMAP poller hands them, one transaction per batch, each
// message all-or-nothing) on an on-disk SQLite in WAL mode, at 1,000 / 10,000 / 100,000 messages,
// against SQLite's own insert rate measured in the same run. Usage: bench_pipeline [--tiny] (--tiny: 300 messages).

// Mix: 70 % new tickets from new customers, 30 % replies carrying an earlier ticket's subject tag
// from that ticket's customer (bench_common.h). Each size runs in its own fork()ed child on a fresh
// store, so its peak RSS is its own. "Where the time goes" runs once more with a TimingStore around
// the SqliteStore and measures parse on the same bytes apart. Blobs are kept as the
// daemon keeps them with SQLite: up to 128 KiB (the default) inside the database, larger ones as files
// (--database-blob-max-kb 0: every blob a file, as before migration 12).

#include <malloc.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <sqlite3.h>

#include <filesystem>
#include <memory>

#include "bench/bench_common.h"
#include "bench/timing_store.h"
#include "daemon/pipeline/inbound.h"
#include "daemon/runtime.h"
#include "daemon/sources/imap_poller.h"
#include "parsers/mime_reader.h"
#include "storage/blob_store.h"
#include "storage/sqlite_store.h"

using namespace atendd;
using namespace atendd::bench;
namespace fs = std::filesystem;

namespace {

// Where the stores go: /var/tmp (on disk, not a tmpfs) unless --scratch DIR names another place
// (a tmpfs there takes the disk's flushes out and leaves the CPU's share).
std::string scratch_root = "/var/tmp";
// [server] database_blob_max_kb, in bytes: the daemon's default unless --database-blob-max-kb.
std::size_t database_blob_max_bytes = static_cast<std::size_t>(ServerConfig{}.database_blob_max_kb) * 1024;

std::string make_scratch_dir() {
  std::string templ = scratch_root + "/atendd-bench-XXXXXX";
  if (!mkdtemp(templ.data())) throw std::runtime_error("mkdtemp failed");
  return templ;
}

struct ScratchDir {
  std::string path = make_scratch_dir();
  ~ScratchDir() {
    if (std::getenv("ATENDD_BENCH_KEEP")) return;  // to look into the store afterwards
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::uint64_t dir_bytes(const std::string& dir) {
  std::uint64_t n = 0;
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(dir, ec))
    if (e.is_regular_file(ec)) n += e.file_size(ec);
  return n;
}

// ---------------------------------------------------------------- the pipeline at one size

struct PipelineResult {
  bool ok;
  int messages;
  double seconds;
  double first_tenth_s, last_tenth_s;  // wall time of the first and the last 10 % of the messages
  double cpu_s;                        // user + system CPU time of the run (steadier than wall time
                                       // on a shared machine; I/O waits are not in it)
  double main_cpu_s;                   // the same, of the thread that holds the transaction alone
  std::uint64_t bytes;
  int created, appended, other, mismatched;
  long base_kb, peak_kb;
  std::uint64_t db_bytes, blob_bytes;
  std::uint64_t log_bytes;  // written to the WAL by the pipeline's connection
  std::uint64_t outbox_rows;
  // with profile only
  std::int64_t store_begin_ns, store_commit_ns, store_query_ns, store_calls;
  char top_name[16][40];  // the store methods that took the most time
  std::int64_t top_ns[16], top_calls[16];
};

double cpu_seconds(int who = RUSAGE_SELF) {
  rusage u{};
  getrusage(who, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// Generates the first n messages of the mix itself (so the child holds only those: its peak RSS is
// the pipeline's with its input) and runs them through a fresh store.
PipelineResult run_pipeline(int n, bool profile) {
  PipelineResult r{};
  // The input is held in one block: kept as 100,000 separate strings, interleaved with what
  // generating them left free, it fragments the heap the pipeline allocates from (glibc's
  // _int_malloc then took 15 % of a 100,000 run searching its free lists), which the daemon, holding
  // one batch at a time, never sees.
  std::string input;
  std::vector<std::pair<std::size_t, std::size_t>> all;  // offset and size of each message in input
  {
    const std::vector<std::string> generated = make_mix(n).messages;
    std::size_t total = 0;
    for (const auto& m : generated) total += m.size();
    input.reserve(total);
    for (const auto& m : generated) {
      all.emplace_back(input.size(), m.size());
      input += m;
    }
  }
  ::malloc_trim(0);
  ScratchDir dir;
  Config config = bench_config(dir.path);
  SqliteStore sqlite(dir.path + "/atendd.db");
  TimingStore timing(sqlite);
  Store& store = profile ? static_cast<Store&>(timing) : static_cast<Store&>(sqlite);
  BlobStore blobs(dir.path, store, database_blob_max_bytes);  // in the batch's transaction, timed as a store call
  std::unique_ptr<Renderer> renderer = make_renderer(config);
  FixedClock clock(kBenchNow);
  Poco::Logger& log = quiet_logger("bench.pipeline");
  InboundPipeline pipeline(store, blobs, config, *renderer, clock, log);

  reset_peak_rss();
  r.base_kb = rss_kb();
  const int tenth = std::max(1, n / 10);
  int created = 0;
  const double cpu0 = cpu_seconds();
  const double main_cpu0 = cpu_seconds(RUSAGE_THREAD);
  const auto t0 = Steady::now();
  auto mark = t0;
  // As the IMAP poller hands them: batches of kBatch messages, each one store transaction (group
  // commit; savepoints per message only when one of the batch fails).
  const int kBatch = ImapPollerTiming{}.batch_messages;
  for (int start = 0; start < n; start += kBatch) {
    const int end = std::min(n, start + kBatch);
    if (start <= n - tenth && n - tenth < end) mark = Steady::now();
    std::vector<RawMessage> batch(static_cast<std::size_t>(end - start));
    for (int k = start; k < end; ++k) {
      RawMessage& raw = batch[static_cast<std::size_t>(k - start)];
      const auto [offset, size] = all[static_cast<std::size_t>(k)];
      raw.bytes.assign(input, offset, size);
      raw.mailbox = "suporte";
    }
    const std::vector<Outcome> outcomes = pipeline.process_batch(batch);
    for (int k = start; k < end; ++k) {
      const Outcome& o = outcomes[static_cast<std::size_t>(k - start)];
      r.bytes += batch[static_cast<std::size_t>(k - start)].bytes.size();
      if (o.kind == Outcome::Kind::TicketCreated) {
        ++r.created;
        if (o.protocol != protocol_of(++created)) ++r.mismatched;
      } else if (o.kind == Outcome::Kind::Appended) {
        ++r.appended;
        if (!is_reply(k)) ++r.mismatched;
      } else {
        ++r.other;
      }
    }
    if (end >= tenth && r.first_tenth_s == 0) r.first_tenth_s = seconds_since(t0);
  }
  r.seconds = seconds_since(t0);
  r.cpu_s = cpu_seconds() - cpu0;
  r.main_cpu_s = cpu_seconds(RUSAGE_THREAD) - main_cpu0;
  r.last_tenth_s = std::chrono::duration<double>(Steady::now() - mark).count();
  r.peak_kb = peak_rss_kb();
  r.messages = n;
  r.db_bytes = dir_bytes(dir.path) - dir_bytes(dir.path + "/blobs");
  r.blob_bytes = dir_bytes(dir.path + "/blobs");
  r.log_bytes = static_cast<std::uint64_t>(sqlite.bytes_written());
  for (auto state : {OutboxState::Pending, OutboxState::Sent})
    r.outbox_rows += sqlite.outbox_in_state(state, 10 * n + 100).size();
  r.store_begin_ns = timing.begin_ns;
  r.store_commit_ns = timing.commit_ns;
  r.store_query_ns = timing.query_ns + timing.other_ns;
  r.store_calls = timing.calls;
  std::vector<int> order(TimingStore::kMethodCount);
  for (int i = 0; i < TimingStore::kMethodCount; ++i) order[static_cast<std::size_t>(i)] = i;
  std::sort(order.begin(), order.end(), [&](int a, int b) { return timing.by_method[a].ns > timing.by_method[b].ns; });
  for (int i = 0; i < 16; ++i) {
    const int m = order[static_cast<std::size_t>(i)];
    std::snprintf(r.top_name[i], sizeof r.top_name[i], "%s", TimingStore::kMethods[m]);
    r.top_ns[i] = timing.by_method[m].ns;
    r.top_calls[i] = timing.by_method[m].calls;
  }
  r.ok = true;
  return r;
}

// ---------------------------------------------------------------- yardsticks

void check(int rc, sqlite3* db, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
    throw std::runtime_error(std::string(what) + ": " + sqlite3_errmsg(db));
}

// A prepared INSERT of a row with a 2 KB blob (and an indexed text key, like a Message-ID), in
// transactions of `per_tx` rows, on a fresh WAL database with the store's own pragmas.
double sqlite_insert_rate(int rows, int per_tx) {
  ScratchDir dir;
  sqlite3* db = nullptr;
  check(sqlite3_open((dir.path + "/raw.db").c_str(), &db), db, "open");
  check(sqlite3_exec(db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                     "CREATE TABLE t(id INTEGER PRIMARY KEY, message_id TEXT NOT NULL UNIQUE, body BLOB NOT NULL);",
                     nullptr, nullptr, nullptr),
        db, "schema");
  sqlite3_stmt* ins = nullptr;
  check(sqlite3_prepare_v2(db, "INSERT INTO t(message_id, body) VALUES (?, ?)", -1, &ins, nullptr), db, "prepare");
  std::mt19937 rng(7);
  std::string blob(2048, '\0');
  for (auto& c : blob) c = static_cast<char>(rng());
  const auto t0 = Steady::now();
  for (int i = 0; i < rows; ++i) {
    if (i % per_tx == 0) check(sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr), db, "begin");
    const std::string id = "m" + std::to_string(i) + "@bench";
    blob[static_cast<std::size_t>(i) % blob.size()] ^= 1;
    sqlite3_bind_text(ins, 1, id.data(), static_cast<int>(id.size()), SQLITE_TRANSIENT);
    sqlite3_bind_blob(ins, 2, blob.data(), static_cast<int>(blob.size()), SQLITE_TRANSIENT);
    check(sqlite3_step(ins), db, "insert");
    sqlite3_reset(ins);
    if (i % per_tx == per_tx - 1 || i == rows - 1)
      check(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), db, "commit");
  }
  const double s = seconds_since(t0);
  sqlite3_finalize(ins);
  sqlite3_close(db);
  return rows / s;
}

// What BlobStore::put does for each raw message: write a 2.5 KB file, fsync, rename.
double durable_file_rate(int files) {
  ScratchDir dir;
  std::string bytes(2500, 'x');
  const auto t0 = Steady::now();
  for (int i = 0; i < files; ++i) {
    const std::string tmp = dir.path + "/tmp" + std::to_string(i), final_name = dir.path + "/f" + std::to_string(i);
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0 || ::write(fd, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size()) || ::fsync(fd) != 0 ||
        ::close(fd) != 0 || ::rename(tmp.c_str(), final_name.c_str()) != 0)
      throw std::runtime_error("durable file write failed");
  }
  return files / seconds_since(t0);
}

struct Breakdown {
  bool ok;
  int messages;
  double parse_s;
  PipelineResult run;
};

}  // namespace

int main(int argc, char** argv) {
  bool tiny = false, breakdown = true;
  int breakdown_size = 0;  // 0: 10,000 (300 with --tiny)
  std::vector<int> only_sizes;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg(argv[i]);
    if (arg == "--tiny") {
      tiny = true;
    } else if (arg == "--no-breakdown") {
      breakdown = false;
    } else if (arg == "--breakdown-size" && i + 1 < argc) {
      breakdown_size = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--database-blob-max-kb" && i + 1 < argc) {
      database_blob_max_bytes = static_cast<std::size_t>(std::strtoul(argv[++i], nullptr, 10)) * 1024;
    } else if (arg == "--scratch" && i + 1 < argc) {
      scratch_root = argv[++i];
    } else if (arg == "--sizes" && i + 1 < argc) {
      for (const char* p = argv[++i]; *p;) {
        char* end = nullptr;
        const long v = std::strtol(p, &end, 10);
        if (end == p || v <= 0) break;
        only_sizes.push_back(static_cast<int>(v));
        p = *end == ',' ? end + 1 : end;
      }
    } else {
      std::fprintf(stderr, "usage: %s [--tiny] [--sizes N,N,...] [--scratch DIR] [--database-blob-max-kb N] [--no-breakdown]"
                   " [--breakdown-size N]\n",
                   argv[0]);
      return 2;
    }
  }
  const auto wall = Steady::now();
  std::printf("bench_pipeline%s (%s)\n"
              "InboundPipeline::process_batch, batches of %d as the IMAP poller fetches them (one transaction, savepoints per\n"
              "message only when one fails), SQLite WAL (synchronous=FULL: each commit on disk) in %s, blobs up to %zu KiB in the database\n"
              "(larger ones, and all with 0, as files: blob MB),\n"
              "built-in pt_BR templates; mix: 70 %% new tickets (opening + forward queued), 30 %% customer replies\n"
              "with the subject tag of a random earlier ticket. Each size: fresh store, own child process.\n"
              "us/msg = wall time per message; last10%% = per message over the last tenth of the run (a cost\n"
              "growing with the store shows there); cpu us = CPU time (user + system) per message, the steadier\n"
              "figure on a shared machine (waits for the disk are not in it); main us = the same, of the thread\n"
              "that holds the transaction (what the other threads cannot take over);\n"
              "peak/grow = VmHWM of the child and its growth during the run; logKB = pages written to the WAL\n"
              "per message (the checkpoint writes them once more into the database file).\n\n",
              tiny ? " --tiny" : "", kBuildNote, ImapPollerTiming{}.batch_messages, scratch_root.c_str(),
              database_blob_max_bytes / 1024);

  const int prof_n = breakdown_size > 0 ? breakdown_size : tiny ? 300 : 10000;
  auto t_gen = Steady::now();
  const Mix mix = make_mix(prof_n);  // for the breakdown; each size generates its own
  std::printf("%d messages generated (%.1f KB average) in %.2f s\n\n", prof_n, mix.bytes / 1024.0 / prof_n,
              seconds_since(t_gen));

  // Yardsticks first, so a busy machine shows in both.
  const int yard_rows = tiny ? 300 : 10000;
  const double sql1 = sqlite_insert_rate(yard_rows, 1);
  const double sql100 = sqlite_insert_rate(yard_rows * (tiny ? 1 : 3), 100);
  const double files = durable_file_rate(tiny ? 100 : 3000);

  std::printf("%-8s %7s %7s | %8s %6s %8s %8s %7s %7s | %8s %8s | %7s %7s %6s | %7s %8s %5s %4s | %7s %7s\n",
              "size", "msgs", "MB", "msgs/s", "MB/s", "us/msg", "last10%", "cpu us", "main us", "peakMiB", "growMiB",
              "db MB", "blob MB", "logKB", "created", "appended", "other", "bad", "/sql1tx", "/sql100");
  std::printf("%s\n", std::string(172, '-').c_str());
  std::vector<int> sizes = tiny ? std::vector<int>{300} : std::vector<int>{1000, 10000, 100000};
  if (!only_sizes.empty()) sizes = only_sizes;
  std::string note;
  double rate_10k = 0;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    int n = sizes[i];
    if (only_sizes.empty() && n == 100000 && rate_10k > 0 && 100000 / rate_10k > 180) {
      note = "100,000 messages would take about " + std::to_string(static_cast<int>(100000 / rate_10k)) +
             " s on this machine (> 3 minutes): ran 30,000 instead";
      n = 30000;
    }
    const PipelineResult r = in_child<PipelineResult>([&] { return run_pipeline(n, false); });
    char name[32];
    std::snprintf(name, sizeof name, "%d", n);
    if (!r.ok) {
      std::printf("%-8s FAILED\n", name);
      continue;
    }
    const double rate = r.messages / r.seconds;
    if (n == 10000) rate_10k = rate;
    const int tenth = std::max(1, n / 10);
    std::printf("%-8s %7d %7.1f | %8.0f %6.1f %8.1f %8.1f %7.1f %7.1f | %8.1f %8.1f | %7.1f %7.1f %6.1f | %7d %8d %5d %4d | %7.2f %7.2f\n",
                name, r.messages, r.bytes / 1e6, rate, r.bytes / 1e6 / r.seconds, 1e6 * r.seconds / r.messages,
                1e6 * r.last_tenth_s / tenth, 1e6 * r.cpu_s / r.messages, 1e6 * r.main_cpu_s / r.messages, r.peak_kb / 1024.0, (r.peak_kb - r.base_kb) / 1024.0,
                r.db_bytes / 1e6, r.blob_bytes / 1e6, r.log_bytes / 1024.0 / r.messages, r.created, r.appended, r.other, r.mismatched, rate / sql1,
                rate / sql100);
    summary("pipeline", std::to_string(n) + " msgs", rate, "msg/s", r.bytes / 1e6 / r.seconds, r.peak_kb / 1024.0,
            "SQLite INSERT 2KB, 1 row/tx", sql1);
  }
  if (!note.empty()) std::printf("note: %s\n", note.c_str());
  std::printf("\nyardsticks (same run, same disk):\n");
  std::printf("  SQLite prepared INSERT of a 2 KB blob + unique key, 1 row per transaction:   %8.0f rows/s\n", sql1);
  std::printf("  SQLite prepared INSERT of a 2 KB blob + unique key, 100 rows per transaction: %8.0f rows/s\n", sql100);
  std::printf("  2.5 KB file written, fsync()ed and renamed (BlobStore::put of a file blob):   %8.0f files/s\n", files);
  std::printf("  bad = outcomes that differ from the plan (a reply not threaded, a protocol out of order)\n");
  summary("pipeline", "yardstick: SQLite INSERT 2KB, 100 rows/tx", sql100, "rows/s", 0, 0, "-", 0);
  summary("pipeline", "yardstick: 2.5KB file write+fsync+rename", files, "files/s", 0, 0, "-", 0);

  // Where the time goes: the same run with a TimingStore (blob rows are a store call: put_blobs);
  // parse timed apart.
  if (!breakdown) {
    std::printf("\ntotal wall time %.1f s\n", seconds_since(wall));
    return 0;
  }
  const Breakdown b = in_child<Breakdown>([&] {
    Breakdown out{};
    out.messages = prof_n;
    std::uint64_t sink = 0;
    auto t0 = Steady::now();
    for (int k = 0; k < prof_n; ++k) sink += parse_message(mix.messages[static_cast<std::size_t>(k)]).text.size();
    out.parse_s = seconds_since(t0);
    out.run = run_pipeline(prof_n, true);
    // A breakdown of a run whose messages went elsewhere (quarantined: a store call the timing
    // wrapper does not forward) would time the wrong path.
    out.ok = out.run.ok && sink > 0 && out.run.other == 0 && out.run.mismatched == 0;
    return out;
  });
  if (b.ok) {
    const double total = b.run.seconds, per = 1e6 / b.messages;
    const double begin = b.run.store_begin_ns / 1e9, commit = b.run.store_commit_ns / 1e9,
                 query = b.run.store_query_ns / 1e9;
    const double rest = total - b.parse_s - begin - commit - query;
    auto row = [&](const char* what, double s) {
      std::printf("  %-62s %8.1f us/msg %5.1f %%\n", what, s * per, 100.0 * s / total);
    };
    std::printf("\nwhere the time goes (%d messages, store calls timed in place, %lld calls = %.1f per message):\n",
                b.messages, static_cast<long long>(b.run.store_calls), double(b.run.store_calls) / b.messages);
    row("whole InboundPipeline::process_batch (with timing overhead)", total);
    row("parse_message (timed apart on the same bytes)", b.parse_s);
    row("store: queries and writes (statements)", query);
    row("store: BEGIN", begin);
    row("store: COMMIT (WAL append and fsync, synchronous=FULL)", commit);
    row("rest: threading, rules, engine, templates, composing, logging", rest);
    std::printf("  the store calls that took the most time:\n");
    for (int i = 0; i < 16; ++i)
      if (b.run.top_calls[i] > 0)
        std::printf("    %-26s %7.2f calls/msg %8.1f us/call %8.1f us/msg %5.1f %%\n", b.run.top_name[i],
                    double(b.run.top_calls[i]) / b.messages, b.run.top_ns[i] / 1e3 / b.run.top_calls[i],
                    b.run.top_ns[i] / 1e3 / b.messages, 100.0 * b.run.top_ns[i] / 1e9 / total);
  } else {
    std::printf("\nwhere the time goes: FAILED (%d messages not applied as planned)\n", b.run.other + b.run.mismatched);
  }
  std::printf("\ntotal wall time %.1f s\n", seconds_since(wall));
  return 0;
}

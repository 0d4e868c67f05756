// bench_import — `atendd import` without the process: run_import on an mbox of generated support
// conversations (tests/support/conversation_archive.h: new messages, agents' answers, customers'
// replies) into a fresh on-disk SQLite store, at 1,000 and 10,000 messages, then the same import
// again (everything already there: the resume and idempotence path). Yardstick from the same run:
// the same messages through the live pipeline (process_batch, batches of 100, outbox rendered).
// Usage: bench_import [--tiny] (--tiny: 300 messages).
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <memory>

#include "bench/bench_common.h"
#include "daemon/pipeline/inbound.h"
#include "daemon/runtime.h"
#include "daemon/sources/archive_import.h"
#include "storage/blob_store.h"
#include "storage/sqlite_store.h"
#include "support/conversation_archive.h"

using namespace atendd;
using namespace atendd::bench;
namespace fs = std::filesystem;

namespace {

struct ScratchDir {
  std::string path;
  ScratchDir() {
    std::string templ = "/var/tmp/atendd-bench-import-XXXXXX";  // on disk, not a tmpfs
    if (!mkdtemp(templ.data())) throw std::runtime_error("mkdtemp failed");
    path = templ;
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

Config import_config(const std::string& state_dir) {
  const std::string text =
      "[server]\nname = Suporte\naddress = suporte@atendd.test\nreply_address = suporte+{token}@atendd.test\n"
      "state_dir = " + state_dir + "\ntrusted_authserv_id = mx.atendd.test\nlocale = pt_BR\n"
      "[agent.maria]\nemail = maria@atendd.test\nname = Maria Souza\ndepartment = suporte\n"
      "[type.geral]\nname = Geral\ndepartment = suporte\nassign = round_robin\nfirst_response_hours = 4\n"
      "next_contact_days = 2\nreopen_days = 30\n";
  ConfigResult result = load_config_text(text, "bench.ini", state_dir);
  if (!result.config) throw std::runtime_error("benchmark configuration rejected");
  return *result.config;
}

struct ImportResult {
  bool ok;
  int messages;
  double mbox_mb;
  double import_s, rerun_s, live_s;
  std::int64_t created, appended, ignored, failed, rerun_duplicates, outbox_rows, live_outbox_rows;
  long peak_kb;
};

ImportResult run(int n) {
  ImportResult r{};
  const test::ConversationArchive archive = test::make_conversation_archive(n);
  ScratchDir dir;
  const std::string mbox = dir.path + "/suporte.mbox";
  {
    std::ofstream out(mbox, std::ios::binary);
    const std::string text = test::to_mbox(archive.messages);
    out << text;
    r.mbox_mb = text.size() / 1e6;
  }
  Poco::Logger& log = quiet_logger("bench.import");
  FixedClock clock(kBenchNow);
  {
    const std::string state = dir.path + "/import";
    fs::create_directories(state);
    Config config = import_config(state);
    SqliteStore store(state + "/atendd.db");
    BlobStore blobs(state, store, static_cast<std::size_t>(config.server.database_blob_max_kb) * 1024);  // as the daemon
    std::unique_ptr<Renderer> renderer = make_renderer(config);
    ImportOptions options;
    options.mailbox = "suporte";
    options.path = mbox;
    reset_peak_rss();
    const ImportSummary first = run_import(store, blobs, config, *renderer, clock, log, options, nullptr);
    r.peak_kb = peak_rss_kb();
    const ImportSummary second = run_import(store, blobs, config, *renderer, clock, log, options, nullptr);
    r.import_s = first.seconds;
    r.rerun_s = second.seconds;
    r.created = first.created;
    r.appended = first.appended;
    r.ignored = first.ignored;
    r.failed = first.quarantined;
    r.rerun_duplicates = second.duplicates;
    for (auto state_kind : {OutboxState::Pending, OutboxState::Sent, OutboxState::Failed})
      r.outbox_rows += static_cast<std::int64_t>(store.outbox_in_state(state_kind, 1000000).size());
  }
  {
    // Yardstick: the same messages live, batches of 100 as the IMAP poller hands them.
    const std::string state = dir.path + "/live";
    fs::create_directories(state);
    Config config = import_config(state);
    SqliteStore store(state + "/atendd.db");
    BlobStore blobs(state, store, static_cast<std::size_t>(config.server.database_blob_max_kb) * 1024);  // as the daemon
    std::unique_ptr<Renderer> renderer = make_renderer(config);
    InboundPipeline pipeline(store, blobs, config, *renderer, clock, log);
    const auto t0 = Steady::now();
    for (std::size_t start = 0; start < archive.messages.size(); start += 100) {
      std::vector<RawMessage> batch;
      for (std::size_t k = start; k < std::min(archive.messages.size(), start + 100); ++k) {
        RawMessage raw;
        raw.bytes = test::lf_only(archive.messages[k].raw);
        raw.mailbox = "suporte";
        batch.push_back(std::move(raw));
      }
      pipeline.process_batch(batch);
    }
    r.live_s = seconds_since(t0);
    r.live_outbox_rows = static_cast<std::int64_t>(store.outbox_in_state(OutboxState::Pending, 1000000).size());
  }
  r.messages = n;
  r.ok = r.failed == 0 && r.rerun_duplicates == n && r.outbox_rows == 0;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  const bool tiny = argc > 1 && std::string(argv[1]) == "--tiny";
  const auto wall = Steady::now();
  std::printf("bench_import (%s): atendd import of generated conversations (new, agent answers, replies)\n\n",
              kBuildNote);
  std::printf("%-7s %6s | %9s %7s %9s | %9s | %9s %6s | %7s %8s %7s %6s | %7s\n", "size", "MB", "import/s", "MB/s",
              "s", "rerun/s", "live/s", "ratio", "created", "appended", "ignored", "outbox", "peakMiB");
  std::printf("%s\n", std::string(118, '-').c_str());
  int status = 0;
  for (int n : tiny ? std::vector<int>{300} : std::vector<int>{1000, 10000}) {
    const ImportResult r = in_child<ImportResult>([n] { return run(n); });
    if (!r.ok) {
      std::printf("%-7d FAILED (failed messages, a rerun that imported again, or outbox rows)\n", n);
      status = 1;
      continue;
    }
    const double rate = r.messages / r.import_s, live = r.messages / r.live_s;
    std::printf("%-7d %6.1f | %9.0f %7.2f %9.2f | %9.0f | %9.0f %6.2f | %7lld %8lld %7lld %6lld | %7.1f\n", n,
                r.mbox_mb, rate, r.mbox_mb / r.import_s, r.import_s, r.messages / r.rerun_s, live, rate / live,
                static_cast<long long>(r.created), static_cast<long long>(r.appended),
                static_cast<long long>(r.ignored), static_cast<long long>(r.outbox_rows), r.peak_kb / 1024.0);
    summary("import", std::to_string(n) + " msgs mbox", rate, "msg/s", r.mbox_mb / r.import_s, r.peak_kb / 1024.0,
            "live pipeline, same msgs", live);
    summary("import", std::to_string(n) + " msgs rerun (all there)", r.messages / r.rerun_s, "msg/s", 0, 0, "-", 0);
  }
  std::printf("\nrerun/s: the same import again (every message already there); live/s: the same messages through\n"
              "the live pipeline (outbox rendered), ratio = import / live; outbox: rows the import wrote (must be 0)\n");
  std::printf("total wall time %.1f s\n", seconds_since(wall));
  return status;
}

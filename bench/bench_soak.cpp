// bench_soak.cpp — the soak test: the real `atendd` daemon polling a private Dovecot and sending to
// an SMTP sink, fed at a steady rate for a while with new tickets, customer follow-ups and agent
// commands mixed in. Every 5 s it samples the daemon's RSS and open file descriptors; at the end
// it prints them over time, the RSS growth after warm-up, the outbox latency percentiles, and
// checks that every message became one article (exit 1 otherwise).
// Usage: bench_soak [--seconds N (600)] [--rate MSGS_PER_S (5)]. bench/soak runs it in Release;
// CTest runs a 30 s variant as bench.soak_30s.
#include <dirent.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "storage/sqlite_store.h"
#include "support/dovecot.h"
#include "support/processes.h"

using namespace atendd;
using namespace atendd::test;

namespace {

long rss_kb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  return -1;
}

long open_fds(pid_t pid) {
  long n = 0;
  if (DIR* d = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str())) {
    while (::readdir(d)) ++n;
    ::closedir(d);
  }
  return n - 2;
}

std::string message(const std::string& id, const std::string& from, const std::string& subject,
                    const std::string& extra_headers, const std::string& body) {
  return "From: " + from + "\r\nTo: suporte@atendd.test\r\nSubject: " + subject + "\r\nMessage-ID: <" + id + ">\r\n" +
         extra_headers + "Date: Tue, 24 Nov 2026 10:00:00 +0000\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n" + body;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 600, rate = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--seconds") seconds = std::atof(argv[i + 1]);
    else if (a == "--rate") rate = std::atof(argv[i + 1]);
    else {
      std::fprintf(stderr, "usage: bench_soak [--seconds N] [--rate MSGS_PER_S]\n");
      return 2;
    }
  }
  Dovecot dovecot({"support"});
  TempDir dir;
  SmtpSink sink(dir.path() + "/sink");
  const std::string state = dir.path() + "/state";
  write_file(dir.path() + "/suporte.pass", "secret\n");
  const std::string config = dir.path() + "/atendd.ini";
  write_file(config, "[server]\nname = Suporte\naddress = suporte@atendd.test\nreply_address = suporte+{token}@atendd.test\n"
                     "state_dir = " + state + "\nlocale = pt_BR\nadmin_listen = 127.0.0.1:" + std::to_string(free_port()) +
                     "\nauto_reply_limit = 0\n"
                     "[smtp]\nhost = 127.0.0.1\nport = " + std::to_string(sink.port()) +
                     "\ntimeout_seconds = 5\nretry_initial_seconds = 1\nretry_max_seconds = 2\n"
                     "[mailbox.suporte]\nurl = " + dovecot.imap_url() + "\nca_file = " + dovecot.ca_file() +
                     "\nuser = support\npassword_file = suporte.pass\npoll_seconds = 1\n"
                     "[agent.maria]\nemail = maria@atendd.test\nname = Maria\ndepartment = suporte\n"
                     "[type.geral]\nname = Geral\ndepartment = suporte\nassign = agent:maria\n");
  // In an ASan build (the CTest variant), freed memory waits in a 256 MB quarantine that would
  // read as growth: keep it small so the RSS column means something there too.
  const char* asan = std::getenv("ASAN_OPTIONS");
  const std::string asan_options = "ASAN_OPTIONS=" + std::string(asan ? asan : "") + ":quarantine_size_mb=8";
  DaemonProcess daemon({"--config", config}, {asan_options}, dir.path() + "/atendd.log");
  // The daemon creates the state directory and the database; the agent commands read it.
  for (int i = 0; i < 600 && !std::filesystem::exists(state + "/atendd.db"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::mt19937 random(42);
  std::vector<int> opened;
  long sent_in = 0, news = 0, follow_ups = 0, commands = 0;
  struct Sample { double at; long rss_kb, fds; };
  std::vector<Sample> samples;
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  double next_sample = 0;
  std::unique_ptr<SqliteStore> store;
  for (int tick = 0; elapsed() < seconds; ++tick) {
    std::vector<std::string> batch;
    for (int i = 0; i < static_cast<int>(rate); ++i) {
      const int n = static_cast<int>(sent_in++);
      const int kind = static_cast<int>(random() % 20);
      if (opened.size() > 3 && kind < 5) {
        const int parent = opened[random() % opened.size()];
        batch.push_back(message("re-" + std::to_string(n) + "@c.test", "c" + std::to_string(parent) + "@c.test",
                                "Re: Pedido " + std::to_string(parent),
                                "In-Reply-To: <new-" + std::to_string(parent) + "@c.test>\r\n", "Mais detalhes.\r\n"));
        ++follow_ups;
      } else if (opened.size() > 3 && kind < 8) {
        if (!store) store = std::make_unique<SqliteStore>(state + "/atendd.db");
        const int parent = opened[random() % opened.size()];
        std::optional<TicketId> id;
        try { id = store->ticket_of_message_id("new-" + std::to_string(parent) + "@c.test"); } catch (...) {}
        std::optional<Ticket> t;
        if (id) t = store->ticket(*id);
        if (!t) { --sent_in; continue; }
        batch.push_back("From: Maria <maria@atendd.test>\r\nTo: suporte+" + t->reply_token + "@atendd.test\r\nSubject: Re: [#" +
                        t->protocol + "] Pedido\r\nMessage-ID: <cmd-" + std::to_string(n) +
                        "@atendd.test>\r\n\r\n#note verificado no soak\r\n\r\nObrigado, estamos vendo.\r\n");
        ++commands;
      } else {
        batch.push_back(message("new-" + std::to_string(n) + "@c.test", "c" + std::to_string(n) + "@c.test",
                                "Pedido " + std::to_string(n), "", "Algo quebrou.\r\n"));
        opened.push_back(n);
        ++news;
      }
    }
    dovecot.add_unseen_many("support", batch);
    if (elapsed() >= next_sample) {
      samples.push_back({elapsed(), rss_kb(daemon.pid()), open_fds(daemon.pid())});
      next_sample += 5;
    }
    std::this_thread::sleep_until(start + std::chrono::milliseconds(1000L * (tick + 1)));
  }
  // Let it catch up, then read the outcome.
  const auto ingest_end = elapsed();
  bool caught_up = false;
  SqliteStore final_store(state + "/atendd.db");
  while (elapsed() < ingest_end + 120 && !caught_up) {
    const auto journal = final_store.journal(10000000).size();
    long pending = 0;
    for (auto s : {OutboxState::Pending, OutboxState::Sending}) pending += static_cast<long>(final_store.outbox_in_state(s, 100000).size());
    caught_up = static_cast<long>(journal) >= sent_in && pending == 0;
    if (!caught_up) std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  samples.push_back({elapsed(), rss_kb(daemon.pid()), open_fds(daemon.pid())});
  const int exit_code = daemon.stop();

  std::vector<long> latency;
  for (const auto& m : final_store.outbox_in_state(OutboxState::Sent, 10000000))
    if (m.sent_at) latency.push_back(*m.sent_at - m.created_at);
  std::sort(latency.begin(), latency.end());
  auto pct = [&](double p) { return latency.empty() ? -1L : latency[std::min(latency.size() - 1, static_cast<size_t>(p * latency.size()))]; };
  const auto journal = final_store.journal(10000000);

  std::printf("soak: %.0f s at %.1f msg/s: %ld messages (%ld new, %ld follow-ups, %ld agent commands)\n", ingest_end, rate,
              sent_in, news, follow_ups, commands);
  std::printf("%8s %10s %6s\n", "t (s)", "RSS (MB)", "fds");
  for (const auto& s : samples) std::printf("%8.0f %10.1f %6ld\n", s.at, s.rss_kb / 1024.0, s.fds);
  // Growth after warm-up: the mean RSS of the last third against the second third.
  double growth = 0;
  if (samples.size() >= 6) {
    const size_t third = samples.size() / 3;
    double mid = 0, last = 0;
    for (size_t i = third; i < 2 * third; ++i) mid += static_cast<double>(samples[i].rss_kb) / static_cast<double>(third);
    for (size_t i = samples.size() - third; i < samples.size(); ++i) last += static_cast<double>(samples[i].rss_kb) / static_cast<double>(third);
    growth = mid > 0 ? 100.0 * (last - mid) / mid : 0;
    std::printf("RSS growth after warm-up (mean of the last third against the middle third): %+.1f%%\n", growth);
  }
  std::printf("outbox: %zu mails sent, latency p50 %ld s, p90 %ld s, p99 %ld s, max %ld s\n", latency.size(), pct(0.5),
              pct(0.9), pct(0.99), latency.empty() ? -1L : latency.back());
  std::printf("journal: %zu entries for %ld messages; caught up: %s; daemon exit %d\n", journal.size(), sent_in,
              caught_up ? "yes" : "NO", exit_code);
  const bool ok = caught_up && static_cast<long>(journal.size()) == sent_in && exit_code == 0;
  std::printf("soak: %s\n", ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}

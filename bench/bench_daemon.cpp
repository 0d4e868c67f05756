// bench_daemon — the `atendd` daemon as it runs in production, measured from outside: a private
// Dovecot with 5 mailboxes (IDLE), an SMTP sink (fast_smtp_sink.h) and the daemon binary.
// (1) Idle footprint: nothing to do for a minute; RSS and CPU time from /proc/PID. RSS is printed
//     along the minute (the daemon trims its heap and gives back its libraries' pages at set
//     times into a quiet spell), with the page faults of the minute.
// (2) Latency: messages APPENDed over IMAP to one mailbox at a steady rate; each measured from the
//     APPEND to the moment the sink has the opening e-mail to that customer; p50, p99, max, and
//     the first message's alone (it meets whatever the idle minute left: pages to fault back in).
//     With --smaps-top N, the idle RSS is also broken down by mapping (/proc/PID/smaps): the N
//     largest, each split into code, read-only (relocated data, symbol tables) and written pages.
// The daemon gets the Environment= lines of systemd/atendd.service, as in production, unless
// --no-unit-env; --env adds more.
// Usage: bench_daemon [--tiny] [--idle-seconds S] [--messages N] [--rate R] [--env NAME=VALUE]
//        [--no-unit-env] [--smaps-top N]
// (default 60 s, 200 messages at 20/s, no breakdown; --tiny: 3 s, 20 messages).

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "bench/bench_common.h"
#include "bench/fast_smtp_sink.h"
#include "daemon/sources/imap_connection.h"
#include "daemon/sources/imap_response.h"
#include "support/dovecot.h"
#include "support/processes.h"

using namespace atendd;
using namespace atendd::bench;

namespace {

constexpr int kMailboxes = 5;

// A "KEY:" line of /proc/PID/FILE in KiB (status: VmRSS, VmHWM, RssAnon, RssFile, Threads;
// smaps_rollup: Pss), or 0.
long proc_kb(pid_t pid, const std::string& file, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/" + file);
  std::string line;
  while (std::getline(in, line))
    if (line.compare(0, key.size() + 1, key + ":") == 0) return std::atol(line.c_str() + key.size() + 1);
  return 0;
}
long proc_status_kb(pid_t pid, const std::string& key) { return proc_kb(pid, "status", key); }

// utime + stime of the whole process (all threads), in seconds.
double proc_cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = all.rfind(')');  // the command name may hold spaces
  if (close == std::string::npos) return 0;
  std::istringstream fields(all.substr(close + 2));
  std::string f;
  long long utime = 0, stime = 0;
  for (int i = 3; fields >> f; ++i) {  // field 3 is the state
    if (i == 14) utime = std::atoll(f.c_str());
    if (i == 15) {
      stime = std::atoll(f.c_str());
      break;
    }
  }
  return double(utime + stime) / double(sysconf(_SC_CLK_TCK));
}

// Page faults of the whole process so far: minor (a page mapped from the page cache) and major
// (read from disk), fields 10 and 12 of /proc/PID/stat.
struct Faults {
  long long minor = 0, major = 0;
};
Faults proc_faults(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = all.rfind(')');
  Faults out;
  if (close == std::string::npos) return out;
  std::istringstream fields(all.substr(close + 2));
  std::string f;
  for (int i = 3; fields >> f; ++i) {
    if (i == 10) out.minor = std::atoll(f.c_str());
    if (i == 12) {
      out.major = std::atoll(f.c_str());
      break;
    }
  }
  return out;
}

// NAME=VALUE of every Environment= line of the systemd unit (one assignment a line, no quotes);
// nullopt when the unit cannot be read.
std::optional<std::vector<std::string>> unit_environment() {
  std::ifstream in(std::string(ATENDD_SOURCE_DIR) + "/systemd/atendd.service");
  if (!in) return std::nullopt;
  std::vector<std::string> out;
  std::string line;
  const std::string key = "Environment=";
  while (std::getline(in, line))
    if (line.compare(0, key.size(), key) == 0) out.push_back(line.substr(key.size()));
  return out;
}

int proc_threads(pid_t pid) { return static_cast<int>(proc_status_kb(pid, "Threads")); }

// Resident KiB of one mapping name (a file's base name, [heap], [stack], "anonymous"), summed over
// its mappings: code (r-x), read-only (r--: symbol tables, constants, relocated data made
// read-only), writable (rw-); private_dirty = pages this process wrote (relocations, data, heap).
struct MappingRss {
  long code = 0, read_only = 0, writable = 0, private_dirty = 0;
  long total() const { return code + read_only + writable; }
};

std::map<std::string, MappingRss> smaps_by_mapping(pid_t pid) {
  std::map<std::string, MappingRss> out;
  std::ifstream in("/proc/" + std::to_string(pid) + "/smaps");
  std::string line, perms;
  MappingRss* current = nullptr;
  while (std::getline(in, line)) {
    const auto colon = line.find(':');
    const auto space = line.find(' ');
    if (space != std::string::npos && (colon == std::string::npos || colon > space)) {  // a mapping's header
      std::istringstream header(line);
      std::string range, offset, device, inode, path;
      header >> range >> perms >> offset >> device >> inode;
      std::getline(header >> std::ws, path);
      std::string name = path.empty() ? "anonymous" : path.substr(path.rfind('/') + 1);
      if (name.rfind("[stack:", 0) == 0) name = "anonymous";
      current = &out[name];
      continue;
    }
    if (!current || colon == std::string::npos) continue;
    const std::string key = line.substr(0, colon);
    const long kb = std::atol(line.c_str() + colon + 1);
    if (key == "Rss") {
      (perms[2] == 'x' ? current->code : perms[1] == 'w' ? current->writable : current->read_only) += kb;
    } else if (key == "Private_Dirty") {
      current->private_dirty += kb;
    }
  }
  return out;
}

// The idle RSS by mapping: the `top` largest, then the rest summed, then files vs anonymous.
void print_smaps_breakdown(pid_t pid, int top) {
  const auto by_name = smaps_by_mapping(pid);
  std::vector<std::pair<std::string, MappingRss>> sorted(by_name.begin(), by_name.end());
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return a.second.total() > b.second.total(); });
  std::printf("  RSS by mapping (KiB; code = r-x, read-only = r-- incl. relocated data, writable = rw-;\n"
              "  dirty = written by this process: heap, stacks, relocations, data):\n");
  std::printf("  %8s %8s %8s %8s %8s  %s\n", "rss", "code", "ro", "rw", "dirty", "mapping");
  MappingRss rest, files;
  int rest_count = 0, file_count = 0;
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    const auto& [name, m] = sorted[i];
    const bool file = name != "anonymous" && name.front() != '[';
    if (file) {
      ++file_count;
      files.code += m.code;
      files.read_only += m.read_only;
      files.writable += m.writable;
      files.private_dirty += m.private_dirty;
    }
    if (static_cast<int>(i) < top) {
      std::printf("  %8ld %8ld %8ld %8ld %8ld  %s\n", m.total(), m.code, m.read_only, m.writable, m.private_dirty,
                  name.c_str());
    } else {
      ++rest_count;
      rest.code += m.code;
      rest.read_only += m.read_only;
      rest.writable += m.writable;
      rest.private_dirty += m.private_dirty;
    }
  }
  if (rest_count)
    std::printf("  %8ld %8ld %8ld %8ld %8ld  (%d more)\n", rest.total(), rest.code, rest.read_only, rest.writable,
                rest.private_dirty, rest_count);
  std::printf("  %8ld %8ld %8ld %8ld %8ld  all %d mapped files (the binary, shared libraries, the database's -shm)\n\n",
              files.total(), files.code, files.read_only, files.writable, files.private_dirty, file_count);
}

std::string customer(int i) { return "cliente" + std::to_string(i) + "@cliente.example"; }

std::string message(int i) {
  return "From: Cliente " + std::to_string(i) + " <" + customer(i) + ">\r\n"
         "To: suporte@suporte.example\r\n"
         "Subject: =?UTF-8?Q?Pedido_n=C2=BA_" + std::to_string(i) + "_n=C3=A3o_chegou?=\r\n"
         "Message-ID: <latency-" + std::to_string(i) + "-" + std::to_string(::getpid()) + "@cliente.example>\r\n"
         "Date: Tue, 24 Nov 2026 10:00:00 +0000\r\n"
         "MIME-Version: 1.0\r\n"
         "Content-Type: text/plain; charset=UTF-8\r\n"
         "Content-Transfer-Encoding: 8bit\r\n"
         "\r\n"
         "Olá, bom dia! A minha encomenda ainda não chegou.\r\nObrigado,\r\nCliente " + std::to_string(i) + "\r\n";
}

MailboxConfig mailbox(test::Dovecot& dovecot, const std::string& user) {
  MailboxConfig c;
  c.id = user;
  c.url = dovecot.imap_url();
  c.tls = "none";
  c.user = user;
  c.password = dovecot.password();
  return c;
}

// APPEND over IMAP, as a mail client or an MTA's LMTP would put it there.
void append(ImapConnection& conn, const std::string& raw) {
  const std::string tag = conn.send_command("APPEND INBOX {" + std::to_string(raw.size()) + "}");
  for (;;) {
    auto r = conn.read_response(std::chrono::seconds(30));
    if (!r) throw std::runtime_error("APPEND: no continuation");
    if (r->kind == ImapResponse::Kind::Continuation) break;
    if (r->kind == ImapResponse::Kind::Tagged && r->tag == tag) throw std::runtime_error("APPEND refused: " + r->text);
  }
  conn.send_line(raw);
  for (;;) {
    auto r = conn.read_response(std::chrono::seconds(30));
    if (!r) throw std::runtime_error("APPEND: no completion");
    if (r->kind == ImapResponse::Kind::Tagged && r->tag == tag) {
      if (!r->is_ok()) throw std::runtime_error("APPEND failed: " + r->text);
      return;
    }
  }
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t rank = static_cast<std::size_t>(std::ceil(p * v.size()));
  return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  bool tiny = false;
  double idle_seconds = 60, rate = 20;
  int messages = 200;
  int smaps_top = 0;
  bool unit_env = true;
  std::vector<std::string> env;  // --env NAME=VALUE for the daemon (MALLOC_ARENA_MAX=2, …)
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg(argv[i]);
    if (arg == "--tiny") {
      tiny = true;
      idle_seconds = 3;
      messages = 20;
    } else if (arg == "--idle-seconds" && i + 1 < argc) {
      idle_seconds = std::atof(argv[++i]);
    } else if (arg == "--messages" && i + 1 < argc) {
      messages = std::atoi(argv[++i]);
    } else if (arg == "--env" && i + 1 < argc) {
      env.emplace_back(argv[++i]);
    } else if (arg == "--rate" && i + 1 < argc) {
      rate = std::atof(argv[++i]);
    } else if (arg == "--no-unit-env") {
      unit_env = false;
    } else if (arg == "--smaps-top" && i + 1 < argc) {
      smaps_top = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr,
                   "usage: %s [--tiny] [--idle-seconds S] [--messages N] [--rate R] [--env NAME=VALUE] [--no-unit-env]"
                   " [--smaps-top N]\n",
                   argv[0]);
      return 2;
    }
  }
  if (messages < 1 || rate <= 0 || idle_seconds < 0) return 2;
  if (unit_env) {
    const auto from_unit = unit_environment();
    if (!from_unit) {
      std::fprintf(stderr, "cannot read %s/systemd/atendd.service (or run with --no-unit-env)\n", ATENDD_SOURCE_DIR);
      return 2;
    }
    env.insert(env.begin(), from_unit->begin(), from_unit->end());  // --env given later wins
  }
  std::string env_shown;
  for (const auto& e : env) env_shown += " " + e;
  const auto wall = Steady::now();
  std::printf("bench_daemon%s (%s)\n"
              "the atendd binary (%s) with %d mailboxes on a private Dovecot (plain IMAP, 127.0.0.1, IDLE on),\n"
              "SQLite store in /var/tmp, SMTP to an in-process sink. RSS and CPU from /proc/PID (all threads).\n"
              "environment (%s):%s\n\n",
              tiny ? " --tiny" : "", kBuildNote, ATENDD_BINARY, kMailboxes,
              unit_env ? "systemd/atendd.service's, then --env" : "--env only", env_shown.empty() ? " -" : env_shown.c_str());

  std::vector<std::string> users;
  for (int m = 1; m <= kMailboxes; ++m) users.push_back("suporte" + std::to_string(m));
  test::Dovecot dovecot(users);

  std::mutex mutex;
  std::map<std::string, Steady::time_point> arrived;  // customer address -> first mail to it
  FastSmtpSink sink([&](const std::vector<std::string>& recipients) {
    const auto now = Steady::now();
    std::lock_guard<std::mutex> lock(mutex);
    for (const auto& r : recipients) arrived.emplace(r, now);
  });

  test::TempDir dir;  // config, passwords
  std::string state = "/var/tmp/atendd-bench-XXXXXX";  // the store on disk, as in production
  if (!mkdtemp(state.data())) throw std::runtime_error("mkdtemp failed");
  struct RemoveOnExit {
    const std::string& path;
    ~RemoveOnExit() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  } remove_state{state};
  test::write_file(dir.path() + "/mailbox.pass", dovecot.password() + "\n");
  std::string ini =
      "[server]\nname = Suporte\naddress = suporte@suporte.example\nreply_address = suporte+{token}@suporte.example\n"
      "state_dir = " + state + "\nlocale = pt_BR\nadmin_listen = 127.0.0.1:" + std::to_string(test::free_port()) + "\n"
      "[smtp]\nhost = 127.0.0.1\nport = " + std::to_string(sink.port()) + "\ntls = none\n"
      "[agent.maria]\nemail = maria@suporte.example\nname = Maria Souza\ndepartment = suporte\n"
      "[type.geral]\nname = Geral\ndepartment = suporte\nassign = round_robin\n";
  for (const auto& user : users)
    ini += "[mailbox." + user + "]\nurl = " + dovecot.imap_url() + "\ntls = none\nuser = " + user +
           "\npassword_file = " + dir.path() + "/mailbox.pass\npoll_seconds = 30\nidle = true\nafter = seen\n";
  test::write_file(dir.path() + "/atendd.ini", ini);

  test::DaemonProcess daemon({"--config", dir.path() + "/atendd.ini"}, env);
  const pid_t pid = daemon.pid();

  // Ready: every mailbox has logged in (Dovecot's own count of our IMAP sessions would need
  // doveadm who; a first message per mailbox, answered, proves the whole path instead).
  {
    std::vector<std::unique_ptr<ImapConnection>> conns;
    std::vector<MailboxConfig> configs;
    configs.reserve(users.size());
    for (const auto& user : users) configs.push_back(mailbox(dovecot, user));
    for (std::size_t m = 0; m < users.size(); ++m) {
      ImapConnection conn(configs[m], std::chrono::seconds(30), 1u << 20);
      conn.open();
      append(conn, message(100000 + static_cast<int>(m)));
      conn.logout();
    }
    const auto give_up = Steady::now() + std::chrono::seconds(60);
    for (;;) {
      std::size_t got = 0;
      {
        std::lock_guard<std::mutex> lock(mutex);
        for (std::size_t m = 0; m < users.size(); ++m) got += arrived.count(customer(100000 + static_cast<int>(m)));
      }
      if (got == users.size()) break;
      if (Steady::now() > give_up) {
        std::printf("FAILED: the daemon did not answer the first message of every mailbox within 60 s\n");
        return 1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  const auto t_last_work = Steady::now();  // the last opening mail arrived about now
  std::this_thread::sleep_for(std::chrono::seconds(tiny ? 1 : 3));  // settle: every poller back in IDLE

  // (1) idle footprint. The daemon trims its heap 5 s into a quiet spell and gives back its
  // libraries' pages 30 s into it (daemon/service.cpp), counted from its last work: the opening
  // mails answered just above, a settle period before this starts. So RSS is printed along the
  // minute, not only at its end.
  const double cpu0 = proc_cpu_seconds(pid);
  const Faults faults0 = proc_faults(pid);
  const auto t_idle = Steady::now();
  const double quiet_before = seconds_since(t_last_work);
  long rss_max = 0;
  std::printf("idle RSS along the minute (s since the idle phase began / since the daemon's last work):\n");
  double next_mark = 0;
  for (;;) {
    const double at = seconds_since(t_idle);
    const long rss_now = proc_status_kb(pid, "VmRSS");
    rss_max = std::max(rss_max, rss_now);
    if (at >= next_mark || at >= idle_seconds) {
      std::printf("  %5.1f s / %5.1f s: RSS %.1f MiB (anonymous %.1f, file-backed %.1f)\n", at, at + quiet_before,
                  rss_now / 1024.0, proc_status_kb(pid, "RssAnon") / 1024.0, proc_status_kb(pid, "RssFile") / 1024.0);
      next_mark += next_mark < 10 ? 2.5 : 5;
    }
    if (at >= idle_seconds) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  const double idle_s = seconds_since(t_idle);
  const double idle_cpu = proc_cpu_seconds(pid) - cpu0;
  const long rss = proc_status_kb(pid, "VmRSS"), anon = proc_status_kb(pid, "RssAnon"),
             file = proc_status_kb(pid, "RssFile"), hwm = proc_status_kb(pid, "VmHWM");
  rss_max = std::max(rss_max, rss);
  std::printf("idle footprint: %d mailboxes in IDLE, nothing to do, over %.0f s (%d threads)\n", kMailboxes, idle_s,
              proc_threads(pid));
  std::printf("  RSS %.1f MiB (anonymous %.1f, file-backed %.1f; highest seen while idle %.1f; VmHWM since start %.1f)\n",
              rss / 1024.0, anon / 1024.0, file / 1024.0, rss_max / 1024.0, hwm / 1024.0);
  std::printf("  PSS %.1f MiB (shared library pages divided among the processes mapping them)\n",
              proc_kb(pid, "smaps_rollup", "Pss") / 1024.0);
  const Faults faults1 = proc_faults(pid);
  std::printf("  CPU %.3f s in %.0f s = %.3f %% of one core; page faults %lld minor, %lld major\n\n", idle_cpu, idle_s,
              100.0 * idle_cpu / idle_s, faults1.minor - faults0.minor, faults1.major - faults0.major);
  if (smaps_top > 0) print_smaps_breakdown(pid, smaps_top);
  summary("daemon", "idle RSS, 5 mailboxes in IDLE", static_cast<double>(rss), "KiB", 0, hwm / 1024.0,
          "target: at most 15 MiB", 15 * 1024);
  summary("daemon", "idle CPU, 5 mailboxes in IDLE", 60e3 * idle_cpu / idle_s, "ms/min", 0, 0, "-", 0);

  // (2) latency: APPEND at a steady rate, opening e-mail at the sink
  const MailboxConfig target = mailbox(dovecot, users.front());
  ImapConnection conn(target, std::chrono::seconds(30), 1u << 20);
  conn.open();
  std::vector<Steady::time_point> appended(static_cast<std::size_t>(messages));
  std::vector<double> append_ms;
  const auto period = std::chrono::duration_cast<Steady::duration>(std::chrono::duration<double>(1.0 / rate));
  const auto t_lat = Steady::now();
  for (int i = 0; i < messages; ++i) {
    std::this_thread::sleep_until(t_lat + i * period);
    const std::string raw = message(i);
    appended[static_cast<std::size_t>(i)] = Steady::now();
    append(conn, raw);
    append_ms.push_back(1e3 * seconds_since(appended[static_cast<std::size_t>(i)]));
  }
  conn.logout();
  const double send_s = seconds_since(t_lat);
  const auto give_up = Steady::now() + std::chrono::seconds(30);
  std::vector<double> latency_ms;
  int missing = 0;
  for (;;) {
    latency_ms.clear();
    missing = 0;
    {
      std::lock_guard<std::mutex> lock(mutex);
      for (int i = 0; i < messages; ++i) {
        auto it = arrived.find(customer(i));
        if (it == arrived.end()) {
          ++missing;
        } else {
          latency_ms.push_back(
              1e3 * std::chrono::duration<double>(it->second - appended[static_cast<std::size_t>(i)]).count());
        }
      }
    }
    if (missing == 0 || Steady::now() > give_up) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const Faults faults2 = proc_faults(pid);
  const double p50 = percentile(latency_ms, 0.50), p99 = percentile(latency_ms, 0.99),
               worst = latency_ms.empty() ? 0 : *std::max_element(latency_ms.begin(), latency_ms.end());
  std::printf("latency: %d messages APPENDed to %s at %.0f/s (took %.1f s; APPEND itself p50 %.1f ms), from the\n"
              "APPEND to the opening e-mail at the SMTP sink:\n",
              messages, users.front().c_str(), rate, send_s, percentile(append_ms, 0.5));
  std::printf("  p50 %.0f ms   p99 %.0f ms   max %.0f ms   (%zu measured, %d never arrived within 30 s)\n", p50, p99,
              worst, latency_ms.size(), missing);
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto first = arrived.find(customer(0));
    if (first != arrived.end())
      std::printf("  the first message (after the idle minute): %.0f ms\n",
                  1e3 * std::chrono::duration<double>(first->second - appended[0]).count());
  }
  std::printf("  page faults while sending: %lld minor, %lld major\n", faults2.minor - faults1.minor,
              faults2.major - faults1.major);
  std::printf("  RSS after: %.1f MiB, VmHWM %.1f MiB\n", proc_status_kb(pid, "VmRSS") / 1024.0,
              proc_status_kb(pid, "VmHWM") / 1024.0);
  summary("daemon", "latency p50, APPEND -> opening mail", p50, "ms", 0, 0, "-", 0);
  summary("daemon", "latency p99, APPEND -> opening mail", p99, "ms", 0, 0, "target: at most 1 s", 1000);

  const int code = daemon.stop();
  std::printf("\ndaemon exit code %d; total wall time %.1f s\n", code, seconds_since(wall));
  return code == 0 && missing == 0 ? 0 : 1;
}

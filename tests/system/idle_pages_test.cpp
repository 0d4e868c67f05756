// idle_pages_test.cpp — the idle page release (daemon/idle_pages.h): which mappings of an smaps
// listing are chosen (only private read-only file mappings of loaded objects with no page this
// process wrote); that giving back this test process's pages lowers its file-backed RSS and
// leaves every library working (relocated data intact); that a seccomp filter refusing madvise
// makes it a counted refusal and nothing else; and that the real daemon, quiet for a while, gives
// its pages back and keeps reloading and stopping as before.
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include <Poco/DateTime.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/Format.h>
#include <catch2/catch.hpp>
#include <curl/curl.h>
#include <sqlite3.h>

#include "daemon/idle_pages.h"
#include "support/processes.h"
#include "system/system_support.h"

using namespace atendd;
using namespace atendd::test;

namespace {

// "KEY:" of /proc/PID/status in KiB, or -1.
long status_kb(pid_t pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.compare(0, key.size() + 1, key + ":") == 0) return std::atol(line.c_str() + key.size() + 1);
  return -1;
}

// One smaps entry as the kernel writes it, with the lines the choice reads.
std::string entry(const std::string& range, const std::string& perms, const std::string& path, long rss_kb,
                  long anonymous_kb) {
  return range + " " + perms + " 00000000 fd:01 1234" + (path.empty() ? "" : "                      " + path) +
         "\nSize:                 64 kB\nRss:                " + std::to_string(rss_kb) +
         " kB\nPss:                  4 kB\nPrivate_Dirty:        0 kB\nAnonymous:            " +
         std::to_string(anonymous_kb) + " kB\nVmFlags: rd mr mw me\n";
}

// Work in four libraries whose answers do not change: SQLite, libcurl, POCO, libstdc++.
std::string library_answers() {
  sqlite3* db = nullptr;
  std::string out;
  if (sqlite3_open(":memory:", &db) == SQLITE_OK) {
    sqlite3_exec(
        db, "SELECT upper('atendd') || '-' || (40 + 2)",
        [](void* text, int, char** values, char**) {
          *static_cast<std::string*>(text) += values[0] ? values[0] : "";
          return 0;
        },
        &out, nullptr);
  }
  sqlite3_close(db);
  out += std::string(" ") + curl_version_info(CURLVERSION_NOW)->version;
  out += " " + Poco::DateTimeFormatter::format(Poco::DateTime(2026, 11, 24, 10, 0, 0), "%Y-%m-%d %H:%M");
  out += " " + Poco::format("%d/%s", 7, std::string("x"));
  out += std::regex_replace(std::string(" a-b-c"), std::regex("-"), "+");
  return out;
}

}  // namespace

TEST_CASE("only private read-only file mappings of loaded objects with no written page are given back",
          "[system][idle]") {
  const std::vector<AddressRange> loaded{{0x1000, 0x9000}, {0x20000, 0x30000}};
  std::istringstream smaps(
      entry("1000-2000", "r--p", "/usr/sbin/atendd", 4, 0) +              // read-only data: chosen
      entry("2000-4000", "r-xp", "/usr/sbin/atendd", 8, 0) +              // code: chosen
      entry("4000-5000", "r--p", "/usr/sbin/atendd", 4, 4) +              // relocations made read-only
      entry("5000-6000", "rw-p", "/usr/sbin/atendd", 4, 4) +              // data
      entry("6000-7000", "r--s", "/var/lib/atendd/db-shm", 4, 0) +        // shared
      entry("7000-8000", "r--p", "/usr/lib/x.so", 0, 0) +                 // nothing resident
      entry("8000-9000", "r--p", "/dev/zero", 4, 0) +                     // a device
      entry("20000-21000", "r-xp", "/usr/lib/libz.so.1 (deleted)", 4, 0) +  // still a loaded object: chosen
      entry("21000-22000", "r-xp", "", 4, 4) +                            // anonymous
      entry("22000-23000", "rw-p", "[heap]", 4, 4) + entry("23000-24000", "r--p", "[vvar]", 4, 0) +
      entry("24000-25000", "r-xp", "[vdso]", 4, 0) + entry("25000-26000", "rw-p", "[stack]", 4, 4) +
      entry("40000-41000", "r--p", "/var/lib/atendd/blob", 4, 0) +        // a file mapped outside the objects
      entry("28000-31000", "r-xp", "/usr/lib/y.so", 4, 0) +               // runs past the object's end
      "29000-2a000 r-xp 00000000 fd:01 99 /usr/lib/z.so\nRss: 4 kB\n");   // no Anonymous: line
  const auto chosen = releasable_mappings(smaps, loaded);
  REQUIRE(chosen.size() == 3);
  CHECK(chosen[0].start == 0x1000);
  CHECK(chosen[0].end == 0x2000);
  CHECK(chosen[0].path == "/usr/sbin/atendd");
  CHECK(chosen[0].resident_kb == 4);
  CHECK(chosen[1].start == 0x2000);
  CHECK(chosen[1].end == 0x4000);
  CHECK(chosen[1].resident_kb == 8);
  CHECK(chosen[2].start == 0x20000);
  CHECK(chosen[2].path == "/usr/lib/libz.so.1 (deleted)");
}

TEST_CASE("giving back this process's library pages lowers its file-backed RSS and every library still works",
          "[system][idle]") {
  const std::string answers = library_answers();
  REQUIRE(answers.find("ATENDD-42") == 0);
  const long file_before = status_kb(::getpid(), "RssFile");
  const PageRelease release = release_idle_pages();
  const long file_after = status_kb(::getpid(), "RssFile");
  INFO("RssFile " << file_before << " -> " << file_after << " KiB; " << release.mappings << " mappings, "
                  << release.resident_kb << " KiB given back, " << release.refused << " refused (errno "
                  << release.first_error << ")");
  CHECK(release.refused == 0);
  CHECK(release.mappings > 0);
  CHECK(release.resident_kb > 0);
  CHECK(file_after < file_before);
  // Nothing this process wrote was lost: the relocated tables and the code fault back in as they were.
  CHECK(library_answers() == answers);
}

TEST_CASE("where a seccomp filter refuses madvise the release is counted as refused and changes nothing",
          "[system][idle]") {
  const std::string answers = library_answers();
  // In a child: a filter answering madvise with EPERM (as SystemCallErrorNumber=EPERM would),
  // then the release; the exit code says what it saw.
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    sock_filter program[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_madvise, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog filter{static_cast<unsigned short>(sizeof program / sizeof program[0]), program};
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &filter) != 0)
      ::_exit(10);
    const PageRelease release = release_idle_pages();
    if (release.mappings != 0) ::_exit(11);
    if (release.refused == 0) ::_exit(12);
    if (release.first_error != EPERM) ::_exit(13);
    ::_exit(library_answers() == answers ? 0 : 14);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);  // 10: no filter; 11: given back anyway; 12, 13: not seen; 14: libraries broken
}

TEST_CASE("the daemon quiet for a while gives its library pages back and still reloads and stops cleanly",
          "[system][idle]") {
  TempDir dir;
  const std::string config = dir.path() + "/atendd.ini";
  write_file(config, minimal_daemon_config(dir.path(), "log_level = debug\n"));
  // Quiet spell shortened from 30 s to 8 s (test-only override): long enough for this test to read
  // the RSS of the started daemon first on a loaded machine.
  LoggedDaemon daemon({"--config", config}, dir.path() + "/atendd.log", {"ATENDD_TEST_QUIET_SECONDS=8"});
  REQUIRE(daemon.wait_log("running on", 30));
  const long started = status_kb(daemon.pid(), "RssFile");
  INFO(daemon.log());
  REQUIRE(started > 0);
  // Given back 8 s into the quiet spell: wait for the file-backed RSS to fall by a quarter or more
  // (it falls by three quarters in a Release build), for at most 30 s on a loaded machine.
  long now = started;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (now * 4 > started * 3 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    now = status_kb(daemon.pid(), "RssFile");
  }
  INFO("RssFile " << started << " KiB at start, " << now << " KiB after the quiet spell");
  CHECK(now * 4 <= started * 3);
  CHECK(daemon.wait_log("idle memory: gave back", 10));  // logged just after the release
  daemon.signal(SIGHUP);
  CHECK(daemon.wait_log("configuration reloaded", 30));
  daemon.signal(SIGTERM);
  CHECK(daemon.wait_exit(15) == 0);
  CHECK(lines_with(daemon.log(), "idle memory: the kernel refused") == "");
}

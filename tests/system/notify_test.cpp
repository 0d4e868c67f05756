// notify_test.cpp — what systemd sees of the daemon: an AF_UNIX datagram socket standing in for
// systemd (NOTIFY_SOCKET, WATCHDOG_USEC) receives READY=1, STATUS=, WATCHDOG=1 at half the
// interval, RELOADING=1 then READY=1 around a SIGHUP, and STOPPING=1 on SIGTERM; and the log lines
// carry "<N>" syslog priorities and no time when JOURNAL_STREAM names the daemon's stderr.
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <regex>
#include <sstream>
#include <thread>

#include <catch2/catch.hpp>

#include "support/processes.h"
#include "system/system_support.h"

using namespace atendd::test;

namespace {

// Collects every datagram sent to its socket, in order.
class NotifyListener {
 public:
  explicit NotifyListener(const std::string& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
      throw std::runtime_error("cannot bind " + path);
    timeval tv{0, 100000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    thread_ = std::thread([this] {
      char buffer[4096];
      while (!stop_) {
        const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
        if (n <= 0) continue;
        std::lock_guard<std::mutex> lock(mutex_);
        messages_.emplace_back(buffer, static_cast<size_t>(n));
      }
    });
  }
  ~NotifyListener() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  std::vector<std::string> messages() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return messages_;
  }
  // Index of the first message at or after `from` containing `text`, waiting up to `seconds`.
  std::optional<size_t> wait_for(const std::string& text, double seconds, size_t from = 0) const {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<int>(seconds * 1000));
    for (;;) {
      const auto all = messages();
      for (size_t i = from; i < all.size(); ++i)
        if (all[i].find(text) != std::string::npos) return i;
      if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  std::string dump() const {
    std::string out;
    for (const auto& m : messages()) out += "[" + m + "]\n";
    return out;
  }

 private:
  std::string path_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mutex_;
  std::vector<std::string> messages_;
};

}  // namespace

TEST_CASE("the daemon tells a stand-in for systemd READY RELOADING STOPPING and WATCHDOG", "[system][notify]") {
  TempDir dir;
  const std::string config = dir.path() + "/atendd.ini";
  write_file(config, minimal_daemon_config(dir.path()));
  NotifyListener systemd(dir.path() + "/notify.sock");
  LoggedDaemon daemon({"--config", config}, dir.path() + "/atendd.log",
                      {"NOTIFY_SOCKET=" + dir.path() + "/notify.sock", "WATCHDOG_USEC=400000"});
  const auto ready = systemd.wait_for("READY=1", 30);
  INFO(systemd.dump() << daemon.log());
  REQUIRE(ready);
  CHECK(systemd.messages()[*ready].find("STATUS=running: 0 mailboxes, 1 types") != std::string::npos);
  CHECK(systemd.wait_for("STATUS=starting", 0));

  // Pings at half of WATCHDOG_USEC (0.2 s): several in a second.
  std::this_thread::sleep_for(std::chrono::seconds(1));
  int pings = 0;
  for (const auto& m : systemd.messages()) pings += m == "WATCHDOG=1";
  CHECK(pings >= 3);
  CHECK(pings <= 8);

  const size_t before_reload = systemd.messages().size();
  daemon.signal(SIGHUP);
  const auto reloading = systemd.wait_for("RELOADING=1", 10, before_reload);
  REQUIRE(reloading);
  const auto ready_again = systemd.wait_for("READY=1", 10, *reloading + 1);
  REQUIRE(ready_again);
  CHECK(systemd.messages()[*ready_again].find("STATUS=running") != std::string::npos);

  const size_t before_stop = systemd.messages().size();
  daemon.signal(SIGTERM);
  CHECK(systemd.wait_for("STOPPING=1", 10, before_stop));
  CHECK(daemon.wait_exit(15) == 0);
}

TEST_CASE("under journald the log lines carry syslog priorities and no time", "[system][logging]") {
  TempDir dir;
  const std::string config = dir.path() + "/atendd.ini";
  const std::string log = dir.path() + "/atendd.log";
  write_file(config, minimal_daemon_config(dir.path()));
  write_file(log, "");
  struct stat st {};
  REQUIRE(::stat(log.c_str(), &st) == 0);
  const std::string stream = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
  LoggedDaemon daemon({"--config", config}, log, {"JOURNAL_STREAM=" + stream});
  REQUIRE(daemon.wait_log("running on", 30));
  write_file(config, minimal_daemon_config(dir.path()) + "colour = blue\n");
  daemon.signal(SIGHUP);
  REQUIRE(daemon.wait_log("still running on the previous configuration", 30));
  daemon.signal(SIGTERM);
  CHECK(daemon.wait_exit(15) == 0);

  const std::string text = daemon.log();
  INFO(text);
  std::istringstream in(text);
  std::string line;
  int lines = 0;
  const std::regex journal_line(R"(^<[0-7]>[A-Za-z_.]+: .+$)");
  while (std::getline(in, line)) {
    if (line.rfind("==", 0) == 0) continue;  // sanitizer reports are not ours
    ++lines;
    INFO(line);
    CHECK(std::regex_match(line, journal_line));
  }
  CHECK(lines >= 4);
  CHECK(lines_with(text, "<6>atendd: atendd ") != "");
  CHECK(lines_with(text, "<3>atendd: reload refused: " + config + ":9: type.geral.colour: ") != "");
  CHECK(lines_with(text, "<6>atendd: received SIGTERM") != "");
}

TEST_CASE("outside journald the log lines carry the UTC time and the level", "[system][logging]") {
  TempDir dir;
  const std::string config = dir.path() + "/atendd.ini";
  write_file(config, minimal_daemon_config(dir.path()));
  LoggedDaemon daemon({"--config", config}, dir.path() + "/atendd.log", {"JOURNAL_STREAM=1:1"});
  REQUIRE(daemon.wait_log("running on", 30));
  daemon.signal(SIGTERM);
  CHECK(daemon.wait_exit(15) == 0);
  const std::string text = daemon.log();
  INFO(text);
  CHECK(std::regex_search(text, std::regex(R"((^|\n)\d{4}-\d\d-\d\d \d\d:\d\d:\d\d Information atendd: atendd )")));
  CHECK(text.find("<6>") == std::string::npos);
}

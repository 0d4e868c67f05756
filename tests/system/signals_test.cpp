// signals_test.cpp — the daemon's lifecycle under signals, against a real Dovecot and SMTP sink:
// SIGHUP with a valid change adds a mailbox and a type and recompiles the templates without
// dropping mail in flight; SIGHUP with an invalid file keeps the old configuration running and
// logs every problem with file and line; SIGTERM while mail flows exits 0 within 10 s, and after
// a restart every message has exactly one ticket and one opening e-mail; a stop that hangs on a
// silent SMTP server is cut at 10 s with exit 70. Signals sent while the daemon is still starting
// (from the moment its pidfile exists or it opens its configuration) reload or stop it as
// documented, never kill it; `atendd deliver` stopped by a signal exits 75 (the MTA tries again).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <stdexcept>
#include <thread>

#include <catch2/catch.hpp>

#include "storage/sqlite_store.h"
#include "support/dovecot.h"
#include "system/system_support.h"

using namespace atendd;
using namespace atendd::test;
namespace fs = std::filesystem;

namespace {

std::string customer_message(int i, const std::string& to = "suporte@atendd.test") {
  return "From: Cliente " + std::to_string(i) + " <c" + std::to_string(i) + "@cliente.test>\r\n"
         "To: " + to + "\r\n"
         "Subject: Pedido numero " + std::to_string(i) + "\r\n"
         "Message-ID: <pedido-" + std::to_string(i) + "@cliente.test>\r\n"
         "Date: Tue, 24 Nov 2026 10:00:00 +0000\r\n"
         "\r\n"
         "Meu pedido " + std::to_string(i) + " nao chegou.\r\n";
}

struct Setup {
  TempDir dir;
  std::string state_dir = dir.path() + "/state";
  std::string config = dir.path() + "/atendd.ini";
  std::string log = dir.path() + "/atendd.log";

  int admin_port = free_port();  // several daemons may run at once: never the default 8025
  std::string server_and_smtp(int smtp_port, const std::string& more_server_keys = "") const {
    return "[server]\n" + more_server_keys +
           "admin_listen = 127.0.0.1:" + std::to_string(admin_port) + "\n"
           "name = Suporte Teste\n"
           "address = suporte@atendd.test\n"
           "reply_address = suporte+{token}@atendd.test\n"
           "state_dir = " + state_dir + "\n"
           "locale = pt_BR\n"
           "auto_reply_limit = 0\n"
           "[smtp]\n"
           "host = 127.0.0.1\n"
           "port = " + std::to_string(smtp_port) + "\n"
           "timeout_seconds = 5\n"
           "retry_initial_seconds = 1\n"
           "retry_max_seconds = 1\n";
  }
  static std::string mailbox(const std::string& name, const Dovecot& dovecot, const std::string& user) {
    return "[mailbox." + name + "]\n"
           "url = " + dovecot.imap_url() + "\n"
           "tls = none\n"
           "user = " + user + "\n"
           "password_file = imap.pass\n"
           "poll_seconds = 1\n";
  }
  Setup() { write_file(dir.path() + "/imap.pass", "secret\n"); }
};

// Opening e-mails per customer address among the sink's mails.
std::map<std::string, int> openings(const std::vector<ReceivedMail>& mails) {
  std::map<std::string, int> count;
  for (const auto& m : mails)
    for (const auto& r : m.rcpt_tos) ++count[r];
  return count;
}

// Sees the next time anyone opens `path` (inotify IN_OPEN): the moment a starting `atendd` reads
// its configuration, before anything else of its own start-up.
class OpenWatch {
 public:
  explicit OpenWatch(const std::string& path) : fd_(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK)) {
    if (fd_ < 0 || ::inotify_add_watch(fd_, path.c_str(), IN_OPEN) < 0)
      throw std::runtime_error("inotify on " + path + " failed");
  }
  ~OpenWatch() { ::close(fd_); }
  OpenWatch(const OpenWatch&) = delete;
  OpenWatch& operator=(const OpenWatch&) = delete;
  bool wait(double seconds) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(seconds * 1000)) <= 0) return false;
    char events[4096];
    while (::read(fd_, events, sizeof events) > 0) {
    }
    return true;
  }

 private:
  int fd_;
};

// Polls for `path` to exist, without sleeping: a script's `kill -HUP $(cat PIDFILE)` as early as it can.
bool wait_for_file(const std::string& path, double seconds) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<int>(seconds * 1000));
  while (std::chrono::steady_clock::now() < until)
    if (::access(path.c_str(), F_OK) == 0) return true;
  return false;
}

// `atendd ARGS…` with its standard input a pipe the test holds open (so `deliver` waits on it),
// stderr to `log`. Reports how it ended: the exit code, or the signal that killed it.
class PipedAtendd {
 public:
  PipedAtendd(const std::vector<std::string>& args, const std::string& log) {
    int in[2];
    if (::pipe2(in, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    std::vector<std::string> argv{ATENDD_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> raw;
    for (const auto& a : argv) raw.push_back(const_cast<char*>(a.c_str()));
    raw.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      ::dup2(in[0], 0);
      ::dup2(log_fd, 1);
      ::dup2(log_fd, 2);
      ::execv(raw[0], raw.data());
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(log_fd);
    stdin_ = in[1];
  }
  ~PipedAtendd() {
    if (stdin_ >= 0) ::close(stdin_);
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  PipedAtendd(const PipedAtendd&) = delete;
  PipedAtendd& operator=(const PipedAtendd&) = delete;
  void signal(int sig) const { ::kill(pid_, sig); }
  // "exit N" or "killed by signal N", or "" when still running after `seconds`.
  std::string wait_end(double seconds) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<int>(seconds * 1000));
    for (;;) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? "exit " + std::to_string(WEXITSTATUS(status))
                                 : "killed by signal " + std::to_string(WTERMSIG(status));
      }
      if (std::chrono::steady_clock::now() > until) return "";
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

 private:
  pid_t pid_ = -1;
  int stdin_ = -1;
};

}  // namespace

TEST_CASE("SIGHUP with a valid change adds a mailbox and a type and recompiles templates without dropping mail in flight",
          "[system][signals][dovecot]") {
  Dovecot dovecot({"support", "sales"});
  Setup s;
  SmtpSink sink(s.dir.path() + "/sink");
  const std::string base = s.server_and_smtp(sink.port()) + Setup::mailbox("suporte", dovecot, "support") +
                           "[type.geral]\nname = Geral\n";
  write_file(s.config, base);
  constexpr int kMessages = 25;
  std::vector<std::string> raws;
  for (int i = 1; i <= kMessages; ++i) raws.push_back(customer_message(i));
  dovecot.add_unseen_many("support", raws);

  LoggedDaemon daemon({"--config", s.config}, s.log);
  REQUIRE(sink.wait_for(1, 30).size() >= 1);  // intake is under way

  // The new configuration: a second mailbox with its own type, and an opening template override.
  const std::string templates = s.dir.path() + "/templates";
  fs::create_directories(templates + "/pt_BR");
  write_file(templates + "/pt_BR/opening.mustache",
             "Subject: RECARREGADO {{ticket.subject}}\n\nProtocolo {{ticket.protocol}}.\n");
  write_file(s.config, s.server_and_smtp(sink.port(), "templates_dir = " + templates + "\n") +
                           Setup::mailbox("suporte", dovecot, "support") + Setup::mailbox("vendas", dovecot, "sales") +
                           "[type.geral]\nname = Geral\n"
                           "[type.vendas]\nname = Vendas\nmatch_mailbox = vendas\n");
  daemon.signal(SIGHUP);
  if (!daemon.wait_log("configuration reloaded", 30)) FAIL(daemon.log());
  const std::string log = daemon.log();
  INFO(log);
  CHECK(log.find("mailboxes +vendas") != std::string::npos);
  CHECK(log.find("types +vendas") != std::string::npos);

  dovecot.add_unseen("sales", customer_message(100, "vendas@atendd.test"));
  const auto mails = sink.wait_for(kMessages + 1, 60);
  REQUIRE(mails.size() == static_cast<size_t>(kMessages + 1));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // nothing more may come
  CHECK(sink.mails().size() == static_cast<size_t>(kMessages + 1));
  const auto count = openings(sink.mails());
  for (int i = 1; i <= kMessages; ++i) {
    INFO("customer " << i);
    CHECK(count.count("c" + std::to_string(i) + "@cliente.test") == 1);
    CHECK(count.at("c" + std::to_string(i) + "@cliente.test") == 1);
  }
  const ReceivedMail* sales = nullptr;
  for (const auto& m : mails)
    if (m.rcpt_tos.front() == "c100@cliente.test") sales = &m;
  REQUIRE(sales);
  CHECK(sales->header("Subject").find("RECARREGADO") != std::string::npos);
  CHECK(daemon.wait_exit(0) == std::nullopt);  // still running
  daemon.signal(SIGTERM);
  CHECK(daemon.wait_exit(15) == 0);

  SqliteStore store(s.state_dir + "/atendd.db");
  const auto tickets = store.tickets(std::nullopt, 100);
  CHECK(tickets.size() == static_cast<size_t>(kMessages + 1));
  int vendas = 0;
  for (const auto& t : tickets)
    if (t.mailbox == "vendas") {
      ++vendas;
      CHECK(t.type_id == "vendas");
    }
  CHECK(vendas == 1);
  CHECK(store.journal(100).size() == static_cast<size_t>(kMessages + 1));
  for (const auto& entry : dovecot.list("support")) CHECK(entry.seen());
}

TEST_CASE("SIGHUP with an invalid configuration keeps the old one running and logs every problem with file and line",
          "[system][signals][dovecot]") {
  Dovecot dovecot({"support"});
  Setup s;
  SmtpSink sink(s.dir.path() + "/sink");
  const std::string good = s.server_and_smtp(sink.port()) + Setup::mailbox("suporte", dovecot, "support") +
                           "[type.geral]\nname = Geral\n";
  write_file(s.config, good);
  LoggedDaemon daemon({"--config", s.config}, s.log);
  REQUIRE(daemon.wait_log("running on", 30));

  // Three problems on known lines: an unknown key, a bad value, a reference to a missing agent.
  const std::string bad_tail = "[type.vendas]\n"
                               "name = Vendas\n"
                               "colour = blue\n"
                               "priority = urgentissimo\n"
                               "assign = agent:ninguem\n";
  write_file(s.config, good + bad_tail);
  const int first = static_cast<int>(std::count(good.begin(), good.end(), '\n')) + 1;  // [type.vendas]
  daemon.signal(SIGHUP);
  REQUIRE(daemon.wait_log("still running on the previous configuration", 30));
  const std::string log = daemon.log();
  INFO(log);
  for (int line : {first + 2, first + 3, first + 4}) {
    const std::string where = s.config + ":" + std::to_string(line) + ": ";
    INFO(where);
    CHECK(lines_with(log, "reload refused: " + where) != "");
  }
  CHECK(log.find("3 problem(s)") != std::string::npos);

  // The old configuration still works: a new message becomes a ticket with its opening mail.
  dovecot.add_unseen("support", customer_message(7));
  const auto mails = sink.wait_for(1, 30);
  REQUIRE(mails.size() == 1);
  CHECK(mails.front().rcpt_tos.front() == "c7@cliente.test");
  daemon.signal(SIGTERM);
  CHECK(daemon.wait_exit(15) == 0);
}

TEST_CASE("SIGTERM while mail is flowing exits 0 within 10 seconds and nothing is lost or sent twice",
          "[system][signals][dovecot]") {
  Dovecot dovecot({"support"});
  Setup s;
  SmtpSink sink(s.dir.path() + "/sink");
  write_file(s.config, s.server_and_smtp(sink.port()) + Setup::mailbox("suporte", dovecot, "support") +
                           "[type.geral]\nname = Geral\n");
  constexpr int kMessages = 40;
  std::vector<std::string> raws;
  for (int i = 1; i <= kMessages; ++i) raws.push_back(customer_message(i));
  dovecot.add_unseen_many("support", raws);
  {
    LoggedDaemon daemon({"--config", s.config}, s.log);
    REQUIRE(sink.wait_for(2, 30).size() >= 2);
    const auto asked = std::chrono::steady_clock::now();
    daemon.signal(SIGTERM);
    const auto code = daemon.wait_exit(12);
    const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - asked).count();
    INFO("stop took " << took << " s\n" << daemon.log());
    REQUIRE(code.has_value());
    CHECK(*code == 0);
    CHECK(took < 10.0);
    CHECK(daemon.log().find("received SIGTERM") != std::string::npos);
  }
  const size_t after_stop = sink.mails().size();
  INFO("mails sent before the stop: " << after_stop);
  {
    LoggedDaemon daemon({"--config", s.config}, s.log);
    const auto mails = sink.wait_for(kMessages, 90);
    CHECK(mails.size() == static_cast<size_t>(kMessages));
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    daemon.signal(SIGTERM);
    CHECK(daemon.wait_exit(15) == 0);
  }
  const auto all = sink.mails();
  CHECK(all.size() == static_cast<size_t>(kMessages));
  std::set<std::string> ids;
  for (const auto& m : all) ids.insert(m.header("Message-ID"));
  CHECK(ids.size() == all.size());
  const auto count = openings(all);
  for (int i = 1; i <= kMessages; ++i) {
    const std::string who = "c" + std::to_string(i) + "@cliente.test";
    INFO(who);
    CHECK((count.count(who) ? count.at(who) : 0) == 1);
  }
  SqliteStore store(s.state_dir + "/atendd.db");
  CHECK(store.tickets(std::nullopt, 100).size() == static_cast<size_t>(kMessages));
  CHECK(store.journal(100).size() == static_cast<size_t>(kMessages));
}

TEST_CASE("a stop that hangs on a silent SMTP server ends after 10 seconds with exit 70 and says why",
          "[system][signals]") {
  // A server that takes the TCP connection but never says a word: the outbox attempt hangs.
  const int tarpit = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(tarpit, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(tarpit, 16) == 0);
  socklen_t length = sizeof addr;
  ::getsockname(tarpit, reinterpret_cast<sockaddr*>(&addr), &length);
  const int tarpit_port = ntohs(addr.sin_port);

  Setup s;
  const std::string types = "[type.geral]\nname = Geral\n";
  // Queue an opening mail with `deliver` while nothing listens (refused: retry in 1 s) ...
  write_file(s.config, s.server_and_smtp(free_port()) + types);
  const auto delivered = run_atendd({"--config", s.config, "deliver", "--mailbox", "suporte"}, customer_message(1));
  REQUIRE(delivered.exit_code == 0);
  // ... then let the daemon try it against the silent server, with a long SMTP timeout.
  std::string config = s.server_and_smtp(tarpit_port) + types;
  config.replace(config.find("timeout_seconds = 5"), 19, "timeout_seconds = 60");
  write_file(s.config, config);
  LoggedDaemon daemon({"--config", s.config}, s.log);
  REQUIRE(daemon.wait_log("running on", 30));
  std::this_thread::sleep_for(std::chrono::seconds(3));  // the retry is due and under way
  const auto asked = std::chrono::steady_clock::now();
  daemon.signal(SIGTERM);
  const auto code = daemon.wait_exit(20);
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - asked).count();
  INFO("stop took " << took << " s\n" << daemon.log());
  REQUIRE(code.has_value());
  CHECK(*code == 70);
  CHECK(took >= 9.5);
  CHECK(took < 12.0);
  CHECK(daemon.log().find("stop: still busy after 10 s") != std::string::npos);
  ::close(tarpit);
}

TEST_CASE("SIGHUP sent again and again while the daemon starts reloads it and never kills it",
          "[system][signals]") {
  Setup s;
  write_file(s.config, s.server_and_smtp(free_port()) + "[type.geral]\nname = Geral\n");
  const std::string pidfile = s.dir.path() + "/atendd.pid";
  constexpr int kRounds = 10;
  for (int round = 1; round <= kRounds; ++round) {
    // Half the rounds start as soon as the pidfile exists (a logrotate script), half as soon as
    // the daemon opens its configuration (no pidfile).
    const bool by_pidfile = round % 2 == 1;
    ::unlink(pidfile.c_str());
    write_file(s.log, "");
    OpenWatch config_opened(s.config);
    std::vector<std::string> args{"--config", s.config};
    if (by_pidfile) args.push_back("--pidfile=" + pidfile);
    LoggedDaemon daemon(args, s.log);
    INFO("round " << round << (by_pidfile ? ": from the pidfile on" : ": from the configuration's opening on"));
    REQUIRE((by_pidfile ? wait_for_file(pidfile, 30) : config_opened.wait(30)));
    int sent = 0;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (daemon.log().find("running on") == std::string::npos && std::chrono::steady_clock::now() < until &&
           !daemon.wait_exit(0).has_value()) {
      daemon.signal(SIGHUP);
      ++sent;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    for (int more = 0; more < 3; ++more, ++sent) daemon.signal(SIGHUP);
    INFO(sent << " SIGHUPs sent\n" << daemon.log());
    const auto ended = daemon.wait_exit(0.5);
    INFO("ended: " << (ended ? "exit " + std::to_string(*ended) + " (-1: killed by a signal)" : "no, still running"));
    REQUIRE_FALSE(ended.has_value());
    CHECK(daemon.wait_log("received SIGHUP: reloading", 30));
    daemon.signal(SIGTERM);
    CHECK(daemon.wait_exit(15) == 0);
    if (by_pidfile) CHECK(::access(pidfile.c_str(), F_OK) != 0);  // removed by the clean stop
  }
}

TEST_CASE("SIGTERM or SIGINT sent while the daemon starts stops it cleanly with exit 0", "[system][signals]") {
  Setup s;
  write_file(s.config, s.server_and_smtp(free_port()) + "[type.geral]\nname = Geral\n");
  for (int sig : {SIGTERM, SIGINT, SIGTERM, SIGINT}) {
    write_file(s.log, "");
    OpenWatch config_opened(s.config);
    LoggedDaemon daemon({"--config", s.config}, s.log);
    REQUIRE(config_opened.wait(30));
    daemon.signal(sig);
    const auto code = daemon.wait_exit(30);
    const std::string name = sig == SIGTERM ? "SIGTERM" : "SIGINT";
    INFO(name << "\n" << daemon.log());
    REQUIRE(code.has_value());
    CHECK(*code == 0);  // -1: killed by the signal
    CHECK(daemon.log().find("received " + name + ": stopping") != std::string::npos);
  }
}

TEST_CASE("atendd deliver stopped by SIGTERM SIGINT or SIGHUP exits 75 so that the MTA tries again and stores nothing",
          "[system][signals]") {
  Setup s;
  write_file(s.config, s.server_and_smtp(free_port()) + "[type.geral]\nname = Geral\n");
  const std::string pidfile = s.dir.path() + "/deliver.pid";
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) {
    // While it waits for the rest of the message on its standard input.
    OpenWatch config_opened(s.config);
    PipedAtendd deliver({"--config", s.config, "deliver", "--mailbox", "suporte"}, s.log);
    REQUIRE(config_opened.wait(30));
    deliver.signal(sig);
    INFO("signal " << sig << " once waiting on its input\n" << read_file(s.log));
    CHECK(deliver.wait_end(30) == "exit 75");
  }
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGTERM, SIGINT, SIGHUP, SIGTERM, SIGINT, SIGHUP, SIGHUP}) {
    // Still starting (POCO writes --pidfile while it reads the options): the signal is pending
    // when deliver sets up its handling, and meets the handler.
    ::unlink(pidfile.c_str());
    PipedAtendd deliver({"--pidfile=" + pidfile, "--config", s.config, "deliver", "--mailbox", "suporte"}, s.log);
    REQUIRE(wait_for_file(pidfile, 30));
    deliver.signal(sig);
    INFO("signal " << sig << " from the pidfile on\n" << read_file(s.log));
    CHECK(deliver.wait_end(30) == "exit 75");
  }
  if (fs::exists(s.state_dir + "/atendd.db")) {
    SqliteStore store(s.state_dir + "/atendd.db");
    CHECK(store.journal(10).empty());
  }
}

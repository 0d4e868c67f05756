// main.cpp — the `atendd` program: options, subcommands, signals and wiring; nothing else.
//
//   atendd [--config FILE]                      run the daemon (outbox sender; SIGHUP reloads)
//   atendd --check-config [--config FILE]       validate and print every problem (exit 1 on any)
//   atendd deliver --mailbox NAME < message     one message from an MTA pipe (exit 0/65/75)
//   atendd parse --json FILE                    the parser's reading of a message (DESIGN.md)
//   atendd ticket list [--status S] | ticket show PROTOCOL [--why [--json]]
//   atendd quarantine list | show ID | retry ID|--all | drop ID --reason TEXT   [--json]
//   atendd route --explain FILE [--mailbox NAME] [--json]
//   atendd import --mailbox NAME FILE.mbox|MAILDIR [--since DATE]   old mail into tickets, nothing sent
//   atendd agent forward-address NAME           where agent NAME forwards customers' mail to open tickets
//   atendd --version | --help
#include <signal.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <iostream>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include <Poco/AutoPtr.h>
#include <Poco/Channel.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/Logger.h>
#include <Poco/Message.h>
#include <Poco/Util/HelpFormatter.h>
#include <Poco/Util/Option.h>
#include <Poco/Util/OptionSet.h>
#include <Poco/Util/ServerApplication.h>

#include "daemon/admin/quarantine_command.h"
#include "daemon/admin/quarantine_report.h"
#include "daemon/admin/ticket_report.h"
#include "daemon/config/config.h"
#include "daemon/runtime.h"
#include "daemon/service.h"
#include "daemon/pipeline/forward_to_open.h"
#include "daemon/sources/archive_import.h"
#include "daemon/sources/deliver_command.h"
#include "daemon/tickets/engine.h"  // random_hex
#include "daemon/tickets/reply_token.h"
#include "parsers/json_output.h"
#include "parsers/mime_reader.h"

#ifndef ATENDD_VERSION
#define ATENDD_VERSION "0.0.0"
#endif

namespace atendd {

namespace {

using Poco::Util::Application;
using Poco::Util::Option;
using Poco::Util::OptionSet;

constexpr const char* kDefaultConfig = "/etc/atendd/atendd.ini";

// --- logging (systemd issue): one line per event on stderr. Under journald (JOURNAL_STREAM names
// our stderr) each line starts with its syslog priority "<N>" and carries no time, which journald
// adds; elsewhere "YYYY-MM-DD HH:MM:SS Level source: text" in UTC. Line breaks inside a message
// become spaces, so one event is always one line.
int syslog_priority(int poco_priority) {
  switch (poco_priority) {
    case Poco::Message::PRIO_FATAL: return 2;     // LOG_CRIT
    case Poco::Message::PRIO_CRITICAL: return 2;  // LOG_CRIT
    case Poco::Message::PRIO_ERROR: return 3;     // LOG_ERR
    case Poco::Message::PRIO_WARNING: return 4;   // LOG_WARNING
    case Poco::Message::PRIO_NOTICE: return 5;    // LOG_NOTICE
    case Poco::Message::PRIO_INFORMATION: return 6;  // LOG_INFO
    default: return 7;                            // LOG_DEBUG (debug, trace)
  }
}

const char* priority_label(int poco_priority) {
  static const char* const names[] = {"", "Fatal", "Critical", "Error", "Warning", "Notice", "Information",
                                      "Debug", "Trace"};
  return poco_priority >= 1 && poco_priority <= 8 ? names[poco_priority] : "Information";
}

// True when stderr is the stream journald gave us (systemd sets JOURNAL_STREAM=DEV:INODE).
bool stderr_is_journal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (!stream || !*stream) return false;
  struct stat st {};
  if (::fstat(STDERR_FILENO, &st) != 0) return false;
  unsigned long long dev = 0, ino = 0;
  if (std::sscanf(stream, "%llu:%llu", &dev, &ino) != 2) return false;
  return dev == static_cast<unsigned long long>(st.st_dev) && ino == static_cast<unsigned long long>(st.st_ino);
}

class LineChannel : public Poco::Channel {
 public:
  explicit LineChannel(bool journal) : journal_(journal) {}
  void log(const Poco::Message& msg) override {
    std::string line;
    if (journal_) {
      line = "<" + std::to_string(syslog_priority(msg.getPriority())) + ">";
    } else {
      line = Poco::DateTimeFormatter::format(msg.getTime(), "%Y-%m-%d %H:%M:%S ") + priority_label(msg.getPriority()) +
             " ";
    }
    line += msg.getSource() + ": ";
    for (char c : msg.getText()) line += (c == '\n' || c == '\r') ? ' ' : c;
    line += '\n';
    std::lock_guard<std::mutex> lock(mutex_);
    for (std::size_t done = 0; done < line.size();) {  // one write per line: lines never interleave
      const ssize_t n = ::write(STDERR_FILENO, line.data() + done, line.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      done += static_cast<std::size_t>(n);
    }
  }

 private:
  bool journal_;
  std::mutex mutex_;
};

void setup_logging(const std::string& level) {
  static const bool journal = stderr_is_journal();
  Poco::AutoPtr<LineChannel> channel(new LineChannel(journal));
  // "" is the prefix of every logger name: the root and loggers made before this call follow.
  Poco::Logger::setChannel("", channel);
  Poco::Logger::setLevel("", Poco::Logger::parseLevel(level));
}
// --- end of logging

// --- signals from the first instruction of main() on ----------------------------------------
// The daemon answers SIGHUP (reload) and SIGTERM, SIGINT, SIGQUIT (clean stop) in its sigtimedwait
// loop (run_daemon). main() blocks them before anything else: before POCO reads the options (and
// writes --pidfile, which scripts read to send SIGHUP), before the configuration is read and before
// any thread exists, so every thread inherits the mask and a signal sent while the daemon is still
// starting waits for that loop instead of killing the process by its default action. (Between exec
// and main() the loader runs: nothing of ours can act there.)
sigset_t daemon_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGHUP, SIGINT, SIGTERM, SIGQUIT}) sigaddset(&signals, s);
  return signals;
}

sigset_t inherited_signal_mask;  // as the process was started; the other commands get it back

void block_daemon_signals() {
  const sigset_t signals = daemon_signals();
  pthread_sigmask(SIG_BLOCK, &signals, &inherited_signal_mask);
}

// The commands other than the daemon and deliver: the mask they were started with, so the default
// actions apply (an interrupted `ticket list`, `import` or `quarantine retry` ends at once; each
// message is one transaction, so nothing is left half-stored, and import resumes where it was).
void restore_inherited_signals() { pthread_sigmask(SIG_SETMASK, &inherited_signal_mask, nullptr); }

extern "C" void deliver_interrupted(int) {
  static const char text[] =
      "atendd deliver: stopped by a signal: exit 75, the MTA tries again (a message already stored is recognised)\n";
  const ssize_t written = ::write(STDERR_FILENO, text, sizeof text - 1);
  (void)written;
  ::_exit(kExitTryLater);  // async-signal-safe; the open transaction is rolled back by the store
}

// `deliver`: SIGHUP, SIGINT or SIGTERM (an MTA's timeout, an operator) end it with exit 75, which
// every sendmail-style MTA takes as "try again later"; dying by the signal itself is taken by some
// (Exim, unless freeze_signal) as a permanent failure that bounces the customer's mail.
void exit_try_later_on_signals() {
  struct sigaction action {};
  action.sa_handler = deliver_interrupted;
  sigemptyset(&action.sa_mask);
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGHUP, SIGINT, SIGTERM}) {
    sigaction(s, &action, nullptr);  // before any is unblocked: one already pending meets the handler
    sigaddset(&signals, s);
  }
  restore_inherited_signals();
  pthread_sigmask(SIG_UNBLOCK, &signals, nullptr);  // one that came meanwhile is acted on here
}
// --- end of signals from the first instruction on

class AtenddApp : public Poco::Util::ServerApplication {
 protected:
  void defineOptions(OptionSet& options) override {
    ServerApplication::defineOptions(options);
    options.addOption(Option("config", "c", "configuration file (default " + std::string(kDefaultConfig) + ")")
                          .required(false).repeatable(false).argument("FILE"));
    options.addOption(Option("check-config", "", "validate the configuration, print every problem, exit 1 on any"));
    options.addOption(Option("version", "v", "print the version"));
    options.addOption(Option("help", "h", "print this help"));
    options.addOption(Option("mailbox", "m", "deliver: the mailbox the message arrived at").argument("NAME"));
    options.addOption(Option("json", "j", "parse: print JSON (the only format)"));
    options.addOption(Option("status", "s", "ticket list: only tickets in this status").argument("STATUS"));
    options.addOption(Option("limit", "n", "ticket list, quarantine list: at most this many (default 100)").argument("N"));
    options.addOption(Option("all", "", "quarantine retry: every quarantined message"));
    options.addOption(Option("reason", "", "quarantine drop: why (kept in the journal)").argument("TEXT"));
    options.addOption(Option("why", "", "ticket show: why the ticket is here and why it is its responsible's"));
    options.addOption(Option("explain", "", "route: explain what the pipeline would decide for FILE"));
    options.addOption(Option("since", "", "import: only messages dated on or after DATE (YYYY-MM-DD)").argument("DATE"));
  }

  void handleOption(const std::string& name, const std::string& value) override {
    ServerApplication::handleOption(name, value);
    if (name == "config") config_path_ = value;
    else if (name == "check-config") check_config_ = true;
    else if (name == "version") version_ = true;
    else if (name == "help") help_ = true;
    else if (name == "mailbox") mailbox_ = value;
    else if (name == "json") json_ = true;
    else if (name == "status") status_ = value;
    else if (name == "limit") limit_ = value;
    else if (name == "all") all_ = true;
    else if (name == "reason") reason_ = value;
    else if (name == "why") why_ = true;
    else if (name == "explain") explain_ = true;
    else if (name == "since") since_ = value;
    if (name == "help" || name == "version") stopOptionsProcessing();
  }

  int main(const std::vector<std::string>& args) override {
    const std::string command = args.empty() ? "" : args[0];
    if (command == "deliver")
      exit_try_later_on_signals();
    else if (!command.empty() || help_ || version_ || check_config_)
      restore_inherited_signals();  // only the daemon keeps them blocked for its sigtimedwait loop
    if (help_) return print_help();
    if (version_) {
      std::cout << "atendd " << ATENDD_VERSION << "\n";
      return EXIT_OK;
    }
    if (command == "parse") return parse_command(args);

    const std::string path = config_path_.empty() ? kDefaultConfig : config_path_;
    ConfigResult loaded = load_config(path);
    if (!loaded.problems.empty()) {
      const char* err = stderr_is_journal() ? "<3>" : "";  // journald: each line an error (logging block)
      for (const auto& problem : loaded.problems) std::cerr << err << problem.to_string() << "\n";
      std::cerr << err << path << ": " << loaded.problems.size() << " problem(s)\n";
      return check_config_ ? 1 : EXIT_CONFIG;
    }
    config_ = std::move(*loaded.config);
    setup_logging(config_.server.log_level);
    if (check_config_) {
      try {
        make_renderer(config_);  // templates are part of the configuration
      } catch (const std::exception& e) {
        std::cerr << path << ": " << e.what() << "\n";
        return 1;
      }
      std::cout << path << ": configuration OK (" << config_.types.size() << " types, " << config_.agents.size()
                << " agents, " << config_.mailboxes.size() << " mailboxes)\n";
      return EXIT_OK;
    }

    Poco::Logger& log = Poco::Logger::get("atendd");
    try {
      // The key of the agents' reply tokens (daemon/tickets/reply_token.h): secret_file's, or the
      // one kept in state_dir. route --explain writes nothing: without either, it makes one up.
      if (command != "route") ensure_token_secret(config_.server);
      else if (!read_token_secret(config_.server)) config_.server.secret = random_hex(32);
      if (command == "deliver") {
        if (mailbox_.empty()) return usage("deliver needs --mailbox NAME");
        return run_deliver(config_, mailbox_, std::cin, std::cout, log);
      }
      if (command == "ticket") return ticket_command(args, log);
      if (command == "quarantine") return run_quarantine_command(config_, args, operator_options(), std::cout, std::cerr, log);
      if (command == "route") {
        if (!explain_ || args.size() != 2) return usage("route --explain FILE [--mailbox NAME] [--json]");
        return run_route_explain(config_, args[1], operator_options(), std::cout, std::cerr, log);
      }
      if (command == "import") return import_archive(args, log);
      if (command == "agent") return agent_command(args);
      if (!command.empty()) return usage("unknown command '" + command + "'");
      return run_daemon(path, log);
    } catch (const std::exception& e) {
      log.critical(e.what());
      std::cerr << "atendd: " << e.what() << "\n";
      return EXIT_SOFTWARE;
    }
  }

 private:
  int usage(const std::string& problem) {
    std::cerr << "atendd: " << problem << " (see atendd --help)\n";
    return EXIT_USAGE;
  }

  int print_help() {
    Poco::Util::HelpFormatter help(options());
    help.setCommand(commandName());
    help.setUsage(
        "[OPTIONS] [COMMAND]\n"
        "Commands:\n"
        "  (none)                    run the daemon: sends queued mail; SIGHUP reloads, SIGTERM stops\n"
        "  deliver --mailbox NAME    read one message on stdin and run it through the whole path\n"
        "                            (exit 0 done, 65 never processable, 75 try again later)\n"
        "  parse --json FILE         print the parsed message as JSON (exit 2 if unreadable)\n"
        "  ticket list [--status S]  list tickets\n"
        "  ticket show PROTOCOL      show a ticket with articles, history and mails\n"
        "  ticket show PROTOCOL --why  why the ticket is here and why it is its responsible's\n"
        "  quarantine list|show ID   messages that could not be applied, with their reason\n"
        "  quarantine retry ID|--all run them through today's pipeline (applied exactly once)\n"
        "  quarantine drop ID --reason TEXT  give one up (kept in the journal as dropped)\n"
        "  route --explain FILE [--mailbox NAME] [--json]  what the pipeline would decide, and\n"
        "                            why, without writing or sending anything\n"
        "  import --mailbox NAME FILE.mbox|MAILDIR [--since DATE]\n"
        "                            build tickets from old mail; sends nothing; run again to resume\n"
        "  agent forward-address NAME  the address agent NAME forwards customers' mail to\n"
        "Options:");
    help.setHeader("atendd — e-mail ticket gateway");
    help.format(std::cout);
    return EXIT_OK;
  }

  int parse_command(const std::vector<std::string>& args) {
    if (args.size() != 2) return usage("parse needs one FILE (parse --json FILE)");
    std::ifstream in(args[1], std::ios::binary);
    if (!in) {
      std::cerr << "atendd: cannot read " << args[1] << "\n";
      return 2;
    }
    const std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) {
      std::cerr << "atendd: cannot read " << args[1] << "\n";
      return 2;
    }
    std::cout << to_json(parse_message(raw)) << "\n";
    return EXIT_OK;
  }

  int ticket_command(const std::vector<std::string>& args, Poco::Logger& log) {
    const std::string sub = args.size() > 1 ? args[1] : "";
    Runtime runtime(config_, log);
    if (sub == "list") {
      std::optional<TicketStatus> status;
      if (!status_.empty()) {
        status = status_from_name(status_);
        if (!status) return usage("unknown status '" + status_ + "'");
      }
      int limit = 100;
      if (!limit_.empty()) {
        try {
          limit = std::stoi(limit_);
        } catch (const std::exception&) {
          return usage("--limit needs a number");
        }
      }
      print_ticket_list(runtime.store(), status, limit, std::cout);
      return EXIT_OK;
    }
    if (sub == "show" && args.size() == 3 && why_) {
      const auto ticket = runtime.store().ticket_by_protocol(args[2]);
      if (!ticket) {
        std::cerr << "atendd: no ticket " << args[2] << "\n";
        return EXIT_NOINPUT;
      }
      if (json_)
        std::cout << stringify(ticket_why_json(runtime.store(), *ticket)) << "\n";
      else
        print_ticket_why(runtime.store(), args[2], std::cout);
      return EXIT_OK;
    }
    if (sub == "show" && args.size() == 3) {
      if (!print_ticket(runtime.store(), args[2], std::cout)) {
        std::cerr << "atendd: no ticket " << args[2] << "\n";
        return EXIT_NOINPUT;
      }
      return EXIT_OK;
    }
    return usage("ticket list [--status S] | ticket show PROTOCOL [--why]");
  }

  OperatorOptions operator_options() const {
    OperatorOptions o;
    o.json = json_;
    o.all = all_;
    o.reason = reason_;
    o.mailbox = mailbox_;
    if (!limit_.empty() && limit_.size() <= 4 && limit_.find_first_not_of("0123456789") == std::string::npos)
      o.limit = std::max(1, std::stoi(limit_));
    if (const char* user = std::getenv("SUDO_USER"); user && *user) o.actor = std::string("cli:") + user;
    else if (const char* login = std::getenv("USER"); login && *login) o.actor = std::string("cli:") + login;
    return o;
  }

  int import_archive(const std::vector<std::string>& args, Poco::Logger& log) {
    if (mailbox_.empty() || args.size() != 2) return usage("import --mailbox NAME FILE.mbox|MAILDIR [--since DATE]");
    ImportOptions options;
    options.mailbox = mailbox_;
    options.path = args[1];
    if (!since_.empty()) {
      options.since = parse_since(since_);
      if (!options.since) return usage("--since needs a date (YYYY-MM-DD)");
    }
    return import_command(config_, options, std::cout, std::cerr, log);
  }

  int agent_command(const std::vector<std::string>& args) {
    if (args.size() != 3 || args[1] != "forward-address") return usage("agent forward-address NAME");
    const AgentConfig* agent = config_.agent(args[2]);
    if (!agent) return usage("no [agent." + args[2] + "] in " + config_.source_file);
    const std::string address = agent_forward_address(config_.server, *agent);
    if (address.empty()) {
      std::cerr << "atendd: forwarding addresses need [server] secret_file and a reply_address with {token}\n";
      return EXIT_CONFIG;
    }
    std::cout << address << "\n";
    return EXIT_OK;
  }

  // --- signals, reload, stop, sd_notify and the watchdog (systemd issue) ----------------------
  // Runs until SIGTERM, SIGINT or SIGQUIT. SIGHUP re-reads and checks the configuration: a good one
  // is applied by letting the service finish what it has in hand (the message being processed,
  // the outbox attempt under way) and starting it again on the new one; a bad one is refused with
  // every problem logged, and the old one keeps running. The loop waits with sigtimedwait so that,
  // under a systemd watchdog (WATCHDOG_USEC), it wakes at half the interval to send WATCHDOG=1.
  int run_daemon(const std::string& given_path, Poco::Logger& log) {
    // Absolute, so that a reload finds the file whatever the working directory became (--daemon).
    const std::string path = std::filesystem::absolute(given_path).lexically_normal().string();
    // Blocked since main() began (block_daemon_signals): one sent while starting is pending, and
    // the loop below acts on it as soon as the service runs.
    const sigset_t signals = daemon_signals();
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // (already so; before any thread in any case)

    Watchdog watchdog;
    sd_notify(0, "STATUS=starting: opening the store (migrations) and compiling the templates");
    auto service = std::make_unique<Service>(config_, log);
    try {
      service->start();
    } catch (const std::exception& e) {
      sd_notifyf(0, "STATUS=failed to start: %s", one_line(e.what()).c_str());
      throw;
    }
    log.information("atendd " ATENDD_VERSION " running on " + path + ": " + summary(config_));
    sd_notifyf(0, "READY=1\nSTATUS=running: %s", summary(config_).c_str());
    watchdog.ping_if_due();
    for (;;) {
      timespec timeout = watchdog.time_to_next_ping();
      const int signal = sigtimedwait(&signals, nullptr, &timeout);
      watchdog.ping_if_due();
      if (signal < 0) continue;  // EAGAIN: the watchdog's turn; EINTR
      if (signal == SIGHUP) {
        handle_reload(path, service, watchdog, log);
        continue;
      }
      log.information(std::string("received ") + signal_name(signal) +
                      ": stopping (no new work; finishing the message and the mail in hand)");
      break;
    }
    sd_notify(0, "STOPPING=1\nSTATUS=stopping: finishing the message and the outgoing mail in hand");
    if (!run_pinging([&service] { service->stop(); }, watchdog, kStopBound)) {
      log.critical("stop: still busy after " + std::to_string(kStopBound.count()) +
                   " s (a slow SMTP or IMAP server?); exiting now: what was in hand is done again at the next "
                   "start, nothing is lost");
      std::_Exit(EXIT_SOFTWARE);  // the worker threads are still running: no destructors
    }
    log.information("stopped");
    return EXIT_OK;
  }

  // Sends WATCHDOG=1 at half of systemd's WATCHDOG_USEC; inert without it.
  class Watchdog {
   public:
    Watchdog() {
      std::uint64_t usec = 0;
      if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) interval_ = std::chrono::microseconds(usec / 2);
      next_ = std::chrono::steady_clock::now();
    }
    void ping_if_due() {
      if (interval_.count() == 0) return;
      const auto now = std::chrono::steady_clock::now();
      if (now < next_) return;
      sd_notify(0, "WATCHDOG=1");
      next_ = now + interval_;
    }
    timespec time_to_next_ping() const {
      if (interval_.count() == 0) return timespec{3600, 0};
      const auto left = std::max(std::chrono::steady_clock::duration::zero(), next_ - std::chrono::steady_clock::now());
      const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
      return timespec{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
    }
    std::chrono::milliseconds slice() const {
      return interval_.count() == 0 ? std::chrono::milliseconds(500)
                                    : std::min<std::chrono::milliseconds>(
                                          std::chrono::milliseconds(500),
                                          std::chrono::duration_cast<std::chrono::milliseconds>(interval_));
    }

   private:
    std::chrono::microseconds interval_{0};
    std::chrono::steady_clock::time_point next_;
  };

  // How long SIGTERM may take: systemd's TimeoutStopSec (15 s in the unit) is above it.
  static constexpr std::chrono::seconds kStopBound{10};

  // Runs `work` on its own thread while the watchdog keeps being fed. False when `bound` passed
  // first (the thread is left running; the caller exits). Rethrows what `work` threw.
  static bool run_pinging(const std::function<void()>& work, Watchdog& watchdog,
                          std::optional<std::chrono::seconds> bound = std::nullopt) {
    auto done = std::make_shared<std::promise<void>>();
    std::future<void> finished = done->get_future();
    std::thread worker([work, done] {
      try {
        work();
        done->set_value();
      } catch (...) {
        done->set_exception(std::current_exception());
      }
    });
    const auto deadline = std::chrono::steady_clock::now() + bound.value_or(std::chrono::hours(24 * 365));
    while (finished.wait_for(watchdog.slice()) != std::future_status::ready) {
      watchdog.ping_if_due();
      if (std::chrono::steady_clock::now() >= deadline) {
        worker.detach();
        return false;
      }
    }
    worker.join();
    finished.get();
    return true;
  }

  void handle_reload(const std::string& path, std::unique_ptr<Service>& service, Watchdog& watchdog,
                     Poco::Logger& log) {
    sd_notifyf(0, "RELOADING=1\nSTATUS=reloading %s", path.c_str());
    log.information("received SIGHUP: reloading " + path);
    ConfigResult reloaded = load_config(path);
    std::string status;
    if (!reloaded.problems.empty()) {
      for (const auto& problem : reloaded.problems) log.error("reload refused: " + problem.to_string());
      log.error("reload refused: " + std::to_string(reloaded.problems.size()) + " problem(s) in " + path +
                "; still running on the previous configuration");
      status = "running on the previous configuration (reload refused: " +
               std::to_string(reloaded.problems.size()) + " problem(s) in " + path + ", see the log): " +
               summary(config_);
    } else if (reload(std::move(*reloaded.config), service, watchdog, log)) {
      status = "running: " + summary(config_);
    } else {
      status = "running on the previous configuration (reload failed, see the log): " + summary(config_);
    }
    sd_notifyf(0, "READY=1\nSTATUS=%s", status.c_str());
  }

  // Swaps in a checked configuration: templates are compiled first (a broken one refuses the
  // reload), then the service finishes what it has in hand and starts again on the new
  // configuration; if that start fails, the previous one runs again. True when swapped.
  bool reload(Config fresh, std::unique_ptr<Service>& service, Watchdog& watchdog, Poco::Logger& log) {
    try {
      ensure_token_secret(fresh.server);
      make_renderer(fresh);
    } catch (const std::exception& e) {
      log.error(std::string("reload refused: ") + one_line(e.what()));
      log.error("reload refused: still running on the previous configuration");
      return false;
    }
    const std::string changes = describe_changes(config_, fresh);
    run_pinging([&service] { service->stop(); }, watchdog);
    Config previous = config_;
    config_ = std::move(fresh);
    try {
      service = std::make_unique<Service>(config_, log);
      service->start();
      Poco::Logger::setLevel("", Poco::Logger::parseLevel(config_.server.log_level));
      log.information("configuration reloaded from " + config_.source_file + ": " + changes +
                      "; templates recompiled; " + summary(config_));
      return true;
    } catch (const std::exception& e) {
      log.error(std::string("reload failed, back to the previous configuration: ") + one_line(e.what()));
      config_ = std::move(previous);
      service = std::make_unique<Service>(config_, log);
      service->start();
      return false;
    }
  }

  // "2 mailboxes (suporte, vendas), 3 types, 2 agents, SMTP 127.0.0.1:25"
  static std::string summary(const Config& config) {
    std::string names;
    for (const auto& [id, mailbox] : config.mailboxes) names += (names.empty() ? "" : ", ") + id;
    return std::to_string(config.mailboxes.size()) + " mailboxes" + (names.empty() ? "" : " (" + names + ")") + ", " +
           std::to_string(config.types.size()) + " types, " + std::to_string(config.agents.size()) +
           " agents, SMTP " + config.smtp.host + ":" + std::to_string(config.smtp.port);
  }

  // "mailboxes +vendas -old, types +vendas" (sections added and removed) or "no section added or removed".
  static std::string describe_changes(const Config& before, const Config& after) {
    std::string out;
    auto compare = [&out](const std::string& what, const std::set<std::string>& a, const std::set<std::string>& b) {
      std::string part;
      for (const auto& id : b)
        if (!a.count(id)) part += " +" + id;
      for (const auto& id : a)
        if (!b.count(id)) part += " -" + id;
      if (!part.empty()) out += (out.empty() ? "" : ", ") + what + part;
    };
    auto ids = [](const auto& map) {
      std::set<std::string> s;
      for (const auto& entry : map) s.insert(entry.first);
      return s;
    };
    std::set<std::string> types_before, types_after;
    for (const auto& t : before.types) types_before.insert(t.id);
    for (const auto& t : after.types) types_after.insert(t.id);
    compare("mailboxes", ids(before.mailboxes), ids(after.mailboxes));
    compare("types", types_before, types_after);
    compare("agents", ids(before.agents), ids(after.agents));
    compare("workflows", ids(before.workflows), ids(after.workflows));
    compare("channels", ids(before.channels), ids(after.channels));
    return out.empty() ? "no section added or removed" : out;
  }

  static std::string one_line(std::string text) {
    for (char& c : text)
      if (c == '\n' || c == '\r') c = ' ';
    return text;
  }

  static const char* signal_name(int signal) {
    switch (signal) {
      case SIGTERM: return "SIGTERM";
      case SIGINT: return "SIGINT";
      case SIGQUIT: return "SIGQUIT";
      case SIGHUP: return "SIGHUP";
      default: return "a signal";
    }
  }
  // --- end of signals, reload, stop

  std::string config_path_;
  bool check_config_ = false;
  bool version_ = false;
  bool help_ = false;
  bool json_ = false;
  std::string mailbox_;
  std::string status_;
  std::string limit_;
  bool all_ = false;
  std::string reason_;
  bool why_ = false;
  bool explain_ = false;
  std::string since_;
  Config config_;
};

}  // namespace

}  // namespace atendd

int main(int argc, char** argv) {
  atendd::block_daemon_signals();  // first of all: see its comment
  atendd::setup_logging("information");
  atendd::AtenddApp app;
  try {
    return app.run(argc, argv);
  } catch (const Poco::Exception& e) {
    std::cerr << "atendd: " << e.displayText() << "\n";
    return Poco::Util::Application::EXIT_USAGE;
  } catch (const std::exception& e) {
    std::cerr << "atendd: " << e.what() << "\n";
    return Poco::Util::Application::EXIT_SOFTWARE;
  }
}

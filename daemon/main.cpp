// main.cpp — the `atendd` program: options, subcommands, signals and wiring; nothing else.
//
//   atendd [--config FILE]                      run the daemon (outbox sender; SIGHUP reloads)
//   atendd --check-config [--config FILE]       validate and print every problem (exit 1 on any)
//   atendd deliver --mailbox NAME < message     one message from an MTA pipe (exit 0/65/75)
//   atendd parse --json FILE                    the parser's reading of a message (DESIGN.md)
//   atendd ticket list [--status S] | ticket show PROTOCOL
//   atendd --version | --help
#include <signal.h>
#include <systemd/sd-daemon.h>

#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>

#include <Poco/AutoPtr.h>
#include <Poco/ConsoleChannel.h>
#include <Poco/FormattingChannel.h>
#include <Poco/Logger.h>
#include <Poco/PatternFormatter.h>
#include <Poco/Util/HelpFormatter.h>
#include <Poco/Util/Option.h>
#include <Poco/Util/OptionSet.h>
#include <Poco/Util/ServerApplication.h>

#include "daemon/admin/ticket_report.h"
#include "daemon/config/config.h"
#include "daemon/runtime.h"
#include "daemon/service.h"
#include "daemon/sources/deliver_command.h"
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

// One line per event on stderr: time, level, source, text. (journald adds its own time.)
void setup_logging(const std::string& level) {
  Poco::AutoPtr<Poco::PatternFormatter> formatter(new Poco::PatternFormatter("%Y-%m-%d %H:%M:%S %p %s: %t"));
  formatter->setProperty("times", "UTC");
  Poco::AutoPtr<Poco::ConsoleChannel> console(new Poco::ConsoleChannel(std::cerr));
  Poco::AutoPtr<Poco::FormattingChannel> channel(new Poco::FormattingChannel(formatter, console));
  Poco::Logger::root().setChannel(channel);
  Poco::Logger::root().setLevel(level);
}

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
    options.addOption(Option("limit", "n", "ticket list: at most this many (default 100)").argument("N"));
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
    if (name == "help" || name == "version") stopOptionsProcessing();
  }

  int main(const std::vector<std::string>& args) override {
    if (help_) return print_help();
    if (version_) {
      std::cout << "atendd " << ATENDD_VERSION << "\n";
      return EXIT_OK;
    }
    const std::string command = args.empty() ? "" : args[0];
    if (command == "parse") return parse_command(args);

    const std::string path = config_path_.empty() ? kDefaultConfig : config_path_;
    ConfigResult loaded = load_config(path);
    if (!loaded.problems.empty()) {
      for (const auto& problem : loaded.problems) std::cerr << problem.to_string() << "\n";
      std::cerr << path << ": " << loaded.problems.size() << " problem(s)\n";
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
      if (command == "deliver") {
        if (mailbox_.empty()) return usage("deliver needs --mailbox NAME");
        return run_deliver(config_, mailbox_, std::cin, std::cout, log);
      }
      if (command == "ticket") return ticket_command(args, log);
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
    if (sub == "show" && args.size() == 3) {
      if (!print_ticket(runtime.store(), args[2], std::cout)) {
        std::cerr << "atendd: no ticket " << args[2] << "\n";
        return EXIT_NOINPUT;
      }
      return EXIT_OK;
    }
    return usage("ticket list [--status S] | ticket show PROTOCOL");
  }

  // Runs until SIGTERM/SIGINT; SIGHUP re-reads the configuration and, when it is valid, restarts
  // the service on it (a bad one keeps the old running and logs every problem).
  int run_daemon(const std::string& path, Poco::Logger& log) {
    sigset_t signals;
    sigemptyset(&signals);
    for (int s : {SIGHUP, SIGINT, SIGTERM, SIGQUIT}) sigaddset(&signals, s);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // before any thread: all inherit it

    auto service = std::make_unique<Service>(config_, log);
    service->start();
    log.information("atendd " ATENDD_VERSION " running: " + std::to_string(config_.types.size()) + " types, " +
                    std::to_string(config_.agents.size()) + " agents, SMTP " + config_.smtp.host + ":" +
                    std::to_string(config_.smtp.port));
    sd_notify(0, "READY=1\nSTATUS=running");
    for (;;) {
      int signal = 0;
      if (sigwait(&signals, &signal) != 0) continue;
      if (signal != SIGHUP) break;
      sd_notify(0, "RELOADING=1");
      ConfigResult reloaded = load_config(path);
      if (!reloaded.problems.empty()) {
        for (const auto& problem : reloaded.problems) log.error("reload refused: " + problem.to_string());
      } else if (reload(std::move(*reloaded.config), service, log)) {
        log.information("configuration reloaded from " + path);
      }
      sd_notify(0, "READY=1\nSTATUS=running");
    }
    sd_notify(0, "STOPPING=1");
    log.information("stopping");
    service->stop();
    return EXIT_OK;
  }

  // Swaps in a new configuration; on any failure the old one runs again. True when swapped.
  bool reload(Config fresh, std::unique_ptr<Service>& service, Poco::Logger& log) {
    try {
      make_renderer(fresh);
    } catch (const std::exception& e) {
      log.error(std::string("reload refused: ") + e.what());
      return false;
    }
    service->stop();
    Config previous = config_;
    config_ = std::move(fresh);
    try {
      service = std::make_unique<Service>(config_, log);
      service->start();
      Poco::Logger::root().setLevel(config_.server.log_level);
      return true;
    } catch (const std::exception& e) {
      log.error(std::string("reload failed, keeping the previous configuration: ") + e.what());
      config_ = std::move(previous);
      service = std::make_unique<Service>(config_, log);
      service->start();
      return false;
    }
  }

  std::string config_path_;
  bool check_config_ = false;
  bool version_ = false;
  bool help_ = false;
  bool json_ = false;
  std::string mailbox_;
  std::string status_;
  std::string limit_;
  Config config_;
};

}  // namespace

}  // namespace atendd

int main(int argc, char** argv) {
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

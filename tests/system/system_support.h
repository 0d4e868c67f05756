// system_support.h — helpers for the system tests: the daemon as a child process whose pid is
// known (for SIGHUP) and whose standard error goes to a file (the log the tests read), shell
// commands with their output, and a config writer for a Dovecot mailbox and an SMTP sink.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace atendd::test {

// `atendd ARGS…` in the background; stderr (the log) to `log_file`; SIGTERM and wait at the end.
class LoggedDaemon {
 public:
  LoggedDaemon(const std::vector<std::string>& args, const std::string& log_file,
               const std::vector<std::string>& env = {});
  ~LoggedDaemon();
  LoggedDaemon(const LoggedDaemon&) = delete;
  LoggedDaemon& operator=(const LoggedDaemon&) = delete;
  pid_t pid() const { return pid_; }
  void signal(int sig) const;
  // Waits up to `seconds` for the exit; its code (-1 when killed by a signal), or nothing.
  std::optional<int> wait_exit(double seconds);
  std::string log() const;
  // Waits up to `seconds` until the log contains `text`.
  bool wait_log(const std::string& text, double seconds) const;

 private:
  pid_t pid_ = -1;
  int exit_code_ = -1;
  std::string log_file_;
};

// Runs `/bin/sh -c COMMAND`, stdout and stderr together; sets `status` to the exit code.
std::string shell_output(const std::string& command, int& status);

// Lines "N: text" for the log's lines containing `text` (for failure messages).
std::string lines_with(const std::string& log, const std::string& text);

}  // namespace atendd::test

// processes.h — real processes for integration tests: the `atendd` binary run as an MTA or an
// administrator would run it, and a real SMTP server (tests/servers/smtp_sink.py) on 127.0.0.1
// that stores what it receives. Nothing here mocks a server inside the test process.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace atendd::test {

struct RunResult {
  int exit_code = -1;
  std::string out;  // standard output
  std::string err;  // standard error
};

// Runs `atendd ARGS…` with `input` on standard input and waits for it.
RunResult run_atendd(const std::vector<std::string>& args, const std::string& input = "");

// A fresh temporary directory, removed (recursively) when the object goes away.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
 private:
  std::string path_;
};

// A port on 127.0.0.1 nobody listens on right now.
int free_port();

// The smallest configuration a daemon starts on: state under DIR, admin endpoint and SMTP on free
// ports, one attendance type "geral" (its section last, so lines appended land in it);
// `server_lines` go into [server].
std::string minimal_daemon_config(const std::string& dir, const std::string& server_lines = "");

// A mail the SMTP sink received.
struct ReceivedMail {
  std::string raw;                  // the bytes as sent (CRLF)
  std::string mail_from;
  std::vector<std::string> rcpt_tos;
  // The value of the first header NAME (unfolded), or "".
  std::string header(const std::string& name) const;
  std::string body() const;         // everything after the header block
};

class SmtpSink {
 public:
  // Starts the sink storing into `dir`, on `port` (0 = any free port); waits until it accepts.
  explicit SmtpSink(const std::string& dir, int port = 0);
  ~SmtpSink();  // SIGTERM, then waits
  SmtpSink(const SmtpSink&) = delete;
  SmtpSink& operator=(const SmtpSink&) = delete;
  int port() const { return port_; }
  // Every mail received so far, in order of arrival.
  std::vector<ReceivedMail> mails() const;
  // Waits up to `seconds` for at least `count` mails; returns them.
  std::vector<ReceivedMail> wait_for(size_t count, double seconds) const;
  // Fault injection: stop() takes the server down (connections refused), start() brings it
  // back on the same port, numbering on after the mails already received. set_mode("4xx") or
  // ("5xx") makes it answer DATA with 451 or 554 instead of storing; set_mode("ok") ends that.
  void stop();
  void start();
  void set_mode(const std::string& mode);
 private:
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// A long-running `atendd` (the daemon), stopped with SIGTERM when the object goes away.
class DaemonProcess {
 public:
  // `env`: extra "NAME=value" entries for the child's environment. `output`: a file that gets the
  // child's stdout and stderr (appended), instead of the test's own.
  explicit DaemonProcess(const std::vector<std::string>& args, const std::vector<std::string>& env = {},
                         const std::string& output = "");
  // Waits up to `seconds` for the process to end by itself; returns its exit code, or nothing.
  std::optional<int> wait_exit(double seconds);
  ~DaemonProcess();
  // SIGTERM and wait; returns the exit code (-1 when killed by a signal).
  int stop();
  // SIGKILL and wait: the process dies with no cleanup at all (a crashed machine, for leases).
  void kill();
  pid_t pid() const { return pid_; }
 private:
  pid_t pid_ = -1;
  int exit_code_ = -1;
};

std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& content);

}  // namespace atendd::test

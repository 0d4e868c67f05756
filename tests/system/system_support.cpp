// system_support.cpp — see system_support.h.
#include "system/system_support.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "support/processes.h"

namespace atendd::test {

LoggedDaemon::LoggedDaemon(const std::vector<std::string>& args, const std::string& log_file,
                           const std::vector<std::string>& env)
    : log_file_(log_file) {
  std::vector<std::string> argv{ATENDD_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  const int log_fd = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  const int null_fd = ::open("/dev/null", O_RDWR);
  if (log_fd < 0 || null_fd < 0) throw std::runtime_error("cannot open " + log_file);
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    for (const auto& entry : env) ::putenv(const_cast<char*>(entry.c_str()));
    ::dup2(null_fd, 0);
    ::dup2(null_fd, 1);
    ::dup2(log_fd, 2);
    for (int fd = 3; fd < 1024; ++fd) ::close(fd);
    std::vector<char*> raw;
    for (const auto& a : argv) raw.push_back(const_cast<char*>(a.c_str()));
    raw.push_back(nullptr);
    ::execv(raw[0], raw.data());
    ::_exit(127);
  }
  ::close(log_fd);
  ::close(null_fd);
}

LoggedDaemon::~LoggedDaemon() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    if (!wait_exit(20)) {
      ::kill(pid_, SIGKILL);
      wait_exit(5);
    }
  }
}

void LoggedDaemon::signal(int sig) const {
  if (pid_ > 0) ::kill(pid_, sig);
}

std::optional<int> LoggedDaemon::wait_exit(double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<int>(seconds * 1000));
  while (pid_ > 0) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      return exit_code_;
    }
    if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return exit_code_;
}

std::string LoggedDaemon::log() const { return read_file(log_file_); }

bool LoggedDaemon::wait_log(const std::string& text, double seconds) const {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<int>(seconds * 1000));
  for (;;) {
    if (log().find(text) != std::string::npos) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

std::string shell_output(const std::string& command, int& status) {
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (!p) throw std::runtime_error("popen failed: " + command);
  std::string out;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, p)) > 0) out.append(buffer, n);
  const int raw = ::pclose(p);
  status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return out;
}

std::string lines_with(const std::string& log, const std::string& text) {
  std::istringstream in(log);
  std::string line, out;
  for (int n = 1; std::getline(in, line); ++n)
    if (line.find(text) != std::string::npos) out += std::to_string(n) + ": " + line + "\n";
  return out;
}

}  // namespace atendd::test

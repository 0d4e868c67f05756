// processes.cpp — see processes.h. Plain POSIX fork/exec: the tests control exactly which
// signals reach the children and what their standard streams are.
#include "support/processes.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <Poco/JSON/Parser.h>

namespace atendd::test {

namespace fs = std::filesystem;

namespace {

pid_t spawn(const std::vector<std::string>& argv, int in_fd, int out_fd, int err_fd,
            const std::vector<std::string>& env = {}) {
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    for (const auto& entry : env) ::putenv(const_cast<char*>(entry.c_str()));
    if (in_fd >= 0) ::dup2(in_fd, 0);
    if (out_fd >= 0) ::dup2(out_fd, 1);
    if (err_fd >= 0) ::dup2(err_fd, 2);
    for (int fd = 3; fd < 1024; ++fd) ::close(fd);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

int wait_for_exit(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

RunResult run_atendd(const std::vector<std::string>& args, const std::string& input) {
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (::pipe(in_pipe) || ::pipe(out_pipe) || ::pipe(err_pipe)) throw std::runtime_error("pipe failed");
  std::vector<std::string> argv{ATENDD_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  const pid_t pid = spawn(argv, in_pipe[0], out_pipe[1], err_pipe[1]);
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  // Feed stdin and drain stdout/stderr together so neither side blocks.
  size_t written = 0;
  int in_fd = in_pipe[1];
  ::fcntl(in_fd, F_SETFL, O_NONBLOCK);
  RunResult result;
  if (input.empty()) {
    ::close(in_fd);
    in_fd = -1;
  }
  bool out_open = true, err_open = true;
  char buffer[65536];
  while (out_open || err_open || in_fd >= 0) {
    pollfd fds[3] = {{out_open ? out_pipe[0] : -1, POLLIN, 0},
                     {err_open ? err_pipe[0] : -1, POLLIN, 0},
                     {in_fd, POLLOUT, 0}};
    ::poll(fds, 3, 1000);
    if (fds[0].revents) {
      const ssize_t n = ::read(out_pipe[0], buffer, sizeof buffer);
      if (n > 0) result.out.append(buffer, static_cast<size_t>(n));
      else out_open = false;
    }
    if (fds[1].revents) {
      const ssize_t n = ::read(err_pipe[0], buffer, sizeof buffer);
      if (n > 0) result.err.append(buffer, static_cast<size_t>(n));
      else err_open = false;
    }
    if (in_fd >= 0 && fds[2].revents) {
      const ssize_t n = ::write(in_fd, input.data() + written, input.size() - written);
      if (n > 0) written += static_cast<size_t>(n);
      if (n < 0 && errno != EAGAIN) written = input.size();
      if (written >= input.size()) {
        ::close(in_fd);
        in_fd = -1;
      }
    }
  }
  ::close(out_pipe[0]);
  ::close(err_pipe[0]);
  result.exit_code = wait_for_exit(pid);
  return result;
}

TempDir::TempDir() {
  std::string pattern = (fs::temp_directory_path() / "atendd-test-XXXXXX").string();
  if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  fs::remove_all(path_, ignored);
}

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string minimal_daemon_config(const std::string& dir, const std::string& server_lines) {
  return "[server]\n" + server_lines +
         "address = suporte@atendd.test\n"
         "admin_listen = 127.0.0.1:" + std::to_string(free_port()) + "\n"
         "state_dir = " + dir + "/state\n"
         "[smtp]\n"
         "port = " + std::to_string(free_port()) + "\n"
         "[type.geral]\n"
         "name = Geral\n";
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void write_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
}

std::string ReceivedMail::header(const std::string& name) const {
  const size_t end = raw.find("\r\n\r\n");
  const std::string head = raw.substr(0, end);
  std::istringstream in(head);
  std::string line, value;
  bool capturing = false;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (capturing) {
      if (!line.empty() && (line[0] == ' ' || line[0] == '\t')) {
        value += " " + line.substr(line.find_first_not_of(" \t"));
        continue;
      }
      return value;
    }
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, colon);
    if (key.size() == name.size() &&
        std::equal(key.begin(), key.end(), name.begin(), [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
      value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(" \t"));
      capturing = true;
    }
  }
  return capturing ? value : "";
}

std::string ReceivedMail::body() const {
  const size_t end = raw.find("\r\n\r\n");
  return end == std::string::npos ? "" : raw.substr(end + 4);
}

SmtpSink::SmtpSink(const std::string& dir, int port) : dir_(dir), port_(port) {
  fs::create_directories(dir_);
  start();
}

SmtpSink::~SmtpSink() { stop(); }

void SmtpSink::start() {
  if (pid_ > 0) return;
  const std::string port_file = dir_ + "/.port";
  fs::remove(port_file);
  pid_ = spawn({"/usr/bin/python3", std::string(ATENDD_SOURCE_DIR) + "/tests/servers/smtp_sink.py", "--port",
                std::to_string(port_), "--dir", dir_, "--port-file", port_file},
               -1, -1, -1);
  for (int i = 0; i < 200 && !fs::exists(port_file); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  if (!fs::exists(port_file)) throw std::runtime_error("the SMTP sink did not start (is python3-aiosmtpd installed?)");
  port_ = std::stoi(read_file(port_file));
}

void SmtpSink::stop() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    wait_for_exit(pid_);
    pid_ = -1;
  }
}

void SmtpSink::set_mode(const std::string& mode) {
  write_file(dir_ + "/.mode.tmp", mode);
  fs::rename(dir_ + "/.mode.tmp", dir_ + "/.mode");
}

std::vector<ReceivedMail> SmtpSink::mails() const {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir_))
    if (entry.path().extension() == ".eml") names.push_back(entry.path().string());
  std::sort(names.begin(), names.end());
  std::vector<ReceivedMail> out;
  for (const auto& name : names) {
    ReceivedMail mail;
    mail.raw = read_file(name);
    const std::string envelope = read_file(name.substr(0, name.size() - 4) + ".json");
    Poco::JSON::Parser parser;
    auto object = parser.parse(envelope).extract<Poco::JSON::Object::Ptr>();
    mail.mail_from = object->getValue<std::string>("mail_from");
    auto rcpts = object->getArray("rcpt_tos");
    for (size_t i = 0; i < rcpts->size(); ++i) mail.rcpt_tos.push_back(rcpts->getElement<std::string>(i));
    out.push_back(std::move(mail));
  }
  return out;
}

std::vector<ReceivedMail> SmtpSink::wait_for(size_t count, double seconds) const {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<int>(seconds * 1000));
  for (;;) {
    auto got = mails();
    if (got.size() >= count || std::chrono::steady_clock::now() > deadline) return got;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

DaemonProcess::DaemonProcess(const std::vector<std::string>& args, const std::vector<std::string>& env,
                             const std::string& output) {
  std::vector<std::string> argv{ATENDD_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  const int null_fd = ::open("/dev/null", O_RDWR);
  const int out_fd = output.empty() ? -1 : ::open(output.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  pid_ = spawn(argv, null_fd, out_fd, out_fd, env);
  ::close(null_fd);
  if (out_fd >= 0) ::close(out_fd);
}

std::optional<int> DaemonProcess::wait_exit(double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<int>(seconds * 1000));
  while (pid_ > 0) {
    int status = 0;
    const pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      pid_ = -1;
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      return exit_code_;
    }
    if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return exit_code_;
}

DaemonProcess::~DaemonProcess() { stop(); }

void DaemonProcess::kill() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    exit_code_ = wait_for_exit(pid_);
    pid_ = -1;
  }
}

int DaemonProcess::stop() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    exit_code_ = wait_for_exit(pid_);
    pid_ = -1;
  }
  return exit_code_;
}

}  // namespace atendd::test

// fast_smtp_sink.h — an SMTP server for benchmarks: one thread accepting on 127.0.0.1 (any free
// port), answering the SMTP dialogue (EHLO with PIPELINING, MAIL, RCPT, DATA, RSET, NOOP, QUIT)
// and discarding what it receives, counting messages and bytes. One connection at a time; fast
// enough that the sender, not the sink, is what a benchmark measures (bench_outbox proves it).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace atendd::bench {

class FastSmtpSink {
 public:
  // Called on the sink's thread for each message received, with its RCPT TO addresses.
  using OnMessage = std::function<void(const std::vector<std::string>& recipients)>;

  explicit FastSmtpSink(OnMessage on_message = {}) : on_message_(std::move(on_message)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) throw std::runtime_error("socket failed");
    const int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listen_fd_, 16) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ::close(listen_fd_);
      throw std::runtime_error("cannot listen on 127.0.0.1");
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~FastSmtpSink() {
    stop_ = true;
    thread_.join();
    ::close(listen_fd_);
  }
  FastSmtpSink(const FastSmtpSink&) = delete;
  FastSmtpSink& operator=(const FastSmtpSink&) = delete;

  int port() const { return port_; }
  std::uint64_t messages() const { return messages_.load(); }
  std::uint64_t bytes() const { return bytes_.load(); }  // DATA bytes, as on the wire
  std::uint64_t connections() const { return connections_.load(); }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      ++connections_;
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      session(fd);
      ::close(fd);
    }
  }

  // Reads into buf_; false when the peer closed or stop was set.
  bool fill(int fd) {
    char chunk[65536];
    for (;;) {
      pollfd p{fd, POLLIN, 0};
      const int ready = ::poll(&p, 1, 50);
      if (stop_) return false;
      if (ready <= 0) continue;
      const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) return false;
      buf_.append(chunk, static_cast<std::size_t>(n));
      return true;
    }
  }

  static void reply(int fd, const char* text) {
    const std::size_t len = std::strlen(text);
    std::size_t sent = 0;
    while (sent < len) {
      const ssize_t n = ::send(fd, text + sent, len - sent, MSG_NOSIGNAL);
      if (n <= 0) return;
      sent += static_cast<std::size_t>(n);
    }
  }

  void session(int fd) {
    buf_.clear();
    std::size_t pos = 0;  // start of the unread part of buf_
    reply(fd, "220 sink.bench ESMTP\r\n");
    for (;;) {
      const std::size_t eol = buf_.find("\r\n", pos);
      if (eol == std::string::npos) {
        buf_.erase(0, pos);
        pos = 0;
        if (!fill(fd)) return;
        continue;
      }
      std::string verb = buf_.substr(pos, std::min<std::size_t>(4, eol - pos));
      for (auto& c : verb) c = static_cast<char>(::toupper(static_cast<unsigned char>(c)));
      const std::size_t line_start = pos;
      pos = eol + 2;
      if (verb == "EHLO") {
        reply(fd, "250-sink.bench\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 104857600\r\n");
      } else if (verb == "HELO" || verb == "MAIL" || verb == "RCPT" || verb == "RSET" || verb == "NOOP") {
        if (verb == "MAIL" || verb == "RSET") recipients_.clear();
        if (verb == "RCPT" && on_message_) {
          const std::string line = buf_.substr(line_start, eol - line_start);
          const std::size_t lt = line.find('<'), gt = line.find('>');
          if (lt != std::string::npos && gt != std::string::npos && gt > lt) recipients_.push_back(line.substr(lt + 1, gt - lt - 1));
        }
        reply(fd, "250 OK\r\n");
      } else if (verb == "QUIT") {
        reply(fd, "221 bye\r\n");
        return;
      } else if (verb == "DATA") {
        reply(fd, "354 go ahead\r\n");
        // The data ends with CRLF.CRLF; the CRLF before the dot may be the one ending DATA's line.
        std::size_t scan = pos - 2;
        for (;;) {
          const std::size_t end = buf_.find("\r\n.\r\n", scan);
          if (end != std::string::npos) {
            bytes_ += end + 2 - pos;  // end + 2 >= pos, since scan >= pos - 2
            pos = end + 5;
            break;
          }
          // Drop what was scanned but the last 4 bytes: a terminator may straddle two reads.
          const std::size_t keep_from = std::max(pos, buf_.size() >= 4 ? buf_.size() - 4 : std::size_t{0});
          bytes_ += keep_from - pos;
          buf_.erase(0, keep_from);
          pos = 0;
          scan = 0;
          if (!fill(fd)) return;
        }
        ++messages_;
        if (on_message_) on_message_(recipients_);
        recipients_.clear();
        reply(fd, "250 OK queued\r\n");
      } else {
        reply(fd, "500 unknown command\r\n");
      }
    }
  }

  int listen_fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> messages_{0}, bytes_{0}, connections_{0};
  std::string buf_;
  OnMessage on_message_;
  std::vector<std::string> recipients_;
};

}  // namespace atendd::bench

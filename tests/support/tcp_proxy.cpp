// tcp_proxy.cpp — see tcp_proxy.h. One thread accepts; one thread per connection pumps both
// directions with poll(), counting the server's bytes.
#include "support/tcp_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>

namespace atendd::test {

namespace {

int connect_loopback(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool send_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

TcpProxy::TcpProxy(int target_port) : target_port_(target_port) {
  listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
  const int one = 1;
  ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listener_, 64) != 0)
    throw std::runtime_error("tcp proxy: cannot listen");
  socklen_t len = sizeof addr;
  ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

TcpProxy::~TcpProxy() {
  stop_ = true;
  acceptor_.join();
  for (auto& t : pumps_) t.join();
  ::close(listener_);
}

void TcpProxy::cut_after(std::size_t bytes, int connections) {
  std::lock_guard<std::mutex> lock(mutex_);
  cut_bytes_ = bytes;
  cuts_left_ = connections;
}

void TcpProxy::cut_all() { ++generation_; }

void TcpProxy::accept_loop() {
  while (!stop_.load()) {
    pollfd p{listener_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const int client = ::accept(listener_, nullptr, nullptr);
    if (client < 0) continue;
    ++accepted_;
    const int server = connect_loopback(target_port_);
    if (server < 0) {
      ::close(client);
      continue;
    }
    std::size_t cut_at = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (cuts_left_ > 0) {
        --cuts_left_;
        cut_at = cut_bytes_;
      }
    }
    pumps_.emplace_back([this, client, server, cut_at] { pump(client, server, cut_at); });
  }
}

void TcpProxy::pump(int client, int server, std::size_t cut_at) {
  const int generation = generation_.load();
  std::size_t from_server = 0;
  char buffer[16384];
  bool cut = false;
  while (!stop_.load()) {
    if (generation_.load() != generation) {
      cut = true;
      break;
    }
    pollfd fds[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
    if (::poll(fds, 2, 100) <= 0) continue;
    if (fds[0].revents) {
      const ssize_t n = ::recv(client, buffer, sizeof buffer, 0);
      if (n <= 0 || !send_all(server, buffer, static_cast<size_t>(n))) break;
    }
    if (fds[1].revents) {
      size_t want = sizeof buffer;
      if (cut_at > 0) want = std::min(want, cut_at - from_server);
      const ssize_t n = ::recv(server, buffer, want, 0);
      if (n <= 0 || !send_all(client, buffer, static_cast<size_t>(n))) break;
      from_server += static_cast<size_t>(n);
      if (cut_at > 0 && from_server >= cut_at) {
        cut = true;
        break;
      }
    }
  }
  if (cut) ++cut_count_;
  ::shutdown(client, SHUT_RDWR);
  ::shutdown(server, SHUT_RDWR);
  ::close(client);
  ::close(server);
}

}  // namespace atendd::test

// tcp_proxy.h — a TCP proxy on 127.0.0.1 for fault tests: forwards every connection to a target
// port and, on request, cuts connections after a number of bytes from the server (an IMAP
// connection dying in the middle of a FETCH literal) or all at once. Test-only; loopback only.
#pragma once

#include <atomic>
#include <cstddef>
#include <mutex>
#include <thread>
#include <vector>

namespace atendd::test {

class TcpProxy {
 public:
  explicit TcpProxy(int target_port);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;
  int port() const { return port_; }
  // The next `connections` connections are closed (both sides) once `bytes` bytes came from the
  // server on them; later connections pass untouched.
  void cut_after(std::size_t bytes, int connections = 1);
  // Closes every open connection now.
  void cut_all();
  int connections_cut() const { return cut_count_.load(); }
  int connections_accepted() const { return accepted_.load(); }

 private:
  void accept_loop();
  void pump(int client, int server, std::size_t cut_at);
  int target_port_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> cut_count_{0};
  std::atomic<int> accepted_{0};
  std::atomic<int> generation_{0};  // bumped by cut_all()
  std::mutex mutex_;
  std::size_t cut_bytes_ = 0;
  int cuts_left_ = 0;
  std::thread acceptor_;
  std::vector<std::thread> pumps_;
};

}  // namespace atendd::test

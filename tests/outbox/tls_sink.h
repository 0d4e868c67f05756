// tls_sink.h — the SMTP sink (tests/servers/smtp_sink.py) started with a certificate, so that it
// requires STARTTLS, plus a self-signed certificate for localhost / 127.0.0.1 made with openssl.
// Spawned here with fork/exec because SmtpSink (tests/support) has no TLS option.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "support/processes.h"

namespace atendd::test {

// The envelope file (.json) the sink wrote beside each mail, in order of arrival.
inline std::vector<Poco::JSON::Object::Ptr> envelopes(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    if (entry.path().extension() == ".eml") names.push_back(entry.path().string());
  std::sort(names.begin(), names.end());
  std::vector<Poco::JSON::Object::Ptr> out;
  for (const auto& name : names) {
    Poco::JSON::Parser parser;
    out.push_back(parser.parse(read_file(name.substr(0, name.size() - 4) + ".json"))
                      .extract<Poco::JSON::Object::Ptr>());
  }
  return out;
}

// The sink started with a certificate: it then requires STARTTLS before MAIL FROM.
class TlsSink {
 public:
  TlsSink(const std::string& dir, const std::string& cert, const std::string& key) : dir_(dir) {
    std::filesystem::create_directories(dir_);
    const std::string port_file = dir_ + "/.port";
    const std::vector<std::string> argv{"/usr/bin/python3",
                                        std::string(ATENDD_SOURCE_DIR) + "/tests/servers/smtp_sink.py",
                                        "--port", "0", "--dir", dir_, "--port-file", port_file,
                                        "--tls-cert", cert, "--tls-key", key};
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      const int null_fd = ::open("/dev/null", O_RDWR);  // its TLS handshake errors are expected noise
      ::dup2(null_fd, 0);
      ::dup2(null_fd, 1);
      ::dup2(null_fd, 2);
      for (int fd = 3; fd < 1024; ++fd) ::close(fd);
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    for (int i = 0; i < 200 && !std::filesystem::exists(port_file); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (!std::filesystem::exists(port_file)) throw std::runtime_error("the TLS SMTP sink did not start");
    port_ = std::stoi(read_file(port_file));
  }
  ~TlsSink() {
    ::kill(pid_, SIGTERM);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0) {
    }
  }
  TlsSink(const TlsSink&) = delete;
  TlsSink& operator=(const TlsSink&) = delete;
  int port() const { return port_; }
  size_t count() const { return envelopes(dir_).size(); }
  std::vector<Poco::JSON::Object::Ptr> wait_for(size_t n, double seconds) const {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(int(seconds * 1000));
    for (;;) {
      auto got = envelopes(dir_);
      if (got.size() >= n || std::chrono::steady_clock::now() > deadline) return got;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

 private:
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// A self-signed certificate for localhost / 127.0.0.1 in DIR: returns {cert, key}.
inline std::pair<std::string, std::string> self_signed_certificate(const std::string& dir) {
  const std::string cert = dir + "/cert.pem", key = dir + "/key.pem";
  const std::string command = "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost "
                              "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout '" + key +
                              "' -out '" + cert + "' >/dev/null 2>&1";
  REQUIRE(std::system(command.c_str()) == 0);
  return {cert, key};
}

}  // namespace atendd::test

// smtp_sender_test.cpp — SmtpSender against the real SMTP sink (tests/servers/smtp_sink.py):
// one kept connection for many mails, one reconnect after the server restarts, a temporary failure
// when nobody listens, and STARTTLS with a self-signed certificate the sink requires.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "daemon/outbox/mail_composer.h"
#include "daemon/outbox/smtp_sender.h"
#include "support/processes.h"

using namespace atendd;
using atendd::test::SmtpSink;
using atendd::test::TempDir;

namespace fs = std::filesystem;

namespace {

std::string mail_numbered(int n) {
  MailParts parts;
  parts.from = Address{"suporte@example.com", "Suporte"};
  parts.to = {Address{"ana@example.com", "Ana"}};
  parts.subject = "[#2026112400000" + std::to_string(n) + "] Recebemos sua solicitação";
  parts.text = "Mensagem número " + std::to_string(n) + ".\n";
  parts.message_id = "smtp-test-" + std::to_string(n) + "@example.com";
  parts.auto_submitted = "auto-replied";
  parts.x_loop = "suporte@example.com";
  parts.date = 1795500000;
  return compose_mail(parts);
}

SmtpConfig plain_config(int port) {
  SmtpConfig config;
  config.host = "127.0.0.1";
  config.port = port;
  config.timeout_seconds = 5;
  return config;
}

// Local ports of this machine's established TCP connections to 127.0.0.1:PORT (client side).
std::set<int> client_connections_to(int port) {
  std::set<int> out;
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line);  // column titles
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state;
    fields >> slot >> local >> remote >> state;
    const auto local_colon = local.find(':'), remote_colon = remote.find(':');
    if (local_colon == std::string::npos || remote_colon == std::string::npos) continue;
    const int remote_port = std::stoi(remote.substr(remote_colon + 1), nullptr, 16);
    if (remote_port == port && state == "01") out.insert(std::stoi(local.substr(local_colon + 1), nullptr, 16));
  }
  return out;
}

// The envelope file (.json) the sink wrote beside each mail, in order of arrival.
std::vector<Poco::JSON::Object::Ptr> envelopes(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.path().extension() == ".eml") names.push_back(entry.path().string());
  std::sort(names.begin(), names.end());
  std::vector<Poco::JSON::Object::Ptr> out;
  for (const auto& name : names) {
    Poco::JSON::Parser parser;
    out.push_back(parser.parse(atendd::test::read_file(name.substr(0, name.size() - 4) + ".json"))
                      .extract<Poco::JSON::Object::Ptr>());
  }
  return out;
}

// The sink started with a certificate: it then requires STARTTLS before MAIL FROM.
class TlsSink {
 public:
  TlsSink(const std::string& dir, const std::string& cert, const std::string& key) : dir_(dir) {
    fs::create_directories(dir_);
    const std::string port_file = dir_ + "/.port";
    const std::vector<std::string> argv{"/usr/bin/python3",
                                        std::string(ATENDD_SOURCE_DIR) + "/tests/servers/smtp_sink.py",
                                        "--port", "0", "--dir", dir_, "--port-file", port_file,
                                        "--tls-cert", cert, "--tls-key", key};
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      for (int fd = 3; fd < 1024; ++fd) ::close(fd);
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    for (int i = 0; i < 200 && !fs::exists(port_file); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (!fs::exists(port_file)) throw std::runtime_error("the TLS SMTP sink did not start");
    port_ = std::stoi(atendd::test::read_file(port_file));
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
std::pair<std::string, std::string> self_signed_certificate(const std::string& dir) {
  const std::string cert = dir + "/cert.pem", key = dir + "/key.pem";
  const std::string command = "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost "
                              "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout '" + key +
                              "' -out '" + cert + "' >/dev/null 2>&1";
  REQUIRE(std::system(command.c_str()) == 0);
  return {cert, key};
}

}  // namespace

TEST_CASE("several mails go out over one kept SMTP connection", "[outbox][smtp]") {
  TempDir dir;
  SmtpSink sink(dir.path() + "/sink");
  SmtpSender sender(plain_config(sink.port()), "atendd.example.com");

  std::set<int> connections_seen;
  for (int n = 1; n <= 4; ++n) {
    sender.send("bounces@example.com", {"ana@example.com", "bia@example.com"}, mail_numbered(n));
    CHECK(sender.connected());
    const auto now_open = client_connections_to(sink.port());
    CHECK(now_open.size() == 1);
    connections_seen.insert(now_open.begin(), now_open.end());
  }
  CHECK(connections_seen.size() == 1);  // the same client socket served all four

  const auto mails = sink.wait_for(4, 10);
  REQUIRE(mails.size() == 4);
  for (int n = 1; n <= 4; ++n) {
    const auto& mail = mails[static_cast<size_t>(n - 1)];
    CHECK(mail.mail_from == "bounces@example.com");
    CHECK(mail.rcpt_tos == std::vector<std::string>{"ana@example.com", "bia@example.com"});
    CHECK(mail.header("Message-ID") == "<smtp-test-" + std::to_string(n) + "@example.com>");
    CHECK(mail.raw == mail_numbered(n));
  }

  sender.close();
  CHECK_FALSE(sender.connected());
}

TEST_CASE("the next send after the SMTP server restarts succeeds over a new connection", "[outbox][smtp]") {
  TempDir dir;
  const int port = atendd::test::free_port();
  SmtpSender sender(plain_config(port), "atendd.example.com");
  {
    SmtpSink first(dir.path() + "/first", port);
    sender.send("bounces@example.com", {"ana@example.com"}, mail_numbered(1));
    REQUIRE(first.wait_for(1, 10).size() == 1);
    REQUIRE(sender.connected());
  }  // the server goes away with our connection still kept open
  SmtpSink second(dir.path() + "/second", port);

  REQUIRE_NOTHROW(sender.send("bounces@example.com", {"ana@example.com"}, mail_numbered(2)));

  const auto mails = second.wait_for(1, 10);
  REQUIRE(mails.size() == 1);
  CHECK(mails[0].header("Message-ID") == "<smtp-test-2@example.com>");
  CHECK(sender.connected());
}

TEST_CASE("sending where no SMTP server listens is a failure worth retrying", "[outbox][smtp]") {
  SmtpSender sender(plain_config(atendd::test::free_port()), "atendd.example.com");

  try {
    sender.send("bounces@example.com", {"ana@example.com"}, mail_numbered(1));
    FAIL("send() returned although nothing listens");
  } catch (const SmtpFailure& e) {
    CHECK_FALSE(e.permanent());
    CHECK(std::string(e.what()).find("127.0.0.1") != std::string::npos);
  }
  CHECK_FALSE(sender.connected());
}

TEST_CASE("STARTTLS delivers over TLS to a server that requires it", "[outbox][smtp][tls]") {
  TempDir dir;
  const auto [cert, key] = self_signed_certificate(dir.path());
  TlsSink sink(dir.path() + "/sink", cert, key);
  SmtpConfig config = plain_config(sink.port());
  config.tls = SmtpTls::StartTls;
  config.ca_file = cert;
  SmtpSender sender(config, "atendd.example.com");

  sender.send("bounces@example.com", {"ana@example.com"}, mail_numbered(1));
  sender.send("bounces@example.com", {"bia@example.com"}, mail_numbered(2));

  const auto got = sink.wait_for(2, 10);
  REQUIRE(got.size() == 2);
  CHECK(got[0]->getValue<bool>("tls"));
  CHECK(got[1]->getValue<bool>("tls"));
  CHECK(got[1]->getValue<std::string>("mail_from") == "bounces@example.com");
}

TEST_CASE("a plain sender is refused by a server that requires STARTTLS", "[outbox][smtp][tls]") {
  TempDir dir;
  const auto [cert, key] = self_signed_certificate(dir.path());
  TlsSink sink(dir.path() + "/sink", cert, key);
  SmtpSender sender(plain_config(sink.port()), "atendd.example.com");

  CHECK_THROWS_AS(sender.send("bounces@example.com", {"ana@example.com"}, mail_numbered(1)), SmtpFailure);

  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK(sink.count() == 0);
}

TEST_CASE("STARTTLS refuses a server certificate it cannot verify", "[outbox][smtp][tls]") {
  TempDir dir;
  const auto [cert, key] = self_signed_certificate(dir.path());
  fs::create_directories(dir.path() + "/other");
  const auto other = self_signed_certificate(dir.path() + "/other");
  TlsSink sink(dir.path() + "/sink", cert, key);
  SmtpConfig config = plain_config(sink.port());
  config.tls = SmtpTls::StartTls;
  config.ca_file = other.first;  // trusts some other certificate, not the server's
  SmtpSender sender(config, "atendd.example.com");

  CHECK_THROWS_AS(sender.send("bounces@example.com", {"ana@example.com"}, mail_numbered(1)), SmtpFailure);

  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK(sink.count() == 0);
}

// smtp_sender_test.cpp — SmtpSender against the real SMTP sink (tests/servers/smtp_sink.py):
// one kept connection for many mails, one reconnect after the server restarts, a temporary failure
// when nobody listens, and STARTTLS with a self-signed certificate the sink requires.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "daemon/outbox/mail_composer.h"
#include "daemon/outbox/smtp_sender.h"
#include "support/processes.h"
#include "tls_sink.h"

using namespace atendd;
using atendd::test::SmtpSink;
using atendd::test::TempDir;
using atendd::test::TlsSink;
using atendd::test::self_signed_certificate;

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

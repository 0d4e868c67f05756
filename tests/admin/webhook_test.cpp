// webhook_test.cpp — the messaging webhooks of the running daemon: signed WhatsApp, Telegram and
// generic posts become tickets through the journal exactly once, bad signatures store nothing,
// a second message threads into the sender's open ticket, and the agent's reply reaches a POCO
// HTTP server in this process standing in for the provider's send API.
#include <mutex>

#include <catch2/catch.hpp>
#include <Poco/DigestEngine.h>
#include <Poco/HMACEngine.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/SHA2Engine.h>
#include <Poco/StreamCopier.h>

#include "admin_client.h"
#include "storage/sqlite_store.h"

using namespace atendd;
using namespace atendd::test;

namespace {

class Sha256 : public Poco::SHA2Engine {
 public:
  enum { BLOCK_SIZE = 64, DIGEST_SIZE = 32 };
  Sha256() : Poco::SHA2Engine(Poco::SHA2Engine::SHA_256) {}
};

std::string hmac(const std::string& key, const std::string& body) {
  Poco::HMACEngine<Sha256> engine(key);
  engine.update(body);
  return Poco::DigestEngine::digestToHex(engine.digest());
}

// The provider's send API: records every POST (path, Authorization, body).
struct Provider {
  struct Call {
    std::string path, authorization, body;
  };
  std::mutex mutex;
  std::vector<Call> calls;

  class Handler : public Poco::Net::HTTPRequestHandler {
   public:
    explicit Handler(Provider& p) : p_(p) {}
    void handleRequest(Poco::Net::HTTPServerRequest& in, Poco::Net::HTTPServerResponse& out) override {
      Call call{in.getURI(), in.get("Authorization", ""), ""};
      Poco::StreamCopier::copyToString(in.stream(), call.body);
      {
        std::lock_guard<std::mutex> lock(p_.mutex);
        p_.calls.push_back(call);
      }
      out.setContentType("application/json");
      out.send() << "{\"ok\":true}";
    }
   private:
    Provider& p_;
  };
  class Factory : public Poco::Net::HTTPRequestHandlerFactory {
   public:
    explicit Factory(Provider& p) : p_(p) {}
    Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
      return new Handler(p_);
    }
   private:
    Provider& p_;
  };

  Poco::Net::ServerSocket socket;
  std::unique_ptr<Poco::Net::HTTPServer> server;
  int port = 0;
  Provider() {
    socket.bind(Poco::Net::SocketAddress("127.0.0.1", 0), true, false);
    socket.listen();
    port = socket.address().port();
    server = std::make_unique<Poco::Net::HTTPServer>(new Factory(*this), socket, new Poco::Net::HTTPServerParams);
    server->start();
  }
  ~Provider() { server->stopAll(true); }
  std::vector<Call> wait_for(size_t count, double seconds) {
    for (int i = 0; i < seconds * 10; ++i) {
      {
        std::lock_guard<std::mutex> lock(mutex);
        if (calls.size() >= count) return calls;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::lock_guard<std::mutex> lock(mutex);
    return calls;
  }
};

std::string whatsapp_body(const std::string& id, const std::string& text) {
  return "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"1\",\"changes\":[{\"field\":\"messages\","
         "\"value\":{\"messaging_product\":\"whatsapp\",\"contacts\":[{\"profile\":{\"name\":\"Kerry Fisher\"},"
         "\"wa_id\":\"5511999990000\"}],\"messages\":[{\"from\":\"5511999990000\",\"id\":\"" + id +
         "\",\"timestamp\":\"1764000000\",\"type\":\"text\",\"text\":{\"body\":\"" + text + "\"}}]}}]}]}";
}

std::string channels(int provider_port, const std::string& dir) {
  write_file(dir + "/wa.secret", "app-secret-1\n");
  write_file(dir + "/wa.token", "graph-token-1\n");
  write_file(dir + "/tg.secret", "tg-secret-1\n");
  write_file(dir + "/gen.secret", "generic-secret-1\n");
  const std::string url = "http://127.0.0.1:" + std::to_string(provider_port);
  return "[channel.wa]\nkind = whatsapp\nsecret_file = " + dir + "/wa.secret\nverify_token = hello-verify\n"
         "send_url = " + url + "/v19.0/PHONE/messages\ntoken_file = " + dir + "/wa.token\n"
         "[channel.tg]\nkind = telegram\nsecret_file = " + dir + "/tg.secret\nsend_url = " + url +
         "/bot{token}/sendMessage\ntoken_file = " + dir + "/wa.token\n"
         "[channel.gen]\nkind = generic\nsecret_file = " + dir + "/gen.secret\nsend_url = " + url + "/callback\n";
}

}  // namespace

TEST_CASE("a signed WhatsApp message opens one ticket however often it is delivered and the reply goes back through the Graph API",
          "[admin][webhook]") {
  Provider provider;
  TempDir secrets;
  AdminDaemon d(channels(provider.port, secrets.path()));
  const std::string body = whatsapp_body("wamid.AAA1", "My printer is broken");
  const std::string signature = "X-Hub-Signature-256: sha256=" + hmac("app-secret-1", body);

  auto first = http("POST", d.base + "/webhooks/wa", "", body, {signature});
  REQUIRE(first.status == 200);
  auto outcome = first.json()->getArray("messages")->getObject(0);
  CHECK(outcome->getValue<std::string>("outcome") == "ticket_created");
  const std::string protocol = outcome->getValue<std::string>("protocol");
  auto again = http("POST", d.base + "/webhooks/wa", "", body, {signature});
  CHECK(again.json()->getArray("messages")->getObject(0)->getValue<std::string>("outcome") == "duplicate");

  // A second message of the same sender threads into the open ticket.
  const std::string body2 = whatsapp_body("wamid.AAA2", "It shows error 42");
  auto second = http("POST", d.base + "/webhooks/wa", "", body2,
                     {"X-Hub-Signature-256: sha256=" + hmac("app-secret-1", body2)});
  CHECK(second.json()->getArray("messages")->getObject(0)->getValue<std::string>("protocol") == protocol);
  auto ticket = http("GET", d.base + "/api/v1/tickets/" + protocol, kReadToken).json();
  CHECK(articles_of_kind(ticket, "customer_message") == 2);
  CHECK(ticket->getObject("contact")->getValue<std::string>("name") == "Kerry Fisher");

  // The agent's answer goes to the customer through the channel's send API.
  REQUIRE(http("POST", d.base + "/api/v1/tickets/" + protocol + "/actions", kAdminToken,
               "{\"agent\":\"maria\",\"text\":\"Please restart it.\"}").status == 200);
  bool replied = false;
  for (int i = 0; i < 100 && !replied; ++i) {
    for (const auto& call : provider.wait_for(1, 0.1))
      replied = replied || (call.body.find("Please restart it.") != std::string::npos &&
                            call.body.find("\"to\":\"5511999990000\"") != std::string::npos &&
                            call.body.find("\"messaging_product\":\"whatsapp\"") != std::string::npos &&
                            call.authorization == "Bearer graph-token-1" && call.path == "/v19.0/PHONE/messages");
  }
  CHECK(replied);

  // The subscription handshake.
  CHECK(http("GET", d.base + "/webhooks/wa?hub.mode=subscribe&hub.verify_token=hello-verify&hub.challenge=777").body ==
        "777");
  CHECK(http("GET", d.base + "/webhooks/wa?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=777").status == 403);
}

TEST_CASE("webhooks with a missing or wrong signature are refused and store nothing", "[admin][webhook]") {
  Provider provider;
  TempDir secrets;
  AdminDaemon d(channels(provider.port, secrets.path()));
  const std::string body = whatsapp_body("wamid.BAD1", "forged");
  CHECK(http("POST", d.base + "/webhooks/wa", "", body).status == 401);
  CHECK(http("POST", d.base + "/webhooks/wa", "", body, {"X-Hub-Signature-256: sha256=" + hmac("other", body)}).status ==
        403);
  const std::string update = "{\"update_id\":5,\"message\":{\"message_id\":9,\"date\":1764000000,\"chat\":{\"id\":42},"
                             "\"from\":{\"id\":42,\"first_name\":\"Ana\"},\"text\":\"forged\"}}";
  CHECK(http("POST", d.base + "/webhooks/tg", "", update, {"X-Telegram-Bot-Api-Secret-Token: wrong"}).status == 403);
  const std::string generic = "{\"id\":\"g1\",\"from\":{\"id\":\"u1\",\"name\":\"Gil\"},\"text\":\"forged\"}";
  CHECK(http("POST", d.base + "/webhooks/gen", "", generic, {"X-Atendd-Signature: sha256=00"}).status == 403);
  CHECK(http("POST", d.base + "/webhooks/nochannel", "", generic).status == 404);
  SqliteStore store(d.state_dir + "/atendd.db");
  CHECK(store.journal(10).empty());
  CHECK(store.tickets(std::nullopt, 10).empty());
}

TEST_CASE("Telegram and generic webhooks open tickets and replies go back in each provider's format",
          "[admin][webhook]") {
  Provider provider;
  TempDir secrets;
  AdminDaemon d(channels(provider.port, secrets.path()));
  const std::string update = "{\"update_id\":5,\"message\":{\"message_id\":9,\"date\":1764000000,\"chat\":{\"id\":4242},"
                             "\"from\":{\"id\":4242,\"first_name\":\"Ana\",\"last_name\":\"Lima\"},\"text\":\"Oi\"}}";
  auto tg = http("POST", d.base + "/webhooks/tg", "", update, {"X-Telegram-Bot-Api-Secret-Token: tg-secret-1"});
  REQUIRE(tg.status == 200);
  const std::string tg_protocol = tg.json()->getArray("messages")->getObject(0)->getValue<std::string>("protocol");
  CHECK(http("POST", d.base + "/webhooks/tg", "", update, {"X-Telegram-Bot-Api-Secret-Token: tg-secret-1"})
            .json()->getArray("messages")->getObject(0)->getValue<std::string>("outcome") == "duplicate");

  const std::string generic = "{\"id\":\"g-77\",\"from\":{\"id\":\"user-9\",\"name\":\"Gil\"},\"text\":\"Hello\","
                              "\"timestamp\":1764000000}";
  auto gen = http("POST", d.base + "/webhooks/gen", "", generic,
                  {"X-Atendd-Signature: sha256=" + hmac("generic-secret-1", generic)});
  REQUIRE(gen.status == 200);
  const std::string gen_protocol = gen.json()->getArray("messages")->getObject(0)->getValue<std::string>("protocol");
  CHECK(gen_protocol != tg_protocol);

  REQUIRE(http("POST", d.base + "/api/v1/tickets/" + tg_protocol + "/actions", kAdminToken,
               "{\"agent\":\"maria\",\"text\":\"Telegram answer\"}").status == 200);
  REQUIRE(http("POST", d.base + "/api/v1/tickets/" + gen_protocol + "/actions", kAdminToken,
               "{\"agent\":\"maria\",\"text\":\"Generic answer\"}").status == 200);
  bool telegram = false, callback = false;
  // Up to 30 s: the openings are already among the calls, so each round looks at them all again.
  for (int i = 0; i < 300 && !(telegram && callback); ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    for (const auto& call : provider.wait_for(0, 0)) {
      telegram = telegram || (call.path == "/botgraph-token-1/sendMessage" &&
                              call.body.find("\"chat_id\":\"4242\"") != std::string::npos &&
                              call.body.find("Telegram answer") != std::string::npos);
      callback = callback || (call.path == "/callback" && call.body.find("\"to\":\"user-9\"") != std::string::npos &&
                              call.body.find("Generic answer") != std::string::npos);
    }
  }
  CHECK(telegram);
  CHECK(callback);
  const auto metrics = http("GET", d.base + "/metrics").body;
  CHECK(metrics.find("atendd_messages_total{source=\"webhook\",mailbox=\"tg\",outcome=\"ticket_created\"} 1") !=
        std::string::npos);
}

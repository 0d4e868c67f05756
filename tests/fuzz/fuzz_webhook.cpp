// fuzz_webhook.cpp — libFuzzer target for POST /webhooks/ID: the first input byte picks the
// channel (WhatsApp, Telegram, generic) and whether the signature is right, wrong or missing; the
// rest is the body. The real WebhookReceiver checks the signature, parses the provider's JSON and
// runs each message through the inbound pipeline on a SQLite store in a temporary directory. It
// must never crash, answer only the statuses it documents, and store nothing for a bad signature.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <Poco/Logger.h>
#include <Poco/NullChannel.h>

#include "daemon/admin/http_server.h"
#include "daemon/runtime.h"
#include "daemon/sources/webhook_receiver.h"

namespace {

struct World {
  std::string dir;
  atendd::Config config;
  std::unique_ptr<atendd::AdminContext> context;
  std::unique_ptr<atendd::WebhookReceiver> receiver;
};

World* world = nullptr;

void write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  Poco::Logger::root().setChannel(new Poco::NullChannel);
  Poco::Logger::get("fuzz").setChannel(new Poco::NullChannel);
  world = new World;
  char pattern[] = "/tmp/atendd-fuzz-webhook-XXXXXX";
  world->dir = ::mkdtemp(pattern);
  std::atexit([] { std::filesystem::remove_all(world->dir); });  // libFuzzer ends with exit()
  write(world->dir + "/wa.secret", "wa-secret\n");
  write(world->dir + "/tg.secret", "tg-secret\n");
  write(world->dir + "/gen.secret", "gen-secret\n");
  const std::string ini =
      "[server]\naddress = suporte@atendd.test\nreply_address = suporte+{token}@atendd.test\nstate_dir = " +
      world->dir + "/state\n"
      "[agent.maria]\nemail = maria@atendd.test\nname = Maria\ndepartment = suporte\n"
      "[type.geral]\nname = Geral\ndepartment = suporte\nassign = agent:maria\n"
      "[channel.wa]\nkind = whatsapp\nsecret_file = wa.secret\n"
      "[channel.tg]\nkind = telegram\nsecret_file = tg.secret\n"
      "[channel.gen]\nkind = generic\nsecret_file = gen.secret\n";
  auto loaded = atendd::load_config_text(ini, "fuzz.ini", world->dir);
  if (!loaded.config) {
    for (const auto& p : loaded.problems) std::fprintf(stderr, "%s\n", p.to_string().c_str());
    std::abort();
  }
  world->config = *loaded.config;
  auto& log = Poco::Logger::get("fuzz");
  world->context = std::make_unique<atendd::AdminContext>(world->config, log);
  world->context->runtime = std::make_unique<atendd::Runtime>(world->config, log);
  world->receiver = std::make_unique<atendd::WebhookReceiver>(*world->context);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t selector = data[0];
  atendd::AdminRequest request;
  request.method = "POST";
  request.body.assign(reinterpret_cast<const char*>(data + 1), size - 1);
  const char* channels[] = {"wa", "tg", "gen"};
  const std::string channel = channels[selector % 3];
  const int signature = (selector / 3) % 3;  // 0 right, 1 wrong, 2 missing
  request.path = "/webhooks/" + channel;
  const std::string secret = channel + "-secret";
  std::string header = channel == "wa" ? "x-hub-signature-256"
                       : channel == "tg" ? "x-telegram-bot-api-secret-token"
                                         : "x-atendd-signature";
  std::string value = channel == "tg" ? secret : "sha256=" + atendd::hmac_sha256_hex(secret, request.body);
  if (signature == 1) value[value.size() / 2] ^= 1;
  if (signature != 2) request.headers[header] = value;

  auto& store = world->context->runtime->store();
  const std::size_t before = signature != 0 ? store.journal(1 << 30).size() : 0;
  const atendd::AdminResponse response = world->receiver->handle(request, channel);
  const int s = response.status;
  if (s != 200 && s != 400 && s != 401 && s != 403 && s != 503) {
    std::fprintf(stderr, "fuzz_webhook: undocumented status %d: %s\n", s, response.body.c_str());
    std::abort();
  }
  if (signature != 0) {
    const std::size_t after = store.journal(1 << 30).size();
    if (s == 200 || after != before) {
      std::fprintf(stderr, "fuzz_webhook: a request with a bad or missing signature was taken (status %d)\n", s);
      std::abort();
    }
  }
  return 0;
}

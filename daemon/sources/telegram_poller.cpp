// telegram_poller.cpp — see telegram_poller.h.
#include "daemon/sources/telegram_poller.h"

#include <curl/curl.h>

#include <unistd.h>

#include <chrono>
#include <random>
#include <sstream>
#include <thread>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "daemon/admin/counters.h"
#include "daemon/pipeline/inbound.h"
#include "daemon/runtime.h"
#include "daemon/sources/webhook_receiver.h"

namespace atendd {

namespace {

constexpr std::size_t kMaxReply = 8u << 20;

size_t collect(char* data, size_t size, size_t count, void* out) {
  auto* text = static_cast<std::string*>(out);
  if (text->size() + size * count > kMaxReply) return 0;  // aborts the transfer
  text->append(data, size * count);
  return size * count;
}

int progress(void* stop, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<const std::atomic<bool>*>(stop)->load() ? 1 : 0;
}

// One getUpdates; returns the body, or throws with the reason.
std::string get_updates(const ChannelConfig& channel, std::int64_t offset, const std::atomic<bool>& stop) {
  std::string url = channel.poll_url;
  const auto marker = url.find("{token}");
  if (marker != std::string::npos) url.replace(marker, 7, channel.token);
  url += (url.find('?') == std::string::npos ? "?" : "&");
  url += "offset=" + std::to_string(offset) + "&timeout=" + std::to_string(channel.poll_seconds);
  CURL* curl = curl_easy_init();
  if (!curl) throw std::runtime_error("curl_easy_init failed");
  std::string reply;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, static_cast<long>(channel.poll_seconds + 15));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, progress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, const_cast<std::atomic<bool>*>(&stop));
  const CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(curl);
  // The URL holds the bot token: errors name the channel, never the URL.
  if (rc != CURLE_OK) throw std::runtime_error(curl_easy_strerror(rc));
  if (status != 200) throw std::runtime_error("getUpdates answered HTTP " + std::to_string(status));
  return reply;
}

// With a shared database (PostgreSQL) every instance runs the same channels, but a bot has one
// getUpdates reader at a time (Telegram answers a second with 409): the holder of the lease
// "channel:ID" polls, renewing it with every getUpdates; when it dies another takes over once the
// lease ran out. Exactly-once still rests on the journal (the update's message id).
bool shared_database(const Config& config) {
  return config.server.database.rfind("postgresql://", 0) == 0 || config.server.database.rfind("postgres://", 0) == 0;
}

std::string lease_holder_id() {
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  std::random_device random;
  return std::string(host) + ":" + std::to_string(::getpid()) + ":tg" + std::to_string(random() % 100000);
}

}  // namespace

void run_telegram_poller(const ChannelConfig& channel, const Config& config, const std::atomic<bool>& stop,
                         Poco::Logger& log) {
  auto backoff = std::chrono::seconds(1);
  std::string last_error;
  const bool leased = shared_database(config);
  const std::string lease = "channel:" + channel.id, holder = lease_holder_id();
  const int lease_seconds = 3 * channel.poll_seconds + 15;
  while (!stop) {
    try {
      Runtime runtime(config, log);  // this thread's own store connection
      InboundPipeline pipeline(runtime.store(), runtime.blobs(), config, runtime.renderer(), runtime.clock(), log);
      while (!stop) {
        if (leased && !runtime.store().try_acquire_lease(lease, holder, runtime.clock().now(), lease_seconds)) {
          for (int waited = 0; waited < 5 && !stop; ++waited) std::this_thread::sleep_for(std::chrono::seconds(1));
          continue;  // another instance polls this bot
        }
        std::int64_t offset = runtime.store().channel_offset(channel.id);
        const std::string body = get_updates(channel, offset, stop);
        Poco::JSON::Parser parser;
        auto root = parser.parse(body).extract<Poco::JSON::Object::Ptr>();
        if (!root || !root->optValue("ok", false)) throw std::runtime_error("getUpdates did not answer ok");
        auto updates = root->getArray("result");
        for (size_t i = 0; updates && i < updates->size() && !stop; ++i) {
          auto update = updates->getObject(static_cast<unsigned>(i));
          if (!update) continue;
          std::ostringstream text;
          update->stringify(text);
          std::string error;
          for (const auto& message : parse_telegram(text.str(), error))
            deliver_channel_message(pipeline, config, channel, message);
          const std::int64_t id = update->optValue<Poco::Int64>("update_id", 0);
          if (id + 1 > offset) {
            offset = id + 1;
            runtime.store().set_channel_offset(channel.id, offset, runtime.clock().now());
          }
        }
        if (!last_error.empty()) log.information("channel " + channel.id + ": getUpdates works again");
        last_error.clear();
        backoff = std::chrono::seconds(1);
      }
      if (leased) runtime.store().release_lease(lease, holder);  // a clean stop hands the bot over at once
    } catch (const std::exception& e) {
      if (stop) break;
      counters::poll_error(channel.id);  // /metrics
      if (e.what() != last_error) log.error("channel " + channel.id + ": getUpdates: " + e.what());
      last_error = e.what();
      for (auto waited = std::chrono::seconds(0); waited < backoff && !stop; waited += std::chrono::seconds(1))
        std::this_thread::sleep_for(std::chrono::seconds(1));
      backoff = std::min(backoff * 2, std::chrono::seconds(60));
    }
  }
}

}  // namespace atendd

// fake_telegram.h — a POCO HTTP server in the test process standing in for api.telegram.org for
// one bot ("bot-token-1"): getUpdates (long polling with offsets) and sendMessage. Test-only.
#pragma once

#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

#include "support/processes.h"

namespace atendd::test {

// A Bot API update: a text message of Ana Lima in her private chat 4242.
inline std::string telegram_update(std::int64_t update_id, std::int64_t message_id, const std::string& text) {
  return "{\"update_id\":" + std::to_string(update_id) + ",\"message\":{\"message_id\":" + std::to_string(message_id) +
         ",\"date\":1764000000,\"chat\":{\"id\":4242,\"type\":\"private\"},"
         "\"from\":{\"id\":4242,\"first_name\":\"Ana\",\"last_name\":\"Lima\"},\"text\":\"" + text + "\"}}";
}

// api.telegram.org for one bot: getUpdates answers the queued updates with update_id >= offset
// (after a short wait when there are none, as a long poll does), sendMessage records the body.
// replay_once: the next getUpdates answers every update whatever its offset (a provider that
// delivers again, as after a crash between handling an update and storing the offset).
struct FakeTelegram {
  std::mutex mutex;
  std::vector<std::pair<std::int64_t, std::string>> updates;
  std::vector<std::int64_t> offsets;  // of every getUpdates, in order
  std::vector<std::string> sent;      // sendMessage bodies
  std::vector<std::string> bad_paths;
  bool replay_once = false;
  bool failing = false;  // answer 502 to getUpdates
  int in_flight = 0;      // getUpdates being answered now
  int max_in_flight = 0;  // the most at once (one bot, one reader: Telegram refuses a second with 409)

  class Handler : public Poco::Net::HTTPRequestHandler {
   public:
    explicit Handler(FakeTelegram& t) : t_(t) {}
    void handleRequest(Poco::Net::HTTPServerRequest& in, Poco::Net::HTTPServerResponse& out) override {
      Poco::URI uri(in.getURI());
      std::string body;
      Poco::StreamCopier::copyToString(in.stream(), body);
      out.setContentType("application/json");
      if (uri.getPath() == "/botbot-token-1/sendMessage") {
        std::lock_guard<std::mutex> lock(t_.mutex);
        t_.sent.push_back(body);
        out.send() << "{\"ok\":true,\"result\":{\"message_id\":1}}";
        return;
      }
      if (uri.getPath() != "/botbot-token-1/getUpdates") {
        std::lock_guard<std::mutex> lock(t_.mutex);
        t_.bad_paths.push_back(uri.getPath());
        out.setStatus(Poco::Net::HTTPResponse::HTTP_NOT_FOUND);
        out.send() << "{\"ok\":false}";
        return;
      }
      std::int64_t offset = 0;
      for (const auto& [key, value] : uri.getQueryParameters())
        if (key == "offset") offset = std::stoll(value);
      struct InFlight {  // counts this request while it is answered
        FakeTelegram& t;
        explicit InFlight(FakeTelegram& t) : t(t) {
          std::lock_guard<std::mutex> lock(t.mutex);
          t.max_in_flight = std::max(t.max_in_flight, ++t.in_flight);
        }
        ~InFlight() {
          std::lock_guard<std::mutex> lock(t.mutex);
          --t.in_flight;
        }
      } in_flight(t_);
      for (int waited = 0; waited < 5; ++waited) {
        std::string answer;
        {
          std::lock_guard<std::mutex> lock(t_.mutex);
          if (waited == 0) t_.offsets.push_back(offset);
          if (t_.failing) {
            out.setStatus(Poco::Net::HTTPResponse::HTTP_BAD_GATEWAY);
            out.send() << "{\"ok\":false}";
            return;
          }
          for (const auto& [id, update] : t_.updates)
            if (id >= offset || t_.replay_once) answer += (answer.empty() ? "" : ",") + update;
          if (!answer.empty()) t_.replay_once = false;
        }
        if (!answer.empty() || waited == 4) {
          out.send() << "{\"ok\":true,\"result\":[" << answer << "]}";
          return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }

   private:
    FakeTelegram& t_;
  };
  class Factory : public Poco::Net::HTTPRequestHandlerFactory {
   public:
    explicit Factory(FakeTelegram& t) : t_(t) {}
    Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
      return new Handler(t_);
    }

   private:
    FakeTelegram& t_;
  };

  Poco::Net::ServerSocket socket;
  std::unique_ptr<Poco::Net::HTTPServer> server;
  int port = 0;
  FakeTelegram() {
    socket.bind(Poco::Net::SocketAddress("127.0.0.1", 0), true, false);
    socket.listen();
    port = socket.address().port();
    server = std::make_unique<Poco::Net::HTTPServer>(new Factory(*this), socket, new Poco::Net::HTTPServerParams);
    server->start();
  }
  ~FakeTelegram() { server->stopAll(true); }

  void add(std::int64_t update_id, std::int64_t message_id, const std::string& text) {
    std::lock_guard<std::mutex> lock(mutex);
    updates.emplace_back(update_id, telegram_update(update_id, message_id, text));
  }
  template <typename Predicate>
  bool wait(Predicate done, double seconds) {
    for (int i = 0; i < seconds * 10; ++i) {
      {
        std::lock_guard<std::mutex> lock(mutex);
        if (done()) return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::lock_guard<std::mutex> lock(mutex);
    return done();
  }
};

// [channel.tg] of kind telegram with its token and secret files in `dir`; polled by getUpdates
// when `polled`, else fed by its webhook.
inline std::string telegram_channel(int port, const std::string& dir, bool polled = true) {
  write_file(dir + "/tg.token", "bot-token-1\n");
  write_file(dir + "/tg.secret", "tg-secret-1\n");
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  return "[channel.tg]\nkind = telegram\nsecret_file = " + dir + "/tg.secret\ntoken_file = " + dir +
         "/tg.token\n" + (polled ? "poll_url = " + url + "/bot{token}/getUpdates\npoll_seconds = 1\n" : "") +
         "send_url = " + url + "/bot{token}/sendMessage\n";
}

}  // namespace atendd::test

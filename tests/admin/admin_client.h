// admin_client.h — what the admin tests share: a libcurl client for the daemon's HTTP endpoint
// and a daemon configured with admin tokens on a free port (waits until /healthz answers).
// Test-only; talks to real processes over loopback.
#pragma once

#include <catch2/catch.hpp>
#include <curl/curl.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "support/processes.h"

namespace atendd::test {

constexpr const char* kReadToken = "read-token-0123456789abcdef";
constexpr const char* kAdminToken = "admin-token-0123456789abcdef";

struct HttpReply {
  long status = 0;
  std::string body;
  std::string headers;
  Poco::JSON::Object::Ptr json() const {
    Poco::JSON::Parser parser;
    return parser.parse(body).extract<Poco::JSON::Object::Ptr>();
  }
};

inline size_t append_to(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

inline HttpReply http(const std::string& method, const std::string& url, const std::string& token = "",
                      const std::string& body = "", std::vector<std::string> headers = {}) {
  HttpReply reply;
  CURL* curl = curl_easy_init();
  struct curl_slist* list = nullptr;
  if (!token.empty()) headers.push_back("Authorization: Bearer " + token);
  if (!body.empty()) headers.push_back("Content-Type: application/json");
  headers.push_back("Expect:");
  for (const auto& h : headers) list = curl_slist_append(list, h.c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  if (method == "POST") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 20L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append_to);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, append_to);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &reply.headers);
  if (curl_easy_perform(curl) == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply.status);
  curl_slist_free_all(list);
  curl_easy_cleanup(curl);
  return reply;
}

// How many articles of `kind` ("customer_message", …) a GET /api/v1/tickets/P answer holds.
inline int articles_of_kind(const Poco::JSON::Object::Ptr& ticket, const std::string& kind) {
  int n = 0;
  auto list = ticket->getArray("articles");
  for (size_t i = 0; i < list->size(); ++i)
    n += list->getObject(static_cast<unsigned>(i))->getValue<std::string>("kind") == kind ? 1 : 0;
  return n;
}

// A configured daemon with the admin endpoint on a free port. `extra` is appended to the INI.
struct AdminDaemon {
  TempDir dir;
  std::unique_ptr<SmtpSink> sink;
  std::unique_ptr<DaemonProcess> daemon;
  std::string state_dir;
  std::string base;  // "http://127.0.0.1:PORT"

  explicit AdminDaemon(const std::string& extra = "", bool with_sink = true, const std::string& smtp_extra = "") {
    state_dir = dir.path() + "/state";
    int smtp_port = free_port();
    if (with_sink) {
      sink = std::make_unique<SmtpSink>(dir.path() + "/sink");
      smtp_port = sink->port();
    }
    const int port = free_port();
    base = "http://127.0.0.1:" + std::to_string(port);
    write_file(dir.path() + "/admin.tokens", std::string("# name role token\nops read ") + kReadToken +
                                                 "\nroot admin " + kAdminToken + "\n");
    write_file(dir.path() + "/atendd.ini",
               "[server]\n"
               "name = Suporte Teste\n"
               "address = suporte@atendd.test\n"
               "reply_address = suporte+{token}@atendd.test\n"
               "state_dir = " + state_dir + "\n"
               "locale = en\n"
               "admin_listen = 127.0.0.1:" + std::to_string(port) + "\n"
               "admin_tokens = admin.tokens\n"
               "[smtp]\n"
               "host = 127.0.0.1\n"
               "port = " + std::to_string(smtp_port) + "\n"
               "timeout_seconds = 5\n"
               "retry_initial_seconds = 1\n"
               "retry_max_seconds = 1\n" + smtp_extra +
               "[agent.maria]\n"
               "email = maria@atendd.test\n"
               "name = Maria Souza\n"
               "department = suporte\n"
               "[type.geral]\n"
               "name = Geral\n"
               "department = suporte\n"
               "assign = agent:maria\n" + extra);
    daemon = std::make_unique<DaemonProcess>(std::vector<std::string>{"--config", dir.path() + "/atendd.ini"});
    // 30 s: an ASan build starting while the whole suite runs on two cores can take over 10.
    for (int i = 0; i < 600; ++i) {
      if (http("GET", base + "/healthz").status != 0) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    FAIL("the daemon's admin endpoint did not answer within 30 s");
  }
};

}  // namespace atendd::test

// imap_connection.cpp — see imap_connection.h. libcurl is asked for nothing but the connection
// and the login (CONNECT_ONLY); never CURLOPT_VERBOSE, which would print the credentials.
#include "daemon/sources/imap_connection.h"

#include <poll.h>

#include <fstream>
#include <mutex>
#include <sstream>

#include <curl/curl.h>

namespace atendd {

namespace {

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

CURL* handle(void* p) { return static_cast<CURL*>(p); }

// libcurl's progress callback: non-zero aborts the connect/login in progress.
int cancelled(void* cancel, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<const std::atomic<bool>*>(cancel)->load() ? 1 : 0;
}

}  // namespace

ImapConnection::ImapConnection(const MailboxConfig& config, std::chrono::milliseconds read_timeout,
                               std::size_t max_literal)
    : config_(config), read_timeout_(read_timeout), reader_(8u << 20, max_literal) {
  // imap[s]://host[:port]/FOLDER → the server part for libcurl, the folder for SELECT.
  const auto scheme_end = config.url.find("://");
  const auto path_at =
      scheme_end == std::string::npos ? std::string::npos : config.url.find('/', scheme_end + 3);
  base_url_ = path_at == std::string::npos ? config.url + "/" : config.url.substr(0, path_at + 1);
  folder_ = path_at == std::string::npos ? "" : percent_decode(config.url.substr(path_at + 1));
  while (!folder_.empty() && folder_.back() == '/') folder_.pop_back();
  if (const auto semi = folder_.find(';'); semi != std::string::npos) folder_.erase(semi);
  if (folder_.empty()) folder_ = "INBOX";
}

ImapConnection::~ImapConnection() {
  if (curl_) curl_easy_cleanup(handle(curl_));
}

std::string ImapConnection::current_token() {
  if (config_.oauth2_token_file.empty()) return config_.oauth2_token;
  // Re-read at every connection: a token refresher rewrites the file and the old token expires.
  std::ifstream in(config_.oauth2_token_file, std::ios::binary);
  if (!in) return token_.empty() ? config_.oauth2_token : token_;
  std::ostringstream text;
  text << in.rdbuf();
  std::string token = trim(text.str());
  return token.empty() ? config_.oauth2_token : token;
}

void ImapConnection::open(const std::atomic<bool>* cancel) {
  global_init();
  if (curl_) curl_easy_cleanup(handle(curl_));
  reader_.reset();
  capabilities_.clear();
  curl_ = curl_easy_init();
  if (!curl_) throw ImapError("cannot create a libcurl handle");
  CURL* c = handle(curl_);
  char errors[CURL_ERROR_SIZE] = {0};
  const long timeout_ms = static_cast<long>(read_timeout_.count());
  curl_easy_setopt(c, CURLOPT_URL, base_url_.c_str());
  curl_easy_setopt(c, CURLOPT_CONNECT_ONLY, 1L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);  // bounds connect + TLS + login
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errors);
  if (cancel) {
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, &cancelled);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, const_cast<std::atomic<bool>*>(cancel));
  }
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!config_.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, config_.ca_file.c_str());
  const bool plain = config_.url.rfind("imap://", 0) == 0;
  if (plain && config_.tls != "none") curl_easy_setopt(c, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
  curl_easy_setopt(c, CURLOPT_USERNAME, config_.user.c_str());
  if (!config_.oauth2_token_file.empty() || !config_.oauth2_token.empty()) {
    token_ = current_token();
    curl_easy_setopt(c, CURLOPT_XOAUTH2_BEARER, token_.c_str());
    curl_easy_setopt(c, CURLOPT_LOGIN_OPTIONS, "AUTH=XOAUTH2");
  } else {
    curl_easy_setopt(c, CURLOPT_PASSWORD, config_.password.c_str());
  }
  const CURLcode rc = curl_easy_perform(c);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 1L);
  if (rc != CURLE_OK) {
    std::string detail = errors[0] ? errors : curl_easy_strerror(rc);
    while (!detail.empty() && (detail.back() == '\n' || detail.back() == '\r')) detail.pop_back();
    curl_easy_cleanup(c);
    curl_ = nullptr;
    throw ImapError(detail);
  }
  run("CAPABILITY", [this](ImapResponse& r) {
    for (auto& name : parse_capabilities(r)) capabilities_.insert(name);
  });
}

SelectedMailbox ImapConnection::select() {
  SelectedMailbox out;
  run("SELECT " + imap_quote(folder_), [&out](ImapResponse& r) {
    if (auto v = code_number(r, "UIDVALIDITY")) out.uidvalidity = *v;
    if (auto v = code_number(r, "UIDNEXT")) out.uidnext = *v;
    if (r.keyword == "EXISTS" && r.number) out.exists = *r.number;
  });
  if (out.uidvalidity == 0) throw ImapError("SELECT " + folder_ + ": the server sent no UIDVALIDITY");
  return out;
}

void ImapConnection::wait_socket(short events, std::chrono::steady_clock::time_point deadline,
                                 bool& timed_out) {
  timed_out = false;
  curl_socket_t sock = CURL_SOCKET_BAD;
  if (curl_easy_getinfo(handle(curl_), CURLINFO_ACTIVESOCKET, &sock) != CURLE_OK ||
      sock == CURL_SOCKET_BAD) {
    throw ImapError("connection closed");
  }
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) {
    timed_out = true;
    return;
  }
  pollfd pfd{static_cast<int>(sock), events, 0};
  const int n = ::poll(&pfd, 1, static_cast<int>(left.count()));
  if (n == 0) timed_out = true;
  // n < 0 (EINTR) or an error/hang-up: the next recv/send says what happened.
}

void ImapConnection::send_all(const std::string& bytes) {
  if (!curl_) throw ImapError("not connected");
  std::size_t sent_total = 0;
  const auto deadline = std::chrono::steady_clock::now() + read_timeout_;
  while (sent_total < bytes.size()) {
    std::size_t sent = 0;
    const CURLcode rc =
        curl_easy_send(handle(curl_), bytes.data() + sent_total, bytes.size() - sent_total, &sent);
    if (rc == CURLE_AGAIN) {
      bool timed_out = false;
      wait_socket(POLLOUT, deadline, timed_out);
      if (timed_out) throw ImapError("timeout sending to the server");
      continue;
    }
    if (rc != CURLE_OK) throw ImapError(std::string("connection lost: ") + curl_easy_strerror(rc));
    sent_total += sent;
  }
}

std::string ImapConnection::send_command(const std::string& command) {
  std::string tag = "A" + std::to_string(next_tag_++);
  send_all(tag + " " + command + "\r\n");
  return tag;
}

void ImapConnection::send_line(const std::string& line) { send_all(line + "\r\n"); }

std::optional<ImapResponse> ImapConnection::read_response(std::chrono::milliseconds timeout) {
  if (!curl_) throw ImapError("not connected");
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buffer[65536];
  for (;;) {
    try {
      if (auto r = reader_.next()) {
        if (r->kind == ImapResponse::Kind::Untagged && r->keyword == "EXISTS") new_mail_hint_ = true;
        return r;
      }
    } catch (const ImapProtocolError& e) {
      throw ImapError(std::string("unreadable server response: ") + e.what());
    }
    // Drain until CURLE_AGAIN before polling: TLS may hold decrypted bytes inside OpenSSL.
    std::size_t n = 0;
    const CURLcode rc = curl_easy_recv(handle(curl_), buffer, sizeof buffer, &n);
    if (rc == CURLE_OK) {
      if (n == 0) throw ImapError("connection closed by the server");
      reader_.feed(std::string_view(buffer, n));
      continue;
    }
    if (rc != CURLE_AGAIN) throw ImapError(std::string("connection lost: ") + curl_easy_strerror(rc));
    bool timed_out = false;
    wait_socket(POLLIN, deadline, timed_out);
    if (timed_out) return std::nullopt;
  }
}

ImapResponse ImapConnection::read_or_throw(const std::string& what) {
  auto r = read_response(read_timeout_);
  if (!r) throw ImapError("timeout waiting for the server's answer to " + what);
  return std::move(*r);
}

void ImapConnection::run(const std::string& command,
                         const std::function<void(ImapResponse&)>& on_untagged) {
  const std::string tag = send_command(command);
  // The command's name only: arguments may be long (UID sets) and are not worth a log line.
  finish(tag, command.substr(0, command.find(' ', command.rfind("UID ", 0) == 0 ? 4 : 0)), on_untagged);
}

void ImapConnection::finish(const std::string& tag, const std::string& name,
                            const std::function<void(ImapResponse&)>& on_untagged) {
  for (;;) {
    ImapResponse r = read_or_throw(name);
    if (r.kind == ImapResponse::Kind::Tagged) {
      if (r.tag != tag) continue;  // a late answer to an earlier command
      if (!r.is_ok()) throw ImapError(name + " failed: " + r.status + " " + r.text);
      for (auto& cap : parse_capabilities(r)) capabilities_.insert(cap);
      return;
    }
    if (r.kind == ImapResponse::Kind::Untagged && r.keyword == "BYE") {
      throw ImapError("the server closed the session: " + r.text);
    }
    if (r.kind == ImapResponse::Kind::Continuation) {
      throw ImapError(name + ": unexpected continuation request");
    }
    if (on_untagged) on_untagged(r);
  }
}

void ImapConnection::logout() noexcept {
  if (!curl_) return;
  try {
    const std::string tag = send_command("LOGOUT");
    for (int i = 0; i < 4; ++i) {
      auto r = read_response(std::chrono::milliseconds(500));
      if (!r || (r->kind == ImapResponse::Kind::Tagged && r->tag == tag)) break;
    }
  } catch (...) {
  }
  curl_easy_cleanup(handle(curl_));
  curl_ = nullptr;
}

}  // namespace atendd

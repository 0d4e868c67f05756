// imap_connection.h — one raw IMAP session to a [mailbox.NAME]: libcurl (CONNECT_ONLY) does the
// connection, TLS (imaps://, or STARTTLS required on imap:// unless tls = none), the certificate
// check and the login (password, or XOAUTH2 with the token file re-read when it changes); then
// tagged commands and their responses go over curl_easy_send/recv. Every read has a timeout.
// Never logs or puts into an error message a password or a token.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>

#include "daemon/config/config.h"
#include "daemon/sources/imap_response.h"

namespace atendd {

// The connection failed (connect, TLS, login, timeout, closed by the server) or a command got
// NO/BAD; the text says which, without secrets.
class ImapError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct SelectedMailbox {
  std::int64_t uidvalidity = 0;
  std::int64_t uidnext = 0;
  std::int64_t exists = 0;
};

class ImapConnection {
 public:
  // `read_timeout` bounds every wait for the server (login included); `max_literal` bounds one
  // literal of a response.
  ImapConnection(const MailboxConfig& config, std::chrono::milliseconds read_timeout,
                 std::size_t max_literal);
  ~ImapConnection();
  ImapConnection(const ImapConnection&) = delete;
  ImapConnection& operator=(const ImapConnection&) = delete;

  // Connects, logs in and asks for the capabilities. Throws ImapError. When `cancel` becomes
  // true the attempt is given up within about a second.
  void open(const std::atomic<bool>* cancel = nullptr);
  // SELECTs the mailbox's folder (the URL's path; INBOX when empty). Throws ImapError.
  SelectedMailbox select();
  // True when the server announced the capability (upper case name: "IDLE", "MOVE", "UIDPLUS").
  bool has_capability(const std::string& name) const { return capabilities_.count(name) > 0; }
  const std::string& folder() const { return folder_; }

  // Sends `command` with a fresh tag and reads to its tagged completion; every untagged response
  // on the way goes to `on_untagged`. Throws ImapError on NO/BAD, a timeout or a closed connection.
  void run(const std::string& command, const std::function<void(ImapResponse&)>& on_untagged = {});

  // Reads to the tagged completion of a command sent earlier with send_command (pipelining: several
  // commands may be out at once; finish them in the order they were sent). Throws like run().
  void finish(const std::string& tag, const std::string& name,
              const std::function<void(ImapResponse&)>& on_untagged = {});

  // Low level, for IDLE: sends a tagged command and returns its tag; sends a raw line (CRLF added);
  // reads one response, or nothing when `timeout` passed first.
  std::string send_command(const std::string& command);
  void send_line(const std::string& line);
  std::optional<ImapResponse> read_response(std::chrono::milliseconds timeout);

  // True when an untagged EXISTS was read since the last call (by run() or read_response(), for
  // any command): new mail the server announced outside IDLE, which it will not announce again.
  bool take_new_mail_hint() {
    const bool hint = new_mail_hint_;
    new_mail_hint_ = false;
    return hint;
  }

  // Best effort LOGOUT; never throws.
  void logout() noexcept;

 private:
  void send_all(const std::string& bytes);
  void wait_socket(short events, std::chrono::steady_clock::time_point deadline, bool& timed_out);
  ImapResponse read_or_throw(const std::string& what);
  std::string current_token();

  const MailboxConfig& config_;
  std::chrono::milliseconds read_timeout_;
  void* curl_ = nullptr;  // CURL*
  std::string base_url_;
  std::string folder_;
  std::set<std::string> capabilities_;
  ImapResponseReader reader_;
  std::uint64_t next_tag_ = 1;
  std::string token_;  // XOAUTH2 bearer token, as last read
  bool new_mail_hint_ = false;
};

}  // namespace atendd

// smtp_sender.h — delivers composed mails over SMTP with POCO: plain, STARTTLS or TLS, optional
// AUTH, TCP_NODELAY, and one connection kept open and reused across mails.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "daemon/config/config.h"

namespace Poco::Net {
class SMTPClientSession;
}

namespace atendd {

// A delivery that did not happen. `permanent` when the server refused with a 5xx reply
// (retrying the same mail cannot help); otherwise worth retrying later.
class SmtpFailure : public std::runtime_error {
 public:
  SmtpFailure(const std::string& what, bool permanent) : std::runtime_error(what), permanent_(permanent) {}
  bool permanent() const { return permanent_; }
 private:
  bool permanent_;
};

class SmtpSender {
 public:
  SmtpSender(SmtpConfig config, std::string helo);
  ~SmtpSender();
  SmtpSender(const SmtpSender&) = delete;
  SmtpSender& operator=(const SmtpSender&) = delete;

  // Sends one message (CRLF bytes) to the envelope recipients; connects when there is no open
  // connection, and reconnects once when a kept connection turns out to be dead.
  void send(const std::string& mail_from, const std::vector<std::string>& recipients, const std::string& raw);
  // Says QUIT and closes the connection, if any.
  void close();
  bool connected() const { return session_ != nullptr; }

 private:
  void connect();
  void transmit(const std::string& mail_from, const std::vector<std::string>& recipients, const std::string& raw);

  SmtpConfig config_;
  std::string helo_;
  std::unique_ptr<Poco::Net::SMTPClientSession> session_;
};

}  // namespace atendd

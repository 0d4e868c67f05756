// smtp_sender.cpp — see smtp_sender.h.
#include "daemon/outbox/smtp_sender.h"

#include <sstream>

#include <Poco/Net/Context.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SMTPClientSession.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/SecureSMTPClientSession.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>

namespace atendd {

namespace {

Poco::Net::Context::Ptr client_context(const std::string& ca_file) {
  static const bool initialized = [] {
    Poco::Net::initializeSSL();
    return true;
  }();
  (void)initialized;
  // VERIFY_RELAXED checks the chain; with no CA file the system's CAs are used.
  return new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, "", "", ca_file,
                                Poco::Net::Context::VERIFY_RELAXED, 9, ca_file.empty());
}

}  // namespace

SmtpSender::SmtpSender(SmtpConfig config, std::string helo) : config_(std::move(config)), helo_(std::move(helo)) {}

SmtpSender::~SmtpSender() { close(); }

void SmtpSender::close() {
  if (!session_) return;
  try {
    session_->close();
  } catch (...) {
  }
  session_.reset();
}

void SmtpSender::connect() {
  const Poco::Net::SocketAddress address(config_.host, static_cast<Poco::UInt16>(config_.port));
  const Poco::Timespan timeout(config_.timeout_seconds, 0);
  try {
    if (config_.tls == SmtpTls::Tls) {
      Poco::Net::SecureStreamSocket socket(client_context(config_.ca_file));
      socket.setPeerHostName(config_.host);
      socket.connect(address, timeout);
      socket.setNoDelay(true);
      session_ = std::make_unique<Poco::Net::SMTPClientSession>(socket);
      session_->setTimeout(timeout);
      session_->login(helo_);
    } else if (config_.tls == SmtpTls::StartTls) {
      Poco::Net::StreamSocket socket;
      socket.connect(address, timeout);
      socket.setNoDelay(true);
      auto secure = std::make_unique<Poco::Net::SecureSMTPClientSession>(socket);
      secure->setTimeout(timeout);
      secure->login(helo_);
      if (!secure->startTLS(client_context(config_.ca_file)))
        throw SmtpFailure("the SMTP server " + config_.host + " does not offer STARTTLS", false);
      secure->login(helo_);
      session_ = std::move(secure);
    } else {
      Poco::Net::StreamSocket socket;
      socket.connect(address, timeout);
      socket.setNoDelay(true);
      session_ = std::make_unique<Poco::Net::SMTPClientSession>(socket);
      session_->setTimeout(timeout);
      session_->login(helo_);
    }
    if (!config_.user.empty())
      session_->login(Poco::Net::SMTPClientSession::AUTH_LOGIN, config_.user, config_.password);
  } catch (const SmtpFailure&) {
    session_.reset();
    throw;
  } catch (const Poco::Net::SMTPException& e) {
    session_.reset();
    throw SmtpFailure("SMTP " + config_.host + ":" + std::to_string(config_.port) + ": " + e.displayText(),
                      false);
  } catch (const Poco::Exception& e) {
    session_.reset();
    throw SmtpFailure("connecting to SMTP " + config_.host + ":" + std::to_string(config_.port) + ": " +
                          e.displayText(), false);
  }
}

void SmtpSender::transmit(const std::string& mail_from, const std::vector<std::string>& recipients,
                          const std::string& raw) {
  Poco::Net::SMTPClientSession::Recipients rcpt(recipients.begin(), recipients.end());
  session_->sendAddresses(mail_from, rcpt);
  session_->sendData();
  std::istringstream body(raw);
  session_->sendMessage(body);
}

void SmtpSender::send(const std::string& mail_from, const std::vector<std::string>& recipients,
                      const std::string& raw) {
  const bool reused = session_ != nullptr;
  if (!session_) connect();
  try {
    transmit(mail_from, recipients, raw);
    return;
  } catch (const Poco::Net::SMTPException& e) {
    if (e.code() == 0 || e.code() == 421) {
      // No reply, or "closing channel": the kept connection is dead, not the mail refused.
      close();
      if (!reused) throw SmtpFailure("SMTP " + config_.host + ": " + e.displayText(), false);
    } else {
      // A refusal: reset the transaction so the connection stays usable for the next mail.
      const bool permanent = e.code() >= 500 && e.code() < 600;
      std::string response;
      try {
        session_->sendCommand("RSET", response);
      } catch (...) {
        close();
      }
      throw SmtpFailure("SMTP " + config_.host + " refused: " + e.displayText(), permanent);
    }
  } catch (const Poco::Exception& e) {
    close();
    if (!reused) throw SmtpFailure("SMTP " + config_.host + ": " + e.displayText(), false);
  }
  // The kept connection was dead (server timeout, restart): one fresh try.
  connect();
  try {
    transmit(mail_from, recipients, raw);
  } catch (const Poco::Net::SMTPException& e) {
    close();
    throw SmtpFailure("SMTP " + config_.host + " refused: " + e.displayText(), e.code() >= 500 && e.code() < 600);
  } catch (const Poco::Exception& e) {
    close();
    throw SmtpFailure("SMTP " + config_.host + ": " + e.displayText(), false);
  }
}

}  // namespace atendd

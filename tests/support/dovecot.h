// dovecot.h — a real Dovecot for tests: IMAP (STARTTLS offered) and IMAPS on free ports of
// 127.0.0.1, a fresh runtime directory, users with the password "secret", a self-signed
// certificate the tests use as CA file. Mail is put in and looked at with doveadm, so the tests
// never go through the IMAP code they check. Stops the server it started, and nothing else.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "support/processes.h"

namespace atendd::test {

struct StoredMessage {
  std::int64_t uid = 0;
  std::string flags;  // as doveadm prints them: "\Seen \Deleted"
  bool seen() const { return flags.find("\\Seen") != std::string::npos; }
};

class Dovecot {
 public:
  // Starts Dovecot with these users (password "secret"); waits until both ports accept.
  explicit Dovecot(std::vector<std::string> users = {"support", "customer", "agent"});
  ~Dovecot();  // stops it
  Dovecot(const Dovecot&) = delete;
  Dovecot& operator=(const Dovecot&) = delete;

  int imap_port() const { return imap_port_; }
  int imaps_port() const { return imaps_port_; }
  const std::string& ca_file() const { return ca_file_; }
  const std::string& dir() const { return dir_.path(); }
  std::string password() const { return "secret"; }
  // "imap://127.0.0.1:PORT/FOLDER" and "imaps://127.0.0.1:PORT/FOLDER".
  std::string imap_url(const std::string& folder = "INBOX") const;
  std::string imaps_url(const std::string& folder = "INBOX") const;

  // Stops the server (kills its master and the master's processes, waits until the ports are
  // closed) and starts it again on the same ports with
  // the same mail.
  void stop();
  void start();

  // Saves an unseen message into the user's folder (doveadm save).
  void add_unseen(const std::string& user, const std::string& raw, const std::string& folder = "INBOX");
  // Many unseen messages at once, written straight into the user's INBOX Maildir (fast).
  void add_unseen_many(const std::string& user, const std::vector<std::string>& raws);
  // The messages in a folder with their flags, in UID order.
  std::vector<StoredMessage> list(const std::string& user, const std::string& folder = "INBOX");
  void create_folder(const std::string& user, const std::string& folder);
  // Gives the folder a new UIDVALIDITY (what a server does when it rebuilt the folder).
  void set_uidvalidity(const std::string& user, const std::string& folder, std::int64_t uidvalidity);
  std::int64_t uidvalidity(const std::string& user, const std::string& folder = "INBOX");

  // Runs `doveadm -c CONF ARGS` (a shell fragment); returns its output; throws on failure.
  std::string doveadm(const std::string& args);

 private:
  void write_config();
  TempDir dir_;
  std::vector<std::string> users_;
  int imap_port_ = 0;
  int imaps_port_ = 0;
  std::string ca_file_;
  std::string conf_;
  int pid_ = -1;
  int saved_ = 0;
};

}  // namespace atendd::test

// dovecot.cpp — see dovecot.h. Follows the recipe verified in ../shared/notes/test-servers.md:
// login and mail processes run as nobody:nogroup, so every directory they pass is mode 755 and
// the mail belongs to nobody.
#include "support/dovecot.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <regex>
#include <stdexcept>
#include <thread>

namespace atendd::test {

namespace fs = std::filesystem;

namespace {

// Runs a shell command; returns its output (stdout and stderr); throws when it fails.
std::string shell(const std::string& command) {
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (!p) throw std::runtime_error("popen failed: " + command);
  std::string out;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, p)) > 0) out.append(buffer, n);
  const int status = ::pclose(p);
  if (status != 0) throw std::runtime_error("`" + command + "` failed: " + out);
  return out;
}

bool accepts(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

// True while `pid` runs; a zombie waiting for init to reap it counts as gone.
bool alive(pid_t pid) {
  if (::kill(pid, 0) != 0) return false;
  const std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  const auto close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

void chown_nobody(const std::string& path) {
  const passwd* pw = ::getpwnam("nobody");
  if (!pw) throw std::runtime_error("no user nobody");
  for (auto& entry : fs::recursive_directory_iterator(path)) {
    if (::chown(entry.path().c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      throw std::runtime_error("chown failed: " + entry.path().string());
    }
  }
  if (::chown(path.c_str(), pw->pw_uid, pw->pw_gid) != 0) throw std::runtime_error("chown failed: " + path);
}

}  // namespace

Dovecot::Dovecot(std::vector<std::string> users) : users_(std::move(users)) {
  ::chmod(dir_.path().c_str(), 0755);
  imap_port_ = free_port();
  do imaps_port_ = free_port();
  while (imaps_port_ == imap_port_);
  ca_file_ = dir_.path() + "/cert.pem";
  shell("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost"
        " -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout " + dir_.path() + "/key.pem -out " +
        ca_file_);
  write_config();
  start();
}

Dovecot::~Dovecot() {
  try {
    stop();
  } catch (...) {
  }
}

void Dovecot::write_config() {
  const std::string d = dir_.path() + "/imap";
  for (const char* sub : {"run", "state", "mail", "home"}) fs::create_directories(d + "/" + sub);
  ::chmod(d.c_str(), 0755);
  std::string passwd;
  for (const auto& u : users_) passwd += u + ":{PLAIN}secret\n";
  write_file(d + "/passwd", passwd);
  conf_ = d + "/dovecot.conf";
  write_file(conf_,
             "base_dir = " + d + "/run\n"
             "state_dir = " + d + "/state\n"
             "log_path = " + d + "/dovecot.log\n"
             "protocols = imap\n"
             "listen = 127.0.0.1\n"
             "ssl = yes\n"
             "ssl_cert = <" + ca_file_ + "\n"
             "ssl_key = <" + dir_.path() + "/key.pem\n"
             "disable_plaintext_auth = no\n"
             "auth_mechanisms = plain login\n"
             "mail_location = maildir:" + d + "/mail/%u\n"
             "mail_fsync = never\n"
             "auth_failure_delay = 0\n"
             "default_internal_user = dovecot\n"
             "default_internal_group = dovecot\n"
             "default_login_user = dovenull\n"
             "passdb {\n"
             "  driver = passwd-file\n"
             "  args = scheme=PLAIN username_format=%u " + d + "/passwd\n"
             "}\n"
             "userdb {\n"
             "  driver = static\n"
             "  args = uid=nobody gid=nogroup home=" + d + "/home/%u\n"
             "}\n"
             "service imap-login {\n"
             "  inet_listener imap {\n"
             "    address = 127.0.0.1\n"
             "    port = " + std::to_string(imap_port_) + "\n"
             "  }\n"
             "  inet_listener imaps {\n"
             "    address = 127.0.0.1\n"
             "    port = " + std::to_string(imaps_port_) + "\n"
             "    ssl = yes\n"
             "  }\n"
             "}\n");
  chown_nobody(d + "/mail");
  chown_nobody(d + "/home");
}

void Dovecot::start() {
  // Daemonises; its master's pid goes to run/master.pid. Its output goes to a file: the daemon
  // keeps whatever it inherits open, so a pipe to it would never reach end of file.
  const std::string command =
      "dovecot -c " + conf_ + " < /dev/null > " + dir_.path() + "/imap/dovecot.out 2>&1";
  if (std::system(command.c_str()) != 0) {
    throw std::runtime_error("dovecot did not start: " + read_file(dir_.path() + "/imap/dovecot.out"));
  }
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  // The pid file may come a moment after the listeners.
  for (;;) {
    const std::string pid = read_file(dir_.path() + "/imap/run/master.pid");
    if (!pid.empty() && std::isdigit(static_cast<unsigned char>(pid[0]))) pid_ = std::stoi(pid);
    if (pid_ > 0 && accepts(imap_port_) && accepts(imaps_port_)) break;
    if (std::chrono::steady_clock::now() > until) {
      stop();
      throw std::runtime_error("Dovecot did not start: " + read_file(dir_.path() + "/imap/dovecot.log"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void Dovecot::stop() {
  if (pid_ <= 0) return;
  const pid_t pid = pid_;
  pid_ = -1;
  // The master leaves its session processes (imap-login, imap) serving open connections; they
  // go too, so that clients see the server gone, as after a real restart.
  std::vector<pid_t> children;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    const std::string stat = read_file(entry.path().string() + "/stat");
    const auto close = stat.rfind(')');
    if (close == std::string::npos || close + 4 >= stat.size()) continue;
    std::string rest = stat.substr(close + 4);  // after ") S "
    if (std::atoi(rest.c_str()) == pid) children.push_back(static_cast<pid_t>(std::stoi(name)));
  }
  // A graceful stop takes the master about 3 s; the tests need only the effect on clients, and
  // the mail is on disk, so the server and its processes are killed outright.
  ::kill(pid, SIGKILL);
  for (const pid_t child : children) ::kill(child, SIGKILL);
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (alive(pid)) {
    if (std::chrono::steady_clock::now() > until) {
      ::kill(pid, SIGKILL);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  // A killed master may linger as a zombie, which a new `dovecot` would take for a running one.
  fs::remove(dir_.path() + "/imap/run/master.pid");
  while (accepts(imap_port_) || accepts(imaps_port_)) {
    if (std::chrono::steady_clock::now() > until + std::chrono::seconds(2)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::string Dovecot::imap_url(const std::string& folder) const {
  return "imap://127.0.0.1:" + std::to_string(imap_port_) + "/" + folder;
}

std::string Dovecot::imaps_url(const std::string& folder) const {
  return "imaps://127.0.0.1:" + std::to_string(imaps_port_) + "/" + folder;
}

std::string Dovecot::doveadm(const std::string& args) { return shell("doveadm -c " + conf_ + " " + args); }

void Dovecot::add_unseen(const std::string& user, const std::string& raw, const std::string& folder) {
  const std::string file = dir_.path() + "/save-" + std::to_string(++saved_) + ".eml";
  write_file(file, raw);
  doveadm("save -u " + user + " -m '" + folder + "' < " + file);
  fs::remove(file);
}

void Dovecot::add_unseen_many(const std::string& user, const std::vector<std::string>& raws) {
  // Make sure the Maildir exists (doveadm creates it), then drop the files in as a local
  // delivery agent would: tmp/, owned by nobody, renamed into new/.
  doveadm("mailbox status -u " + user + " messages INBOX");
  const std::string maildir = dir_.path() + "/imap/mail/" + user;
  const passwd* pw = ::getpwnam("nobody");
  int n = 0;
  for (const auto& raw : raws) {
    const std::string name =
        std::to_string(::time(nullptr)) + ".M" + std::to_string(++saved_) + "P" + std::to_string(::getpid()) +
        "_" + std::to_string(++n) + ".atendd-test";
    write_file(maildir + "/tmp/" + name, raw);
    if (pw && ::chown((maildir + "/tmp/" + name).c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      throw std::runtime_error("chown failed");
    }
    fs::rename(maildir + "/tmp/" + name, maildir + "/new/" + name);
  }
}

std::vector<StoredMessage> Dovecot::list(const std::string& user, const std::string& folder) {
  const std::string out = doveadm("-f tab fetch -u " + user + " 'uid flags' mailbox '" + folder + "'");
  std::vector<StoredMessage> messages;
  size_t pos = 0;
  bool header = true;
  while (pos < out.size()) {
    size_t end = out.find('\n', pos);
    if (end == std::string::npos) end = out.size();
    const std::string line = out.substr(pos, end - pos);
    pos = end + 1;
    if (header) {  // "uid\tflags"
      header = false;
      continue;
    }
    if (line.empty()) continue;
    StoredMessage m;
    const auto tab = line.find('\t');
    m.uid = std::stoll(line.substr(0, tab));
    if (tab != std::string::npos) m.flags = line.substr(tab + 1);
    messages.push_back(m);
  }
  return messages;
}

void Dovecot::create_folder(const std::string& user, const std::string& folder) {
  doveadm("mailbox create -u " + user + " '" + folder + "'");
}

void Dovecot::set_uidvalidity(const std::string& user, const std::string& folder, std::int64_t uidvalidity) {
  doveadm("mailbox update -u " + user + " --uid-validity " + std::to_string(uidvalidity) + " '" + folder + "'");
}

std::int64_t Dovecot::uidvalidity(const std::string& user, const std::string& folder) {
  const std::string out = doveadm("mailbox status -u " + user + " uidvalidity '" + folder + "'");
  std::smatch m;
  if (!std::regex_search(out, m, std::regex("uidvalidity=([0-9]+)"))) {
    throw std::runtime_error("no uidvalidity in: " + out);
  }
  return std::stoll(m[1]);
}

}  // namespace atendd::test

// reply_token.cpp — see reply_token.h.
#include "daemon/tickets/reply_token.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <Poco/DigestEngine.h>
#include <Poco/File.h>
#include <Poco/HMACEngine.h>
#include <Poco/SHA2Engine.h>
#include <Poco/String.h>

#include "daemon/tickets/engine.h"  // random_hex

namespace atendd {
namespace {

class SHA256Engine : public Poco::SHA2Engine {
 public:
  enum { BLOCK_SIZE = 64, DIGEST_SIZE = 32 };
  SHA256Engine() : Poco::SHA2Engine(Poco::SHA2Engine::SHA_256) {}
};

constexpr size_t kMacChars = 16;

std::string mac_of(const ServerConfig& server, const std::string& ticket_token) {
  return hmac_sha256_hex(server.secret, "agent:" + ticket_token).substr(0, kMacChars);
}

}  // namespace

std::string hmac_sha256_hex(const std::string& key, const std::string& body) {
  Poco::HMACEngine<SHA256Engine> hmac(key);
  hmac.update(body);
  return Poco::DigestEngine::digestToHex(hmac.digest());
}

bool same_secret(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const std::string& longer = a.size() >= b.size() ? a : b;
  for (size_t i = 0; i < longer.size(); ++i)
    diff |= static_cast<unsigned char>((i < a.size() ? a[i] : 0) ^ (i < b.size() ? b[i] : 0));
  return diff == 0;
}

std::string agent_reply_token(const ServerConfig& server, const std::string& ticket_token) {
  if (server.secret.empty() || ticket_token.empty()) return ticket_token;
  return ticket_token + mac_of(server, ticket_token);
}

ReplyTokenRef read_reply_token(const ServerConfig& server, const std::string& token) {
  ReplyTokenRef ref;
  ref.ticket_token = token;
  if (server.secret.empty() || token.size() <= kMacChars) return ref;
  const std::string ticket_token = token.substr(0, token.size() - kMacChars);
  if (same_secret(token.substr(ticket_token.size()), mac_of(server, ticket_token))) {
    ref.ticket_token = ticket_token;
    ref.agent = true;
  }
  return ref;
}

bool read_token_secret(ServerConfig& server) {
  if (!server.secret.empty()) return true;
  std::ifstream in(server.state_dir + "/secret");
  if (!in) return false;
  std::stringstream content;
  content << in.rdbuf();
  const std::string secret = Poco::trim(content.str());
  if (secret.size() < 32) return false;
  server.secret = secret;
  return true;
}

void ensure_token_secret(ServerConfig& server) {
  if (!server.secret.empty()) return;
  Poco::File(server.state_dir).createDirectories();
  const std::string path = server.state_dir + "/secret";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    const std::string fresh = random_hex(32) + "\n";
    const bool written = ::write(fd, fresh.data(), fresh.size()) == static_cast<ssize_t>(fresh.size()) && ::fsync(fd) == 0;
    ::close(fd);
    if (!written) {
      ::unlink(path.c_str());
      throw std::runtime_error("cannot write " + path + ": " + std::strerror(errno));
    }
  } else if (errno != EEXIST) {
    throw std::runtime_error("cannot create " + path + ": " + std::strerror(errno));
  }
  // Created here or by another process a moment ago (it may still be writing it: wait for it).
  for (int attempt = 0; attempt < 50; ++attempt) {
    if (read_token_secret(server)) return;
    ::usleep(20000);
  }
  throw std::runtime_error(path + " holds no secret (remove it and start again, or set secret_file)");
}

}  // namespace atendd

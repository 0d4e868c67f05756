// auth.cpp — see auth.h.
#include "daemon/admin/auth.h"

#include <sstream>

#include <Poco/Base64Decoder.h>
#include <Poco/DigestEngine.h>
#include <Poco/SHA2Engine.h>

namespace atendd {

namespace {

std::string trimmed(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

bool starts_with_ci(const std::string& s, const std::string& prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != std::tolower(static_cast<unsigned char>(prefix[i])))
      return false;
  return true;
}

}  // namespace

std::optional<AdminCaller> TokenCheck::check(const std::string& token) const {
  if (token.empty()) return std::nullopt;
  Poco::SHA2Engine sha(Poco::SHA2Engine::SHA_256);
  sha.update(token);
  const std::string hash = Poco::DigestEngine::digestToHex(sha.digest());
  std::optional<AdminCaller> found;
  for (const auto& entry : tokens_) {
    // Every entry is compared byte by byte to the end: no early exit reveals a prefix.
    unsigned char diff = entry.sha256.size() == hash.size() ? 0 : 1;
    for (size_t i = 0; i < hash.size(); ++i)
      diff |= static_cast<unsigned char>(hash[i] ^ (i < entry.sha256.size() ? entry.sha256[i] : 0));
    if (diff == 0 && !found) found = AdminCaller{entry.name, entry.role == "admin" ? AdminRole::Admin : AdminRole::Read};
  }
  return found;
}

std::string token_of_authorization(const std::string& header) {
  const std::string value = trimmed(header);
  if (starts_with_ci(value, "bearer ")) return trimmed(value.substr(7));
  if (starts_with_ci(value, "basic ")) {
    try {
      std::istringstream in(trimmed(value.substr(6)));
      Poco::Base64Decoder decoder(in);
      std::string decoded((std::istreambuf_iterator<char>(decoder)), std::istreambuf_iterator<char>());
      const auto colon = decoded.find(':');
      return colon == std::string::npos ? "" : decoded.substr(colon + 1);
    } catch (const std::exception&) {
      return "";
    }
  }
  return "";
}

std::string cookie_value(const std::string& header, const std::string& name) {
  std::istringstream in(header);
  std::string part;
  while (std::getline(in, part, ';')) {
    part = trimmed(part);
    if (part.size() > name.size() && part.compare(0, name.size(), name) == 0 && part[name.size()] == '=')
      return part.substr(name.size() + 1);
  }
  return "";
}

}  // namespace atendd

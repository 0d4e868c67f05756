// auth.h — who is calling the admin endpoint: bearer tokens from the admin_tokens file (held as
// SHA-256 hashes only, compared in constant time), with a role each: `read` may GET, `admin` may
// do everything. Never logs or returns a token.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "daemon/config/config.h"

namespace atendd {

enum class AdminRole { Read, Admin };

struct AdminCaller {
  std::string name;  // the token's name in the file (for logs and history)
  AdminRole role = AdminRole::Read;
};

class TokenCheck {
 public:
  explicit TokenCheck(std::vector<AdminToken> tokens) : tokens_(std::move(tokens)) {}
  // The caller holding `token`, or nothing. Takes the same time whichever entry matches.
  std::optional<AdminCaller> check(const std::string& token) const;
  bool empty() const { return tokens_.empty(); }

 private:
  std::vector<AdminToken> tokens_;
};

// The token of an "Authorization: Bearer T" value, or of "Basic base64(user:T)" (a browser's
// credentials; the user part is ignored); empty when neither.
std::string token_of_authorization(const std::string& header);
// The value of cookie `name` in a Cookie header, or "".
std::string cookie_value(const std::string& header, const std::string& name);

}  // namespace atendd

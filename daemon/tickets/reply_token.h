// reply_token.h — the two tokens of a ticket's reply address ("suporte+TOKEN@…"). Mails to the
// customer and other participants carry the ticket's reply token; mails to agents carry the agent
// token: the same token followed by a MAC of it under the installation's secret ([server]
// secret_file, or the `secret` file atendd keeps in state_dir). Only the agent token proves an
// agent, so a customer who has the reply token from her own mails cannot pose as the agent by
// forging the agent's From.
#pragma once

#include <string>

#include "daemon/config/config.h"

namespace atendd {

// Lower-case hex HMAC-SHA256 of `body` with `key` (reply tokens, webhook signatures).
std::string hmac_sha256_hex(const std::string& key, const std::string& body);
// Compares in time independent of where they differ.
bool same_secret(const std::string& a, const std::string& b);

// The agent token of a ticket whose reply token is `ticket_token`; the reply token itself when the
// installation has no secret (then only the MTA's Authentication-Results can prove an agent apart).
std::string agent_reply_token(const ServerConfig& server, const std::string& ticket_token);

// What a token found among a message's recipients names.
struct ReplyTokenRef {
  std::string ticket_token;  // the reply token of the ticket it belongs to ("" when not ours)
  bool agent = false;        // the agent token of that ticket, with a MAC that checks
};
ReplyTokenRef read_reply_token(const ServerConfig& server, const std::string& token);

// Reads `state_dir/secret` into server.secret when it exists and no secret_file gave one; true
// when server.secret is set after. Creates nothing (route --explain writes nothing).
bool read_token_secret(ServerConfig& server);

// Reads `state_dir/secret`, creating it (32 random bytes as hex, mode 0600) when missing, into
// server.secret unless a secret_file gave one. Throws std::runtime_error when it cannot.
void ensure_token_secret(ServerConfig& server);

}  // namespace atendd

// forward_to_open.h — decides whether a new message is a configured agent handing us a
// customer's e-mail (forward-to-open): the ticket then opens in the customer's name with the
// customer's text, date and attachments, and the agent is recorded as who opened it. The format
// is read by parsers/forwarded_message.h; this file only decides who may do it. Only an agent
// proved as for a reply (the agent's address and either the agent's forwarding token among the
// recipients or our MTA's Authentication-Results) opens for someone else (invariant 5): anyone
// else's forward is an ordinary ticket from the forwarder.
#pragma once

#include <optional>
#include <string>

#include "daemon/config/config.h"
#include "daemon/pipeline/threader.h"
#include "daemon/tickets/engine.h"
#include "parsers/forwarded_message.h"
#include "storage/blob_store.h"

namespace atendd {

struct ForwardToOpen {
  const AgentConfig* agent = nullptr;
  std::string proof;            // "forwarding token" or "Authentication-Results"
  ForwardedMessage original;
  ParsedMessage customer;       // the original as a message the customer wrote to us
};

// The decision for a message that threads into no ticket. Nothing when it is no forward, when
// its sender is not a proved agent (`why_not`, when given, says which, for the log), or when the
// forwarded sender cannot be a customer (ours, an agent, the forwarder, no usable address).
// `archived`: the message comes from an archive import, where an agent's address is proof
// enough (old mail cannot carry our tokens; the administrator vouches for the archive).
std::optional<ForwardToOpen> forward_to_open(const ParsedMessage& message, const Config& config,
                                             const Threader& threader, bool archived = false,
                                             std::string* why_not = nullptr);

// The secret token of an agent's forwarding address: the first 24 hex digits of
// HMAC-SHA256([server] secret, "forward:" + agent id); "" when the server has no secret.
std::string agent_forward_token(const ServerConfig& server, const AgentConfig& agent);
// reply_address with that token ("suporte+TOKEN@…"); "" when there is no token or no {token}.
std::string agent_forward_address(const ServerConfig& server, const AgentConfig& agent);

// The original's files in the blob store, as the engine takes them (durable on return).
std::vector<AttachmentRecord> store_forwarded_attachments(BlobStore& blobs, const ForwardedMessage& original);

}  // namespace atendd

// forward_to_open.cpp — see forward_to_open.h.
#include "daemon/pipeline/forward_to_open.h"

#include <Poco/String.h>

#include "daemon/sources/webhook_receiver.h"  // hmac_sha256_hex, same_secret
#include "parsers/quote_split.h"

namespace atendd {

std::string agent_forward_token(const ServerConfig& server, const AgentConfig& agent) {
  if (server.secret.empty()) return "";
  return hmac_sha256_hex(server.secret, "forward:" + agent.id).substr(0, 24);
}

std::string agent_forward_address(const ServerConfig& server, const AgentConfig& agent) {
  const std::string token = agent_forward_token(server, agent);
  const auto placeholder = server.reply_address.find("{token}");
  if (token.empty() || placeholder == std::string::npos) return "";
  return server.reply_address.substr(0, placeholder) + token + server.reply_address.substr(placeholder + 7);
}

std::optional<ForwardToOpen> forward_to_open(const ParsedMessage& message, const Config& config,
                                             const Threader& threader, bool archived, std::string* why_not) {
  auto refuse = [why_not](const std::string& why) {
    if (why_not) *why_not = why;
    return std::nullopt;
  };
  std::optional<ForwardedMessage> original = find_forwarded_message(message);
  if (!original) return std::nullopt;
  const std::string forwarder = Poco::toLower(message.from.address);
  const AgentConfig* agent = config.agent_by_email(forwarder);
  if (!agent) return refuse("a forward from " + forwarder + ", who is no agent: the ticket is the forwarder's");

  std::string proof;
  const std::string expected = agent_forward_token(config.server, *agent);
  const std::string given = threader.token_in(message);
  if (!expected.empty() && !given.empty() && same_secret(given, expected))
    proof = "forwarding token";
  else if (threader.authenticated_by_mta(message))
    proof = "Authentication-Results";
  else if (archived)
    proof = "the agent's address in an imported archive";
  else
    return refuse("a forward from agent " + agent->id +
                  " without the agent's forwarding address or our MTA's authentication: the ticket is the forwarder's");

  const std::string customer = Poco::toLower(original->from.address);
  if (!is_usable_address(customer)) return refuse("the forwarded sender '" + customer + "' has no usable address");
  if (customer == forwarder || config.agent_by_email(customer) || config.server.is_our_address(customer))
    return refuse("the forwarded sender " + customer + " is an agent or ours, not a customer");

  ForwardToOpen decision;
  decision.agent = agent;
  decision.proof = proof;
  ParsedMessage& c = decision.customer;
  c.from = original->from;
  c.to = message.to;  // the support address the agent wrote to: the type rules see it
  c.subject = original->subject;
  c.message_id = original->message_id.empty() ? message.message_id : original->message_id;
  c.date = original->date ? original->date : message.date;
  c.text = original->text;
  c.new_text = split_reply(original->text).new_text;
  c.html = original->html;
  c.attachments = original->attachments;
  decision.original = std::move(*original);
  return decision;
}

std::vector<AttachmentRecord> store_forwarded_attachments(BlobStore& blobs, const ForwardedMessage& original) {
  std::vector<AttachmentRecord> out;
  for (const auto& a : original.attachments) {
    AttachmentRecord record;
    record.filename = a.filename;
    record.content_type = a.content_type;
    record.size = static_cast<std::int64_t>(a.data.size());
    record.sha256 = blobs.put(a.data);
    record.inline_part = a.inline_part;
    out.push_back(std::move(record));
  }
  return out;
}

}  // namespace atendd

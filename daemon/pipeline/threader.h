// threader.h — finds the ticket an incoming message belongs to, and who its sender is to that
// ticket. Never creates tickets and never trusts the sender by name alone: a match stands only
// when the sender belongs to the ticket (its contact, a watcher, a verified agent) or the
// ticket's secret reply token is among the recipients (DESIGN.md, invariant 5).
#pragma once

#include <optional>
#include <string>

#include "daemon/config/config.h"
#include "daemon/pipeline/explanation.h"
#include "parsers/message.h"
#include "storage/store.h"

namespace atendd {

enum class SenderRole {
  Contact,      // the ticket's customer
  Participant,  // a watcher or someone in the conversation's Cc, or anyone writing with the token
  Agent,        // a configured agent, verified by the reply token or a trusted MTA header
};

struct ThreadMatch {
  Ticket ticket;
  enum class By { SubjectTag, References, ReplyToken, Conversation } by = By::SubjectTag;
  SenderRole role = SenderRole::Contact;
  const AgentConfig* agent = nullptr;  // set when role == Agent
};

struct ThreadResult {
  std::optional<ThreadMatch> match;
  std::string refused;  // why a candidate ticket was not accepted (logged), empty when none
};

class Threader {
 public:
  Threader(Store& store, const Config& config);
  // `explain` (may be null) gets who the sender is and by what proof, the ticket and the rule
  // that found it, or why each candidate was refused. `archived`: the message comes from an archive
  // import (daemon/sources/archive_import.h), where a configured agent's address is proof enough:
  // old mail cannot carry our tokens.
  ThreadResult find(const ParsedMessage& message, Explanation* explain = nullptr, bool archived = false) const;

  // A messaging sender's conversation: the newest open ticket of the contact `address` that came
  // in through `channel`, else the newest open ticket of another identity of the same person
  // (contact link); the sender is that ticket's contact. Nothing when the sender has none. The
  // caller holds Store::lock_sender for `address` inside its transaction, so that it opens the
  // ticket itself when there is none before anyone else looks again.
  std::optional<ThreadMatch> open_conversation(const std::string& address, const std::string& channel,
                                               Explanation* explain = nullptr) const;

  // The reply token of our reply address found among the message's recipients, or "".
  std::string token_in(const ParsedMessage& message) const;
  // True when a trusted Authentication-Results header (our MTA's authserv-id) says dmarc=pass.
  bool authenticated_by_mta(const ParsedMessage& message) const;

 private:
  // Each also says what matched: the tag, or the Message-ID.
  std::optional<Ticket> by_subject_tag(const std::string& subject, std::string& tag) const;
  std::optional<Ticket> by_references(const ParsedMessage& message, std::string& id_found) const;
  void explain_new_sender(const ParsedMessage& message, Explanation* explain) const;

  Store& store_;
  const Config& config_;
};

}  // namespace atendd

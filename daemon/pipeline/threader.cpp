// threader.cpp — see threader.h. Order: subject tag, then our Message-IDs in In-Reply-To and
// References, then the reply token; the first candidate whose sender check passes wins.
#include "daemon/pipeline/threader.h"
#include "daemon/tickets/reply_token.h"

#include <algorithm>
#include <cctype>

#include <Poco/String.h>

namespace atendd {

namespace {

std::string lower(std::string s) { return Poco::toLower(s); }

bool is_protocol_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '/' || c == '_';
}

// Every "#TOKEN" in the subject, whatever brackets a mail client put around it or turned it into
// ("[#2026…]", "(#2026…)", "#2026…", "[# 2026…]").
std::vector<std::string> tag_candidates(const std::string& subject) {
  std::vector<std::string> out;
  for (size_t at = subject.find('#'); at != std::string::npos; at = subject.find('#', at + 1)) {
    size_t begin = at + 1;
    while (begin < subject.size() && subject[begin] == ' ') ++begin;
    size_t end = begin;
    while (end < subject.size() && is_protocol_char(subject[end])) ++end;
    while (end > begin && (subject[end - 1] == '.' || subject[end - 1] == '-')) --end;
    if (end - begin >= 4 && end - begin <= 64) out.push_back(subject.substr(begin, end - begin));
  }
  return out;
}

}  // namespace

Threader::Threader(Store& store, const Config& config) : store_(store), config_(config) {}

std::optional<Ticket> Threader::by_subject_tag(const std::string& subject, std::string& tag) const {
  for (const auto& candidate : tag_candidates(subject))
    if (auto ticket = store_.ticket_by_protocol(candidate)) {
      tag = "#" + candidate;
      return ticket;
    }
  return std::nullopt;
}

std::optional<Ticket> Threader::by_references(const ParsedMessage& message, std::string& id_found) const {
  std::vector<std::string> ids;
  if (!message.in_reply_to.empty()) ids.push_back(message.in_reply_to);
  ids.insert(ids.end(), message.references.rbegin(), message.references.rend());  // newest first
  for (const auto& id : ids) {
    std::optional<TicketId> ticket = store_.ticket_of_outbox_message_id(id);
    if (!ticket) ticket = store_.ticket_of_message_id(id);
    if (ticket)
      if (auto t = store_.ticket(*ticket)) {
        id_found = (id == message.in_reply_to ? "In-Reply-To <" : "References <") + id + ">";
        return t;
      }
  }
  return std::nullopt;
}

std::optional<ThreadMatch> Threader::open_conversation(const std::string& address, const std::string& channel,
                                                       Explanation* sink) const {
  const std::optional<Contact> contact = store_.contact_by_address(lower(address));
  if (!contact) return std::nullopt;
  std::string rule = "the sender's open conversation on channel " + channel;
  std::string who = contact->address + " is the ticket's contact";
  std::optional<Ticket> open = store_.open_ticket_of_contact(contact->id, channel);
  if (!open) {
    open = store_.open_ticket_of_person(contact->id);
    rule = "the open ticket of another identity of the sender (contact link)";
    who = contact->address + " is an identity of the ticket's contact";
  }
  if (!open) return std::nullopt;
  explain(sink, "sender", "customer", who);
  explain(sink, "threader", "ticket " + open->protocol, rule);
  return ThreadMatch{*open, ThreadMatch::By::Conversation, SenderRole::Contact, nullptr};
}

std::string Threader::token_in(const ParsedMessage& message) const {
  std::vector<std::string> recipients;
  for (const auto* list : {&message.to, &message.cc})
    for (const auto& a : *list) recipients.push_back(a.address);
  for (const char* header : {"Delivered-To", "X-Original-To", "Envelope-To"})
    for (const auto& value : message.headers_named(header)) recipients.push_back(Poco::trim(value));
  for (auto& r : recipients) {
    if (!r.empty() && r.front() == '<' && r.back() == '>') r = r.substr(1, r.size() - 2);
    const std::string token = config_.server.reply_token_of(r);
    if (!token.empty() && std::all_of(token.begin(), token.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); }))
      return token;
  }
  return "";
}

bool Threader::authenticated_by_mta(const ParsedMessage& message) const {
  const std::string id = lower(config_.server.trusted_authserv_id);
  if (id.empty()) return false;
  // Only the topmost header is our MTA's; anything below may have come with the message.
  const std::string* value = message.header("Authentication-Results");
  if (!value) return false;
  const std::string v = lower(Poco::trim(*value));
  const auto semicolon = v.find(';');
  const std::string serv = Poco::trim(v.substr(0, semicolon));
  return serv == id && v.find("dmarc=pass") != std::string::npos;
}

void Threader::explain_new_sender(const ParsedMessage& message, Explanation* explain) const {
  if (!explain) return;
  const std::string from = lower(message.from.address);
  if (const AgentConfig* agent = config_.agent_by_email(from)) {
    explain->add("sender", "customer", "the address of agent " + agent->id +
                                           ", but a new ticket needs no proof: it is opened in the sender's name");
    return;
  }
  std::optional<Contact> known;
  if (!from.empty()) known = store_.contact_by_address(from);
  explain->add("sender", "customer",
               from.empty() ? "no usable From address"
                            : known ? "known contact " + from + " (contact " + std::to_string(known->id) + ")"
                                    : "new contact " + from);
}

ThreadResult Threader::find(const ParsedMessage& message, Explanation* sink, bool archived) const {
  ThreadResult result;
  const std::string from = lower(message.from.address);
  const std::string token = token_in(message);

  struct Candidate {
    Ticket ticket;
    ThreadMatch::By by;
    std::string rule;  // what matched, for the explanation
  };
  std::vector<Candidate> candidates;
  std::string matched;
  if (auto t = by_subject_tag(message.subject, matched))
    candidates.push_back({*t, ThreadMatch::By::SubjectTag, "subject tag " + matched});
  if (auto t = by_references(message, matched))
    candidates.push_back({*t, ThreadMatch::By::References, matched + " is a mail of this ticket"});
  // The customer's token names the ticket; only the agent token (reply_token.h) proves an agent.
  const ReplyTokenRef ref = read_reply_token(config_.server, token);
  if (!token.empty())
    if (auto t = store_.ticket_by_reply_token(ref.ticket_token))
      candidates.push_back({*t, ThreadMatch::By::ReplyToken,
                            ref.agent ? "the ticket's agent token among the recipients"
                                      : "the ticket's reply token among the recipients"});

  for (const auto& [ticket, by, rule] : candidates) {
    const bool has_token = !token.empty() && ref.ticket_token == ticket.reply_token;
    const bool has_agent_token = has_token && (ref.agent || config_.server.secret.empty());
    ThreadMatch match{ticket, by, SenderRole::Contact, nullptr};
    const AgentConfig* agent = config_.agent_by_email(from);
    if (agent && (has_agent_token || archived || authenticated_by_mta(message))) {
      match.role = SenderRole::Agent;
      match.agent = agent;
      result.match = match;
      explain(sink, "sender", "agent " + agent->id,
              from + (has_agent_token ? " with the ticket's agent token"
                      : archived      ? " in an archive import (address alone)"
                                      : " with a trusted Authentication-Results (" + config_.server.trusted_authserv_id +
                                            ", dmarc=pass)"));
      explain(sink, "threader", "ticket " + ticket.protocol, rule);
      return result;
    }
    const auto contact = store_.contact(ticket.contact_id);
    bool is_contact = contact && !from.empty() && contact->address == from;
    if (contact && !from.empty() && !is_contact)  // another identity of the same person (#contact link)
      for (const auto& identity : store_.identities(contact->id)) is_contact = is_contact || identity.address == from;
    if (is_contact) {
      match.role = SenderRole::Contact;
      result.match = match;
      explain(sink, "sender", "customer", from + " is the ticket's contact");
      explain(sink, "threader", "ticket " + ticket.protocol, rule);
      return result;
    }
    const auto watchers = store_.watchers(ticket.id);
    const bool is_watcher = std::find(watchers.begin(), watchers.end(), from) != watchers.end();
    if ((is_watcher && !agent) || has_token) {
      match.role = SenderRole::Participant;
      result.match = match;
      explain(sink, "sender", "participant",
              from + (is_watcher && !agent ? " is a watcher of the ticket" : " wrote with the ticket's reply token"));
      explain(sink, "threader", "ticket " + ticket.protocol, rule);
      return result;
    }
    result.refused = "sender " + (from.empty() ? std::string("(none)") : from) + " does not belong to ticket " +
                     ticket.protocol + (agent ? " (an agent's address without the ticket's agent token)" : "");
    explain(sink, "threader", "refused ticket " + ticket.protocol, rule + "; but " + result.refused);
  }
  explain_new_sender(message, sink);
  explain(sink, "threader", "new ticket",
          candidates.empty() ? "no subject tag of ours, no Message-ID of ours in In-Reply-To/References, no reply token"
                             : "no candidate ticket accepted the sender");
  return result;
}

}  // namespace atendd

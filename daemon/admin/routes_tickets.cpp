// routes_tickets.cpp — see routes_tickets.h.
#include "daemon/admin/routes_tickets.h"

#include <map>

#include "daemon/tickets/fields.h"

#include <ctime>
#include <sstream>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/JSONException.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/String.h>

#include "daemon/outbox/outbox_writer.h"
#include "daemon/runtime.h"
#include "daemon/tickets/engine.h"

namespace atendd {

using Poco::JSON::Array;
using Poco::JSON::Object;

std::string rfc3339(Timestamp at) {
  std::time_t t = static_cast<std::time_t>(at);
  std::tm utc{};
  gmtime_r(&t, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buffer;
}

namespace {

std::string stringify(const Object& o) {
  std::ostringstream out;
  o.stringify(out);
  return out.str();
}

Poco::Dynamic::Var optional_time(const std::optional<Timestamp>& at) {
  if (!at) return Poco::Dynamic::Var();
  return rfc3339(*at);
}

Object ticket_summary(Store& store, const Ticket& t) {
  Object o;
  o.set("protocol", t.protocol);
  o.set("type", t.type_id);
  o.set("status", std::string(status_name(t.status)));
  o.set("stage", t.stage);
  o.set("priority", priority_name(static_cast<Priority>(t.priority)));
  o.set("subject", t.subject);
  o.set("responsible", t.responsible);
  o.set("department", t.department);
  o.set("mailbox", t.mailbox);
  o.set("level", t.level);
  const auto contact = store.contact(t.contact_id);
  Object c;
  c.set("id", t.contact_id);
  c.set("address", contact ? contact->address : "");
  c.set("name", contact ? contact->name : "");
  o.set("contact", c);
  o.set("opened_at", rfc3339(t.opened_at));
  o.set("first_response_due", optional_time(t.first_response_due));
  o.set("first_response_at", optional_time(t.first_response_at));
  o.set("next_contact_due", optional_time(t.next_contact_due));
  o.set("closed_at", optional_time(t.closed_at));
  o.set("times_scheduled", t.times_scheduled);
  o.set("times_reopened", t.times_reopened);
  return o;
}

// Parses a request body that must be a JSON object; sets `error` (400's reason) otherwise.
Poco::JSON::Object::Ptr parse_object(const std::string& body, std::string& error) {
  if (body.empty()) {
    error = "the body must be a JSON object";
    return nullptr;
  }
  try {
    Poco::JSON::Parser parser;
    auto parsed = parser.parse(body);
    if (parsed.type() != typeid(Object::Ptr)) {
      error = "the body must be a JSON object";
      return nullptr;
    }
    return parsed.extract<Object::Ptr>();
  } catch (const Poco::Exception& e) {
    error = "malformed JSON: " + e.message();
  } catch (const std::exception& e) {
    error = std::string("malformed JSON: ") + e.what();
  }
  return nullptr;
}

// A string member, or "" when absent; false when present but not a string.
bool string_member(const Object::Ptr& o, const std::string& name, std::string& out) {
  if (!o->has(name) || o->isNull(name)) return true;
  const auto v = o->get(name);
  if (!v.isString()) return false;
  out = v.toString();
  return true;
}

bool parse_positive(const std::string& text, std::int64_t& out) {
  if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string::npos) return false;
  out = std::stoll(text);
  return true;
}

}  // namespace

AdminResponse list_tickets(AdminContext& context, const AdminRequest& request) {
  TicketQuery query;
  const std::string status = request.param("status");
  if (!status.empty()) {
    query.status = status_from_name(status);
    if (!query.status) return json_error(400, "unknown status '" + status + "'");
  }
  query.type_id = request.param("type");
  query.responsible = request.param("agent");
  query.contact = request.param("contact");
  query.text = request.param("q");
  std::int64_t number = 0;
  if (!request.param("limit").empty()) {
    if (!parse_positive(request.param("limit"), number) || number < 1 || number > 500)
      return json_error(400, "limit must be a number from 1 to 500");
    query.limit = static_cast<int>(number);
  }
  if (!request.param("cursor").empty()) {
    if (!parse_positive(request.param("cursor"), number)) return json_error(400, "cursor is not one we gave");
    query.before_id = number;
  }
  const int wanted = query.limit;
  query.limit = wanted + 1;  // one more tells whether there is a next page
  std::lock_guard<std::mutex> lock(context.lock);
  Store& store = context.runtime->store();
  auto tickets = store.find_tickets(query);
  Object out;
  Array list;
  for (size_t i = 0; i < tickets.size() && static_cast<int>(i) < wanted; ++i) list.add(ticket_summary(store, tickets[i]));
  out.set("tickets", list);
  if (static_cast<int>(tickets.size()) > wanted)
    out.set("next_cursor", std::to_string(tickets[static_cast<size_t>(wanted) - 1].id));
  else
    out.set("next_cursor", Poco::Dynamic::Var());
  return json_reply(200, stringify(out));
}

AdminResponse show_ticket(AdminContext& context, const std::string& protocol) {
  std::lock_guard<std::mutex> lock(context.lock);
  Store& store = context.runtime->store();
  const auto ticket = store.ticket_by_protocol(protocol);
  if (!ticket) return json_error(404, "no ticket " + protocol);
  Object out = ticket_summary(store, *ticket);
  Array articles;
  for (const auto& a : store.articles(ticket->id)) {
    Object o;
    o.set("id", a.id);
    o.set("kind", std::string(article_kind_name(a.kind)));
    o.set("author", a.author);
    o.set("channel", a.channel);
    o.set("message_id", a.message_id);
    o.set("subject", a.subject);
    o.set("text", a.text);
    o.set("created_at", rfc3339(a.created_at));
    Array files;
    int n = 0;
    for (const auto& f : store.attachments(a.id)) {
      Object file;
      file.set("index", n);
      file.set("filename", f.filename);
      file.set("content_type", f.content_type);
      file.set("size", f.size);
      file.set("inline", f.inline_part);
      file.set("url", "/api/v1/tickets/" + ticket->protocol + "/articles/" + std::to_string(a.id) + "/attachments/" +
                          std::to_string(n));
      files.add(file);
      ++n;
    }
    o.set("attachments", files);
    articles.add(o);
  }
  out.set("articles", articles);
  Array watchers;
  for (const auto& w : store.watchers(ticket->id)) watchers.add(w);
  out.set("watchers", watchers);
  Array links;
  for (TicketId id : store.links(ticket->id))
    if (auto linked = store.ticket(id)) links.add(linked->protocol);
  out.set("links", links);
  Object fields;
  std::map<std::string, std::string> values;
  for (const auto& [name, value] : store.fields(ticket->id)) {
    fields.set(name, value);
    values[name] = value;
  }
  out.set("fields", fields);
  // The type's required fields still without a value (to open and to close).
  Array missing;
  if (const TypeConfig* type = context.config.type(ticket->type_id))
    for (const auto& name : missing_fields(*type, values, true, true)) missing.add(name);
  out.set("fields_missing", missing);
  Array expenses;
  std::int64_t expenses_total = 0;
  for (const auto& e : store.expenses(ticket->id)) {
    Object o;
    o.set("amount", money_text(e.amount_cents));
    o.set("description", e.description);
    o.set("author", e.author);
    o.set("at", rfc3339(e.created_at));
    expenses.add(o);
    expenses_total += e.amount_cents;
  }
  out.set("expenses", expenses);
  out.set("expenses_total", money_text(expenses_total));
  Array history;
  for (const auto& h : store.history(ticket->id)) {
    Object o;
    o.set("at", rfc3339(h.at));
    o.set("actor", h.actor);
    o.set("field", h.field);
    o.set("from", h.from_value);
    o.set("to", h.to_value);
    o.set("justification", h.justification);
    history.add(o);
  }
  out.set("history", history);
  Array mails;
  for (const auto& m : store.outbox_of_ticket(ticket->id)) {
    Object o;
    o.set("id", m.id);
    o.set("template", m.template_name);
    o.set("state", std::string(outbox_state_name(m.state)));
    Array to;
    for (const auto& r : m.recipients) to.add(r);
    o.set("recipients", to);
    mails.add(o);
  }
  out.set("mails", mails);
  return json_reply(200, stringify(out));
}

AdminResponse ticket_attachment(AdminContext& context, const std::string& protocol, const std::string& article_text,
                                const std::string& index_text) {
  std::int64_t article_id = 0, index = 0;
  if (!parse_positive(article_text, article_id) || !parse_positive(index_text, index))
    return json_error(404, "no such attachment");
  std::lock_guard<std::mutex> lock(context.lock);
  Store& store = context.runtime->store();
  const auto ticket = store.ticket_by_protocol(protocol);
  if (!ticket) return json_error(404, "no ticket " + protocol);
  bool found_article = false;
  for (const auto& a : store.articles(ticket->id)) found_article = found_article || a.id == article_id;
  if (!found_article) return json_error(404, "no article " + article_text + " in ticket " + protocol);
  const auto files = store.attachments(article_id);
  if (index >= static_cast<std::int64_t>(files.size())) return json_error(404, "no attachment " + index_text);
  const auto& file = files[static_cast<size_t>(index)];
  auto bytes = context.runtime->blobs().get(file.sha256);
  if (!bytes) return json_error(404, "the attachment's content is missing from the state directory");
  AdminResponse r;
  // Only a well-formed type/subtype passes; anything else is served as bytes.
  bool type_ok = !file.content_type.empty() && file.content_type.find('/') != std::string::npos;
  for (unsigned char c : file.content_type)
    if (!(std::isalnum(c) || c == '/' || c == '.' || c == '+' || c == '-' || c == '_')) type_ok = false;
  r.content_type = type_ok ? file.content_type : "application/octet-stream";
  // attachment (never inline: no HTML of a customer's runs in our origin); an ASCII fallback
  // name without quotes or controls, and the UTF-8 name per RFC 6266 / 5987.
  std::string ascii, encoded;
  static const char* hex = "0123456789ABCDEF";
  for (unsigned char c : safe_filename(file.filename)) {
    ascii += (c >= 0x20 && c < 0x7f && c != '"' && c != '\\' && c != ';') ? static_cast<char>(c) : '_';
    if (std::isalnum(c) || c == '.' || c == '-' || c == '_') {
      encoded += static_cast<char>(c);
    } else {
      encoded += '%';
      encoded += hex[c >> 4];
      encoded += hex[c & 15];
    }
  }
  r.headers.emplace_back("Content-Disposition",
                         "attachment; filename=\"" + ascii + "\"; filename*=UTF-8''" + encoded);
  r.body = std::move(*bytes);
  return r;
}

namespace {

// A ParsedMessage standing for what an agent or an administrator typed into the API: the
// engine and the outbox take it exactly as a mail with that text.
ParsedMessage typed_message(const std::string& from, const std::string& name, const std::string& subject,
                            const std::string& text, const std::string& domain) {
  ParsedMessage parsed;
  parsed.from = {from, name};
  parsed.subject = subject;
  parsed.message_id = random_hex(16) + "@" + domain;
  parsed.text = text;
  parsed.new_text = text;
  return parsed;
}

}  // namespace

AdminResponse open_ticket(AdminContext& context, const AdminRequest& request, const AdminCaller& caller) {
  std::string error;
  auto body = parse_object(request.body, error);
  if (!body) return json_error(400, error);
  std::string channel = "internal", type_id, subject, text, agent_id, address, name;
  if (!string_member(body, "channel", channel) || !string_member(body, "type", type_id) ||
      !string_member(body, "subject", subject) || !string_member(body, "text", text) ||
      !string_member(body, "agent", agent_id))
    return json_error(400, "channel, type, subject, text and agent are strings");
  if (body->has("contact")) {
    auto contact = body->getObject("contact");
    if (!contact || !string_member(contact, "address", address) || !string_member(contact, "name", name))
      return json_error(400, "contact is an object {\"address\", \"name\"}");
  }
  if (channel.empty()) channel = "internal";
  if (channel != "internal" && channel != "phone") return json_error(400, "channel is \"internal\" or \"phone\"");
  if (subject.empty()) return json_error(400, "subject is required");
  address = Poco::toLower(address);
  if (!address.empty() && !is_usable_address(address)) return json_error(400, "contact.address is not an e-mail address");
  if (address.empty() && channel == "phone") return json_error(400, "a phone ticket needs contact.address");
  const TypeConfig* type = context.config.type(type_id.empty() ? context.config.default_type : type_id);
  if (!type) return json_error(400, "unknown type '" + type_id + "'");
  const AgentConfig* agent = nullptr;
  if (!agent_id.empty()) {
    agent = context.config.agent(agent_id);
    if (!agent) return json_error(400, "unknown agent '" + agent_id + "'");
  }
  if (address.empty()) {  // internal: the agent (or the server) is the one asking
    address = agent ? agent->email : context.config.server.address;
    name = agent ? agent->name : context.config.server.name;
  }

  std::lock_guard<std::mutex> lock(context.lock);
  Runtime& rt = *context.runtime;
  const ParsedMessage parsed =
      typed_message(address, name, subject, text, message_id_domain(context.config.server));
  InboundMessage message{parsed, "", channel, "", {}};
  StoreTransaction tx(rt.store());
  Engine engine(rt.store(), context.config, rt.clock());
  OpenedTicket opened = engine.open_ticket(message, *type, channel == "phone", "opened by hand (" + channel + ")");
  rt.store().add_history({0, opened.ticket.id, rt.clock().now(), agent ? agent->id : "api:" + caller.name, "opened_by",
                          "", channel, "API token " + caller.name});
  OutboxWriter writer(rt.store(), rt.blobs(), context.config, rt.renderer(), rt.clock());
  const auto ids = writer.queue(opened, message);
  tx.commit();
  context.log.information("ticket " + opened.ticket.protocol + " opened through the API (" + channel + ") by " +
                          caller.name);
  Object out = ticket_summary(rt.store(), opened.ticket);
  out.set("mails_queued", static_cast<int>(ids.size()));
  return json_reply(201, stringify(out));
}

AdminResponse ticket_action(AdminContext& context, const AdminRequest& request, const std::string& protocol,
                            const AdminCaller& caller) {
  std::string error;
  auto body = parse_object(request.body, error);
  if (!body) return json_error(400, error);
  std::string agent_id, command, text;
  if (!string_member(body, "agent", agent_id) || !string_member(body, "command", command) ||
      !string_member(body, "text", text))
    return json_error(400, "agent, command and text are strings");
  if (agent_id.empty()) return json_error(400, "agent is required: the agent acting on the ticket");
  const AgentConfig* agent = context.config.agent(agent_id);
  if (!agent) return json_error(400, "unknown agent '" + agent_id + "'");
  if (command.empty() && text.empty()) return json_error(400, "command (\"#close\", …) or text is required");
  if (!command.empty() && command[0] != '#') command = "#" + command;
  // The same shape as an agent's mail: command lines first, then the text.
  const std::string typed = command.empty() ? text : command + (text.empty() ? "" : "\n\n" + text);

  std::lock_guard<std::mutex> lock(context.lock);
  Runtime& rt = *context.runtime;
  StoreTransaction tx(rt.store());  // first: the ticket is read to be changed (held on PostgreSQL)
  const auto ticket = rt.store().ticket_by_protocol(protocol);
  if (!ticket) return json_error(404, "no ticket " + protocol);
  const ParsedMessage parsed = typed_message(agent->email, agent->name, "Re: " + ticket->subject, typed,
                                             message_id_domain(context.config.server));
  InboundMessage message{parsed, "", "api", ticket->mailbox, {}};
  Engine engine(rt.store(), context.config, rt.clock());
  TicketUpdate update = engine.add_agent_reply(message, *ticket, *agent);
  OutboxWriter writer(rt.store(), rt.blobs(), context.config, rt.renderer(), rt.clock());
  const auto ids = writer.queue(update, message);
  tx.commit();
  for (const auto& mail : update.mails)
    if (mail.template_name == "command_error") {
      context.log.warning("ticket " + protocol + ": API command by " + agent->id + " refused: " + mail.error);
      return json_error(422, mail.error);
    }
  context.log.information("ticket " + protocol + ": API action by " + agent->id + " (token " + caller.name + ")");
  Object out = ticket_summary(rt.store(), update.ticket);
  out.set("mails_queued", static_cast<int>(ids.size()));
  return json_reply(200, stringify(out));
}

}  // namespace atendd

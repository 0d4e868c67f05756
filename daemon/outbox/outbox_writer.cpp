// outbox_writer.cpp — see outbox_writer.h.
#include "daemon/outbox/outbox_writer.h"

#include <ctime>

#include <Poco/String.h>

#include "daemon/outbox/mail_composer.h"
#include "daemon/tickets/reply_token.h"
#include "parsers/address_list.h"  // domain_of

namespace atendd {

namespace mustache = kainjow::mustache;

namespace {

std::string replace_all(std::string text, const std::string& what, const std::string& with) {
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + with.size()))
    text.replace(at, what.size(), with);
  return text;
}

std::string human_size(std::int64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  if (bytes < 1024 * 1024) return std::to_string(bytes / 1024) + " KB";
  return std::to_string(bytes / (1024 * 1024)) + " MB";
}

}  // namespace

std::string reply_address_for(const ServerConfig& server, const std::string& token) {
  if (server.reply_address.empty()) return server.address;
  return replace_all(server.reply_address, "{token}", token);
}

std::string message_id_domain(const ServerConfig& server) {
  const std::string domain = domain_of(server.address);
  return domain.empty() ? "atendd.invalid" : domain;
}

std::string subject_tag_for(const ServerConfig& server, const std::string& protocol) {
  return replace_all(server.subject_tag, "{protocol}", protocol);
}

std::string format_date_for(const std::string& locale, Timestamp at) {
  std::time_t t = static_cast<std::time_t>(at);
  std::tm utc{};
  gmtime_r(&t, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, locale == "pt_BR" ? "%d/%m/%Y %H:%M" : "%Y-%m-%d %H:%M", &utc);
  return buffer;
}

OutboxWriter::OutboxWriter(Store& store, const BlobStore& blobs, const Config& config, const Renderer& renderer,
                           const Clock& clock)
    : store_(store), blobs_(blobs), config_(config), renderer_(renderer), clock_(clock) {}

std::vector<std::int64_t> OutboxWriter::queue(const TicketUpdate& update, const InboundMessage& message) {
  std::vector<std::int64_t> ids;
  if (update.mails.empty()) return ids;
  const Ticket& ticket = update.ticket;
  const ServerConfig& server = config_.server;
  const ParsedMessage& parsed = message.parsed;
  const Timestamp now = clock_.now();
  const Contact customer = store_.contact(ticket.contact_id).value_or(Contact{});
  const TypeConfig* type = config_.type(ticket.type_id);
  const AgentConfig* responsible = config_.agent(ticket.responsible);

  mustache::data context;
  mustache::data server_data;
  server_data.set("name", server.name);
  server_data.set("address", server.address);
  context.set("server", server_data);
  context.set("protocol", ticket.protocol);
  mustache::data ticket_data;
  ticket_data.set("subject", ticket.subject);
  ticket_data.set("status", status_name(ticket.status));
  ticket_data.set("priority", priority_name(static_cast<Priority>(ticket.priority)));
  ticket_data.set("type_name", type ? type->name : ticket.type_id);
  ticket_data.set("department", ticket.department);
  ticket_data.set("opened_at", format_date_for(server.locale, ticket.opened_at));
  ticket_data.set("responsible_name", responsible ? responsible->name : "");
  context.set("ticket", ticket_data);
  // {{fields.NAME}}: the type's fields (empty when not set) and any other field of the ticket.
  mustache::data fields_data;
  if (type)
    for (const auto& field : type->fields) fields_data.set(field.name, "");
  for (const auto& [name, value] : store_.fields(ticket.id)) fields_data.set(name, value);
  context.set("fields", fields_data);
  mustache::data customer_data;
  customer_data.set("name", customer.name);
  customer_data.set("address", customer.address);
  context.set("customer", customer_data);
  mustache::data files{mustache::data::type::list};
  for (const auto& attachment : update.attachments) {
    mustache::data file;
    file.set("filename", attachment.filename);
    file.set("size", human_size(attachment.size));
    files.push_back(file);
  }
  context.set("has_attachments", update.attachments.empty() ? mustache::data::type::bool_false
                                                            : mustache::data::type::bool_true);
  const std::string sender = parsed.from.name.empty() ? Poco::toLower(parsed.from.address)
                                                      : parsed.from.name + " <" + Poco::toLower(parsed.from.address) + ">";
  // Mails only to agents carry the agent token: the one that proves an agent (reply_token.h).
  const std::string reply_to = reply_address_for(server, ticket.reply_token);
  const std::string agent_reply_to = reply_address_for(server, agent_reply_token(server, ticket.reply_token));
  auto only_agents = [this](const OutgoingMail& mail) {
    if (mail.audience != OutgoingMail::Audience::Agent || mail.to.empty()) return false;
    for (const auto* list : {&mail.to, &mail.cc})
      for (const auto& a : *list)
        if (!config_.agent_by_email(a.address)) return false;
    return true;
  };

  for (const auto& mail : update.mails) {
    mustache::data mail_context;  // this mail's names; the rest are looked up in `context`
    mustache::data message_data;
    message_data.set("text", mail.text.empty() ? (parsed.new_text.empty() ? parsed.text : parsed.new_text) : mail.text);
    message_data.set("from", sender);
    message_data.set("attachments", files);
    mail_context.set("message", message_data);
    if (!mail.justification.empty()) mail_context.set("justification", mail.justification);
    if (!mail.error.empty()) mail_context.set("error", mail.error);
    if (!mail.final_opinion.empty()) mail_context.set("final_opinion", mail.final_opinion);
    if (!mail.due.empty()) mail_context.set("due", mail.due);
    if (!mail.period.empty()) mail_context.set("period", mail.period);
    if (!mail.agent_id.empty()) {
      const AgentConfig* agent = config_.agent(mail.agent_id);
      mustache::data agent_data;
      agent_data.set("name", agent ? agent->name : "");
      agent_data.set("address", agent ? agent->email : "");
      mail_context.set("agent", agent_data);
    }
    const RenderedMail rendered = renderer_.render(mail.template_name, ticket.type_id, mail_context, &context);

    MailParts parts;
    parts.from = {server.address, mail.from_name.empty() ? server.name : mail.from_name};
    parts.to = mail.to;
    parts.cc = mail.cc;
    parts.reply_to = Address{only_agents(mail) ? agent_reply_to : reply_to, server.name};
    parts.subject = subject_tag_for(server, ticket.protocol) + " " + rendered.subject;
    parts.text = rendered.text;
    parts.html = rendered.html;
    parts.message_id = "atendd." + ticket.protocol + "." + mail.template_name + "." + random_hex(8) + "@" +
                       message_id_domain(server);
    parts.in_reply_to = mail.in_reply_to.empty() ? parsed.message_id : mail.in_reply_to;
    parts.references = parsed.references;
    if (!parsed.message_id.empty()) parts.references.push_back(parsed.message_id);
    if (!mail.in_reply_to.empty() && mail.in_reply_to != parsed.message_id) parts.references.push_back(mail.in_reply_to);
    if (mail.automatic)
      parts.auto_submitted = mail.audience == OutgoingMail::Audience::Customer ? "auto-replied" : "auto-generated";
    parts.x_loop = server.address;
    parts.extra_headers.push_back({"X-Atendd-Protocol", ticket.protocol});
    parts.date = now;
    if (mail.include_attachments) {
      for (const auto& attachment : update.attachments) {
        auto data = blobs_.get(attachment.sha256);
        if (data) parts.files.push_back({attachment.filename, attachment.content_type, std::move(*data)});
      }
    }

    OutboxMail queued;
    queued.ticket_id = ticket.id;
    queued.template_name = mail.template_name;
    queued.mail_from = server.address;
    for (const auto& to : mail.to) queued.recipients.push_back(to.address);
    for (const auto& cc : mail.cc) queued.recipients.push_back(cc.address);
    queued.message_id = parts.message_id;
    queued.raw = compose_mail(parts);
    queued.state = OutboxState::Pending;
    queued.next_attempt_at = now;
    queued.created_at = now;
    ids.push_back(store_.add_outbox(queued));
    if (explain_) explain_->mail(queued.template_name, queued.recipients, queued.raw);

    // The opening e-mail and the forward are part of the discussion (seed 001 shows them there);
    // their Message-IDs then also thread answers to them.
    if (mail.template_name == "opening" || mail.template_name == "forward") {
      Article logged;
      logged.ticket_id = ticket.id;
      logged.kind = mail.template_name == "forward" ? ArticleKind::Forward : ArticleKind::SystemLog;
      logged.author = "system";
      logged.message_id = parts.message_id;
      logged.subject = parts.subject;
      logged.text = rendered.text;
      logged.created_at = now;
      store_.add_article(logged);
    }

    std::string recipients;
    for (const auto& r : queued.recipients) recipients += (recipients.empty() ? "" : ", ") + r;
    store_.add_history({0, ticket.id, now, "system", "mail_queued", mail.template_name, recipients, ""});
  }
  return ids;
}

std::int64_t OutboxWriter::queue_notice(const std::string& template_name, const ParsedMessage& about,
                                        const std::string& error) {
  const ServerConfig& server = config_.server;
  const Timestamp now = clock_.now();
  mustache::data context;
  mustache::data server_data;
  server_data.set("name", server.name);
  server_data.set("address", server.address);
  context.set("server", server_data);
  mustache::data ticket_data;
  ticket_data.set("subject", about.subject);
  context.set("ticket", ticket_data);
  mustache::data customer_data;
  customer_data.set("name", about.from.name);
  customer_data.set("address", about.from.address);
  context.set("customer", customer_data);
  context.set("error", error);
  const RenderedMail rendered = renderer_.render(template_name, "", context);

  MailParts parts;
  parts.from = {server.address, server.name};
  parts.to = {{Poco::toLower(about.from.address), about.from.name}};
  parts.subject = rendered.subject;
  parts.text = rendered.text;
  parts.html = rendered.html;
  parts.message_id = "atendd.notice." + template_name + "." + random_hex(8) + "@" + message_id_domain(server);
  parts.in_reply_to = about.message_id;
  parts.references = about.references;
  if (!about.message_id.empty()) parts.references.push_back(about.message_id);
  parts.auto_submitted = "auto-replied";
  parts.x_loop = server.address;
  parts.date = now;

  OutboxMail queued;
  queued.template_name = template_name;
  queued.mail_from = server.address;
  queued.recipients = {parts.to.front().address};
  queued.message_id = parts.message_id;
  queued.raw = compose_mail(parts);
  queued.next_attempt_at = now;
  queued.created_at = now;
  const std::int64_t id = store_.add_outbox(queued);
  if (explain_) explain_->mail(queued.template_name, queued.recipients, queued.raw);
  return id;
}

}  // namespace atendd

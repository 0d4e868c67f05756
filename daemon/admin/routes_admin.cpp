// routes_admin.cpp — see routes_admin.h.
#include "daemon/admin/routes_admin.h"

#include <algorithm>
#include <ctime>
#include <map>
#include <sstream>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include "daemon/admin/routes_tickets.h"
#include "daemon/tickets/fields.h"
#include "daemon/runtime.h"

namespace atendd {

using Poco::JSON::Array;
using Poco::JSON::Object;

namespace {

std::string stringify(const Object& o) {
  std::ostringstream out;
  o.stringify(out);
  return out.str();
}

// "2026-11-24" (UTC midnight) or seconds since the epoch; false when neither.
bool parse_when(const std::string& text, Timestamp& out) {
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos && text.size() <= 12) {
    out = std::stoll(text);
    return true;
  }
  std::tm tm{};
  int y = 0, m = 0, d = 0;
  char tail = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || m < 1 || m > 12 || d < 1 || d > 31)
    return false;
  tm.tm_year = y - 1900;
  tm.tm_mon = m - 1;
  tm.tm_mday = d;
  out = timegm(&tm);
  return true;
}

}  // namespace

std::vector<std::string> health_problems(AdminContext& context, std::vector<MailboxHealth>& mailboxes) {
  std::vector<std::string> problems;
  {
    std::lock_guard<std::mutex> lock(context.lock);
    try {
      context.runtime->store().journal(1);
    } catch (const std::exception& e) {
      problems.push_back(std::string("store: ") + e.what());
    }
  }
  mailboxes = context.mailboxes ? context.mailboxes() : std::vector<MailboxHealth>{};
  const Timestamp now = static_cast<Timestamp>(std::time(nullptr));
  for (const auto& m : mailboxes) {
    const auto& s = m.status;
    // Healthy: the last attempt worked, and either the connection is up (IDLE) or the last
    // finished fetch is within two intervals (and the read timeout).
    const Timestamp window = 2 * static_cast<Timestamp>(m.poll_seconds) + 60;
    if (!m.running) {
      problems.push_back("mailbox " + m.id + ": intake not running");
    } else if (!s.last_error.empty()) {
      problems.push_back("mailbox " + m.id + ": " + s.last_error);
    } else if (s.last_success_at == 0) {
      problems.push_back("mailbox " + m.id + ": not polled yet");
    } else if (!s.connected && now - s.last_success_at > window) {
      problems.push_back("mailbox " + m.id + ": last successful poll " + std::to_string(now - s.last_success_at) +
                         " s ago");
    }
  }
  return problems;
}

AdminResponse healthz(AdminContext& context) {
  std::vector<MailboxHealth> mailboxes;
  const auto problems = health_problems(context, mailboxes);
  Object out;
  out.set("status", problems.empty() ? "ok" : "failing");
  Array failing;
  for (const auto& p : problems) failing.add(p);
  out.set("problems", failing);
  Object boxes;
  for (const auto& m : mailboxes) {
    Object o;
    o.set("connected", m.status.connected);
    o.set("last_success_at", m.status.last_success_at ? Poco::Dynamic::Var(rfc3339(m.status.last_success_at))
                                                     : Poco::Dynamic::Var());
    o.set("last_error", m.status.last_error);
    boxes.set(m.id, o);
  }
  out.set("mailboxes", boxes);
  // The quarantine is detail, not a failure: its messages are kept and wait for an operator.
  Object quarantine;
  {
    std::lock_guard<std::mutex> lock(context.lock);
    try {
      const QuarantineSummary q = context.runtime->store().quarantine_summary();
      quarantine.set("size", q.count);
      quarantine.set("oldest_received_at",
                     q.oldest_received_at ? Poco::Dynamic::Var(rfc3339(*q.oldest_received_at)) : Poco::Dynamic::Var());
    } catch (const std::exception& e) {
      quarantine.set("error", std::string(e.what()));
    }
  }
  out.set("quarantine", quarantine);
  return json_reply(problems.empty() ? 200 : 503, stringify(out));
}

AdminResponse list_outbox(AdminContext& context, const AdminRequest& request) {
  const std::string state_name = request.param("state").empty() ? "failed" : request.param("state");
  std::optional<OutboxState> state;
  for (OutboxState s : {OutboxState::Pending, OutboxState::Sending, OutboxState::Sent, OutboxState::Failed})
    if (state_name == outbox_state_name(s)) state = s;
  if (!state) return json_error(400, "state is pending, sending, sent or failed");
  int limit = 100;
  const std::string limit_text = request.param("limit");
  if (!limit_text.empty()) {
    if (limit_text.size() > 4 || limit_text.find_first_not_of("0123456789") != std::string::npos ||
        std::stoi(limit_text) < 1)
      return json_error(400, "limit must be a number from 1 to 1000");
    limit = std::min(1000, std::stoi(limit_text));
  }
  std::lock_guard<std::mutex> lock(context.lock);
  Store& store = context.runtime->store();
  Array list;
  for (const auto& m : store.outbox_in_state(*state, limit)) {
    Object o;
    o.set("id", m.id);
    std::string protocol;
    if (m.ticket_id)
      if (auto t = store.ticket(*m.ticket_id)) protocol = t->protocol;
    o.set("protocol", protocol);
    o.set("template", m.template_name);
    Array to;
    for (const auto& r : m.recipients) to.add(r);
    o.set("recipients", to);
    o.set("state", std::string(outbox_state_name(m.state)));
    o.set("attempts", m.attempts);
    o.set("last_error", m.last_error);
    o.set("created_at", rfc3339(m.created_at));
    o.set("next_attempt_at", rfc3339(m.next_attempt_at));
    list.add(o);
  }
  Object out;
  out.set("mails", list);
  return json_reply(200, stringify(out));
}

AdminResponse retry_outbox(AdminContext& context, const std::string& id_text, const AdminCaller& caller) {
  if (id_text.empty() || id_text.size() > 18 || id_text.find_first_not_of("0123456789") != std::string::npos)
    return json_error(404, "no outgoing mail " + id_text);
  const std::int64_t id = std::stoll(id_text);
  std::lock_guard<std::mutex> lock(context.lock);
  Store& store = context.runtime->store();
  const auto mail = store.outbox_mail(id);
  if (!mail) return json_error(404, "no outgoing mail " + id_text);
  if (!store.retry_outbox(id, context.runtime->clock().now()))
    return json_error(409, std::string("mail ") + id_text + " is " + outbox_state_name(mail->state) +
                               ", only a failed mail is retried");
  if (mail->ticket_id)
    store.add_history({0, *mail->ticket_id, context.runtime->clock().now(), "api:" + caller.name, "mail_retry",
                       "failed", "pending", mail->template_name + " <" + mail->message_id + ">"});
  context.log.information("outbox " + id_text + ": retry asked by " + caller.name);
  Object out;
  out.set("id", id);
  out.set("state", "pending");
  return json_reply(200, stringify(out));
}

AdminResponse reload(AdminContext& context, const AdminCaller& caller) {
  context.log.information("reload asked through the API by " + caller.name);
  AdminResponse r = json_reply(202, "{\"reload\":\"requested\"}");
  r.raise_reload = true;
  return r;
}

AdminResponse stats(AdminContext& context, const AdminRequest& request) {
  const Timestamp now = static_cast<Timestamp>(std::time(nullptr));
  Timestamp from = now - 30 * 86400, to = 0;
  if (!request.param("from").empty() && !parse_when(request.param("from"), from))
    return json_error(400, "from is YYYY-MM-DD or seconds since the epoch");
  if (!request.param("to").empty() && !parse_when(request.param("to"), to))
    return json_error(400, "to is YYYY-MM-DD or seconds since the epoch");
  std::lock_guard<std::mutex> lock(context.lock);
  Store& store = context.runtime->store();
  std::map<std::string, std::int64_t> by_status, by_type, by_agent;
  std::int64_t total = 0;
  for (const auto& c : store.ticket_counts(from, to)) {
    by_status[c.status] += c.count;
    by_type[c.type_id] += c.count;
    by_agent[c.responsible.empty() ? "(nobody)" : c.responsible] += c.count;
    total += c.count;
  }
  auto object_of = [](const std::map<std::string, std::int64_t>& m) {
    Object o;
    for (const auto& [k, v] : m) o.set(k, v);
    return o;
  };
  Object out;
  out.set("from", rfc3339(from));
  out.set("to", to ? Poco::Dynamic::Var(rfc3339(to)) : Poco::Dynamic::Var());
  out.set("tickets", total);
  out.set("by_status", object_of(by_status));
  out.set("by_type", object_of(by_type));
  out.set("by_agent", object_of(by_agent));
  std::map<std::string, std::int64_t> breaches;
  std::int64_t breach_total = 0;
  for (const auto& [kind, count] : store.deadline_counts(from, to)) {
    breaches[kind] = count;
    breach_total += count;
  }
  Object sla = object_of(breaches);
  sla.set("total", breach_total);
  out.set("sla_breaches", sla);
  // Expenses made in the period, per type: how many and how much ("1234.50").
  Object expenses;
  std::int64_t expenses_cents = 0;
  for (const auto& e : store.expense_totals(from, to)) {
    Object o;
    o.set("count", e.count);
    o.set("amount", money_text(e.amount_cents));
    expenses.set(e.type_id, o);
    expenses_cents += e.amount_cents;
  }
  out.set("expenses_by_type", expenses);
  out.set("expenses_total", money_text(expenses_cents));
  // Analysis verdicts (#analysis) of the tickets opened in the period: the last one of each.
  Object verdicts, verdicts_by_type;
  std::map<std::string, std::int64_t> verdict_totals;
  std::map<std::string, Object> per_type;
  for (const auto& c : store.field_counts("analysis", from, to)) {
    verdict_totals[c.value] += c.count;
    per_type[c.type_id].set(c.value, c.count);
  }
  for (const auto& [value, count] : verdict_totals) verdicts.set(value, count);
  for (const auto& [type_id, counts] : per_type) verdicts_by_type.set(type_id, counts);
  out.set("analysis", verdicts);
  out.set("analysis_by_type", verdicts_by_type);
  // Closings after a solution (001): confirmed by the customer, or unconfirmed (silence for the
  // type's auto_close_days), of the tickets opened in the period.
  std::map<std::string, std::int64_t> confirmation_totals{{"confirmed", 0}, {"unconfirmed", 0}};
  std::map<std::string, Object> confirmation_per_type;
  for (const auto& c : store.field_counts("confirmation", from, to)) {
    confirmation_totals[c.value] += c.count;
    confirmation_per_type[c.type_id].set(c.value, c.count);
  }
  out.set("confirmations", object_of(confirmation_totals));
  Object confirmations_by_type;
  for (const auto& [type_id, counts] : confirmation_per_type) confirmations_by_type.set(type_id, counts);
  out.set("confirmations_by_type", confirmations_by_type);
  return json_reply(200, stringify(out));
}

}  // namespace atendd

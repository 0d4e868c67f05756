// metrics.cpp — see metrics.h.
#include "daemon/admin/metrics.h"

#include <unistd.h>

#include <fstream>
#include <map>
#include <sstream>

#include "daemon/admin/counters.h"
#include "daemon/runtime.h"

namespace atendd {

namespace {

// A label value with \, " and newlines escaped (the exposition format's rule).
std::string label(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

void family(std::ostringstream& out, const char* name, const char* type, const char* help) {
  out << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
}

}  // namespace

std::int64_t process_rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::int64_t pages = 0, resident = 0;
  if (!(statm >> pages >> resident)) return 0;
  return resident * static_cast<std::int64_t>(sysconf(_SC_PAGESIZE));
}

std::string render_metrics(AdminContext& context) {
  std::ostringstream out;
  std::vector<JournalCount> journal;
  std::vector<TicketCount> tickets;
  OutboxCounts outbox;
  std::vector<std::pair<std::string, std::int64_t>> deadlines;
  QuarantineSummary quarantine;
  bool store_up = true;
  {
    std::lock_guard<std::mutex> lock(context.lock);
    Store& store = context.runtime->store();
    try {
      journal = store.journal_counts();
      tickets = store.ticket_counts(0, 0);
      outbox = store.outbox_counts();
      deadlines = store.deadline_counts(0, 0);
      quarantine = store.quarantine_summary();
    } catch (const std::exception& e) {
      store_up = false;
      context.log.error(std::string("metrics: ") + e.what());
    }
  }
  family(out, "atendd_store_up", "gauge", "Whether the store answered this scrape.");
  out << "atendd_store_up " << (store_up ? 1 : 0) << "\n";

  family(out, "atendd_quarantine_messages", "gauge", "Inbound messages that could not be applied, kept for a retry.");
  out << "atendd_quarantine_messages " << quarantine.count << "\n";
  family(out, "atendd_quarantine_oldest_timestamp_seconds", "gauge",
         "When the oldest quarantined message was received (0 when the quarantine is empty).");
  out << "atendd_quarantine_oldest_timestamp_seconds " << quarantine.oldest_received_at.value_or(0) << "\n";

  family(out, "atendd_messages_total", "counter", "Inbound messages by source, mailbox and outcome (journal).");
  for (const auto& j : journal)
    out << "atendd_messages_total{source=\"" << label(j.source) << "\",mailbox=\"" << label(j.mailbox)
        << "\",outcome=\"" << label(j.outcome) << "\"} " << j.count << "\n";

  std::map<std::pair<std::string, std::string>, std::int64_t> by_status_type;
  for (const auto& t : tickets) by_status_type[{t.status, t.type_id}] += t.count;
  family(out, "atendd_tickets", "gauge", "Tickets by status and attendance type.");
  for (const auto& [key, count] : by_status_type)
    out << "atendd_tickets{status=\"" << label(key.first) << "\",type=\"" << label(key.second) << "\"} " << count
        << "\n";

  family(out, "atendd_outbox_mails", "gauge", "Outgoing mails by state.");
  std::map<std::string, std::int64_t> states{{"pending", 0}, {"sending", 0}, {"sent", 0}, {"failed", 0}};
  for (const auto& [state, count] : outbox.by_state) states[state] = count;
  for (const auto& [state, count] : states) out << "atendd_outbox_mails{state=\"" << label(state) << "\"} " << count << "\n";
  family(out, "atendd_outbox_send_latency_seconds", "summary", "Time from queueing to delivery of sent mails.");
  out << "atendd_outbox_send_latency_seconds_sum " << outbox.send_latency_seconds_sum << "\n";
  out << "atendd_outbox_send_latency_seconds_count " << outbox.sent << "\n";
  family(out, "atendd_outbox_retrying", "gauge", "Waiting outgoing mails that failed at least once (backing off).");
  out << "atendd_outbox_retrying " << outbox.retrying << "\n";
  family(out, "atendd_outbox_unsent_attempts", "gauge", "Attempts made on the outgoing mails not sent yet or failed.");
  out << "atendd_outbox_unsent_attempts " << outbox.unsent_attempts << "\n";

  family(out, "atendd_sla_breaches_total", "counter", "SLA deadlines that passed and were escalated, by deadline.");
  std::map<std::string, std::int64_t> breaches{{"first_response", 0}, {"next_contact", 0}};
  for (const auto& [kind, count] : deadlines) breaches[kind] = count;
  for (const auto& [kind, count] : breaches)
    out << "atendd_sla_breaches_total{deadline=\"" << label(kind) << "\"} " << count << "\n";

  const auto mailboxes = context.mailboxes ? context.mailboxes() : std::vector<MailboxHealth>{};
  family(out, "atendd_mailbox_up", "gauge", "Whether the mailbox's IMAP connection is up.");
  for (const auto& m : mailboxes)
    out << "atendd_mailbox_up{mailbox=\"" << label(m.id) << "\"} " << (m.status.connected ? 1 : 0) << "\n";
  family(out, "atendd_mailbox_poll_error", "gauge", "Whether the mailbox's last poll attempt failed.");
  for (const auto& m : mailboxes)
    out << "atendd_mailbox_poll_error{mailbox=\"" << label(m.id) << "\"} " << (m.status.last_error.empty() ? 0 : 1)
        << "\n";
  family(out, "atendd_mailbox_last_success_timestamp_seconds", "gauge", "When the mailbox's last fetch finished.");
  for (const auto& m : mailboxes)
    out << "atendd_mailbox_last_success_timestamp_seconds{mailbox=\"" << label(m.id) << "\"} "
        << m.status.last_success_at << "\n";

  family(out, "atendd_poll_errors_total", "counter",
         "Failed poll attempts per mailbox (IMAP) or polled channel (Telegram getUpdates) since the start.");
  auto poll_errors = counters::poll_errors();
  for (const auto& m : mailboxes) poll_errors.emplace(m.id, 0);
  for (const auto& [mailbox, count] : poll_errors)
    out << "atendd_poll_errors_total{mailbox=\"" << label(mailbox) << "\"} " << count << "\n";
  family(out, "atendd_messages_with_defects_total", "counter",
         "Messages applied since the start whose parsing found defects (malformed or repaired input).");
  out << "atendd_messages_with_defects_total " << counters::messages_with_defects() << "\n";
  family(out, "atendd_parse_defects_total", "counter", "Parser defects of applied messages since the start, by kind.");
  for (const auto& [kind, count] : counters::defects_by_kind())
    out << "atendd_parse_defects_total{kind=\"" << label(kind) << "\"} " << count << "\n";

  family(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
  out << "process_resident_memory_bytes " << process_rss_bytes() << "\n";
  return out.str();
}

}  // namespace atendd

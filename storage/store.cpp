// store.cpp — names of the store's enums and open_store(), which picks the implementation by URL.
#include "storage/store.h"

#include <algorithm>
#include <cctype>
#include <string_view>

#include "storage/postgres_store.h"
#include "storage/sqlite_store.h"

namespace atendd {

const char* status_name(TicketStatus s) {
  switch (s) {
    case TicketStatus::New: return "new";
    case TicketStatus::InProgress: return "in_progress";
    case TicketStatus::WaitingCustomer: return "waiting_customer";
    case TicketStatus::WaitingThirdParty: return "waiting_third_party";
    case TicketStatus::Scheduled: return "scheduled";
    case TicketStatus::Solved: return "solved";
    case TicketStatus::Closed: return "closed";
    case TicketStatus::Reopened: return "reopened";
    case TicketStatus::Cancelled: return "cancelled";
  }
  return "new";
}

std::optional<TicketStatus> status_from_name(const std::string& name) {
  for (TicketStatus s : {TicketStatus::New, TicketStatus::InProgress, TicketStatus::WaitingCustomer,
                         TicketStatus::WaitingThirdParty, TicketStatus::Scheduled, TicketStatus::Solved,
                         TicketStatus::Closed, TicketStatus::Reopened, TicketStatus::Cancelled})
    if (name == status_name(s)) return s;
  return std::nullopt;
}

const char* article_kind_name(ArticleKind k) {
  switch (k) {
    case ArticleKind::CustomerMessage: return "customer_message";
    case ArticleKind::AgentReply: return "agent_reply";
    case ArticleKind::InternalNote: return "internal_note";
    case ArticleKind::Forward: return "forward";
    case ArticleKind::Solution: return "solution";
    case ArticleKind::SystemLog: return "system_log";
    case ArticleKind::Analysis: return "analysis";
  }
  return "system_log";
}

const char* outbox_state_name(OutboxState s) {
  switch (s) {
    case OutboxState::Pending: return "pending";
    case OutboxState::Sending: return "sending";
    case OutboxState::Sent: return "sent";
    case OutboxState::Failed: return "failed";
  }
  return "pending";
}

const char* outbox_channel_for(const std::vector<std::string>& recipients) {
  static constexpr std::string_view kChannelDomain = ".channel.invalid";
  auto same_letter = [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == b; };
  for (const auto& r : recipients)
    if (std::search(r.begin(), r.end(), kChannelDomain.begin(), kChannelDomain.end(), same_letter) != r.end())
      return "messaging";
  return "";
}

void check_savepoint_name(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 63 && !(name[0] >= '0' && name[0] <= '9');
  for (char c : name)
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_');
  if (!ok) throw StoreError(StoreError::Kind::Other, "bad savepoint name '" + name + "'");
}

std::vector<Migration> split_migrations(const std::string& all) {
  const std::string marker = "\n-- migration ";
  std::vector<Migration> steps;
  for (size_t pos = all.find(marker); pos != std::string::npos;) {
    const size_t number_at = pos + marker.size();
    const size_t next = all.find(marker, number_at);
    const std::string number = all.substr(number_at, all.find('\n', number_at) - number_at);
    if (number.empty() || number.size() > 6 || number.find_first_not_of("0123456789") != std::string::npos)
      throw StoreError(StoreError::Kind::Other, "bad migration marker '-- migration " + number + "'");
    steps.push_back({std::stoi(number), all.substr(pos, next == std::string::npos ? std::string::npos : next - pos)});
    pos = next;
  }
  return steps;
}

std::unique_ptr<Store> open_store(const std::string& database_url) {
  const std::string sqlite_prefix = "sqlite:";
  if (database_url.rfind(sqlite_prefix, 0) == 0)
    return std::make_unique<SqliteStore>(database_url.substr(sqlite_prefix.size()));
  if (database_url.rfind("postgresql://", 0) == 0 || database_url.rfind("postgres://", 0) == 0) {
    std::string conninfo, password;
    postgres_conninfo(database_url, conninfo, password);
    return std::make_unique<PostgresStore>(conninfo, password);
  }
  throw StoreError(StoreError::Kind::Other,
                   "unsupported database '" + database_url.substr(0, database_url.find(':')) +
                       "' (this build knows sqlite:PATH and postgresql://USER@HOST:PORT/DB)");
}

}  // namespace atendd

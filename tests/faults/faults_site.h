// faults_site.h — what the fault and abuse tests share: an installation of the real `atendd`
// daemon (a real Dovecot support mailbox, a real SMTP sink, SQLite state, the admin endpoint on a
// free port), mail generators, the checks of invariants 1 and 2 over the store and the sink, and
// the figures each test records for the suite's summary table (faults_summary.cpp).
#pragma once

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "admin/admin_client.h"
#include "storage/sqlite_store.h"
#include "support/dovecot.h"
#include "support/processes.h"

namespace atendd::test {

// One test's line of the summary table (written to ATENDD_FAULTS_RESULTS/NAME.txt).
struct FaultFigures {
  explicit FaultFigures(std::string test_name) : name(std::move(test_name)) {}
  std::string name;            // short, no spaces: "crash_anywhere"
  long faults = 0;             // faults injected (kills, outages, cuts, signals…)
  long messages = 0;           // messages (or requests) sent in
  long lost = 0;               // must be 0
  long duplicated_articles = 0;  // must be 0
  long duplicate_mails = 0;    // mails the SMTP server got twice (allowed: at most one per kill)
  long hostile = 0;            // hostile inputs tried
  long crashes = 0;            // daemon deaths we did not cause; must be 0
  std::string note;            // the seed, what could not be done…
};

inline void record(const FaultFigures& f) {
  namespace fs = std::filesystem;
  fs::create_directories(ATENDD_FAULTS_RESULTS);
  write_file(std::string(ATENDD_FAULTS_RESULTS) + "/" + f.name + ".txt",
             "faults=" + std::to_string(f.faults) + "\nmessages=" + std::to_string(f.messages) +
                 "\nlost=" + std::to_string(f.lost) + "\nduplicated_articles=" + std::to_string(f.duplicated_articles) +
                 "\nduplicate_mails=" + std::to_string(f.duplicate_mails) + "\nhostile=" + std::to_string(f.hostile) +
                 "\ncrashes=" + std::to_string(f.crashes) + "\nnote=" + f.note + "\n");
}

// The seed of a randomised test: ATENDD_FAULTS_SEED when set (to replay a failure), else random.
// Printed, so a failing run says how to replay it.
inline unsigned fault_seed(const std::string& test) {
  const char* given = std::getenv("ATENDD_FAULTS_SEED");
  const unsigned seed = given && *given ? static_cast<unsigned>(std::strtoul(given, nullptr, 10))
                                        : std::random_device{}();
  std::cerr << test << ": seed " << seed << " (replay with ATENDD_FAULTS_SEED=" << seed << ")\n";
  UNSCOPED_INFO("seed " << seed << " (replay with ATENDD_FAULTS_SEED=" << seed << ")");
  return seed;
}

inline void sleep_ms(long ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

// Polls `done` every 100 ms for up to `seconds`; true once it held.
template <typename F>
bool eventually(double seconds, F done) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<long>(seconds * 1000));
  for (;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() > until) return false;
    sleep_ms(100);
  }
}

// A customer's new message (opens a ticket) and a customer's follow-up threaded by References.
inline std::string new_message(const std::string& id, const std::string& from, const std::string& subject,
                               const std::string& body = "") {
  return "From: Cliente <" + from + ">\r\nTo: suporte@atendd.test\r\nSubject: " + subject +
         "\r\nMessage-ID: <" + id + ">\r\nDate: Tue, 24 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
         "Content-Type: text/plain; charset=UTF-8\r\n\r\n" +
         (body.empty() ? "Mensagem " + id + ".\r\n" : body);
}
inline std::string follow_up(const std::string& id, const std::string& from, const std::string& subject,
                             const std::string& parent_id) {
  return "From: Cliente <" + from + ">\r\nTo: suporte@atendd.test\r\nSubject: Re: " + subject +
         "\r\nMessage-ID: <" + id + ">\r\nIn-Reply-To: <" + parent_id + ">\r\nReferences: <" + parent_id +
         ">\r\nDate: Tue, 24 Nov 2026 10:05:00 +0000\r\nMIME-Version: 1.0\r\n"
         "Content-Type: text/plain; charset=UTF-8\r\n\r\nMais uma coisa sobre " + parent_id + ".\r\n";
}

// What the store holds, counted for invariants 1 and 2.
struct StoreCensus {
  std::map<std::string, int> articles_by_message_id;  // inbound articles only (customer messages)
  std::map<std::string, int> outbox_by_message_id;
  std::map<std::string, int> ticket_by_subject;       // tickets per subject
  long tickets = 0;
  long outbox = 0;
  long outbox_sent = 0;
  long outbox_not_sent = 0;
  std::map<std::string, long> outbox_templates;       // template → count
};

inline StoreCensus census(Store& store) {
  StoreCensus c;
  for (const auto& t : store.tickets(std::nullopt, 1000000)) {
    ++c.tickets;
    ++c.ticket_by_subject[t.subject];
    for (const auto& a : store.articles(t.id))
      if (a.kind == ArticleKind::CustomerMessage || a.kind == ArticleKind::AgentReply) ++c.articles_by_message_id[a.message_id];
    for (const auto& m : store.outbox_of_ticket(t.id)) {
      ++c.outbox;
      ++c.outbox_by_message_id[m.message_id];
      ++c.outbox_templates[m.template_name];
      if (m.state == OutboxState::Sent) ++c.outbox_sent;
      else ++c.outbox_not_sent;
    }
  }
  return c;
}

// Counts into `figures` the messages (by Message-ID) that became no article (lost) or more than
// one (duplicated articles), and how many were sent in.
inline void count_articles(const StoreCensus& c, const std::vector<std::string>& ids, FaultFigures& figures) {
  figures.messages = static_cast<long>(ids.size());
  for (const auto& id : ids) {
    const auto it = c.articles_by_message_id.find(id);
    const int n = it == c.articles_by_message_id.end() ? 0 : it->second;
    figures.lost += n == 0;
    figures.duplicated_articles += n > 1 ? n - 1 : 0;
  }
}

// Mails the SMTP server received more than once (same Message-ID): extra copies counted.
inline long duplicate_mails(const std::vector<ReceivedMail>& mails) {
  std::map<std::string, int> seen;
  long extra = 0;
  for (const auto& m : mails)
    if (++seen[m.header("Message-ID")] > 1) ++extra;
  return extra;
}

// An atendd installation: Dovecot with a support mailbox, an SMTP sink, a state directory, the
// admin endpoint on a free port with a read and an admin token.
struct Site {
  std::unique_ptr<Dovecot> dovecot = std::make_unique<Dovecot>(std::vector<std::string>{"support"});
  TempDir dir;
  SmtpSink sink{dir.path() + "/sink"};
  std::string state_dir = dir.path() + "/state";
  std::string database = state_dir + "/atendd.db";
  std::string config = dir.path() + "/atendd.ini";
  std::string log = dir.path() + "/atendd.log";
  int admin_port = free_port();
  std::string extra;   // appended to the INI
  int imap_port = 0;   // 0 = Dovecot's own (a TcpProxy's port otherwise)

  static constexpr const char* kReadToken = "faults-read-token-0123456789";
  static constexpr const char* kAdminToken = "faults-admin-token-0123456789";

  explicit Site(std::string extra_ini = "", int imap_port_override = 0) : extra(std::move(extra_ini)), imap_port(imap_port_override) {
    std::filesystem::create_directories(state_dir);
    write_file(dir.path() + "/suporte.pass", "secret\n");
    write_file(dir.path() + "/admin.tokens",
               std::string("leitor read ") + kReadToken + "\nchefe admin " + kAdminToken + "\n");
    write_config();
  }

  std::string ini() const {
    const int port = imap_port ? imap_port : dovecot->imap_port();
    return "[server]\nname = Suporte Teste\naddress = suporte@atendd.test\n"
           "reply_address = suporte+{token}@atendd.test\nstate_dir = " + state_dir + "\ndatabase = sqlite:" + database +
           "\nlocale = pt_BR\n"
           "admin_listen = 127.0.0.1:" + std::to_string(admin_port) + "\nadmin_tokens = " + dir.path() + "/admin.tokens\n"
           "[smtp]\nhost = 127.0.0.1\nport = " + std::to_string(sink.port()) + "\n"
           "timeout_seconds = 5\nretry_initial_seconds = 1\nretry_max_seconds = 2\n"
           "[mailbox.suporte]\nurl = imap://127.0.0.1:" + std::to_string(port) + "/INBOX\nca_file = " +
           dovecot->ca_file() + "\nuser = support\npassword_file = suporte.pass\npoll_seconds = 1\n"
           "[agent.maria]\nemail = maria@atendd.test\nname = Maria Souza\ndepartment = suporte\n"
           "[type.geral]\nname = Geral\ndepartment = suporte\nassign = round_robin\n" + extra;
  }
  void write_config() const { write_file(config, ini()); }

  // Starts the daemon; with `wait_ready`, returns once its admin endpoint answers.
  std::unique_ptr<DaemonProcess> start(bool wait_ready = true, const std::vector<std::string>& env = {}) const {
    auto daemon = std::make_unique<DaemonProcess>(std::vector<std::string>{"--config", config}, env, log);
    if (wait_ready)
      for (int i = 0; i < 300 && http("GET", admin_url("/healthz")).status == 0; ++i) sleep_ms(50);
    return daemon;
  }
  std::unique_ptr<SqliteStore> store() const { return std::make_unique<SqliteStore>(database); }
  std::string admin_url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(admin_port) + path;
  }
  // True once every message in the support INBOX is \Seen and there are `count` of them.
  bool all_seen(size_t count) const {
    const auto list = dovecot->list("support");
    if (list.size() != count) return false;
    for (const auto& m : list)
      if (!m.seen()) return false;
    return true;
  }
  size_t unseen() const {
    size_t n = 0;
    for (const auto& m : dovecot->list("support")) n += m.seen() ? 0 : 1;
    return n;
  }
};

}  // namespace atendd::test

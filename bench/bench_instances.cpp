// bench_instances — ingest throughput of whole `atendd` daemons: one instance on SQLite, then one
// and two instances on one PostgreSQL (a private server, tests/support/postgres.cpp), each taking
// the same new-ticket mail (the bench_pipeline messages, 2–3 KB) from four mailboxes of a private
// Dovecot. Timed from dropping the messages into the Maildirs to the last one journalled (every
// message parsed, applied in its transaction, its opening mail queued); the outgoing mail is left
// queued (SMTP points at a closed port with a long retry) so that only the intake is measured.
// Two instances split the mailboxes by configuration (two each): with identical configurations the
// first instance to start would take every lease. Usage: bench_instances [--tiny] (4,000; --tiny: 40;
// --tiny checks nothing but that it ran).
#include <sqlite3.h>

#include <filesystem>
#include <memory>
#include <thread>

#include "bench/bench_common.h"
#include "support/dovecot.h"
#include "support/postgres.h"

using namespace atendd;
using namespace atendd::bench;

namespace {

constexpr int kMailboxes = 4;
const std::vector<std::string> kUsers{"q1", "q2", "q3", "q4"};

struct Row {
  std::string store;
  std::string instances;
  int messages = 0;
  double seconds = 0;
  bool ok = false;
};

std::vector<std::string> openings(int n, int first_serial) {
  std::mt19937 rng(20261124u + static_cast<unsigned>(first_serial));
  std::vector<std::string> out;
  for (int k = 0; k < n; ++k) out.push_back(helpdesk_message(rng, first_serial + k, first_serial + k, 0, k % 5));
  return out;
}

// The INI of one instance polling `mailboxes` (indexes into kUsers).
std::string instance_ini(const std::string& dir, const std::string& name, const std::string& database,
                         test::Dovecot& dovecot, const std::vector<int>& mailboxes) {
  std::string ini = "[server]\nname = Suporte\naddress = suporte@suporte.example\n"
                    "reply_address = suporte+{token}@suporte.example\nstate_dir = " + dir + "/" + name +
                    "-state\ndatabase = " + database + "\nsecret_file = " + dir + "/reply.secret\n"
                    "admin_listen = 127.0.0.1:" + std::to_string(test::free_port()) + "\nlocale = pt_BR\n"
                    "log_level = error\n"
                    "[smtp]\nhost = 127.0.0.1\nport = " + std::to_string(test::free_port()) +
                    "\nretry_initial_seconds = 3600\nretry_max_seconds = 3600\n"
                    "[agent.ana]\nemail = ana@suporte.example\nname = Ana\ndepartment = suporte\n"
                    "[type.geral]\nname = Geral\ndepartment = suporte\n";
  for (int m : mailboxes)
    ini += "[mailbox." + kUsers[m] + "]\nurl = " + dovecot.imap_url() + "\ntls = none\nuser = " + kUsers[m] +
           "\npassword_file = " + dir + "/imap.pass\npoll_seconds = 1\nidle = false\n";
  const std::string path = dir + "/" + name + ".ini";
  test::write_file(path, ini);
  return path;
}

template <typename Count>
Row run(const std::string& store, const std::vector<std::vector<int>>& split, const std::string& database,
        test::Dovecot& dovecot, const std::string& dir, int n, int first_serial, Count journalled) {
  Row r;
  r.store = store;
  r.instances = std::to_string(split.size()) + (split.size() > 1 ? " (2+2 mailboxes)" : " (4 mailboxes)");
  r.messages = n;
  std::vector<std::unique_ptr<test::DaemonProcess>> daemons;
  for (size_t i = 0; i < split.size(); ++i)
    daemons.push_back(std::make_unique<test::DaemonProcess>(std::vector<std::string>{
        "--config", instance_ini(dir, store + std::to_string(i), database, dovecot, split[i])}));
  // Started: connected, leases taken, the (empty) mailboxes polled once.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  const auto mail = openings(n, first_serial);
  const int per = n / kMailboxes;
  const auto t0 = Steady::now();
  for (int m = 0; m < kMailboxes; ++m)
    dovecot.add_unseen_many(kUsers[m], std::vector<std::string>(mail.begin() + m * per, mail.begin() + (m + 1) * per));
  while (seconds_since(t0) < 600) {
    if (journalled() >= per * kMailboxes) {
      r.ok = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  r.seconds = seconds_since(t0);
  r.messages = per * kMailboxes;
  for (auto& d : daemons) d->stop();
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  bool tiny = false;
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--tiny") {
      tiny = true;
    } else {
      std::fprintf(stderr, "usage: %s [--tiny]\n", argv[0]);
      return 2;
    }
  }
  const int n = tiny ? 40 : 4000;
  std::printf("bench_instances%s (%s)\n"
              "%d new-ticket messages (2-3 KB) dropped at once into 4 mailboxes of a private Dovecot (plain IMAP,\n"
              "poll every second, no IDLE); whole atendd daemons take them in; time from the drop to the last\n"
              "message journalled. Opening mails stay queued (SMTP unreachable, retry in an hour).\n\n",
              tiny ? " --tiny" : "", kBuildNote, n);
  try {
    test::Dovecot dovecot(kUsers);
    test::TempDir dir;
    test::write_file(dir.path() + "/imap.pass", dovecot.password() + "\n");
    test::write_file(dir.path() + "/reply.secret", "bench key\n");
    std::vector<Row> rows;

    // SQLite, one instance (one writer at a time: the only way SQLite runs).
    const std::string sqlite_path = dir.path() + "/sqlite.db";
    rows.push_back(run("SQLite", {{0, 1, 2, 3}}, "sqlite:" + sqlite_path, dovecot, dir.path(), n, 1, [&] {
      // A plain read-only connection: a SqliteStore would run its migration check (a write) each time.
      sqlite3* db = nullptr;
      std::int64_t total = 0;
      if (sqlite3_open_v2(sqlite_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
        sqlite3_stmt* q = nullptr;
        if (sqlite3_prepare_v2(db, "SELECT count(*) FROM journal", -1, &q, nullptr) == SQLITE_OK &&
            sqlite3_step(q) == SQLITE_ROW)
          total = sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
      }
      sqlite3_close(db);
      return total;
    }));

    auto& pg = test::Postgres::instance();
    test::write_file(dir.path() + "/db.pass", test::Postgres::password() + "\n");
    auto pg_url = [&](const std::string& db) {
      return "postgresql://" + test::Postgres::user() + "@127.0.0.1:" + std::to_string(pg.port()) + "/" + db +
             "?password_file=" + dir.path() + "/db.pass";
    };
    auto pg_count = [&pg](const std::string& db) {
      return [&pg, db] {
        try {
          return std::stoll(pg.sql("SELECT count(*) FROM journal", db));
        } catch (const std::exception&) {
          return 0LL;
        }
      };
    };
    const std::string one = pg.create_database();
    rows.push_back(run("PostgreSQL", {{0, 1, 2, 3}}, pg_url(one), dovecot, dir.path(), n, 100001, pg_count(one)));
    const std::string two = pg.create_database();
    rows.push_back(run("PostgreSQL", {{0, 1}, {2, 3}}, pg_url(two), dovecot, dir.path(), n, 200001, pg_count(two)));

    std::printf("%-11s %-22s %9s %9s %9s\n", "store", "instances", "messages", "seconds", "msg/s");
    std::printf("%s\n", std::string(64, '-').c_str());
    bool ok = true;
    for (const auto& r : rows) {
      std::printf("%-11s %-22s %9d %9.2f %9.0f%s\n", r.store.c_str(), r.instances.c_str(), r.messages, r.seconds,
                  r.messages / r.seconds, r.ok ? "" : "  (NOT all journalled)");
      ok = ok && r.ok;
    }
    const double sqlite_rate = rows[0].messages / rows[0].seconds;
    std::printf("\n");
    summary("instances", "ingest, PostgreSQL, 1 instance", rows[1].messages / rows[1].seconds, "msg/s", 0, 0,
            "SQLite, 1 instance", sqlite_rate);
    summary("instances", "ingest, PostgreSQL, 2 instances", rows[2].messages / rows[2].seconds, "msg/s", 0, 0,
            "SQLite, 1 instance", sqlite_rate);
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_instances: %s\n", e.what());
    return 1;
  }
}

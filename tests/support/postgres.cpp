// postgres.cpp — see postgres.h. The server refuses to run as root, so as root initdb and pg_ctl
// run as the `postgres` user through runuser (the recipe of ../shared/notes/test-servers.md).
#include "support/postgres.h"

#include <libpq-fe.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>

#include "support/processes.h"

namespace atendd::test {

namespace fs = std::filesystem;

namespace {

std::string find_bin() {
  std::string best;
  if (fs::exists("/usr/lib/postgresql")) {
    for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql")) {
      const auto bin = entry.path() / "bin";
      if (fs::exists(bin / "initdb") && bin.string() > best) best = bin.string();
    }
  }
  if (best.empty()) throw std::runtime_error("PostgreSQL server binaries not found (apt-get install postgresql)");
  return best;
}

void shell(const std::string& command) {
  if (std::system(command.c_str()) != 0) {
  }
}

// Runs a shell command, as the postgres user when we are root; throws with the log on failure.
void run_as_server(const std::string& command, const std::string& log) {
  const std::string full = (::geteuid() == 0 ? "runuser -u postgres -- " : "") + command + " >>" + log + " 2>&1";
  if (std::system(full.c_str()) != 0)
    throw std::runtime_error("failed: " + command + "\n" + read_file(log));
}

}  // namespace

Postgres& Postgres::instance() {
  static Postgres server;
  return server;
}

Postgres::Postgres() : bin_(find_bin()) {
  char pattern[] = "/tmp/atendd-pg-XXXXXX";
  if (!::mkdtemp(pattern)) throw std::runtime_error("mkdtemp failed");
  dir_ = pattern;
  ::chmod(dir_.c_str(), 0755);
  if (::geteuid() == 0) shell("chown postgres: " + dir_);
  const std::string log = dir_ + "/setup.log";
  write_file(dir_ + "/pwfile", "postgres-test-pw\n");
  if (::geteuid() == 0) shell("chown postgres: " + dir_ + "/pwfile");
  run_as_server(bin_ + "/initdb -D " + dir_ + "/data -U postgres --pwfile=" + dir_ +
                    "/pwfile --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 --no-sync",
                log);
  port_ = free_port();
  run_as_server(bin_ + "/pg_ctl -D " + dir_ + "/data -l " + dir_ + "/server.log -w -t 60 -o \"-c listen_addresses=127.0.0.1 -p " +
                    std::to_string(port_) + " -c unix_socket_directories=" + dir_ +
                    " -c timezone=UTC -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
                    " -c max_connections=200\" start",
                log);
  // The watchdog: stops the server once this process is gone, however it ended.
  const std::string stop = (::geteuid() == 0 ? "runuser -u postgres -- " : "") + bin_ + "/pg_ctl -D " + dir_ +
                           "/data -m immediate stop";
  shell("(while kill -0 " + std::to_string(::getpid()) + " 2>/dev/null; do sleep 1; done; " + stop + "; rm -rf " +
        dir_ + ") </dev/null >/dev/null 2>&1 &");
  sql("CREATE ROLE " + user() + " LOGIN CREATEDB PASSWORD '" + password() + "'");
}

Postgres::~Postgres() {
  const std::string stop = (::geteuid() == 0 ? "runuser -u postgres -- " : "") + bin_ + "/pg_ctl -D " + dir_ +
                           "/data -m immediate -w stop >/dev/null 2>&1";
  shell(stop);
  std::error_code ignored;
  fs::remove_all(dir_, ignored);
}

std::string Postgres::sql(const std::string& statement, const std::string& database) {
  const std::string conninfo =
      "host=" + dir_ + " port=" + std::to_string(port_) + " user=postgres dbname=" + database;
  std::unique_ptr<PGconn, void (*)(PGconn*)> conn(PQconnectdb(conninfo.c_str()), PQfinish);
  if (PQstatus(conn.get()) != CONNECTION_OK)
    throw std::runtime_error(std::string("connecting to the test PostgreSQL: ") + PQerrorMessage(conn.get()));
  std::unique_ptr<PGresult, void (*)(PGresult*)> result(PQexec(conn.get(), statement.c_str()), PQclear);
  const auto status = PQresultStatus(result.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
    throw std::runtime_error("running " + statement + ": " + PQresultErrorMessage(result.get()));
  if (status == PGRES_TUPLES_OK && PQntuples(result.get()) > 0) return PQgetvalue(result.get(), 0, 0);
  return "";
}

std::string Postgres::create_database() {
  const std::string name = "test_" + std::to_string(::getpid()) + "_" + std::to_string(++databases_);
  sql("CREATE DATABASE " + name + " OWNER " + user() + " TEMPLATE template0");
  return name;
}

std::string Postgres::url(const std::string& database) const {
  return "postgresql://" + user() + ":" + password() + "@127.0.0.1:" + std::to_string(port_) + "/" + database;
}

}  // namespace atendd::test

// postgres.h — a throwaway PostgreSQL 15 for a test binary: initdb into a temporary directory,
// the server on a free port of 127.0.0.1 (Unix socket in the same directory), fsync off. Started
// on first use, once per process, stopped at exit; a watchdog stops it too when the test process
// dies without cleaning up. Each test takes a fresh, empty database of its own.
#pragma once

#include <string>

namespace atendd::test {

class Postgres {
 public:
  // The server of this process, started on the first call; throws when it cannot start.
  static Postgres& instance();
  ~Postgres();
  Postgres(const Postgres&) = delete;
  Postgres& operator=(const Postgres&) = delete;

  int port() const { return port_; }
  // Role and password the tests (and daemons) connect with (scram-sha-256 over TCP).
  static std::string user() { return "atendd"; }
  static std::string password() { return "atendd-test-pw"; }
  // Creates a fresh empty database owned by user(); returns its name.
  std::string create_database();
  // "postgresql://atendd:PASSWORD@127.0.0.1:PORT/NAME"
  std::string url(const std::string& database) const;
  // Runs SQL as the superuser in `database`; returns the first column of the first row, or "".
  std::string sql(const std::string& statement, const std::string& database = "postgres");

 private:
  Postgres();
  std::string dir_;
  std::string bin_;
  int port_ = 0;
  int databases_ = 0;
};

}  // namespace atendd::test

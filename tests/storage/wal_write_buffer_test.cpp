// wal_write_buffer_test.cpp — the buffered log (storage/wal_write_buffer.h) holds nothing that
// matters once a commit returns: a process that dies right after its COMMIT keeps every committed
// row, another connection reads each commit at once, and transactions that spill pages into the
// log before their COMMIT (re-dirtied, rolled back) leave a sound database. Every writer here runs
// synchronous=NORMAL with no automatic checkpoint, so only the VFS's own write-outs put frames
// into the file before the process ends.
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include <catch2/catch.hpp>

#include <sqlite3.h>

#include "storage/wal_write_buffer.h"
#include "support/processes.h"

using namespace atendd;
using atendd::test::TempDir;

namespace {

sqlite3* open_db(const std::string& path, const char* vfs) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs) == SQLITE_OK);
  return db;
}

void exec(sqlite3* db, const std::string& sql) {
  char* error = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  const std::string message = error ? error : "";
  sqlite3_free(error);
  INFO(sql << ": " << message);
  REQUIRE(rc == SQLITE_OK);
}

std::int64_t integer(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
  const std::int64_t value = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  return value;
}

std::string text(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
  std::string value(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)));
  sqlite3_finalize(stmt);
  return value;
}

// A writer through the buffered log, as the store opens it, with nothing else flushing for it.
sqlite3* open_writer(const std::string& path, int cache_pages) {
  sqlite3* db = open_db(path, wal_write_buffer_vfs());
  exec(db, "PRAGMA journal_mode=WAL");
  exec(db, "PRAGMA synchronous=NORMAL");
  exec(db, "PRAGMA wal_autocheckpoint=0");
  exec(db, "PRAGMA cache_size=" + std::to_string(cache_pages));
  exec(db, "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v BLOB NOT NULL)");
  return db;
}

// Rows [first, first + n) of `bytes` bytes each, as one statement.
std::string insert_sql(int first, int n, int bytes) {
  return "WITH RECURSIVE s(x) AS (VALUES(" + std::to_string(first) + ") UNION ALL SELECT x + 1 FROM s WHERE x < " +
         std::to_string(first + n - 1) + ") INSERT INTO t (id, v) SELECT x, zeroblob(" + std::to_string(bytes) +
         ") FROM s";
}

// Rows of 3,000 bytes, in one transaction: about 100 log frames for 100 rows.
void insert_rows(sqlite3* db, int first, int n) { exec(db, insert_sql(first, n, 3000)); }

}  // namespace

TEST_CASE("a process that dies right after its commit keeps every committed row", "[store][wal-buffer]") {
  TempDir dir;
  const std::string path = dir.path() + "/a.db";
  // Large transactions (several buffers each), then small ones that fit in the buffer whole: the
  // last commit before the process ends is a single row.
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, wal_write_buffer_vfs()) !=
        SQLITE_OK)
      _exit(2);
    const char* setup = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=0;"
                        "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB NOT NULL)";
    if (sqlite3_exec(db, setup, nullptr, nullptr, nullptr) != SQLITE_OK) _exit(3);
    int next = 1;
    for (int batch = 0; batch < 5; ++batch, next += 200) {
      const std::string sql = insert_sql(next, 200, 3000);
      if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) _exit(4);
    }
    for (int one = 0; one < 3; ++one, ++next) {
      const std::string sql = insert_sql(next, 1, 10);
      if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) _exit(5);
    }
    _exit(0);  // no sqlite3_close: what the VFS still held would be lost here
  }
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);

  sqlite3* db = open_db(path, nullptr);
  CHECK(integer(db, "SELECT count(*) FROM t") == 1003);
  CHECK(integer(db, "SELECT max(id) FROM t") == 1003);
  CHECK(text(db, "PRAGMA integrity_check") == "ok");
  sqlite3_close(db);
}

TEST_CASE("another connection reads each commit of the buffered log as soon as it returns", "[store][wal-buffer]") {
  TempDir dir;
  const std::string path = dir.path() + "/a.db";
  sqlite3* writer = open_writer(path, 2000);
  sqlite3* reader = open_db(path, nullptr);
  int rows = 0;
  for (int n : {1, 3, 40, 100, 1, 250, 2}) {
    insert_rows(writer, rows + 1, n);
    rows += n;
    INFO("after a commit of " << n << " rows");
    CHECK(integer(reader, "SELECT count(*) FROM t") == rows);
    CHECK(integer(reader, "SELECT sum(length(v)) FROM t") == 3000LL * rows);
  }
  CHECK(text(reader, "PRAGMA integrity_check") == "ok");
  sqlite3_close(reader);
  sqlite3_close(writer);
}

TEST_CASE("transactions that spill pages into the buffered log before the commit stay sound",
          "[store][wal-buffer]") {
  TempDir dir;
  const std::string path = dir.path() + "/a.db";
  // A 20-page cache: 300 rows of 3 KB spill their pages into the log mid-transaction, and the
  // UPDATE dirties them again, so SQLite reads its own spilled frames back and overwrites them.
  sqlite3* writer = open_writer(path, 20);
  sqlite3* reader = open_db(path, nullptr);

  exec(writer, "BEGIN");
  insert_rows(writer, 1, 300);
  exec(writer, "UPDATE t SET v = zeroblob(2900) WHERE id % 2 = 0");
  exec(writer, "COMMIT");
  CHECK(integer(reader, "SELECT count(*) FROM t") == 300);
  CHECK(integer(reader, "SELECT sum(length(v)) FROM t") == 150LL * 3000 + 150LL * 2900);

  SECTION("a spilled transaction rolled back leaves nothing behind") {
    exec(writer, "BEGIN");
    insert_rows(writer, 301, 300);
    exec(writer, "DELETE FROM t WHERE id <= 100");
    exec(writer, "ROLLBACK");
    CHECK(integer(reader, "SELECT count(*) FROM t") == 300);
    insert_rows(writer, 301, 1);
    CHECK(integer(reader, "SELECT count(*) FROM t") == 301);
  }
  SECTION("a checkpoint copies every committed frame into the database") {
    exec(writer, "PRAGMA wal_checkpoint(TRUNCATE)");
    CHECK(integer(reader, "SELECT count(*) FROM t") == 300);
  }
  CHECK(text(reader, "PRAGMA integrity_check") == "ok");
  CHECK(text(writer, "PRAGMA integrity_check") == "ok");
  sqlite3_close(reader);
  sqlite3_close(writer);
}

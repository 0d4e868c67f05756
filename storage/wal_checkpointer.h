// wal_checkpointer.h — copies a SQLite database's write-ahead log back into the database file on a
// thread of its own, so the connection that commits a batch does not also do the copy and its
// fsync inline (SQLite's auto-checkpoint runs inside the COMMIT that crosses 1,000 log pages).
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <sys/types.h>

struct sqlite3;

namespace atendd {

class WalCheckpointer {
 public:
  // The log holds this many pages: wake the checkpointer (SQLite's own auto-checkpoint threshold).
  static constexpr int kBackgroundPages = 1000;
  // The log still holds this many (the checkpointer cannot keep up, or is not running in this
  // process): the committing connection checkpoints inline, as SQLite would have.
  static constexpr int kInlinePages = 8000;

  // The checkpointer of the database file at `path`, shared by this process's connections to it.
  static std::shared_ptr<WalCheckpointer> for_database(const std::string& path);

  explicit WalCheckpointer(std::string path);
  ~WalCheckpointer();
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  // Replaces the connection's auto-checkpoint with this checkpointer. The connection must be
  // closed before the last shared_ptr to this object goes.
  void attach(sqlite3* db);

  // Checkpoints run on the thread so far (for tests and benchmarks).
  long completed() const;

 private:
  static int on_commit(void* self, sqlite3* db, const char* schema, int pages);
  void request();
  void run();

  const std::string path_;
  const pid_t owner_pid_;  // a forked child has no checkpointer thread: it checkpoints inline
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool requested_ = false;
  bool stopping_ = false;
  long completed_ = 0;
  std::thread thread_;  // started on the first request
};

}  // namespace atendd

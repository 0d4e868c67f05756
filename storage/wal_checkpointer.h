// wal_checkpointer.h — copies a SQLite database's write-ahead log back into the database file on a
// thread of its own, so the connection that commits a batch does not also do the copy and its
// fsync inline (SQLite's auto-checkpoint runs inside the COMMIT that crosses 1,000 log pages).
#pragma once

#include <atomic>
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
  // The log holds this many bytes: wake the checkpointer. SQLite's own threshold is 1,000 pages
  // (4 MB of 4 KiB pages); a batch of 1,000 messages writes 16-30 MB of log at once anyway, and a
  // copy every 4 MB instead of 16 had the intake wait on the copy's fsync (bench_pipeline with
  // 16 KiB pages: 4,719-4,983 msg/s at 100,000 messages instead of 5,555-5,560).
  static constexpr long kBackgroundBytes = 16L << 20;
  // The log still holds this many (the checkpointer cannot keep up, or is not running in this
  // process): the committing connection checkpoints inline, as SQLite would have.
  static constexpr long kInlineBytes = 64L << 20;

  // The checkpointer of the database file at `path`, shared by this process's connections to it.
  static std::shared_ptr<WalCheckpointer> for_database(const std::string& path);

  explicit WalCheckpointer(std::string path);
  ~WalCheckpointer();
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  // Replaces the connection's auto-checkpoint with this checkpointer; `page_bytes`: the database's
  // page size. The connection must be closed before the last shared_ptr to this object goes.
  void attach(sqlite3* db, int page_bytes);

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
  std::atomic<int> page_bytes_{4096};  // one file, one page size: the last attach's
  std::thread thread_;  // started on the first request
};

}  // namespace atendd

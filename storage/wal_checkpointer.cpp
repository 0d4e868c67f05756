// wal_checkpointer.cpp — see wal_checkpointer.h.
#include "storage/wal_checkpointer.h"

#include <map>

#include <sqlite3.h>
#include <unistd.h>

namespace atendd {

std::shared_ptr<WalCheckpointer> WalCheckpointer::for_database(const std::string& path) {
  static std::mutex registry_mutex;
  static std::map<std::string, std::weak_ptr<WalCheckpointer>> registry;
  std::lock_guard<std::mutex> lock(registry_mutex);
  for (auto it = registry.begin(); it != registry.end();) it = it->second.expired() ? registry.erase(it) : ++it;
  std::weak_ptr<WalCheckpointer>& slot = registry[path];
  std::shared_ptr<WalCheckpointer> shared = slot.lock();
  if (!shared || shared->owner_pid_ != ::getpid()) {
    shared = std::make_shared<WalCheckpointer>(path);
    slot = shared;
  }
  return shared;
}

WalCheckpointer::WalCheckpointer(std::string path) : path_(std::move(path)), owner_pid_(::getpid()) {}

WalCheckpointer::~WalCheckpointer() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  // A thread inherited through fork() does not exist in the child: only its owner joins it.
  if (thread_.joinable()) {
    if (owner_pid_ == ::getpid()) thread_.join();
    else thread_.detach();
  }
}

void WalCheckpointer::attach(sqlite3* db, int page_bytes) {
  if (page_bytes > 0) page_bytes_ = page_bytes;
  sqlite3_wal_hook(db, &WalCheckpointer::on_commit, this);
}

long WalCheckpointer::completed() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return completed_;
}

int WalCheckpointer::on_commit(void* self, sqlite3* db, const char* schema, int pages) {
  auto* checkpointer = static_cast<WalCheckpointer*>(self);
  const bool has_thread = checkpointer->owner_pid_ == ::getpid();
  const long bytes = static_cast<long>(pages) * checkpointer->page_bytes_.load(std::memory_order_relaxed);
  if (bytes >= kInlineBytes || (!has_thread && bytes >= kBackgroundBytes)) {
    // What SQLite's auto-checkpoint does; a checkpoint already running elsewhere answers BUSY,
    // which is no error for the commit that called us.
    sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  } else if (bytes >= kBackgroundBytes) {
    checkpointer->request();
  }
  return SQLITE_OK;
}

void WalCheckpointer::request() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return;
    requested_ = true;
    if (!thread_.joinable()) {
      try {
        thread_ = std::thread([this] { run(); });
      } catch (const std::system_error&) {
        requested_ = false;  // no thread to be had: the inline threshold still bounds the log
        return;
      }
    }
  }
  wake_.notify_one();
}

void WalCheckpointer::run() {
  sqlite3* db = nullptr;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return requested_ || stopping_; });
      if (stopping_) break;
      requested_ = false;
    }
    if (db == nullptr) {
      // A connection finds the file in WAL mode only at its first read; until then a checkpoint
      // through it does nothing at all.
      if (sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK ||
          sqlite3_exec(db, "SELECT 1 FROM sqlite_schema LIMIT 1", nullptr, nullptr, nullptr) != SQLITE_OK) {
        sqlite3_close(db);  // the committing connections' inline threshold still bounds the log
        db = nullptr;
        continue;
      }
    }
    // PASSIVE: copies what no reader still needs, waits for nobody. The log starts again from its
    // beginning (instead of growing) only after a checkpoint has copied all of it, so while the
    // copy gains on a writer that keeps committing, it goes on.
    int log_pages = 0;
    int copied_pages = 0;
    int copied_before = -1;
    while (sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log_pages, &copied_pages) == SQLITE_OK &&
           copied_pages < log_pages && copied_pages > copied_before) {
      copied_before = copied_pages;
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) break;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    ++completed_;
  }
  sqlite3_close(db);
}

}  // namespace atendd

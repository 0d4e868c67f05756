// wal_write_buffer.cpp — see wal_write_buffer.h.
#include "storage/wal_write_buffer.h"

#include <sqlite3.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>

namespace atendd {
namespace {

// 7 frames of 16 KiB pages, 29 of 4 KiB: the default (unix) VFS writes at most 128 KiB - 1 bytes
// a call (it masks the length with 0x1ffff), so a larger write would come back short. Allocated
// at a log's first write, freed after each commit.
constexpr int kBufferBytes = 120 * 1024;
constexpr int kFrameHeaderBytes = 24;  // SQLite's WAL_FRAME_HDRSIZE

sqlite3_vfs* base_vfs = nullptr;  // the default VFS this one wraps
sqlite3_vfs wal_vfs;              // a copy of it, with our xOpen and szOsFile

// A log file opened through the VFS: the default VFS's file lives right after this header.
struct BufferedLog {
  sqlite3_file base;  // first: SQLite sees this struct as its sqlite3_file
  sqlite3_file* real = nullptr;
  char* buffer = nullptr;
  int length = 0;                  // bytes held
  sqlite3_int64 start = 0;         // the file offset of buffer[0]
  bool write_next_through = false; // the last write was a commit frame's header
};

sqlite3_file* real_of(sqlite3_file* f) { return reinterpret_cast<BufferedLog*>(f)->real; }

int write_out(BufferedLog* log) {
  if (log->length == 0) return SQLITE_OK;
  const int rc = log->real->pMethods->xWrite(log->real, log->buffer, log->length, log->start);
  log->length = 0;  // written or not, it is not offered twice: SQLite handles the failed write
  return rc;
}

void drop_buffer(BufferedLog* log) {
  std::free(log->buffer);
  log->buffer = nullptr;
}

// A frame header (24 bytes) whose bytes 4-7, the database size after the commit, are not zero.
bool is_commit_header(const void* data, int amount) {
  if (amount != kFrameHeaderBytes) return false;
  const auto* p = static_cast<const unsigned char*>(data);
  return (p[4] | p[5] | p[6] | p[7]) != 0;
}

int log_write(sqlite3_file* f, const void* data, int amount, sqlite3_int64 offset) {
  auto* log = reinterpret_cast<BufferedLog*>(f);
  const bool commit_header = is_commit_header(data, amount);
  const bool through = log->write_next_through || commit_header || amount > kBufferBytes;
  log->write_next_through = commit_header;
  const bool follows = log->length > 0 && offset == log->start + log->length;
  if (!through && (follows || log->length == 0) && log->length + amount <= kBufferBytes) {
    if (!log->buffer) {
      log->buffer = static_cast<char*>(std::malloc(kBufferBytes));
      if (!log->buffer) return log->real->pMethods->xWrite(log->real, data, amount, offset);
    }
    if (log->length == 0) log->start = offset;
    std::memcpy(log->buffer + log->length, data, static_cast<std::size_t>(amount));
    log->length += amount;
    return SQLITE_OK;
  }
  // Part of a commit, too large, out of sequence or full: what is held goes first, then this (in
  // one write when a commit's piece follows on).
  if (through && follows && log->length + amount <= kBufferBytes) {
    std::memcpy(log->buffer + log->length, data, static_cast<std::size_t>(amount));
    log->length += amount;
    const int rc = write_out(log);
    if (!commit_header) drop_buffer(log);  // the commit's last frame is out: nothing held now
    return rc;
  }
  if (const int rc = write_out(log); rc != SQLITE_OK) return rc;
  if (through) {
    const int rc = log->real->pMethods->xWrite(log->real, data, amount, offset);
    if (!commit_header) drop_buffer(log);
    return rc;
  }
  log->start = offset;
  std::memcpy(log->buffer, data, static_cast<std::size_t>(amount));
  log->length = amount;
  return SQLITE_OK;
}

int log_close(sqlite3_file* f) {
  auto* log = reinterpret_cast<BufferedLog*>(f);
  const int written = write_out(log);
  drop_buffer(log);
  const int closed = log->real->pMethods->xClose(log->real);
  log->~BufferedLog();
  return written != SQLITE_OK ? written : closed;
}

// The calls after which the file must hold everything written so far.
int log_read(sqlite3_file* f, void* data, int amount, sqlite3_int64 offset) {
  if (const int rc = write_out(reinterpret_cast<BufferedLog*>(f)); rc != SQLITE_OK) return rc;
  return real_of(f)->pMethods->xRead(real_of(f), data, amount, offset);
}
int log_truncate(sqlite3_file* f, sqlite3_int64 size) {
  if (const int rc = write_out(reinterpret_cast<BufferedLog*>(f)); rc != SQLITE_OK) return rc;
  return real_of(f)->pMethods->xTruncate(real_of(f), size);
}
int log_sync(sqlite3_file* f, int flags) {
  if (const int rc = write_out(reinterpret_cast<BufferedLog*>(f)); rc != SQLITE_OK) return rc;
  return real_of(f)->pMethods->xSync(real_of(f), flags);
}
int log_file_size(sqlite3_file* f, sqlite3_int64* size) {
  if (const int rc = write_out(reinterpret_cast<BufferedLog*>(f)); rc != SQLITE_OK) return rc;
  return real_of(f)->pMethods->xFileSize(real_of(f), size);
}
int log_file_control(sqlite3_file* f, int op, void* arg) {
  if (const int rc = write_out(reinterpret_cast<BufferedLog*>(f)); rc != SQLITE_OK) return rc;
  return real_of(f)->pMethods->xFileControl(real_of(f), op, arg);
}
int log_fetch(sqlite3_file* f, sqlite3_int64 offset, int amount, void** p) {
  if (const int rc = write_out(reinterpret_cast<BufferedLog*>(f)); rc != SQLITE_OK) return rc;
  return real_of(f)->pMethods->xFetch(real_of(f), offset, amount, p);
}

// Passed on as they are: locks and shared memory belong to the database file, not its log.
int log_lock(sqlite3_file* f, int level) { return real_of(f)->pMethods->xLock(real_of(f), level); }
int log_unlock(sqlite3_file* f, int level) { return real_of(f)->pMethods->xUnlock(real_of(f), level); }
int log_check_reserved(sqlite3_file* f, int* out) {
  return real_of(f)->pMethods->xCheckReservedLock(real_of(f), out);
}
int log_sector_size(sqlite3_file* f) { return real_of(f)->pMethods->xSectorSize(real_of(f)); }
int log_device_characteristics(sqlite3_file* f) {
  return real_of(f)->pMethods->xDeviceCharacteristics(real_of(f));
}
int log_shm_map(sqlite3_file* f, int region, int size, int extend, void volatile** p) {
  return real_of(f)->pMethods->xShmMap(real_of(f), region, size, extend, p);
}
int log_shm_lock(sqlite3_file* f, int offset, int n, int flags) {
  return real_of(f)->pMethods->xShmLock(real_of(f), offset, n, flags);
}
void log_shm_barrier(sqlite3_file* f) { real_of(f)->pMethods->xShmBarrier(real_of(f)); }
int log_shm_unmap(sqlite3_file* f, int remove) { return real_of(f)->pMethods->xShmUnmap(real_of(f), remove); }
int log_unfetch(sqlite3_file* f, sqlite3_int64 offset, void* p) {
  return real_of(f)->pMethods->xUnfetch(real_of(f), offset, p);
}

const sqlite3_io_methods log_methods = {
    3,          log_close,        log_read,          log_write,       log_truncate,
    log_sync,   log_file_size,    log_lock,          log_unlock,      log_check_reserved,
    log_file_control,             log_sector_size,   log_device_characteristics,
    log_shm_map, log_shm_lock,    log_shm_barrier,   log_shm_unmap,   log_fetch,
    log_unfetch};

constexpr int real_offset() {
  return static_cast<int>((sizeof(BufferedLog) + alignof(std::max_align_t) - 1) / alignof(std::max_align_t) *
                          alignof(std::max_align_t));
}

int wal_open(sqlite3_vfs*, const char* name, sqlite3_file* file, int flags, int* out_flags) {
  // Anything but a log is the default VFS's own file, in the same memory.
  if (!(flags & SQLITE_OPEN_WAL)) return base_vfs->xOpen(base_vfs, name, file, flags, out_flags);
  auto* real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + real_offset());
  const int rc = base_vfs->xOpen(base_vfs, name, real, flags, out_flags);
  if (rc != SQLITE_OK) {
    file->pMethods = nullptr;  // nothing for SQLite to close
    return rc;
  }
  // A default VFS of an older version than the methods above offers: open the file as it is.
  if (real->pMethods->iVersion < 3) {
    real->pMethods->xClose(real);
    return base_vfs->xOpen(base_vfs, name, file, flags, out_flags);
  }
  auto* log = new (file) BufferedLog();
  log->real = real;
  log->base.pMethods = &log_methods;
  return SQLITE_OK;
}

}  // namespace

const char* wal_write_buffer_vfs() {
  static std::once_flag once;
  std::call_once(once, [] {
    base_vfs = sqlite3_vfs_find(nullptr);
    wal_vfs = *base_vfs;
    wal_vfs.zName = "atendd-wal";
    wal_vfs.pNext = nullptr;
    wal_vfs.szOsFile = real_offset() + base_vfs->szOsFile;
    wal_vfs.xOpen = wal_open;
    sqlite3_vfs_register(&wal_vfs, 0);
  });
  return wal_vfs.zName;
}

}  // namespace atendd

// wal_write_buffer.h — a SQLite VFS, "atendd-wal", that gathers the writes SQLite makes to a
// write-ahead log into one buffer and hands them to the kernel in large writes. SQLite writes each
// log frame with two pwrite() calls (a 24-byte header, then the page): a batch of 1,000 messages
// makes ~13,000 of them, each paying the system call and the file system's per-write work. Every
// other call (and every other file: the database, its shared memory, journals) goes to the
// default VFS unchanged.
//
// The buffer never holds what another connection or the disk must already see: it is written out
// before any read of the log, sync, truncation, size query, lock change, file control or close,
// and right after a commit frame (a frame whose header carries the database size): SQLite makes a
// commit visible to other connections only after its frames are written (and, with
// synchronous=FULL, synced), so they never read a frame from the file that is still here.
// A failed write-out is reported to SQLite as the write's own I/O error.
#pragma once

namespace atendd {

// Registers the VFS (once per process; thread-safe) and returns its name, for sqlite3_open_v2.
const char* wal_write_buffer_vfs();

}  // namespace atendd

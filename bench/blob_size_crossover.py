#!/usr/bin/python3
# blob_size_crossover.py — where a blob stops being cheaper inside SQLite than as a file: per size,
# batches of blobs written as BlobStore's files are (temporary files, syncfs, renames, syncfs) and
# as rows in one transaction as SqliteStore writes them (WAL, synchronous=NORMAL, INSERT OR IGNORE),
# in microseconds per blob. It chose [server] database_blob_max_kb's default (bench/README.md).
# Usage: bench/blob_size_crossover.py DIR [KIB,KIB,...]   (DIR on the disk to measure; /dev/shm
# leaves the CPU's share). Standard library only; the same system SQLite as atendd.
import ctypes
import os
import shutil
import sqlite3
import sys
import tempfile
import time

libc = ctypes.CDLL("libc.so.6", use_errno=True)


def sync_file_system(path):
    fd = os.open(path, os.O_RDONLY)
    libc.syncfs(fd)
    os.close(fd)


def as_files(root, blobs):
    start = time.perf_counter()
    temporary = []
    for i, data in enumerate(blobs):
        fan_out = "%s/blobs/%02x" % (root, i % 256)
        os.makedirs(fan_out, exist_ok=True)
        path = "%s/b%d.tmp" % (fan_out, i)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
        os.write(fd, data)
        os.close(fd)
        temporary.append(path)
    sync_file_system(root + "/blobs")
    for path in temporary:
        os.rename(path, path[:-4])
    sync_file_system(root + "/blobs")
    return time.perf_counter() - start


def as_rows(connection, blobs, first_key):
    start = time.perf_counter()
    connection.execute("BEGIN IMMEDIATE")
    for i, data in enumerate(blobs):
        connection.execute("INSERT OR IGNORE INTO blobs VALUES(?, ?, ?, 0)", ("%064d" % (first_key + i), data, len(data)))
    connection.execute("COMMIT")
    return time.perf_counter() - start


def main():
    where = sys.argv[1]
    sizes_kib = [int(k) for k in (sys.argv[2] if len(sys.argv) > 2 else "4,16,32,64,128,192,256,1024").split(",")]
    print("load %s" % " ".join(open("/proc/loadavg").read().split()[:3]))
    for kib in sizes_kib:
        size = kib << 10
        per_batch = max(8, min(100, (16 << 20) // size))
        rounds = 5
        scratch = tempfile.mkdtemp(dir=where)
        connection = sqlite3.connect(scratch + "/a.db", isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("CREATE TABLE blobs (sha256 TEXT PRIMARY KEY, bytes BLOB NOT NULL, size INTEGER NOT NULL, "
                           "created_at INTEGER NOT NULL)")
        files_s = rows_s = 0.0
        for r in range(rounds):
            blobs = [os.urandom(size) for _ in range(per_batch)]
            files_s += as_files("%s/f%d" % (scratch, r), blobs)
            rows_s += as_rows(connection, blobs, r * per_batch)
        connection.close()
        shutil.rmtree(scratch)
        per_blob = 1e6 / rounds / per_batch
        print("%6d KiB  batches of %3d  files %8.1f us/blob  database %8.1f us/blob  files/database %5.2f"
              % (kib, per_batch, files_s * per_blob, rows_s * per_blob, files_s / rows_s))


if __name__ == "__main__":
    main()

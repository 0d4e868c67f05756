// blob_store.h — raw messages and attachments, content-addressed: a blob's name is the SHA-256 of
// its bytes, so writing the same bytes twice is harmless and no name ever comes from mail input
// (invariant 5: nothing escapes the blob folder). One interface, BlobBackend, with three
// implementations: files under a directory (the state directory, or [server] blob_dir, a directory
// several instances share); the database's blobs table (PostgreSQL, migration 10, so that
// instances on several machines depend on no machine's disk); or both, split by size (SQLite,
// migration 12: small blobs in the database, large ones as files, read from wherever they are).
// The rest of atendd holds a BlobStore (reads, single writes) and uses a BlobBatch to make a batch
// of blobs durable at once.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace atendd {

class Store;

std::string sha256_hex(std::string_view bytes);

// Where blobs live. A Batch collects puts and makes them durable together on commit(): only then
// may a blob be read back; a batch destroyed without commit() leaves nothing visible.
class BlobBackend {
 public:
  virtual ~BlobBackend() = default;
  class Batch {
   public:
    virtual ~Batch() = default;
    // `sha256` is sha256_hex(bytes), computed by the caller; the same blob twice is kept once.
    virtual void put(const std::string& sha256, std::string_view bytes) = 0;
    virtual void commit() = 0;  // throws std::runtime_error (files) or StoreError (database)
  };
  virtual std::unique_ptr<Batch> batch() = 0;
  // The bytes of a committed blob; nothing when there is none. `sha256` is already checked.
  virtual std::optional<std::string> get(const std::string& sha256) = 0;
};

class BlobStore {
 public:
  // Files under ROOT/blobs/ab/abcdef… (ROOT/blobs created when missing); written to a temporary
  // file, synced, renamed, so a name never points at bytes that are not on disk.
  explicit BlobStore(std::string root);
  // The store's blobs table (PostgreSQL): written in the store's open transaction, or in one of
  // their own when none is open. `store` must outlive this BlobStore and be used from the same
  // thread.
  explicit BlobStore(Store& store);
  // Both: blobs of at most `database_max_bytes` go to the store's blobs table, larger ones to files
  // under ROOT as above (0: every new blob a file). Reads look in the database, then in the files,
  // so blobs written by an older atendd (files only) stay readable. `store` as above.
  BlobStore(std::string root, Store& store, std::size_t database_max_bytes);

  // Stores the bytes durably and returns their SHA-256. Throws std::runtime_error or StoreError.
  std::string put(std::string_view bytes);
  // Nothing when `sha256` is not a lower-case hex SHA-256 or no such blob exists.
  std::optional<std::string> get(const std::string& sha256) const;
  // Where the blob's file is (or would be, for a blob too large for the database); empty when
  // every blob is in the database.
  std::string path_of(const std::string& sha256) const;
  // True when every blob is in the database (no files at all).
  bool in_database() const { return root_.empty(); }

 private:
  friend class BlobBatch;
  std::string root_;
  std::unique_ptr<BlobBackend> backend_;
};

// Group commit of blobs: put() hands each blob to the backend's batch (files: a temporary file,
// not yet synced; database: kept in memory); commit() makes them all durable at once (files: one
// syncfs or fsync, renames, directory syncs; database: one transaction, or rows in the store's
// open transaction, committed with it; both: the files, then the rows). Others see a blob under
// its name only once it is durable. Destroyed without commit(): nothing stays. One batch per thread.
class BlobBatch {
 public:
  explicit BlobBatch(BlobStore& store) : batch_(store.backend_->batch()) {}
  BlobBatch(const BlobBatch&) = delete;
  BlobBatch& operator=(const BlobBatch&) = delete;

  std::string put(std::string_view bytes);  // returns the SHA-256
  // The same with the SHA-256 already computed (sha256_hex(bytes), e.g. on another thread).
  void put_hashed(const std::string& sha256, std::string_view bytes);
  void commit();

 private:
  std::unique_ptr<BlobBackend::Batch> batch_;
};

}  // namespace atendd

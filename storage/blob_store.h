// blob_store.h — raw messages and attachments as content-addressed files under the state directory.
// A blob's name is the SHA-256 of its bytes, so writing the same bytes twice is harmless and no
// file name ever comes from mail input (invariant 5: nothing escapes the state directory).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace atendd {

std::string sha256_hex(std::string_view bytes);

class BlobStore {
 public:
  explicit BlobStore(std::string root);  // creates ROOT/blobs when missing
  // Stores the bytes durably (written to a temporary file, fsynced, renamed) and returns their
  // SHA-256. Throws std::runtime_error when the disk refuses.
  std::string put(std::string_view bytes);
  std::optional<std::string> get(const std::string& sha256) const;
  std::string path_of(const std::string& sha256) const;

 private:
  friend class BlobBatch;
  std::string root_;
};

// Group commit of blobs: put() writes each blob to a temporary file without syncing; commit()
// makes them all durable at once (one syncfs of the file system, or one fsync when there is a
// single file), renames them into place and syncs the directories, so a batch of messages costs
// two flushes instead of one per blob. A blob is visible under its name only once durable.
// Destroyed without commit(): the temporary files are removed. One batch per thread.
class BlobBatch {
 public:
  explicit BlobBatch(BlobStore& store) : store_(store) {}
  ~BlobBatch();
  BlobBatch(const BlobBatch&) = delete;
  BlobBatch& operator=(const BlobBatch&) = delete;

  std::string put(std::string_view bytes);  // returns the SHA-256; throws std::runtime_error
  void commit();                            // throws std::runtime_error when the disk refuses

 private:
  struct Pending {
    std::string digest, tmp, path;
  };
  BlobStore& store_;
  std::vector<Pending> pending_;
};

}  // namespace atendd

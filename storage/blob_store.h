// blob_store.h — raw messages and attachments as content-addressed files under the state directory.
// A blob's name is the SHA-256 of its bytes, so writing the same bytes twice is harmless and no
// file name ever comes from mail input (invariant 5: nothing escapes the state directory).
#pragma once

#include <optional>
#include <string>
#include <string_view>

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
  std::string root_;
};

}  // namespace atendd

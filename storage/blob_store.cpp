// blob_store.cpp — the blob backends: content-addressed files (ROOT/blobs/ab/abcdef…, written
// atomically), the database's blobs table (through Store::put_blobs / Store::blob), and the two
// split by size (small blobs in the database, large ones as files).
#include "storage/blob_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <Poco/File.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "storage/store.h"

namespace atendd {

std::string sha256_hex(std::string_view bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  if (EVP_Digest(bytes.data(), bytes.size(), digest, nullptr, EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("SHA-256: OpenSSL's EVP_Digest failed");
  static const char* hex = "0123456789abcdef";
  std::string out(2 * sizeof digest, '0');
  for (std::size_t i = 0; i < sizeof digest; ++i) {
    out[2 * i] = hex[digest[i] >> 4];
    out[2 * i + 1] = hex[digest[i] & 15];
  }
  return out;
}

namespace {

std::atomic<unsigned long> tmp_counter{0};

bool is_hex_digest(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

void write_all(int fd, std::string_view bytes, const std::string& tmp) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      throw std::runtime_error("cannot write " + tmp + ": " + std::strerror(err));
    }
    done += static_cast<size_t>(n);
  }
}

// fsync (or syncfs, for the whole file system) of the file or directory at `path`.
void sync_path(const std::string& path, bool whole_file_system) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
  const int rc = whole_file_system ? ::syncfs(fd) : ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) throw std::runtime_error("cannot flush " + path + ": " + std::strerror(err));
}

std::string file_path(const std::string& root, const std::string& sha256) {
  return root + "/blobs/" + sha256.substr(0, 2) + "/" + sha256;
}

class FileBackend : public BlobBackend {
 public:
  explicit FileBackend(std::string root) : root_(std::move(root)) { Poco::File(root_ + "/blobs").createDirectories(); }

  class FileBatch : public Batch {
   public:
    explicit FileBatch(const std::string& root) : root_(root) {}
    ~FileBatch() override {
      for (const auto& p : pending_) ::unlink(p.tmp.c_str());
    }
    void put(const std::string& digest, std::string_view bytes) override {
      for (const auto& p : pending_)
        if (p.digest == digest) return;
      const std::string path = file_path(root_, digest);
      if (Poco::File(path).exists()) return;
      Poco::File(root_ + "/blobs/" + digest.substr(0, 2)).createDirectories();
      const std::string tmp =
          path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(tmp_counter.fetch_add(1));
      int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
      if (fd < 0) throw std::runtime_error("cannot create " + tmp + ": " + std::strerror(errno));
      write_all(fd, bytes, tmp);
      if (::close(fd) != 0) {
        int err = errno;
        ::unlink(tmp.c_str());
        throw std::runtime_error("cannot close " + tmp + ": " + std::strerror(err));
      }
      pending_.push_back(Pending{digest, tmp, path});
    }
    void commit() override {
      if (pending_.empty()) return;
      const bool one = pending_.size() == 1;
      // The contents first: a name must never point at bytes that are not on disk.
      sync_path(one ? pending_.front().tmp : root_ + "/blobs", !one);
      std::vector<std::string> dirs;
      for (const auto& p : pending_) {
        if (::rename(p.tmp.c_str(), p.path.c_str()) != 0)
          throw std::runtime_error("cannot rename " + p.tmp + ": " + std::strerror(errno));
        const std::string dir = p.path.substr(0, p.path.rfind('/'));
        if (std::find(dirs.begin(), dirs.end(), dir) == dirs.end()) dirs.push_back(dir);
      }
      pending_.clear();
      // Then the names (and the fan-out directories created for them).
      if (dirs.size() == 1) {
        sync_path(dirs.front(), false);
      } else {
        sync_path(root_ + "/blobs", true);
      }
    }

   private:
    struct Pending {
      std::string digest, tmp, path;
    };
    const std::string& root_;
    std::vector<Pending> pending_;
  };

  std::unique_ptr<Batch> batch() override { return std::make_unique<FileBatch>(root_); }

  std::optional<std::string> get(const std::string& sha256) override {
    std::ifstream in(file_path(root_, sha256), std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
  }

 private:
  std::string root_;
};

class DatabaseBackend : public BlobBackend {
 public:
  explicit DatabaseBackend(Store& store) : store_(store) {}

  class DatabaseBatch : public Batch {
   public:
    explicit DatabaseBatch(Store& store) : store_(store) {}
    void put(const std::string& digest, std::string_view bytes) override {
      for (const auto& p : pending_)
        if (p.first == digest) return;
      pending_.emplace_back(digest, std::string(bytes));
    }
    void commit() override {
      store_.put_blobs(pending_);
      pending_.clear();
    }

   private:
    Store& store_;
    std::vector<std::pair<std::string, std::string>> pending_;
  };

  std::unique_ptr<Batch> batch() override { return std::make_unique<DatabaseBatch>(store_); }
  std::optional<std::string> get(const std::string& sha256) override { return store_.blob(sha256); }

 private:
  Store& store_;
};

// Small blobs in the database, large ones as files. A blob is looked up in the database first (one
// primary-key probe), then as a file: large blobs, and every blob of a store made before the
// database kept any, are files.
class SplitBackend : public BlobBackend {
 public:
  SplitBackend(const std::string& root, Store& store, std::size_t database_max_bytes)
      : files_(root), database_(store), database_max_bytes_(database_max_bytes) {}

  class SplitBatch : public Batch {
   public:
    SplitBatch(std::unique_ptr<Batch> files, std::unique_ptr<Batch> database, std::size_t database_max_bytes)
        : files_(std::move(files)), database_(std::move(database)), database_max_bytes_(database_max_bytes) {}
    void put(const std::string& digest, std::string_view bytes) override {
      if (database_max_bytes_ > 0 && bytes.size() <= database_max_bytes_) {
        database_->put(digest, bytes);
      } else {
        files_->put(digest, bytes);
      }
    }
    // The files first: a failure there (a full disk) leaves no row behind. The files are durable
    // before commit() returns; the rows are too, or belong to the store's open transaction, so
    // they commit with the rows that name them.
    void commit() override {
      files_->commit();
      database_->commit();
    }

   private:
    std::unique_ptr<Batch> files_, database_;
    std::size_t database_max_bytes_;
  };

  std::unique_ptr<Batch> batch() override {
    return std::make_unique<SplitBatch>(files_.batch(), database_.batch(), database_max_bytes_);
  }

  std::optional<std::string> get(const std::string& sha256) override {
    if (auto bytes = database_.get(sha256)) return bytes;
    return files_.get(sha256);
  }

 private:
  FileBackend files_;
  DatabaseBackend database_;
  std::size_t database_max_bytes_;
};

}  // namespace

BlobStore::BlobStore(std::string root, Store& store, std::size_t database_max_bytes)
    : root_(std::move(root)), backend_(std::make_unique<SplitBackend>(root_, store, database_max_bytes)) {}

BlobStore::BlobStore(std::string root) : root_(std::move(root)), backend_(std::make_unique<FileBackend>(root_)) {}

BlobStore::BlobStore(Store& store) : backend_(std::make_unique<DatabaseBackend>(store)) {}

std::string BlobStore::path_of(const std::string& sha256) const {
  return root_.empty() || !is_hex_digest(sha256) ? std::string() : file_path(root_, sha256);
}

std::string BlobStore::put(std::string_view bytes) {
  BlobBatch one(*this);
  const std::string digest = one.put(bytes);
  one.commit();
  return digest;
}

std::optional<std::string> BlobStore::get(const std::string& sha256) const {
  if (!is_hex_digest(sha256)) return std::nullopt;
  return backend_->get(sha256);
}

std::string BlobBatch::put(std::string_view bytes) {
  const std::string digest = sha256_hex(bytes);
  batch_->put(digest, bytes);
  return digest;
}

void BlobBatch::put_hashed(const std::string& sha256, std::string_view bytes) { batch_->put(sha256, bytes); }

void BlobBatch::commit() { batch_->commit(); }

}  // namespace atendd

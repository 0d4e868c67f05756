// runtime_blobs_test.cpp — where the daemon's Runtime keeps raw messages and attachments with
// SQLite: small ones inside the database, large ones as files under the state directory, every new
// one a file under [server] blob_dir when one is named (still reading what the database holds), and
// every one a file with database_blob_max_kb = 0. Real SQLite files and directories.
#include <filesystem>

#include "../tickets/config_for_tests.h"
#include "daemon/runtime.h"
#include "storage/sqlite_store.h"
#include "support/processes.h"

using namespace atendd;

namespace {

Config config_in(const test::TempDir& dir, const std::string& extra) {
  return config_from("[server]\naddress = suporte@example.com\nstate_dir = " + dir.path() + "/state\n" + extra);
}

size_t files_under(const std::string& dir) {
  if (!std::filesystem::exists(dir)) return 0;
  size_t n = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) n += entry.is_regular_file();
  return n;
}

}  // namespace

TEST_CASE("the daemon keeps a small blob in the SQLite database and a large one as a file in the state directory",
          "[pipeline][blobs]") {
  test::TempDir dir;
  const Config config = config_in(dir, "");
  Runtime runtime(config, Poco::Logger::get("test"));
  const std::string small = "From: ana@example.com\r\n\r\nsmall\r\n";
  const std::string large(static_cast<size_t>(config.server.database_blob_max_kb) * 1024 + 1, 'x');
  std::string d_small, d_large;
  {
    BlobBatch batch(runtime.blobs());
    d_small = batch.put(small);
    d_large = batch.put(large);
    batch.commit();
  }
  CHECK(runtime.store().blob(d_small) == std::optional<std::string>(small));
  CHECK_FALSE(runtime.store().blob(d_large));
  CHECK(files_under(dir.path() + "/state/blobs") == 1);
  CHECK(std::filesystem::exists(runtime.blobs().path_of(d_large)));
  CHECK(runtime.blobs().get(d_small) == std::optional<std::string>(small));
  CHECK(runtime.blobs().get(d_large) == std::optional<std::string>(large));
}

TEST_CASE("with blob_dir every new blob is a file there and blobs already in the database stay readable",
          "[pipeline][blobs]") {
  test::TempDir dir;
  const std::string small = "From: ana@example.com\r\n\r\nsmall\r\n";
  std::string in_database;
  {
    Runtime before(config_in(dir, ""), Poco::Logger::get("test"));
    in_database = before.blobs().put("written before blob_dir was set");
  }
  const Config config = config_in(dir, "blob_dir = " + dir.path() + "/shared\n");
  Runtime runtime(config, Poco::Logger::get("test"));
  const std::string digest = runtime.blobs().put(small);
  CHECK_FALSE(runtime.store().blob(digest));
  CHECK(runtime.blobs().path_of(digest).rfind(dir.path() + "/shared/blobs/", 0) == 0);
  CHECK(std::filesystem::exists(runtime.blobs().path_of(digest)));
  CHECK(files_under(dir.path() + "/state/blobs") == 0);
  CHECK(runtime.blobs().get(digest) == std::optional<std::string>(small));
  CHECK(runtime.blobs().get(in_database) == std::optional<std::string>("written before blob_dir was set"));
}

TEST_CASE("database_blob_max_kb = 0 keeps every blob a file in the state directory", "[pipeline][blobs]") {
  test::TempDir dir;
  const Config config = config_in(dir, "database_blob_max_kb = 0\n");
  Runtime runtime(config, Poco::Logger::get("test"));
  const std::string digest = runtime.blobs().put("tiny");
  CHECK_FALSE(runtime.store().blob(digest));
  CHECK(std::filesystem::exists(runtime.blobs().path_of(digest)));
  CHECK(runtime.blobs().get(digest) == std::optional<std::string>("tiny"));
}

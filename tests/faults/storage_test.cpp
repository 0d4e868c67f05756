// storage_test.cpp — the state directory failing under the running daemon: a full disk (a small
// tmpfs mounted on the state directory, filled up), a database locked by another process holding a
// write transaction, and the state directory remounted read-only. Meanwhile no message that needs
// the failing part is flagged on the IMAP server, /healthz answers 503 naming the mailbox, and once
// the fault clears every message is applied exactly once. Messages small enough for their blobs to
// live in the database (database_blob_max_kb) need nothing from the state directory, and pass a
// full one. Needs root for mount(8); says so and records nothing otherwise.
#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "admin/admin_client.h"
#include "faults/faults_site.h"

using namespace atendd;
using namespace atendd::test;

namespace {

// A tmpfs of `megabytes` mounted on `dir` for the object's life.
struct Tmpfs {
  std::string dir;
  std::string error;
  bool mounted = false;
  Tmpfs(const std::string& where, int megabytes) : dir(where) {
    const std::string options = "size=" + std::to_string(megabytes) + "m";
    mounted = ::mount("tmpfs", dir.c_str(), "tmpfs", 0, options.c_str()) == 0;
    if (!mounted) error = std::strerror(errno);
  }
  bool remount(bool read_only) {
    return ::mount("tmpfs", dir.c_str(), "tmpfs", MS_REMOUNT | (read_only ? MS_RDONLY : 0), nullptr) == 0;
  }
  ~Tmpfs() {
    if (mounted) ::umount2(dir.c_str(), MNT_DETACH);
  }
};

// Writes `path` until the file system is full; returns the bytes written.
size_t fill(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return 0;
  const std::string chunk(65536, 'z');
  size_t written = 0;
  for (;;) {
    const size_t n = std::fwrite(chunk.data(), 1, chunk.size(), f);
    written += n;
    if (n < chunk.size() || std::fflush(f) != 0) break;
  }
  std::fclose(f);
  return written;
}

struct Phase {
  std::string name;
  std::vector<std::string> ids;
};

}  // namespace

TEST_CASE("a full disk a locked database and a read-only state directory hold mail back and lose none",
          "[faults][storage]") {
  // The database lives beside the state directory here: a file system with a file open for
  // writing (SQLite's) cannot be remounted read-only (EBUSY), so the tmpfs holds what the state
  // directory holds besides it (raw messages and attachments, written first for every message).
  Site site;
  std::filesystem::create_directories(site.dir.path() + "/db");
  site.database = site.dir.path() + "/db/atendd.db";
  site.write_config();
  Tmpfs tmpfs(site.state_dir, 24);
  FaultFigures figures{"disk_lock_readonly"};
  if (!tmpfs.mounted) {
    WARN("cannot mount a tmpfs on the state directory (" << tmpfs.error << "): needs root; not run");
    figures.note = "not run: mount refused (" + tmpfs.error + ")";
    record(figures);
    return;
  }
  figures.note = "tmpfs on state_dir (db beside it): filled, remounted ro";
  auto daemon = site.start();
  std::vector<std::string> all_ids;
  // Large messages (over database_blob_max_kb = 128 by default) are kept as files in the state
  // directory; small ones inside the database.
  std::string large_body;
  while (large_body.size() < 300 * 1024) large_body += "Uma linha longa do anexo colado no corpo da mensagem.\r\n";
  auto add = [&](const std::string& phase, int count, bool large = false) {
    std::vector<std::string> raws;
    for (int i = 0; i < count; ++i) {
      const std::string id = phase + "-" + std::to_string(i) + "@cliente.test";
      raws.push_back(new_message(id, phase + std::to_string(i) + "@cliente.test", phase + " " + std::to_string(i),
                                 large ? "Mensagem " + id + ".\r\n" + large_body : ""));
      all_ids.push_back(id);
    }
    site.dovecot->add_unseen_many("support", raws);
  };
  auto healthz = [&] { return http("GET", site.admin_url("/healthz")); };
  // While the fault lasts: /healthz says 503 naming the mailbox, and nothing new is flagged.
  auto held_back = [&](size_t expected_unseen) {
    HttpReply reply;
    const bool reported = eventually(30, [&] {
      reply = healthz();
      return reply.status == 503 && reply.body.find("mailbox suporte") != std::string::npos;
    });
    INFO(reply.body);
    CHECK(reported);
    sleep_ms(1500);
    CHECK(site.unseen() == expected_unseen);
  };
  auto resumes = [&](size_t total) {
    CHECK(eventually(60, [&] { return site.all_seen(total); }));
    CHECK(eventually(20, [&] { return healthz().status == 200; }));
  };

  add("antes", 5);
  REQUIRE(eventually(60, [&] { return site.all_seen(5); }));
  REQUIRE(eventually(30, [&] { return census(*site.store()).outbox_not_sent == 0; }));

  SECTION("full disk, then locked database, then read-only state directory") {
    // 1. Disk full: large messages wait; small ones (blobs in the database) go through.
    const size_t filled = fill(site.state_dir + "/filler");
    CHECK(filled > 0);
    add("cheio", 5, true);
    ++figures.faults;
    held_back(5);
    std::filesystem::remove(site.state_dir + "/filler");
    resumes(10);
    CHECK(fill(site.state_dir + "/filler") > 0);
    add("pequena", 5);
    CHECK(eventually(60, [&] { return site.all_seen(15); }));
    CHECK(eventually(20, [&] { return healthz().status == 200; }));
    std::filesystem::remove(site.state_dir + "/filler");

    // 2. Another process holds a write transaction on the database.
    {
      SqliteStore holder(site.database);
      holder.begin();
      add("trava", 5);
      ++figures.faults;
      held_back(5);
      holder.rollback();
    }
    resumes(20);

    // 3. The state directory becomes read-only.
    REQUIRE(eventually(30, [&] { return census(*site.store()).outbox_not_sent == 0; }));
    REQUIRE(tmpfs.remount(true));
    add("leitura", 5, true);
    ++figures.faults;
    held_back(5);
    REQUIRE(tmpfs.remount(false));
    resumes(25);
  }
  CHECK(eventually(30, [&] { return census(*site.store()).outbox_not_sent == 0; }));
  const auto exit_code = daemon->stop();
  CHECK(exit_code == 0);
  figures.crashes += exit_code == 0 ? 0 : 1;
  const StoreCensus c = census(*site.store());
  count_articles(c, all_ids, figures);
  CHECK(figures.lost == 0);
  CHECK(figures.duplicated_articles == 0);
  figures.duplicate_mails = duplicate_mails(site.sink.mails());
  CHECK(figures.duplicate_mails == 0);
  record(figures);
}

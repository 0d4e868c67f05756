// protocol_test.cpp — protocol numbers follow the configured format and never repeat.
#include "daemon/tickets/protocol.h"

#include <set>

#include <catch2/catch.hpp>

#include "storage/sqlite_store.h"
#include "support/processes.h"

using namespace atendd;

TEST_CASE("the default format is the UTC date and a six-digit daily sequence", "[protocol]") {
  const Timestamp nov24 = 1795478400;  // 2026-11-24T00:00:00Z
  CHECK(format_protocol("{yyyy}{mm}{dd}{seq:6}", nov24, 42) == "20261124000042");
  CHECK(format_protocol("AT-{yy}{mm}-{seq:4}", nov24, 7) == "AT-2611-0007");
  CHECK(format_protocol("{seq}", nov24, 1234567) == "1234567");
  CHECK(protocol_scope("{yyyy}{mm}{dd}{seq:6}", nov24) == "20261124");
}

TEST_CASE("protocols from the store are unique and restart their sequence each day", "[protocol]") {
  test::TempDir dir;
  SqliteStore store(dir.path() + "/a.db");
  const Timestamp day = 1795478400;
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) seen.insert(next_protocol(store, "{yyyy}{mm}{dd}{seq:6}", day + i));
  CHECK(seen.size() == 200);
  CHECK(*seen.begin() == "20261124000001");
  CHECK(next_protocol(store, "{yyyy}{mm}{dd}{seq:6}", day + 86400) == "20261125000001");
}

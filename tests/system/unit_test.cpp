// unit_test.cpp — systemd/atendd.service passes `systemd-analyze verify`, its hardening scores
// "OK" (exposure below 3.0) in `systemd-analyze security`, it has what the service relies on
// (Type=notify, watchdog, reload, restart, state and configuration directories), and the man
// pages render without warnings, atendd.ini(5) naming every key of etc/atendd.ini.
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include <catch2/catch.hpp>

#include "support/processes.h"
#include "system/system_support.h"

using namespace atendd::test;
namespace fs = std::filesystem;

namespace {

const std::string kSource = ATENDD_SOURCE_DIR;

bool have(const std::string& program) {
  int status = 0;
  shell_output("command -v " + program, status);
  return status == 0;
}

// The unit with ExecStart pointing at the built binary (verify checks that it exists), named
// atendd.service, and MANPATH with both man pages (verify checks Documentation=man:…).
struct UnitCopy {
  TempDir dir;
  std::string unit;
  std::string env;
  UnitCopy() {
    std::string text = read_file(kSource + "/systemd/atendd.service");
    for (size_t at; (at = text.find("/usr/sbin/atendd")) != std::string::npos;)
      text.replace(at, std::string("/usr/sbin/atendd").size(), ATENDD_BINARY);
    unit = dir.path() + "/atendd.service";
    write_file(unit, text);
    fs::create_directories(dir.path() + "/man/man8");
    fs::create_directories(dir.path() + "/man/man5");
    fs::copy_file(kSource + "/man/atendd.8", dir.path() + "/man/man8/atendd.8");
    fs::copy_file(ATENDD_MAN5, dir.path() + "/man/man5/atendd.ini.5");
    env = "MANPATH=" + dir.path() + "/man SYSTEMD_LOG_COLOR=0 ";
  }
};

}  // namespace

TEST_CASE("the unit passes systemd-analyze verify", "[system][unit]") {
  if (!have("systemd-analyze")) {
    WARN("systemd-analyze is not installed (package systemd, scripts/install-deps --tests): unit not verified");
    return;
  }
  UnitCopy copy;
  int status = 0;
  const std::string out = shell_output(copy.env + "systemd-analyze verify " + copy.unit, status);
  INFO(out);
  CHECK(status == 0);
  CHECK(out.find("atendd.service") == std::string::npos);  // no complaint names the unit
}

TEST_CASE("the unit's hardening is rated OK by systemd-analyze security", "[system][unit]") {
  if (!have("systemd-analyze")) {
    WARN("systemd-analyze is not installed: exposure level not measured");
    return;
  }
  UnitCopy copy;
  int status = 0;
  const std::string out = shell_output(copy.env + "systemd-analyze security --offline=true " + copy.unit, status);
  std::smatch m;
  const bool found = std::regex_search(out, m, std::regex(R"(Overall exposure level for atendd\.service: ([0-9.]+) (\w+))"));
  INFO(out);
  REQUIRE(found);
  const double exposure = std::stod(m[1]);
  WARN("systemd-analyze security: exposure " << m[1] << " " << m[2]);
  CHECK(exposure < 3.0);
  CHECK(m[2] == "OK");
}

TEST_CASE("the unit has what the service relies on", "[system][unit]") {
  const std::string unit = read_file(kSource + "/systemd/atendd.service");
  for (const char* line :
       {"Type=notify", "WatchdogSec=", "ExecReload=/bin/kill -HUP $MAINPID", "Restart=on-failure",
        "RestartPreventExitStatus=78", "User=atendd", "StateDirectory=atendd", "ConfigurationDirectory=atendd",
        "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "NoNewPrivileges=yes", "CapabilityBoundingSet=\n",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX", "SystemCallFilter=@system-service",
        "ExecStart=/usr/sbin/atendd --config /etc/atendd/atendd.ini\n", "TimeoutStopSec=15s"}) {
    INFO(line);
    CHECK(unit.find(line) != std::string::npos);
  }
  const std::string sysusers = read_file(kSource + "/systemd/atendd.sysusers");
  CHECK(sysusers.find("\nu atendd ") != std::string::npos);
}

TEST_CASE("the man pages render without warnings and atendd.ini(5) names every key of the reference",
          "[system][man]") {
  int status = 0;
  for (const std::string& page : std::vector<std::string>{kSource + "/man/atendd.8", std::string(ATENDD_MAN5)}) {
    const std::string out = shell_output("groff -man -ww -z " + page, status);
    INFO(page << "\n" << out);
    CHECK(status == 0);
    CHECK(out.empty());
  }
  const std::string man = read_file(ATENDD_MAN5);
  std::istringstream ini(read_file(kSource + "/etc/atendd.ini"));
  std::string line;
  const std::regex key(R"(^;?([a-z_][a-z0-9_]*) *=.*)"), section(R"(^;?\[([a-z]+)(\.[A-Za-z0-9_-]+)?\]$)");
  std::set<std::string> keys, sections;
  std::smatch m;
  while (std::getline(ini, line)) {
    if (std::regex_match(line, m, key)) keys.insert(m[1]);
    if (std::regex_match(line, m, section)) sections.insert(m[1]);
  }
  CHECK(keys.size() > 50);
  for (const auto& k : keys) {
    INFO("key " << k);
    CHECK(man.find("\\fB" + k + "\\fR") != std::string::npos);
  }
  for (const auto& s : sections) {
    INFO("section " << s);
    CHECK((man.find(".SH \"[" + s + "]\"") != std::string::npos || man.find(".SH \"[" + s + ".NAME]\"") != std::string::npos));
  }
}

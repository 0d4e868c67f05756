// package_test.cpp — the .deb that CPack builds from this build tree: its Depends (from
// dpkg-shlibdeps) and conffiles, its files where an administrator expects them, and, installed
// into a scratch root with dpkg-deb -x (removed afterwards), `atendd --check-config` on the
// configuration it ships, with and without the shipped templates directory.
#include <filesystem>

#include <catch2/catch.hpp>

#include "support/processes.h"
#include "system/system_support.h"

using namespace atendd::test;
namespace fs = std::filesystem;

TEST_CASE("the deb installs into a scratch root and the shipped config passes check-config", "[system][package]") {
  int status = 0;
  shell_output("command -v dpkg-deb && command -v dpkg-shlibdeps", status);
  if (status != 0) {
    WARN("dpkg-deb or dpkg-shlibdeps (dpkg-dev) missing: package not built");
    return;
  }
  TempDir dir;
  const std::string out = shell_output(std::string("cd ") + dir.path() + " && '" + ATENDD_CPACK + "' -G DEB -B " +
                                           dir.path() + "/pkg --config '" + ATENDD_BUILD_DIR + "/CPackConfig.cmake'",
                                       status);
  INFO(out);
  REQUIRE(status == 0);
  std::string deb;
  for (const auto& entry : fs::directory_iterator(dir.path() + "/pkg"))
    if (entry.path().extension() == ".deb") deb = entry.path().string();
  REQUIRE(!deb.empty());

  const std::string depends = shell_output("dpkg-deb -f " + deb + " Depends", status);
  INFO(depends);
  for (const char* lib : {"libpocofoundation80", "libpoconet80", "libpocoutil80", "libcurl4", "libsqlite3-0",
                          "libsystemd0", "libmimetic0v5", "libc6", "systemd"}) {
    INFO(lib);
    CHECK(depends.find(lib) != std::string::npos);
  }
  CHECK(shell_output("dpkg-deb -I " + deb + " conffiles", status) == "/etc/atendd/atendd.ini\n");

  const std::string root = dir.path() + "/root";
  REQUIRE(shell_output("dpkg-deb -x " + deb + " " + root, status).empty());
  REQUIRE(status == 0);
  for (const char* file :
       {"/usr/sbin/atendd", "/lib/systemd/system/atendd.service", "/etc/atendd/atendd.ini",
        "/usr/lib/sysusers.d/atendd.conf", "/usr/lib/tmpfiles.d/atendd.conf", "/usr/share/man/man8/atendd.8",
        "/usr/share/man/man5/atendd.ini.5", "/usr/share/atendd/templates/pt_BR/opening.mustache",
        "/usr/share/atendd/templates/en/forward.mustache", "/usr/share/doc/atendd/admin.md"}) {
    INFO(file);
    CHECK(fs::exists(root + file));
  }
  CHECK(read_file(root + "/etc/atendd/atendd.ini") == read_file(std::string(ATENDD_SOURCE_DIR) + "/etc/atendd.ini"));

  const std::string check = root + "/usr/sbin/atendd --config " + root + "/etc/atendd/atendd.ini --check-config";
  const std::string checked = shell_output(check, status);
  INFO(checked);
  CHECK(status == 0);
  CHECK(checked.find("configuration OK") != std::string::npos);

  // The same with the shipped templates in use (templates_dir uncommented, pointing into the root).
  std::string ini = read_file(root + "/etc/atendd/atendd.ini");
  const std::string left_out = ";templates_dir = /usr/share/atendd/templates";
  REQUIRE(ini.find(left_out) != std::string::npos);
  ini.replace(ini.find(left_out), left_out.size(), "templates_dir = " + root + "/usr/share/atendd/templates");
  write_file(dir.path() + "/with-templates.ini", ini);
  const std::string checked2 =
      shell_output(root + "/usr/sbin/atendd --config " + dir.path() + "/with-templates.ini --check-config", status);
  INFO(checked2);
  CHECK(status == 0);
}

// etc_files_test.cpp — the two configurations shipped in etc/: the demo loads clean and says
// what the demo needs; the commented reference loads clean, and with its left-out settings
// put back every key in it is known and good (only the files it names are missing here).
#include <catch2/catch.hpp>
#include <fstream>
#include <regex>
#include <sstream>

#include "daemon/config/config.h"
#include "test_support.h"

using namespace atendd;
using atendd::test::all_problems;

namespace {

const std::string kSource = ATENDD_SOURCE_DIR;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace

TEST_CASE("etc/atendd.demo.ini loads without problems", "[config][etc]") {
  auto result = load_config(kSource + "/etc/atendd.demo.ini");
  INFO(all_problems(result));
  REQUIRE(result.problems.empty());
  const Config& c = *result.config;

  CHECK(c.server.name == "Suporte Demo");
  CHECK(c.server.address == "suporte@demo.atendd.test");
  CHECK(c.server.reply_address == "suporte+{token}@demo.atendd.test");
  CHECK(c.server.state_dir == kSource + "/var/demo");
  CHECK(c.server.database == "sqlite:" + kSource + "/var/demo/atendd.db");
  CHECK(c.server.templates_dir == kSource + "/templates");
  CHECK(c.server.locale == "pt_BR");
  CHECK(c.smtp.port == 2525);
  CHECK(c.smtp.tls == SmtpTls::None);
  CHECK(c.smtp.retry_initial_seconds == 2);
  REQUIRE(c.agent("maria") != nullptr);
  REQUIRE(c.agent("joao") != nullptr);
  CHECK(c.agent_by_email("joao@demo.atendd.test")->department == "suporte");
  REQUIRE(c.types.size() == 2);
  CHECK(c.types[0].id == "garantia");
  CHECK(c.types[0].priority == Priority::High);
  CHECK(c.types[0].assign == AssignMode::RoundRobin);
  CHECK(c.types[0].watchers == std::vector<std::string>{"gerente@demo.atendd.test"});
  CHECK(c.default_type == "geral");
}

TEST_CASE("etc/atendd.ini loads without problems", "[config][etc]") {
  auto result = load_config(kSource + "/etc/atendd.ini");
  INFO(all_problems(result));
  REQUIRE(result.problems.empty());
  CHECK(result.config->server.address == "suporte@example.com.br");
}

TEST_CASE("every setting left out in etc/atendd.ini is known and good once put back",
          "[config][etc]") {
  std::string text = read_file(kSource + "/etc/atendd.ini");
  REQUIRE_FALSE(text.empty());
  // ";key = value" and ";[section]" (no space after ';') are settings left out.
  std::string restored =
      std::regex_replace(text, std::regex("^;(?=\\[|[a-z0-9_]+ =)", std::regex::multiline), "");
  REQUIRE(restored != text);
  REQUIRE(restored.find("[mailbox.suporte]") != std::string::npos);

  auto result = load_config_text(restored, "atendd.ini", kSource + "/etc");
  INFO(all_problems(result));
  for (const auto& p : result.problems) {
    bool missing_file = p.message.find("does not exist") != std::string::npos;
    bool both_logins = p.key == "mailbox.suporte.oauth2_token_file";  // shown as the alternative
    CHECK((missing_file || both_logins));
  }
  CHECK(result.problems.size() >= 5);
}

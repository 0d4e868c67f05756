// config_loader_test.cpp — load_config() and load_config_text(): the INI syntax, every kind of
// problem named with file, line and key, all problems collected at once, defaults, lists,
// secrets (read, and never shown), references and relative paths.
#include <catch2/catch.hpp>
#include <initializer_list>

#include "daemon/config/config.h"
#include "test_support.h"

using namespace atendd;
using atendd::test::all_problems;
using atendd::test::has_problem;
using atendd::test::TempDir;

namespace {

// Joins lines with '\n', so a test's line N is the Nth string.
std::string lines(std::initializer_list<const char*> items) {
  std::string out;
  for (const char* item : items) out += std::string(item) + "\n";
  return out;
}

ConfigResult load(const std::string& text, const std::string& base_dir = "/nonexistent") {
  return load_config_text(text, "test.ini", base_dir);
}

const Config& loaded(const ConfigResult& result) {
  INFO(all_problems(result));
  REQUIRE(result.problems.empty());
  REQUIRE(result.config.has_value());
  return *result.config;
}

}  // namespace

TEST_CASE("a config with only server.address loads with the documented defaults", "[config]") {
  auto result = load(lines({"[server]", "address = suporte@example.com.br"}));
  const Config& c = loaded(result);

  CHECK(c.server.address == "suporte@example.com.br");
  CHECK(c.server.name == "atendd");
  CHECK(c.server.state_dir == "/var/lib/atendd");
  CHECK(c.server.database == "sqlite:/var/lib/atendd/atendd.db");
  CHECK(c.server.admin_listen == "127.0.0.1:8025");
  CHECK(c.server.locale == "pt_BR");
  CHECK(c.server.protocol_format == "{yyyy}{mm}{dd}{seq:6}");
  CHECK(c.server.subject_tag == "[#{protocol}]");
  CHECK(c.server.log_level == "information");
  CHECK(c.server.secret.empty());
  CHECK(c.server.reply_address.empty());
  CHECK(c.smtp.host == "127.0.0.1");
  CHECK(c.smtp.port == 25);
  CHECK(c.smtp.tls == SmtpTls::None);
  CHECK(c.smtp.max_attempts == 20);
  CHECK(c.smtp.retry_initial_seconds == 60);
  CHECK(c.smtp.retry_max_seconds == 3600);
  CHECK(c.source_file == "test.ini");
}

TEST_CASE("without any type section the built-in type geral is the default", "[config]") {
  auto result = load(lines({"[server]", "address = s@example.com"}));
  const Config& c = loaded(result);

  REQUIRE(c.types.size() == 1);
  CHECK(c.types[0].id == "geral");
  CHECK(c.types[0].name == "Geral");
  CHECK(c.types[0].priority == Priority::Normal);
  CHECK(c.default_type == "geral");
  CHECK(c.type("geral") == &c.types[0]);
}

TEST_CASE("types keep file order and the first one is the default type", "[config]") {
  auto result = load(lines({
      "[server]",
      "address = s@example.com",
      "[type.garantia]",
      "match_subject = garantia",
      "[type.comercial]",
      "name = Comercial",
  }));
  const Config& c = loaded(result);

  REQUIRE(c.types.size() == 2);
  CHECK(c.types[0].id == "garantia");
  CHECK(c.types[0].order == 0);
  CHECK(c.types[0].name == "garantia");
  CHECK(c.types[1].id == "comercial");
  CHECK(c.types[1].order == 1);
  CHECK(c.default_type == "garantia");
  CHECK(c.type("geral") == nullptr);
}

TEST_CASE("server.default_type chooses the type of unmatched tickets", "[config]") {
  auto result = load(lines({
      "[server]",
      "address = s@example.com",
      "default_type = geral",
      "[type.garantia]",
      "[type.geral]",
  }));
  CHECK(loaded(result).default_type == "geral");
}

TEST_CASE("an inline comment starts at a semicolon or hash after whitespace and nowhere else",
          "[config]") {
  auto result = load(lines({
      "[server]   ; the server",
      "address = s@example.com   ; our address",
      "name = Suporte;Vendas # two teams",
      "subject_tag = [#{protocol}]",
      "trusted_authserv_id = mx.example.com\t# tab before",
  }));
  const Config& c = loaded(result);

  CHECK(c.server.address == "s@example.com");
  CHECK(c.server.name == "Suporte;Vendas");
  CHECK(c.server.subject_tag == "[#{protocol}]");
  CHECK(c.server.trusted_authserv_id == "mx.example.com");
}

TEST_CASE("double quotes around a value are removed and keep semicolons and hashes inside",
          "[config]") {
  auto result = load(lines({
      "[server]",
      "address = \"s@example.com\"",
      "name = \"Suporte ; Vendas # 2\"   ; comment after the quotes",
      "[type.pedido]",
      "match_subject = \"(?i)pedido #\\d+\"",
  }));
  const Config& c = loaded(result);

  CHECK(c.server.address == "s@example.com");
  CHECK(c.server.name == "Suporte ; Vendas # 2");
  CHECK(c.types.at(0).match_subject == "(?i)pedido #\\d+");
}

TEST_CASE("comment lines, blank lines, CRLF and a BOM are ignored", "[config]") {
  std::string text =
      "\xEF\xBB\xBF; a comment\r\n"
      "# another comment\r\n"
      "\r\n"
      "   \t\r\n"
      "[server]\r\n"
      "  # indented comment\r\n"
      "  address   =   s@example.com  \r\n";
  auto result = load(text);
  const Config& c = loaded(result);
  CHECK(c.server.address == "s@example.com");
}

TEST_CASE("a line that is neither a header, a key nor a comment is a problem at its line",
          "[config]") {
  auto result = load(lines({
      "[server]",
      "address = s@example.com",
      "this is not a setting",
      "[smtp",
      "port: 25",
  }));

  CHECK_FALSE(result.config.has_value());
  CHECK(has_problem(result, 3, "server", "expected"));
  CHECK(has_problem(result, 4, "", "']'"));
  CHECK(has_problem(result, 5, "", "expected"));
  CHECK(result.problems.size() == 3);
  CHECK(result.problems[0].file == "test.ini");
}

TEST_CASE("a key before any section and an unterminated quote are problems", "[config]") {
  auto result = load(lines({
      "address = s@example.com",
      "[server]",
      "address = \"s@example.com",
      "name = \"x\" y",
  }));

  CHECK(has_problem(result, 1, "address", "outside of any [section]"));
  CHECK(has_problem(result, 3, "server.address", "closing"));
  CHECK(has_problem(result, 4, "server.name", "after the closing"));
}

TEST_CASE("unknown sections and unknown keys are named with their line", "[config]") {
  auto result = load(lines({
      "[server]",
      "address = s@example.com",
      "adress = typo@example.com",
      "[database]",
      "url = sqlite:x",
      "[type]",
      "[server.extra]",
      "[agent.ana]",
      "email = ana@example.com",
      "phone = 123",
  }));

  CHECK(has_problem(result, 3, "server.adress", "unknown key"));
  CHECK(has_problem(result, 4, "database", "unknown section"));
  CHECK(has_problem(result, 6, "type", "needs a name"));
  CHECK(has_problem(result, 7, "server.extra", "takes no name"));
  CHECK(has_problem(result, 10, "agent.ana.phone", "unknown key"));
  CHECK(result.problems.size() == 5);  // the keys of an unknown section are not listed one by one
}

TEST_CASE("a key set twice is a problem at its second line and the first value stays", "[config]") {
  auto result = load(lines({
      "[server]",
      "address = s@example.com",
      "[smtp]",
      "port = 25",
      "[server]",
      "address = t@example.com",
  }));

  REQUIRE(result.problems.size() == 1);
  CHECK(has_problem(result, 6, "server.address", "first set at line 2"));
}

TEST_CASE("server.address is required even when there is no server section", "[config]") {
  auto absent = load(lines({"[smtp]", "port = 25"}));
  CHECK(has_problem(absent, 0, "server.address", "required"));
  CHECK(absent.problems.at(0).to_string() == "test.ini: server.address: required key is missing");

  auto present = load(lines({"[smtp]", "port = 25", "[server]", "name = x"}));
  CHECK(has_problem(present, 3, "server.address", "required"));
}

TEST_CASE("a problem prints as FILE:LINE: KEY: MESSAGE", "[config]") {
  auto result = load(lines({"[server]", "address = s@example.com", "[smtp]", "port = 0"}));

  REQUIRE(result.problems.size() == 1);
  CHECK(result.problems[0].to_string() ==
        "test.ini:4: smtp.port: \"0\" is not a port from 1 to 65535");
}

TEST_CASE("every bad value is reported at once with its line and key", "[config]") {
  auto result = load(lines({
      "[server]",                              // 1
      "address = suporte.example.com",         // 2
      "reply_address = suporte@example.com",   // 3
      "admin_listen = localhost",              // 4
      "log_level = verbose",                   // 5
      "protocol_format = {yyyy}{mm}{dd}",      // 6
      "subject_tag = [ticket]",                // 7
      "database = mysql://x",                  // 8
      "locale = portugues",                    // 9
      "[smtp]",                                // 10
      "port = 70000",                          // 11
      "tls = ssl",                             // 12
      "timeout_seconds = ten",                 // 13
      "max_attempts = -1",                     // 14
      "[agent.ana]",                           // 15
      "email = ana",                           // 16
      "level = -2",                            // 17
      "chief = maybe",                         // 18
      "[type.garantia]",                       // 19
      "priority = highest",                    // 20
      "assign = random",                       // 21
      "match_subject = (?i)garantia(",         // 22
      "watchers = gerente@example.com, boss",  // 23
      "opening_email = sim",                   // 24
      "reopen_days = 1.5",                     // 25
      "match_to = x",                          // 26
      "[mailbox.suporte]",                     // 27
      "url = pop3://mail.example.com",         // 28
      "tls = tls",                             // 29
      "after = archive",                       // 30
      "poll_seconds = 0",                      // 31
      "user = suporte",                        // 32
      "idle = 2",                              // 33
      "[channel.zap]",                         // 34
      "kind = signal",                         // 35
      "send_url = ftp://x",                    // 36
  }));

  CHECK_FALSE(result.config.has_value());
  CHECK(has_problem(result, 2, "server.address", "not an e-mail address"));
  CHECK(has_problem(result, 3, "server.reply_address", "{token}"));
  CHECK(has_problem(result, 4, "server.admin_listen", "HOST:PORT"));
  CHECK(has_problem(result, 5, "server.log_level", "trace|debug|information"));
  CHECK(has_problem(result, 6, "server.protocol_format", "{seq:N}"));
  CHECK(has_problem(result, 7, "server.subject_tag", "{protocol}"));
  CHECK(has_problem(result, 8, "server.database", "sqlite:PATH"));
  CHECK(has_problem(result, 9, "server.locale", "pt_BR"));
  CHECK(has_problem(result, 11, "smtp.port", "1 to 65535"));
  CHECK(has_problem(result, 12, "smtp.tls", "none|starttls|tls"));
  CHECK(has_problem(result, 13, "smtp.timeout_seconds", "not a whole number"));
  CHECK(has_problem(result, 14, "smtp.max_attempts", "at least 1"));
  CHECK(has_problem(result, 16, "agent.ana.email", "not an e-mail address"));
  CHECK(has_problem(result, 17, "agent.ana.level", "must not be negative"));
  CHECK(has_problem(result, 18, "agent.ana.chief", "true|false|yes|no|on|off|1|0"));
  CHECK(has_problem(result, 20, "type.garantia.priority", "urgent|high|normal|low"));
  CHECK(has_problem(result, 21, "type.garantia.assign", "agent:ID|round_robin|least_loaded"));
  CHECK(has_problem(result, 22, "type.garantia.match_subject", "regular expression"));
  CHECK(has_problem(result, 23, "type.garantia.watchers", "\"boss\""));
  CHECK(has_problem(result, 24, "type.garantia.opening_email", "boolean"));
  CHECK(has_problem(result, 25, "type.garantia.reopen_days", "not a whole number"));
  CHECK(has_problem(result, 26, "type.garantia.match_to", "not an e-mail address"));
  CHECK(has_problem(result, 28, "mailbox.suporte.url", "imaps://"));
  CHECK(has_problem(result, 29, "mailbox.suporte.tls", "starttls|none"));
  CHECK(has_problem(result, 30, "mailbox.suporte.after", "seen|move:FOLDER|delete"));
  CHECK(has_problem(result, 31, "mailbox.suporte.poll_seconds", "at least 1"));
  CHECK(has_problem(result, 27, "mailbox.suporte.password_file", "oauth2_token_file"));
  CHECK(has_problem(result, 33, "mailbox.suporte.idle", "boolean"));
  CHECK(has_problem(result, 35, "channel.zap.kind", "whatsapp|telegram|generic"));
  CHECK(has_problem(result, 36, "channel.zap.send_url", "http"));
  CHECK(result.problems.size() == 30);
}

TEST_CASE("problems come ordered by line", "[config]") {
  auto result = load(lines({
      "[type.x]",
      "priority = bad",
      "[server]",
      "address = bad",
      "bogus line",
      "[smtp]",
      "port = x",
  }));
  REQUIRE(result.problems.size() == 4);
  for (std::size_t i = 1; i < result.problems.size(); ++i) {
    CHECK(result.problems[i - 1].line <= result.problems[i].line);
  }
}

TEST_CASE("booleans accept true false yes no on off 1 0 in any case", "[config]") {
  auto result = load(lines({
      "[server]",
      "address = s@example.com",
      "[agent.a]",
      "email = a@example.com",
      "chief = YES",
      "[agent.b]",
      "email = b@example.com",
      "chief = on",
      "[agent.c]",
      "email = c@example.com",
      "chief = 1",
      "[type.t]",
      "opening_email = off",
      "closing_email = No",
  }));
  const Config& c = loaded(result);
  CHECK(c.agent("a")->chief);
  CHECK(c.agent("b")->chief);
  CHECK(c.agent("c")->chief);
  CHECK_FALSE(c.types[0].opening_email);
  CHECK_FALSE(c.types[0].closing_email);
}

TEST_CASE("references to missing agents, types and workflows are problems at the referring key",
          "[config]") {
  auto result = load(lines({
      "[server]",                      // 1
      "address = s@example.com",       // 2
      "default_type = suporte",        // 3
      "[type.garantia]",               // 4
      "assign = agent:pedro",          // 5
      "workflow = especial",           // 6
      "[agent.maria]",                 // 7
      "email = maria@example.com",     // 8
      "[type.vendas]",                 // 9
      "assign = agent:maria",          // 10
      "[workflow.padrao]",             // 11
      "stages = abertura, conclusao",  // 12
  }));

  CHECK(has_problem(result, 3, "server.default_type", "[type.suporte]"));
  CHECK(has_problem(result, 5, "type.garantia.assign", "[agent.pedro]"));
  CHECK(has_problem(result, 6, "type.garantia.workflow", "[workflow.especial]"));
  CHECK(result.problems.size() == 3);
}

TEST_CASE("a mailbox default_type must name a type", "[config]") {
  TempDir dir;
  dir.file("pass", "x\n");
  auto result = load(lines({
                         "[server]",
                         "address = s@example.com",
                         "[mailbox.suporte]",
                         "url = imaps://imap.example.com/INBOX",
                         "user = s@example.com",
                         "password_file = pass",
                         "default_type = garantia",
                     }),
                     dir.path());
  REQUIRE(result.problems.size() == 1);
  CHECK(has_problem(result, 7, "mailbox.suporte.default_type", "[type.garantia]"));
}

TEST_CASE("a secret read from a file holds no more memory than its text", "[config]") {
  TempDir dir;
  dir.file("suporte.pass", "imap-pass\n");
  auto result = load(lines({
                         "[server]",
                         "address = s@example.com",
                         "[mailbox.suporte]",
                         "url = imap://imap.example.com/INBOX",
                         "tls = none",
                         "user = s@example.com",
                         "password_file = suporte.pass",
                     }),
                     dir.path());
  const Config& c = loaded(result);
  const MailboxConfig& m = c.mailboxes.at("suporte");
  CHECK(m.password == "imap-pass");
  // It is read through a buffer of the largest secret allowed (64 KiB); a daemon keeps one per
  // mailbox and channel for its whole life.
  CHECK(m.password.capacity() < 1024);
}

TEST_CASE("a mailbox with url, user and password file loads with its settings", "[config]") {
  TempDir dir;
  dir.file("suporte.pass", "imap-pass\n");
  auto result = load(lines({
                         "[server]",
                         "address = s@example.com",
                         "[mailbox.suporte]",
                         "url = imap://imap.example.com/INBOX",
                         "tls = none",
                         "user = s@example.com",
                         "password_file = suporte.pass",
                         "after = move:Processados",
                         "poll_seconds = 60",
                         "idle = false",
                         "default_type = geral",
                     }),
                     dir.path());
  const Config& c = loaded(result);

  const MailboxConfig& m = c.mailboxes.at("suporte");
  CHECK(m.id == "suporte");
  CHECK(m.url == "imap://imap.example.com/INBOX");
  CHECK(m.tls == "none");
  CHECK(m.password == "imap-pass");
  CHECK(m.password_file == dir.path() + "/suporte.pass");
  CHECK(m.after == "move:Processados");
  CHECK(m.poll_seconds == 60);
  CHECK_FALSE(m.idle);
  CHECK(m.default_type == "geral");
}

TEST_CASE("a mailbox max_message_mb defaults to 25 and must be between 1 and 2048", "[config]") {
  TempDir dir;
  dir.file("suporte.pass", "imap-pass\n");
  auto mailbox = [&](const char* extra) {
    return load(lines({
                    "[server]",
                    "address = s@example.com",
                    "[mailbox.suporte]",
                    "url = imaps://imap.example.com/INBOX",
                    "user = s@example.com",
                    "password_file = suporte.pass",
                    extra,
                }),
                dir.path());
  };
  CHECK(loaded(mailbox("")).mailboxes.at("suporte").max_message_mb == 25);
  CHECK(loaded(mailbox("max_message_mb = 10")).mailboxes.at("suporte").max_message_mb == 10);
  CHECK(has_problem(mailbox("max_message_mb = 0"), 7, "mailbox.suporte.max_message_mb"));
  CHECK(has_problem(mailbox("max_message_mb = many"), 7, "mailbox.suporte.max_message_mb"));
}

TEST_CASE("server.database_blob_max_kb defaults to 128 and must be between 0 and 16384", "[config]") {
  auto server = [&](const char* extra) { return load(lines({"[server]", "address = s@example.com", extra})); };
  CHECK(loaded(server("")).server.database_blob_max_kb == 128);
  CHECK(loaded(server("database_blob_max_kb = 0")).server.database_blob_max_kb == 0);
  CHECK(loaded(server("database_blob_max_kb = 16384")).server.database_blob_max_kb == 16384);
  CHECK(has_problem(server("database_blob_max_kb = 16385"), 3, "server.database_blob_max_kb"));
  CHECK(has_problem(server("database_blob_max_kb = -1"), 3, "server.database_blob_max_kb"));
  CHECK(has_problem(server("database_blob_max_kb = 1MB"), 3, "server.database_blob_max_kb"));
}

TEST_CASE("lists are split on commas, trimmed and addresses and domains lower-cased", "[config]") {
  auto result = load(lines({
      "[server]",
      "address = s@example.com",
      "[type.garantia]",
      "match_to = Garantia@Example.COM ,  rma@example.com,",
      "match_mailbox = suporte, Vendas",
      "match_from_domain = Cliente.com.br, @parceiro.com",
      "watchers = Gerente@Example.com",
      "workflow = padrao",
      "[workflow.padrao]",
      "stages = abertura ,analise,  conclusao",
  }));
  const Config& c = loaded(result);
  const TypeConfig& t = c.types.at(0);

  CHECK(t.match_to == std::vector<std::string>{"garantia@example.com", "rma@example.com"});
  CHECK(t.match_mailbox == std::vector<std::string>{"suporte", "Vendas"});
  CHECK(t.match_from_domain == std::vector<std::string>{"cliente.com.br", "parceiro.com"});
  CHECK(t.watchers == std::vector<std::string>{"gerente@example.com"});
  CHECK(c.workflows.at("padrao").stages ==
        std::vector<std::string>{"abertura", "analise", "conclusao"});
}

TEST_CASE("a type reads every key of DESIGN.md", "[config]") {
  auto result = load(lines({
      "[server]",
      "address = s@example.com",
      "[agent.maria]",
      "email = Maria@Example.com",
      "name = Maria Souza",
      "department = suporte",
      "level = 2",
      "chief = true",
      "[type.garantia]",
      "name = Garantia",
      "match_subject = (?i)garantia|defeito",
      "priority = urgent",
      "department = suporte",
      "assign = agent:maria",
      "first_response_hours = 4",
      "next_contact_days = 1",
      "opening_email = false",
      "closing_email = true",
      "reopen_days = 30",
      "max_attachment_mb = 10",
      "level = 1",
  }));
  const Config& c = loaded(result);
  const TypeConfig& t = c.types.at(0);

  CHECK(t.name == "Garantia");
  CHECK(t.match_subject == "(?i)garantia|defeito");
  CHECK(t.priority == Priority::Urgent);
  CHECK(t.department == "suporte");
  CHECK(t.assign == AssignMode::Agent);
  CHECK(t.assign_agent == "maria");
  CHECK(t.first_response_hours == 4);
  CHECK(t.next_contact_days == 1);
  CHECK_FALSE(t.opening_email);
  CHECK(t.closing_email);
  CHECK(t.reopen_days == 30);
  CHECK(t.max_attachment_mb == 10);
  CHECK(t.level == 1);
  const AgentConfig* maria = c.agent_by_email("MARIA@example.COM");
  REQUIRE(maria != nullptr);
  CHECK(maria->id == "maria");
  CHECK(maria->email == "maria@example.com");
  CHECK(maria->name == "Maria Souza");
  CHECK(maria->level == 2);
  CHECK(maria->chief);
  CHECK(c.agent_by_email("pedro@example.com") == nullptr);
  CHECK(c.agent("pedro") == nullptr);
}

TEST_CASE("assign accepts round_robin and least_loaded", "[config]") {
  auto result = load(lines({
      "[server]",
      "address = s@example.com",
      "[type.a]",
      "assign = round_robin",
      "[type.b]",
      "assign = least_loaded",
      "[type.c]",
  }));
  const Config& c = loaded(result);
  CHECK(c.types[0].assign == AssignMode::RoundRobin);
  CHECK(c.types[1].assign == AssignMode::LeastLoaded);
  CHECK(c.types[2].assign == AssignMode::None);
}

TEST_CASE("two agents with one address, or an agent with ours, are problems", "[config]") {
  auto result = load(lines({
      "[server]",
      "address = suporte@example.com",
      "[agent.a]",
      "email = maria@example.com",
      "[agent.b]",
      "email = Maria@example.com",
      "[agent.c]",
      "email = SUPORTE@example.com",
  }));
  CHECK(has_problem(result, 6, "agent.b.email", "line 4"));
  CHECK(has_problem(result, 8, "agent.c.email", "server.address"));
  CHECK(result.problems.size() == 2);
}

TEST_CASE("protocol_format takes date placeholders and literal text around one {seq:N}",
          "[config]") {
  auto format = [](const std::string& f) {
    return load("[server]\naddress = s@example.com\nprotocol_format = " + f + "\n");
  };
  CHECK(format("{yyyy}{mm}{dd}{seq:6}").problems.empty());
  CHECK(format("AT-{yy}{mm}-{seq:4}").problems.empty());
  CHECK(format("{seq:10}").problems.empty());
  CHECK(loaded(format("SUP{yyyy}/{seq:5}")).server.protocol_format == "SUP{yyyy}/{seq:5}");

  CHECK(has_problem(format("{yyyy}"), 3, "server.protocol_format", "exactly once"));
  CHECK(has_problem(format("{seq:3}{seq:3}"), 3, "server.protocol_format", "exactly once"));
  CHECK(has_problem(format("{seq:0}"), 3, "server.protocol_format", "1 to 18"));
  CHECK(has_problem(format("{seq:x}"), 3, "server.protocol_format", "1 to 18"));
  CHECK(has_problem(format("{hh}{seq:6}"), 3, "server.protocol_format", "{hh}"));
  CHECK(has_problem(format("{seq:6"), 3, "server.protocol_format", "without '}'"));
  CHECK(has_problem(format("AT {seq:6}"), 3, "server.protocol_format", "spaces"));
}

TEST_CASE("reply_address needs {token} in its local part", "[config]") {
  auto reply = [](const std::string& r) {
    return load("[server]\naddress = s@example.com\nreply_address = " + r + "\n");
  };
  CHECK(loaded(reply("s+{token}@example.com")).server.reply_address == "s+{token}@example.com");
  CHECK(has_problem(reply("s@{token}.example.com"), 3, "server.reply_address", "{token}"));
  CHECK(has_problem(reply("s+{token}"), 3, "server.reply_address", "{token}"));
}

TEST_CASE("smtp settings are read and a retry cap below the first delay is a problem", "[config]") {
  auto result = load(lines({
      "[server]",
      "address = s@example.com",
      "[smtp]",
      "host = mail.example.com",
      "port = 587",
      "tls = STARTTLS",
      "helo = mx.example.com",
      "timeout_seconds = 5",
      "retry_initial_seconds = 2",
      "retry_max_seconds = 8",
      "max_attempts = 3",
  }));
  const Config& c = loaded(result);
  CHECK(c.smtp.host == "mail.example.com");
  CHECK(c.smtp.port == 587);
  CHECK(c.smtp.tls == SmtpTls::StartTls);
  CHECK(c.smtp.helo == "mx.example.com");
  CHECK(c.smtp.timeout_seconds == 5);
  CHECK(c.smtp.retry_initial_seconds == 2);
  CHECK(c.smtp.retry_max_seconds == 8);
  CHECK(c.smtp.max_attempts == 3);

  auto bad = load(lines({"[server]", "address = s@example.com", "[smtp]",
                         "retry_initial_seconds = 120", "retry_max_seconds = 60"}));
  CHECK(has_problem(bad, 5, "smtp.retry_max_seconds", "retry_initial_seconds"));
}

TEST_CASE("an smtp user needs a password file", "[config]") {
  auto result = load(lines({"[server]", "address = s@example.com", "[smtp]", "user = atendd"}));
  CHECK(has_problem(result, 4, "smtp.user", "password_file"));
}

TEST_CASE("secret files are read without the trailing newline", "[config]") {
  TempDir dir;
  dir.file("secret", "reply-token-key\n");
  dir.file("smtp.pass", "smtp-password\r\n");
  dir.file("zap/secret", "zap-secret");
  dir.file("zap/token", "zap-token\n\n");
  auto result = load(lines({
                         "[server]",
                         "address = s@example.com",
                         "secret_file = secret",
                         "[smtp]",
                         "user = atendd",
                         "password_file = smtp.pass",
                         "[channel.zap]",
                         "kind = whatsapp",
                         "secret_file = zap/secret",
                         "token_file = zap/token",
                         "send_url = https://api.example.com/send",
                     }),
                     dir.path());
  const Config& c = loaded(result);

  CHECK(c.server.secret == "reply-token-key");
  CHECK(c.server.secret_file == dir.path() + "/secret");
  CHECK(c.smtp.password == "smtp-password");
  CHECK(c.smtp.user == "atendd");
  const ChannelConfig& zap = c.channels.at("zap");
  CHECK(zap.id == "zap");
  CHECK(zap.kind == ChannelKind::WhatsApp);
  CHECK(zap.secret == "zap-secret");
  CHECK(zap.token == "zap-token");
  CHECK(zap.send_url == "https://api.example.com/send");
}

TEST_CASE("the content of secret files never appears in problems", "[config]") {
  TempDir dir;
  dir.file("secret", "TOP-SECRET-KEY\n");
  dir.file("smtp.pass", "TOP-SECRET-PASS\n");
  auto result = load(lines({
                         "[server]",
                         "address = bad",
                         "secret_file = secret",
                         "bogus",
                         "[smtp]",
                         "password_file = smtp.pass",
                         "port = x",
                         "password = TOP-SECRET-INLINE",
                     }),
                     dir.path());

  CHECK(result.problems.size() >= 4);
  for (const auto& p : result.problems) {
    CHECK(p.to_string().find("TOP-SECRET") == std::string::npos);
  }
  CHECK(has_problem(result, 8, "smtp.password", "unknown key"));
  CHECK(has_problem(result, 6, "smtp.password_file", "needs user"));
}

TEST_CASE("a missing or empty file named by a *_file key is a problem with its resolved path",
          "[config]") {
  TempDir dir;
  dir.file("empty", "\n");
  auto result = load(lines({
                         "[server]",                              // 1
                         "address = s@example.com",               // 2
                         "secret_file = ../etc/secret",           // 3
                         "admin_tokens = tokens",                 // 4
                         "[smtp]",                                // 5
                         "user = u",                              // 6
                         "password_file = ../empty",              // 7
                         "ca_file = /nonexistent/ca.pem",         // 8
                         "[mailbox.m]",                           // 9
                         "url = imaps://imap.example.com/INBOX",  // 10
                         "user = u",                              // 11
                         "oauth2_token_file = token",             // 12
                         "[channel.c]",                           // 13
                         "kind = telegram",                       // 14
                         "secret_file = ..",                      // 15
                         "token_file = token",                    // 16
                     }),
                     dir.path() + "/conf");
  INFO(all_problems(result));

  std::string base = dir.path();
  CHECK(has_problem(result, 3, "server.secret_file", "\"" + base + "/etc/secret\" does not exist"));
  CHECK(has_problem(result, 4, "server.admin_tokens", base + "/conf/tokens"));
  CHECK(has_problem(result, 7, "smtp.password_file", "is empty"));
  CHECK(has_problem(result, 8, "smtp.ca_file", "/nonexistent/ca.pem\" does not exist"));
  CHECK(has_problem(result, 12, "mailbox.m.oauth2_token_file", "does not exist"));
  CHECK(has_problem(result, 15, "channel.c.secret_file", "not a regular file"));
  CHECK(has_problem(result, 16, "channel.c.token_file", "does not exist"));
  CHECK(result.problems.size() == 7);
}

TEST_CASE("a templates_dir must be an existing directory", "[config]") {
  TempDir dir;
  dir.file("templates/pt_BR/opening.mustache", "x");
  auto result = load(lines({
                         "[server]",
                         "address = s@example.com",
                         "templates_dir = templates",
                         "[type.a]",
                         "templates_dir = missing",
                     }),
                     dir.path());
  CHECK(has_problem(result, 5, "type.a.templates_dir", "directory"));
  CHECK(result.problems.size() == 1);

  auto good = load(lines({"[server]", "address = s@example.com", "templates_dir = templates/"}),
                   dir.path());
  CHECK(loaded(good).server.templates_dir == dir.path() + "/templates/");
}

TEST_CASE("relative paths are taken from the config file's directory", "[config]") {
  TempDir dir;
  std::string path = dir.file("etc/atendd.ini", lines({
                                                    "[server]",
                                                    "address = s@example.com",
                                                    "state_dir = ../var/state",
                                                }));
  auto result = load_config(path);
  const Config& c = loaded(result);

  CHECK(c.server.state_dir == dir.path() + "/var/state");
  CHECK(c.server.database == "sqlite:" + dir.path() + "/var/state/atendd.db");
  CHECK(c.source_file == path);
}

TEST_CASE("an explicit sqlite database path is resolved and postgresql is kept", "[config]") {
  auto sqlite = load(lines({"[server]", "address = s@example.com", "database = sqlite:db/a.db"}),
                     "/srv/atendd");
  CHECK(loaded(sqlite).server.database == "sqlite:/srv/atendd/db/a.db");

  auto pg = load(lines(
      {"[server]", "address = s@example.com", "database = postgresql://atendd@db:5432/atendd"}));
  CHECK(loaded(pg).server.database == "postgresql://atendd@db:5432/atendd");
}

TEST_CASE("a file that cannot be read is one problem at line 0", "[config]") {
  auto missing = load_config("/nonexistent/atendd.ini");
  CHECK_FALSE(missing.config.has_value());
  REQUIRE(missing.problems.size() == 1);
  CHECK(missing.problems[0].file == "/nonexistent/atendd.ini");
  CHECK(missing.problems[0].line == 0);

  TempDir dir;
  auto directory = load_config(dir.path());
  REQUIRE(directory.problems.size() == 1);
  CHECK(directory.problems[0].line == 0);
}

TEST_CASE("a workflow needs distinct stage names", "[config]") {
  auto result = load(lines({
      "[server]",
      "address = s@example.com",
      "[workflow.a]",
      "stages = abertura, abertura",
      "[workflow.b]",
      "stages = ,",
      "[workflow.c]",
      "[workflow.d]",
      "stages = em analise",
  }));
  CHECK(has_problem(result, 4, "workflow.a.stages", "twice"));
  CHECK(has_problem(result, 6, "workflow.b.stages", "at least one"));
  CHECK(has_problem(result, 7, "workflow.c.stages", "required"));
  CHECK(has_problem(result, 9, "workflow.d.stages", "stage name"));
}

TEST_CASE("a mailbox needs a url, a user and exactly one way to log in", "[config]") {
  TempDir dir;
  dir.file("p", "x");
  dir.file("t", "y");
  auto result = load(lines({
                         "[server]",
                         "address = s@example.com",
                         "[mailbox.a]",
                         "[mailbox.b]",
                         "url = imaps://h/INBOX",
                         "user = u",
                         "password_file = p",
                         "oauth2_token_file = t",
                     }),
                     dir.path());
  CHECK(has_problem(result, 3, "mailbox.a.url", "required"));
  CHECK(has_problem(result, 3, "mailbox.a.user", "required"));
  CHECK(has_problem(result, 3, "mailbox.a.password_file", "oauth2_token_file"));
  CHECK(has_problem(result, 8, "mailbox.b.oauth2_token_file", "not both"));
  CHECK(result.problems.size() == 4);
}

TEST_CASE("a channel needs a kind", "[config]") {
  auto result = load(lines(
      {"[server]", "address = s@example.com", "[channel.x]", "send_url = https://x.example.com"}));
  CHECK(has_problem(result, 3, "channel.x.kind", "required"));

  auto telegram =
      load(lines({"[server]", "address = s@example.com", "[channel.tg]", "kind = telegram"}));
  CHECK(loaded(telegram).channels.at("tg").kind == ChannelKind::Telegram);
}

TEST_CASE("priority names are the ones the config uses", "[config]") {
  CHECK(std::string(priority_name(Priority::Urgent)) == "urgent");
  CHECK(std::string(priority_name(Priority::High)) == "high");
  CHECK(std::string(priority_name(Priority::Normal)) == "normal");
  CHECK(std::string(priority_name(Priority::Low)) == "low");
}

TEST_CASE("a value is taken as written, without expanding ${...}", "[config]") {
  auto result =
      load(lines({"[server]", "address = s@example.com", "name = ${HOME} e ${server.address}"}));
  CHECK(loaded(result).server.name == "${HOME} e ${server.address}");
}

// ---- lifecycle keys: workflow stage options, auto_close_days, allow_type_change

TEST_CASE("workflow stage options read closing stages decisions and required responsibles", "[config][workflow]") {
  auto result = load(lines({"[server]", "address = s@example.com", "[type.garantia]", "workflow = garantia",
                            "auto_close_days = 7", "allow_type_change = false", "[workflow.garantia]",
                            "stages = abertura, analise, decisao, troca, conclusao",
                            "stage_analise = requires_responsible",
                            "stage_decisao = decision: Aprovado -> troca, reprovado -> conclusao",
                            "stage_conclusao = closes"}));
  const Config& c = loaded(result);
  const WorkflowConfig& w = c.workflows.at("garantia");
  CHECK(w.stage_options.at("analise").requires_responsible);
  CHECK(w.stage_options.at("conclusao").closes);
  using Answers = std::vector<std::pair<std::string, std::string>>;
  CHECK(w.stage_options.at("decisao").answers == Answers{{"aprovado", "troca"}, {"reprovado", "conclusao"}});
  CHECK(c.type("garantia")->auto_close_days == 7);
  CHECK_FALSE(c.type("garantia")->allow_type_change);
}

TEST_CASE("a type keeps solved tickets open and allows type changes unless told otherwise", "[config][workflow]") {
  auto result = load(lines({"[server]", "address = s@example.com", "[type.geral]", "name = Geral"}));
  CHECK(loaded(result).type("geral")->auto_close_days == 0);
  CHECK(loaded(result).type("geral")->allow_type_change);
}

TEST_CASE("bad stage options are problems with their line and key", "[config][workflow]") {
  auto result = load(lines({"[server]", "address = s@example.com", "[workflow.w]", "stages = a, b",
                            "stage_c = closes", "stage_a = fecha", "stage_b = decision: sim -> z",
                            "auto_close_days = 3"}));
  CHECK(has_problem(result, 5, "workflow.w.stage_c", "not one of this workflow's stages"));
  CHECK(has_problem(result, 6, "workflow.w.stage_a", "closes|requires_responsible"));
  CHECK(has_problem(result, 7, "workflow.w.stage_b", "not a stage of this workflow"));
  CHECK(has_problem(result, 8, "workflow.w.auto_close_days", "unknown key"));
}

TEST_CASE("typed fields are read with their kind and when they are required", "[config][fields]") {
  auto result = load(lines({"[server]", "address = suporte@example.com.br", "[type.garantia]",
                            "fields = product:text:required_to_close, invoice:text, quantity:int, indemnity:money, "
                            "bought:date, channel:choice(phone|email|whatsapp|portal):required_to_open"}));
  const Config& c = loaded(result);
  const auto& fields = c.types.at(0).fields;
  REQUIRE(fields.size() == 6);
  CHECK(fields[0].name == "product");
  CHECK(fields[0].kind == FieldKind::Text);
  CHECK(fields[0].required_to_close);
  CHECK_FALSE(fields[0].required_to_open);
  CHECK(fields[2].kind == FieldKind::Int);
  CHECK(fields[3].kind == FieldKind::Money);
  CHECK(fields[4].kind == FieldKind::Date);
  CHECK(fields[5].kind == FieldKind::Choice);
  CHECK(fields[5].choices == std::vector<std::string>{"phone", "email", "whatsapp", "portal"});
  CHECK(fields[5].required_to_open);
  CHECK(c.types.at(0).field("quantity") == &fields[2]);
  CHECK(c.types.at(0).field("nothing") == nullptr);
  CHECK_FALSE(c.types.at(0).expenses);
  auto with = load(lines({"[server]", "address = suporte@example.com.br", "[type.garantia]", "expenses = true"}));
  CHECK(loaded(with).types.at(0).expenses);
}

TEST_CASE("a bad typed field is a problem with file and line and says what is allowed", "[config][fields]") {
  struct Case {
    const char* value;
    const char* says;
  };
  const Case cases[] = {
      {"product:blob", "is not a kind (text, int, money, date, choice(A|B|…))"},
      {"product", "write NAME:KIND"},
      {"product:text:always", "is not required_to_open or required_to_close"},
      {"channel:choice()", "a choice needs its options"},
      {"channel:choice(a||b)", "a choice needs its options"},
      {"product:text, product:int", "the field product is listed twice"},
      {"pro duct:text", "is not a field name"},
  };
  for (const Case& bad : cases) {
    INFO(bad.value);
    const std::string text = lines({"[server]", "address = suporte@example.com.br", "[type.garantia]"}) +
                              "fields = " + bad.value + "\n";
    auto result = load(text);
    REQUIRE(result.problems.size() == 1);
    CHECK(result.problems[0].line == 4);
    CHECK(result.problems[0].to_string().rfind("test.ini:4: type.garantia.fields: ", 0) == 0);
    CHECK(result.problems[0].message.find(bad.says) != std::string::npos);
  }
}

TEST_CASE("a stage may carry its own days to the next contact", "[config][workflow]") {
  auto good = load(lines({"[server]", "address = suporte@example.com.br", "[workflow.w]", "stages = a, b",
                          "stage_b = next_contact_days:3, requires_responsible"}));
  const auto& options = loaded(good).workflows.at("w").stage_options.at("b");
  CHECK(options.next_contact_days == 3);
  CHECK(options.requires_responsible);
  auto bad = load(lines({"[server]", "address = suporte@example.com.br", "[workflow.w]", "stages = a, b",
                         "stage_b = next_contact_days:soon"}));
  REQUIRE(bad.problems.size() == 1);
  CHECK(bad.problems[0].to_string().rfind("test.ini:5: workflow.w.stage_b: ", 0) == 0);
  CHECK(bad.problems[0].message.find("whole number of days") != std::string::npos);
}

// ---- [confirmation]: the customer's approval phrases per locale (issue 13)

TEST_CASE("approval phrases default per locale and a phrases_LOCALE key replaces them", "[config][confirmation]") {
  auto defaults = load(lines({"[server]", "address = s@example.com"}));
  CHECK(loaded(defaults).confirmation.phrases.at("pt_BR").front() == "ok, resolvido");
  CHECK(loaded(defaults).confirmation.phrases.at("en").front() == "yes, solved");
  auto mine = load(lines({"[server]", "address = s@example.com", "[confirmation]",
                          "phrases_pt_BR = tudo certo, obrigado | pode arquivar", "phrases_en ="}));
  CHECK(loaded(mine).confirmation.phrases.at("pt_BR") == std::vector<std::string>{"tudo certo, obrigado", "pode arquivar"});
  CHECK(loaded(mine).confirmation.phrases.at("en").empty());
}

TEST_CASE("bad approval phrases are problems with their line and key", "[config][confirmation]") {
  auto result = load(lines({"[server]", "address = s@example.com", "[confirmation]", "phrases_Portugues = ok",
                            "phrases_en = yes, solved | | done", "frases = ok", "[confirmation.a]"}));
  CHECK(has_problem(result, 4, "confirmation.phrases_Portugues", "not a locale"));
  CHECK(has_problem(result, 5, "confirmation.phrases_en", "an empty phrase"));
  CHECK(has_problem(result, 6, "confirmation.frases", "unknown key"));
  CHECK(has_problem(result, 7, "confirmation.a", "takes no name"));
}

// ---- sub-workflows: stage_NAME = workflow:OTHER[:return|:end] (issue 13)

TEST_CASE("a stage may enter another workflow and come back or end there", "[config][workflow][subflow]") {
  auto result = load(lines({"[server]", "address = s@example.com", "[workflow.a]", "stages = x, y, z",
                            "stage_y = workflow:b", "stage_z = workflow:c:end, requires_responsible",
                            "[workflow.b]", "stages = b1", "[workflow.c]", "stages = c1"}));
  const Config& c = loaded(result);
  CHECK(c.workflows.at("a").stage_options.at("y").subflow == "b");
  CHECK(c.workflows.at("a").stage_options.at("y").subflow_returns);
  CHECK(c.workflows.at("a").stage_options.at("z").subflow == "c");
  CHECK_FALSE(c.workflows.at("a").stage_options.at("z").subflow_returns);
  CHECK(c.workflows.at("a").stage_options.at("z").requires_responsible);
}

TEST_CASE("bad sub-workflows are problems with their line and key", "[config][workflow][subflow]") {
  auto result = load(lines({"[server]", "address = s@example.com",  // 1-2
                            "[workflow.a]", "stages = x, y, z",       // 3-4
                            "stage_x = workflow:nenhum",             // 5: no such workflow
                            "stage_y = workflow:b:sempre",           // 6: bad mode
                            "stage_z = workflow:b, closes",          // 7: not a resting place
                            "[workflow.b]", "stages = b1, b2",       // 8-9
                            "stage_b2 = workflow:a",                 // 10: a -> b -> a
                            "[workflow.s]", "stages = s1",           // 11-12
                            "stage_s1 = workflow:s"}));              // 13: itself
  CHECK(has_problem(result, 5, "workflow.a.stage_x", "no [workflow.nenhum] section"));
  CHECK(has_problem(result, 6, "workflow.a.stage_y", "workflow:OTHER:end"));
  CHECK(has_problem(result, 7, "workflow.a.stage_z", "only requires_responsible"));
  CHECK(has_problem(result, 10, "workflow.b.stage_b2", "may not enter themselves: b -> a -> b"));
  CHECK(has_problem(result, 13, "workflow.s.stage_s1", "may not enter themselves: s -> s"));
}

// loop_guard_test.cpp — atendd never answers itself or an automatic message (invariant 3):
// our own X-Loop or address is ignored outright; auto-replies, bulk mail and bounces from the
// real-world corpus make no automatic answer; an ordinary customer message does.
#include "daemon/pipeline/loop_guard.h"

#include <filesystem>

#include "../tickets/config_for_tests.h"
#include "parsers/mime_reader.h"
#include "support/corpus.h"
#include "support/processes.h"

using namespace atendd;

namespace {

Config server_config() {
  return config_from("[server]\naddress = suporte@example.com\nreply_address = suporte+{token}@example.com\n");
}

ParsedMessage corpus(const std::string& name) {
  const std::string path = test::corpus_dir() + "/zammad/" + name;
  if (!std::filesystem::exists(path)) return {};
  return parse_message(test::read_file(path));
}

}  // namespace

TEST_CASE("a message carrying our own X-Loop is ignored", "[loop]") {
  const Config config = server_config();
  const ParsedMessage m = parse_message(
      "From: someone@example.org\r\nX-Loop: suporte@example.com\r\nSubject: re\r\n\r\nhi\r\n");
  const LoopVerdict verdict = check_loops(m, config);
  CHECK(verdict.ignore);
  CHECK(verdict.reason.find("X-Loop") != std::string::npos);
}

TEST_CASE("a message from our own address or a reply address of ours is ignored", "[loop]") {
  const Config config = server_config();
  CHECK(check_loops(parse_message("From: Suporte@Example.com\r\nSubject: x\r\n\r\n.\r\n"), config).ignore);
  CHECK(check_loops(parse_message("From: suporte+abc123@example.com\r\nSubject: x\r\n\r\n.\r\n"), config).ignore);
  CHECK_FALSE(check_loops(parse_message("From: suporte.vendas@example.com\r\nSubject: x\r\n\r\n.\r\n"), config).ignore);
}

TEST_CASE("auto-submitted and bulk mail get a ticket but no automatic answer", "[loop]") {
  const Config config = server_config();
  const LoopVerdict auto_reply = check_loops(
      parse_message("From: a@example.org\r\nAuto-Submitted: auto-replied\r\nSubject: Ausente\r\n\r\nferias\r\n"), config);
  CHECK_FALSE(auto_reply.ignore);
  CHECK_FALSE(auto_reply.may_auto_answer);
  const LoopVerdict bulk = check_loops(
      parse_message("From: news@example.org\r\nPrecedence: bulk\r\nSubject: News\r\n\r\nx\r\n"), config);
  CHECK_FALSE(bulk.may_auto_answer);
}

TEST_CASE("real bounces and automatic notifications from the corpus get no automatic answer", "[loop][corpus]") {
  const Config config = server_config();
  int checked = 0;
  for (const char* name : {"mail033-undelivered-mail-returned-to-sender-notification.box", "mail055.box",
                           "mail078.box", "mail089.box", "mail090.box", "mail092.box"}) {
    const ParsedMessage m = corpus(name);
    if (m.from.address.empty() && m.subject.empty()) continue;
    INFO(name);
    const LoopVerdict verdict = check_loops(m, config);
    CHECK_FALSE(verdict.ignore);
    CHECK_FALSE(verdict.may_auto_answer);
    ++checked;
  }
  if (checked == 0) WARN("mail corpus not found: skipped");
}

TEST_CASE("an ordinary customer message may be answered", "[loop]") {
  const Config config = server_config();
  const LoopVerdict verdict = check_loops(
      parse_message("From: Ana <ana@example.org>\r\nSubject: ajuda\r\n\r\nola\r\n"), config);
  CHECK_FALSE(verdict.ignore);
  CHECK(verdict.may_auto_answer);
}

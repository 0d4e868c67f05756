// engine_test.cpp — opening a ticket from a customer's message: status, responsible, article,
// attachments, watchers, history, and which mails a new ticket asks for.
#include "daemon/tickets/engine.h"

#include <sys/wait.h>
#include <unistd.h>

#include <set>

#include "config_for_tests.h"
#include "storage/sqlite_store.h"
#include "support/processes.h"

using namespace atendd;

namespace {

const std::string kConfig =
    "[server]\naddress = suporte@example.com\n"
    "[agent.maria]\nemail = maria@example.com\nname = Maria Souza\ndepartment = suporte\n"
    "[type.garantia]\nname = Garantia\nmatch_subject = garantia\npriority = high\ndepartment = suporte\n"
    "assign = round_robin\nfirst_response_hours = 4\nnext_contact_days = 1\nwatchers = gerente@example.com\n"
    "max_attachment_mb = 1\nworkflow = padrao\n"
    "[type.silencioso]\nname = Silencioso\nopening_email = false\n"
    "[workflow.padrao]\nstages = abertura, analise, conclusao\n";

struct Fixture {
  test::TempDir dir;
  SqliteStore store{dir.path() + "/a.db"};
  Config config = config_from(kConfig);
  FixedClock clock{1795478400};
  Engine engine{store, config, clock};
  ParsedMessage parsed;

  Fixture() {
    parsed.from = {"Cliente@Example.org", "Ana Cliente"};
    parsed.subject = "garantia do produto";
    parsed.message_id = "m1@example.org";
    parsed.text = "O produto parou.";
  }
  OpenedTicket open(const std::string& type, bool may_answer = true, std::vector<AttachmentRecord> files = {}) {
    InboundMessage message{parsed, "raw-sha", "deliver", "suporte", std::move(files)};
    return engine.open_ticket(message, *config.type(type), may_answer, "no automatic answer: test");
  }
  std::vector<std::string> history_fields(TicketId id) {
    std::vector<std::string> fields;
    for (const auto& h : store.history(id)) fields.push_back(h.field);
    return fields;
  }
};

bool has(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

}  // namespace

TEST_CASE("a new ticket gets the type's priority, department, first stage, deadlines and a responsible", "[engine]") {
  Fixture f;
  const OpenedTicket opened = f.open("garantia");
  const auto t = f.store.ticket(opened.ticket.id);
  REQUIRE(t);
  CHECK(t->status == TicketStatus::New);
  CHECK(t->priority == 2);
  CHECK(t->department == "suporte");
  CHECK(t->stage == "abertura");
  CHECK(t->responsible == "maria");
  CHECK(t->first_response_due == 1795478400 + 4 * 3600);
  CHECK(t->next_contact_due == 1795478400 + 86400);
  CHECK(t->protocol == "20261124000001");
  CHECK(t->reply_token.size() == 24);
  CHECK(f.store.contact(t->contact_id)->address == "cliente@example.org");
  CHECK(f.store.watchers(t->id) == std::vector<std::string>{"gerente@example.com"});
  const auto fields = f.history_fields(t->id);
  for (const char* field : {"created", "type", "status", "priority", "responsible"}) CHECK(has(fields, field));
}

TEST_CASE("the customer's message becomes the first article with its attachments", "[engine]") {
  Fixture f;
  AttachmentRecord small{0, 0, "../../etc/nota fiscal.pdf", "application/pdf", 1000, "aa", false};
  AttachmentRecord big{0, 0, "video.mp4", "video/mp4", 5 * 1024 * 1024, "bb", false};
  const OpenedTicket opened = f.open("garantia", true, {small, big});
  const auto articles = f.store.articles(opened.ticket.id);
  REQUIRE(articles.size() == 1);
  CHECK(articles[0].kind == ArticleKind::CustomerMessage);
  CHECK(articles[0].text == "O produto parou.");
  CHECK(articles[0].message_id == "m1@example.org");
  const auto files = f.store.attachments(articles[0].id);
  REQUIRE(files.size() == 1);              // the 5 MB file is over the type's 1 MB limit
  CHECK(files[0].filename == "nota fiscal.pdf");  // never a path
  CHECK(has(f.history_fields(opened.ticket.id), "attachment_refused"));
}

TEST_CASE("a new ticket asks for the opening e-mail, the forward to the responsible and the watchers' notice", "[engine]") {
  Fixture f;
  const OpenedTicket opened = f.open("garantia");
  REQUIRE(opened.mails.size() == 3);
  CHECK(opened.mails[0].template_name == "opening");
  CHECK(opened.mails[0].to[0].address == "cliente@example.org");
  CHECK(opened.mails[1].template_name == "forward");
  CHECK(opened.mails[1].to[0].address == "maria@example.com");
  CHECK(opened.mails[1].include_attachments);
  CHECK(opened.mails[2].template_name == "watcher_opened");
  CHECK(opened.mails[2].to[0].address == "gerente@example.com");
}

TEST_CASE("an automatic message gets no opening e-mail and the history says why", "[engine]") {
  Fixture f;
  const OpenedTicket opened = f.open("garantia", /*may_answer=*/false);
  for (const auto& mail : opened.mails) CHECK(mail.template_name != "opening");
  bool explained = false;
  for (const auto& h : f.store.history(opened.ticket.id))
    explained = explained || (h.field == "mail_skipped" && h.justification == "no automatic answer: test");
  CHECK(explained);
}

TEST_CASE("a sender without a usable address gets no mail and the history says why", "[engine]") {
  Fixture f;
  f.parsed.from = {"undisclosed-recipients", ""};
  const OpenedTicket opened = f.open("garantia");
  for (const auto& mail : opened.mails) CHECK(mail.template_name != "opening");
  bool explained = false;
  for (const auto& h : f.store.history(opened.ticket.id))
    explained = explained || (h.field == "mail_skipped" && h.justification.find("no usable address") != std::string::npos);
  CHECK(explained);
}

TEST_CASE("a type without opening e-mail sends none", "[engine]") {
  Fixture f;
  const OpenedTicket opened = f.open("silencioso");
  CHECK(opened.mails.empty());  // nobody assigned, no watchers, no opening
}

TEST_CASE("usable addresses and safe file names", "[engine]") {
  CHECK(is_usable_address("ana@example.com"));
  CHECK_FALSE(is_usable_address("ana@localhost"));
  CHECK_FALSE(is_usable_address("ana example@example.com"));
  CHECK_FALSE(is_usable_address("@example.com"));
  CHECK_FALSE(is_usable_address("a@b@example.com"));
  CHECK(safe_filename("..\\..\\boot.ini") == "boot.ini");
  CHECK(safe_filename("/etc/passwd") == "passwd");
  CHECK(safe_filename("..") == "attachment");
  CHECK(safe_filename("a\r\nb.txt") == "ab.txt");
}

TEST_CASE("random_hex gives lower-case hex of the asked length and never repeats itself", "[engine][random]") {
  std::set<std::string> seen;
  for (int i = 0; i < 2000; ++i) {  // several refills of the per-thread pool
    const std::string token = random_hex(12);
    REQUIRE(token.size() == 24);
    CHECK(token.find_first_not_of("0123456789abcdef") == std::string::npos);
    CHECK(seen.insert(token).second);
  }
  CHECK(random_hex(0).empty());
  CHECK(random_hex(700).size() == 1400);  // more than one pool at once
}

TEST_CASE("random_hex in a forked child differs from what the parent hands out next", "[engine][random]") {
  (void)random_hex(4);  // the parent's pool is filled and mostly unused when it forks
  int pipe_fds[2];
  REQUIRE(::pipe(pipe_fds) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    const std::string token = random_hex(16);
    const ssize_t n = ::write(pipe_fds[1], token.data(), token.size());
    ::_exit(n == static_cast<ssize_t>(token.size()) ? 0 : 1);
  }
  ::close(pipe_fds[1]);
  char buffer[64] = {};
  const ssize_t n = ::read(pipe_fds[0], buffer, sizeof buffer);
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  REQUIRE(n == 32);
  CHECK(std::string(buffer, 32) != random_hex(16));
}

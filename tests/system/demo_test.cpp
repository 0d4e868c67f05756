// demo_test.cpp — `bash scripts/demo` run non-interactively (ATENDD_DEMO_ONCE=1, this build's
// binary, a scratch directory): it exits 0 after printing the ticket, the opening e-mail found in
// the customer's Dovecot mailbox, the forward found in the agent's, and the commands to try next;
// and it leaves none of its servers running.
#include <filesystem>

#include <catch2/catch.hpp>

#include "support/processes.h"
#include "system/system_support.h"

using namespace atendd::test;
namespace fs = std::filesystem;

TEST_CASE("the demo runs non-interactively and prints the ticket and the mail in the customer and agent mailboxes",
          "[system][demo][dovecot]") {
  TempDir dir;
  fs::permissions(dir.path(), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                  fs::perms::others_read | fs::perms::others_exec);  // Dovecot runs as nobody
  const std::string demo = dir.path() + "/demo";
  int status = 0;
  const std::string out = shell_output(std::string("cd ") + ATENDD_SOURCE_DIR +
                                           " && ATENDD_DEMO_ONCE=1 ATENDD_DEMO_BINARY=" + ATENDD_BINARY +
                                           " ATENDD_DEMO_DIR=" + demo + " timeout 180 bash scripts/demo",
                                       status);
  INFO(out);
  REQUIRE(status == 0);
  for (const char* expected :
       {"configuration OK (2 types, 2 agents, 1 mailboxes)", "================ the new ticket",
        "type:         garantia", "contact:      Ana Concei",
        "the opening e-mail in the customer's mailbox (ana.lima@cliente.example)",
        "Subject (decoded): [#", "Recebemos sua solicitação: Liquidificador com defeito",
        "the forward in the agent's mailbox", "Atendimento repassado para você",
        "Auto-Submitted: auto-replied", "--mail-rcpt 'suporte+", "/healthz", "Authorization: Bearer demo-",
        "demo: done (ATENDD_DEMO_ONCE)", "demo: stopping"}) {
    INFO(expected);
    CHECK(out.find(expected) != std::string::npos);
  }
  // The opening and the forward really are in the Dovecot mailboxes.
  int customer = 0, agents = 0;
  for (const char* user : {"customer", "maria", "joao"})
    for (const char* sub : {"/new", "/cur"}) {
      const std::string d = demo + "/imap/mail/" + user + sub;
      if (!fs::exists(d)) continue;
      for (const auto& entry : fs::directory_iterator(d)) {
        (void)entry;
        (std::string(user) == "customer" ? customer : agents)++;
      }
    }
  CHECK(customer == 1);
  CHECK(agents == 1);
  // Nothing it started is left: no Dovecot on its configuration.
  const std::string pattern = "[" + demo.substr(0, 1) + "]" + demo.substr(1) + "/imap/dovecot.conf";  // not this shell
  shell_output("pgrep -f '" + pattern + "'", status);
  CHECK(status != 0);
}

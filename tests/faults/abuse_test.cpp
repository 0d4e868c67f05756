// abuse_test.cpp — mail loops, impersonation and admin API abuse against real atendd processes:
// two auto-responders (a second atendd instance, and a plain responder with no headers) and a
// mailing list reflecting our mail back, relayed by the test as the MTA through `atendd deliver`,
// must stop within the configured limits; a token from another ticket does not make a forged
// agent; a replayed webhook is recognised; and hostile admin requests (no or wrong token, wrong
// role, over-long, malformed, garbage, 200 connections at once) are refused while the daemon
// keeps serving.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <Poco/DigestEngine.h>
#include <Poco/HMACEngine.h>
#include <Poco/SHA2Engine.h>

#include "admin/admin_client.h"
#include "faults/faults_site.h"
#include "parsers/mime_reader.h"

using namespace atendd;
using namespace atendd::test;

namespace {

// One atendd reached through `atendd deliver`, with its own SMTP sink.
struct Instance {
  TempDir dir;
  SmtpSink sink{dir.path() + "/sink"};
  std::string config = dir.path() + "/atendd.ini";
  std::string address;
  size_t taken = 0;  // sink mails already relayed
  Instance(const std::string& address_, const std::string& extra = "") : address(address_) {
    const std::string domain = address.substr(address.find('@'));
    write_file(config, "[server]\nname = Suporte " + domain + "\naddress = " + address + "\nreply_address = " +
                           address.substr(0, address.find('@')) + "+{token}" + domain + "\nstate_dir = " +
                           dir.path() + "/state\nlocale = en\nauto_reply_limit = 3\n"
                           "[smtp]\nhost = 127.0.0.1\nport = " + std::to_string(sink.port()) + "\ntimeout_seconds = 5\n"
                           "[agent.maria]\nemail = maria" + domain + "\nname = Maria\ndepartment = suporte\n"
                           "[type.geral]\nname = Geral\ndepartment = suporte\nassign = agent:maria\n" + extra);
  }
  int deliver(const std::string& raw) const {
    return run_atendd({"--config", config, "deliver", "--mailbox", "suporte"}, raw).exit_code;
  }
  std::vector<ReceivedMail> fresh() {
    auto all = sink.mails();
    std::vector<ReceivedMail> out(all.begin() + static_cast<long>(taken), all.end());
    taken = all.size();
    return out;
  }
  std::unique_ptr<SqliteStore> store() const { return std::make_unique<SqliteStore>(dir.path() + "/state/atendd.db"); }
};

bool to_domain(const ReceivedMail& m, const std::string& domain) {
  for (const auto& r : m.rcpt_tos)
    if (r.size() >= domain.size() && r.compare(r.size() - domain.size(), domain.size(), domain) == 0) return true;
  return false;
}

// A plain auto-responder at its worst: answers anything with a fresh message (no threading, no
// Auto-Submitted, no Precedence, no X-Loop), so each answer opens a new ticket here.
std::string dumb_answer(const ReceivedMail& m, const std::string& from, int n) {
  const ParsedMessage p = parse_message(m.raw);
  return "From: " + from + "\r\nTo: " + p.from.address + "\r\nSubject: Ausente " + std::to_string(n) +
         "\r\nMessage-ID: <dumb-" + std::to_string(n) + "@robo.test>\r\n\r\nI am away. Your mail matters.\r\n";
}

}  // namespace

TEST_CASE("two auto-responders answering each other stop within the configured limits", "[faults][loops]") {
  FaultFigures figures{"mail_loops"};
  Instance ours("suporte@atendd.test");
  Instance theirs("helpdesk@outra.test");  // a second atendd: an auto-responder of its own

  // 1. Their helpdesk writes to ours: each side's answers go to the other, relayed until quiet.
  REQUIRE(ours.deliver(new_message("start@outra.test", "helpdesk@outra.test", "Abrindo chamado")) == 0);
  int rounds = 0, relayed = 0;
  for (; rounds < 20; ++rounds) {
    int moved = 0;
    for (const auto& m : ours.fresh())
      if (to_domain(m, "@outra.test")) moved += (theirs.deliver(m.raw), 1);
    for (const auto& m : theirs.fresh())
      if (to_domain(m, "@atendd.test")) moved += (ours.deliver(m.raw), 1);
    relayed += moved;
    if (moved == 0) break;
  }
  CHECK(rounds <= 3);  // automatic mail is never answered automatically: it dies out at once
  ++figures.faults;

  // 2. A responder without any automatic-mail header answers every mail of ours: our rate limit
  // (auto_reply_limit = 3 an hour per address) ends it.
  int dumb = 0;
  REQUIRE(ours.deliver(new_message("robo-start@robo.test", "robo@robo.test", "Pergunta")) == 0);
  for (rounds = 0; rounds < 30; ++rounds) {
    int moved = 0;
    for (const auto& m : ours.fresh())
      if (to_domain(m, "@robo.test")) moved += (ours.deliver(dumb_answer(m, "robo@robo.test", ++dumb)), 1);
    relayed += moved;
    if (moved == 0) break;
  }
  CHECK(rounds <= 5);
  size_t to_robot = 0;
  for (const auto& m : ours.sink.mails()) to_robot += to_domain(m, "@robo.test");
  CHECK(to_robot == 3);  // the limit, and nothing past it, ended the exchange
  ++figures.faults;

  // 3. A mailing list reflects our own mail back (Precedence: list, List-Id, our From kept).
  ours.fresh();
  const auto ours_before = ours.sink.mails().size();
  const auto ticket_count = ours.store()->tickets(std::nullopt, 100).size();
  for (const auto& m : ours.sink.mails()) {
    if (relayed > 60) break;
    const std::string reflected = "List-Id: <clientes.lists.outra.test>\r\nPrecedence: list\r\n" + m.raw;
    CHECK(ours.deliver(reflected) == 0);
    ++relayed;
    if (relayed % 3 == 0) break;
  }
  sleep_ms(200);
  CHECK(ours.sink.mails().size() == ours_before);  // nothing answered
  CHECK(ours.store()->tickets(std::nullopt, 100).size() == ticket_count);
  ++figures.faults;
  figures.messages = relayed;
  figures.note = std::to_string(to_robot) + " automatic mails to the robot (limit 3 an hour)";
  record(figures);
}

namespace {

// Ana's and Bia's tickets on one instance, the mails so far taken.
struct TwoTickets {
  Instance ours{"suporte@atendd.test"};
  Ticket ana, bia;
  TwoTickets() {
    REQUIRE(ours.deliver(new_message("ana-1@cliente.test", "ana@cliente.test", "Ticket da Ana")) == 0);
    REQUIRE(ours.deliver(new_message("bia-1@cliente.test", "bia@cliente.test", "Ticket da Bia")) == 0);
    const auto tickets = ours.store()->tickets(std::nullopt, 10);
    REQUIRE(tickets.size() == 2);
    const bool first_is_ana = tickets[0].subject.find("Ana") != std::string::npos;
    ana = first_is_ana ? tickets[0] : tickets[1];
    bia = first_is_ana ? tickets[1] : tickets[0];
    ours.fresh();
  }
  // Maria's From, `tag` in the subject, `token` in the reply address; true when nothing of it
  // went out as the agent's word (to a customer) and no agent reply was stored. A mail with the
  // customer's token is the customer's words: it may reach the responsible as a customer update.
  bool refused_as_agent(const std::string& tag, const std::string& token, const std::string& id) {
    const std::string forged = "From: Maria <maria@atendd.test>\r\nTo: suporte+" + token +
                               "@atendd.test\r\nSubject: Re: [#" + tag + "] Seu ticket\r\nMessage-ID: <" + id +
                               ">\r\n\r\nCLIQUE AQUI http://evil.test/pague\r\n";
    CHECK(ours.deliver(forged) == 0);
    bool refused = true;
    for (const auto& m : ours.fresh())
      if (m.raw.find("evil.test/pague") != std::string::npos) refused = refused && !to_domain(m, "@cliente.test");
    for (const auto& t : {ana, bia})
      for (const auto& a : ours.store()->articles(t.id))
        if (a.message_id == id) refused = refused && a.kind != ArticleKind::AgentReply;
    return refused;
  }
};

}  // namespace

TEST_CASE("a forged agent with the token of another ticket cannot act on the ticket its subject names",
          "[faults][impersonation]") {
  FaultFigures figures("impersonation");
  TwoTickets desk;
  // Maria's address, Ana's ticket tag, Bia's token: nothing may reach Ana as Maria's answer.
  const std::string forged = "From: Maria <maria@atendd.test>\r\nTo: suporte+" + desk.bia.reply_token +
                             "@atendd.test\r\nSubject: Re: [#" + desk.ana.protocol + "] Ticket da Ana\r\n"
                             "Message-ID: <forged-1@evil.test>\r\n\r\nCLIQUE AQUI http://evil.test/pague\r\n";
  CHECK(desk.ours.deliver(forged) == 0);
  ++figures.hostile;
  for (const auto& m : desk.ours.fresh())
    for (const auto& r : m.rcpt_tos) CHECK((r != "ana@cliente.test" || m.raw.find("evil.test/pague") == std::string::npos));
  for (const auto& a : desk.ours.store()->articles(desk.ana.id)) CHECK(a.kind != ArticleKind::AgentReply);
  figures.messages = 3;
  record(figures);
}

// Invariant 5: the reply token every mail to the customer carries in Reply-To names the ticket but
// proves no agent; only the agent token of the mails to agents does (daemon/tickets/reply_token.h).
// So the customer, who has her token, cannot forge the agent's From with it.
TEST_CASE("a customer forging the agent From with her own ticket token is not taken for the agent",
          "[faults][impersonation]") {
  TwoTickets desk;
  CHECK(desk.refused_as_agent(desk.bia.protocol, desk.bia.reply_token, "forged-2@evil.test"));
}

TEST_CASE("hostile admin requests are refused and 200 connections at once leave the daemon serving",
          "[faults][admin]") {
  Site site;
  FaultFigures figures{"admin_abuse"};
  write_file(site.dir.path() + "/gen.secret", "gen-secret\n");
  site.extra = "[channel.gen]\nkind = generic\nsecret_file = " + site.dir.path() + "/gen.secret\n";
  site.write_config();
  auto daemon = site.start();
  REQUIRE(eventually(30, [&] { return http("GET", site.admin_url("/healthz")).status != 0; }));
  const std::string tickets = site.admin_url("/api/v1/tickets");
  auto refused = [&](long status, long expected) {
    ++figures.hostile;
    CHECK(status == expected);
  };
  refused(http("GET", tickets).status, 401);
  refused(http("GET", tickets, "wrong-token").status, 401);
  refused(http("GET", tickets, std::string(Site::kReadToken) + "x").status, 401);
  refused(http("POST", site.admin_url("/api/v1/reload"), Site::kReadToken, "{}").status, 403);
  refused(http("GET", site.admin_url("/api/v1/tickets?limit=" + std::string(20000, '9')), Site::kReadToken).status, 400);
  refused(http("POST", site.admin_url("/api/v1/tickets"), Site::kAdminToken, "{\"subject\": ").status, 400);
  refused(http("POST", site.admin_url("/api/v1/tickets"), Site::kAdminToken, std::string(3u << 20, '[')).status, 413);
  {
    const long s = http("GET", site.admin_url("/" + std::string(100000, 'a')), Site::kReadToken).status;
    ++figures.hostile;
    CHECK(s >= 400);
    CHECK(s < 500);
  }
  {
    std::vector<std::string> many;
    for (int i = 0; i < 500; ++i) many.push_back("X-Flood-" + std::to_string(i) + ": " + std::string(100, 'f'));
    const long s = http("GET", tickets, Site::kReadToken, "", many).status;
    ++figures.hostile;
    CHECK((s == 200 || s == 400 || s == 431));
  }
  // A webhook replayed with its old signature is recognised; the old signature on a new body is refused.
  const std::string body = "{\"id\":\"g-1\",\"from\":{\"id\":\"u1\",\"name\":\"Gil\"},\"text\":\"Oi\",\"timestamp\":1764000000}";
  auto sign = [](const std::string& b) {
    struct Sha256 : Poco::SHA2Engine {
      enum { BLOCK_SIZE = 64, DIGEST_SIZE = 32 };
      Sha256() : Poco::SHA2Engine(Poco::SHA2Engine::SHA_256) {}
    };
    Poco::HMACEngine<Sha256> h(std::string("gen-secret"));
    h.update(b);
    return "X-Atendd-Signature: sha256=" + Poco::DigestEngine::digestToHex(h.digest());
  };
  const auto first = http("POST", site.admin_url("/webhooks/gen"), "", body, {sign(body)});
  REQUIRE(first.status == 200);
  const auto replay = http("POST", site.admin_url("/webhooks/gen"), "", body, {sign(body)});
  ++figures.hostile;
  CHECK(replay.status == 200);
  CHECK(replay.body.find("duplicate") != std::string::npos);
  std::string changed = body;
  changed.replace(changed.find("g-1"), 3, "g-2");
  refused(http("POST", site.admin_url("/webhooks/gen"), "", changed, {sign(body)}).status, 403);

  // Raw garbage, a request line with no end, and 200 connections at once, most of them idle.
  auto raw_send = [&](const std::string& bytes, bool close_at_once) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(site.admin_port));
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd);
      return -1;
    }
    if (!bytes.empty()) (void)::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (close_at_once) {
      ::close(fd);
      return 0;
    }
    return fd;
  };
  std::string garbage(4096, '\0');
  for (size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<char>(i * 7 + 3);
  raw_send(garbage, true);
  raw_send("GET /" + std::string(1 << 20, 'x'), true);
  figures.hostile += 2;
  // 200 connections at once, half of them silent and half stuck in the middle of a request: a
  // request meanwhile is served or refused, never left hanging past the server's timeouts; once
  // they are gone, everything is served again at once.
  std::vector<int> open;
  for (int i = 0; i < 200; ++i) {
    const int fd = raw_send(i % 2 ? "GET /healthz HTTP/1.1\r\nHost: x\r\n" : "", false);
    if (fd >= 0) open.push_back(fd);
  }
  figures.hostile += 200;
  std::atomic<int> served{0};
  const auto flood_start = std::chrono::steady_clock::now();
  {
    std::vector<std::thread> clients;
    for (int i = 0; i < 20; ++i)
      clients.emplace_back([&] {
        if (http("GET", site.admin_url("/healthz")).status == 200) ++served;
      });
    for (auto& t : clients) t.join();
  }
  const double flood_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - flood_start).count();
  CHECK(flood_seconds < 20);  // nothing hung up to curl's own 20 s limit
  for (int fd : open) ::close(fd);
  std::atomic<int> after{0};
  {
    sleep_ms(500);
    std::vector<std::thread> clients;
    for (int i = 0; i < 20; ++i)
      clients.emplace_back([&] {
        if (http("GET", site.admin_url("/healthz")).status != 0) ++after;
      });
    for (auto& t : clients) t.join();
  }
  CHECK(after.load() == 20);
  figures.note = std::to_string(served.load()) + "/20 served during a 200-connection flood (" +
                 std::to_string(static_cast<int>(flood_seconds)) + " s)";
  CHECK(http("GET", tickets, Site::kReadToken).status == 200);
  CHECK_FALSE(daemon->wait_exit(0));
  const int exit_code = daemon->stop();
  CHECK(exit_code == 0);
  figures.crashes += exit_code == 0 ? 0 : 1;
  figures.messages = figures.hostile;
  record(figures);
}

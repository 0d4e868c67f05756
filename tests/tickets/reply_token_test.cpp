// reply_token_test.cpp — reply_token.h alone: the agent token checks only under the installation's
// secret and names its ticket; the customer's token names the ticket and proves no agent; the
// secret kept in state_dir is made once (mode 0600) and read back by every later start.
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "daemon/tickets/reply_token.h"
#include "support/processes.h"

using namespace atendd;

TEST_CASE("the agent token names its ticket and checks only under the same secret", "[reply_token]") {
  ServerConfig server;
  server.secret = "one installation's secret";
  const std::string ticket = "0123456789abcdef01234567";
  const std::string agent = agent_reply_token(server, ticket);
  CHECK(agent.size() > ticket.size());
  CHECK(agent.compare(0, ticket.size(), ticket) == 0);

  const ReplyTokenRef as_agent = read_reply_token(server, agent);
  CHECK(as_agent.agent);
  CHECK(as_agent.ticket_token == ticket);

  const ReplyTokenRef as_customer = read_reply_token(server, ticket);
  CHECK_FALSE(as_customer.agent);
  CHECK(as_customer.ticket_token == ticket);

  std::string forged = agent;
  forged.back() = forged.back() == '0' ? '1' : '0';
  CHECK_FALSE(read_reply_token(server, forged).agent);

  ServerConfig other;
  other.secret = "another installation's secret";
  CHECK_FALSE(read_reply_token(other, agent).agent);
  CHECK(agent_reply_token(other, ticket) != agent);
}

TEST_CASE("without a secret the agent token is the reply token and proves nothing more", "[reply_token]") {
  ServerConfig server;
  CHECK(agent_reply_token(server, "abc123") == "abc123");
  CHECK_FALSE(read_reply_token(server, "abc123").agent);
}

TEST_CASE("the secret in state_dir is made once with mode 0600 and read back after", "[reply_token]") {
  test::TempDir dir;
  ServerConfig first;
  first.state_dir = dir.path() + "/state";
  ensure_token_secret(first);
  CHECK(first.secret.size() >= 32);
  struct stat st {};
  REQUIRE(::stat((first.state_dir + "/secret").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);

  ServerConfig again;
  again.state_dir = first.state_dir;
  ensure_token_secret(again);
  CHECK(again.secret == first.secret);

  ServerConfig configured;
  configured.state_dir = dir.path() + "/other";
  configured.secret = "from secret_file";
  ensure_token_secret(configured);
  CHECK(configured.secret == "from secret_file");
  CHECK(::stat((configured.state_dir + "/secret").c_str(), &st) != 0);
}

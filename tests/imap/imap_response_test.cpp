// imap_response_test.cpp — the IMAP response reader on bytes a Dovecot really sent: literals
// split anywhere across reads, untagged EXISTS between FETCH responses, NO/BAD completions,
// response codes; and junk, which gives a protocol error and never a crash.
#include <random>

#include <catch2/catch.hpp>

#include "daemon/sources/imap_response.h"

using namespace atendd;

namespace {

// Recorded from Dovecot 2.3.19 (UID FETCH of two messages, with an EXISTS pushed in between).
const std::string kMessage1 = "From: a@example.com\r\nSubject: one\r\n\r\nbody {5}\r\n* 9 EXISTS\r\n";
const char kBinary[] = "From: b@example.com\r\nSubject: two\r\n\r\nbinary\0\xff\r\n";
const std::string kMessage2(kBinary, sizeof kBinary - 1);
const std::string kSession =
    "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN] Dovecot ready.\r\n"
    "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
    "* 2 EXISTS\r\n"
    "* 0 RECENT\r\n"
    "* OK [UIDVALIDITY 1764000000] UIDs valid\r\n"
    "* OK [UIDNEXT 3] Predicted next UID\r\n"
    "A1 OK [READ-WRITE] Select completed (0.001 + 0.000 secs).\r\n"
    "* 1 FETCH (UID 1 RFC822.SIZE " + std::to_string(kMessage1.size()) + " BODY[] {" +
    std::to_string(kMessage1.size()) + "}\r\n" + kMessage1 + ")\r\n"
    "* 3 EXISTS\r\n"
    "* 2 FETCH (UID 2 RFC822.SIZE 47 FLAGS (\\Seen $Label1) BODY[] {47}\r\n" + kMessage2 + ")\r\n"
    "A2 OK Fetch completed (0.002 + 0.000 secs).\r\n"
    "* SEARCH 4 7 9\r\n"
    "A3 NO [TRYCREATE] Mailbox doesn't exist: Processados\r\n"
    "A4 BAD Error in IMAP command UID: Invalid arguments.\r\n"
    "+ idling\r\n"
    "* BYE Server shutting down.\r\n";

// Feeds `bytes` in pieces whose sizes `cut` chooses and collects every response.
template <typename Cut>
std::vector<ImapResponse> read_all(const std::string& bytes, Cut cut) {
  ImapResponseReader reader;
  std::vector<ImapResponse> out;
  size_t pos = 0;
  while (pos < bytes.size()) {
    const size_t n = std::min(bytes.size() - pos, cut());
    reader.feed(std::string_view(bytes).substr(pos, n));
    pos += n;
    while (auto r = reader.next()) out.push_back(std::move(*r));
  }
  CHECK(reader.pending() == 0);
  return out;
}

void check_session(const std::vector<ImapResponse>& r) {
  REQUIRE(r.size() == 16);
  CHECK(r[0].kind == ImapResponse::Kind::Untagged);
  CHECK(r[0].status == "OK");
  const auto caps = parse_capabilities(r[0]);
  CHECK(std::find(caps.begin(), caps.end(), "IDLE") != caps.end());
  CHECK(r[2].number == 2);
  CHECK(r[2].keyword == "EXISTS");
  CHECK(code_number(r[4], "UIDVALIDITY") == 1764000000);
  CHECK(code_number(r[5], "UIDNEXT") == 3);
  CHECK_FALSE(code_number(r[5], "UIDVALIDITY"));
  CHECK(r[6].kind == ImapResponse::Kind::Tagged);
  CHECK(r[6].tag == "A1");
  CHECK(r[6].is_ok());
  CHECK(r[6].code == "READ-WRITE");

  const FetchData one = parse_fetch(r[7]);
  CHECK(one.uid == 1);
  CHECK(one.size == static_cast<std::int64_t>(kMessage1.size()));
  CHECK(one.body == kMessage1);
  CHECK(r[8].keyword == "EXISTS");
  CHECK(r[8].number == 3);
  const FetchData two = parse_fetch(r[9]);
  CHECK(two.uid == 2);
  CHECK(two.flags == "\\Seen $Label1");
  CHECK(two.body == kMessage2);
  CHECK(kMessage2.size() == 47);

  CHECK(r[10].tag == "A2");
  CHECK(parse_search(r[11]) == std::vector<std::int64_t>{4, 7, 9});
  CHECK(r[12].status == "NO");
  CHECK(r[12].code == "TRYCREATE");
  CHECK(r[12].text == "Mailbox doesn't exist: Processados");
  CHECK(r[13].status == "BAD");
  CHECK(r[14].kind == ImapResponse::Kind::Continuation);
  CHECK(r[14].text == "idling");
  CHECK(r[15].status == "BYE");
}

}  // namespace

TEST_CASE("the reader gives the same responses whether the bytes come at once or one by one", "[imap][reader]") {
  check_session(read_all(kSession, [] { return size_t(1) << 30; }));
  check_session(read_all(kSession, [] { return size_t(1); }));
}

TEST_CASE("literals split at random places across reads are kept byte for byte", "[imap][reader]") {
  std::mt19937 random(42);
  for (int round = 0; round < 200; ++round) {
    check_session(read_all(kSession, [&] { return size_t(1 + random() % 40); }));
  }
}

TEST_CASE("a large binary literal arrives whole", "[imap][reader]") {
  std::string body(5 * 1024 * 1024, '\0');
  std::mt19937 random(7);
  for (auto& c : body) c = static_cast<char>(random());
  const std::string bytes = "* 1 FETCH (UID 10 BODY[] {" + std::to_string(body.size()) + "}\r\n" + body +
                            " RFC822.SIZE " + std::to_string(body.size()) + ")\r\nA9 OK done\r\n";
  const auto r = read_all(bytes, [] { return size_t(65536); });
  REQUIRE(r.size() == 2);
  const FetchData f = parse_fetch(r[0]);
  CHECK(f.uid == 10);
  CHECK(f.size == static_cast<std::int64_t>(body.size()));
  CHECK((f.body && *f.body == body));
}

TEST_CASE("a headers-only partial fetch and quoted values are read", "[imap][reader]") {
  const std::string bytes =
      "* 4 FETCH (UID 12 RFC822.SIZE 99999999 BODY[HEADER]<0> {8}\r\nA: b\r\n\r\n)\r\n"
      "* 5 FETCH (UID 13 BODY[] \"small \\\"quoted\\\" body\")\r\n"
      "* 6 FETCH (UID 14 BODY[HEADER.FIELDS (SUBJECT)] {3}\r\nx\r\n)\r\n";
  const auto r = read_all(bytes, [] { return size_t(3); });
  REQUIRE(r.size() == 3);
  CHECK(parse_fetch(r[0]).body == std::string("A: b\r\n\r\n"));
  CHECK(parse_fetch(r[0]).size == 99999999);
  CHECK(parse_fetch(r[1]).body == std::string("small \"quoted\" body"));
  CHECK_FALSE(parse_fetch(r[2]).body);  // a header field subset is not the message
  CHECK(parse_fetch(r[2]).uid == 14);
}

TEST_CASE("a literal larger than allowed and an overlong line are protocol errors", "[imap][reader]") {
  ImapResponseReader small(1024, 100);
  small.feed("* 1 FETCH (BODY[] {101}\r\n");
  CHECK_THROWS_AS(small.next(), ImapProtocolError);
  CHECK_THROWS_AS(small.next(), ImapProtocolError);  // stays failed until reset
  small.reset();
  small.feed(std::string(2000, 'x'));
  CHECK_THROWS_AS(small.next(), ImapProtocolError);
  small.reset();
  small.feed("* 99999999999999999999999 EXISTS\r\nA1 OK {99999999999999999999999}\r\n");
  auto r = small.next();  // too long a number is no number, and no literal
  REQUIRE(r);
  CHECK_FALSE(r->number);
  CHECK(small.next()->is_ok());
}

TEST_CASE("malformed FETCH responses are protocol errors", "[imap][reader]") {
  for (const char* line : {"* 1 FETCH UID 1\r\n", "* 1 FETCH (UID x)\r\n", "* 1 FETCH (UID 1\r\n",
                           "* 1 FETCH (BODY[ 1)\r\n", "* 1 FETCH (BODY[] \"abc)\r\n",
                           "* 1 FETCH (FLAGS (\\Seen)\r\n", "* 1 FETCH (BODY[] {3})\r\n"}) {
    ImapResponseReader reader;
    reader.feed(line);
    auto r = reader.next();
    REQUIRE(r);
    CHECK_THROWS_AS(parse_fetch(*r), ImapProtocolError);
  }
}

TEST_CASE("random junk gives responses or protocol errors and never a crash", "[imap][reader]") {
  std::mt19937 random(1234);
  const std::string alphabet = "* AOKNBDYE0123456789{}()[]\"\\+ \r\n\0\xff";
  int errors = 0, responses = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string junk;
    const size_t n = random() % 200;
    for (size_t i = 0; i < n; ++i) {
      junk += (random() % 4 == 0) ? static_cast<char>(random()) : alphabet[random() % alphabet.size()];
    }
    ImapResponseReader reader(4096, 4096);
    try {
      reader.feed(junk);
      while (auto r = reader.next()) {
        ++responses;
        try {
          if (r->keyword == "FETCH") parse_fetch(*r);
          parse_search(*r);
          parse_capabilities(*r);
          code_number(*r, "UIDVALIDITY");
        } catch (const ImapProtocolError&) {
          ++errors;
        }
      }
    } catch (const ImapProtocolError&) {
      ++errors;
    }
  }
  CHECK(errors + responses > 0);
}

TEST_CASE("folder names are quoted for commands", "[imap][reader]") {
  CHECK(imap_quote("INBOX") == "\"INBOX\"");
  CHECK(imap_quote("a \"b\" \\c") == "\"a \\\"b\\\" \\\\c\"");
  CHECK(imap_quote("x\r\ny") == "\"xy\"");
}

// contacts_test.cpp — a customer known by e-mail and on Telegram is one contact (one person with
// two identities), linked through POST /api/v1/contacts/ID/merge and `#contact link`: a Telegram
// message finds the ticket opened for the e-mail address, the agent's answer goes out through the
// channel the customer last wrote on (Telegram's sendMessage, then SMTP after an e-mail reply),
// and a merge is refused to a read token, for an unknown contact and for our own addresses.
#include <catch2/catch.hpp>

#include "admin_client.h"
#include "fake_telegram.h"

using namespace atendd;
using namespace atendd::test;

namespace {

size_t sent_count(FakeTelegram& telegram) {
  std::lock_guard<std::mutex> lock(telegram.mutex);
  return telegram.sent.size();
}

bool mail_to(const SmtpSink& sink, const std::string& rcpt, const std::string& text) {
  for (const auto& m : sink.mails())
    for (const auto& r : m.rcpt_tos)
      if (r == rcpt && m.raw.find(text) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("a contact known by e-mail and on Telegram is one person and answers follow the channel last written on",
          "[admin][contacts]") {
  FakeTelegram telegram;
  TempDir secrets;
  AdminDaemon d(telegram_channel(telegram.port, secrets.path(), false));
  const auto opened = http("POST", d.base + "/api/v1/tickets", kAdminToken,
                           "{\"channel\":\"phone\",\"subject\":\"Impressora parada\",\"text\":\"Ligou dizendo que parou.\","
                           "\"contact\":{\"address\":\"ana@cliente.test\",\"name\":\"Ana Lima\"}}");
  REQUIRE(opened.status == 201);
  const std::string protocol = opened.json()->getValue<std::string>("protocol");
  const auto contact_id = opened.json()->getObject("contact")->getValue<Poco::Int64>("id");
  const std::string merge = d.base + "/api/v1/contacts/" + std::to_string(contact_id) + "/merge";

  // Refusals first: nothing is linked by them.
  CHECK(http("POST", merge, kReadToken, "{\"address\":\"4242@tg.channel.invalid\"}").status == 403);
  CHECK(http("POST", d.base + "/api/v1/contacts/999999/merge", kAdminToken, "{\"address\":\"x@y.test\"}").status == 404);
  CHECK(http("POST", merge, kAdminToken, "{\"contact\":999999}").status == 404);
  CHECK(http("POST", merge, kAdminToken, "{\"nothing\":1}").status == 400);
  CHECK(http("POST", merge, kAdminToken, "{\"address\":\"maria@atendd.test\"}").status == 400);  // an agent
  CHECK(http("POST", merge, kAdminToken, "{\"address\":\"suporte@atendd.test\"}").status == 400);  // ourselves
  auto shown = http("GET", d.base + "/api/v1/contacts/" + std::to_string(contact_id), kReadToken);
  REQUIRE(shown.status == 200);
  CHECK(shown.json()->getArray("identities")->size() == 1);

  // The administrator links Ana's Telegram chat to her e-mail contact.
  const auto merged = http("POST", merge, kAdminToken, "{\"address\":\"4242@tg.channel.invalid\"}");
  REQUIRE(merged.status == 200);
  CHECK(merged.json()->getArray("identities")->size() == 2);

  // She writes on Telegram: the message lands in the ticket opened for her e-mail address.
  const auto tg = http("POST", d.base + "/webhooks/tg", "", telegram_update(7, 31, "Continua parada"),
                       {"X-Telegram-Bot-Api-Secret-Token: tg-secret-1"});
  REQUIRE(tg.status == 200);
  auto outcome = tg.json()->getArray("messages")->getObject(0);
  CHECK(outcome->getValue<std::string>("outcome") == "appended");
  CHECK(outcome->getValue<std::string>("protocol") == protocol);
  auto ticket = http("GET", d.base + "/api/v1/tickets/" + protocol, kReadToken).json();
  CHECK(ticket->getObject("contact")->getValue<std::string>("address") == "4242@tg.channel.invalid");

  // The agent's answer goes back on Telegram, not by e-mail.
  REQUIRE(http("POST", d.base + "/api/v1/tickets/" + protocol + "/actions", kAdminToken,
               "{\"agent\":\"maria\",\"text\":\"Resposta pelo Telegram.\"}").status == 200);
  REQUIRE(telegram.wait([&] { return !telegram.sent.empty(); }, 20));
  {
    std::lock_guard<std::mutex> lock(telegram.mutex);
    CHECK(telegram.sent[0].find("\"chat_id\":\"4242\"") != std::string::npos);
    CHECK(telegram.sent[0].find("Resposta pelo Telegram.") != std::string::npos);
  }

  // She answers by e-mail: the next answer goes by e-mail to her address, not to Telegram.
  const auto delivered = run_atendd({"--config", d.dir.path() + "/atendd.ini", "deliver", "--mailbox", "suporte"},
                                    "From: Ana Lima <ana@cliente.test>\r\nTo: suporte@atendd.test\r\n"
                                    "Subject: Re: [#" + protocol + "] Impressora parada\r\n"
                                    "Message-ID: <ana-reply-1@cliente.test>\r\n"
                                    "Date: Tue, 24 Nov 2026 10:00:00 +0000\r\n\r\nAgora escrevo por e-mail.\r\n");
  REQUIRE(delivered.exit_code == 0);
  ticket = http("GET", d.base + "/api/v1/tickets/" + protocol, kReadToken).json();
  CHECK(ticket->getObject("contact")->getValue<std::string>("address") == "ana@cliente.test");
  CHECK(articles_of_kind(ticket, "customer_message") >= 3);
  REQUIRE(http("POST", d.base + "/api/v1/tickets/" + protocol + "/actions", kAdminToken,
               "{\"agent\":\"maria\",\"text\":\"Resposta por e-mail.\"}").status == 200);
  bool by_mail = false;
  for (int i = 0; i < 100 && !by_mail; ++i) {
    by_mail = mail_to(*d.sink, "ana@cliente.test", "Resposta por e-mail.");
    if (!by_mail) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(by_mail);
  CHECK_FALSE(mail_to(*d.sink, "ana@cliente.test", "Resposta pelo Telegram."));
  CHECK(sent_count(telegram) == 1);

  // An agent links a third identity by command; our own address is refused.
  CHECK(http("POST", d.base + "/api/v1/tickets/" + protocol + "/actions", kAdminToken,
             "{\"agent\":\"maria\",\"command\":\"#contact link ana.lima@trabalho.test\"}").status == 200);
  CHECK(http("POST", d.base + "/api/v1/tickets/" + protocol + "/actions", kAdminToken,
             "{\"agent\":\"maria\",\"command\":\"#contact link suporte@atendd.test\"}").status == 422);
  CHECK(http("POST", d.base + "/api/v1/tickets/" + protocol + "/actions", kAdminToken,
             "{\"agent\":\"maria\",\"command\":\"#contact link nochannel:55\"}").status == 422);
  shown = http("GET", d.base + "/api/v1/contacts/" + std::to_string(contact_id), kReadToken);
  REQUIRE(shown.status == 200);
  CHECK(shown.json()->getArray("identities")->size() == 3);
}

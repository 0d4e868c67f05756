// mime_reader_test.cpp — what parse_message makes of well-formed messages: body choice,
// attachments (inline images, attached messages, uuencode, single-part files), bounce and
// auto-reply flags, ids and dates.
#include <catch2/catch.hpp>

#include "parsers/mime_reader.h"

using atendd::parse_message;

namespace {

bool has_defect(const atendd::ParsedMessage& m, const std::string& phrase) {
  for (const auto& d : m.defects)
    if (d.find(phrase) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("a plain message gives sender, subject, ids and date", "[mime]") {
  const auto m = parse_message(
      "From: \"Maria Souza\" <maria@example.com.br>\r\n"
      "To: suporte@example.com.br, Joao <joao@example.com.br>\r\n"
      "Subject: =?utf-8?q?Pedido_n=C2=BA_12?=\r\n"
      "Message-ID: <abc@example.com.br>\r\n"
      "In-Reply-To: <prev@example.com.br>\r\n"
      "References: <first@x> <prev@example.com.br>\r\n"
      "Date: Thu, 3 May 2012 11:36:43 +0200 (CEST)\r\n"
      "\r\n"
      "Olá\r\n");
  CHECK(m.from.address == "maria@example.com.br");
  CHECK(m.from.name == "Maria Souza");
  CHECK(m.to.size() == 2);
  CHECK(m.subject == "Pedido nº 12");
  CHECK(m.message_id == "abc@example.com.br");
  CHECK(m.in_reply_to == "prev@example.com.br");
  CHECK(m.references == std::vector<std::string>{"first@x", "prev@example.com.br"});
  REQUIRE(m.date);
  CHECK(*m.date == 1336037803);
  CHECK(m.text == "Olá");  // no charset and 8-bit: read as UTF-8
  CHECK_FALSE(m.html);
  CHECK(m.defects.empty());
  REQUIRE(m.header("subject"));
  CHECK(*m.header("SUBJECT") == "Pedido nº 12");
}

TEST_CASE("multipart/alternative prefers the text part and keeps the HTML", "[mime]") {
  const auto m = parse_message(
      "From: a@example.com\nDate: Mon, 1 Jan 2024 00:00:00 +0000\nMIME-Version: 1.0\n"
      "Content-Type: multipart/alternative; boundary=\"b1\"\n\n"
      "--b1\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\n"
      "Ol=E1 texto\n"
      "--b1\nContent-Type: text/html; charset=utf-8\n\n<p>Olá <b>html</b></p>\n"
      "--b1--\n");
  CHECK(m.text == "Olá texto");
  REQUIRE(m.html);
  CHECK(m.html->find("<b>html</b>") != std::string::npos);
  CHECK(m.attachments.empty());
}

TEST_CASE("an HTML-only message gets its text from the HTML", "[mime]") {
  const auto m = parse_message(
      "From: a@example.com\nContent-Type: text/html; charset=utf-8\n\n<html><body><p>One</p><p>Two</p></body></html>\n");
  CHECK(m.text == "One\n\nTwo");
  CHECK(m.html);
}

TEST_CASE("multipart/related images are inline attachments", "[mime]") {
  const auto m = parse_message(
      "From: a@example.com\nContent-Type: multipart/related; boundary=r\n\n"
      "--r\nContent-Type: text/html\n\n<p>see <img src=\"cid:img1\"></p>\n"
      "--r\nContent-Type: image/png\nContent-ID: <img1>\nContent-Transfer-Encoding: base64\n\niVBORw0KGgo=\n"
      "--r--\n");
  REQUIRE(m.attachments.size() == 1);
  CHECK(m.attachments[0].inline_part);
  CHECK(m.attachments[0].content_type == "image/png");
  CHECK(m.attachments[0].content_id == "img1");
  CHECK(m.attachments[0].data == "\x89PNG\r\n\x1a\n");
}

TEST_CASE("attachments get decoded names from RFC 2047 and RFC 2231", "[mime]") {
  const auto m = parse_message(
      "From: a@example.com\nContent-Type: multipart/mixed; boundary=m\n\n"
      "--m\nContent-Type: text/plain\n\nbody\n"
      "--m\nContent-Type: application/pdf; name=\"=?UTF-8?B?w6TDtsO8LnBkZg==?=\"\nContent-Disposition: attachment\n"
      "Content-Transfer-Encoding: base64\n\nJVBERg==\n"
      "--m\nContent-Type: text/plain\nContent-Disposition: attachment;\n filename*0*=utf-8''%E2%82%AC;\n filename*1=\" rates.txt\"\n\nx\n"
      "--m\nContent-Type: text/plain\nContent-Disposition: attachment; filename=\"a;b c.txt\"\n\ny\n"
      "--m--\n");
  CHECK(m.text == "body");
  REQUIRE(m.attachments.size() == 3);
  CHECK(m.attachments[0].filename == "äöü.pdf");
  CHECK(m.attachments[0].data == "%PDF");
  CHECK(m.attachments[1].filename == "€ rates.txt");
  CHECK(m.attachments[2].filename == "a;b c.txt");
  CHECK_FALSE(m.attachments[0].inline_part);
}

TEST_CASE("a single-part message whose part is a file becomes an attachment", "[mime]") {
  const auto m = parse_message(
      "From: a@example.com\nContent-Type: application/pdf; name=\"report.pdf\"\nContent-Transfer-Encoding: base64\n\n"
      "JVBERi0xLjQK\n");
  CHECK(m.text.empty());
  REQUIRE(m.attachments.size() == 1);
  CHECK(m.attachments[0].filename == "report.pdf");
  CHECK(m.attachments[0].data == "%PDF-1.4\n");
}

TEST_CASE("an attached message is named after its subject", "[mime]") {
  const auto m = parse_message(
      "From: a@example.com\nContent-Type: multipart/mixed; boundary=m\n\n"
      "--m\nContent-Type: text/plain\n\nsee attached\n"
      "--m\nContent-Type: message/rfc822\n\nFrom: b@example.com\nSubject: =?utf-8?q?Ol=C3=A1?=\n\ninner\n"
      "--m\nContent-Type: message/rfc822\n\nFrom: c@example.com\n\nno subject\n"
      "--m--\n");
  REQUIRE(m.attachments.size() == 2);
  CHECK(m.attachments[0].filename == "Olá.eml");
  CHECK(m.attachments[0].content_type == "message/rfc822");
  CHECK(m.attachments[0].data.find("inner") != std::string::npos);
  CHECK(m.attachments[1].filename == "message.eml");
}

TEST_CASE("a delivery status report is a bounce with its parts as attachments", "[mime]") {
  const auto m = parse_message(
      "From: MAILER-DAEMON@example.com (Mail Delivery System)\nSubject: Undelivered Mail Returned to Sender\n"
      "Auto-Submitted: auto-replied\n"
      "Content-Type: multipart/report; report-type=delivery-status; boundary=\"x/y\"\n\n"
      "--x/y\nContent-Type: text/plain\n\nI'm sorry.\n"
      "--x/y\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; example.com\n"
      "--x/y\nContent-Type: message/rfc822\n\nFrom: me@example.com\nSubject: hi\n\nbody\n"
      "--x/y--\n");
  CHECK(m.is_bounce);
  CHECK(m.auto_submitted);
  CHECK(m.text == "I'm sorry.");
  CHECK(m.attachments.size() == 2);
  CHECK(m.from.name == "Mail Delivery System");
}

TEST_CASE("a mailer-daemon notice without a report part is still a bounce", "[mime]") {
  const auto m = parse_message("From: postmaster@example.com\nSubject: failure notice\n\nSorry.\n");
  CHECK(m.is_bounce);
  CHECK_FALSE(parse_message("From: maria@example.com\nSubject: failure notice\n\nx\n").is_bounce);
}

TEST_CASE("auto-submitted markers are recognised and ordinary Outlook mail is not", "[mime]") {
  CHECK(parse_message("From: a@x.com\nAuto-Submitted: auto-replied\n\nx\n").auto_submitted);
  CHECK_FALSE(parse_message("From: a@x.com\nAuto-Submitted: no\n\nx\n").auto_submitted);
  CHECK(parse_message("From: a@x.com\nPrecedence: bulk\n\nx\n").auto_submitted);
  CHECK(parse_message("From: a@x.com\nPrecedence: list\n\nx\n").auto_submitted);
  CHECK(parse_message("From: a@x.com\nX-Autoreply: yes\n\nx\n").auto_submitted);
  CHECK(parse_message("From: a@x.com\nX-Autorespond: yes\n\nx\n").auto_submitted);
  CHECK_FALSE(parse_message("From: a@x.com\nX-Auto-Response-Suppress: All\n\nx\n").auto_submitted);
  CHECK_FALSE(parse_message("From: a@x.com\nList-Id: <list.example.com>\n\nx\n").auto_submitted);
}

TEST_CASE("uuencoded files in a text body become attachments", "[mime]") {
  const auto m = parse_message(
      "From: a@example.com\n\nHello\n\nbegin 644 hi.txt\n#:&D*\n`\nend\n\nBye\n");
  REQUIRE(m.attachments.size() == 1);
  CHECK(m.attachments[0].filename == "hi.txt");
  CHECK(m.attachments[0].data == "hi\n");
  CHECK(m.text.find("begin 644") == std::string::npos);
  CHECK(m.text.find("Bye") != std::string::npos);
}

TEST_CASE("Content-Transfer-Encoding x-uuencode is decoded into the attachment", "[mime]") {
  const auto m = parse_message(
      "From: a@example.com\nContent-Type: multipart/mixed; boundary=m\n\n"
      "--m\nContent-Type: text/plain\n\nsee file\n"
      "--m\nContent-Type: application/msword; name=\"doc.txt\"\nContent-Transfer-Encoding: x-uuencode\n\n"
      "begin 600 doc.txt\n#:&D*\n`\nend\n"
      "--m--\n");
  REQUIRE(m.attachments.size() == 1);
  CHECK(m.attachments[0].filename == "doc.txt");
  CHECK(m.attachments[0].data == "hi\n");
}

TEST_CASE("winmail.dat is reported as an attachment", "[mime]") {
  const auto m = parse_message(
      "From: a@example.com\nContent-Type: multipart/mixed; boundary=m\n\n"
      "--m\nContent-Type: text/plain\n\nbody\n"
      "--m\nContent-Type: application/ms-tnef\nContent-Transfer-Encoding: base64\n\neJ8+IgAA\n"
      "--m--\n");
  REQUIRE(m.attachments.size() == 1);
  CHECK(m.attachments[0].filename == "winmail.dat");
}

TEST_CASE("an mbox From line before the header is skipped", "[mime]") {
  const auto m = parse_message("From sender@example.com  Thu May  3 12:04:29 2012\nFrom: <a@example.com>\nSubject: s\n\nb\n");
  CHECK(m.from.address == "a@example.com");
  CHECK(m.subject == "s");
}

TEST_CASE("with two From headers the first with an address wins", "[mime]") {
  const auto m = parse_message("From: [??????]\nReply-To: r@example.com\nFrom: =?utf-8?B?6YO955C5?= <g@example.com>\n\nx\n");
  CHECK(m.from.address == "g@example.com");
  CHECK(m.from.name == "都琹");
  CHECK(has_defect(m, "multiple From"));
}

TEST_CASE("raw 8-bit headers are read with the body's charset", "[mime]") {
  const auto m = parse_message(
      "From: \"\xCE\xE4\xC0\xBC\xB3\xC9\" <a@example.com>\nSubject: \xD7\xAA\xB7\xA2\n"
      "Content-Type: text/plain; charset=gb2312\n\n\xD7\xAA\xB7\xA2\n");
  CHECK(m.subject == "转发");
  CHECK(m.from.name == "武兰成");
  CHECK(m.text == "转发");
  CHECK(has_defect(m, "invalid UTF-8 in Subject"));
}

TEST_CASE("a date with a glued header after the zone is still read", "[mime]") {
  const auto m = parse_message("From: a@x.com\nDate: Fri, 07 Apr 2023 17:30:44 +0200Received: from x\nSubject: t\n\nb\n");
  REQUIRE(m.date);
  CHECK(*m.date == 1680881444);
}

TEST_CASE("Message-ID and In-Reply-To are stored without angle brackets", "[mime]") {
  const auto m = parse_message("From: a@x.com\nMessage-Id: 20200123143934.05D7EE792E@example.com\nIn-Reply-To: <x@y>\n\nb\n");
  CHECK(m.message_id == "20200123143934.05D7EE792E@example.com");
  CHECK(m.in_reply_to == "x@y");
}

TEST_CASE("machine sender addresses are auto-submitted", "[mime]") {
  for (const char* local : {"noreply", "no-reply", "donotreply", "mailer-daemon", "postmaster", "NoReply"}) {
    INFO(local);
    CHECK(parse_message(std::string("From: ") + local + "@example.com\nSubject: x\n\nx\n").auto_submitted);
  }
  CHECK_FALSE(parse_message("From: noreplyer@example.com\n\nx\n").auto_submitted);
  CHECK_FALSE(parse_message("From: maria@noreply.example.com\n\nx\n").auto_submitted);
}

TEST_CASE("list headers flag only together with a Precedence of list or bulk", "[mime]") {
  CHECK_FALSE(parse_message("From: a@x.com\nList-Unsubscribe: <mailto:u@x.com>\n\nx\n").auto_submitted);
  CHECK(parse_message("From: a@x.com\nList-Id: <l.x.com>\nPrecedence: list\n\nx\n").auto_submitted);
  CHECK(parse_message("From: a@x.com\nList-Unsubscribe: <mailto:u@x.com>\nPrecedence: bulk\n\nx\n")
            .auto_submitted);
  CHECK_FALSE(parse_message("From: a@x.com\nX-Auto-Response-Suppress: OOF\n\nx\n").auto_submitted);
  CHECK_FALSE(parse_message("From: a@x.com\nX-Autoreply: no\n\nx\n").auto_submitted);
}

TEST_CASE("a bounce names the failed recipient and the returned Message-ID", "[mime]") {
  const auto m = parse_message(
      "From: MAILER-DAEMON@example.com\nSubject: Undelivered Mail\n"
      "Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n"
      "--b\nContent-Type: text/plain\n\nSorry.\n"
      "--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; example.com\n\n"
      "Final-Recipient: rfc822; Maria@Example.com.br\nAction: failed\nStatus: 5.1.1\n\n"
      "Final-Recipient: rfc822; other@example.com.br\nAction: failed\n"
      "--b\nContent-Type: text/rfc822-headers\n\nFrom: suporte@example.com.br\nMessage-ID:\n <t1.42@example.com.br>\n"
      "Subject: hi\n"
      "--b--\n");
  CHECK(m.is_bounce);
  CHECK(m.bounced_recipient == "Maria@Example.com.br");
  CHECK(m.bounced_message_id == "t1.42@example.com.br");
  const auto plain = parse_message("From: a@x.com\nMessage-ID: <a@x>\n\nhello\n");
  CHECK(plain.bounced_recipient.empty());
  CHECK(plain.bounced_message_id.empty());
}

TEST_CASE("unnamed attachments get a name from their type", "[mime]") {
  const auto m = parse_message(
      "From: a@x.com\nContent-Type: multipart/mixed; boundary=\"b\"\n\n"
      "--b\nContent-Type: text/plain\n\nbody\n"
      "--b\nContent-Type: application/pdf\nContent-Transfer-Encoding: base64\n\nJVBERi0=\n"
      "--b\nContent-Type: image/png\nContent-Disposition: inline\n\nx\n"
      "--b\nContent-Type: application/x-unknown-thing\n\nx\n"
      "--b\nContent-Type: image/x-odd\n\nx\n"
      "--b--\n");
  REQUIRE(m.attachments.size() == 4);
  CHECK(m.attachments[0].filename == "attachment.pdf");
  CHECK(m.attachments[1].filename == "image.png");
  CHECK(m.attachments[2].filename == "attachment.bin");
  CHECK(m.attachments[3].filename == "image.bin");
  for (const auto& a : m.attachments) CHECK_FALSE(a.filename.empty());
}

TEST_CASE("path components are stripped from attachment names", "[mime]") {
  const auto m = parse_message(
      "From: a@x.com\nContent-Type: multipart/mixed; boundary=\"b\"\n\n"
      "--b\nContent-Type: text/plain\n\nbody\n"
      "--b\nContent-Type: application/octet-stream; name=\"../../etc/passwd\"\n\nx\n"
      "--b\nContent-Type: application/msword\nContent-Disposition: attachment; filename=\"C:\\\\Users\\\\ana\\\\a.doc\"\n\nx\n"
      "--b\nContent-Type: application/pdf\nContent-Disposition: attachment; filename=\"dir/\"\n\nx\n"
      "--b\nContent-Type: application/octet-stream; name=\"..\"\n\nx\n"
      "--b\nContent-Type: message/rfc822\n\nSubject: Pedido 1/2\n\nx\n"
      "--b--\n");
  REQUIRE(m.attachments.size() == 5);
  CHECK(m.attachments[0].filename == "passwd");
  CHECK(m.attachments[1].filename == "a.doc");
  CHECK(m.attachments[2].filename == "attachment.pdf");
  CHECK(m.attachments[3].filename == "attachment.bin");
  CHECK(m.attachments[4].filename == "Pedido 1_2.eml");
}

// json_output_test.cpp — the `atendd parse --json` object: every key of the DESIGN.md contract,
// valid JSON and valid UTF-8 whatever bytes the message strings hold.
#include <catch2/catch.hpp>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "parsers/json_output.h"

namespace {

Poco::JSON::Object::Ptr parse_json(const std::string& text) {
  Poco::JSON::Parser parser;
  return parser.parse(text).extract<Poco::JSON::Object::Ptr>();
}

}  // namespace

TEST_CASE("an empty message gives every contract key with null where nothing is known", "[json]") {
  atendd::ParsedMessage m;
  const auto obj = parse_json(atendd::to_json(m));
  for (const char* key : {"from", "to", "cc", "reply_to", "subject", "message_id", "in_reply_to", "references",
                          "date", "auto_submitted", "is_bounce", "text", "html", "attachments", "defects"})
    CHECK(obj->has(key));
  CHECK(obj->isNull("from"));
  CHECK(obj->isNull("date"));
  CHECK(obj->isNull("html"));
  CHECK(obj->isNull("message_id"));
}

TEST_CASE("fields are written with their values and the date in RFC 3339 UTC", "[json]") {
  atendd::ParsedMessage m;
  m.from = {"maria@example.com.br", "Maria \"M\" Souza"};
  m.to.push_back({"a@example.com", ""});
  m.subject = "Olá\tmundo\n";
  m.message_id = "id@x";
  m.references = {"r1@x", "r2@x"};
  m.date = 1336037803;
  m.auto_submitted = true;
  m.html = "<p>x</p>";
  atendd::Attachment a;
  a.filename = "a.pdf";
  a.content_type = "application/pdf";
  a.data = std::string("\0\1\2", 3);
  a.inline_part = true;
  m.attachments.push_back(a);
  m.defects.push_back("no Date header");
  const auto obj = parse_json(atendd::to_json(m));
  CHECK(obj->getObject("from")->getValue<std::string>("name") == "Maria \"M\" Souza");
  CHECK(obj->getValue<std::string>("subject") == "Olá\tmundo\n");
  CHECK(obj->getValue<std::string>("date") == "2012-05-03T09:36:43Z");
  CHECK(obj->getValue<bool>("auto_submitted"));
  CHECK(obj->getArray("references")->size() == 2);
  const auto attachment = obj->getArray("attachments")->getObject(0);
  CHECK(attachment->getValue<int>("size") == 3);
  CHECK(attachment->getValue<bool>("inline"));
  CHECK(obj->getValue<std::string>("html") == "<p>x</p>");
}

TEST_CASE("invalid UTF-8 and control characters still give valid JSON", "[json]") {
  atendd::ParsedMessage m;
  const char raw[] = "bad \xFF\xFE bytes \x01 and NUL \0 end";
  m.subject = std::string(raw, sizeof raw - 1);
  m.text = "\x7F\xC3";
  const std::string json = atendd::to_json(m);
  REQUIRE_NOTHROW(parse_json(json));
  const auto obj = parse_json(json);
  CHECK(obj->getValue<std::string>("subject").find("\xEF\xBF\xBD") != std::string::npos);
  CHECK(json.find('\x01') == std::string::npos);
}

TEST_CASE("new_text and bounce are written with bounce null for ordinary mail", "[json]") {
  atendd::ParsedMessage m;
  m.text = "Oi\n\n> velho";
  m.new_text = "Oi";
  auto obj = parse_json(atendd::to_json(m));
  CHECK(obj->getValue<std::string>("new_text") == "Oi");
  CHECK(obj->isNull("bounce"));
  m.is_bounce = true;
  m.bounced_recipient = "maria@example.com.br";
  obj = parse_json(atendd::to_json(m));
  const auto bounce = obj->getObject("bounce");
  REQUIRE(bounce);
  CHECK(bounce->getValue<std::string>("recipient") == "maria@example.com.br");
  CHECK(bounce->isNull("message_id"));
}

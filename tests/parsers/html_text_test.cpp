// html_text_test.cpp — HTML bodies to readable text: block elements break lines, script and
// style vanish, entities are decoded, broken markup still gives its text.
#include <catch2/catch.hpp>

#include "parsers/html_text.h"

using atendd::html_to_text;

TEST_CASE("paragraphs and line breaks become line breaks", "[html]") {
  CHECK(html_to_text("<p>Hello</p><p>World<br>again</p>") == "Hello\n\nWorld\nagain");
}

TEST_CASE("script, style and head are dropped", "[html]") {
  CHECK(html_to_text("<html><head><title>t</title><style>p{}</style></head>"
                     "<body><script>alert(1)</script><div>visible</div></body></html>") == "visible");
}

TEST_CASE("entities are decoded and whitespace collapsed", "[html]") {
  CHECK(html_to_text("<div>caf&eacute; &amp;   &lt;tag&gt;&nbsp;x</div>") == "café & <tag>\xC2\xA0x");
}

TEST_CASE("broken markup still yields its text", "[html]") {
  CHECK(html_to_text("<div><b>bold<i>both</div>tail") == "boldboth\ntail");
  CHECK(html_to_text("") == "");
  CHECK(html_to_text("just text") == "just text");
}

TEST_CASE("preformatted text keeps its line breaks", "[html]") {
  CHECK(html_to_text("<pre>a\n  b</pre>") == "a\n  b");
}

TEST_CASE("table cells are separated and rows broken", "[html]") {
  CHECK(html_to_text("<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>") == "a b\nc");
}

TEST_CASE("a meta charset in the document does not override the UTF-8 input", "[html]") {
  CHECK(html_to_text("<html><head><meta charset=\"iso-8859-1\"></head><body>café</body></html>") == "café");
}

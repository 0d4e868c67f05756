// renderer_test.cpp — the mail templates (templates/LOCALE/*.mustache, embedded in the binary) and
// the Renderer that loads them: every template renders, text is never HTML-escaped while HTML is,
// overrides replace exactly what they name, broken templates are refused at load with the file.
#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "daemon/outbox/renderer.h"
#include "templates/embedded_templates.h"

namespace {

namespace fs = std::filesystem;
using atendd::Renderer;
using atendd::TemplateError;
using kainjow::mustache::data;

const char* const kLocales[] = {"pt_BR", "en"};

// Sets a dotted variable ("ticket.subject") in a context, creating the objects on the way.
void set(data& root, const std::string& path, data value) {
  data* node = &root;
  std::stringstream parts{path};
  std::string part;
  std::getline(parts, part, '.');
  for (std::string next; std::getline(parts, next, '.'); part = next) node = &(*node)[part];
  node->set(part, value);
}

data attachment(const std::string& filename, const std::string& size) {
  data item;
  item.set("filename", filename);
  item.set("size", size);
  return item;
}

// Every documented variable with a value.
data full_context() {
  data context;
  set(context, "server.name", "Suporte Exemplo");
  set(context, "server.address", "suporte@example.com.br");
  set(context, "protocol", "20261122000042");
  set(context, "ticket.subject", "Impressora não liga");
  set(context, "ticket.status", "Em andamento");
  set(context, "ticket.priority", "Alta");
  set(context, "ticket.type_name", "Garantia");
  set(context, "ticket.department", "Suporte técnico");
  set(context, "ticket.opened_at", "22/11/2026 10:05");
  set(context, "ticket.responsible_name", "Maria Souza");
  set(context, "customer.name", "João Pereira");
  set(context, "customer.address", "joao@cliente.com.br");
  set(context, "agent.name", "Carlos Lima");
  set(context, "agent.address", "carlos@example.com.br");
  set(context, "message.text", "A impressora parou de ligar ontem.\nJá troquei o cabo.\n");
  set(context, "message.from", "João Pereira <joao@cliente.com.br>");
  set(context, "message.attachments",
      atendd::list_of({attachment("nota-fiscal.pdf", "120 KB"), attachment("foto.jpg", "1,5 MB")}));
  set(context, "has_attachments", true);
  set(context, "justification", "Cliente da região sul.");
  set(context, "final_opinion", "Troca do equipamento aprovada.");
  set(context, "error", "agente \"mario\" não existe");
  set(context, "due", "23/11/2026 10:05");
  return context;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

// A fresh folder under the system's temporary folder, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() /
            ("atendd-template-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const fs::path& path() const { return path_; }
  std::string str() const { return path_.string(); }
  void write(const std::string& relative, const std::string& content) const {
    const fs::path file = path_ / relative;
    fs::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << content;
  }

 private:
  fs::path path_;
};

std::string read_text(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

}  // namespace

TEST_CASE("every template of both locales renders a full context with no tag left over", "[templates]") {
  for (const char* locale : kLocales) {
    const Renderer renderer{"", locale};
    for (const auto& name : Renderer::names()) {
      INFO(locale << "/" << name);
      const auto mail = renderer.render(name, "", full_context());
      CHECK_FALSE(mail.subject.empty());
      CHECK_FALSE(mail.text.empty());
      for (const std::string* part : {&mail.subject, &mail.text}) {
        CHECK_FALSE(contains(*part, "{{"));
        CHECK_FALSE(contains(*part, "}}"));
      }
      if (mail.html) {
        CHECK_FALSE(contains(*mail.html, "{{"));
        CHECK_FALSE(contains(*mail.html, "}}"));
        CHECK(contains(*mail.html, "</html>"));
      }
      // The mail composer adds the protocol tag; the template must not repeat it.
      CHECK_FALSE(contains(mail.subject, "20261122000042"));
    }
  }
}

TEST_CASE("both locales have the same templates, and only known names", "[templates]") {
  std::set<std::string> per_locale[2];
  for (const auto& [key, content] : atendd::embedded_templates()) {
    const auto slash = key.find('/');
    REQUIRE(slash != std::string::npos);
    const std::string locale = key.substr(0, slash);
    REQUIRE((locale == "pt_BR" || locale == "en"));
    per_locale[locale == "pt_BR" ? 0 : 1].insert(key.substr(slash + 1));
  }
  CHECK(per_locale[0] == per_locale[1]);
  for (const auto& name : Renderer::names()) CHECK(per_locale[0].count(name + ".mustache") == 1);
  CHECK(per_locale[0].count("opening.html.mustache") == 1);
}

TEST_CASE("templates use only the documented context variables", "[templates]") {
  const auto variables = Renderer::variables();
  std::set<std::string> allowed(variables.begin(), variables.end());
  allowed.insert({"filename", "size"});  // the fields of each message.attachments item

  const std::string readme = read_text(fs::path(ATENDD_SOURCE_DIR) / "templates" / "README.md");
  for (const auto& variable : variables) {
    INFO(variable);
    CHECK(contains(readme, "`" + variable + "`"));
  }

  const std::regex tag{R"(\{\{\{?([#^/&]?)\s*([A-Za-z0-9_.]+)\s*\}?\}\})"};
  for (const auto& [key, content] : atendd::embedded_templates()) {
    for (auto it = std::sregex_iterator(content.begin(), content.end(), tag); it != std::sregex_iterator(); ++it) {
      INFO(key << ": {{" << (*it)[1] << (*it)[2] << "}}");
      CHECK(allowed.count((*it)[2]) == 1);
    }
  }
}

TEST_CASE("the opening mail names the protocol, the customer and the subject", "[templates]") {
  for (const char* locale : kLocales) {
    INFO(locale);
    const auto mail = Renderer{"", locale}.render("opening", "", full_context());
    CHECK(contains(mail.text, "20261122000042"));
    CHECK(contains(mail.text, "João Pereira"));
    CHECK(contains(mail.text, "Impressora não liga"));
    CHECK(contains(mail.subject, "Impressora não liga"));
    REQUIRE(mail.html);
    CHECK(contains(*mail.html, "20261122000042"));
    CHECK(contains(*mail.html, "João Pereira"));
  }
  const auto pt = Renderer{"", "pt_BR"}.render("opening", "", full_context());
  CHECK(contains(pt.text, "Olá, João Pereira!"));
  CHECK(contains(pt.text, "Protocolo: 20261122000042"));
  CHECK(contains(pt.text, "mantenha o número do protocolo no assunto"));
}

TEST_CASE("the forward mail tells the agent who the customer is, why, and how to answer", "[templates]") {
  const auto mail = Renderer{"", "pt_BR"}.render("forward", "", full_context());
  CHECK(contains(mail.text, "O atendimento 20261122000042 foi repassado para você por Carlos Lima."));
  CHECK(contains(mail.text, "Cliente: João Pereira <joao@cliente.com.br>"));
  CHECK(contains(mail.text, "Prioridade: Alta"));
  CHECK(contains(mail.text, "Tipo: Garantia"));
  CHECK(contains(mail.text, "Justificativa do repasse:\nCliente da região sul."));
  CHECK(contains(mail.text, "A impressora parou de ligar ontem.\nJá troquei o cabo.\n"));
  CHECK(contains(mail.text, "  - nota-fiscal.pdf (120 KB)\n  - foto.jpg (1,5 MB)\n"));
  CHECK(contains(mail.text, "#note"));
  CHECK(contains(mail.text, "#forward"));

  data without_justification = full_context();
  set(without_justification, "justification", "");
  const auto plain = Renderer{"", "pt_BR"}.render("forward", "", without_justification);
  CHECK_FALSE(contains(plain.text, "Justificativa"));
}

TEST_CASE("plain text is not HTML-escaped while the HTML part is", "[templates]") {
  data context = full_context();
  set(context, "customer.name", "Ana & <Bia> \"Ltda\"");
  for (const char* locale : kLocales) {
    INFO(locale);
    const auto mail = Renderer{"", locale}.render("opening", "", context);
    CHECK(contains(mail.text, "Ana & <Bia> \"Ltda\""));
    CHECK_FALSE(contains(mail.text, "&amp;"));
    REQUIRE(mail.html);
    CHECK(contains(*mail.html, "Ana &amp; &lt;Bia&gt; &quot;Ltda&quot;"));
    CHECK_FALSE(contains(*mail.html, "<Bia>"));
  }
  set(context, "ticket.subject", "Preço < R$ 10 & frete");
  const auto mail = Renderer{"", "pt_BR"}.render("closing", "", context);
  CHECK(contains(mail.subject, "Preço < R$ 10 & frete"));
}

TEST_CASE("a missing customer name gives the neutral greeting", "[templates]") {
  const Renderer pt{"", "pt_BR"};
  const Renderer en{"", "en"};
  data absent = full_context();
  set(absent, "customer", data{});
  data empty = full_context();
  set(empty, "customer.name", "");
  data blank = full_context();
  set(blank, "customer.name", "  ");
  for (const data* context : {&absent, &empty, &blank}) {
    const auto pt_mail = pt.render("opening", "", *context);
    CHECK(starts_with(pt_mail.text, "Olá!\n\nRecebemos"));
    CHECK_FALSE(contains(pt_mail.text, "Olá,"));
    REQUIRE(pt_mail.html);
    CHECK(contains(*pt_mail.html, "<p>Olá!</p>"));
    CHECK(starts_with(en.render("opening", "", *context).text, "Hello,\n\nWe have"));
    CHECK(starts_with(pt.render("closing", "", *context).text, "Olá!\n\nO seu"));
  }
}

TEST_CASE("sections that render nothing leave no stray empty lines", "[templates]") {
  data minimal;
  set(minimal, "protocol", "20261122000042");
  set(minimal, "server.name", "Suporte Exemplo");
  set(minimal, "message.text", "Texto.");
  for (const char* locale : kLocales) {
    const Renderer renderer{"", locale};
    for (const auto& name : Renderer::names()) {
      INFO(locale << "/" << name);
      for (const data* context : {&minimal}) {
        const auto mail = renderer.render(name, "", *context);
        CHECK_FALSE(contains(mail.text, "\n\n\n"));
        CHECK(mail.text.front() != '\n');
      }
      const auto full = renderer.render(name, "", full_context());
      CHECK_FALSE(contains(full.text, "\n\n\n"));
      CHECK(full.text.front() != '\n');
    }
  }
}

TEST_CASE("a line holding only a section tag never shows while blank lines always do", "[templates]") {
  TempDir dir;
  dir.write("en/reply.mustache",
            "Subject: x\n\nA\n{{#justification}}\n\nWhy: {{justification}}\n\n{{/justification}}\n"
            "{{^final_opinion}}\nNo opinion.\n{{/final_opinion}}\n  {{! a comment }}\nB\n\nC\n");
  const Renderer renderer{dir.str(), "en"};
  data with = full_context();
  CHECK(renderer.render("reply", "", with).text == "A\n\nWhy: Cliente da região sul.\n\nB\n\nC\n");
  data without;
  CHECK(renderer.render("reply", "", without).text == "A\nNo opinion.\nB\n\nC\n");
}

TEST_CASE("the subject never contains CR or LF", "[templates]") {
  data context = full_context();
  set(context, "ticket.subject", "Oi\r\nBcc: todos@example.com\nX\rY\tZ");
  set(context, "customer.name", "Eve\r\nBcc: x@example.com");
  for (const char* locale : kLocales) {
    const Renderer renderer{"", locale};
    for (const auto& name : Renderer::names()) {
      INFO(locale << "/" << name);
      const auto subject = renderer.render(name, "", context).subject;
      CHECK(subject.find_first_of("\r\n") == std::string::npos);
    }
  }
  TempDir dir;
  dir.write("pt_BR/opening.mustache", "Subject: {{customer.name}}\n\nCorpo\n");
  const auto mail = Renderer{dir.str(), "pt_BR"}.render("opening", "", context);
  CHECK(mail.subject == "Eve Bcc: x@example.com");
}

TEST_CASE("a templates_dir override replaces one template and keeps the others embedded", "[templates]") {
  TempDir dir;
  dir.write("pt_BR/opening.mustache", "Subject: Chegou: {{ticket.subject}}\n\nProtocolo {{protocol}} & pronto.\n");
  dir.write("pt_BR/LEIA-ME.txt", "not a template, ignored");
  const Renderer embedded{"", "pt_BR"};
  const Renderer overridden{dir.str(), "pt_BR"};

  const auto opening = overridden.render("opening", "", full_context());
  CHECK(opening.subject == "Chegou: Impressora não liga");
  CHECK(opening.text == "Protocolo 20261122000042 & pronto.\n");
  // An edited text must not go out beside the old embedded HTML.
  CHECK_FALSE(opening.html);

  for (const auto& name : Renderer::names()) {
    if (name == "opening") continue;
    INFO(name);
    const auto expected = embedded.render(name, "", full_context());
    const auto actual = overridden.render(name, "", full_context());
    CHECK(actual.subject == expected.subject);
    CHECK(actual.text == expected.text);
    CHECK(actual.html == expected.html);
  }
}

TEST_CASE("an HTML override beside its text override is used", "[templates]") {
  TempDir dir;
  dir.write("en/opening.mustache", "Subject: Hi\n\nText {{customer.name}}\n");
  dir.write("en/opening.html.mustache", "<p>Html {{customer.name}}</p>\n");
  data context = full_context();
  set(context, "customer.name", "A&B");
  const auto mail = Renderer{dir.str(), "en"}.render("opening", "", context);
  CHECK(mail.text == "Text A&B\n");
  REQUIRE(mail.html);
  CHECK(*mail.html == "<p>Html A&amp;B</p>\n");
}

TEST_CASE("a missing templates_dir leaves the embedded templates in use", "[templates]") {
  const Renderer renderer{"/nonexistent/atendd/templates", "pt_BR"};
  CHECK(renderer.render("opening", "", full_context()).text ==
        Renderer("", "pt_BR").render("opening", "", full_context()).text);
}

TEST_CASE("a type override wins for that type only", "[templates]") {
  TempDir flat;
  flat.write("closing.mustache", "Subject: Garantia encerrada\n\nParecer: {{final_opinion}}\n");
  TempDir per_locale;
  per_locale.write("pt_BR/closing.mustache", "Subject: Devolução encerrada\n\nOk\n");
  per_locale.write("en/closing.mustache", "Subject: Return closed\n\nOk\n");

  Renderer renderer{"", "pt_BR"};
  renderer.add_type_overrides("garantia", flat.str());
  renderer.add_type_overrides("devolucao", per_locale.str());
  const Renderer plain{"", "pt_BR"};

  const auto garantia = renderer.render("closing", "garantia", full_context());
  CHECK(garantia.subject == "Garantia encerrada");
  CHECK(garantia.text == "Parecer: Troca do equipamento aprovada.\n");
  CHECK_FALSE(garantia.html);
  CHECK(renderer.render("closing", "devolucao", full_context()).subject == "Devolução encerrada");

  const auto expected = plain.render("closing", "", full_context());
  for (const char* other_type : {"", "geral"}) {
    const auto mail = renderer.render("closing", other_type, full_context());
    CHECK(mail.subject == expected.subject);
    CHECK(mail.text == expected.text);
  }
  // The type's other templates stay the general ones.
  CHECK(renderer.render("opening", "garantia", full_context()).text ==
        plain.render("opening", "", full_context()).text);
}

TEST_CASE("a broken template file raises TemplateError naming the file", "[templates]") {
  using Catch::Matchers::Contains;
  SECTION("an unclosed section") {
    TempDir dir;
    dir.write("pt_BR/reply.mustache", "Subject: Re\n\n{{#message.text}}sem fim\n");
    const std::string file = (dir.path() / "pt_BR" / "reply.mustache").string();
    REQUIRE_THROWS_MATCHES(Renderer(dir.str(), "pt_BR"), TemplateError, Catch::Matchers::Message(
        file + ": body: Unclosed section \"message.text\" at 0"));
  }
  SECTION("a broken subject") {
    TempDir dir;
    dir.write("en/closing.mustache", "Subject: {{ticket.subject\n\nBody\n");
    REQUIRE_THROWS_WITH(Renderer(dir.str(), "en"), Contains("closing.mustache: Subject:"));
  }
  SECTION("no Subject line") {
    TempDir dir;
    dir.write("pt_BR/opening.mustache", "Olá {{customer.name}}\n");
    REQUIRE_THROWS_WITH(Renderer(dir.str(), "pt_BR"), Contains("opening.mustache: the first line must be"));
  }
  SECTION("no empty line after the subject") {
    TempDir dir;
    dir.write("pt_BR/opening.mustache", "Subject: Oi\nCorpo\n");
    REQUIRE_THROWS_WITH(Renderer(dir.str(), "pt_BR"), Contains("opening.mustache: the line after Subject must be empty"));
  }
  SECTION("a broken HTML part") {
    TempDir dir;
    dir.write("pt_BR/opening.html.mustache", "<p>{{/customer.name}}</p>\n");
    REQUIRE_THROWS_WITH(Renderer(dir.str(), "pt_BR"), Contains("opening.html.mustache: body:"));
  }
  SECTION("a file with an unknown template name") {
    TempDir dir;
    dir.write("pt_BR/openning.mustache", "Subject: x\n\ny\n");
    REQUIRE_THROWS_WITH(Renderer(dir.str(), "pt_BR"), Contains("openning.mustache: unknown template name \"openning\""));
  }
  SECTION("a broken type override") {
    TempDir dir;
    dir.write("escalation.mustache", "Subject: x\n\n{{^due}}\n");
    Renderer renderer{"", "pt_BR"};
    REQUIRE_THROWS_WITH(renderer.add_type_overrides("garantia", dir.str()), Contains("escalation.mustache"));
    // The failed override left the type on the general templates.
    CHECK(renderer.render("escalation", "garantia", full_context()).text ==
          Renderer("", "pt_BR").render("escalation", "", full_context()).text);
  }
  SECTION("a type override folder that does not exist") {
    Renderer renderer{"", "pt_BR"};
    REQUIRE_THROWS_WITH(renderer.add_type_overrides("garantia", "/nonexistent/garantia"),
                        Contains("/nonexistent/garantia"));
  }
}

TEST_CASE("a template written with CRLF line ends and a BOM loads", "[templates]") {
  TempDir dir;
  dir.write("en/reply.mustache", "\xEF\xBB\xBFSubject: Re: {{ticket.subject}}\r\n\r\n{{message.text}}\r\n");
  const auto mail = Renderer{dir.str(), "en"}.render("reply", "", full_context());
  CHECK(mail.subject == "Re: Impressora não liga");
  CHECK(mail.text == "A impressora parou de ligar ontem.\nJá troquei o cabo.\r\n");
}

TEST_CASE("an unknown template name or locale raises TemplateError", "[templates]") {
  const Renderer renderer{"", "pt_BR"};
  CHECK_THROWS_AS(renderer.render("welcome", "", full_context()), TemplateError);
  CHECK_THROWS_WITH(Renderer("", "fr"), Catch::Matchers::Contains("has no template opening"));
  CHECK_THROWS_AS(Renderer("", "../pt_BR"), TemplateError);
}

TEST_CASE("a locale that exists only on disk is usable when it is complete", "[templates]") {
  TempDir dir;
  for (const auto& name : Renderer::names()) dir.write("es/" + name + ".mustache", "Subject: " + name + "\n\nHola\n");
  const Renderer renderer{dir.str(), "es"};
  CHECK(renderer.render("closing", "", full_context()).subject == "closing");
}

TEST_CASE("attachment sizes are written the locale's way", "[templates]") {
  CHECK(atendd::format_size(830, "pt_BR") == "830 B");
  CHECK(atendd::format_size(12 * 1024 + 100, "pt_BR") == "12 KB");
  CHECK(atendd::format_size(1536 * 1024, "pt_BR") == "1,5 MB");
  CHECK(atendd::format_size(1536 * 1024, "en") == "1.5 MB");
  CHECK(atendd::format_size(10 * 1024 * 1024, "en") == "10 MB");
}

TEST_CASE("rendering the same template from several threads gives the same mail", "[templates]") {
  const Renderer renderer{"", "pt_BR"};
  const auto expected = renderer.render("forward", "", full_context()).text;
  std::vector<std::string> results(4);
  std::vector<std::thread> threads;
  for (auto& result : results) {
    threads.emplace_back([&renderer, &result] {
      for (int i = 0; i < 20; ++i) result = renderer.render("forward", "", full_context()).text;
    });
  }
  for (auto& thread : threads) thread.join();
  for (const auto& result : results) CHECK(result == expected);
}

TEST_CASE("a render that fails leaves the template fit for the next mail", "[templates]") {
  // A partial named by a context value compiles that value at render time: an unclosed section in
  // it fails this one render only.
  TempDir dir;
  dir.write("en/note.mustache", "Subject: Note\n\nNote: {{>error}}\n");
  const Renderer renderer{dir.str(), "en"};
  data bad = full_context();
  bad.set("error", data{"{{#unclosed"});
  CHECK_THROWS_AS(renderer.render("note", "", bad), TemplateError);
  data good = full_context();
  good.set("error", data{"all fine"});
  CHECK(renderer.render("note", "", good).text == "Note: all fine\n");
  CHECK_THROWS_AS(renderer.render("note", "", bad), TemplateError);
  CHECK(renderer.render("note", "", good).text == "Note: all fine\n");
}

TEST_CASE("two renderers of different templates in one thread never mix their templates", "[templates]") {
  // Each thread keeps working copies of compiled templates; a renderer made after another (a
  // reload) must render its own.
  for (int round = 0; round < 3; ++round) {
    TempDir dir;
    dir.write("en/opening.mustache", "Subject: Round " + std::to_string(round) + "\n\nBody " + std::to_string(round) + "\n");
    const Renderer renderer{dir.str(), "en"};
    const auto mail = renderer.render("opening", "", full_context());
    CHECK(mail.subject == "Round " + std::to_string(round));
    CHECK(mail.text == "Body " + std::to_string(round) + "\n");
  }
}

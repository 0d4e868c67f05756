// renderer.h — turns a template NAME and a context into the subject, plain text and optional HTML
// of one mail (DESIGN.md, "Templates"; the format and the variables are in templates/README.md).
// Every template is parsed once, at construction, so a broken template fails the config check and
// never a mail. Never adds the protocol tag to the subject (the mail composer does) and never
// returns a subject holding CR or LF.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <kainjow/mustache.hpp>

namespace atendd {

struct RenderedMail {
  std::string subject;              // one line, no CR/LF, without the protocol tag
  std::string text;                 // text/plain body, not HTML-escaped
  std::optional<std::string> html;  // text/html alternative, when the template has one
};

// A template that does not exist, does not compile or is laid out wrongly; the message names the
// file ("/etc/atendd/templates/pt_BR/opening.mustache: Unclosed section …").
class TemplateError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A compiled template and its serial number, unique per compilation: kainjow renders only from a
// mutable template, so each thread renders from its own working copy, made once per serial.
struct CompiledTemplate {
  std::uint64_t serial;
  kainjow::mustache::mustache tmpl;
};

class Renderer {
 public:
  // Loads and compiles every template of `locale` ("pt_BR", "en") once: the embedded ones first,
  // then the files of templates_dir/LOCALE/ (when templates_dir is non-empty and exists) replace
  // them one by one. Throws TemplateError naming the file when a template does not compile, is
  // not "Subject: …, empty line, body", or has an unknown name, and when a name is missing.
  Renderer(const std::string& templates_dir, const std::string& locale);

  // Adds the templates of one attendance type from `dir` (dir/LOCALE/ when that folder exists,
  // else dir itself); they win over the general ones for that type only. Same errors as the
  // constructor, and dir must exist. Call it while configuring, before rendering starts.
  void add_type_overrides(const std::string& type_id, const std::string& dir);

  // Renders NAME for the attendance type (its override when it has one; "" = no type). Strings
  // that are empty or blank count as absent, so {{^customer.name}} shows the neutral greeting.
  // Throws TemplateError for an unknown name. Safe to call from several threads at once.
  RenderedMail render(const std::string& name, const std::string& type_id,
                      const kainjow::mustache::data& context) const;
  // The same with the names of `mail` looked up first, then those of `common` (the data shared by
  // the mails of one ticket update), so the shared part is never copied.
  RenderedMail render(const std::string& name, const std::string& type_id, const kainjow::mustache::data& mail,
                      const kainjow::mustache::data* common) const;

  const std::string& locale() const { return locale_; }

  // The template names: opening, forward, reply, customer_update, closing, watcher_opened,
  // watcher_closed, escalation, command_error, reopened, rejected, note, solution, scheduled,
  // reminder.
  static std::vector<std::string> names();
  // The context variables the templates may use ("ticket.subject", …; templates/README.md).
  static std::vector<std::string> variables();
  // A canned answer ("parecer padrão", #answer NAME): the mustache source of
  // templates_dir/LOCALE/answers/NAME.mustache when that file exists, else the embedded one;
  // nothing for an unknown or malformed NAME (letters, digits, '_' and '-' only).
  static std::optional<std::string> answer(const std::string& templates_dir, const std::string& locale,
                                           const std::string& name);
  // The canned answers of the locale, embedded and on disk, sorted.
  static std::vector<std::string> answer_names(const std::string& templates_dir, const std::string& locale);

 private:
  struct TextPart {
    std::string file;  // where it came from, for errors
    CompiledTemplate subject;
    CompiledTemplate body;
  };
  struct HtmlPart {
    std::string file;
    CompiledTemplate body;
  };
  struct TemplateSet {
    std::map<std::string, TextPart> text;  // by NAME
    std::map<std::string, HtmlPart> html;  // by NAME, only templates with an HTML alternative
  };

  void load_source(const std::string& file, const std::string& file_name, std::string source,
                   TemplateSet& into) const;
  void load_folder(const std::filesystem::path& folder, TemplateSet& into) const;
  void check_complete(const TemplateSet& set, const std::string& where) const;

  std::string locale_;
  TemplateSet general_;
  std::map<std::string, TemplateSet> by_type_;
};

// A mustache list of the given items, e.g. for message.attachments; an empty list makes
// {{#name}} skip and {{^name}} show.
kainjow::mustache::data list_of(const std::vector<kainjow::mustache::data>& items);

// An attachment size for message.attachments[].size in the locale's way of writing numbers:
// "830 B", "12 KB", "1,5 MB" (pt_BR), "1.5 MB" (en).
std::string format_size(std::uint64_t bytes, const std::string& locale);

}  // namespace atendd

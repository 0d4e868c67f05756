// renderer.cpp — loads, checks and renders the mail templates (renderer.h; layout and variables in
// templates/README.md). The text parts render with HTML escaping off, the HTML parts with it on.
// kainjow renders only from a mutable template: each thread renders from its own working copy of
// the compiled one (a failed render resets it), so concurrent renders share nothing mutable and one
// bad context cannot spoil a template for later mails.
#include "daemon/outbox/renderer.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <deque>
#include <fstream>
#include <set>
#include <sstream>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>

#include "templates/embedded_templates.h"

namespace atendd {
namespace {

namespace fs = std::filesystem;
using kainjow::mustache::data;
using kainjow::mustache::mustache;

const char* const kTemplateNames[] = {
    "opening",        "forward",        "reply",      "customer_update", "closing",
    "watcher_opened", "watcher_closed", "escalation", "command_error",   "reopened",
    "rejected",       "note",           "solution",   "scheduled",     "reminder",
};

// Keep in step with templates/README.md (a test checks that every one is documented there).
const char* const kVariables[] = {
    "server.name",       "server.address",
    "protocol",
    "ticket.subject",    "ticket.status",     "ticket.priority",  "ticket.type_name",
    "ticket.department", "ticket.opened_at",  "ticket.responsible_name",
    "customer.name",     "customer.address",
    "agent.name",        "agent.address",
    "message.text",      "message.from",      "message.attachments",
    "has_attachments",   "justification",     "final_opinion",    "error",  "due",
    "period",
};

constexpr const char* kTextSuffix = ".mustache";
constexpr const char* kHtmlSuffix = ".html.mustache";

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool is_known_name(const std::string& name) {
  return std::find(std::begin(kTemplateNames), std::end(kTemplateNames), name) !=
         std::end(kTemplateNames);
}

std::string trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

// Marks an empty template line; removed from the output after rendering (see prepare_body).
constexpr std::string_view kBlankLine = "\x01\x02";

// Gives a body the layout rules of templates/README.md on top of kainjow mustache 4.1, whose own
// handling of lines holding only a section tag is inconsistent (such a line vanishes when the
// section renders but leaves an empty line when it is skipped, and a blank line next to it may go
// too). Each line holding only a section or comment tag is joined to the next one, so it never
// shows; each blank line gets a marker, so it always shows (render_part removes the marker).
std::string prepare_body(const std::string& body) {
  std::string out;
  out.reserve(body.size());
  std::size_t pos = 0;
  while (pos < body.size()) {
    const auto eol = body.find('\n', pos);
    const bool has_newline = eol != std::string::npos;
    std::string line = body.substr(pos, has_newline ? eol - pos : std::string::npos);
    pos = has_newline ? eol + 1 : body.size();
    const bool has_cr = !line.empty() && line.back() == '\r';
    if (has_cr) line.pop_back();
    const std::string line_end = std::string(has_cr ? "\r" : "") + (has_newline ? "\n" : "");

    const std::string tag = trim(line);
    const bool standalone = tag.size() >= 5 && tag.compare(0, 2, "{{") == 0 &&
                            std::string("#^/!").find(tag[2]) != std::string::npos &&
                            tag.find("{{", 2) == std::string::npos &&
                            tag.find("}}") == tag.size() - 2;
    if (standalone) {
      out += tag;
    } else if (tag.empty()) {
      out.append(kBlankLine).append(line_end);
    } else {
      out += line + line_end;
    }
  }
  return out;
}

CompiledTemplate compile(const std::string& file, const char* part, const std::string& source, bool escape_html) {
  static std::atomic<std::uint64_t> serials{0};
  mustache compiled{source};
  if (!compiled.is_valid()) {
    throw TemplateError(file + ": " + part + ": " + compiled.error_message());
  }
  if (!escape_html) compiled.set_custom_escape([](const std::string& s) { return s; });
  return CompiledTemplate{++serials, std::move(compiled)};
}

// kainjow's own context splits every dotted name ("ticket.protocol") through a stringstream on
// each look-up, a third of a render; this one walks the name in place. Same search order: the
// innermost section's data first, then outwards, then the mail's own data, then the data common
// to the mails of one update; "." is the innermost data itself.
// A string found empty or blank reads as `false`: it still renders as nothing, and sections treat
// it as absent (kainjow treats "" as true). Trailing line breaks and spaces are cut from the
// others, so a text ending in "\n" does not add an empty line to the template's layout. Done on
// look-up, the contexts are never copied.
class DottedNameContext : public kainjow::mustache::basic_context<std::string> {
 public:
  DottedNameContext(const data* root, const data* common) {
    items_.push_back(root);
    if (common != nullptr) items_.push_back(common);
  }
  void push(const data* item) override { items_.insert(items_.begin(), item); }
  void pop() override { items_.erase(items_.begin()); }
  const data* get(const std::string& name) const override {
    if (name == ".") return items_.front();
    const auto dot = name.find('.');
    if (dot == std::string::npos) return get_partial(name);
    for (const data* item : items_) {
      const data* var = item;
      for (std::size_t start = 0; var != nullptr;) {
        const auto end = name.find('.', start);
        key_.assign(name, start, end == std::string::npos ? std::string::npos : end - start);
        var = var->get(key_);
        if (end == std::string::npos) break;
        start = end + 1;
      }
      if (var != nullptr) return normalized(var);
    }
    return nullptr;
  }
  const data* get_partial(const std::string& name) const override {
    for (const data* item : items_)
      if (const data* var = item->get(name)) return normalized(var);
    return nullptr;
  }

 private:
  const data* normalized(const data* var) const {
    if (!var->is_string()) return var;
    static const data kAbsent{false};
    const std::string& value = var->string_value();
    const auto end = value.find_last_not_of(" \t\r\n");
    if (end == std::string::npos) return &kAbsent;
    if (end + 1 == value.size()) return var;
    trimmed_.emplace_back(value.substr(0, end + 1));
    return &trimmed_.back();
  }

  std::vector<const data*> items_;
  mutable std::string key_;  // one part of a dotted name
  mutable std::deque<data> trimmed_;  // values cut on look-up; a deque keeps their addresses
};

// Where kainjow writes the rendered text: straight into a string (its default is an ostringstream).
struct StringSink {
  std::string out;
  StringSink& operator<<(const std::string& text) {
    out += text;
    return *this;
  }
};

// This thread's working copy of a compiled template. The copies of templates replaced since (a
// reload) are dropped once there are more than a few hundred.
mustache& working_copy(const CompiledTemplate& compiled) {
  thread_local std::unordered_map<std::uint64_t, mustache> copies;
  if (const auto found = copies.find(compiled.serial); found != copies.end()) return found->second;
  if (copies.size() >= 512) copies.clear();
  return copies.emplace(compiled.serial, compiled.tmpl).first->second;
}

std::string render_part(const CompiledTemplate& compiled, const data& context, const data* common,
                        const std::string& file) {
  mustache& tmpl = working_copy(compiled);
  DottedNameContext names(&context, common);
  StringSink sink;
  tmpl.render(names, sink);
  std::string& out = sink.out;
  if (!tmpl.is_valid()) {
    const std::string error = tmpl.error_message();
    tmpl = compiled.tmpl;  // a failed render leaves its error in the copy: the next one starts clean
    throw TemplateError(file + ": " + error);
  }
  for (auto at = out.find(kBlankLine); at != std::string::npos; at = out.find(kBlankLine, at)) {
    out.erase(at, kBlankLine.size());
  }
  return std::move(out);
}

// Control characters (CR and LF above all: header injection) become spaces; runs of spaces
// shrink to one; the ends are trimmed.
std::string single_line(const std::string& subject) {
  std::string out;
  out.reserve(subject.size());
  for (const char c : subject) {
    const auto u = static_cast<unsigned char>(c);
    const char kept = (u < 0x20 || u == 0x7f) ? ' ' : c;
    if (kept == ' ' && (out.empty() || out.back() == ' ')) continue;
    out += kept;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string read_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  if (!in) throw TemplateError(file.string() + ": cannot be read");
  return content.str();
}

}  // namespace

Renderer::Renderer(const std::string& templates_dir, const std::string& locale) : locale_(locale) {
  if (locale.empty() || locale.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_") !=
                            std::string::npos) {
    throw TemplateError("locale \"" + locale + "\": only letters and '_' are allowed (pt_BR, en)");
  }
  const std::string prefix = locale + "/";
  std::vector<std::pair<std::string, const std::string*>> embedded;
  for (const auto& [key, content] : embedded_templates()) {
    if (key.compare(0, prefix.size(), prefix) != 0) continue;
    if (key.compare(prefix.size(), 8, "answers/") == 0) continue;  // canned answers: answer()
    embedded.emplace_back(key, &content);
  }
  // Text parts before HTML parts, as in a folder (see load_source).
  std::stable_partition(embedded.begin(), embedded.end(),
                        [](const auto& entry) { return !ends_with(entry.first, kHtmlSuffix); });
  for (const auto& [key, content] : embedded) {
    load_source("embedded:" + key, key.substr(prefix.size()), *content, general_);
  }

  if (!templates_dir.empty()) {
    std::error_code ec;
    const fs::path root{templates_dir};
    if (fs::exists(root, ec) && !fs::is_directory(root, ec)) {
      throw TemplateError(templates_dir + ": is not a folder");
    }
    const fs::path folder = root / locale;
    if (fs::is_directory(folder, ec)) load_folder(folder, general_);
  }
  check_complete(general_, templates_dir.empty() ? "embedded" : templates_dir);
}

void Renderer::add_type_overrides(const std::string& type_id, const std::string& dir) {
  std::error_code ec;
  fs::path folder{dir};
  if (!fs::is_directory(folder, ec)) {
    throw TemplateError("type " + type_id + ": template folder " + dir + " does not exist");
  }
  if (fs::is_directory(folder / locale_, ec)) folder /= locale_;

  const auto existing = by_type_.find(type_id);
  TemplateSet set = existing != by_type_.end() ? existing->second : general_;
  load_folder(folder, set);
  check_complete(set, "type " + type_id);
  by_type_[type_id] = std::move(set);
}

RenderedMail Renderer::render(const std::string& name, const std::string& type_id,
                              const kainjow::mustache::data& context) const {
  return render(name, type_id, context, nullptr);
}

RenderedMail Renderer::render(const std::string& name, const std::string& type_id,
                              const kainjow::mustache::data& mail, const kainjow::mustache::data* common) const {
  const TemplateSet* set = &general_;
  if (const auto typed = by_type_.find(type_id); typed != by_type_.end()) set = &typed->second;

  const auto text = set->text.find(name);
  if (text == set->text.end()) throw TemplateError("unknown template \"" + name + "\"");

  RenderedMail rendered;
  rendered.subject = single_line(render_part(text->second.subject, mail, common, text->second.file));
  rendered.text = render_part(text->second.body, mail, common, text->second.file);
  if (const auto html = set->html.find(name); html != set->html.end()) {
    rendered.html = render_part(html->second.body, mail, common, html->second.file);
  }
  return rendered;
}

std::vector<std::string> Renderer::names() {
  return {std::begin(kTemplateNames), std::end(kTemplateNames)};
}

std::optional<std::string> Renderer::answer(const std::string& templates_dir, const std::string& locale,
                                            const std::string& name) {
  const bool good_name = !name.empty() && name.size() <= 100 &&
                         std::all_of(name.begin(), name.end(), [](char c) {
                           return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
                         });
  if (!good_name) return std::nullopt;
  if (!templates_dir.empty()) {
    std::error_code ec;
    const fs::path file = fs::path(templates_dir) / locale / "answers" / (name + kTextSuffix);
    if (fs::is_regular_file(file, ec)) return read_file(file);
  }
  const auto& embedded = embedded_templates();
  const auto found = embedded.find(locale + "/answers/" + name + kTextSuffix);
  if (found == embedded.end()) return std::nullopt;
  return found->second;
}

std::vector<std::string> Renderer::answer_names(const std::string& templates_dir, const std::string& locale) {
  std::set<std::string> names;
  const std::string prefix = locale + "/answers/";
  for (const auto& [key, content] : embedded_templates()) {
    if (key.compare(0, prefix.size(), prefix) == 0 && ends_with(key, kTextSuffix))
      names.insert(key.substr(prefix.size(), key.size() - prefix.size() - std::string(kTextSuffix).size()));
  }
  if (!templates_dir.empty()) {
    std::error_code ec;
    for (fs::directory_iterator it{fs::path(templates_dir) / locale / "answers", ec}, end; !ec && it != end;
         it.increment(ec)) {
      const std::string file = it->path().filename().string();
      if (ends_with(file, kTextSuffix) && !ends_with(file, kHtmlSuffix))
        names.insert(file.substr(0, file.size() - std::string(kTextSuffix).size()));
    }
  }
  return {names.begin(), names.end()};
}

std::vector<std::string> Renderer::variables() {
  return {std::begin(kVariables), std::end(kVariables)};
}

// A NAME.mustache replaces the whole template NAME, its HTML part included (so an edited text
// never goes out beside a stale HTML); a NAME.html.mustache read after it (same folder) adds the
// HTML part back. Callers pass text parts before HTML parts.
void Renderer::load_source(const std::string& file, const std::string& file_name,
                           std::string source, TemplateSet& into) const {
  const bool is_html = ends_with(file_name, kHtmlSuffix);
  const std::string name =
      file_name.substr(0, file_name.size() - std::string(is_html ? kHtmlSuffix : kTextSuffix).size());
  if (!is_known_name(name)) {
    std::string known;
    for (const char* n : kTemplateNames) known += (known.empty() ? "" : ", ") + std::string(n);
    throw TemplateError(file + ": unknown template name \"" + name + "\" (known: " + known + ")");
  }
  if (source.compare(0, 3, "\xEF\xBB\xBF") == 0) source.erase(0, 3);  // a BOM some editors write

  if (is_html) {
    into.html.insert_or_assign(name, HtmlPart{file, compile(file, "body", prepare_body(source), true)});
    return;
  }

  const char* const layout = "expected \"Subject: …\", an empty line, then the body";
  const auto first_end = source.find('\n');
  if (first_end == std::string::npos) throw TemplateError(file + ": " + layout);
  std::string first = source.substr(0, first_end);
  if (!first.empty() && first.back() == '\r') first.pop_back();
  if (first.size() < 8 || !std::equal(first.begin(), first.begin() + 8, "Subject:", [](char a, char b) {
        return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
      })) {
    throw TemplateError(file + ": the first line must be \"Subject: …\"; " + layout);
  }
  const auto second_end = source.find('\n', first_end + 1);
  std::string second = source.substr(first_end + 1, second_end == std::string::npos
                                                        ? std::string::npos
                                                        : second_end - first_end - 1);
  if (!second.empty() && second.back() == '\r') second.pop_back();
  if (!second.empty()) throw TemplateError(file + ": the line after Subject must be empty; " + layout);
  const std::string body = second_end == std::string::npos ? "" : source.substr(second_end + 1);

  into.text.insert_or_assign(name, TextPart{file, compile(file, "Subject", trim(first.substr(8)), false),
                                            compile(file, "body", prepare_body(body), false)});
  into.html.erase(name);
}

void Renderer::load_folder(const std::filesystem::path& folder, TemplateSet& into) const {
  std::vector<fs::path> text_files;
  std::vector<fs::path> html_files;
  std::error_code ec;
  for (fs::directory_iterator it{folder, ec}, end; !ec && it != end; it.increment(ec)) {
    const std::string file_name = it->path().filename().string();
    if (!ends_with(file_name, kTextSuffix) || it->is_directory(ec)) continue;
    (ends_with(file_name, kHtmlSuffix) ? html_files : text_files).push_back(it->path());
  }
  if (ec) throw TemplateError(folder.string() + ": " + ec.message());
  std::sort(text_files.begin(), text_files.end());
  std::sort(html_files.begin(), html_files.end());
  for (const auto* files : {&text_files, &html_files}) {
    for (const auto& file : *files) load_source(file.string(), file.filename().string(), read_file(file), into);
  }
}

void Renderer::check_complete(const TemplateSet& set, const std::string& where) const {
  std::string missing;
  for (const char* name : kTemplateNames) {
    if (set.text.count(name) == 0) missing += (missing.empty() ? "" : ", ") + std::string(name);
  }
  if (!missing.empty()) {
    throw TemplateError(where + ": locale \"" + locale_ + "\" has no template " + missing +
                        " (neither embedded nor in the templates folder)");
  }
}

data list_of(const std::vector<data>& items) {
  data list{data::type::list};
  for (const auto& item : items) list.push_back(item);
  return list;
}

std::string format_size(std::uint64_t bytes, const std::string& locale) {
  constexpr std::uint64_t kKiB = 1024;
  constexpr std::uint64_t kMiB = 1024 * 1024;
  if (bytes < kKiB) return std::to_string(bytes) + " B";
  if (bytes < kMiB) return std::to_string((bytes + kKiB / 2) / kKiB) + " KB";
  const std::uint64_t tenths = (bytes / (kMiB / 1024) * 10 + 512) / 1024;  // MB × 10, rounded
  const char separator = locale.compare(0, 2, "en") == 0 ? '.' : ',';
  std::string out = std::to_string(tenths / 10);
  if (tenths % 10 != 0) out += separator + std::to_string(tenths % 10);
  return out + " MB";
}

}  // namespace atendd

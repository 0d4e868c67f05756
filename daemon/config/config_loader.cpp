// config_loader.cpp — load_config(): reads the INI text (ini_reader.h), checks every section,
// key and value against DESIGN.md's "Configuration", resolves relative paths against the
// file's directory, reads secret files and cross-checks references, collecting every problem
// with file, line and key. Never throws, and never puts a secret's content into a problem.
#include <Poco/Exception.h>
#include <Poco/RegularExpression.h>
#include <Poco/SHA2Engine.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <utility>

#include "daemon/config/config.h"
#include "daemon/config/ini_reader.h"

namespace atendd {
namespace {

namespace fs = std::filesystem;

constexpr std::uintmax_t kMaxConfigBytes = 4 * 1024 * 1024;
constexpr std::size_t kMaxSecretBytes = 64 * 1024;

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A value as shown in a problem: quoted, shortened, without control characters.
std::string shown(std::string_view value) {
  std::string out = "\"";
  for (std::size_t i = 0; i < value.size() && i < 80; ++i) {
    unsigned char c = static_cast<unsigned char>(value[i]);
    out += c < 0x20 || c == 0x7f ? '?' : static_cast<char>(c);
  }
  if (value.size() > 80) out += "…";
  return out + "\"";
}

std::vector<std::string> split_list(std::string_view s, bool lowercase) {
  std::vector<std::string> items;
  while (true) {
    auto comma = s.find(',');
    auto item = trim(s.substr(0, comma));
    if (!item.empty()) items.push_back(lowercase ? lower(item) : std::string(item));
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return items;
}

bool parse_int(std::string_view s, long long& out) {
  bool negative = !s.empty() && s.front() == '-';
  if (negative || (!s.empty() && s.front() == '+')) s.remove_prefix(1);
  if (s.empty() || s.size() > 12) return false;
  long long v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  out = negative ? -v : v;
  return true;
}

bool is_name(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

// local@domain: one '@', both sides non-empty, no spaces, controls or address punctuation.
bool is_address(std::string_view s) {
  auto at = s.find('@');
  if (at == 0 || at == std::string_view::npos || at + 1 == s.size()) return false;
  if (s.find('@', at + 1) != std::string_view::npos) return false;
  return std::none_of(s.begin(), s.end(), [](char c) {
    unsigned char u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7f ||
           std::string_view("<>(),;:\"[]\\").find(c) != std::string_view::npos;
  });
}

bool is_domain(std::string_view s) {
  if (s.empty() || s.front() == '.' || s.back() == '.') return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' ||
           static_cast<unsigned char>(c) >= 0x80;
  });
}

// Returns what is wrong with a protocol format, or "" when it is good.
std::string protocol_format_error(std::string_view f) {
  int seq = 0;
  for (std::size_t i = 0; i < f.size(); ++i) {
    char c = f[i];
    if (c == '{') {
      auto close = f.find('}', i);
      if (close == std::string_view::npos) return "'{' without '}'";
      auto token = f.substr(i + 1, close - i - 1);
      if (token.substr(0, 4) == "seq:") {
        long long digits = 0;
        if (!parse_int(token.substr(4), digits) || digits < 1 || digits > 18)
          return "{seq:N} needs N from 1 to 18";
        ++seq;
      } else if (token != "yyyy" && token != "yy" && token != "mm" && token != "dd") {
        return "unknown placeholder {" + std::string(token) +
               "} (known: {yyyy} {yy} {mm} {dd} {seq:N})";
      }
      i = close;
    } else if (c == '}') {
      return "'}' without '{'";
    } else if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '[' || c == ']') {
      return "literal text may not contain spaces, control characters, '[' or ']'";
    }
  }
  if (seq != 1) return "must contain {seq:N} exactly once";
  return "";
}

// "pt" or "pt_BR".
bool is_locale(std::string_view s) {
  auto lower_at = [&](std::size_t i) { return s[i] >= 'a' && s[i] <= 'z'; };
  auto upper_at = [&](std::size_t i) { return s[i] >= 'A' && s[i] <= 'Z'; };
  if (s.size() == 2) return lower_at(0) && lower_at(1);
  return s.size() == 5 && lower_at(0) && lower_at(1) && s[2] == '_' && upper_at(3) && upper_at(4);
}

enum class PathKind { Any, File, Directory };

struct Reference {
  int line;
  std::string key;
  std::string what;  // "agent", "type", "workflow"
  std::string id;
};

class Loader;

// Reads one section's keys through the Poco configuration. Every reader marks its key as
// known (so finish() can name the unknown ones) and leaves `out` untouched when the key is
// absent or its value is bad.
class SectionReader {
 public:
  SectionReader(Loader& loader, const IniSection* section, std::string name)
      : loader_(loader), section_(section), name_(std::move(name)) {}

  int line() const { return section_ ? section_->line : 0; }
  std::string full(const char* key) const { return name_ + "." + key; }
  int line_of(const char* key) const {
    const IniEntry* e = find(key);
    return e ? e->line : line();
  }
  void problem(const char* key, const std::string& message);
  bool has(const char* key) {
    known_.insert(key);
    return find(key) != nullptr;
  }

  bool text(const char* key, std::string& out);
  void require(const char* key) {
    if (!has(key)) problem(key, "required key is missing");
  }
  void not_empty(const char* key, std::string& out) {
    std::string v;
    if (!text(key, v)) return;
    if (v.empty()) {
      problem(key, "must not be empty");
    } else {
      out = v;
    }
  }
  void no_spaces(const char* key, std::string& out) {
    std::string v;
    if (!text(key, v)) return;
    if (std::any_of(v.begin(), v.end(),
                    [](char c) { return std::isspace(static_cast<unsigned char>(c)); })) {
      problem(key, shown(v) + " may not contain spaces");
    } else {
      out = v;
    }
  }
  void integer(const char* key, int& out, int min, int max = INT_MAX);
  void port(const char* key, int& out) {
    std::string v;
    long long n = 0;
    if (!text(key, v)) return;
    if (!parse_int(v, n) || n < 1 || n > 65535) {
      problem(key, shown(v) + " is not a port from 1 to 65535");
    } else {
      out = static_cast<int>(n);
    }
  }
  void boolean(const char* key, bool& out);
  template <class T>
  void choice(const char* key, T& out, const std::vector<std::pair<const char*, T>>& options) {
    std::string v;
    if (!text(key, v)) return;
    std::string names;
    for (const auto& [name, value] : options) {
      if (lower(v) == name) {
        out = value;
        return;
      }
      names += (names.empty() ? "" : "|") + std::string(name);
    }
    problem(key, shown(v) + " is not one of " + names);
  }
  void address(const char* key, std::string& out, bool lowercase) {
    std::string v;
    if (!text(key, v)) return;
    if (!is_address(v)) {
      problem(key, shown(v) + " is not an e-mail address (local@domain)");
    } else {
      out = lowercase ? lower(v) : v;
    }
  }
  void addresses(const char* key, std::vector<std::string>& out) {
    std::string v;
    if (!text(key, v)) return;
    auto items = split_list(v, true);
    bool good = true;
    for (const auto& item : items) {
      if (!is_address(item)) {
        problem(key, shown(item) + " is not an e-mail address (local@domain)");
        good = false;
      }
    }
    if (good) out = items;
  }
  void list(const char* key, std::vector<std::string>& out, bool lowercase) {
    std::string v;
    if (text(key, v)) out = split_list(v, lowercase);
  }
  // Resolves a relative path against the configuration's directory; File and Directory must
  // exist. Returns true when `out` was set to a non-empty path.
  bool path(const char* key, std::string& out, PathKind kind);
  // A *_file key whose content is a secret: the path must name a readable, non-empty file.
  void secret(const char* key, std::string& path_out, std::string& content_out);
  // The keys of the section that begin with `prefix` ("stage_" → "stage_analise", …), in file
  // order; each is marked as known.
  std::vector<std::string> keys_with_prefix(const char* prefix) {
    std::vector<std::string> keys;
    if (!section_) return keys;
    for (const auto& e : section_->entries) {
      if (e.key.rfind(prefix, 0) == 0) {
        known_.insert(e.key);
        keys.push_back(e.key);
      }
    }
    return keys;
  }
  // Reports the keys that no reader asked for.
  void finish();

 private:
  const IniEntry* find(const char* key) const {
    if (!section_) return nullptr;
    for (const auto& e : section_->entries) {
      if (e.key == key) return &e;
    }
    return nullptr;
  }

  Loader& loader_;
  const IniSection* section_;
  std::string name_;
  std::set<std::string> known_;
};

class Loader {
 public:
  Loader(const IniDocument& doc, std::string file, fs::path base_dir)
      : doc_(doc), file_(std::move(file)), base_dir_(std::move(base_dir)) {}

  ConfigResult run();

  void problem(int line, std::string key, std::string message) {
    problems_.push_back({file_, line, std::move(key), std::move(message)});
  }
  std::string raw(const std::string& full_key) const {
    return doc_.values->getRawString(full_key, "");
  }
  std::string resolve(const std::string& path) const {
    fs::path p(path);
    if (p.is_relative()) p = base_dir_ / p;
    return p.lexically_normal().string();
  }

 private:
  void read_server(SectionReader& s);
  void read_smtp(SectionReader& s);
  void read_mailbox(SectionReader& s, MailboxConfig& m);
  void read_agent(SectionReader& s, AgentConfig& a);
  void read_type(SectionReader& s, TypeConfig& t);
  void read_fields(SectionReader& s, TypeConfig& t);
  void read_workflow(SectionReader& s, WorkflowConfig& w);
  void read_channel(SectionReader& s, ChannelConfig& c);
  void read_admin_tokens(SectionReader& s, const std::string& path, std::vector<AdminToken>& out);
  void refer(SectionReader& s, const char* key, const char* what, const std::string& id) {
    if (!id.empty()) references_.push_back({s.line_of(key), s.full(key), what, id});
  }
  void check_references();
  void check_subflows();
  void read_confirmation(SectionReader& s);

  // A stage entering another workflow: where it is written, from which workflow, into which.
  struct Subflow {
    int line;
    std::string key;
    std::string from;
    std::string to;
  };

  const IniDocument& doc_;
  std::string file_;
  fs::path base_dir_;
  Config config_;
  std::vector<ConfigProblem> problems_;
  std::vector<Reference> references_;
  std::vector<Subflow> subflows_;
  // address → line and "agent.ID.email" of the agent that has it
  std::map<std::string, std::pair<int, std::string>> agent_emails_;
};

void SectionReader::problem(const char* key, const std::string& message) {
  loader_.problem(line_of(key), full(key), message);
}

bool SectionReader::text(const char* key, std::string& out) {
  if (!has(key)) return false;
  out = loader_.raw(full(key));
  return true;
}

void SectionReader::integer(const char* key, int& out, int min, int max) {
  std::string v;
  long long n = 0;
  if (!text(key, v)) return;
  if (!parse_int(v, n) || n > max) {
    problem(key, shown(v) + " is not a whole number" +
                     (max < INT_MAX ? " up to " + std::to_string(max) : std::string()));
  } else if (n < min) {
    problem(key, min == 0 ? "must not be negative" : "must be at least " + std::to_string(min));
  } else {
    out = static_cast<int>(n);
  }
}

void SectionReader::boolean(const char* key, bool& out) {
  std::string v;
  if (!text(key, v)) return;
  auto l = lower(v);
  if (l == "true" || l == "yes" || l == "on" || l == "1") {
    out = true;
  } else if (l == "false" || l == "no" || l == "off" || l == "0") {
    out = false;
  } else {
    problem(key, shown(v) + " is not a boolean (true|false|yes|no|on|off|1|0)");
  }
}

bool SectionReader::path(const char* key, std::string& out, PathKind kind) {
  std::string v;
  if (!text(key, v) || v.empty()) return false;
  std::string resolved = loader_.resolve(v);
  if (kind != PathKind::Any) {
    std::error_code ec;
    auto status = fs::status(resolved, ec);
    if (!fs::exists(status)) {
      problem(key, std::string(kind == PathKind::File ? "file" : "directory") + " " +
                       shown(resolved) + " does not exist");
      return false;
    }
    if (kind == PathKind::File && !fs::is_regular_file(status)) {
      problem(key, shown(resolved) + " is not a regular file");
      return false;
    }
    if (kind == PathKind::Directory && !fs::is_directory(status)) {
      problem(key, shown(resolved) + " is not a directory");
      return false;
    }
  }
  out = resolved;
  return true;
}

void SectionReader::secret(const char* key, std::string& path_out, std::string& content_out) {
  std::string p;
  if (!path(key, p, PathKind::File)) return;
  std::ifstream in(p, std::ios::binary);
  std::string content;
  if (in) {
    content.resize(kMaxSecretBytes + 1);
    in.read(content.data(), static_cast<std::streamsize>(content.size()));
    content.resize(static_cast<std::size_t>(in.gcount()));
  }
  if (!in && !in.eof()) {
    problem(key, "cannot read " + shown(p));
    return;
  }
  if (content.size() > kMaxSecretBytes) {
    problem(key, shown(p) + " is larger than " + std::to_string(kMaxSecretBytes) + " bytes");
    return;
  }
  while (!content.empty() && (content.back() == '\n' || content.back() == '\r')) {
    content.pop_back();
  }
  if (content.empty()) {
    problem(key, shown(p) + " is empty");
    return;
  }
  path_out = p;
  content.shrink_to_fit();  // read into a kMaxSecretBytes buffer: kept as is, each secret would hold it
  content_out = std::move(content);
}

void SectionReader::finish() {
  if (!section_) return;
  for (const auto& e : section_->entries) {
    if (!known_.count(e.key)) loader_.problem(e.line, name_ + "." + e.key, "unknown key");
  }
}

const std::vector<std::pair<const char*, std::string>> kLogLevels = {
    {"trace", "trace"},       {"debug", "debug"},     {"information", "information"},
    {"notice", "notice"},     {"warning", "warning"}, {"error", "error"},
    {"critical", "critical"}, {"fatal", "fatal"},     {"none", "none"}};

void Loader::read_server(SectionReader& s) {
  ServerConfig& out = config_.server;
  s.not_empty("name", out.name);
  s.require("address");
  s.address("address", out.address, false);

  std::string reply;
  if (s.text("reply_address", reply) && !reply.empty()) {
    auto at = reply.find('@');
    auto token = reply.find("{token}");
    std::string probe = reply;
    if (token != std::string::npos) probe.replace(token, 7, "x");
    if (token == std::string::npos || at == std::string::npos || token > at) {
      s.problem("reply_address", shown(reply) + " must contain {token} before the '@'");
    } else if (!is_address(probe)) {
      s.problem("reply_address", shown(reply) + " is not an e-mail address (local@domain)");
    } else {
      out.reply_address = reply;
    }
  }

  std::string state_dir;
  if (s.text("state_dir", state_dir)) {
    if (state_dir.empty()) {
      s.problem("state_dir", "must not be empty");
    } else {
      out.state_dir = resolve(state_dir);
    }
  }

  std::string blob_dir;
  if (s.text("blob_dir", blob_dir) && !blob_dir.empty()) out.blob_dir = resolve(blob_dir);
  s.integer("database_blob_max_kb", out.database_blob_max_kb, 0, 16384);

  std::string database;
  if (s.text("database", database) && !database.empty()) {
    if (database.rfind("sqlite:", 0) == 0) {
      std::string file = database.substr(7);
      if (file.empty()) {
        s.problem("database", "sqlite: needs a file name (sqlite:/var/lib/atendd/atendd.db)");
      } else {
        out.database = "sqlite:" + (file == ":memory:" ? file : resolve(file));
      }
    } else if (database.rfind("postgresql://", 0) == 0 || database.rfind("postgres://", 0) == 0) {
      out.database = database;
    } else {
      s.problem("database", shown(database) + " is neither sqlite:PATH nor postgresql://…");
    }
  }
  if (out.database.empty()) out.database = "sqlite:" + out.state_dir + "/atendd.db";

  std::string listen;
  if (s.text("admin_listen", listen)) {
    auto colon = listen.rfind(':');
    long long port = 0;
    bool good = colon != std::string::npos && colon > 0 &&
                parse_int(listen.substr(colon + 1), port) && port >= 1 && port <= 65535 &&
                listen.find_first_of(" \t") == std::string::npos;
    if (!good) {
      s.problem("admin_listen", shown(listen) + " is not HOST:PORT (127.0.0.1:8025, [::1]:8025)");
    } else {
      out.admin_listen = listen;
    }
  }
  if (s.path("admin_tokens", out.admin_tokens, PathKind::File))
    read_admin_tokens(s, out.admin_tokens, out.admin_token_hashes);
  s.secret("secret_file", out.secret_file, out.secret);

  std::string locale;
  if (s.text("locale", locale)) {
    bool good = is_locale(locale);
    if (!good) {
      s.problem("locale", shown(locale) + " is not a locale like pt_BR or en");
    } else {
      out.locale = locale;
    }
  }
  s.path("templates_dir", out.templates_dir, PathKind::Directory);

  std::string format;
  if (s.text("protocol_format", format)) {
    auto error = protocol_format_error(format);
    if (!error.empty()) {
      s.problem("protocol_format", shown(format) + ": " + error);
    } else {
      out.protocol_format = format;
    }
  }
  std::string tag;
  if (s.text("subject_tag", tag)) {
    if (tag.find("{protocol}") == std::string::npos) {
      s.problem("subject_tag", shown(tag) + " must contain {protocol}");
    } else {
      out.subject_tag = tag;
    }
  }
  s.no_spaces("trusted_authserv_id", out.trusted_authserv_id);
  s.integer("auto_reply_limit", out.auto_reply_limit, 0);
  s.choice("log_level", out.log_level, kLogLevels);
  if (s.text("default_type", config_.default_type)) {
    refer(s, "default_type", "type", config_.default_type);
  }
  s.finish();
}

void Loader::read_smtp(SectionReader& s) {
  SmtpConfig& out = config_.smtp;
  s.not_empty("host", out.host);
  s.port("port", out.port);
  s.choice<SmtpTls>(
      "tls", out.tls,
      {{"none", SmtpTls::None}, {"starttls", SmtpTls::StartTls}, {"tls", SmtpTls::Tls}});
  s.path("ca_file", out.ca_file, PathKind::File);
  s.text("user", out.user);
  s.secret("password_file", out.password_file, out.password);
  if (!out.user.empty() && !s.has("password_file")) {
    s.problem("user", "needs password_file as well");
  } else if (out.user.empty() && !out.password_file.empty()) {
    s.problem("password_file", "needs user as well");
  }
  s.no_spaces("helo", out.helo);
  s.integer("timeout_seconds", out.timeout_seconds, 1);
  s.integer("retry_initial_seconds", out.retry_initial_seconds, 1);
  s.integer("retry_max_seconds", out.retry_max_seconds, 1);
  s.integer("max_attempts", out.max_attempts, 1);
  if (out.retry_max_seconds < out.retry_initial_seconds) {
    s.problem("retry_max_seconds", "must not be less than retry_initial_seconds (" +
                                       std::to_string(out.retry_initial_seconds) + ")");
  }
  s.finish();
}

void Loader::read_mailbox(SectionReader& s, MailboxConfig& m) {
  s.require("url");
  std::string url;
  if (s.text("url", url)) {
    auto scheme_end = url.find("://");
    std::string scheme = scheme_end == std::string::npos ? "" : lower(url.substr(0, scheme_end));
    if ((scheme != "imap" && scheme != "imaps") || url.size() <= scheme_end + 3 ||
        url[scheme_end + 3] == '/') {
      s.problem("url", shown(url) + " is not imaps://HOST/FOLDER or imap://HOST/FOLDER");
    } else {
      m.url = url;
    }
  }
  s.choice<std::string>("tls", m.tls, {{"starttls", "starttls"}, {"none", "none"}});
  s.path("ca_file", m.ca_file, PathKind::File);
  s.require("user");
  s.not_empty("user", m.user);
  s.secret("password_file", m.password_file, m.password);
  s.secret("oauth2_token_file", m.oauth2_token_file, m.oauth2_token);
  bool has_password = s.has("password_file");
  bool has_token = s.has("oauth2_token_file");
  if (!has_password && !has_token) {
    s.problem("password_file", "required: set password_file or oauth2_token_file");
  } else if (has_password && has_token) {
    s.problem("oauth2_token_file", "set either password_file or oauth2_token_file, not both");
  }
  s.integer("poll_seconds", m.poll_seconds, 1);
  s.boolean("idle", m.idle);
  std::string after;
  if (s.text("after", after)) {
    if (after == "seen" || after == "delete" ||
        (after.rfind("move:", 0) == 0 && !trim(after.substr(5)).empty())) {
      m.after = after;
    } else {
      s.problem("after", shown(after) + " is not one of seen|move:FOLDER|delete");
    }
  }
  if (s.text("default_type", m.default_type)) refer(s, "default_type", "type", m.default_type);
  s.integer("max_message_mb", m.max_message_mb, 1, 2048);
  s.finish();
}

void Loader::read_agent(SectionReader& s, AgentConfig& a) {
  s.require("email");
  s.address("email", a.email, true);
  if (!a.email.empty()) {
    auto [first, inserted] =
        agent_emails_.emplace(a.email, std::make_pair(s.line_of("email"), s.full("email")));
    if (!inserted) {
      s.problem("email", shown(a.email) + " is already the address of the agent at line " +
                             std::to_string(first->second.first));
    }
  }
  a.name = a.id;
  s.not_empty("name", a.name);
  s.text("department", a.department);
  s.integer("level", a.level, 0);
  s.boolean("chief", a.chief);
  s.finish();
}

void Loader::read_type(SectionReader& s, TypeConfig& t) {
  t.name = t.id;
  s.not_empty("name", t.name);
  s.addresses("match_to", t.match_to);
  std::string subject;
  if (s.text("match_subject", subject) && !subject.empty()) {
    try {
      Poco::RegularExpression compiled(subject, Poco::RegularExpression::RE_UTF8);
      t.match_subject = subject;
    } catch (const Poco::Exception& e) {
      s.problem("match_subject", shown(subject) + " is not a regular expression: " + e.message());
    }
  }
  s.list("match_mailbox", t.match_mailbox, false);
  std::vector<std::string> domains;
  s.list("match_from_domain", domains, true);
  for (auto& d : domains) {
    if (!d.empty() && d.front() == '@') d.erase(0, 1);
    if (!is_domain(d)) s.problem("match_from_domain", shown(d) + " is not a domain");
  }
  t.match_from_domain = domains;
  s.choice<Priority>("priority", t.priority,
                     {{"urgent", Priority::Urgent},
                      {"high", Priority::High},
                      {"normal", Priority::Normal},
                      {"low", Priority::Low}});
  s.text("department", t.department);
  std::string assign;
  if (s.text("assign", assign) && !assign.empty()) {
    if (assign == "round_robin") {
      t.assign = AssignMode::RoundRobin;
    } else if (assign == "least_loaded") {
      t.assign = AssignMode::LeastLoaded;
    } else if (assign.rfind("agent:", 0) == 0 && assign.size() > 6) {
      t.assign = AssignMode::Agent;
      t.assign_agent = std::string(trim(assign.substr(6)));
      refer(s, "assign", "agent", t.assign_agent);
    } else {
      s.problem("assign", shown(assign) + " is not one of agent:ID|round_robin|least_loaded");
    }
  }
  s.integer("first_response_hours", t.first_response_hours, 0);
  s.integer("next_contact_days", t.next_contact_days, 0);
  s.addresses("watchers", t.watchers);
  s.boolean("opening_email", t.opening_email);
  s.boolean("closing_email", t.closing_email);
  s.boolean("cc_watchers", t.cc_watchers);
  s.boolean("forward_assigns_forwarder", t.forward_assigns_forwarder);
  s.integer("reopen_days", t.reopen_days, 0);
  s.integer("max_attachment_mb", t.max_attachment_mb, 0);
  s.integer("level", t.level, 0);
  if (s.text("workflow", t.workflow)) refer(s, "workflow", "workflow", t.workflow);
  s.path("templates_dir", t.templates_dir, PathKind::Directory);
  s.integer("auto_close_days", t.auto_close_days, 0);
  s.boolean("allow_type_change", t.allow_type_change);
  read_fields(s, t);
  s.boolean("expenses", t.expenses);
  s.finish();
}

// fields = NAME:KIND[:required_to_open|:required_to_close], … with KIND text, int, money, date or
// choice(A|B|…).
void Loader::read_fields(SectionReader& s, TypeConfig& t) {
  std::string value;
  if (!s.text("fields", value)) return;
  std::set<std::string> seen;
  std::string_view rest = value;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const std::string item(trim(rest.substr(0, comma)));
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    if (item.empty()) continue;
    std::vector<std::string> parts;
    std::string_view left = item;
    while (true) {
      const auto colon = left.find(':');
      parts.emplace_back(trim(left.substr(0, colon)));
      if (colon == std::string_view::npos) break;
      left = left.substr(colon + 1);
    }
    const std::string where = shown(item) + ": ";
    if (parts.size() < 2 || parts.size() > 3) {
      s.problem("fields", where + "write NAME:KIND or NAME:KIND:required_to_open|required_to_close");
      continue;
    }
    FieldSpec f;
    f.name = parts[0];
    if (!is_name(f.name)) {
      s.problem("fields", where + shown(f.name) + " is not a field name (letters, digits, '_' or '-')");
      continue;
    }
    if (!seen.insert(f.name).second) {
      s.problem("fields", where + "the field " + f.name + " is listed twice");
      continue;
    }
    const std::string& kind = parts[1];
    if (kind == "text") {
      f.kind = FieldKind::Text;
    } else if (kind == "int") {
      f.kind = FieldKind::Int;
    } else if (kind == "money") {
      f.kind = FieldKind::Money;
    } else if (kind == "date") {
      f.kind = FieldKind::Date;
    } else if (kind.rfind("choice(", 0) == 0 && kind.size() >= 8 && kind.back() == ')') {
      f.kind = FieldKind::Choice;
      std::string_view options = std::string_view(kind).substr(7, kind.size() - 8);
      bool good = true;
      while (true) {
        const auto bar = options.find('|');
        const std::string option(trim(options.substr(0, bar)));
        if (option.empty()) good = false;
        f.choices.push_back(option);
        if (bar == std::string_view::npos) break;
        options = options.substr(bar + 1);
      }
      if (!good) {
        s.problem("fields", where + "a choice needs its options: choice(A|B|C), none empty");
        continue;
      }
    } else {
      s.problem("fields", where + shown(kind) + " is not a kind (text, int, money, date, choice(A|B|…))");
      continue;
    }
    if (parts.size() == 3) {
      if (parts[2] == "required_to_open") {
        f.required_to_open = true;
      } else if (parts[2] == "required_to_close") {
        f.required_to_close = true;
      } else {
        s.problem("fields", where + shown(parts[2]) + " is not required_to_open or required_to_close");
        continue;
      }
    }
    t.fields.push_back(std::move(f));
  }
}

void Loader::read_workflow(SectionReader& s, WorkflowConfig& w) {
  s.require("stages");
  s.list("stages", w.stages, false);
  if (s.has("stages") && w.stages.empty()) s.problem("stages", "needs at least one stage");
  std::set<std::string> seen;
  for (const auto& stage : w.stages) {
    if (!is_name(stage)) {
      s.problem("stages", shown(stage) + " is not a stage name (letters, digits, '_' or '-')");
    } else if (!seen.insert(stage).second) {
      s.problem("stages", shown(stage) + " is listed twice");
    }
  }
  // stage_NAME = closes | requires_responsible | decision: ANSWER -> STAGE, … (options may be
  // combined with commas; "decision:" takes the rest of the line).
  for (const std::string& key : s.keys_with_prefix("stage_")) {
    const std::string stage = key.substr(6);
    const char* k = key.c_str();
    if (!seen.count(stage)) {
      s.problem(k, shown(stage) + " is not one of this workflow's stages");
      continue;
    }
    std::string value;
    s.text(k, value);
    StageConfig options;
    std::string flags = value;
    const auto decision = lower(value).find("decision:");
    if (decision != std::string::npos) {
      flags = value.substr(0, decision);
      for (const auto& pair : split_list(std::string_view(value).substr(decision + 9), false)) {
        const auto arrow = pair.find("->");
        const std::string answer = arrow == std::string::npos ? "" : std::string(trim(pair.substr(0, arrow)));
        const std::string target = arrow == std::string::npos ? "" : std::string(trim(pair.substr(arrow + 2)));
        if (!is_name(answer) || target.empty()) {
          s.problem(k, shown(pair) + " is not ANSWER -> STAGE");
        } else if (!seen.count(target)) {
          s.problem(k, "answer " + shown(answer) + " leads to " + shown(target) + ", which is not a stage of this workflow");
        } else if (answer == "next" || seen.count(answer)) {
          s.problem(k, "answer " + shown(answer) + " must differ from \"next\" and from the stage names");
        } else {
          options.answers.emplace_back(lower(answer), target);
        }
      }
      if (options.answers.empty()) s.problem(k, "a decision needs at least one ANSWER -> STAGE");
    }
    for (const auto& flag : split_list(flags, true)) {
      if (flag == "closes") {
        options.closes = true;
      } else if (flag == "requires_responsible") {
        options.requires_responsible = true;
      } else if (flag.rfind("workflow:", 0) == 0) {
        // workflow:OTHER[:return|:end] — enters OTHER; comes back after it (return) or ends there.
        std::string target(trim(std::string_view(flag).substr(9)));
        std::string mode = "return";
        if (const auto colon = target.find(':'); colon != std::string::npos) {
          mode = std::string(trim(std::string_view(target).substr(colon + 1)));
          target = std::string(trim(std::string_view(target).substr(0, colon)));
        }
        if (!is_name(target) || (mode != "return" && mode != "end")) {
          s.problem(k, shown(flag) + ": write workflow:OTHER, workflow:OTHER:return or workflow:OTHER:end");
        } else {
          options.subflow = target;
          options.subflow_returns = mode == "return";
          subflows_.push_back({s.line_of(k), s.full(k), w.id, target});
        }
      } else if (flag.rfind("answers:", 0) == 0) {
        // answers:NAME|NAME… — the canned answers of the stage (checked against the templates
        // when they are compiled).
        std::string_view names = std::string_view(flag).substr(8);
        while (true) {
          const auto bar = names.find('|');
          const std::string name(trim(names.substr(0, bar)));
          if (!is_name(name))
            s.problem(k, shown(flag) + ": " + shown(name) + " is not an answer name (answers:NAME|NAME…)");
          else
            options.canned_answers.push_back(name);
          if (bar == std::string_view::npos) break;
          names = names.substr(bar + 1);
        }
      } else if (flag.rfind("next_contact_days:", 0) == 0) {
        const std::string days(trim(std::string_view(flag).substr(18)));
        if (days.empty() || days.size() > 4 || !std::all_of(days.begin(), days.end(), [](char c) {
              return std::isdigit(static_cast<unsigned char>(c)) != 0;
            }))
          s.problem(k, shown(flag) + ": next_contact_days:N takes a whole number of days from 0 to 9999");
        else
          options.next_contact_days = std::stoi(days);
      } else {
        s.problem(k, shown(flag) + " is not one of closes|requires_responsible|next_contact_days:N|answers:NAME|…|"
                                   "workflow:OTHER[:return|:end]|decision: ANSWER -> STAGE, …");
      }
    }
    if (options.closes && !options.answers.empty())
      s.problem(k, "a stage that closes the ticket cannot also be a decision");
    if (!options.subflow.empty() && (options.closes || !options.answers.empty() || options.next_contact_days >= 0 ||
                                     !options.canned_answers.empty()))
      s.problem(k, "a stage that enters another workflow is no resting place: only requires_responsible goes with it");
    w.stage_options[stage] = options;
  }
  s.finish();
}

void Loader::read_channel(SectionReader& s, ChannelConfig& c) {
  s.require("kind");
  s.choice<ChannelKind>("kind", c.kind,
                        {{"whatsapp", ChannelKind::WhatsApp},
                         {"telegram", ChannelKind::Telegram},
                         {"generic", ChannelKind::Generic}});
  s.secret("secret_file", c.secret_file, c.secret);
  std::string url;
  if (s.text("send_url", url) && !url.empty()) {
    auto l = lower(url);
    if ((l.rfind("https://", 0) != 0 && l.rfind("http://", 0) != 0) ||
        url.find_first_of(" \t") != std::string::npos) {
      s.problem("send_url", shown(url) + " is not an http:// or https:// URL");
    } else {
      c.send_url = url;
    }
  }
  s.secret("token_file", c.token_file, c.token);
  s.no_spaces("verify_token", c.verify_token);
  std::string poll;
  if (s.text("poll_url", poll) && !poll.empty()) {
    auto l = lower(poll);
    if ((l.rfind("https://", 0) != 0 && l.rfind("http://", 0) != 0) || poll.find_first_of(" \t") != std::string::npos) {
      s.problem("poll_url", shown(poll) + " is not an http:// or https:// URL");
    } else if (c.kind != ChannelKind::Telegram) {
      s.problem("poll_url", "only a telegram channel is polled (getUpdates)");
    } else {
      c.poll_url = poll;
    }
  }
  s.integer("poll_seconds", c.poll_seconds, 1, 50);
  s.finish();
}

// The admin_tokens file: "name role token" a line, role read|admin; '#' lines and blank lines
// are skipped. Only each token's SHA-256 is kept.
void Loader::read_admin_tokens(SectionReader& s, const std::string& path, std::vector<AdminToken>& out) {
  std::ifstream in(path);
  if (!in) {
    s.problem("admin_tokens", shown(path) + " cannot be read");
    return;
  }
  std::string line;
  int number = 0;
  std::set<std::string> names;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::istringstream words(line);
    std::string name, role, token, extra;
    if (!(words >> name) || name[0] == '#') continue;
    const std::string where = path + " line " + std::to_string(number) + ": ";
    if (!(words >> role >> token) || (words >> extra)) {
      s.problem("admin_tokens", where + "needs \"name role token\"");
    } else if (role != "read" && role != "admin") {
      s.problem("admin_tokens", where + shown(role) + " is not a role (read|admin)");
    } else if (token.size() < 16) {
      s.problem("admin_tokens", where + "the token is shorter than 16 characters");
    } else if (!names.insert(name).second) {
      s.problem("admin_tokens", where + "the name " + shown(name) + " is used twice");
    } else {
      Poco::SHA2Engine sha(Poco::SHA2Engine::SHA_256);
      sha.update(token);
      out.push_back({name, role, Poco::DigestEngine::digestToHex(sha.digest())});
    }
  }
}

void Loader::check_references() {
  for (const auto& ref : references_) {
    bool found = ref.what == "agent"      ? config_.agents.count(ref.id) > 0
                 : ref.what == "workflow" ? config_.workflows.count(ref.id) > 0
                                          : config_.type(ref.id) != nullptr;
    if (!found) {
      problem(ref.line, ref.key,
              "no [" + ref.what + "." + ref.id + "] section (" + shown(ref.id) + ")");
    }
  }
  auto own = agent_emails_.find(lower(config_.server.address));
  if (!config_.server.address.empty() && own != agent_emails_.end()) {
    problem(own->second.first, own->second.second,
            shown(own->first) + " is server.address; an agent needs an address of their own");
  }
}

// Each entered workflow exists and no workflow enters itself, directly or through others.
void Loader::check_subflows() {
  for (const auto& entry : subflows_) {
    if (!config_.workflows.count(entry.to)) {
      problem(entry.line, entry.key, "no [workflow." + entry.to + "] section (" + shown(entry.to) + ")");
      continue;
    }
    // Depth-first over the workflows `entry.to` enters; a path back to `entry.from` is a cycle.
    std::vector<std::string> path{entry.from, entry.to};
    std::set<std::string> done;
    std::function<bool(const std::string&)> reaches_start = [&](const std::string& id) {
      if (!done.insert(id).second) return false;
      const auto found = config_.workflows.find(id);
      if (found == config_.workflows.end()) return false;
      for (const auto& [stage, options] : found->second.stage_options) {
        if (options.subflow.empty()) continue;
        path.push_back(options.subflow);
        if (options.subflow == entry.from || reaches_start(options.subflow)) return true;
        path.pop_back();
      }
      return false;
    };
    if (entry.to == entry.from || reaches_start(entry.to)) {
      std::string cycle;
      for (const auto& id : path) cycle += (cycle.empty() ? "" : " -> ") + id;
      problem(entry.line, entry.key, "workflows may not enter themselves: " + cycle);
    }
  }
}

// [confirmation] phrases_LOCALE = PHRASE | PHRASE | … (phrases may hold commas).
void Loader::read_confirmation(SectionReader& s) {
  for (const std::string& key : s.keys_with_prefix("phrases_")) {
    const std::string locale = key.substr(8);
    const char* k = key.c_str();
    if (!is_locale(locale)) {
      s.problem(k, shown(locale) + " is not a locale like pt_BR or en (phrases_pt_BR, phrases_en)");
      continue;
    }
    std::string value;
    s.text(k, value);
    std::vector<std::string> phrases;  // an empty value: no phrases for the locale
    bool good = true;
    auto has_word = [](const std::string& phrase) {
      return std::any_of(phrase.begin(), phrase.end(),
                         [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || (c & 0x80); });
    };
    for (std::string_view rest = value; !trim(value).empty();) {
      const auto bar = rest.find('|');
      const std::string phrase(trim(rest.substr(0, bar)));
      if (!has_word(phrase)) {
        s.problem(k, "an empty phrase: write PHRASE | PHRASE | …");
        good = false;
      } else {
        phrases.push_back(phrase);
      }
      if (bar == std::string_view::npos) break;
      rest = rest.substr(bar + 1);
    }
    if (good) config_.confirmation.phrases[locale] = phrases;
  }
  s.finish();
}

ConfigResult Loader::run() {
  problems_ = doc_.problems;
  const IniSection* server = nullptr;
  const IniSection* smtp = nullptr;
  for (const auto& section : doc_.sections) {
    if (section.name == "server") server = &section;
    if (section.name == "smtp") smtp = &section;
  }
  SectionReader server_reader(*this, server, "server");
  read_server(server_reader);
  SectionReader smtp_reader(*this, smtp, "smtp");
  read_smtp(smtp_reader);

  for (const auto& section : doc_.sections) {
    auto dot = section.name.find('.');
    std::string kind = section.name.substr(0, dot);
    std::string id = dot == std::string::npos ? "" : section.name.substr(dot + 1);
    bool named = kind == "mailbox" || kind == "agent" || kind == "type" || kind == "workflow" ||
                 kind == "channel";
    if (kind == "confirmation") {
      if (!id.empty()) {
        problem(section.line, section.name, "[confirmation] takes no name");
        continue;
      }
      SectionReader s(*this, &section, section.name);
      read_confirmation(s);
      continue;
    }
    if (kind == "server" || kind == "smtp") {
      if (!id.empty()) problem(section.line, section.name, "[" + kind + "] takes no name");
      continue;
    }
    if (!named) {
      problem(section.line, section.name,
              "unknown section (known: server, smtp, mailbox.NAME, agent.NAME, type.NAME, "
              "workflow.NAME, channel.NAME, confirmation)");
      continue;
    }
    if (id.empty()) {
      problem(section.line, section.name, "needs a name: [" + kind + ".NAME]");
      continue;
    }
    SectionReader s(*this, &section, section.name);
    if (kind == "mailbox") {
      auto& m = config_.mailboxes[id];
      m.id = id;
      read_mailbox(s, m);
    } else if (kind == "agent") {
      auto& a = config_.agents[id];
      a.id = id;
      read_agent(s, a);
    } else if (kind == "type") {
      TypeConfig t;
      t.id = id;
      t.order = static_cast<int>(config_.types.size());
      read_type(s, t);
      config_.types.push_back(std::move(t));
    } else if (kind == "workflow") {
      auto& w = config_.workflows[id];
      w.id = id;
      read_workflow(s, w);
    } else {
      auto& c = config_.channels[id];
      c.id = id;
      read_channel(s, c);
    }
  }

  if (config_.types.empty()) {
    TypeConfig builtin;
    builtin.id = "geral";
    builtin.name = "Geral";
    config_.types.push_back(builtin);
  }
  if (config_.default_type.empty()) config_.default_type = config_.types.front().id;
  check_references();
  check_subflows();

  ConfigResult result;
  std::stable_sort(problems_.begin(), problems_.end(),
                   [](const ConfigProblem& a, const ConfigProblem& b) { return a.line < b.line; });
  result.problems = std::move(problems_);
  if (result.problems.empty()) result.config = std::move(config_);
  return result;
}

fs::path absolute_dir(const std::string& dir) {
  std::error_code ec;
  fs::path p = fs::absolute(dir.empty() ? fs::path(".") : fs::path(dir), ec);
  if (ec) p = fs::path(dir);
  return p.lexically_normal();
}

ConfigResult check_text(const std::string& text, const std::string& name, const fs::path& base_dir,
                        const std::string& source_file) {
  try {
    IniDocument doc = read_ini(text, name);
    Loader loader(doc, name, base_dir);
    ConfigResult result = loader.run();
    if (result.config) result.config->source_file = source_file;
    return result;
  } catch (const std::exception& e) {
    ConfigResult result;
    result.problems.push_back(
        {name, 0, "", std::string("cannot check the configuration: ") + e.what()});
    return result;
  }
}

}  // namespace

ConfigResult load_config(const std::string& path) {
  auto unreadable = [&](const std::string& why) {
    ConfigResult result;
    result.problems.push_back({path, 0, "", why});
    return result;
  };
  try {
    std::error_code ec;
    auto status = fs::status(path, ec);
    if (!fs::exists(status)) return unreadable("configuration file does not exist");
    if (!fs::is_regular_file(status)) return unreadable("configuration file is not a regular file");
    if (fs::file_size(path, ec) > kMaxConfigBytes)
      return unreadable("configuration file is too large");
    std::ifstream in(path, std::ios::binary);
    if (!in.is_open()) return unreadable("cannot open the configuration file");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) return unreadable("cannot read the configuration file");
    fs::path absolute = absolute_dir(path);
    return check_text(text, path, absolute.parent_path(), absolute.string());
  } catch (const std::exception& e) {
    return unreadable(std::string("cannot read the configuration file: ") + e.what());
  }
}

ConfigResult load_config_text(const std::string& text, const std::string& name,
                              const std::string& base_dir) {
  return check_text(text, name, absolute_dir(base_dir), name);
}

}  // namespace atendd

// quarantine_command.cpp — see quarantine_command.h.
#include "daemon/admin/quarantine_command.h"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>

#include <Poco/JSON/Array.h>
#include <Poco/TemporaryFile.h>

#include "daemon/admin/quarantine_report.h"
#include "daemon/pipeline/inbound.h"
#include "daemon/pipeline/quarantine.h"
#include "daemon/runtime.h"
#include "parsers/mime_reader.h"

namespace atendd {

namespace {

constexpr int kUsage = 64;
constexpr int kNoInput = 66;
constexpr int kIoError = 74;

int exit_code_of(const QuarantineResult& r) {
  switch (r.status) {
    case QuarantineResult::Status::Done: return 0;
    case QuarantineResult::Status::StillQuarantined:
    case QuarantineResult::Status::NotQuarantined: return 1;
    case QuarantineResult::Status::NotFound: return kNoInput;
    case QuarantineResult::Status::RawMissing: return kIoError;
    case QuarantineResult::Status::Invalid: return kUsage;
  }
  return 1;
}

void print_result(const QuarantineResult& r, bool json, std::ostream& out) {
  if (json)
    out << stringify(quarantine_result_json(r)) << "\n";
  else
    out << r.message << "\n";
}

// A directory under the system's temporary directory, removed with everything in it.
class ScratchDir {
 public:
  ScratchDir() : path_(Poco::TemporaryFile::tempName() + ".explain") { std::filesystem::create_directories(path_); }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace

int run_quarantine_command(const Config& config, const std::vector<std::string>& args, const OperatorOptions& options,
                           std::ostream& out, std::ostream& err, Poco::Logger& log) {
  const std::string sub = args.size() > 1 ? args[1] : "";
  const std::string usage = "quarantine list | show ID | retry ID|--all | drop ID --reason TEXT";
  Runtime runtime(config, log);
  InboundPipeline pipeline(runtime.store(), runtime.blobs(), config, runtime.renderer(), runtime.clock(), log);
  Quarantine quarantine(runtime.store(), runtime.blobs(), pipeline, runtime.clock());

  if (sub == "list" && args.size() == 2) {
    const auto entries = quarantine.list(options.limit);
    const auto summary = runtime.store().quarantine_summary();
    if (options.json) {
      Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
      o->set("count", summary.count);
      Poco::JSON::Array::Ptr list = new Poco::JSON::Array;
      for (const auto& e : entries) list->add(quarantine_entry_json(e));
      o->set("messages", list);
      out << stringify(o) << "\n";
    } else {
      print_quarantine_list(entries, summary, out);
    }
    return 0;
  }
  std::int64_t id = 0;
  if (sub == "show" && args.size() == 3) {
    if (!parse_journal_id(args[2], id)) return err << "atendd: quarantine show needs a journal id\n", kUsage;
    const auto detail = quarantine.show(id);
    if (!detail) return err << "atendd: no journal entry " << args[2] << "\n", kNoInput;
    if (options.json)
      out << stringify(quarantine_detail_json(*detail)) << "\n";
    else
      print_quarantine_detail(*detail, out);
    return 0;
  }
  if (sub == "retry" && args.size() == 2 && options.all) {
    int code = 0;
    const auto results = quarantine.retry_all();
    for (const auto& r : results) {
      print_result(r, options.json, out);
      if (r.status != QuarantineResult::Status::Done) code = 1;
    }
    if (!options.json) out << results.size() << " message(s) retried\n";
    return code;
  }
  if (sub == "retry" && args.size() == 3 && !options.all) {
    if (!parse_journal_id(args[2], id)) return err << "atendd: quarantine retry needs a journal id or --all\n", kUsage;
    const auto r = quarantine.retry(id);
    print_result(r, options.json, out);
    return exit_code_of(r);
  }
  if (sub == "drop" && args.size() == 3) {
    if (!parse_journal_id(args[2], id)) return err << "atendd: quarantine drop needs a journal id\n", kUsage;
    if (options.reason.empty()) return err << "atendd: quarantine drop needs --reason TEXT\n", kUsage;
    const auto r = quarantine.drop(id, options.reason, options.actor);
    print_result(r, options.json, out);
    return exit_code_of(r);
  }
  err << "atendd: " << usage << " (see atendd --help)\n";
  return kUsage;
}

int run_route_explain(const Config& config, const std::string& file, const OperatorOptions& options,
                      std::ostream& out, std::ostream& err, Poco::Logger& log) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return err << "atendd: cannot read " << file << "\n", kNoInput;
  RawMessage raw;
  raw.bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (in.bad()) return err << "atendd: cannot read " << file << "\n", kNoInput;
  raw.source = "deliver";
  raw.mailbox = options.mailbox;
  if (!raw.mailbox.empty() && !config.mailboxes.count(raw.mailbox))
    return err << "atendd: no mailbox '" << raw.mailbox << "' in the configuration\n", kUsage;

  // The real store (read inside a transaction that is rolled back) — or, when the SQLite file
  // does not exist yet, an empty one in memory, so that explaining creates nothing.
  std::string database = config.server.database;
  std::string note;
  if (database.rfind("sqlite:", 0) == 0 && !std::filesystem::exists(database.substr(7))) {
    note = "the store " + database.substr(7) + " does not exist yet: explained against an empty one";
    database = "sqlite::memory:";
  }
  std::unique_ptr<Store> store = open_store(database);
  ScratchDir scratch;
  BlobStore blobs(scratch.path());
  const auto renderer = make_renderer(config);
  SystemClock clock;
  Poco::Logger& quiet = Poco::Logger::get("atendd.explain");
  quiet.setLevel(Poco::Message::PRIO_FATAL);
  (void)log;
  InboundPipeline pipeline(*store, blobs, config, *renderer, clock, quiet);
  Explanation explanation(true);
  const Outcome outcome = pipeline.explain(raw, explanation);

  if (options.json) {
    Poco::JSON::Object::Ptr o = explanation_json(explanation.steps(), explanation.mails());
    o->set("file", file);
    o->set("mailbox", raw.mailbox);
    o->set("outcome", std::string(outcome_name(outcome.kind)));
    o->set("protocol", outcome.protocol);
    o->set("detail", outcome.detail);
    o->set("written", false);
    o->set("note", note);
    out << stringify(o) << "\n";
    return 0;
  }
  out << "route --explain " << file << (raw.mailbox.empty() ? "" : " (mailbox " + raw.mailbox + ")")
      << ": nothing was written, nothing was sent\n";
  if (!note.empty()) out << "note: " << note << "\n";
  out << explanation_text(explanation.steps());
  out << "outcome: " << outcome_name(outcome.kind) << (outcome.protocol.empty() ? "" : " " + outcome.protocol)
      << (outcome.detail.empty() ? "" : " (" + outcome.detail + ")") << "\n";
  const auto& mails = explanation.mails();
  out << mails.size() << " mail(s) would be sent\n";
  for (std::size_t i = 0; i < mails.size(); ++i) {
    std::string to;
    for (const auto& r : mails[i].recipients) to += (to.empty() ? "" : ", ") + r;
    out << "\n=== mail " << i + 1 << " of " << mails.size() << ": " << mails[i].template_name << " to " << to
        << " ===\n";
    // As the recipient reads it: the main headers decoded, then the text.
    const ParsedMessage mail = parse_message(mails[i].raw);
    std::string recipients;
    for (const auto& a : mail.to) recipients += (recipients.empty() ? "" : ", ") + a.address;
    out << "From: " << mail.from.name << " <" << mail.from.address << ">\n"
        << "To: " << recipients << "\n"
        << "Subject: " << mail.subject << "\n";
    for (const char* name : {"Reply-To", "In-Reply-To", "Auto-Submitted", "X-Loop"})
      if (const std::string* value = mail.header(name)) out << name << ": " << *value << "\n";
    std::string text = mail.text;
    for (std::size_t at = text.find("\r\n"); at != std::string::npos; at = text.find("\r\n", at)) text.erase(at, 1);
    out << "\n" << text << (text.empty() || text.back() == '\n' ? "" : "\n");
  }
  return 0;
}

}  // namespace atendd

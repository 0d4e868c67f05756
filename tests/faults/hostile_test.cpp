// hostile_test.cpp — invariant 4 and the file-name half of invariant 5 against a generated
// hostile-mail corpus (hostile_mail.h): each message is piped to `atendd deliver` as an MTA would,
// in an empty working directory, and must be processed or rejected (exit 0 or 65, never a crash
// or a signal) with a journal entry that says what became of it, within bounded memory (the
// child's peak RSS from wait4) and time; nothing may be written outside the state directory,
// stored attachment names are never paths, and no header we send carries an injected line.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "faults/faults_site.h"
#include "faults/hostile_mail.h"

using namespace atendd;
using namespace atendd::test;

namespace {

struct ChildRun {
  int exit_code = -1;      // -1: killed by a signal
  int signal = 0;
  long max_rss_kb = 0;
  double seconds = 0;
  std::string output;
};

// `atendd ARGS` with stdin from `input`, in `cwd`, output to a file; peak RSS via wait4.
ChildRun run_child(const std::vector<std::string>& args, const std::string& input, const std::string& cwd,
                   const std::string& output) {
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int in = ::open(input.c_str(), O_RDONLY);
    const int out = ::open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(out, 2);
    for (int fd = 3; fd < 1024; ++fd) ::close(fd);
    if (::chdir(cwd.c_str()) != 0) ::_exit(126);
    // ASan keeps freed memory in a quarantine (256 MB by default), which would count as RSS.
    const char* asan = std::getenv("ASAN_OPTIONS");
    const std::string options = std::string(asan ? asan : "") + ":quarantine_size_mb=16";
    ::setenv("ASAN_OPTIONS", options.c_str(), 1);
    std::vector<char*> argv{const_cast<char*>(ATENDD_BINARY)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ChildRun run;
  int status = 0;
  rusage usage{};
  while (::wait4(pid, &status, 0, &usage) < 0) {
  }
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  run.max_rss_kb = usage.ru_maxrss;
  if (WIFEXITED(status)) run.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) run.signal = WTERMSIG(status);
  run.output = read_file(output);
  return run;
}

// Every regular file under `root`, relative.
std::set<std::string> files_under(const std::string& root) {
  std::set<std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(root))
    if (e.is_regular_file()) out.insert(std::filesystem::relative(e.path(), root).string());
  return out;
}

}  // namespace

TEST_CASE("hostile mail is processed or rejected with a journal entry in bounded memory and time and writes nothing outside the state directory",
          "[faults][hostile]") {
  TempDir dir;
  SmtpSink sink(dir.path() + "/sink");
  const std::string state = dir.path() + "/state";
  const std::string work = dir.path() + "/cwd";
  const std::string inputs = dir.path() + "/inputs";
  std::filesystem::create_directories(work);
  std::filesystem::create_directories(inputs);
  const std::string config = dir.path() + "/atendd.ini";
  write_file(config, "[server]\nname = Suporte Teste\naddress = suporte@atendd.test\n"
                     "reply_address = suporte+{token}@atendd.test\nstate_dir = " + state + "\nlocale = pt_BR\n"
                     "[smtp]\nhost = 127.0.0.1\nport = " + std::to_string(sink.port()) + "\ntimeout_seconds = 5\n"
                     "[agent.maria]\nemail = maria@atendd.test\nname = Maria Souza\ndepartment = suporte\n"
                     "[type.geral]\nname = Geral\ndepartment = suporte\nassign = agent:maria\n");
  // The bound is 4× a plain message's peak (at least 512 MB: ASan's shadow and redzones), so a
  // parser that kept the million parts, or the 10 MB header many times over, would cross it.
  const std::string baseline_file = inputs + "/baseline.eml";
  write_file(baseline_file, new_message("baseline@cliente.test", "base@cliente.test", "Normal"));
  const ChildRun baseline = run_child({"--config", config, "deliver", "--mailbox", "suporte"}, baseline_file, work,
                                      dir.path() + "/baseline.out");
  REQUIRE(baseline.exit_code == 0);
  const long rss_bound_kb = std::max<long>(4 * baseline.max_rss_kb, 512 * 1024);
  constexpr double kSecondsBound = 30;
  const auto before = files_under(dir.path());

  FaultFigures figures{"hostile_mail"};
  const auto corpus = hostile_corpus();
  std::ostringstream report;
  for (const auto& mail : corpus) {
    const std::string path = inputs + "/" + mail.name + ".eml";
    {
      std::ofstream out(path, std::ios::binary);
      mail.write(out);
    }
    const size_t journal_before = SqliteStore(state + "/atendd.db").journal(100000).size();
    const ChildRun run = run_child({"--config", config, "deliver", "--mailbox", "suporte"}, path, work,
                                   dir.path() + "/" + mail.name + ".out");
    std::filesystem::remove(path);  // some are tens of megabytes
    ++figures.hostile;
    report << mail.name << ": exit " << run.exit_code << " signal " << run.signal << ", " << run.max_rss_kb / 1024
           << " MB peak, " << run.seconds << " s\n";
    INFO(mail.name << " → " << run.output);
    CHECK(run.signal == 0);
    CHECK((run.exit_code == 0 || run.exit_code == 65));
    figures.crashes += run.signal != 0 || (run.exit_code != 0 && run.exit_code != 65);
    CHECK(run.max_rss_kb < rss_bound_kb);
    CHECK(run.seconds < kSecondsBound);
    SqliteStore store(state + "/atendd.db");
    const auto journal = store.journal(100000);
    REQUIRE(journal.size() == journal_before + 1);  // exactly one entry says what became of it
    const JournalEntry& entry = journal.front();
    CHECK(entry.outcome != "failed");
    CHECK_FALSE(entry.outcome.empty());
    if (entry.outcome == "rejected") CHECK_FALSE(entry.detail.empty());
    figures.lost += journal.size() == journal_before;
  }
  std::cerr << report.str();
  WARN(report.str());

  // Nothing outside the state directory: the working directory is still empty, and every new
  // file of the test directory is under state/ (or the inputs, outputs and the sink's mail).
  CHECK(files_under(work).empty());
  for (const auto& f : files_under(dir.path())) {
    if (before.count(f)) continue;
    const bool ours = f.rfind("state/", 0) == 0 || f.rfind("sink/", 0) == 0 || f.rfind("inputs/", 0) == 0 ||
                      (f.find('/') == std::string::npos && f.size() > 4 && f.substr(f.size() - 4) == ".out");
    INFO(f);
    CHECK(ours);
  }
  // Stored attachment names are plain names: no separators, no "..", not empty, bounded.
  SqliteStore store(state + "/atendd.db");
  long attachments = 0;
  for (const auto& t : store.tickets(std::nullopt, 1000))
    for (const auto& a : store.articles(t.id))
      for (const auto& att : store.attachments(a.id)) {
        ++attachments;
        INFO(att.filename);
        CHECK(att.filename.find('/') == std::string::npos);
        CHECK(att.filename.find('\\') == std::string::npos);
        CHECK(att.filename.find('\0') == std::string::npos);
        CHECK(att.filename != "..");
        CHECK(att.filename != ".");
        CHECK_FALSE(att.filename.empty());
        CHECK(att.filename.size() <= 255);
      }
  CHECK(attachments >= 8);
  // What reached the SMTP server carries no injected header and no smuggled recipient.
  sink.wait_for(2, 10);
  for (const auto& m : sink.mails()) {
    const std::string head = m.raw.substr(0, m.raw.find("\r\n\r\n"));
    CHECK(head.find("\r\nX-Injected") == std::string::npos);
    CHECK(head.find("\r\nBcc:") == std::string::npos);
    CHECK(head.find('\0') == std::string::npos);
    for (size_t i = 0; i < head.size(); ++i)
      if (head[i] == '\n' || head[i] == '\r') CHECK(head.compare(i - (head[i] == '\n' ? 1 : 0), 2, "\r\n") == 0);
    for (const auto& r : m.rcpt_tos) CHECK(r.find("evil.test") == std::string::npos);
  }
  figures.messages = static_cast<long>(corpus.size());
  figures.note = "peak RSS bound " + std::to_string(rss_bound_kb / 1024) + " MB";
  record(figures);
}

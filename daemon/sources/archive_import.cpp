// archive_import.cpp — see archive_import.h. The archive is indexed first (offsets and dates only),
// sorted by date so that a conversation is replayed in the order it was written, then read and
// applied in batches of one store transaction each (the pipeline's group commit).
#include "daemon/sources/archive_import.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "daemon/pipeline/inbound.h"
#include "daemon/runtime.h"
#include "daemon/sources/deliver_command.h"
#include "parsers/date_time.h"

namespace atendd {

namespace fs = std::filesystem;

namespace {

// A read-only view of a whole file (mmap; empty files have no mapping).
class MappedFile {
 public:
  explicit MappedFile(const std::string& path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) throw std::runtime_error("cannot open " + path);
    struct stat st {};
    if (::fstat(fd_, &st) != 0) {
      ::close(fd_);
      throw std::runtime_error("cannot read " + path);
    }
    size_ = static_cast<std::size_t>(st.st_size);
    if (size_ > 0) {
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd_, 0);
      if (p == MAP_FAILED) {
        ::close(fd_);
        throw std::runtime_error("cannot map " + path);
      }
      data_ = static_cast<const char*>(p);
    }
  }
  ~MappedFile() {
    if (data_) ::munmap(const_cast<char*>(data_), size_);
    if (fd_ >= 0) ::close(fd_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  std::string_view view() const { return data_ ? std::string_view(data_, size_) : std::string_view(); }

 private:
  int fd_ = -1;
  const char* data_ = nullptr;
  std::size_t size_ = 0;
};

bool is_from_line(std::string_view text, std::size_t at) { return text.compare(at, 5, "From ") == 0; }

// The Date header of a message's header block (first occurrence, unfolded).
std::optional<std::int64_t> date_in_headers(std::string_view message) {
  std::size_t at = 0;
  while (at < message.size()) {
    std::size_t nl = message.find('\n', at);
    if (nl == std::string_view::npos) nl = message.size();
    std::string_view line = message.substr(at, nl - at);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;  // end of the header
    if (line.size() > 5 && (line[0] == 'D' || line[0] == 'd') && (line.substr(0, 5) == "Date:" || line.substr(0, 5) == "date:" ||
                                                                   line.substr(0, 5) == "DATE:")) {
      std::string value(line.substr(5));
      // Folded continuation lines.
      std::size_t next = nl + 1;
      while (next < message.size() && (message[next] == ' ' || message[next] == '\t')) {
        std::size_t end = message.find('\n', next);
        if (end == std::string_view::npos) end = message.size();
        value += " " + std::string(message.substr(next, end - next));
        next = end + 1;
      }
      return parse_mail_date(value);
    }
    at = nl + 1;
  }
  return std::nullopt;
}

// The messages of an mbox as (start, end) spans: a message starts after a "From " line at the
// start of the text or after a blank line; the blank line before the next "From " line (and at
// the end of the file) belongs to the format, not to the message.
std::vector<std::pair<std::size_t, std::size_t>> mbox_spans(std::string_view text) {
  std::vector<std::pair<std::size_t, std::size_t>> spans;
  std::optional<std::size_t> current;
  auto close = [&](std::size_t end) {
    if (!current) return;
    std::size_t e = end;
    auto ends_blank = [&](std::size_t at) {  // text[..at) ends with an empty line
      std::size_t k = at;
      if (k > *current && text[k - 1] == '\n') --k; else return false;
      if (k > *current && text[k - 1] == '\r') --k;
      return k == *current || text[k - 1] == '\n';
    };
    if (ends_blank(e)) {
      --e;
      if (e > *current && text[e - 1] == '\r') --e;
    }
    spans.emplace_back(*current, e);
  };
  std::size_t at = 0;
  bool previous_blank = true;
  while (at < text.size()) {
    const std::size_t nl = text.find('\n', at);
    const std::size_t line_end = nl == std::string_view::npos ? text.size() : nl;
    const std::size_t next = nl == std::string_view::npos ? text.size() : nl + 1;
    if (previous_blank && is_from_line(text, at)) {
      close(at);
      current = next;
    }
    std::string_view line = text.substr(at, line_end - at);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    previous_blank = line.empty();
    at = next;
  }
  close(text.size());
  return spans;
}

void index_mbox(const std::string& path, std::vector<ArchiveEntry>& out) {
  MappedFile file(path);
  const std::string_view text = file.view();
  for (const auto& [start, end] : mbox_spans(text)) {
    ArchiveEntry e;
    e.file = path;
    e.mbox = true;
    e.offset = start;
    e.length = end - start;
    e.date = date_in_headers(text.substr(start, end - start));
    out.push_back(std::move(e));
  }
}

void index_maildir(const std::string& path, std::vector<ArchiveEntry>& out) {
  std::vector<std::string> files;
  for (const char* sub : {"cur", "new"}) {
    const fs::path dir = fs::path(path) / sub;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      if (!entry.is_regular_file(ec)) continue;
      const std::string name = entry.path().filename().string();
      if (!name.empty() && name[0] == '.') continue;
      files.push_back(entry.path().string());
    }
  }
  std::sort(files.begin(), files.end());  // Maildir names start with the delivery time
  for (auto& f : files) {
    ArchiveEntry e;
    e.file = f;
    std::ifstream in(f, std::ios::binary);
    std::string head(64 * 1024, '\0');
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    head.resize(static_cast<std::size_t>(in.gcount()));
    e.date = date_in_headers(head);
    out.push_back(std::move(e));
  }
}

// Undoes mboxrd quoting: ">From ", ">>From " … at a line start lose one '>'.
std::string unquote_from_lines(std::string_view message) {
  std::string out;
  out.reserve(message.size());
  std::size_t at = 0;
  while (at < message.size()) {
    std::size_t nl = message.find('\n', at);
    const std::size_t next = nl == std::string_view::npos ? message.size() : nl + 1;
    std::string_view line = message.substr(at, next - at);
    std::size_t quotes = 0;
    while (quotes < line.size() && line[quotes] == '>') ++quotes;
    if (quotes > 0 && line.compare(quotes, 5, "From ") == 0) line.remove_prefix(1);
    out.append(line);
    at = next;
  }
  return out;
}

std::string with_commas(std::int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return (n < 0 ? "-" : "") + out;
}

std::string duration(double seconds) {
  const long s = std::lround(seconds);
  if (s < 60) return std::to_string(s) + " s";
  if (s < 3600) return std::to_string(s / 60) + " min " + std::to_string(s % 60) + " s";
  return std::to_string(s / 3600) + " h " + std::to_string((s % 3600) / 60) + " min";
}

std::string message_id_in(std::string_view raw) {
  std::size_t at = 0;
  while (at < raw.size()) {
    std::size_t nl = raw.find('\n', at);
    if (nl == std::string_view::npos) nl = raw.size();
    std::string_view line = raw.substr(at, nl - at);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;
    if (line.size() > 11) {
      std::string name(line.substr(0, 11));
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (name == "message-id:") {
        const std::size_t lt = line.find('<'), gt = line.find('>', lt == std::string_view::npos ? 0 : lt);
        if (lt != std::string_view::npos && gt != std::string_view::npos && gt > lt + 1)
          return std::string(line.substr(lt + 1, gt - lt - 1));
        return "";
      }
    }
    at = nl + 1;
  }
  return "";
}

}  // namespace

std::vector<std::string> split_mbox(std::string_view text) {
  std::vector<std::string> out;
  for (const auto& [start, end] : mbox_spans(text)) out.push_back(unquote_from_lines(text.substr(start, end - start)));
  return out;
}

Archive read_archive(const std::string& path) {
  Archive archive;
  std::error_code ec;
  try {
    if (fs::is_directory(path, ec)) {
      if (!fs::is_directory(fs::path(path) / "cur", ec) && !fs::is_directory(fs::path(path) / "new", ec)) {
        archive.error = path + ": a directory without cur/ or new/ is no Maildir";
        return archive;
      }
      index_maildir(path, archive.entries);
    } else if (fs::is_regular_file(path, ec)) {
      {
        std::ifstream in(path, std::ios::binary);
        char head[5] = {};
        in.read(head, 5);
        if (in.gcount() > 0 && std::string_view(head, static_cast<std::size_t>(in.gcount())) != "From ") {
          archive.error = path + ": not an mbox (it does not start with a \"From \" line)";
          return archive;
        }
      }
      index_mbox(path, archive.entries);
    } else {
      archive.error = path + ": no such file or directory";
      return archive;
    }
  } catch (const std::exception& e) {
    archive.error = e.what();
    return archive;
  }
  // Oldest first; a message without a readable date stays right after the one before it.
  std::optional<std::int64_t> last;
  std::vector<std::pair<std::int64_t, std::size_t>> keys;
  for (std::size_t i = 0; i < archive.entries.size(); ++i) {
    if (archive.entries[i].date) last = archive.entries[i].date;
    keys.emplace_back(last.value_or(0), i);
  }
  std::stable_sort(keys.begin(), keys.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<ArchiveEntry> sorted;
  sorted.reserve(keys.size());
  for (const auto& k : keys) sorted.push_back(std::move(archive.entries[k.second]));
  archive.entries = std::move(sorted);
  return archive;
}

std::string read_archive_message(const ArchiveEntry& entry) {
  std::ifstream in(entry.file, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + entry.file);
  if (!entry.mbox) {
    std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) throw std::runtime_error("cannot read " + entry.file);
    return raw;
  }
  std::string raw(entry.length, '\0');
  in.seekg(static_cast<std::streamoff>(entry.offset));
  in.read(raw.data(), static_cast<std::streamsize>(entry.length));
  if (static_cast<std::uint64_t>(in.gcount()) != entry.length) throw std::runtime_error("cannot read " + entry.file);
  return unquote_from_lines(raw);
}

std::optional<std::int64_t> parse_since(const std::string& text) {
  if (text.size() == 10 && text[4] == '-' && text[7] == '-') {
    std::string as_mail = text.substr(8, 2) + " ";
    static const char* const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    int month = 0;
    try {
      month = std::stoi(text.substr(5, 2));
    } catch (const std::exception&) {
      return std::nullopt;
    }
    if (month < 1 || month > 12) return std::nullopt;
    as_mail += std::string(months[month - 1]) + " " + text.substr(0, 4) + " 00:00:00 +0000";
    return parse_mail_date(as_mail);
  }
  return parse_mail_date(text);
}

std::string ImportSummary::summary_line() const {
  const double rate = seconds > 0 ? static_cast<double>(found - before_since) / seconds : 0;
  std::string line = with_commas(found) + " messages: " + with_commas(created) + " tickets created, " +
                     with_commas(appended) + " added to tickets, " + with_commas(duplicates) + " already there, " +
                     with_commas(ignored) + " ignored (loops), " + with_commas(rejected) + " rejected, " +
                     with_commas(quarantined) + " quarantined";
  if (before_since) line += ", " + with_commas(before_since) + " before --since";
  char tail[96];
  std::snprintf(tail, sizeof tail, "; %.1f s (%.0f msg/s); nothing was sent", seconds, rate);
  return line + tail;
}

ImportSummary run_import(Store& store, BlobStore& blobs, const Config& config, const Renderer& renderer,
                         const Clock& clock, Poco::Logger& log, const ImportOptions& options,
                         std::ostream* progress) {
  using Steady = std::chrono::steady_clock;
  const auto started = Steady::now();
  ImportSummary summary;
  Archive archive = read_archive(options.path);
  if (!archive.error.empty()) throw std::runtime_error(archive.error);
  summary.found = static_cast<std::int64_t>(archive.entries.size());

  std::vector<const ArchiveEntry*> todo;
  for (const auto& e : archive.entries) {
    if (options.since && e.date && *e.date < *options.since) {
      ++summary.before_since;
      continue;
    }
    todo.push_back(&e);
  }

  InboundPipeline pipeline(store, blobs, config, renderer, clock, log);
  const std::size_t batch_size = static_cast<std::size_t>(std::max(1, options.batch));
  auto last_shown = Steady::now() - std::chrono::seconds(1);
  std::size_t done = 0;
  auto show = [&](bool final) {
    if (!progress) return;
    const auto now = Steady::now();
    if (!final && now - last_shown < std::chrono::milliseconds(250)) return;
    last_shown = now;
    const double elapsed = std::chrono::duration<double>(now - started).count();
    const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0;
    const double left = rate > 0 ? static_cast<double>(todo.size() - done) / rate : 0;
    char line[160];
    std::snprintf(line, sizeof line, "\rimport: %s / %s messages (%3.0f%%), %.0f msg/s, %s left   ",
                  with_commas(static_cast<std::int64_t>(done)).c_str(),
                  with_commas(static_cast<std::int64_t>(todo.size())).c_str(),
                  todo.empty() ? 100.0 : 100.0 * static_cast<double>(done) / static_cast<double>(todo.size()), rate,
                  duration(left).c_str());
    *progress << line << (final ? "\n" : "") << std::flush;
  };

  for (std::size_t start = 0; start < todo.size(); start += batch_size) {
    const std::size_t end = std::min(todo.size(), start + batch_size);
    std::vector<RawMessage> batch;
    for (std::size_t i = start; i < end; ++i) {
      RawMessage raw;
      raw.bytes = read_archive_message(*todo[i]);
      // Already in a ticket (imported before, or taken live): skip without parsing.
      const std::string id = message_id_in(raw.bytes);
      if (!id.empty() && store.ticket_of_message_id(id)) {
        ++summary.duplicates;
        continue;
      }
      if (raw.bytes.size() > kMaxMessageBytes) {
        log.warning("import: message of " + std::to_string(raw.bytes.size()) + " bytes in " + todo[i]->file +
                    " is over the limit; left out");
        ++summary.rejected;
        continue;
      }
      raw.source = kImportSource;
      raw.mailbox = options.mailbox;
      batch.push_back(std::move(raw));
    }
    std::vector<Outcome> outcomes;
    for (int attempt = 0;; ++attempt) {
      try {
        outcomes = pipeline.process_batch(batch);
        break;
      } catch (const StoreError& e) {
        // A running daemon holds the write lock for a moment: wait and try the batch again.
        if (e.kind() != StoreError::Kind::Busy || attempt >= 20) throw;
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
      }
    }
    for (const auto& o : outcomes) {
      switch (o.kind) {
        case Outcome::Kind::TicketCreated: ++summary.created; break;
        case Outcome::Kind::Appended: ++summary.appended; break;
        case Outcome::Kind::Duplicate: ++summary.duplicates; break;
        case Outcome::Kind::Ignored: ++summary.ignored; break;
        case Outcome::Kind::Rejected: ++summary.rejected; break;
        case Outcome::Kind::Quarantined: ++summary.quarantined; break;
      }
    }
    done = end;
    show(false);
  }
  show(true);
  summary.seconds = std::chrono::duration<double>(Steady::now() - started).count();
  return summary;
}

int import_command(const Config& config, const ImportOptions& options, std::ostream& out, std::ostream& err,
                   Poco::Logger& log) {
  try {
    Runtime runtime(config, log);
    const bool terminal = ::isatty(STDERR_FILENO) == 1;
    const ImportSummary summary = run_import(runtime.store(), runtime.blobs(), config, runtime.renderer(),
                                             runtime.clock(), log, options, terminal ? &err : nullptr);
    out << "import " << options.path << " (mailbox " << options.mailbox << "): " << summary.summary_line() << "\n";
    log.information("import " + options.path + " (mailbox " + options.mailbox + "): " + summary.summary_line());
    return summary.quarantined > 0 ? kExitDataError : kExitDone;
  } catch (const StoreError& e) {
    err << "atendd: import stopped, the store is unavailable (run it again to go on): " << e.what() << "\n";
    return kExitTryLater;
  } catch (const std::exception& e) {
    err << "atendd: import: " << e.what() << "\n";
    return 66;  // EX_NOINPUT
  }
}

}  // namespace atendd

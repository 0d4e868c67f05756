// bench_outbox — the outbox drained by OutboxSender (claim, send over one reused SMTP connection,
// mark sent) to a fast in-process C++ SMTP sink, against the same sink fed by a plain loop of raw
// SMTP writes on one socket (the best our side could do), measured in the same run.
// Usage: bench_outbox [--tiny] (10,000 mails; --tiny: 300).

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <memory>

#include "bench/bench_common.h"
#include "bench/fast_smtp_sink.h"
#include "bench/timing_store.h"
#include "daemon/outbox/mail_composer.h"
#include "daemon/outbox/outbox_sender.h"
#include "daemon/tickets/clock.h"
#include "storage/sqlite_store.h"

using namespace atendd;
using namespace atendd::bench;
namespace fs = std::filesystem;

namespace {

struct Mail {
  std::string from;
  std::string to;
  std::string raw;
};

// An opening e-mail as the outbox holds it: about 1.5 KB of pt_BR text, quoted-printable.
Mail opening_mail(std::mt19937& rng, int n) {
  MailParts parts;
  parts.from = Address{kServerAddress, "Suporte"};
  parts.to = {Address{"cliente" + std::to_string(n) + "@exemplo.com.br", std::string(kNames[n % 6])}};
  parts.reply_to = Address{"suporte+" + token(rng, 20) + "@suporte.example", "Suporte"};
  parts.subject = "[#" + protocol_of(n) + "] Recebemos sua solicitação: " + kSubjects[n % 5];
  std::string text = "Olá " + std::string(kNames[n % 6]) +
                     ",\n\nRecebemos a sua mensagem e abrimos o atendimento " + protocol_of(n) +
                     ". Responda a este e-mail para acrescentar informações.\n\nA sua mensagem:\n\n";
  while (text.size() < 1200) text += std::string("> ") + kSentences[rng() % 11] + "\n";
  parts.text = text + "\n--\nSuporte\n";
  parts.message_id = "atendd." + protocol_of(n) + "." + token(rng, 12) + "@suporte.example";
  parts.in_reply_to = "CAK" + std::to_string(n) + "@mail.exemplo.com.br";
  parts.references = {parts.in_reply_to};
  parts.auto_submitted = "auto-replied";
  parts.x_loop = kServerAddress;
  parts.date = kBenchNow;
  return Mail{"bounces@suporte.example", parts.to[0].address, compose_mail(parts)};
}

// ---------------------------------------------------------------- the raw-socket yardstick

class RawClient {
 public:
  explicit RawClient(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
      throw std::runtime_error("cannot connect to the sink");
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    expect('2');  // greeting
  }
  ~RawClient() { ::close(fd_); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  void send(const std::string& bytes) {
    std::size_t sent = 0;
    while (sent < bytes.size()) {
      const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) throw std::runtime_error("send failed");
      sent += static_cast<std::size_t>(n);
    }
  }
  // Reads one (possibly multi-line) reply; throws unless its code starts with `first_digit`.
  void expect(char first_digit) {
    for (;;) {
      const std::size_t eol = buf_.find("\r\n", pos_);
      if (eol == std::string::npos) {
        buf_.erase(0, pos_);
        pos_ = 0;
        char chunk[4096];
        const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
        if (n <= 0) throw std::runtime_error("the sink closed the connection");
        buf_.append(chunk, static_cast<std::size_t>(n));
        continue;
      }
      const std::string line = buf_.substr(pos_, eol - pos_);
      pos_ = eol + 2;
      if (line.size() >= 4 && line[3] == '-') continue;  // more lines of the same reply
      if (line.empty() || line[0] != first_digit) throw std::runtime_error("unexpected reply: " + line);
      return;
    }
  }

 private:
  int fd_ = -1;
  std::string buf_;
  std::size_t pos_ = 0;
};

std::string dot_stuffed(const std::string& raw) {
  std::string out;
  out.reserve(raw.size() + 16);
  bool line_start = true;
  for (const char c : raw) {
    if (line_start && c == '.') out += '.';
    out += c;
    line_start = c == '\n';
  }
  if (out.size() < 2 || out.compare(out.size() - 2, 2, "\r\n") != 0) out += "\r\n";
  return out + ".\r\n";
}

// One reply awaited per command (as a client without PIPELINING, like ours), or pipelined
// (RFC 2920: MAIL, RCPT and DATA in one write, then the data: two round trips per mail).
double raw_loop(const std::vector<Mail>& mails, bool pipelined, FastSmtpSink& sink) {
  std::vector<std::string> data;
  for (const auto& m : mails) data.push_back(dot_stuffed(m.raw));
  const auto t0 = Steady::now();
  RawClient c(sink.port());
  c.send("EHLO bench.example\r\n");
  c.expect('2');
  for (std::size_t i = 0; i < mails.size(); ++i) {
    const std::string mail = "MAIL FROM:<" + mails[i].from + ">\r\n", rcpt = "RCPT TO:<" + mails[i].to + ">\r\n";
    if (pipelined) {
      c.send(mail + rcpt + "DATA\r\n");
      c.expect('2');
      c.expect('2');
      c.expect('3');
    } else {
      c.send(mail);
      c.expect('2');
      c.send(rcpt);
      c.expect('2');
      c.send("DATA\r\n");
      c.expect('3');
    }
    c.send(data[i]);
    c.expect('2');
  }
  c.send("QUIT\r\n");
  c.expect('2');
  return seconds_since(t0);
}

std::string scratch_dir() {
  std::string templ = "/var/tmp/atendd-bench-XXXXXX";
  if (!mkdtemp(templ.data())) throw std::runtime_error("mkdtemp failed");
  return templ;
}

}  // namespace

int main(int argc, char** argv) {
  bool tiny = false;
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--tiny") {
      tiny = true;
    } else {
      std::fprintf(stderr, "usage: %s [--tiny]\n", argv[0]);
      return 2;
    }
  }
  const auto wall = Steady::now();
  const int n = tiny ? 300 : 10000;
  std::printf("bench_outbox%s (%s)\n"
              "%d opening e-mails queued in a SQLite outbox (WAL, in /var/tmp), drained by OutboxSender::drain_due(50)\n"
              "over one reused SMTP connection (plain, 127.0.0.1) to a C++ sink in this process that discards\n"
              "them; yardstick: the same sink fed by a raw loop on one socket. peak = VmHWM of this process\n"
              "(reset before each row); MB = DATA bytes the sink received.\n\n",
              tiny ? " --tiny" : "", kBuildNote, n);

  std::mt19937 rng(20261124);
  std::vector<Mail> mails;
  std::uint64_t mail_bytes = 0;
  for (int i = 1; i <= n; ++i) {
    mails.push_back(opening_mail(rng, i));
    mail_bytes += mails.back().raw.size();
  }
  std::printf("average mail %.1f KB\n\n", mail_bytes / 1024.0 / n);
  std::printf("%-52s %7s | %9s %7s %8s | %6s\n", "what", "mails", "mails/s", "MB/s", "peakMiB", "/raw");
  std::printf("%s\n", std::string(100, '-').c_str());

  struct Row {
    double seconds = 0;
    std::uint64_t received = 0, bytes = 0;
    long peak_kb = 0;
  };
  auto raw_row = [&](bool pipelined) {
    FastSmtpSink sink;
    reset_peak_rss();
    Row r;
    r.seconds = raw_loop(mails, pipelined, sink);
    r.peak_kb = peak_rss_kb();
    r.received = sink.messages();
    r.bytes = sink.bytes();
    return r;
  };
  auto print_row = [&](const char* what, const Row& r, double yard) {
    const double rate = r.received / r.seconds;
    std::printf("%-52s %7llu | %9.0f %7.1f %8.1f | %6s\n", what, static_cast<unsigned long long>(r.received), rate,
                r.bytes / 1e6 / r.seconds, r.peak_kb / 1024.0,
                yard > 0 ? std::to_string(rate / yard).substr(0, 4).c_str() : "1.00");
    if (r.received != static_cast<std::uint64_t>(n))
      std::printf("  WARNING: the sink received %llu of %d mails\n", static_cast<unsigned long long>(r.received), n);
  };

  const Row lockstep = raw_row(false);
  const double raw_rate = lockstep.received / lockstep.seconds;
  print_row("raw loop, one reply awaited per command (yardstick)", lockstep, 0);
  const Row pipelined = raw_row(true);
  print_row("raw loop, PIPELINING (2 round trips per mail)", pipelined, raw_rate);

  // OutboxSender over a real store.
  const std::string dir = scratch_dir();
  Row sender_row;
  DrainResult drained;
  std::int64_t store_ns = 0, store_calls = 0;
  double queue_s = 0;
  {
    SqliteStore sqlite(dir + "/atendd.db");
    TimingStore store(sqlite);
    auto t0 = Steady::now();
    sqlite.begin();
    for (int i = 0; i < n; ++i) {
      OutboxMail m;
      m.template_name = "opening";
      m.mail_from = mails[static_cast<std::size_t>(i)].from;
      m.recipients = {mails[static_cast<std::size_t>(i)].to};
      m.message_id = "bench-" + std::to_string(i) + "@suporte.example";
      m.raw = mails[static_cast<std::size_t>(i)].raw;
      m.next_attempt_at = kBenchNow;
      m.created_at = kBenchNow;
      sqlite.add_outbox(m);
    }
    sqlite.commit();
    queue_s = seconds_since(t0);

    FastSmtpSink sink;
    SmtpConfig smtp;
    smtp.host = "127.0.0.1";
    smtp.port = sink.port();
    smtp.timeout_seconds = 10;
    FixedClock clock(kBenchNow);
    sqlite.set_durable_commits(false);  // as the daemon's outbox loop has its connection
    OutboxSender sender(store, smtp, "suporte.example", clock, quiet_logger("bench.outbox"));
    reset_peak_rss();
    t0 = Steady::now();
    drained = sender.drain_due(50);
    sender.close();
    sender_row.seconds = seconds_since(t0);
    sender_row.peak_kb = peak_rss_kb();
    sender_row.received = sink.messages();
    sender_row.bytes = sink.bytes();
    store_ns = store.begin_ns + store.commit_ns + store.query_ns + store.other_ns;
    store_calls = store.calls;
    if (sink.connections() != 1)
      std::printf("  NOTE: OutboxSender opened %llu connections\n", static_cast<unsigned long long>(sink.connections()));
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
  print_row("OutboxSender::drain_due -> sink", sender_row, raw_rate);
  const double sender_rate = sender_row.received / sender_row.seconds;
  std::printf("\nOutboxSender: %d sent, %d retried, %d failed; the store took %.1f us per mail (%.1f %% of the drain,\n"
              "%.1f calls per mail: claim, mark sent); SMTP and the rest %.1f us per mail; the raw loop needs %.1f us.\n"
              "(queueing the %d mails in one transaction beforehand, not timed above: %.2f s)\n",
              drained.sent, drained.retried, drained.failed, store_ns / 1e3 / n,
              100.0 * store_ns / 1e9 / sender_row.seconds, double(store_calls) / n,
              (sender_row.seconds - store_ns / 1e9) * 1e6 / n, 1e6 / raw_rate, n, queue_s);
  summary("outbox", std::to_string(n) + " mails, OutboxSender", sender_rate, "mail/s",
          sender_row.bytes / 1e6 / sender_row.seconds, sender_row.peak_kb / 1024.0, "raw SMTP loop, lockstep", raw_rate);
  summary("outbox", "yardstick: raw SMTP loop, pipelined", pipelined.received / pipelined.seconds, "mail/s",
          pipelined.bytes / 1e6 / pipelined.seconds, pipelined.peak_kb / 1024.0, "-", 0);
  std::printf("\ntotal wall time %.1f s\n", seconds_since(wall));
  return drained.sent == n ? 0 : 1;
}

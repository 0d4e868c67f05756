// bench_common.h — what bench_pipeline, bench_imap and bench_outbox share: the helpdesk mail they
// feed (70 % new tickets, 30 % customer replies carrying an earlier ticket's subject tag), the
// configuration they run with, peak-RSS helpers, a child-process runner, and the "summary" lines
// bench/run gathers into one table.
#pragma once

#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <Poco/AutoPtr.h>
#include <Poco/Logger.h>
#include <Poco/NullChannel.h>

#include "daemon/config/config.h"

namespace atendd::bench {

using Steady = std::chrono::steady_clock;

inline double seconds_since(Steady::time_point t0) {
  return std::chrono::duration<double>(Steady::now() - t0).count();
}

#ifdef NDEBUG
inline const char* kBuildNote = "optimised build";
#else
inline const char* kBuildNote = "NOT a Release build: the numbers mean nothing";
#endif

// ---------------------------------------------------------------- memory

// Resets the process's high-water mark of RSS to the current RSS; false when the kernel refused.
inline bool reset_peak_rss() {
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5";
  clear.flush();
  return static_cast<bool>(clear);
}

// A "VmHWM:" / "VmRSS:" line of /proc/self/status, in KiB.
inline long status_kb(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::size_t n = std::strlen(key);
  while (std::getline(in, line))
    if (line.compare(0, n, key) == 0) return std::atol(line.c_str() + n);
  return 0;
}
inline long peak_rss_kb() { return status_kb("VmHWM:"); }
inline long rss_kb() { return status_kb("VmRSS:"); }

// Runs `work` in a fork()ed child and returns the trivially copyable result it produced (or a
// default one with ok == false when the child failed). Keeps each measurement's memory its own.
template <typename Result, typename Work>
Result in_child(Work work) {
  static_assert(std::is_trivially_copyable<Result>::value, "Result goes through a pipe");
  Result r{};
  int fds[2];
  if (pipe(fds) != 0) return r;
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = fork();
  if (pid < 0) return r;
  if (pid == 0) {
    close(fds[0]);
    Result c{};
    try {
      c = work();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "benchmark child failed: %s\n", e.what());
      c = Result{};
    }
    const ssize_t w = write(fds[1], &c, sizeof c);
    std::fflush(stdout);
    _exit(w == static_cast<ssize_t>(sizeof c) ? 0 : 1);
  }
  close(fds[1]);
  std::size_t got = 0;
  char* into = reinterpret_cast<char*>(&r);
  for (ssize_t n; got < sizeof r && (n = read(fds[0], into + got, sizeof r - got)) > 0;) got += static_cast<std::size_t>(n);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (got != sizeof r || !WIFEXITED(status) || WEXITSTATUS(status) != 0) r = Result{};
  return r;
}

// ---------------------------------------------------------------- logging, configuration

// The product logs every message at "information"; the benchmarks keep that level (so the
// strings are still built) but throw the lines away.
inline Poco::Logger& quiet_logger(const std::string& name = "bench") {
  Poco::Logger& log = Poco::Logger::get(name);
  log.setChannel(Poco::AutoPtr<Poco::Channel>(new Poco::NullChannel));
  log.setLevel(Poco::Message::PRIO_INFORMATION);
  return log;
}

constexpr const char* kServerAddress = "suporte@suporte.example";
// 2026-11-24 12:00 UTC: a FixedClock there makes the protocols 20261124000001, 20261124000002, …
constexpr std::int64_t kBenchNow = 1795521600;
inline std::string protocol_of(int ticket_number) {  // 1-based, in creation order
  char buf[32];
  std::snprintf(buf, sizeof buf, "20261124%06d", ticket_number);
  return buf;
}

// A realistic desk: three agents, a subject-matched type with round-robin and an SLA, a default
// type assigned to the least-loaded agent, per-ticket reply addresses, the built-in pt_BR templates.
inline Config bench_config(const std::string& state_dir) {
  const std::string text =
      "[server]\nname = Suporte\naddress = suporte@suporte.example\n"
      "reply_address = suporte+{token}@suporte.example\n"
      "state_dir = " + state_dir + "\ndatabase = sqlite:" + state_dir + "/atendd.db\n"
      "locale = pt_BR\nauto_reply_limit = 10\ndefault_type = geral\n"
      "[agent.maria]\nemail = maria@suporte.example\nname = Maria Souza\ndepartment = suporte\n"
      "[agent.joao]\nemail = joao@suporte.example\nname = João Lima\ndepartment = suporte\n"
      "[agent.ines]\nemail = ines@suporte.example\nname = Inês Araújo\ndepartment = suporte\n"
      "[type.garantia]\nname = Garantia\nmatch_subject = (?i)garantia|defeito\ndepartment = suporte\n"
      "assign = round_robin\nfirst_response_hours = 4\nnext_contact_days = 1\nreopen_days = 30\n"
      "[type.geral]\nname = Geral\ndepartment = suporte\nassign = least_loaded\nfirst_response_hours = 8\n"
      "reopen_days = 30\n";
  ConfigResult result = load_config_text(text, "bench.ini", state_dir);
  if (!result.config) {
    std::string problems;
    for (const auto& p : result.problems) problems += p.to_string() + "\n";
    throw std::runtime_error("benchmark configuration rejected:\n" + problems);
  }
  return *result.config;
}

// ---------------------------------------------------------------- the mail

const char* const kSentences[] = {
    "Olá, bom dia! Estou a escrever porque a minha encomenda ainda não chegou.",
    "O número do pedido é 48213 e a transportadora diz que já saiu do armazém há três dias.",
    "Poderiam verificar, por favor, se houve algum problema com o endereço de entrega?",
    "Já tentei ligar para o serviço de atendimento, mas a chamada caiu várias vezes.",
    "Agradeço desde já a atenção e fico a aguardar uma resposta o mais breve possível.",
    "A fatura que recebi tem um valor diferente do orçamento: € 1.234,56 em vez de € 1.134,56.",
    "Também reparei que a descrição do serviço está incompleta e não menciona a instalação.",
    "Não consigo aceder à minha conta desde ontem; a página mostra uma mensagem de erro.",
    "Gostaria de saber se é possível alterar a data da visita técnica para a próxima terça-feira.",
    "O equipamento ainda está na garantia e apresentou defeito logo na primeira semana.",
    "Caso precisem de mais informações, estou disponível pelo telefone +351 912 345 678.",
};
const char* const kSubjects[] = {
    "Encomenda nº 48213 não entregue",
    "Dúvida sobre a fatura de março — valor errado",
    "Pedido de alteração da visita técnica",
    "Garantia: equipamento com defeito",
    "Acesso à conta bloqueado após atualização",
};
const char* const kNames[] = {"João Conceição", "Maria Gonçalves", "Inês Araújo", "André Simões",
                              "Sebastião Lopes", "Lúcia Fernandes"};

inline std::string qp_encode(std::string_view text) {  // '\n' lines -> quoted-printable, CRLF
  static const char hex[] = "0123456789ABCDEF";
  std::string out;
  std::size_t col = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      out += "\r\n";
      col = 0;
      continue;
    }
    const bool at_eol = i + 1 == text.size() || text[i + 1] == '\n';
    std::string piece;
    if ((c >= 33 && c <= 126 && c != '=') || (c == ' ' && !at_eol)) piece = static_cast<char>(c);
    else piece = {'=', hex[c >> 4], hex[c & 15]};
    if (col + piece.size() > 75) {
      out += "=\r\n";
      col = 0;
    }
    out += piece;
    col += piece.size();
  }
  return out;
}

inline std::string encoded_word_q(std::string_view text) {  // RFC 2047 Q, UTF-8
  static const char hex[] = "0123456789ABCDEF";
  std::string out = "=?UTF-8?Q?";
  for (const unsigned char c : text) {
    if (c == ' ') out += '_';
    else if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '.' || c == ',' || c == '-')
      out += static_cast<char>(c);
    else out += {'=', hex[c >> 4], hex[c & 15]};
  }
  return out + "?=";
}

inline std::string token(std::mt19937& rng, std::size_t n) {
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s += alphabet[rng() % 62];
  return s;
}

// One message of the mix: 2–3 KB, text/plain UTF-8 quoted-printable, encoded subject, the headers
// a real MTA and mail client add. `reply_to_ticket` > 0 makes it a reply of that ticket's customer
// with "Re: [#PROTOCOL] …" and a quoted history.
inline std::string helpdesk_message(std::mt19937& rng, int serial, int customer, int reply_to_ticket,
                                    int subject_index) {
  const std::string local = "cliente" + std::to_string(customer);
  const std::string name = std::string(kNames[customer % 6]) + " " + std::to_string(customer);
  const std::string subject = kSubjects[subject_index % 5];
  std::string h;
  h += "Return-Path: <" + local + "@exemplo.com.br>\r\n";
  h += "Received: from mail-ot1-f41.exemplo.com.br (mail-ot1-f41.exemplo.com.br [209.85.210.41])\r\n"
       "\tby mx.suporte.example (Postfix) with ESMTPS id 4Xk9Zq3Lm2z" + std::to_string(serial) + "\r\n"
       "\tfor <suporte@suporte.example>; Tue, 24 Nov 2026 10:15:42 +0000 (UTC)\r\n";
  h += "Received: by mail-ot1-f41.exemplo.com.br with SMTP id 46e09a7af769-6e4f8b6a9c1so" + token(rng, 6) +
       "\r\n        for <suporte@suporte.example>; Tue, 24 Nov 2026 03:15:41 -0700 (PDT)\r\n";
  h += "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n"
       "        d=exemplo.com.br; s=20230601; t=1795500000; x=1796104800; darn=suporte.example;\r\n"
       "        h=to:subject:message-id:date:from:mime-version:from:to:cc:subject:date;\r\n"
       "        bh=" + token(rng, 43) + "=;\r\n        b=" + token(rng, 70) + "\r\n         " + token(rng, 70) +
       "\r\n         " + token(rng, 70) + "==\r\n";
  h += "MIME-Version: 1.0\r\n";
  h += "From: " + encoded_word_q(name) + " <" + local + "@exemplo.com.br>\r\n";
  h += "Date: Tue, 24 Nov 2026 07:15:29 -0300\r\n";
  h += "Message-ID: <CAK" + std::to_string(serial) + "." + token(rng, 16) + "@mail.exemplo.com.br>\r\n";
  if (reply_to_ticket > 0) {
    h += "Subject: Re: [#" + protocol_of(reply_to_ticket) + "] " + encoded_word_q(subject) + "\r\n";
  } else {
    h += "Subject: " + encoded_word_q(subject) + "\r\n";
  }
  h += "To: Suporte <suporte@suporte.example>\r\n";
  h += "Content-Type: text/plain; charset=\"UTF-8\"\r\nContent-Transfer-Encoding: quoted-printable\r\n";
  std::string text = reply_to_ticket > 0 ? "Bom dia,\n\nSegue a resposta ao vosso pedido.\n" : "Bom dia,\n\n";
  const std::size_t want = 500 + rng() % 700;
  while (text.size() < want) {
    text += kSentences[rng() % 11];
    text += rng() % 3 ? " " : "\n";
  }
  text += "\n\nCumprimentos,\n" + name + "\n";
  if (reply_to_ticket > 0) {
    text += "\nEm ter., 24 de nov. de 2026 Suporte escreveu:\n";
    for (int k = 0; k < 4; ++k) text += std::string("> ") + kSentences[rng() % 11] + "\n";
  }
  return h + "\r\n" + qp_encode(text);
}

// The mix: message k is a reply when k % 10 is 2, 5 or 8 (30 %), else a new ticket from a new
// customer (70 %). A reply goes to a random earlier ticket and comes from that ticket's customer.
struct Mix {
  std::vector<std::string> messages;
  int new_tickets = 0;
  int replies = 0;
  std::uint64_t bytes = 0;
};

inline bool is_reply(int k) { return k > 0 && (k % 10 == 2 || k % 10 == 5 || k % 10 == 8); }

inline Mix make_mix(int n, std::uint32_t seed = 20261124) {
  std::mt19937 rng(seed);
  Mix mix;
  std::vector<int> subject_of;  // by ticket number - 1
  for (int k = 0; k < n; ++k) {
    if (is_reply(k)) {
      const int ticket = 1 + static_cast<int>(rng() % static_cast<std::uint32_t>(mix.new_tickets));
      mix.messages.push_back(helpdesk_message(rng, k, ticket, ticket, subject_of[ticket - 1]));
      ++mix.replies;
    } else {
      const int ticket = ++mix.new_tickets;  // customer number == ticket number
      subject_of.push_back(static_cast<int>(rng() % 5));
      mix.messages.push_back(helpdesk_message(rng, k, ticket, 0, subject_of.back()));
    }
    mix.bytes += mix.messages.back().size();
  }
  return mix;
}

// ---------------------------------------------------------------- the combined table

// One line bench/run collects: "summary<TAB>benchmark<TAB>what<TAB>rate<TAB>unit<TAB>MB/s<TAB>
// peak MiB<TAB>yardstick<TAB>yardstick rate<TAB>ratio" (MB/s or ratio may be "-").
inline void summary(const std::string& bench, const std::string& what, double rate, const char* unit, double mb_s,
                    double peak_mib, const std::string& yardstick, double yard_rate) {
  char mb[32] = "-", peak[32] = "-", yard[32] = "-", ratio[32] = "-";
  if (mb_s > 0) std::snprintf(mb, sizeof mb, "%.1f", mb_s);
  if (peak_mib > 0) std::snprintf(peak, sizeof peak, "%.1f", peak_mib);
  if (yard_rate > 0) std::snprintf(yard, sizeof yard, "%.0f", yard_rate);
  if (yard_rate > 0) std::snprintf(ratio, sizeof ratio, "%.2f", rate / yard_rate);
  std::printf("summary\t%s\t%s\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\n", bench.c_str(), what.c_str(), rate, unit, mb, peak,
              yardstick.c_str(), yard, ratio);
}

}  // namespace atendd::bench

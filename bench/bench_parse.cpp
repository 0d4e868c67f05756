// bench_parse — benchmark of atendd's parser (parse_message) against GMime 3 on the same bytes:
// messages/s, MB/s and peak RSS per data set, plus the RSS growth for one 25 MB message.
// Numbers only mean something in a Release build (bench/run does exactly this): cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DATENDD_BENCH=ON && cmake --build build/release -j2 --target bench_parse && build/release/bench/bench_parse
// Usage: bench_parse [--tiny] [--corpus DIR]; --tiny = small sets for ctest (asserts nothing).
//        bench_parse --profile N: parses the first N messages of the typical set once each, in this
//        process and without GMime, for a profiler: valgrind --tool=callgrind
//        --toggle-collect='atendd::parse_message*' build/release-bench/bench/bench_parse --profile 1000

// Data sets: (1) every *.box in --corpus (default <repo>/../shared/mail-corpus/zammad), repeated
// to ~2 s; (2) 10,000 generated 2-3 KB text/plain QP Portuguese mails; (3) 1,000 with a 50-200 KB
// base64 attachment; (4) one with a 25 MiB base64 attachment, parsed once (--tiny: 1 pass, 200,
// 50, 2 MiB).
// Fairness: both sides read all headers, decode Subject and From (RFC 2047), the addresses,
// Message-ID, References and Date, and decode every leaf part's content (transfer encoding, plus
// charset conversion to UTF-8 for text parts) into memory. atendd does more on top (HTML to text,
// body choice, defects); GMime keeps part contents as ranges of the input stream until decoded.
// Every measurement runs in its own fork()ed child, so one side's memory never counts for the other.

#include <gmime/gmime.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "parsers/mime_reader.h"

namespace {

using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------- message generation

const char* const kSentences[] = {
    "Olá, bom dia! Estou a escrever porque a minha encomenda ainda não chegou.",
    "O número do pedido é 48213 e a transportadora diz que já saiu do armazém há três dias.",
    "Poderiam verificar, por favor, se houve algum problema com o endereço de entrega?",
    "Já tentei ligar para o serviço de atendimento, mas a chamada caiu várias vezes.",
    "Agradeço desde já a atenção e fico a aguardar uma resposta o mais breve possível.",
    "A fatura que recebi tem um valor diferente do orçamento: € 1.234,56 em vez de € 1.134,56.",
    "Também reparei que a descrição do serviço está incompleta e não menciona a instalação.",
    "Segue em anexo a cópia do comprovativo de pagamento efetuado no dia 12 de março.",
    "Não consigo aceder à minha conta desde ontem; a página mostra uma mensagem de erro.",
    "Gostaria de saber se é possível alterar a data da visita técnica para a próxima terça-feira.",
    "Obrigado pela resposta rápida, mas a solução sugerida não resolveu a situação.",
    "Em anexo envio as fotografias do equipamento danificado, tal como foi pedido.",
    "Caso precisem de mais informações, estou disponível pelo telefone +351 912 345 678.",
    "Atenção: este é o terceiro contacto sobre o mesmo assunto e continuo sem solução.",
};
const char* const kSubjects[] = {
    "Re: Encomenda nº 48213 não entregue",
    "Dúvida sobre a fatura de março — valor errado",
    "Pedido de alteração da visita técnica",
    "Reclamação: serviço de instalação incompleto",
    "Acesso à conta bloqueado após atualização",
    "Fwd: Comprovativo de pagamento (cópia)",
};
const char* const kNames[] = {"João Conceição", "Maria Gonçalves", "Inês Araújo",
                              "André Simões", "Sebastião Lopes", "Lúcia Fernandes"};
const char* const kLocals[] = {"joao.conceicao", "maria.goncalves", "ines.araujo",
                               "andre.simoes", "sebastiao.lopes", "lucia.fernandes"};

const char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64_lines(std::string_view data) {  // 76-column lines, CRLF
  std::string out;
  out.reserve(data.size() / 57 * 78 + 80);
  std::size_t col = 0;
  for (std::size_t i = 0; i < data.size(); i += 3) {
    std::uint32_t v = static_cast<unsigned char>(data[i]) << 16;
    std::size_t n = std::min<std::size_t>(3, data.size() - i);
    if (n > 1) v |= static_cast<unsigned char>(data[i + 1]) << 8;
    if (n > 2) v |= static_cast<unsigned char>(data[i + 2]);
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += n > 1 ? kB64[(v >> 6) & 63] : '=';
    out += n > 2 ? kB64[v & 63] : '=';
    col += 4;
    if (col == 76) {
      out += "\r\n";
      col = 0;
    }
  }
  if (col) out += "\r\n";
  return out;
}

std::string base64_token(std::mt19937& rng, std::size_t n) {
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s += kB64[rng() % 64];
  return s;
}

std::string qp_encode(std::string_view text) {  // text lines joined by '\n' -> QP with CRLF
  static const char hex[] = "0123456789ABCDEF";
  std::string out;
  std::size_t col = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      out += "\r\n";
      col = 0;
      continue;
    }
    bool at_eol = i + 1 == text.size() || text[i + 1] == '\n';
    std::string piece;
    if ((c >= 33 && c <= 126 && c != '=') || (c == ' ' && !at_eol)) {
      piece = static_cast<char>(c);
    } else {
      piece = {'=', hex[c >> 4], hex[c & 15]};
    }
    if (col + piece.size() > 75) {
      out += "=\r\n";
      col = 0;
    }
    out += piece;
    col += piece.size();
  }
  return out;
}

std::string encoded_word_q(std::string_view text) {  // RFC 2047 Q, UTF-8
  static const char hex[] = "0123456789ABCDEF";
  std::string out = "=?UTF-8?Q?";
  for (unsigned char c : text) {
    if (c == ' ') {
      out += '_';
    } else if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
               c == '.' || c == ',' || c == '-' || c == ':') {
      out += static_cast<char>(c);
    } else {
      out += {'=', hex[c >> 4], hex[c & 15]};
    }
  }
  return out + "?=";
}

std::string encoded_word_b(std::string_view text) {  // RFC 2047 B, UTF-8
  std::string b = base64_lines(text);
  b.erase(std::remove_if(b.begin(), b.end(), [](char c) { return c == '\r' || c == '\n'; }), b.end());
  return "=?UTF-8?B?" + b + "?=";
}

// Headers of a typical inbound mail to a helpdesk; `extra` holds the MIME headers.
std::string typical_headers(std::mt19937& rng, int i, const std::string& mime_headers) {
  int who = static_cast<int>(rng() % 6);
  std::string id = std::to_string(1000000 + i) + "." + std::to_string(rng() % 100000);
  std::string h;
  h += "Return-Path: <" + std::string(kLocals[who]) + "@exemplo.com.br>\r\n";
  h += "Received: from mail-ot1-f41.exemplo.com.br (mail-ot1-f41.exemplo.com.br [209.85.210.41])\r\n"
       "\tby mx.suporte.example (Postfix) with ESMTPS id 4Xk9Zq3Lm2z" + std::to_string(i) + "\r\n"
       "\tfor <suporte@suporte.example>; Tue, 12 Mar 2024 10:15:42 +0000 (UTC)\r\n";
  h += "Received: by mail-ot1-f41.exemplo.com.br with SMTP id 46e09a7af769-6e4f8b6a9c1so" +
       std::to_string(rng() % 100000) + "\r\n"
       "        for <suporte@suporte.example>; Tue, 12 Mar 2024 03:15:41 -0700 (PDT)\r\n";
  h += "Received: from [192.168.1.23] ([189.6.12." + std::to_string(rng() % 250) +
       "])\r\n        by smtp.exemplo.com.br with ESMTPSA id p12-20020a05\r\n"
       "        for <suporte@suporte.example>; Tue, 12 Mar 2024 03:15:40 -0700 (PDT)\r\n";
  h += "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n"
       "        d=exemplo.com.br; s=20230601; t=1710238541; x=1710843341; darn=suporte.example;\r\n"
       "        h=to:subject:message-id:date:from:in-reply-to:references:mime-version\r\n"
       "         :from:to:cc:subject:date:message-id:reply-to;\r\n"
       "        bh=" + base64_token(rng, 43) + "=;\r\n"
       "        b=" + base64_token(rng, 70) + "\r\n"
       "         " + base64_token(rng, 70) + "\r\n"
       "         " + base64_token(rng, 70) + "\r\n"
       "         " + base64_token(rng, 70) + "==\r\n";
  h += "MIME-Version: 1.0\r\n";
  h += "References: <CAK" + base64_token(rng, 20) + "@mail.exemplo.com.br>\r\n"
       " <ticket-" + std::to_string(40000 + i % 5000) + "@suporte.example>\r\n";
  h += "In-Reply-To: <ticket-" + std::to_string(40000 + i % 5000) + "@suporte.example>\r\n";
  h += "From: " + encoded_word_q(kNames[who]) + " <" + kLocals[who] + "@exemplo.com.br>\r\n";
  h += "Date: Tue, 12 Mar 2024 07:15:29 -0300\r\n";
  h += "Message-ID: <CAK" + id + "." + base64_token(rng, 16) + "@mail.exemplo.com.br>\r\n";
  std::string subject = kSubjects[rng() % 6];
  h += "Subject: " + (i % 2 ? encoded_word_q(subject) : encoded_word_b(subject)) + "\r\n";
  h += "To: Suporte <suporte@suporte.example>\r\n";
  h += "Cc: \"Equipa Comercial\" <comercial@suporte.example>\r\n";
  h += mime_headers;
  return h;
}

std::string portuguese_text(std::mt19937& rng, std::size_t min_bytes) {
  std::string text = "Bom dia,\n\n";
  while (text.size() < min_bytes) {
    text += kSentences[rng() % 14];
    text += rng() % 3 ? " " : "\n";
  }
  return text + "\n\nCumprimentos,\nJoão\n";
}

std::string typical_message(std::mt19937& rng, int i) {  // 2–3 KB, text/plain QP
  std::string body = qp_encode(portuguese_text(rng, 350 + rng() % 550));
  return typical_headers(rng, i,
                         "Content-Type: text/plain; charset=\"UTF-8\"\r\n"
                         "Content-Transfer-Encoding: quoted-printable\r\n") +
         "\r\n" + body;
}

std::string message_with_attachment(std::mt19937& rng, int i, std::size_t attachment_bytes) {
  std::string data(attachment_bytes, '\0');
  for (std::size_t k = 0; k + 4 <= data.size(); k += 4) {
    std::uint32_t v = rng();
    std::memcpy(&data[k], &v, 4);
  }
  std::memcpy(&data[0], "%PDF-1.7\n", std::min<std::size_t>(9, data.size()));
  std::string boundary = "000000000000" + base64_token(rng, 16);
  std::replace(boundary.begin(), boundary.end(), '/', 'x');
  std::replace(boundary.begin(), boundary.end(), '+', 'y');
  std::string m = typical_headers(
      rng, i, "Content-Type: multipart/mixed; boundary=\"" + boundary + "\"\r\n");
  m += "\r\n--" + boundary + "\r\n";
  m += "Content-Type: text/plain; charset=\"UTF-8\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n";
  m += qp_encode(portuguese_text(rng, 400));
  m += "\r\n--" + boundary + "\r\n";
  m += "Content-Type: application/pdf; name=\"=?UTF-8?Q?relat=C3=B3rio-" + std::to_string(i) +
       ".pdf?=\"\r\n"
       "Content-Disposition: attachment;\r\n filename*=UTF-8''relat%C3%B3rio-" + std::to_string(i) +
       ".pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n";
  m += base64_lines(data);
  m += "--" + boundary + "--\r\n";
  return m;
}

// ---------------------------------------------------------------- the two parsers

// atendd: everything parse_message produces; the sum keeps the optimiser honest.
std::uint64_t run_atendd(std::string_view raw) {
  atendd::ParsedMessage m = atendd::parse_message(raw);
  std::uint64_t sum = m.subject.size() + m.from.address.size() + m.from.name.size() + m.text.size() +
                      m.to.size() + m.references.size() + m.headers.size() +
                      static_cast<std::uint64_t>(m.date.value_or(0) & 1);
  if (m.html) sum += m.html->size();
  for (const auto& a : m.attachments) sum += a.data.size() + a.filename.size();
  return sum;
}

void gmime_part(GMimeObject* /*parent*/, GMimeObject* object, gpointer user) {
  auto* sum = static_cast<std::uint64_t*>(user);
  if (!GMIME_IS_PART(object)) return;  // multiparts and message/rfc822 wrappers: foreach recurses
  GMimePart* part = GMIME_PART(object);
  if (const char* name = g_mime_part_get_filename(part)) *sum += std::strlen(name);
  GMimeDataWrapper* content = g_mime_part_get_content(part);
  if (!content) return;
  GMimeStream* out = g_mime_stream_mem_new();
  GMimeContentType* type = g_mime_object_get_content_type(object);
  const char* charset = type ? g_mime_content_type_get_parameter(type, "charset") : nullptr;
  GMimeStream* sink = out;
  if (type && g_mime_content_type_is_type(type, "text", "*") && charset &&
      g_ascii_strcasecmp(charset, "utf-8") != 0 && g_ascii_strcasecmp(charset, "us-ascii") != 0) {
    if (GMimeFilter* conv = g_mime_filter_charset_new(charset, "UTF-8")) {
      sink = g_mime_stream_filter_new(out);
      g_mime_stream_filter_add(GMIME_STREAM_FILTER(sink), conv);
      g_object_unref(conv);
    }
  }
  g_mime_data_wrapper_write_to_stream(content, sink);  // decodes the transfer encoding
  g_mime_stream_flush(sink);
  if (sink != out) g_object_unref(sink);
  *sum += g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(out))->len;
  g_object_unref(out);
}

std::uint64_t addresses(InternetAddressList* list) {
  std::uint64_t sum = 0;
  if (!list) return 0;
  for (int i = 0, n = internet_address_list_length(list); i < n; ++i) {
    InternetAddress* a = internet_address_list_get_address(list, i);
    if (const char* name = internet_address_get_name(a)) sum += std::strlen(name);  // decoded
    if (INTERNET_ADDRESS_IS_MAILBOX(a))
      if (const char* addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a)))
        sum += std::strlen(addr);
  }
  return sum;
}

// GMime: parse from a GMimeStreamMem over the very same bytes (no copy), then read what atendd reads.
std::uint64_t run_gmime(std::string_view raw) {
  GByteArray* bytes =
      g_byte_array_new_take(reinterpret_cast<guint8*>(const_cast<char*>(raw.data())), raw.size());
  GMimeStream* stream = g_mime_stream_mem_new_with_byte_array(bytes);
  g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(stream), FALSE);
  GMimeParser* parser = g_mime_parser_new_with_stream(stream);
  GMimeMessage* message = g_mime_parser_construct_message(parser, nullptr);
  std::uint64_t sum = 0;
  if (message) {
    if (const char* subject = g_mime_message_get_subject(message)) sum += std::strlen(subject);
    sum += addresses(g_mime_message_get_from(message));
    sum += addresses(g_mime_message_get_addresses(message, GMIME_ADDRESS_TYPE_TO));
    sum += addresses(g_mime_message_get_addresses(message, GMIME_ADDRESS_TYPE_CC));
    if (const char* id = g_mime_message_get_message_id(message)) sum += std::strlen(id);
    if (GDateTime* date = g_mime_message_get_date(message)) sum += g_date_time_to_unix(date) & 1;
    if (const char* refs = g_mime_object_get_header(GMIME_OBJECT(message), "References")) {
      GMimeReferences* list = g_mime_references_parse(nullptr, refs);
      if (list) {
        sum += g_mime_references_length(list);
        g_mime_references_free(list);
      }
    }
    sum += g_mime_header_list_get_count(g_mime_object_get_header_list(GMIME_OBJECT(message)));
    g_mime_message_foreach(message, gmime_part, &sum);
    g_object_unref(message);
  } else {
    sum = ~std::uint64_t{0};  // marks a failure
  }
  g_object_unref(parser);
  g_object_unref(stream);
  g_byte_array_free(bytes, FALSE);  // frees the wrapper only: the bytes belong to the caller
  return sum;
}

// ---------------------------------------------------------------- measurement in a child

struct Result {
  bool ok = false;
  double seconds = 0;
  std::uint64_t messages = 0;  // messages parsed (passes × set size)
  std::uint64_t bytes = 0;
  std::uint64_t failures = 0;  // GMime returned no message
  long peak_kb = 0;            // ru_maxrss of the child during the run
  long base_kb = 0;            // resident set when the run started
  bool peak_reset = false;     // /proc/self/clear_refs reset the high-water mark to base_kb
};

long resident_kb() {
  std::ifstream statm("/proc/self/statm");
  long size = 0, resident = 0;
  statm >> size >> resident;
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

// Runs `parse` over `set` (whole passes until min_seconds) in a fork()ed child and returns what
// it measured. The child inherits the data set, and its high-water mark is reset to the current
// RSS first ("5" into clear_refs), so peak_kb - base_kb is the parser's own growth.
Result measure(const std::vector<std::string>& set, std::uint64_t (*parse)(std::string_view),
               double min_seconds) {
  int fds[2];
  Result r;
  if (pipe(fds) != 0) return r;
  std::fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) return r;
  if (pid == 0) {
    close(fds[0]);
    Result c;
    {
      std::ofstream clear("/proc/self/clear_refs");
      clear << "5";
      clear.flush();
      c.peak_reset = static_cast<bool>(clear);
    }
    c.base_kb = resident_kb();
    std::uint64_t sum = 0;
    auto start = Clock::now();
    do {
      for (const auto& m : set) {
        std::uint64_t s = parse(m);
        if (s == ~std::uint64_t{0}) ++c.failures;
        else sum += s;
        c.bytes += m.size();
      }
      c.messages += set.size();
      c.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    } while (c.seconds < min_seconds);
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    c.peak_kb = ru.ru_maxrss;
    c.ok = sum != 0 || set.empty();
    ssize_t w = write(fds[1], &c, sizeof c);
    _exit(w == static_cast<ssize_t>(sizeof c) ? 0 : 1);
  }
  close(fds[1]);
  ssize_t got = read(fds[0], &r, sizeof r);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (got != static_cast<ssize_t>(sizeof r) || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    r.ok = false;
  return r;
}

// ---------------------------------------------------------------- output

void print_header() {
  std::printf("%-30s %7s %8s | %10s %7s %8s %8s | %10s %7s %8s %8s | %7s\n", "data set", "msgs",
              "MB", "atendd m/s", "MB/s", "peakMiB", "growMiB", "GMime m/s", "MB/s", "peakMiB",
              "growMiB", "at/GM");
  std::printf("%s\n", std::string(150, '-').c_str());
}

// msgs and MB describe the data set (one pass); each side's rates use its own pass count.
void print_row(const std::string& name, const std::vector<std::string>& set, const Result& a,
               const Result& g) {
  auto mb = [](double b) { return b / 1e6; };
  auto rate = [](const Result& r, double v) { return r.seconds > 0 ? v / r.seconds : 0.0; };
  std::uint64_t set_bytes = 0;
  for (const auto& m : set) set_bytes += m.size();
  std::printf("%-30s %7zu %8.1f | ", name.c_str(), set.size(), mb(static_cast<double>(set_bytes)));
  for (const Result* r : {&a, &g}) {
    if (!r->ok) {
      std::printf("%10s %7s %8s %8s | ", "FAILED", "-", "-", "-");
      continue;
    }
    std::printf("%10.0f %7.1f %8.1f %8.1f | ", rate(*r, static_cast<double>(r->messages)),
                rate(*r, mb(static_cast<double>(r->bytes))), r->peak_kb / 1024.0,
                (r->peak_kb - r->base_kb) / 1024.0);
  }
  double ra = rate(a, static_cast<double>(a.bytes)), rg = rate(g, static_cast<double>(g.bytes));
  if (a.ok && g.ok && rg > 0) std::printf("%7.2f\n", ra / rg);
  else std::printf("%7s\n", "-");
  if (g.failures)
    std::printf("%-30s   note: GMime returned no message for %llu of its %llu parses\n", "",
                static_cast<unsigned long long>(g.failures),
                static_cast<unsigned long long>(g.messages));
}

std::vector<std::string> load_corpus(const std::string& dir) {
  std::vector<std::filesystem::path> paths;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.path().extension() == ".box") paths.push_back(e.path());
  std::sort(paths.begin(), paths.end());
  std::vector<std::string> out;
  for (const auto& p : paths) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    out.push_back(ss.str());
  }
  return out;
}

std::uint64_t total_bytes(const std::vector<std::string>& set) {
  std::uint64_t n = 0;
  for (const auto& m : set) n += m.size();
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  bool tiny = false;
  int profile = 0;
  std::string corpus = std::string(ATENDD_SOURCE_DIR) + "/../shared/mail-corpus/zammad";
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--tiny") {
      tiny = true;
    } else if (arg == "--corpus" && i + 1 < argc) {
      corpus = argv[++i];
    } else if (arg == "--profile" && i + 1 < argc) {
      profile = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: %s [--tiny] [--corpus DIR] | --profile N\n", argv[0]);
      return 2;
    }
  }
  if (profile > 0) {
    std::mt19937 rng(20261124);  // the same messages as the typical set below
    std::vector<std::string> messages;
    for (int i = 0; i < profile; ++i) messages.push_back(typical_message(rng, i));
    std::uint64_t sum = 0;
    for (const auto& m : messages) sum += run_atendd(m);
    std::printf("bench_parse --profile: %d typical messages parsed (checksum %llu)\n", profile,
                static_cast<unsigned long long>(sum));
    return 0;
  }
  g_mime_init();
  auto wall = Clock::now();
#ifdef NDEBUG
  const char* build = "optimised build";
#else
  const char* build = "NOT a Release build: the numbers mean nothing";
#endif
  std::printf("bench_parse%s (%s)\n"
              "msgs, MB: one pass over the set (MB = 10^6 bytes of raw mail); m/s = messages/s;\n"
              "peak = ru_maxrss of the measuring child, grow = peak minus its RSS at start;\n"
              "at/GM = atendd MB/s / GMime MB/s (> 1: atendd faster)\n\n",
              tiny ? " --tiny" : "", build);
  print_header();

  // (1) the real-world corpus, repeated to about 2 s of work per parser
  std::vector<std::string> set = load_corpus(corpus);
  std::string skipped;
  if (set.empty()) {
    skipped = "zammad corpus: skipped, no .box files in " + corpus;
  } else {
    Result a = measure(set, run_atendd, tiny ? 0.0 : 2.0);
    Result g = measure(set, run_gmime, tiny ? 0.0 : 2.0);
    print_row(tiny ? "zammad corpus, 1 pass" : "zammad corpus, 2 s each", set, a, g);
  }

  // (2) typical 2–3 KB text/plain QP messages; (3) with a 50–200 KB base64 attachment
  std::mt19937 rng(20261124);
  set.clear();
  int typical = tiny ? 200 : 10000;
  for (int i = 0; i < typical; ++i) set.push_back(typical_message(rng, i));
  {
    Result a = measure(set, run_atendd, 0.0);
    Result g = measure(set, run_gmime, 0.0);
    char name[64];
    std::snprintf(name, sizeof name, "typical text (%.1f KB avg)",
                  total_bytes(set) / 1024.0 / static_cast<double>(set.size()));
    print_row(name, set, a, g);
  }
  set.clear();
  int with_att = tiny ? 50 : 1000;
  for (int i = 0; i < with_att; ++i)
    set.push_back(message_with_attachment(rng, i, 50 * 1024 + rng() % (150 * 1024 + 1)));
  {
    Result a = measure(set, run_atendd, 0.0);
    Result g = measure(set, run_gmime, 0.0);
    char name[64];
    std::snprintf(name, sizeof name, "50-200 KB attachment (%.0f KB)",
                  total_bytes(set) / 1024.0 / static_cast<double>(set.size()));
    print_row(name, set, a, g);
  }

  // (4) one big message, parsed once
  set.clear();
  set.shrink_to_fit();
  std::size_t big = (tiny ? 2u : 25u) * 1024 * 1024;
  set.push_back(message_with_attachment(rng, 1, big));
  Result big_a = measure(set, run_atendd, 0.0);
  Result big_g = measure(set, run_gmime, 0.0);
  print_row(std::to_string(big >> 20) + " MiB attachment, once", set, big_a, big_g);
  if (!skipped.empty()) std::printf("%s\n", skipped.c_str());

  double size_mb = static_cast<double>(set[0].size()) / (1024.0 * 1024.0);
  std::printf("\nbig message: %.1f MiB raw (%zu MiB base64 attachment)\n", size_mb, big >> 20);
  for (auto [name, r] : {std::pair<const char*, const Result&>{"atendd", big_a}, {"GMime ", big_g}}) {
    if (!r.ok) {
      std::printf("  %s: FAILED\n", name);
      continue;
    }
    double grow = (r.peak_kb - r.base_kb) / 1024.0;
    std::printf("  %s: %.3f s, peak RSS growth %.1f MiB = %.2f x message size%s%s\n", name,
                r.seconds, grow, grow / size_mb,
                name[0] == 'a' ? (grow / size_mb <= 2.0 ? "  (target <= 2x: met)" : "  (target <= 2x: MISSED)") : "",
                r.peak_reset ? "" : "  [clear_refs failed: growth includes inherited peak]");
  }
  if (big_a.ok) {  // a "summary" line for bench/run's combined table
    const double grow = (big_a.peak_kb - big_a.base_kb) / 1024.0;
    std::printf("summary\tparse\t%zu MiB attachment: peak RSS growth\t%.0f\tMiB\t-\t%.1f\t"
                "target: at most 2x the message\t%.0f\t%.2f\n",
                big >> 20, grow, big_a.peak_kb / 1024.0, 2 * size_mb, grow / (2 * size_mb));
  }
  std::printf("\ntotal wall time %.1f s\n",
              std::chrono::duration<double>(Clock::now() - wall).count());
  g_mime_shutdown();
  return 0;
}

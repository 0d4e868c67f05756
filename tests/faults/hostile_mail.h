// hostile_mail.h — the hostile-mail corpus of the abuse tests, generated (never stored in the
// repository): each entry a name and a function writing the message to a file, because some are
// tens of megabytes (ten thousand nested multiparts, a 10 MB header, a million tiny parts).
#pragma once

#include <fstream>
#include <functional>
#include <string>
#include <vector>

namespace atendd::test {

struct HostileMail {
  std::string name;
  std::function<void(std::ofstream&)> write;
};

inline std::string hostile_headers(const std::string& id, const std::string& subject = "Mensagem hostil",
                                   const std::string& from = "Hostil <hostil@cliente.test>") {
  return "From: " + from + "\r\nTo: suporte@atendd.test\r\nSubject: " + subject + "\r\nMessage-ID: <" + id +
         "@hostil.test>\r\nDate: Tue, 24 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n";
}

inline std::string attachment_part(const std::string& boundary, const std::string& filename_param) {
  return "--" + boundary + "\r\nContent-Type: application/octet-stream" + filename_param +
         "\r\nContent-Transfer-Encoding: base64\r\n\r\naG9zdGlsCg==\r\n";
}

inline std::vector<HostileMail> hostile_corpus() {
  std::vector<HostileMail> c;
  c.push_back({"nested_multiparts_10000", [](std::ofstream& o) {
    o << hostile_headers("nested") << "Content-Type: multipart/mixed; boundary=\"b0\"\r\n\r\n";
    for (int i = 0; i < 10000; ++i)
      o << "--b" << i << "\r\nContent-Type: multipart/mixed; boundary=\"b" << i + 1 << "\"\r\n\r\n";
    o << "--b10000\r\nContent-Type: text/plain\r\n\r\nno fundo\r\n";
    for (int i = 10000; i >= 0; --i) o << "--b" << i << "--\r\n";
  }});
  c.push_back({"header_10mb", [](std::ofstream& o) {
    o << hostile_headers("bigheader") << "X-Huge: ";
    const std::string chunk(1000, 'h');
    for (int i = 0; i < 10 * 1024; ++i) o << chunk << "\r\n " ;
    o << "end\r\nContent-Type: text/plain\r\n\r\nCorpo depois de um cabecalho de 10 MB.\r\n";
  }});
  c.push_back({"million_tiny_parts", [](std::ofstream& o) {
    o << hostile_headers("million") << "Content-Type: multipart/mixed; boundary=\"p\"\r\n\r\n";
    for (int i = 0; i < 1000000; ++i) o << "--p\r\n\r\nx\r\n";
    o << "--p--\r\n";
  }});
  c.push_back({"encoded_words_in_addresses", [](std::ofstream& o) {
    o << "From: =?UTF-8?Q?admin=40atendd.test?= <=?UTF-8?B?ZXZpbEBldmlsLnRlc3Q=?=>\r\n"
         "To: =?UTF-8?Q?suporte=40atendd.test=0D=0ABcc:_victim=40evil.test?= <suporte@atendd.test>\r\n"
         "Reply-To: \"=?UTF-8?B?PGV2aWxAZXZpbC50ZXN0Pg==?=\" <hostil2@cliente.test>\r\n"
         "Subject: =?UTF-8?Q?Endere=C3=A7os?=\r\nMessage-ID: <encaddr@hostil.test>\r\n\r\nOi.\r\n";
  }});
  c.push_back({"nul_bytes", [](std::ofstream& o) {
    std::string m = hostile_headers("nul", std::string("Assunto\0com NUL", 15)) +
                    "Content-Type: text/plain\r\n\r\nCorpo\0com\0NUL\r\n";
    m += std::string(1000, '\0');
    o.write(m.data(), static_cast<std::streamsize>(m.size()));
  }});
  c.push_back({"invalid_utf8_everywhere", [](std::ofstream& o) {
    o << "From: \xff\xfe\xc3\x28 <utf8@cliente.test>\r\nTo: suporte@atendd.test\r\n"
         "Subject: \xc3\x28\xa0\xa1\xe2\x28\xa1\xf0\x28\x8c\xbc =?UTF-8?B?/w==?=\r\nMessage-ID: <utf8@hostil.test>\r\n"
         "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"u\"\r\n\r\n"
         "--u\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n\xed\xa0\x80\xf8\x88\x80\x80\x80 \xc0\xaf\r\n"
         "--u\r\nContent-Type: application/octet-stream; name=\"\xff\xfe.bin\"\r\n"
         "Content-Disposition: attachment; filename*=UTF-8''%FF%FE%C0%AF.bin\r\n\r\nxx\r\n--u--\r\n";
  }});
  c.push_back({"crlf_in_subject_quoted_back", [](std::ofstream& o) {
    o << hostile_headers("crlf", "=?UTF-8?Q?Ol=C3=A1=0D=0ABcc:_victim=40evil.test=0D=0AX-Injected:_yes?= "
                                 "=?UTF-8?B?DQpYLUluamVjdGVkLTI6IHllcw0K?=")
      << "Content-Type: text/plain\r\n\r\nQuero ver o assunto de volta.\r\n";
  }});
  c.push_back({"hostile_attachment_names", [](std::ofstream& o) {
    o << hostile_headers("names") << "Content-Type: multipart/mixed; boundary=\"n\"\r\n\r\n"
      << "--n\r\nContent-Type: text/plain\r\n\r\nAnexos.\r\n"
      << attachment_part("n", "; name=\"../../etc/passwd\"")
      << attachment_part("n", "; name=\"con.txt\"")
      << attachment_part("n", "; name=\"" + std::string(300, 'a') + ".txt\"")
      << attachment_part("n", "; name=\"\"")
      << attachment_part("n", "; name=\"/etc/atendd/secret\"")
      << attachment_part("n", "; name=\"..\\\\..\\\\windows\\\\system32\\\\x.dll\"")
      << attachment_part("n", "; name=\"=?UTF-8?Q?=2E=2E=2F=2E=2E=2Fescape.txt?=\"")
      << attachment_part("n", "; name*=UTF-8''%2E%2E%2F%2E%2E%2Fencoded.txt")
      << attachment_part("n", "; name=\"..\"")
      << attachment_part("n", "; name=\"nul\\0byte.txt\"")
      << "--n--\r\n";
  }});
  c.push_back({"sql_looking_text", [](std::ofstream& o) {
    o << hostile_headers("sql", "'; DROP TABLE tickets; --", "\"Robert'); DROP TABLE contacts;--\" <bobby@cliente.test>")
      << "Content-Type: text/plain\r\n\r\n1' OR '1'='1\r\n\"; DELETE FROM journal WHERE 1=1; --\r\n";
  }});
  c.push_back({"binary_junk_2mb", [](std::ofstream& o) {
    unsigned x = 12345;
    std::string junk(2u << 20, '\0');
    for (auto& ch : junk) ch = static_cast<char>((x = x * 1103515245u + 12345u) >> 16);
    o.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }});
  c.push_back({"thousands_of_recipients", [](std::ofstream& o) {
    o << "From: muitos@cliente.test\r\nTo: ";
    for (int i = 0; i < 5000; ++i) o << (i ? ", " : "") << "r" << i << "@cliente.test";
    o << "\r\nSubject: Muitos destinatarios\r\nMessage-ID: <rcpts@hostil.test>\r\n\r\nOi.\r\n";
  }});
  c.push_back({"headers_only_no_body", [](std::ofstream& o) { o << hostile_headers("nobody"); }});
  return c;
}

}  // namespace atendd::test

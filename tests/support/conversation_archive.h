// conversation_archive.h — generated support conversations as an old mailbox would hold them, for
// the archive import tests and bench/bench_import: customers write to the support address, an
// agent answers from the agent's own address (In-Reply-To/References, and our MTA's
// Authentication-Results so that a live run proves the agent the same way), customers answer
// back; a few of our own mails (which must be ignored) are among them. Bodies carry "From " lines
// so that the mbox needs ">From " quoting. Deterministic: the same n gives the same bytes.
#pragma once

#include <algorithm>
#include <cstdint>
#include <ctime>
#include <string>
#include <vector>

namespace atendd::test {

struct ArchivedMessage {
  std::int64_t date = 0;  // UTC seconds
  std::string raw;        // CRLF
  bool opens = false;     // a customer's first message (a new ticket)
  bool ours = false;      // our own mail: ignored
  bool agent = false;     // an agent's answer
};

struct ConversationArchive {
  std::vector<ArchivedMessage> messages;  // in date order
  int conversations = 0;
  int agent_answers = 0;
  int customer_replies = 0;
  int ours = 0;
};

inline std::string archive_date(std::int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buffer[64];
  std::strftime(buffer, sizeof buffer, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buffer;
}

// n messages: conversations of a customer's message, then alternately the agent's answer and the
// customer's reply (0 to 4 more messages each), one of our own mails every 97 messages.
inline ConversationArchive make_conversation_archive(int n, const std::string& agent = "maria@atendd.test",
                                                     const std::string& support = "suporte@atendd.test",
                                                     const std::string& authserv = "mx.atendd.test") {
  ConversationArchive archive;
  const std::int64_t start = 1735732800;  // 2025-01-01T12:00:00Z
  std::uint32_t seed = 12345;
  auto next = [&seed]() {
    seed = seed * 1103515245u + 12345u;
    return (seed >> 16) & 0x7fff;
  };
  int made = 0;
  for (int c = 0; made < n; ++c) {
    ++archive.conversations;
    const std::string customer = "cliente" + std::to_string(c) + "@example.org";
    const std::string name = "Cliente " + std::to_string(c);
    const std::string subject = "Pedido " + std::to_string(1000 + c) + " com problema";
    std::int64_t at = start + static_cast<std::int64_t>(c) * 600;
    const int replies = static_cast<int>(next() % 5);
    std::vector<std::string> ids;
    for (int k = 0; k <= replies && made < n; ++k, ++made) {
      ArchivedMessage m;
      m.date = at;
      const bool from_agent = k % 2 == 1;
      const std::string id = "c" + std::to_string(c) + "." + std::to_string(k) + (from_agent ? "@atendd.test" : "@example.org");
      std::string h;
      if (made % 97 == 96) {
        // One of our own mails that went to the customer: a loop if taken as inbound.
        h = "From: Suporte <" + support + ">\r\nTo: " + customer + "\r\nSubject: [#2025000000] " + subject +
            "\r\nX-Loop: " + support + "\r\nAuto-Submitted: auto-replied\r\n";
        m.ours = true;
        ++archive.ours;
        --k;  // the conversation goes on as if it were not there
      } else if (from_agent) {
        h = "From: Maria Souza <" + agent + ">\r\nTo: " + name + " <" + customer + ">\r\nSubject: Re: " + subject +
            "\r\nAuthentication-Results: " + authserv + "; dkim=pass; spf=pass; dmarc=pass header.from=atendd.test\r\n";
        m.agent = true;
        ++archive.agent_answers;
      } else {
        h = "From: " + name + " <" + customer + ">\r\nTo: " + support + "\r\nSubject: " + (k == 0 ? "" : "Re: ") +
            subject + "\r\n";
        m.opens = k == 0;
        if (k > 0) ++archive.customer_replies;
      }
      h += "Date: " + archive_date(at) + "\r\nMessage-ID: <" + (m.ours ? "ours" + std::to_string(made) + "@atendd.test" : id) +
           ">\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n";
      if (!ids.empty() && !m.ours) {
        h += "In-Reply-To: <" + ids.back() + ">\r\nReferences:";
        for (const auto& r : ids) h += " <" + r + ">";
        h += "\r\n";
      }
      std::string body;
      if (m.agent)
        body = "Olá,\r\n\r\nVerificamos o pedido " + std::to_string(1000 + c) + " e o envio sai amanhã.\r\n\r\n"
               "From now on you can follow it on the site.\r\n\r\nMaria\r\n";
      else if (m.ours)
        body = "Recebemos sua mensagem.\r\n";
      else
        body = "Bom dia,\r\n\r\nO pedido " + std::to_string(1000 + c) + " ainda não chegou (mensagem " + std::to_string(k) +
               ").\r\n\r\nFrom the tracking page it looks stuck.\r\n>From an earlier note: obrigado.\r\n\r\n" + name + "\r\n";
      m.raw = h + "\r\n" + body;
      if (!m.ours) ids.push_back(id);
      archive.messages.push_back(std::move(m));
      at += 3600 + static_cast<std::int64_t>(next() % 3600);
    }
  }
  std::stable_sort(archive.messages.begin(), archive.messages.end(),
                   [](const ArchivedMessage& a, const ArchivedMessage& b) { return a.date < b.date; });
  return archive;
}

// The messages as an mboxrd file: "From " separator lines, ">From " quoting, a blank line after
// each message. Every `swap_every`-th pair is written in swapped order (archives are not always
// in date order; the import sorts). LF line ends, as mbox files on disk have them.
inline std::string to_mbox(const std::vector<ArchivedMessage>& messages, int swap_every = 10) {
  std::vector<const ArchivedMessage*> order;
  for (const auto& m : messages) order.push_back(&m);
  if (swap_every > 0)
    for (std::size_t i = 0; i + 1 < order.size(); i += static_cast<std::size_t>(swap_every)) std::swap(order[i], order[i + 1]);
  std::string out;
  for (const ArchivedMessage* m : order) {
    out += "From MAILER-DAEMON " + archive_date(m->date).substr(0, 25) + "\n";
    std::size_t at = 0;
    while (at < m->raw.size()) {
      std::size_t nl = m->raw.find("\r\n", at);
      std::string line = m->raw.substr(at, nl == std::string::npos ? std::string::npos : nl - at);
      std::size_t quotes = 0;
      while (quotes < line.size() && line[quotes] == '>') ++quotes;
      if (line.compare(quotes, 5, "From ") == 0) line = ">" + line;
      out += line + "\n";
      if (nl == std::string::npos) break;
      at = nl + 2;
    }
    out += "\n";
  }
  return out;
}

// The message as stored in an mbox and read back: CRLF turned into LF.
inline std::string lf_only(const std::string& raw) {
  std::string out;
  for (std::size_t i = 0; i < raw.size(); ++i)
    if (!(raw[i] == '\r' && i + 1 < raw.size() && raw[i + 1] == '\n')) out += raw[i];
  return out;
}

}  // namespace atendd::test

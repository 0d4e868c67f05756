// forwarded_message.h — recognises a forwarded e-mail inside a parsed message: an inline forward
// as Outlook ("-----Original Message-----", "From:/Sent:" or "De:/Enviada em:" blocks), Gmail
// ("---------- Forwarded message ---------", "Mensagem encaminhada") and Thunderbird ("--------
// Forwarded Message --------" with its label table) write it, in en and pt-BR, or an attached
// message/rfc822. It only reads the format; whether the forward may open a ticket in the original
// sender's name is the pipeline's decision (daemon/pipeline/forward_to_open.h). Never fooled by a
// quoted reply: a reply's subject, "> " lines and an attribution above the block all say "no".
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "parsers/message.h"

namespace atendd {

struct ForwardedMessage {
  enum class Kind { Inline, Attached };
  Kind kind = Kind::Inline;
  std::string format;       // "outlook", "gmail", "thunderbird", "apple", "attached" (logs, history)
  Address from;             // the original sender
  std::vector<Address> to;
  std::vector<Address> cc;
  std::string subject;      // the original subject (the forward's, without its prefix, when none)
  std::optional<std::int64_t> date;  // the original date (UTC); empty when unreadable
  std::string date_text;    // the date as the forwarding client wrote it
  std::string message_id;   // attached forwards only: the original's Message-ID
  std::string text;         // the original's text
  std::optional<std::string> html;    // attached forwards only
  std::vector<Attachment> attachments;  // attached: the original's; inline: the forward's own
                                        // files that are not inline images
  std::string note;         // what the forwarder wrote above the forwarded message
};

// True when the subject begins with a forward prefix ("Fwd:", "FW:", "ENC:", "TR:", "WG:"),
// after any "[tag]" in front.
bool is_forward_subject(const std::string& subject);
// True when the subject begins with a reply prefix ("Re:", "RES:", "AW:", "SV:", "Antw:").
bool is_reply_subject(const std::string& subject);

// The forwarded message in `message`, or nothing when it is not a forward (or the forwarded
// sender cannot be read). The date of an inline forward is read in en and pt-BR layouts; a date
// without a zone is taken in the zone of the forward's own Date header.
std::optional<ForwardedMessage> find_forwarded_message(const ParsedMessage& message);

}  // namespace atendd

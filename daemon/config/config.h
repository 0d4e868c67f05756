// config.h — the checked configuration of atendd (DESIGN.md, "Configuration").
// A Config exists only after load_config() found no problem: every later stage trusts it
// (invariant 6). Secrets are read from their files at load time and never logged.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace atendd {

enum class Priority { Urgent = 1, High = 2, Normal = 3, Low = 4 };
const char* priority_name(Priority p);  // "urgent", "high", …

// One line "name role token" of the admin_tokens file, kept as the SHA-256 of the token.
struct AdminToken {
  std::string name;
  std::string role;    // "read" (GETs) or "admin" (everything)
  std::string sha256;  // lower-case hex of the token's SHA-256
};

struct ServerConfig {
  std::string name = "atendd";
  std::string address;                 // our From; never a customer
  std::string reply_address;           // contains "{token}"; empty = use address
  std::string state_dir = "/var/lib/atendd";
  std::string database;                // "sqlite:/path" (default: sqlite:STATE_DIR/atendd.db)
  std::string blob_dir;                // raw messages, attachments; empty = state_dir (SQLite) or the database (PostgreSQL)
  int database_blob_max_kb = 128;      // SQLite without blob_dir: blobs up to this size in the database, larger as files; 0 = all files
  std::string admin_listen = "127.0.0.1:8025";
  std::string admin_tokens;            // path
  std::vector<AdminToken> admin_token_hashes;  // read from admin_tokens: hashes only, never the tokens
  std::string secret_file;             // path; its content is `secret`
  std::string secret;                  // key for reply tokens (generated in state_dir when no file)
  std::string locale = "pt_BR";
  std::string templates_dir;           // empty = templates embedded in the binary
  std::string protocol_format = "{yyyy}{mm}{dd}{seq:6}";
  std::string subject_tag = "[#{protocol}]";
  std::string trusted_authserv_id;
  int auto_reply_limit = 10;           // automatic mails to one address per hour; 0 = no limit
  std::string log_level = "information";

  // The token of one of our per-ticket reply addresses ("suporte+TOKEN@…" → "TOKEN", compared
  // case-insensitively, lower case out); "" when `address` is not one.
  std::string reply_token_of(const std::string& address) const;
  // Our own address or one of our reply addresses: mail from there is our own coming back.
  bool is_our_address(const std::string& address) const;
};

enum class SmtpTls { None, StartTls, Tls };

struct SmtpConfig {
  std::string host = "127.0.0.1";
  int port = 25;
  SmtpTls tls = SmtpTls::None;
  std::string ca_file;
  std::string user;
  std::string password_file;
  std::string password;  // read from password_file
  std::string helo;      // EHLO name; empty = the domain of server.address
  int timeout_seconds = 30;
  int retry_initial_seconds = 60;    // first retry delay; doubles each attempt
  int retry_max_seconds = 3600;      // cap of the delay
  int max_attempts = 20;             // then the mail is marked failed
};

struct MailboxConfig {
  std::string id;  // NAME of [mailbox.NAME]
  std::string url;
  std::string tls = "starttls";
  std::string ca_file;
  std::string user;
  std::string password_file;
  std::string password;           // read from password_file
  std::string oauth2_token_file;
  std::string oauth2_token;       // read from oauth2_token_file at load time (the poller may
                                  // re-read the file when the token is refreshed)
  int poll_seconds = 30;
  bool idle = true;
  std::string after = "seen";
  std::string default_type;
  int max_message_mb = 25;        // larger messages are passed headers-only (RawMessage::oversized)
};

struct AgentConfig {
  std::string id;  // NAME of [agent.NAME]
  std::string email;
  std::string name;
  std::string department;
  int level = 0;
  bool chief = false;
};

enum class AssignMode { None, Agent, RoundRobin, LeastLoaded };

// A typed field of a type's tickets (`fields = NAME:KIND[:required_to_open|required_to_close], …`).
enum class FieldKind { Text, Int, Money, Date, Choice };
const char* field_kind_name(FieldKind kind);  // "text", "int", …

struct FieldSpec {
  std::string name;
  FieldKind kind = FieldKind::Text;
  std::vector<std::string> choices;  // for FieldKind::Choice, in order
  bool required_to_open = false;     // asked of the responsible when the ticket opens without it
  bool required_to_close = false;    // #solve, #close and closing stages are refused without it
};

struct TypeConfig {
  std::string id;  // NAME of [type.NAME]
  std::string name;
  std::vector<std::string> match_to;           // recipient addresses, lower case
  std::string match_subject;                   // PCRE, may start with (?i)
  std::vector<std::string> match_mailbox;
  std::vector<std::string> match_from_domain;  // lower case
  Priority priority = Priority::Normal;
  std::string department;
  AssignMode assign = AssignMode::None;
  std::string assign_agent;                    // for AssignMode::Agent
  int first_response_hours = 0;
  int next_contact_days = 0;
  std::vector<std::string> watchers;           // addresses
  bool opening_email = true;
  bool closing_email = true;
  bool cc_watchers = true;                     // people in the customer's Cc become watchers
  bool forward_assigns_forwarder = false;      // an agent's forward-to-open makes that agent responsible
  int reopen_days = 0;
  int max_attachment_mb = 25;
  int level = 0;
  std::string workflow;
  std::string templates_dir;                   // overrides for this type; empty = none
  int auto_close_days = 0;                     // a solved ticket closes itself after N days; 0 = never
  bool allow_type_change = true;               // false: #type is refused on its tickets
  std::vector<FieldSpec> fields;               // typed fields; empty = free-form #field NAME VALUE
  bool expenses = false;                       // #expense AMOUNT DESCRIPTION on its tickets
  const FieldSpec* field(const std::string& name) const;
  int order = 0;                               // position in the file: first match wins
};

// What a workflow stage does besides being a step (`stage_NAME = …` in [workflow.ID]).
struct StageConfig {
  bool closes = false;                 // reaching it closes the ticket (the text is the final opinion)
  bool requires_responsible = false;   // moving into it must name the next responsible
  int next_contact_days = -1;          // overrides the type's while the ticket is in it; -1 = the type's
  std::vector<std::pair<std::string, std::string>> answers;  // a decision: answer → stage, in order
  // 003 "Workflow (verde)": reaching the stage enters the workflow `subflow` at its first stage;
  // past its last stage the ticket comes back to the stage after this one (subflow_returns) or
  // stays there until it closes. The ticket's stage is then the path "THIS/SUB_STAGE".
  std::string subflow;
  bool subflow_returns = true;
  // Canned answers ("parecer padrão", `#answer NAME`) offered in this stage, in order.
  std::vector<std::string> canned_answers;
};

struct WorkflowConfig {
  std::string id;
  std::vector<std::string> stages;
  std::map<std::string, StageConfig> stage_options;  // only stages that have options
};

// [confirmation]: what a customer writes to approve a solution (001 "Confirmado"): per locale,
// phrases matched on the new part of a reply to a solved ticket, ignoring case, accents and
// punctuation. A `phrases_LOCALE` key replaces that locale's defaults (empty: none).
struct ConfirmationConfig {
  std::map<std::string, std::vector<std::string>> phrases = {
      {"pt_BR",
       {"ok, resolvido", "pode fechar", "pode encerrar", "obrigado, funcionou", "obrigada, funcionou",
        "problema resolvido", "está resolvido", "deu certo", "funcionou, obrigado", "funcionou, obrigada"}},
      {"en",
       {"yes, solved", "you can close it", "you may close it", "thanks, it works", "thank you, it works",
        "problem solved", "it is solved", "it works now", "issue resolved"}},
  };
};

enum class ChannelKind { WhatsApp, Telegram, Generic };

// [channel.NAME]: a messaging channel whose webhook posts to us and whose API we answer through.
struct ChannelConfig {
  std::string id;  // NAME of [channel.NAME]
  ChannelKind kind = ChannelKind::Generic;
  std::string secret_file;  // path; its content is `secret` (checks the webhook's signature)
  std::string secret;
  std::string send_url;     // http(s) URL of the channel's send API; empty = receive only
  std::string token_file;   // path; its content is `token` (bearer token for send_url)
  std::string token;
  std::string verify_token; // WhatsApp: the hub.verify_token of the GET verification handshake
  std::string poll_url;     // Telegram: getUpdates URL; set = long polling instead of a webhook
  int poll_seconds = 25;    // Telegram: long-polling timeout of one getUpdates
};

struct Config {
  std::string source_file;
  ServerConfig server;
  SmtpConfig smtp;
  std::map<std::string, MailboxConfig> mailboxes;
  std::map<std::string, AgentConfig> agents;
  std::vector<TypeConfig> types;  // in file order
  std::map<std::string, WorkflowConfig> workflows;
  std::map<std::string, ChannelConfig> channels;
  ConfirmationConfig confirmation;
  std::string default_type;       // [server] default_type, or the first type

  const TypeConfig* type(const std::string& id) const;
  const AgentConfig* agent(const std::string& id) const;
  const AgentConfig* agent_by_email(const std::string& address) const;  // case-insensitive
};

// One thing wrong with a configuration: where and what.
struct ConfigProblem {
  std::string file;
  int line = 0;          // 0 when the problem has no line (a missing section)
  std::string key;       // "section.key" or "section"
  std::string message;
  // "FILE:LINE: KEY: MESSAGE"; ":LINE" is left out when line is 0 and "KEY: " when key is empty.
  std::string to_string() const;
};

struct ConfigResult {
  std::optional<Config> config;        // set only when problems is empty
  std::vector<ConfigProblem> problems; // all of them, ordered by line
};

// Reads and validates the INI file. Never throws; an unreadable file is one problem.
ConfigResult load_config(const std::string& path);
// Same, from text (for tests and embedded defaults); `name` is used as the file name in problems.
ConfigResult load_config_text(const std::string& text, const std::string& name,
                              const std::string& base_dir = ".");

}  // namespace atendd

// type_router.h — picks the attendance type ("tipo de atendimento") of a new ticket.
// The types' match rules (mailbox, recipient, subject pattern, sender domain) are tried in the
// order of the configuration file; the first type whose every given rule matches wins, and the
// mailbox's default type, then the configuration's default type, catch the rest.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <Poco/RegularExpression.h>

#include "daemon/config/config.h"
#include "daemon/pipeline/explanation.h"
#include "parsers/message.h"

namespace atendd {

class TypeRouter {
 public:
  explicit TypeRouter(const Config& config);  // compiles the subject patterns once
  // Never returns nullptr: a checked configuration always has a default type. `explain` (may be
  // null) gets the type and the match_* keys that matched, or which default caught the message.
  const TypeConfig* route(const ParsedMessage& message, const std::string& mailbox,
                          Explanation* explain = nullptr) const;

 private:
  struct Rule {
    const TypeConfig* type;
    std::unique_ptr<Poco::RegularExpression> subject;
  };
  // `matched` gets "match_mailbox suporte, match_subject (?i)garantia" when the rule matches.
  bool matches(const Rule& rule, const ParsedMessage& message, const std::string& mailbox,
               std::string& matched) const;

  const Config& config_;
  std::vector<Rule> rules_;
};

}  // namespace atendd

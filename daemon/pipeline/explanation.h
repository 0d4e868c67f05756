// explanation.h — what each stage of the inbound path decided about one message, and why: a sink
// the stages write to as they decide (loop_guard, bounce, sender, threader, commands, type_router,
// assignment, engine, outbox). `atendd route --explain` prints it with the mails that would be
// sent; the journal keeps it compact for every applied message (`ticket show --why`).
// Stages only add lines here; nothing in this file decides anything.
#pragma once

#include <string>
#include <vector>

namespace atendd {

struct ExplanationStep {
  std::string stage;     // "loop_guard", "threader", "type_router", …
  std::string decision;  // "pass", "ticket 2026112400001", "type garantia", …
  std::string reason;    // why: "subject tag [#2026112400001]", "match_subject (?i)garantia", …
};

// A mail the message made the outbox queue, as rendered.
struct ExplainedMail {
  std::string template_name;
  std::vector<std::string> recipients;
  std::string raw;  // the whole composed message; kept only when the explanation keeps mails
};

class Explanation {
 public:
  // `keep_mail_bodies`: keep each queued mail's whole text (route --explain), not only its name.
  explicit Explanation(bool keep_mail_bodies = false) : keep_mail_bodies_(keep_mail_bodies) {}

  void add(const std::string& stage, const std::string& decision, const std::string& reason = "");
  void mail(const std::string& template_name, const std::vector<std::string>& recipients, const std::string& raw);

  const std::vector<ExplanationStep>& steps() const { return steps_; }
  const std::vector<ExplainedMail>& mails() const { return mails_; }

  // One "stage<TAB>decision<TAB>reason" line per step (tabs and line breaks inside become
  // spaces; each field bounded), for the journal.
  std::string compact() const;
  static std::vector<ExplanationStep> from_compact(const std::string& text);

 private:
  bool keep_mail_bodies_;
  std::vector<ExplanationStep> steps_;
  std::vector<ExplainedMail> mails_;
};

// Adds a step when there is a sink: the stages' one-liner (`explain(sink, "threader", …)`).
inline void explain(Explanation* sink, const std::string& stage, const std::string& decision,
                    const std::string& reason = "") {
  if (sink) sink->add(stage, decision, reason);
}

// "  stage        decision — reason" lines, for terminals.
std::string explanation_text(const std::vector<ExplanationStep>& steps, const std::string& indent = "  ");

}  // namespace atendd

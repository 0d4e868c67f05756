// explanation.cpp — see explanation.h.
#include "daemon/pipeline/explanation.h"

#include <algorithm>
#include <sstream>

namespace atendd {

namespace {

constexpr std::size_t kMaxField = 400;

std::string one_line(const std::string& text) {
  std::string out;
  out.reserve(std::min(text.size(), kMaxField));
  for (char c : text) {
    if (out.size() >= kMaxField) {
      out += "…";
      break;
    }
    out += (c == '\t' || c == '\n' || c == '\r') ? ' ' : c;
  }
  return out;
}

}  // namespace

void Explanation::add(const std::string& stage, const std::string& decision, const std::string& reason) {
  steps_.push_back({stage, decision, reason});
}

void Explanation::mail(const std::string& template_name, const std::vector<std::string>& recipients,
                       const std::string& raw) {
  std::string to;
  for (const auto& r : recipients) to += (to.empty() ? "" : ", ") + r;
  add("outbox", "queue " + template_name, "to " + to);
  mails_.push_back({template_name, recipients, keep_mail_bodies_ ? raw : std::string()});
}

std::string Explanation::compact() const {
  std::string out;
  for (const auto& s : steps_) {
    if (!out.empty()) out += '\n';
    out += one_line(s.stage) + '\t' + one_line(s.decision) + '\t' + one_line(s.reason);
  }
  return out;
}

std::vector<ExplanationStep> Explanation::from_compact(const std::string& text) {
  std::vector<ExplanationStep> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    ExplanationStep step;
    const auto a = line.find('\t');
    const auto b = a == std::string::npos ? std::string::npos : line.find('\t', a + 1);
    step.stage = line.substr(0, a);
    if (a != std::string::npos) step.decision = line.substr(a + 1, b == std::string::npos ? std::string::npos : b - a - 1);
    if (b != std::string::npos) step.reason = line.substr(b + 1);
    out.push_back(std::move(step));
  }
  return out;
}

std::string explanation_text(const std::vector<ExplanationStep>& steps, const std::string& indent) {
  std::string out;
  for (const auto& s : steps) {
    std::string stage = s.stage;
    if (stage.size() < 12) stage.resize(12, ' ');
    out += indent + stage + " " + s.decision + (s.reason.empty() ? "" : " — " + s.reason) + "\n";
  }
  return out;
}

}  // namespace atendd

// workflow.cpp — see workflow.h.
#include "daemon/tickets/workflow.h"

#include <algorithm>
#include <cctype>

namespace atendd {

namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string joined(const std::vector<std::string>& items, const char* separator) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : separator) + item;
  return out;
}

}  // namespace

const WorkflowConfig& default_workflow() {
  static const WorkflowConfig workflow = [] {
    WorkflowConfig w;
    w.id = "";
    w.stages = {"abertura", "analise", "conclusao"};
    w.stage_options["conclusao"].closes = true;
    return w;
  }();
  return workflow;
}

const WorkflowConfig& workflow_of(const Config& config, const std::string& type_id) {
  const TypeConfig* type = config.type(type_id);
  if (type && !type->workflow.empty()) {
    const auto found = config.workflows.find(type->workflow);
    if (found != config.workflows.end() && !found->second.stages.empty()) return found->second;
  }
  return default_workflow();
}

const StageConfig& stage_options(const WorkflowConfig& workflow, const std::string& stage) {
  static const StageConfig none;
  const auto found = workflow.stage_options.find(stage);
  return found == workflow.stage_options.end() ? none : found->second;
}

StageMove resolve_stage_move(const WorkflowConfig& workflow, const std::string& current, const std::string& argument) {
  const std::string arg = lower(argument);
  const StageConfig& here = stage_options(workflow, current);
  const auto position = std::find(workflow.stages.begin(), workflow.stages.end(), current);
  const std::string stages = joined(workflow.stages, ", ");
  StageMove move;
  if (!here.answers.empty()) {
    std::vector<std::string> answers;
    for (const auto& [answer, target] : here.answers) {
      if (answer == arg) {
        move.to = target;
        return move;
      }
      answers.push_back(answer);
    }
    move.error = "stage " + current + " is a decision: answer with #stage " + joined(answers, "|");
    return move;
  }
  if (arg == "next") {
    if (position == workflow.stages.end()) {
      move.to = workflow.stages.front();
    } else if (here.closes) {
      move.error = "stage " + current + " closes the ticket: #close with the final opinion";
    } else if (position + 1 == workflow.stages.end()) {
      move.error = "stage " + current + " is the last one (stages: " + stages + ")";
    } else {
      move.to = *(position + 1);
    }
    return move;
  }
  for (const auto& stage : workflow.stages) {
    if (lower(stage) == arg) {
      if (stage == current) {
        move.error = "the ticket is already in stage " + current;
      } else {
        move.to = stage;
      }
      return move;
    }
  }
  move.error = "no stage \"" + argument + "\" in this workflow; use #stage next or one of: " + stages;
  return move;
}

std::string closing_stage(const WorkflowConfig& workflow, const std::string& current) {
  if (stage_options(workflow, current).closes) return current;
  auto position = std::find(workflow.stages.begin(), workflow.stages.end(), current);
  if (position != workflow.stages.end())
    for (auto it = position + 1; it != workflow.stages.end(); ++it)
      if (stage_options(workflow, *it).closes) return *it;
  for (auto it = workflow.stages.rbegin(); it != workflow.stages.rend(); ++it)
    if (stage_options(workflow, *it).closes) return *it;
  return "";
}

}  // namespace atendd

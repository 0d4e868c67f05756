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

// ---- sub-workflows

namespace {

struct Place {
  const WorkflowConfig* workflow;
  std::string stage;
};

constexpr int kMaxDepth = 16;  // the loader refuses cycles; this only bounds a broken path

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t slash = path.find('/', start);
    parts.push_back(path.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return parts;
}

const WorkflowConfig* workflow_named(const Config& config, const std::string& id) {
  const auto found = config.workflows.find(id);
  return found == config.workflows.end() || found->second.stages.empty() ? nullptr : &found->second;
}

bool has_stage(const WorkflowConfig& workflow, const std::string& stage) {
  return std::find(workflow.stages.begin(), workflow.stages.end(), stage) != workflow.stages.end();
}

// The workflows along `path`, outermost first; the last place is where the ticket is.
std::vector<Place> places_of(const Config& config, const std::string& type_id, const std::string& path) {
  std::vector<Place> places;
  const WorkflowConfig* workflow = &workflow_of(config, type_id);
  const auto parts = split_path(path);
  for (size_t i = 0; i < parts.size() && static_cast<int>(i) < kMaxDepth; ++i) {
    places.push_back({workflow, parts[i]});
    if (i + 1 == parts.size()) break;
    const StageConfig& options = stage_options(*workflow, parts[i]);
    const WorkflowConfig* inner = options.subflow.empty() ? nullptr : workflow_named(config, options.subflow);
    if (!inner || !has_stage(*workflow, parts[i])) {  // the configuration changed: keep what still holds
      places.back().stage = parts.back();
      break;
    }
    workflow = inner;
  }
  return places;
}

std::string prefix_of(const std::vector<Place>& places, size_t count) {
  std::string prefix;
  for (size_t i = 0; i < count && i < places.size(); ++i) prefix += places[i].stage + "/";
  return prefix;
}

// `stage` of `workflow` as a path under `prefix`, entering the workflows it leads into.
std::string enter(const Config& config, const WorkflowConfig& workflow, const std::string& stage,
                  const std::string& prefix, StageMove& move) {
  std::string path = prefix + stage;
  const WorkflowConfig* current = &workflow;
  std::string at = stage;
  for (int depth = 0; depth < kMaxDepth; ++depth) {
    const StageConfig& options = stage_options(*current, at);
    const WorkflowConfig* inner = options.subflow.empty() ? nullptr : workflow_named(config, options.subflow);
    if (!inner) break;
    move.requires_responsible |= options.requires_responsible;
    move.workflow_change += std::string(move.workflow_change.empty() ? "" : "; ") + "stage " + at +
                            " enters workflow " + inner->id;
    current = inner;
    at = current->stages.front();
    path += "/" + at;
  }
  move.to_workflow = current->id;
  return path;
}

bool is_last_plain_stage(const WorkflowConfig& workflow, const std::string& stage) {
  const StageConfig& options = stage_options(workflow, stage);
  return !workflow.stages.empty() && workflow.stages.back() == stage && !options.closes && options.answers.empty();
}

StageMove move_from(const Config& config, std::vector<Place> places, const std::string& argument) {
  const std::string arg = lower(argument);
  const Place here = places.back();
  const size_t depth = places.size();
  if (arg == "next" && depth > 1 && is_last_plain_stage(*here.workflow, here.stage)) {
    const Place& caller = places[depth - 2];
    if (!stage_options(*caller.workflow, caller.stage).subflow_returns) {
      StageMove refused;
      refused.error = "stage " + here.stage + " is the last one of workflow " + here.workflow->id +
                      ", which the ticket entered for good at stage " + caller.stage + " of workflow " +
                      caller.workflow->id + " (workflow:" + here.workflow->id + ":end): close the ticket here";
      return refused;
    }
    places.pop_back();
    StageMove move = move_from(config, places, "next");
    if (move.error.empty()) {
      move.workflow_change = "back from workflow " + here.workflow->id + " to workflow " + caller.workflow->id +
                             " after stage " + caller.stage +
                             (move.workflow_change.empty() ? "" : "; " + move.workflow_change);
    }
    return move;
  }
  StageMove move = resolve_stage_move(*here.workflow, here.stage, argument);
  if (move.error.empty()) {
    move.to = enter(config, *here.workflow, move.to, prefix_of(places, depth - 1), move);
    return move;
  }
  // A stage of a calling workflow leaves the returning sub-workflows in between.
  if (arg != "next" && stage_options(*here.workflow, here.stage).answers.empty()) {
    for (size_t i = depth - 1; i-- > 0;) {
      if (!stage_options(*places[i].workflow, places[i].stage).subflow_returns) break;
      for (const auto& stage : places[i].workflow->stages) {
        if (lower(stage) != arg) continue;
        StageMove left;
        left.workflow_change = "back from workflow " + here.workflow->id + " to workflow " + places[i].workflow->id;
        left.to = enter(config, *places[i].workflow, stage, prefix_of(places, i), left);
        return left;
      }
    }
  }
  return move;
}

}  // namespace

const WorkflowConfig& current_workflow(const Config& config, const std::string& type_id, const std::string& path) {
  return *places_of(config, type_id, path).back().workflow;
}

const StageConfig& current_stage_options(const Config& config, const std::string& type_id, const std::string& path) {
  const Place here = places_of(config, type_id, path).back();
  return stage_options(*here.workflow, here.stage);
}

std::string first_stage(const Config& config, const std::string& type_id) {
  const WorkflowConfig& workflow = workflow_of(config, type_id);
  StageMove ignored;
  return enter(config, workflow, workflow.stages.front(), "", ignored);
}

StageMove resolve_stage_move(const Config& config, const std::string& type_id, const std::string& current,
                             const std::string& argument) {
  const auto places = places_of(config, type_id, current);
  StageMove move = move_from(config, places, argument);
  move.from_workflow = places.back().workflow->id;
  if (move.error.empty() && move.to_workflow.empty()) move.to_workflow = current_workflow(config, type_id, move.to).id;
  return move;
}

std::string closing_stage(const Config& config, const std::string& type_id, const std::string& current) {
  const auto places = places_of(config, type_id, current);
  for (size_t i = places.size(); i-- > 0;) {
    const std::string stage = closing_stage(*places[i].workflow, places[i].stage);
    if (!stage.empty()) return prefix_of(places, i) + stage;
  }
  return "";
}

}  // namespace atendd

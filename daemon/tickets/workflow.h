// workflow.h — a ticket's stages ("centros de responsabilidade"): which workflow a type uses
// (the built-in abertura → analise → conclusao when it names none), where "#stage next|NAME|
// ANSWER" leads from the current stage, into and out of sub-workflows, and where #close lands.
// Pure functions of the config.
#pragma once

#include <string>

#include "daemon/config/config.h"

namespace atendd {

// abertura, analise, conclusao; conclusao closes the ticket.
const WorkflowConfig& default_workflow();
// The type's workflow, or the default one (also for an unknown type).
const WorkflowConfig& workflow_of(const Config& config, const std::string& type_id);
// The options of one stage (all false/empty when it has none).
const StageConfig& stage_options(const WorkflowConfig& workflow, const std::string& stage);

struct StageMove {
  std::string to;     // the stage it leads to, when error is empty (a stage path for the overload
                      // taking the Config below)
  std::string error;  // what is wrong and what is allowed
  // Config overload only: the innermost workflow before and after the move ("" is the built-in
  // one), what happened between them ("stage X enters workflow Y", "back from workflow Y to
  // workflow Z"), and whether a stage entered on the way requires naming the next responsible.
  std::string from_workflow, to_workflow;
  std::string workflow_change;
  bool requires_responsible = false;
};

// Where "#stage ARGUMENT" leads from `current`: "next" (not from a decision stage, not past the
// last stage), a stage name (not from a decision stage), or one of the decision stage's answers.
StageMove resolve_stage_move(const WorkflowConfig& workflow, const std::string& current, const std::string& argument);

// The stage #close lands on: the current one if it closes, else the first closing stage after it,
// else the last closing stage; "" when the workflow has none.
std::string closing_stage(const WorkflowConfig& workflow, const std::string& current);

// ---- Sub-workflows (003 "Workflow (verde)", StageConfig::subflow).
// A ticket's stage is a path: "abertura" in its type's workflow, or "acompanhamento/duvida" when
// the stage acompanhamento entered another workflow whose stage duvida the ticket is in (nested:
// "a/b/c"). A ticket never rests on a stage that enters another workflow: it is in that
// workflow's first stage. Every function below takes such a path and never fails on a path the
// configuration no longer knows (it reads as much of it as still exists).

// The workflow the ticket's stage `path` is in (the innermost), and the options of its stage.
const WorkflowConfig& current_workflow(const Config& config, const std::string& type_id, const std::string& path);
const StageConfig& current_stage_options(const Config& config, const std::string& type_id, const std::string& path);
// Where a new ticket of the type starts: its workflow's first stage, entering sub-workflows.
std::string first_stage(const Config& config, const std::string& type_id);
// Where "#stage ARGUMENT" leads from the stage path `current`, as a stage path: as the overload
// above within the current workflow; "next" past the last stage of a sub-workflow comes back to
// the stage after the one that entered it (workflow:X:return) or is refused (workflow:X:end);
// a stage of a calling workflow may be named to leave returning sub-workflows early; a stage that
// enters a workflow leads to that workflow's first stage.
StageMove resolve_stage_move(const Config& config, const std::string& type_id, const std::string& current,
                             const std::string& argument);
// Where #close lands from the stage path `current`: closing_stage() in the current workflow,
// else in the calling ones, outwards; "" when none has a closing stage.
std::string closing_stage(const Config& config, const std::string& type_id, const std::string& current);

}  // namespace atendd

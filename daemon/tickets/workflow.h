// workflow.h — a ticket's stages ("centros de responsabilidade"): which workflow a type uses
// (the built-in abertura → analise → conclusao when it names none), where "#stage next|NAME|
// ANSWER" leads from the current stage, and where #close lands. Pure functions of the config.
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
  std::string to;     // the stage it leads to, when error is empty
  std::string error;  // what is wrong and what is allowed
};

// Where "#stage ARGUMENT" leads from `current`: "next" (not from a decision stage, not past the
// last stage), a stage name (not from a decision stage), or one of the decision stage's answers.
StageMove resolve_stage_move(const WorkflowConfig& workflow, const std::string& current, const std::string& argument);

// The stage #close lands on: the current one if it closes, else the first closing stage after it,
// else the last closing stage; "" when the workflow has none.
std::string closing_stage(const WorkflowConfig& workflow, const std::string& current);

}  // namespace atendd

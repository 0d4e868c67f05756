// workflow_test.cpp — stages from the configuration: the built-in workflow, "#stage next", stage
// names, a decision stage's answers, and where #close lands.
#include "config_for_tests.h"
#include "daemon/tickets/workflow.h"

using namespace atendd;

namespace {

const std::string kConfig =
    "[server]\naddress = suporte@example.com\n"
    "[type.garantia]\nworkflow = garantia\n[type.geral]\nname = Geral\n"
    "[workflow.garantia]\nstages = abertura, analise, decisao, troca, conclusao\n"
    "stage_analise = requires_responsible\nstage_decisao = decision: aprovado -> troca, reprovado -> conclusao\n"
    "stage_conclusao = closes\n";

}  // namespace

TEST_CASE("a type without a workflow uses opening then analysis then conclusion", "[workflow]") {
  const Config config = config_from(kConfig);
  const WorkflowConfig& workflow = workflow_of(config, "geral");
  CHECK(workflow.stages == std::vector<std::string>{"abertura", "analise", "conclusao"});
  CHECK(stage_options(workflow, "conclusao").closes);
  CHECK(resolve_stage_move(workflow, "abertura", "next").to == "analise");
}

TEST_CASE("a decision stage moves only by one of its answers", "[workflow]") {
  const Config config = config_from(kConfig);
  const WorkflowConfig& workflow = workflow_of(config, "garantia");
  CHECK(stage_options(workflow, "analise").requires_responsible);
  CHECK(resolve_stage_move(workflow, "decisao", "Aprovado").to == "troca");
  CHECK(resolve_stage_move(workflow, "decisao", "reprovado").to == "conclusao");
  const StageMove next = resolve_stage_move(workflow, "decisao", "next");
  CHECK(next.to.empty());
  CHECK(next.error.find("aprovado|reprovado") != std::string::npos);
}

TEST_CASE("a stage move names what is allowed when it cannot be done", "[workflow]") {
  const Config config = config_from(kConfig);
  const WorkflowConfig& workflow = workflow_of(config, "garantia");
  CHECK(resolve_stage_move(workflow, "abertura", "entrega").error.find("abertura, analise, decisao") != std::string::npos);
  CHECK(resolve_stage_move(workflow, "conclusao", "next").error.find("#close") != std::string::npos);
  CHECK(resolve_stage_move(workflow, "troca", "analise").to == "analise");
  CHECK(closing_stage(workflow, "troca") == "conclusao");
}

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

// ---- sub-workflows (003 "Workflow (verde)")

namespace {

const std::string kSubflows =
    "[server]\naddress = suporte@example.com\n"
    "[type.implantacao]\nworkflow = implantacao\n"
    "[type.direto]\nworkflow = direto\n"
    "[workflow.implantacao]\nstages = abertura, implantar, acompanhamento, conclusao\n"
    "stage_acompanhamento = workflow:duvidas\nstage_conclusao = closes\n"
    "[workflow.duvidas]\nstages = contato, retorno\n"
    "[workflow.direto]\nstages = abertura, suporte\nstage_suporte = workflow:duvidas_fim:end, requires_responsible\n"
    "[workflow.duvidas_fim]\nstages = triagem, encerramento\nstage_encerramento = closes\n";

}  // namespace

TEST_CASE("a stage that enters another workflow leads to its first stage and comes back after it", "[workflow][subflow]") {
  const Config config = config_from(kSubflows);
  CHECK(first_stage(config, "implantacao") == "abertura");
  StageMove move = resolve_stage_move(config, "implantacao", "implantar", "next");
  REQUIRE(move.error.empty());
  CHECK(move.to == "acompanhamento/contato");
  CHECK(move.from_workflow == "implantacao");
  CHECK(move.to_workflow == "duvidas");
  CHECK(move.workflow_change == "stage acompanhamento enters workflow duvidas");
  CHECK(current_workflow(config, "implantacao", move.to).id == "duvidas");

  move = resolve_stage_move(config, "implantacao", "acompanhamento/contato", "next");
  CHECK(move.to == "acompanhamento/retorno");
  CHECK(move.workflow_change.empty());
  move = resolve_stage_move(config, "implantacao", "acompanhamento/retorno", "next");  // past its last stage
  REQUIRE(move.error.empty());
  CHECK(move.to == "conclusao");
  CHECK(move.to_workflow == "implantacao");
  CHECK(move.workflow_change.find("back from workflow duvidas to workflow implantacao") != std::string::npos);
  CHECK(current_stage_options(config, "implantacao", move.to).closes);

  // A stage of the calling workflow may be named to leave early; #close lands on its closing stage.
  CHECK(resolve_stage_move(config, "implantacao", "acompanhamento/contato", "implantar").to == "implantar");
  CHECK(closing_stage(config, "implantacao", "acompanhamento/contato") == "conclusao");
}

TEST_CASE("a sub-workflow entered for good ends there", "[workflow][subflow]") {
  const Config config = config_from(kSubflows);
  StageMove move = resolve_stage_move(config, "direto", "abertura", "next");
  REQUIRE(move.error.empty());
  CHECK(move.to == "suporte/triagem");
  CHECK(move.requires_responsible);  // the entering stage's option holds
  CHECK(resolve_stage_move(config, "direto", "suporte/triagem", "abertura").error.find("no stage") != std::string::npos);
  move = resolve_stage_move(config, "direto", "suporte/triagem", "next");
  CHECK(move.to == "suporte/encerramento");
  CHECK(current_stage_options(config, "direto", move.to).closes);
  CHECK(closing_stage(config, "direto", "suporte/triagem") == "suporte/encerramento");
}

TEST_CASE("a stage path the configuration no longer knows is read as far as it holds", "[workflow][subflow]") {
  const Config config = config_from(kSubflows);
  CHECK(current_workflow(config, "implantacao", "sumiu/contato").id == "implantacao");
  CHECK(resolve_stage_move(config, "implantacao", "sumiu/contato", "next").to == "abertura");
}

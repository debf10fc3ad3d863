#pragma once
// `tmdflow run WORKFLOW.ini --dry-run`: the steps a run would take, checked but not run (the dry
// check of slurm/tmdflow.sbatch on a login node).
#include <string>

#include "workflow.hpp"

namespace tmdflow::app {

/// Throws IoError naming the step when an input that no earlier step writes does not exist.
void check_workflow_inputs(const stages::Workflow& wf);

/// One paragraph per step: name, stage, input, output and the options it sets.
std::string workflow_plan(const stages::Workflow& wf);

}  // namespace tmdflow::app

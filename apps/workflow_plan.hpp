#pragma once
// `tmdflow run WORKFLOW.ini --dry-run`: the steps a run would take, checked but not run (the dry
// check of slurm/tmdflow.sbatch on a login node).
#include <string>

#include "workflow.hpp"

namespace tmdflow::app {

/// One paragraph per step: name, stage, input, output and the options it sets.
std::string workflow_plan(const stages::Workflow& wf);

}  // namespace tmdflow::app

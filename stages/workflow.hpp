#pragma once
// Workflows: an INI file whose [workflow] section names the main input and output (and shared
// parameters) and whose other sections are steps run in order. See workflows/README.md.
#include <map>
#include <string>
#include <vector>

#include "stage.hpp"

namespace tmdflow::stages {

struct WorkflowStep {
  std::string name;   // section name
  StageRequest request;
  /// Why the step is passed over (its `skip-if-input` condition holds), empty when it runs: the
  /// next step then reads this step's input.
  std::string passed_over;
};

struct Workflow {
  std::string file;
  std::map<std::string, std::string> settings;  // the [workflow] section after overrides
  std::vector<WorkflowStep> steps;
  bool reads_input = false;  // some step reads [workflow] input (else --input is an error)
};

struct WorkflowOverrides {
  std::string input;                                          // --input
  std::string output;                                         // --output
  std::vector<std::pair<std::string, std::string>> set;       // --set section.key=value
};

/// Reads, overrides and resolves ${section.key} references. Throws ConfigError/UsageError.
/// A step key whose value is empty is left out (the stage's default applies). The step key
/// `skip-if-input = datacube` passes the step over when its input is already a datacube that
/// tmdflow reads directly (an HDF5 4-D dataset: EMD 1.0, py4DSTEM, a tmdflow product);
/// `skip-if-empty = VALUE` passes it over when VALUE is empty (an optional step). A passed-over
/// step's ${step.output} is its input.
Workflow load_workflow(const std::string& path, const WorkflowOverrides& overrides);

struct RunOptions {
  std::string from;   // --from STEP: this step and the later ones are redone
  bool force = false; // --force: every step is redone
};

/// Checks every step before the first one runs (rank-local): option values, the inputs that exist
/// already, and outputs that would replace other data. Throws the error the step would give.
void check_workflow(const par::Comm& comm, const Workflow& wf, const RunOptions& opts);

/// Runs the steps (collective) after check_workflow; returns the number of steps run (not skipped).
int run_workflow(const par::Comm& comm, const Workflow& wf, const RunOptions& opts);

}  // namespace tmdflow::stages

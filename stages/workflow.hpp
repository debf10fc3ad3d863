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
};

struct Workflow {
  std::string file;
  std::map<std::string, std::string> settings;  // the [workflow] section after overrides
  std::vector<WorkflowStep> steps;
};

struct WorkflowOverrides {
  std::string input;                                          // --input
  std::string output;                                         // --output
  std::vector<std::pair<std::string, std::string>> set;       // --set section.key=value
};

/// Reads, overrides and resolves ${section.key} references. Throws ConfigError/UsageError.
Workflow load_workflow(const std::string& path, const WorkflowOverrides& overrides);

struct RunOptions {
  std::string from;   // --from STEP: this step and the later ones are redone
  bool force = false; // --force: every step is redone
};

/// Runs the steps (collective); returns the number of steps run (not skipped).
int run_workflow(const par::Comm& comm, const Workflow& wf, const RunOptions& opts);

}  // namespace tmdflow::stages

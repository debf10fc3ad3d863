#pragma once
// Campaigns: one workflow over many inputs (an archive, a folder, a list), one product per input,
// resumable. `plan` expands the manifest, reads the ledger and lists what is missing, failed or
// stale; `run` works through that list, as one task of a Slurm job array (all of the task's ranks
// on each of its inputs) or locally (each rank alone on every R-th input); the ledger records each
// input's outcome; `reduce` (campaign/reduce.hpp) merges the products. See docs/CAMPAIGNS.md.
//
// The campaign folder holds: campaign.json (workflow, overrides, manifest), inputs.txt (every input:
// KEY<tab>PATH), plan.txt and plan.json (this round's to-do list and its id, configuration hash,
// tasks), ledger.jsonl, products/KEY-without-extension/STEM.h5, campaign/ (the reduce).
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "tmdflow/campaign/manifest.hpp"
#include "tmdflow/par/comm.hpp"

namespace tmdflow::stages {

struct CampaignSpec {
  std::string workflow;  // absolute path of the workflow file
  std::vector<std::pair<std::string, std::string>> set;  // --set SECTION.KEY=VALUE
  std::string inputs;    // the manifest: folder, glob, list (absolute)
  std::string match;     // file-name glob within a folder (empty: all)
  int per_task = 0;      // inputs per array task (0: as few as keep the array within 1,000 tasks)
};

/// Reads CAMPAIGN/campaign.json (IoError when absent: "plan first").
CampaignSpec read_campaign(const std::string& dir);
void write_campaign(const std::string& dir, const CampaignSpec& spec);

/// The configuration hash of a campaign: its workflow resolved with the overrides (input and
/// output replaced by placeholders), every step's stage and options, and the size and modification
/// time of every file an option names (a model, a calibration). Equal hashes: same products.
std::string campaign_config_hash(const CampaignSpec& spec);

/// The product of an input, relative to the campaign folder: products/<key without its
/// extension>/<stem>.h5 (a folder per input: workflows put figures beside their output).
std::string product_of(const campaign::InputFile& input);

/// The inputs of the campaign as last planned (inputs.txt).
std::vector<campaign::InputFile> read_inputs(const std::string& dir);

struct PlanOptions {
  bool force = false;  // every input to do, every step redone
};

struct PlanSummary {
  int id = 0;
  std::string config;
  std::size_t inputs = 0, done = 0, failed = 0, stale = 0, missing = 0;
  std::size_t todo = 0, per_task = 1, tasks = 0;
};

/// Expands the manifest, judges every input against the ledger (appending a `stale` record for
/// each input that changed), and writes inputs.txt, plan.txt and plan.json. Rank-local. The
/// report gets the lines to print.
PlanSummary plan_campaign(const std::string& dir, const CampaignSpec& spec, const PlanOptions& options,
                          std::vector<std::string>& report);

struct CampaignRunOptions {
  int task = 0;     // 1..tasks: the array task's share, on all ranks together; 0: every input, spread over the ranks
  int plan_id = 0;  // the plan the task was submitted with (0: the current one); another plan is refused
};

/// Runs the campaign's planned inputs (collective on comm); appends one ledger record per input.
/// Returns 0 when every input is done, else the highest exit code of a failed input (2 to 5, 1);
/// an interruption (SIGTERM: scancel, time limit) stops at once with 128 + the signal, recording
/// nothing for the input it stopped (the next plan finds it missing).
int run_campaign(const par::Comm& comm, const std::string& dir, const CampaignRunOptions& options);

}  // namespace tmdflow::stages

#pragma once
// The reduce step of a campaign: the products of the inputs that are done, one file at a time in
// manifest order, through every reduction that reads their schema (reduction.hpp), into
// CAMPAIGN/campaign/ -- written as a new folder and put in place of the old one only when complete:
//   inputs.csv            every input: its state (done, failed, stale, missing), size, time, product
//   NAME_*.csv            each reduction's tables (one row per input, per domain, ...)
//   campaign.h5           each reduction's product group (campaign_NAME/1: columns, histograms)
//   figures/*.png         each reduction's figures, captions in figures/captions.txt
#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "tmdflow/campaign/ledger.hpp"
#include "tmdflow/campaign/manifest.hpp"
#include "tmdflow/campaign/reduction.hpp"

namespace tmdflow::campaign {

struct ReduceReport {
  std::size_t inputs = 0;        // in the campaign
  std::size_t done = 0;          // with a good product
  std::size_t products = 0;      // product groups handed to a reduction
  std::vector<std::string> not_done;  // "key: state (why)", for the report
  std::vector<std::string> summaries;  // one line per reduction that got products
  std::string folder;            // CAMPAIGN/campaign
};

/// The state of each input, judged as a plan would (ledger.hpp judge) from `ledger` (latest records),
/// the inputs' files now and `config_hash`.
std::vector<Verdict> current_states(const std::string& campaign_dir, const std::vector<InputFile>& inputs,
                                    const std::map<std::string, Record>& ledger, const std::string& config_hash);

/// Runs the reduce (rank-local; MPI must be running). `reductions` defaults to make_reductions().
/// Throws InputError naming the file when a done input's product cannot be read.
ReduceReport reduce(const std::string& campaign_dir, const std::vector<InputFile>& inputs,
                    const std::map<std::string, Record>& ledger, const std::string& config_hash,
                    std::vector<std::unique_ptr<Reduction>> reductions = {});

}  // namespace tmdflow::campaign

#pragma once
// `tmdflow campaign plan|run|status|reduce DIR`: one workflow over an archive (stages/campaign.hpp,
// docs/CAMPAIGNS.md).
#include <string>
#include <vector>

#include "tmdflow/par/comm.hpp"

namespace tmdflow::app {

int cmd_campaign(const par::Comm& comm, const std::vector<std::string>& args);

/// The workflow file of the campaign in `dir` ("" when it cannot be read): tmdflow hands a campaign
/// whose workflow runs LibTorch to tmdflow-learn (learn_handover.hpp).
std::string campaign_workflow(const std::string& dir);

}  // namespace tmdflow::app

#pragma once
// `tmdflow models`: the models on the search path, their conditions and metrics, sha256 checked.
#include <string>
#include <vector>

#include "tmdflow/par/comm.hpp"

namespace tmdflow::app {

/// Exit code 0 when every model listed is intact, 4 when one is not (sha256 mismatch, missing
/// file, bad manifest).
int cmd_models(const par::Comm& comm, const std::vector<std::string>& args);

}  // namespace tmdflow::app

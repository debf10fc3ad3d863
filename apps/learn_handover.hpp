#pragma once
// tmdflow hands commands that need LibTorch (a learn stage, a workflow with one) to its
// sibling executable tmdflow-learn, before MPI starts: each rank replaces itself (execv) with the
// same arguments, so launchers, ranks and signals are unaffected. See stages/stage_list.hpp.
#include <string>
#include <vector>

namespace tmdflow::app {

/// Whether these arguments (argv[1..], global options included) need tmdflow-learn.
bool needs_learn(const std::vector<std::string>& args);

/// When the arguments need tmdflow-learn, replaces the process with it (never returns then);
/// throws UsageError when this build has no tmdflow-learn. Returns when they do not.
void hand_over_to_learn(int argc, char** argv);

}  // namespace tmdflow::app

#include "learn_handover.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "campaign_command.hpp"
#include "stage_list.hpp"
#include "tmdflow/core/error.hpp"
#include "tmdflow/core/strings.hpp"

namespace fs = std::filesystem;

namespace tmdflow::app {
namespace {

// The stages a workflow file runs: its `stage = NAME` lines (a workflow step's stage cannot come
// from elsewhere). Unreadable files are left to the workflow loader to report.
bool workflow_needs_learn(const std::string& path) {
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    line = str::trim(line);
    if (line.rfind("stage", 0) != 0) continue;
    const auto eq = line.find('=');
    if (eq == std::string::npos || str::trim(line.substr(0, eq)) != "stage") continue;
    if (stages::is_learn_stage(str::trim(line.substr(eq + 1)))) return true;
  }
  return false;
}

}  // namespace

bool needs_learn(const std::vector<std::string>& all) {
  std::vector<std::string> args;
  for (const auto& a : all)
    if (a != "--quiet" && a != "--verbose" && a.rfind("--progress", 0) != 0) args.push_back(a);
  if (args.empty()) return false;
  const std::string& cmd = args[0];
  if ((cmd == "stage" || cmd == "help") && args.size() > 1) {
    // tmdflow stage NAME ..., tmdflow help stage NAME
    const std::string& name = cmd == "help" && args[1] == "stage" && args.size() > 2 ? args[2] : args[1];
    return stages::is_learn_stage(name);
  }
  if (cmd == "run" && args.size() > 1) return workflow_needs_learn(args[1]);
  if (cmd == "campaign" && args.size() > 2) {
    // Every subcommand resolves the campaign's workflow (plan checks its steps; run runs them; status
    // and reduce hash its configuration): a new --workflow, or the campaign's own.
    for (std::size_t i = 3; i < args.size(); ++i) {
      if (args[i] == "--workflow" && i + 1 < args.size()) return workflow_needs_learn(args[i + 1]);
      if (args[i].rfind("--workflow=", 0) == 0) return workflow_needs_learn(args[i].substr(11));
    }
    return workflow_needs_learn(campaign_workflow(args[2]));
  }
  return false;
}

void hand_over_to_learn(int argc, char** argv) {
  if (!needs_learn(std::vector<std::string>(argv + 1, argv + argc))) return;
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) self = argv[0];
  const fs::path learn = self.parent_path() / "tmdflow-learn";
  if (!fs::exists(learn))
    throw UsageError("this command runs LibTorch models, which need tmdflow-learn beside tmdflow (" + learn.string() +
                     "): this build has none (LibTorch was not found or TMDFLOW_WITH_TORCH=OFF: install libtorch-dev and rebuild)");
  std::vector<char*> args(argv, argv + argc);
  args.push_back(nullptr);
  ::execv(learn.c_str(), args.data());
  throw IoError("cannot start " + learn.string() + ": " + std::strerror(errno));
}

}  // namespace tmdflow::app

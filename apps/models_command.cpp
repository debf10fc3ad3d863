#include "models_command.hpp"

#include <iostream>

#include "tmdflow/core/error.hpp"
#include "tmdflow/io/model_catalog.hpp"
#include "tmdflow/par/failure.hpp"

namespace tmdflow::app {

int cmd_models(const par::Comm& comm, const std::vector<std::string>& args) {
  if (!args.empty()) throw UsageError("models: unexpected argument '" + args[0] + "': expected none (tmdflow models --help)");
  int bad = 0;
  std::string text;
  par::collectively(comm, [&] {
    if (!comm.is_root()) return;
    const std::vector<std::string> path = io::model_search_path();
    text += "search path ($TMDFLOW_MODELS, then the shipped models):\n";
    for (const auto& dir : path) text += "  " + dir + "\n";
    if (path.empty()) text += "  (none)\n";
    const std::vector<io::ModelListing> rows = io::list_models(path);
    for (const auto& row : rows) {
      text += "\n" + row.name + "  [" + row.status + "]\n";
      text += "  folder:        " + row.folder + "\n";
      if (!row.task.empty()) {
        text += "  task:          " + row.task + "\n";
        text += "  architecture:  " + row.architecture + "\n";
        text += "  input:         " + row.input + "\n";
        text += "  conditions:    " + row.conditions + "\n";
        text += "  metrics:       " + row.metrics + "\n";
      }
      bad += row.status != "ok" && row.status.rfind("shadowed by", 0) != 0;
    }
    text += "\n" + std::to_string(rows.size()) + " model(s), " + std::to_string(bad) + " with problems\n";
  });
  comm.bcast(&bad, 1, 0);
  if (comm.is_root()) std::cout << text << std::flush;
  return bad ? static_cast<int>(ExitCode::input) : 0;
}

}  // namespace tmdflow::app

#include "workflow_plan.hpp"

#include <sstream>

namespace tmdflow::app {

std::string workflow_plan(const stages::Workflow& wf) {
  std::ostringstream s;
  const auto n = wf.steps.size();
  s << wf.file << ": " << n << " step" << (n == 1 ? "" : "s") << " checked (--dry-run: none run)\n";
  for (std::size_t i = 0; i < n; ++i) {
    const auto& r = wf.steps[i].request;
    s << "  " << i + 1 << "/" << n << " " << wf.steps[i].name << " (stage " << r.stage << ")";
    if (!wf.steps[i].passed_over.empty()) s << ": passed over, " << wf.steps[i].passed_over;
    s << "\n";
    s << "      input:  " << (r.input.empty() ? "(none)" : r.input) << "\n";
    s << "      output: " << r.output << "\n";
    if (!r.options.empty()) {
      s << "      options:";
      for (const auto& [k, v] : r.options) s << " --" << k << "=" << v;
      s << "\n";
    }
  }
  return s.str();
}

}  // namespace tmdflow::app

// The registry of campaign reductions: one line per analysis whose per-input products a campaign
// can merge (defect counts and kinetics join here as they get products).
#include "tmdflow/campaign/domain_reduction.hpp"
#include "tmdflow/campaign/reduction.hpp"
#include "tmdflow/campaign/stacking_reduction.hpp"

namespace tmdflow::campaign {

std::vector<std::unique_ptr<Reduction>> make_reductions() {
  std::vector<std::unique_ptr<Reduction>> out;
  out.push_back(std::make_unique<DomainReduction>());
  out.push_back(std::make_unique<StackingReduction>());
  return out;
}

}  // namespace tmdflow::campaign

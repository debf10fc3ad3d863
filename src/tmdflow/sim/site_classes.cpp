#include "tmdflow/sim/site_classes.hpp"

#include "tmdflow/sim/elements.hpp"

namespace tmdflow::sim {

std::vector<std::string> site_class_names(const AlloyElements& e) {
  const std::string M = element_symbol(e.metal_Z), N = element_symbol(e.metal_alloy_Z);
  const std::string X = element_symbol(e.chalcogen_Z), Y = element_symbol(e.chalcogen_alloy_Z);
  return {M, N, "V_M", X + "2", X + Y, Y + "2", X, Y, "V_X2"};
}

int site_class(const Column& c, const AlloyElements& e) {
  if (c.sublattice == Sublattice::metal) {
    if (c.Z[0] == 0) return metal_vacancy_site;
    if (c.Z[0] == e.metal_Z) return host_metal;
    if (c.Z[0] == e.metal_alloy_Z) return alloy_metal;
    return -1;
  }
  int x = 0, y = 0;
  for (int k = 0; k < 2; ++k) {
    if (c.Z[k] == 0) continue;
    if (c.Z[k] == e.chalcogen_Z) ++x;
    else if (c.Z[k] == e.chalcogen_alloy_Z) ++y;
    else return -1;
  }
  if (x + y == 0) return chalcogen_vacancy_site;
  if (x + y == 1) return x ? host_single : alloy_single;
  return x == 2 ? host_pair : y == 2 ? alloy_pair : mixed_pair;
}

}  // namespace tmdflow::sim

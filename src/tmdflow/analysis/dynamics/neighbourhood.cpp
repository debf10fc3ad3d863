#include "tmdflow/analysis/dynamics/neighbourhood.hpp"

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "tmdflow/core/error.hpp"
#include "tmdflow/core/strings.hpp"

namespace tmdflow::analysis::dynamics {

std::vector<Neighbourhood> neighbourhoods(const std::vector<FrameDefect>& defects, const NeighbourhoodSpec& spec) {
  if (!(spec.a_A > 0 && std::isfinite(spec.a_A))) throw ConfigError("lattice-constant-A: expected a positive length, found " + str::number(spec.a_A));
  const double a = spec.a_A, bond = a / std::sqrt(3.0);
  const double r_bond = 1.5 * bond, r_neighbour = 0.5 * (1 + std::sqrt(3.0)) * a, reach = std::max(r_bond, r_neighbour);
  // Defects binned in cells of the largest radius: neighbours lie in the 3 x 3 cells around.
  std::unordered_map<std::int64_t, std::vector<std::size_t>> cells;
  auto cell = [&](double v) { return std::int64_t(std::floor(v / reach)); };
  auto key = [](std::int64_t cx, std::int64_t cy) { return cx * 1000003 + cy; };
  for (std::size_t k = 0; k < defects.size(); ++k) cells[key(cell(defects[k].x_A), cell(defects[k].y_A))].push_back(k);
  std::vector<Neighbourhood> out(defects.size());
  for (std::size_t k = 0; k < defects.size(); ++k) {
    const FrameDefect& d = defects[k];
    Neighbourhood& n = out[k];
    int missing = 0;
    bool dopant_near = false, vacancy_near = false;
    const std::int64_t cx = cell(d.x_A), cy = cell(d.y_A);
    for (std::int64_t dy = -1; dy <= 1; ++dy)
      for (std::int64_t dx = -1; dx <= 1; ++dx) {
        const auto it = cells.find(key(cx + dx, cy + dy));
        if (it == cells.end()) continue;
        for (std::size_t o : it->second) {
          if (o == k) continue;
          const FrameDefect& e = defects[o];
          const double r = std::hypot(e.x_A - d.x_A, e.y_A - d.y_A);
          const bool vacancy = e.cls == kSingleVacancy || e.cls == kDoubleVacancy;
          if (vacancy && r < r_bond) missing += e.cls == kDoubleVacancy ? 2 : 1;
          if (e.cls == kDopant && r < r_bond) dopant_near = true;
          if (vacancy && r < r_neighbour) vacancy_near = true;
        }
      }
    if (d.cls == kDopant) {
      n.missing = missing;
      const bool edge = spec.width_A > 0 && spec.height_A > 0 &&
                        std::min({d.x_A, spec.width_A - d.x_A, d.y_A, spec.height_A - d.y_A}) < bond + 0.5;
      n.complex = edge ? -1 : std::min(missing, 3);
    }
    n.isolated = d.cls == kSingleVacancy && !dopant_near && !vacancy_near;
  }
  return out;
}

}  // namespace tmdflow::analysis::dynamics

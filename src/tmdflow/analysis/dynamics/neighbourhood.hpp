#pragma once
// The lattice neighbourhood of detected defects in one frame (stages defect-motifs and kinetics;
// issue #18, data_schema/dynamics.md), from the lattice geometry of an MX2 monolayer of lattice
// constant a -- a metal site's three chalcogen columns lie at a/sqrt(3), the next ones at 2a/sqrt(3);
// a chalcogen column's six chalcogen neighbours at a, the next ones at sqrt(3) a -- so no lattice
// needs fitting: each shell is told from the next by a radius halfway between them.
//   * the complex of a dopant: the chalcogen atoms missing among the six it is bonded to, i.e. the
//     vacancies within 1.5 a/sqrt(3) of it (a V_S counts one, a V_S2 two): 0 "Mo", 1 "Mo+V_S",
//     2 "Mo+2V_S", 3 or more "Mo+3V_S"; unknown (-1) when one of its columns may lie outside the
//     frame (closer than a/sqrt(3) + 0.5 A to an edge);
//   * an isolated vacancy (the diffusion estimator's condition): a V_S with no dopant within
//     1.5 a/sqrt(3) (its three metal sites) and no other vacancy within (1 + sqrt(3))/2 a (its six
//     neighbouring columns).
#include <cstdint>
#include <vector>

namespace tmdflow::analysis::dynamics {

/// Defect classes as detect-defects and simulate-movie number them.
enum DefectClassIndex : int { kSingleVacancy = 0, kDoubleVacancy = 1, kDopant = 2 };

struct FrameDefect {
  double x_A = 0, y_A = 0;  // position in the frame (pixels times the pixel size)
  int cls = 0;
};

struct Neighbourhood {
  int complex = -1;         // dopants: 0..3, -1 unknown; others -1
  int missing = 0;          // dopants: chalcogen atoms missing among its six bonds (as seen)
  bool isolated = false;    // single vacancies
};

struct NeighbourhoodSpec {
  double a_A = 3.18;                      // lattice constant
  double width_A = 0, height_A = 0;       // the frame's field (for the edge rule); 0: no edge
};

/// One entry per defect of one frame.
std::vector<Neighbourhood> neighbourhoods(const std::vector<FrameDefect>& defects, const NeighbourhoodSpec& spec);

}  // namespace tmdflow::analysis::dynamics

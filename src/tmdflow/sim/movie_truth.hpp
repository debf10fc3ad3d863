#pragma once
// Ground truth of a simulated defect movie (data_schema/dynamics.md): from the KMC's vacancies per
// frame (movie_kmc.hpp), every defect's class, complex and identity, which vacancies are isolated,
// and the transitions of the dopant complexes between frames.
//
// Classes of a defect site: a chalcogen column missing one atom (V_S, a single chalcogen vacancy),
// missing both (V_S2), and a dopant on a metal site. The complex of a dopant counts the chalcogen
// atoms missing among the six it is bonded to (its three chalcogen columns, top and bottom; a double
// vacancy counts two): 0 -> "Mo", 1 -> "Mo+V_S", 2 -> "Mo+2V_S", 3 or more -> "Mo+3V_S" (named with the
// dopant's and the chalcogen's symbols). A vacancy is isolated (the diffusion estimator's condition)
// when it is a single vacancy (the other atom of its column present), none of its three metal sites
// holds a dopant, and none of its six neighbouring chalcogen columns misses an atom.
#include <cstdint>
#include <string>
#include <vector>

#include "tmdflow/sim/defect_lattice.hpp"
#include "tmdflow/sim/movie_kmc.hpp"

namespace tmdflow::sim {

enum class DefectClass : std::int8_t { single_vacancy = 0, double_vacancy = 1, dopant = 2 };
constexpr int kComplexes = 4;

/// "V_S", "V_S2", "Mo" for chalcogen Z = 16 and dopant Z = 42.
std::vector<std::string> defect_class_names(int chalcogen_Z, int dopant_Z);
/// "Mo", "Mo+V_S", "Mo+2V_S", "Mo+3V_S".
std::vector<std::string> complex_names(int chalcogen_Z, int dopant_Z);

struct TruthDefect {
  std::int32_t frame = 0;
  DefectClass defect_class = DefectClass::single_vacancy;
  std::int8_t complex = -1;        // dopants: 0..3; -1 otherwise
  std::int8_t missing = 0;         // atoms missing: of the column (1, 2) or among a dopant's six bonds
  std::int32_t site = 0;           // chalcogen site (vacancies) or metal site (dopants) of the lattice
  std::int32_t column = 0;         // index into the structure's columns
  std::int32_t identity = 0;       // dopants 0..D-1 by metal site; a column's vacancy: its (smallest) id
  std::int32_t vacancy_top = -1, vacancy_bottom = -1;  // vacancy ids in the column's slots
  double x_A = 0, y_A = 0;         // column position in the structure frame
};

struct TruthVacancy {
  std::int32_t frame = 0;
  std::int32_t id = 0;
  std::int32_t site = 0;
  std::int32_t column = 0;
  std::int8_t slot = 0;
  bool isolated = false;
  double x_A = 0, y_A = 0;
};

/// Dopants of the lattice: per metal site, 1 where the structure's column holds a dopant.
std::vector<std::uint8_t> lattice_dopants(const DefectLattice& lattice, const Structure& s);

class MovieTruth {
 public:
  MovieTruth(const DefectLattice& lattice, const Structure& structure, std::vector<std::uint8_t> dopant);

  /// Occupancy (0..2) of every chalcogen site for a frame's vacancies.
  std::vector<std::uint8_t> occupancy(const std::vector<KmcVacancy>& vacancies) const;
  /// The complex (0..3) of dopant metal site m and the atoms missing among its six bonds.
  int missing_bonds(std::int32_t metal, const std::vector<std::uint8_t>& occupancy) const;
  /// Defects of a frame: defective chalcogen columns by site, then dopants by metal site.
  std::vector<TruthDefect> defects(std::int32_t frame, const std::vector<KmcVacancy>& vacancies) const;
  /// Vacancies of a frame with their isolation flags.
  std::vector<TruthVacancy> vacancies(std::int32_t frame, const std::vector<KmcVacancy>& vacancies) const;
  /// Dopant identities (0..D-1) in metal-site order: the metal site of each.
  const std::vector<std::int32_t>& dopant_sites() const { return dopant_sites_; }

 private:
  const DefectLattice& lattice_;
  const Structure& structure_;
  std::vector<std::uint8_t> dopant_;
  std::vector<std::int32_t> dopant_sites_;
};

}  // namespace tmdflow::sim

#include "tmdflow/sim/movie_truth.hpp"

#include <algorithm>

#include "tmdflow/sim/elements.hpp"

namespace tmdflow::sim {

std::vector<std::string> defect_class_names(int chalcogen_Z, int dopant_Z) {
  const std::string v = "V_" + element_symbol(chalcogen_Z);
  return {v, v + "2", dopant_Z > 0 ? element_symbol(dopant_Z) : std::string("dopant")};
}

std::vector<std::string> complex_names(int chalcogen_Z, int dopant_Z) {
  const std::string d = dopant_Z > 0 ? element_symbol(dopant_Z) : std::string("dopant"), v = "V_" + element_symbol(chalcogen_Z);
  return {d, d + "+" + v, d + "+2" + v, d + "+3" + v};
}

std::vector<std::uint8_t> lattice_dopants(const DefectLattice& lattice, const Structure& s) {
  std::vector<std::uint8_t> d(lattice.metals(), 0);
  for (std::size_t m = 0; m < lattice.metals(); ++m) d[m] = s.columns[std::size_t(lattice.metal_columns[m])].defect == DefectKind::dopant;
  return d;
}

MovieTruth::MovieTruth(const DefectLattice& lattice, const Structure& structure, std::vector<std::uint8_t> dopant)
    : lattice_(lattice), structure_(structure), dopant_(std::move(dopant)) {
  for (std::size_t m = 0; m < dopant_.size(); ++m)
    if (dopant_[m]) dopant_sites_.push_back(std::int32_t(m));
}

std::vector<std::uint8_t> MovieTruth::occupancy(const std::vector<KmcVacancy>& vacancies) const {
  std::vector<std::uint8_t> occ(lattice_.chalcogens(), 2);
  for (const auto& v : vacancies) --occ[std::size_t(v.site)];
  return occ;
}

int MovieTruth::missing_bonds(std::int32_t metal, const std::vector<std::uint8_t>& occ) const {
  int missing = 0;
  for (std::int32_t c : lattice_.metal_chalcogens[std::size_t(metal)])
    if (c >= 0) missing += 2 - occ[std::size_t(c)];
  return missing;
}

std::vector<TruthDefect> MovieTruth::defects(std::int32_t frame, const std::vector<KmcVacancy>& vacancies) const {
  const auto occ = occupancy(vacancies);
  std::vector<std::int32_t> id_top(lattice_.chalcogens(), -1), id_bottom(lattice_.chalcogens(), -1);
  for (const auto& v : vacancies) (v.slot == 0 ? id_top : id_bottom)[std::size_t(v.site)] = v.id;
  std::vector<TruthDefect> out;
  for (std::size_t c = 0; c < lattice_.chalcogens(); ++c) {
    if (occ[c] == 2) continue;
    TruthDefect d;
    d.frame = frame;
    d.defect_class = occ[c] == 1 ? DefectClass::single_vacancy : DefectClass::double_vacancy;
    d.missing = std::int8_t(2 - occ[c]);
    d.site = std::int32_t(c);
    d.column = lattice_.chalcogen_columns[c];
    d.vacancy_top = id_top[c];
    d.vacancy_bottom = id_bottom[c];
    d.identity = d.vacancy_top < 0 ? d.vacancy_bottom : d.vacancy_bottom < 0 ? d.vacancy_top : std::min(d.vacancy_top, d.vacancy_bottom);
    d.x_A = structure_.columns[std::size_t(d.column)].x;
    d.y_A = structure_.columns[std::size_t(d.column)].y;
    out.push_back(d);
  }
  for (std::size_t k = 0; k < dopant_sites_.size(); ++k) {
    TruthDefect d;
    d.frame = frame;
    d.defect_class = DefectClass::dopant;
    d.site = dopant_sites_[k];
    const int missing = missing_bonds(d.site, occ);
    d.missing = std::int8_t(missing);
    d.complex = std::int8_t(std::min(missing, kComplexes - 1));
    d.column = lattice_.metal_columns[std::size_t(d.site)];
    d.identity = std::int32_t(k);
    d.x_A = structure_.columns[std::size_t(d.column)].x;
    d.y_A = structure_.columns[std::size_t(d.column)].y;
    out.push_back(d);
  }
  return out;
}

std::vector<TruthVacancy> MovieTruth::vacancies(std::int32_t frame, const std::vector<KmcVacancy>& vacancies) const {
  const auto occ = occupancy(vacancies);
  std::vector<TruthVacancy> out;
  out.reserve(vacancies.size());
  for (const auto& v : vacancies) {
    TruthVacancy t;
    t.frame = frame;
    t.id = v.id;
    t.site = v.site;
    t.slot = v.slot;
    t.column = lattice_.chalcogen_columns[std::size_t(v.site)];
    t.x_A = structure_.columns[std::size_t(t.column)].x;
    t.y_A = structure_.columns[std::size_t(t.column)].y;
    bool isolated = occ[std::size_t(v.site)] == 1;
    for (std::int32_t m : lattice_.chalcogen_metals[std::size_t(v.site)])
      if (m >= 0 && dopant_[std::size_t(m)]) isolated = false;
    for (std::int32_t n : lattice_.chalcogen_neighbours[std::size_t(v.site)])
      if (n >= 0 && occ[std::size_t(n)] < 2) isolated = false;
    t.isolated = isolated;
    out.push_back(t);
  }
  return out;
}

}  // namespace tmdflow::sim

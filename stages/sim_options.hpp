#pragma once
// Option blocks shared by the simulation stages (simulate-adf, simulate-4dstem, make-trainset):
// the probe and the chemistry of the crystal. Units are in the option names.
#include <map>
#include <string>

#include "stage.hpp"
#include "tmdflow/sim/elements.hpp"
#include "tmdflow/sim/probe.hpp"
#include "tmdflow/sim/structure.hpp"

namespace tmdflow::stages {

inline void declare_probe(Options& o, sim::ProbeSpec& p, double voltage_kV, double convergence_mrad) {
  o.add<double>("voltage-kV", &p.voltage_kV, voltage_kV, "accelerating voltage [kV]")
      .add<double>("convergence-mrad", &p.convergence_mrad, convergence_mrad, "probe convergence semi-angle [mrad]")
      .add<double>("C1-A", &p.aberrations.C1, 0.0, "defocus C1 [Angstrom] (negative = underfocus)")
      .add<double>("A1-A", &p.aberrations.A1, 0.0, "two-fold astigmatism A1 [Angstrom]")
      .add<double>("A1-deg", &p.aberrations.A1_angle_deg, 0.0, "azimuth of A1 [degrees]")
      .add<double>("B2-A", &p.aberrations.B2, 0.0, "axial coma B2 [Angstrom]")
      .add<double>("B2-deg", &p.aberrations.B2_angle_deg, 0.0, "azimuth of B2 [degrees]")
      .add<double>("A2-A", &p.aberrations.A2, 0.0, "three-fold astigmatism A2 [Angstrom]")
      .add<double>("A2-deg", &p.aberrations.A2_angle_deg, 0.0, "azimuth of A2 [degrees]")
      .add<double>("Cs-A", &p.aberrations.Cs, 0.0, "spherical aberration Cs [Angstrom] (1 mm = 1e7 A)")
      .add<double>("source-size-A", &p.source_size_A, 0.0, "Gaussian source size, standard deviation [Angstrom]")
      .add<double>("defocus-spread-A", &p.defocus_spread_A, 0.0, "focal spread, standard deviation [Angstrom]");
}

/// "W:0.3,Nb:0.01" -> {74: 0.3, 41: 0.01}.
inline std::map<int, double> parse_fractions(const std::string& text, const std::string& option) {
  std::map<int, double> out;
  for (const auto& item : str::split(text, ',')) {
    const auto kv = str::split(item, ':');
    if (kv.size() != 2) throw ConfigError(option + ": expected ELEMENT:FRACTION[,...], found '" + text + "'");
    double f = 0;
    try {
      f = std::stod(kv[1]);
    } catch (...) {
      throw ConfigError(option + ": expected a number after '" + kv[0] + ":', found '" + kv[1] + "'");
    }
    if (!(f >= 0 && f <= 1)) throw ConfigError(option + ": expected fractions in [0, 1], found " + kv[1]);
    out[sim::atomic_number(str::trim(kv[0]))] = f;
  }
  return out;
}

/// Alloy and point-defect options (fractions of sites).
struct ChemistryOptions {
  std::string alloy_metal, alloy_chalcogen, dopant;
  double single_vacancy = 0, double_vacancy = 0, metal_vacancy = 0;
  void declare(Options& o) {
    o.add<std::string>("alloy-metal", &alloy_metal, "", "metal substitution ELEMENT:FRACTION[,...] (e.g. W:0.3)")
        .add<std::string>("alloy-chalcogen", &alloy_chalcogen, "", "chalcogen substitution ELEMENT:FRACTION[,...] (e.g. Se:0.5)")
        .add<double>("single-vacancy", &single_vacancy, 0.0, "fraction of chalcogen columns missing one atom")
        .add<double>("double-vacancy", &double_vacancy, 0.0, "fraction of chalcogen columns missing both atoms")
        .add<double>("metal-vacancy", &metal_vacancy, 0.0, "fraction of metal sites vacant")
        .add<std::string>("dopant", &dopant, "", "dopant on metal sites ELEMENT:FRACTION (e.g. Nb:0.02)");
  }
  void apply(sim::AlloySpec& alloy, sim::DefectSpec& defects) const {
    if (!alloy_metal.empty()) alloy.metal = parse_fractions(alloy_metal, "alloy-metal");
    if (!alloy_chalcogen.empty()) alloy.chalcogen = parse_fractions(alloy_chalcogen, "alloy-chalcogen");
    defects.chalcogen_single_vacancy = single_vacancy;
    defects.chalcogen_double_vacancy = double_vacancy;
    defects.metal_vacancy = metal_vacancy;
    if (!dopant.empty()) {
      const auto d = parse_fractions(dopant, "dopant");
      if (d.size() != 1) throw ConfigError("dopant: expected one ELEMENT:FRACTION, found '" + dopant + "'");
      defects.dopant_Z = d.begin()->first;
      defects.dopant_fraction = d.begin()->second;
    }
    for (double f : {single_vacancy, double_vacancy, metal_vacancy})
      if (!(f >= 0 && f <= 1)) throw ConfigError("vacancy fractions: expected values in [0, 1], found " + std::to_string(f));
  }
};

}  // namespace tmdflow::stages

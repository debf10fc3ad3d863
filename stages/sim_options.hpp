#pragma once
// Option blocks shared by the simulation stages (simulate-adf, simulate-4dstem, make-trainset):
// the probe and the chemistry of the crystal. Units are in the option names.
#include <map>
#include <string>

#include "stage.hpp"
#include "tmdflow/io/h5.hpp"
#include "tmdflow/sim/elements.hpp"
#include "tmdflow/sim/patch_scan.hpp"
#include "tmdflow/sim/style.hpp"
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

/// "MIN,MAX" -> a range; ConfigError naming the option otherwise.
inline sim::Range parse_range(const std::string& text, const std::string& option) {
  const auto v = str::to_double_list(text, option);
  if (v.size() != 2 || !(v[1] >= v[0])) throw ConfigError(option + ": expected MIN,MAX with MIN <= MAX, found '" + text + "'");
  return sim::Range{v[0], v[1]};
}

/// The per-patch microscope and scan ranges of the detector trainsets (make-defect-trainset,
/// make-atoms-trainset; sim/patch_scan.hpp): options as MIN,MAX text with the spec's defaults,
/// parsed back, and recorded as the product's condition attributes, which a model trained on it
/// quotes in its manifest and the stages that run the model enforce.
class ScanRangeOptions {
 public:
  void declare(Options& o, const sim::ScanRanges& d, const std::string& dose_what) {
    auto text = [](const sim::Range& r) { return Options::text(r.min) + "," + Options::text(r.max); };
    o.add<std::string>("native-pixel-range-A", &native_, text(d.native_pixel_A), "range of the scan's pixel [Angstrom] (resampled to --pixel-A)")
        .add<std::string>("dose-range-e-per-A2", &dose_, text(d.dose), "range of the dose " + dose_what + " [e/A^2] (log-uniform; 0,0: noise-free)")
        .add<std::string>("voltage-range-kV", &voltage_, text(d.voltage_kV), "range of the accelerating voltage [kV]")
        .add<std::string>("convergence-range-mrad", &convergence_, text(d.convergence_mrad), "range of the probe convergence semi-angle [mrad]")
        .add<std::string>("inner-range-mrad", &inner_, text(d.inner_mrad), "range of the ADF detector inner angle [mrad]")
        .add<std::string>("outer-range-mrad", &outer_, text(d.outer_mrad), "range of the ADF detector outer angle [mrad]")
        .add<std::string>("defocus-range-A", &defocus_, text(d.defocus_A), "range of C1 [Angstrom]")
        .add<std::string>("source-size-range-A", &source_, text(d.source_size_A), "range of the Gaussian source size [Angstrom]")
        .add<std::string>("jitter-range-A", &jitter_, text(d.jitter_A), "range of the scan-line jitter [Angstrom rms]")
        .add<std::string>("drift-range-A", &drift_, text(d.drift_A), "range of the sample drift over a patch's scan [Angstrom], in a random direction")
        .add<std::string>("contamination-range", &contamination_, text(d.contamination), "range of amorphous carbon [atoms per A^2]");
  }
  sim::ScanRanges parse() const {
    return {parse_range(native_, "native-pixel-range-A"), parse_range(dose_, "dose-range-e-per-A2"), parse_range(voltage_, "voltage-range-kV"),
            parse_range(convergence_, "convergence-range-mrad"), parse_range(inner_, "inner-range-mrad"), parse_range(outer_, "outer-range-mrad"),
            parse_range(defocus_, "defocus-range-A"), parse_range(source_, "source-size-range-A"), parse_range(jitter_, "jitter-range-A"),
            parse_range(drift_, "drift-range-A"), parse_range(contamination_, "contamination-range")};
  }
  /// A style's ranges (sim::style_ranges) and microscope (as MIN = MAX) for the options the command
  /// line did not give.
  void apply_style(const StageContext& ctx, const sim::Style& st) {
    const sim::StyleRanges r = sim::style_ranges(st);
    auto text = [](const sim::Range& v) { return Options::text(v.min) + "," + Options::text(v.max); };
    auto set = [&](const char* option, std::string& target, const sim::Range& v) {
      if (!ctx.given(option)) target = text(v);
    };
    set("dose-range-e-per-A2", dose_, r.dose);
    set("source-size-range-A", source_, r.source_size_A);
    set("jitter-range-A", jitter_, r.jitter_A);
    set("contamination-range", contamination_, r.contamination);
    set("defocus-range-A", defocus_, r.defocus_A);
    set("voltage-range-kV", voltage_, {st.voltage_kV, st.voltage_kV});
    set("convergence-range-mrad", convergence_, {st.convergence_mrad, st.convergence_mrad});
    set("inner-range-mrad", inner_, {st.inner_mrad, st.inner_mrad});
    set("outer-range-mrad", outer_, {st.outer_mrad, st.outer_mrad});
  }
  static void write_attributes(const io::h5::Group& g, const sim::ScanRanges& r) {
    for (const auto& [name, x] : {std::pair<const char*, sim::Range>{"native_pixel_range_A", r.native_pixel_A}, {"dose_range_e_per_A2", r.dose},
                                  {"voltage_range_kV", r.voltage_kV}, {"convergence_range_mrad", r.convergence_mrad},
                                  {"inner_range_mrad", r.inner_mrad}, {"outer_range_mrad", r.outer_mrad}, {"defocus_range_A", r.defocus_A},
                                  {"source_size_range_A", r.source_size_A}, {"jitter_range_A", r.jitter_A}, {"drift_range_A", r.drift_A},
                                  {"contamination_range", r.contamination}})
      g.set_attr(name, std::vector<double>{x.min, x.max});
  }

 private:
  std::string native_, dose_, voltage_, convergence_, inner_, outer_, defocus_, source_, jitter_, drift_, contamination_;
};

}  // namespace tmdflow::stages

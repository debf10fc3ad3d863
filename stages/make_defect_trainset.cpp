// Stage make-defect-trainset: training patches for the defect detector of STEM movies (issue #18):
// ADF frames of a doped MX2 monolayer as simulate-movie renders them, with a heat map per defect
// class (V_S, V_S2, dopant), every condition drawn per patch (sim/defect_trainset.hpp). The
// product has the trainset/1 layout (patches, targets, labels/), so `train --target-map targets`
// trains on it. Patches are sharded over the ranks in blocks; the set does not depend on the
// rank count.
#include "heatmap_trainset.hpp"
#include "sim_options.hpp"
#include "stage.hpp"
#include "stage_list.hpp"
#include "tmdflow/io/emd.hpp"
#include "tmdflow/par/failure.hpp"
#include "tmdflow/par/partition.hpp"
#include "tmdflow/par/progress.hpp"
#include "tmdflow/sim/defect_trainset.hpp"
#include "tmdflow/sim/elements.hpp"
#include "tmdflow/sim/movie_truth.hpp"

namespace tmdflow::stages {
namespace {

class MakeDefectTrainset : public Stage {
 public:
  std::string name() const override { return "make-defect-trainset"; }
  std::string summary() const override { return "training patches for the defect detector: doped MX2 frames with V_S, V_S2 and dopant heat maps"; }
  std::string description() const override {
    return "Simulates N patches of a doped MX2 monolayer (incoherent ADF model, as simulate-movie renders its frames): dopants on\n"
           "metal sites, single and double chalcogen vacancies (a fraction --clustered of them next to a dopant or another\n"
           "vacancy). Per patch, within the given ranges: the scan's pixel size (the patch is scanned at it and resampled\n"
           "bilinearly to --pixel-A, as the detector's inference resamples a frame), dose (log-uniform), voltage, convergence,\n"
           "detector angles, defocus, source size, line jitter, drift, lattice scale, orientation, carbon contamination and the\n"
           "defect densities. Writes patches (N, size, size) float32, targets (N, 3, size, size): heat maps of V_S, V_S2 and the\n"
           "dopant (a Gaussian of peak 1 and sigma --heatmap-sigma-A on every defect, where the scan saw it), and labels/ (what\n"
           "was drawn); schema defect_trainset/1, the trainset/1 layout that `train --target-map targets` reads. Deterministic\n"
           "in --seed for any number of ranks. See data_schema/dynamics.md.";
  }
  std::string product_schema() const override { return "defect_trainset/1"; }
  std::string default_group() const override { return "/trainset"; }
  bool takes_input() const override { return false; }

  void declare(Options& o) override {
    auto& s = spec_;
    scan_.declare(o, s.scan, "per frame");
    o.add<std::int64_t>("count", &s.count, 4000, "number of patches")
        .add<int>("patch-px", &s.patch_px, 48, "patch size [detector pixels per side]")
        .add<double>("pixel-A", &s.pixel_A, 0.2, "the detector's pixel [Angstrom]")
        .add<std::string>("material", &s.material, "WS2", "MX2 compound (MoS2, WS2, MoSe2, WSe2)")
        .add<std::string>("dopant", &dopant_, "Mo", "dopant element on metal sites")
        .add<std::string>("dopant-range", &dopant_range_, "0.01,0.1", "range of the dopant fraction of the metal sites")
        .add<std::string>("single-vacancy-range", &single_, "0.02,0.15", "range of the fraction of chalcogen columns missing one atom")
        .add<std::string>("double-vacancy-range", &double_, "0,0.04", "range of the fraction of chalcogen columns missing both atoms")
        .add<double>("clustered", &s.clustered, 0.5, "probability that a vacancy is placed next to a dopant or another vacancy")
        .add<double>("scale-jitter", &s.scale_jitter, 0.03, "lattice scaled by a factor uniform in 1 +- this (calibration error)")
        .add<double>("Cs-A", &s.Cs_A, 0.0, "spherical aberration [Angstrom]")
        .add<double>("heatmap-sigma-A", &s.heatmap_sigma_A, 0.5, "sigma of each defect's Gaussian in the heat maps [Angstrom]")
        .add<std::uint64_t>("seed", &s.seed, 1, "random seed");
  }

  void validate(const StageContext&) override {
    auto& s = spec_;
    s.scan = scan_.parse();
    s.dopant_fraction = parse_range(dopant_range_, "dopant-range");
    s.single_vacancy = parse_range(single_, "single-vacancy-range");
    s.double_vacancy = parse_range(double_, "double-vacancy-range");
    s.dopant_Z = sim::atomic_number(str::trim(dopant_));
    sim::validate(s);
  }

  std::uint64_t planned_bytes(const StageContext&) const override {
    return std::uint64_t(1 + sim::kDefectClasses) * std::uint64_t(spec_.count) * std::uint64_t(spec_.patch_px) * std::uint64_t(spec_.patch_px) *
           sizeof(float);
  }

  void run(const StageContext& ctx, io::ProductWriter& out) override {
    const auto& s = spec_;
    const io::h5::Group& root = out.group();
    sim::DefectTrainsetGenerator generator(s);
    write_heatmap_trainset<sim::DefectPatchLabels>(
        ctx, root,
        {s.count, s.patch_px, sim::kDefectClasses, s.pixel_A,
         "detected electrons, resampled to the detector's pixel (fraction of the beam when the dose is 0)",
         "defect heat maps (a Gaussian of peak 1 per defect; class 0 V_S, 1 V_S2, 2 dopant)"},
        "make-defect-trainset", [&](std::int64_t index, float* image, float* maps) { return generator.patch(index, image, maps); });
    const sim::Material& m = sim::material(s.material);
    root.write_strings("class_names", sim::defect_class_names(m.chalcogen_Z, s.dopant_Z));
    // The conditions the patches stand for (train quotes them in the model's manifest).
    root.set_attr("material", s.material);
    root.set_attr("dopant", sim::element_symbol(s.dopant_Z));
    root.set_attr("layers", std::int64_t(1));
    root.set_attr("pixel_A", s.pixel_A);
    root.set_attr("heatmap_sigma_A", s.heatmap_sigma_A);
    root.set_attr("Cs_A", s.Cs_A);
    root.set_attr("clustered", s.clustered);
    root.set_attr("scale_jitter", s.scale_jitter);
    ScanRangeOptions::write_attributes(root, s.scan);
    for (const auto& [name, r] : {std::pair<const char*, sim::Range>{"dopant_range", s.dopant_fraction}, {"single_vacancy_range", s.single_vacancy},
                                  {"double_vacancy_range", s.double_vacancy}})
      root.set_attr(name, std::vector<double>{r.min, r.max});
  }

 private:
  sim::DefectTrainsetSpec spec_;
  ScanRangeOptions scan_;
  std::string dopant_, dopant_range_, single_, double_;
};

}  // namespace

std::unique_ptr<Stage> make_make_defect_trainset_stage() { return std::make_unique<MakeDefectTrainset>(); }

}  // namespace tmdflow::stages

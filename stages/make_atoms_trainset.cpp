// Stage make-atoms-trainset: training patches for atom-column segmentation and site classification
// in Mo/W/S/Se alloy monolayers (issue #17): ADF images of M(1-x)M'(x) X2(1-y) Y2y with metal vacancies
// and single and double chalcogen vacancies, one heat map per site class (nine: sim/site_classes.hpp)
// and the list of every site (sites/). The product has the trainset/1 layout (patches, targets,
// labels/), so `train --target-map targets` trains on it. Patches are sharded over the ranks in
// blocks; the set does not depend on the rank count.
#include <algorithm>
#include <filesystem>

#include "heatmap_trainset.hpp"
#include "sim_options.hpp"
#include "stage.hpp"
#include "stage_list.hpp"
#include "tmdflow/io/emd.hpp"
#include "tmdflow/par/failure.hpp"
#include "tmdflow/par/gather.hpp"
#include "tmdflow/par/partition.hpp"
#include "tmdflow/par/progress.hpp"
#include "tmdflow/sim/atoms_trainset.hpp"
#include "tmdflow/sim/elements.hpp"
#include "tmdflow/sim/style.hpp"

namespace tmdflow::stages {
namespace {

struct SiteRow {
  std::int64_t patch;
  float x, y;
  std::int8_t cls;
};

class MakeAtomsTrainset : public Stage {
 public:
  std::string name() const override { return "make-atoms-trainset"; }
  std::string summary() const override { return "training patches for segment-atoms: alloy MX2 monolayers with a heat map per site class"; }
  std::string description() const override {
    return "Simulates N patches of an alloy monolayer M(1-x)M'(x) X2(1-y) Y2y (default Mo/W/S/Se; incoherent ADF model, as\n"
           "simulate-adf with realism) with metal vacancies and single and double chalcogen vacancies. Per patch, within the given\n"
           "ranges: composition x, y (an end of each range with probability --end-member, as binary compounds are common), the\n"
           "lattice constant by Vegard's law times a calibration error, orientation, defect densities, the scan's pixel (the patch is\n"
           "scanned at it and resampled bilinearly to --pixel-A, as segment-atoms resamples an image), dose (log-uniform), voltage,\n"
           "convergence, detector angles, defocus, source size, line jitter, drift, carbon contamination, background, read noise and\n"
           "point-spread (--style FILE.h5[:/style], a style-fit product: ranges around its fitted realism and its microscope for the\n"
           "options not given, data_schema/style.md). Writes patches (N, size,\n"
           "size) float32, targets (N, 9, size, size): a heat map per site class (Mo, W, V_M, S2, SSe, Se2, S, Se, V_X2: a Gaussian\n"
           "of peak 1 and sigma --heatmap-sigma-A on every site of the class, empty sites included, where the scan saw it), labels/\n"
           "(what was drawn) and sites/ (every site: patch, x_px, y_px, site_class); schema atoms_trainset/1, the trainset/1 layout\n"
           "that `train --target-map targets` reads. Deterministic in --seed for any number of ranks. See data_schema/atoms.md.";
  }
  std::string product_schema() const override { return "atoms_trainset/1"; }
  std::string default_group() const override { return "/trainset"; }
  bool takes_input() const override { return false; }

  void declare(Options& o) override {
    auto& s = spec_;
    scan_.declare(o, s.scan, "per image");
    o.add<std::int64_t>("count", &s.count, 4000, "number of patches")
        .add<int>("patch-px", &s.patch_px, 64, "patch size [network pixels per side]")
        .add<double>("pixel-A", &s.pixel_A, 0.2, "the network's pixel [Angstrom]")
        .add<std::string>("metal", &metal_, "Mo", "host metal (with --chalcogen, a compound of the material table)")
        .add<std::string>("metal-alloy", &metal_alloy_, "W", "alloying metal")
        .add<std::string>("chalcogen", &chalcogen_, "S", "host chalcogen")
        .add<std::string>("chalcogen-alloy", &chalcogen_alloy_, "Se", "alloying chalcogen")
        .add<std::string>("metal-alloy-range", &x_, "0,1", "range of x, the alloying metal's fraction of the metal sites")
        .add<std::string>("chalcogen-alloy-range", &y_, "0,1", "range of y, the alloying chalcogen's fraction of the chalcogen atoms")
        .add<double>("end-member", &s.end_member, 0.15, "probability that x (and y) is its range's minimum, and again its maximum")
        .add<std::string>("metal-vacancy-range", &vm_, "0,0.04", "range of the fraction of metal sites left empty")
        .add<std::string>("single-vacancy-range", &single_, "0,0.1", "range of the fraction of chalcogen columns missing one atom")
        .add<std::string>("double-vacancy-range", &double_, "0,0.03", "range of the fraction of chalcogen columns missing both atoms")
        .add<std::string>("background-range", &background_, "0,0", "range of the uniform background added before the noise [fraction of the beam]")
        .add<std::string>("read-noise-range", &read_noise_, "0,0", "range of the read noise [detected electrons rms per scan pixel]")
        .add<std::string>("psf-range-A", &psf_, "0,0", "range of the Gaussian point-spread after the noise, sigma [Angstrom]")
        .add<std::string>("style", &style_, "", "a style-fit product FILE.h5[:/style]: realism ranges around it and its microscope, for the options not given")
        .add<double>("scale-jitter", &s.scale_jitter, 0.03, "lattice constant scaled by a factor uniform in 1 +- this (calibration error)")
        .add<double>("Cs-A", &s.Cs_A, 0.0, "spherical aberration [Angstrom]")
        .add<double>("heatmap-sigma-A", &s.heatmap_sigma_A, 0.4, "sigma of each site's Gaussian in the heat maps [Angstrom]")
        .add<std::uint64_t>("seed", &s.seed, 1, "random seed");
  }

  void validate(const StageContext& ctx) override {
    auto& s = spec_;
    if (!style_.empty() && std::filesystem::exists(io::parse_target(style_, "/style").file)) apply_style(ctx);
    s.scan = scan_.parse();
    s.background = parse_range(background_, "background-range");
    s.read_noise = parse_range(read_noise_, "read-noise-range");
    s.psf_A = parse_range(psf_, "psf-range-A");
    s.metal_alloy = parse_range(x_, "metal-alloy-range");
    s.chalcogen_alloy = parse_range(y_, "chalcogen-alloy-range");
    s.metal_vacancy = parse_range(vm_, "metal-vacancy-range");
    s.single_vacancy = parse_range(single_, "single-vacancy-range");
    s.double_vacancy = parse_range(double_, "double-vacancy-range");
    s.elements.metal_Z = sim::atomic_number(str::trim(metal_));
    s.elements.metal_alloy_Z = sim::atomic_number(str::trim(metal_alloy_));
    s.elements.chalcogen_Z = sim::atomic_number(str::trim(chalcogen_));
    s.elements.chalcogen_alloy_Z = sim::atomic_number(str::trim(chalcogen_alloy_));
    sim::validate(s);
  }

  std::uint64_t planned_bytes(const StageContext&) const override {
    return std::uint64_t(1 + sim::kSiteClasses) * std::uint64_t(spec_.count) * std::uint64_t(spec_.patch_px) * std::uint64_t(spec_.patch_px) *
           sizeof(float);
  }

  std::vector<std::string> extra_inputs() const override { return style_.empty() ? std::vector<std::string>{} : std::vector<std::string>{style_}; }

  /// Options not given take the style's ranges (sim::style_ranges, data_schema/style.md) and
  /// microscope; Cs its value.
  void apply_style(const StageContext& ctx) {
    const sim::Style st = sim::read_style(style_);
    const sim::StyleRanges r = sim::style_ranges(st);
    scan_.apply_style(ctx, st);
    auto text = [](const sim::Range& v) { return Options::text(v.min) + "," + Options::text(v.max); };
    if (!ctx.given("background-range")) background_ = text(r.background);
    if (!ctx.given("read-noise-range")) read_noise_ = text(r.read_noise);
    if (!ctx.given("psf-range-A")) psf_ = text(r.psf_A);
    if (!ctx.given("Cs-A")) spec_.Cs_A = st.Cs_A;
    style_applied_ = st.where;
  }

  void run(const StageContext& ctx, io::ProductWriter& out) override {
    if (!style_.empty() && style_applied_.empty()) validate(ctx);  // a style made by an earlier workflow step
    if (!style_.empty() && style_applied_.empty()) sim::read_style(style_);  // names the missing file
    const auto& s = spec_;
    const io::h5::Group& root = out.group();
    sim::AtomsTrainsetGenerator generator(s);
    std::vector<SiteRow> rows;
    std::vector<sim::PatchSite> sites;
    write_heatmap_trainset<sim::AtomsPatchLabels>(
        ctx, root,
        {s.count, s.patch_px, sim::kSiteClasses, s.pixel_A, "detected electrons, resampled to the network's pixel (fraction of the beam when the dose is 0)",
         "site heat maps (a Gaussian of peak 1 per site, one channel per class of class_names)"},
        "make-atoms-trainset", [&](std::int64_t index, float* image, float* maps) {
          sites.clear();
          const sim::AtomsPatchLabels L = generator.patch(index, image, maps, &sites);
          for (const auto& site : sites) rows.push_back({index, float(site.x_px), float(site.y_px), std::int8_t(site.site_class)});
          return L;
        });
    const std::vector<std::string> names = sim::site_class_names(s.elements);
    root.write_strings("class_names", names);
    write_sites(root, par::allgather_rows(ctx.comm, rows), names);
    // The conditions the patches stand for (train quotes them in the model's manifest).
    root.set_attr("material", sim::element_symbol(s.elements.metal_Z) + "(1-x)" + sim::element_symbol(s.elements.metal_alloy_Z) + "(x)" +
                                  sim::element_symbol(s.elements.chalcogen_Z) + "2(1-y)" + sim::element_symbol(s.elements.chalcogen_alloy_Z) + "2y");
    root.set_attr("layers", std::int64_t(1));
    root.set_attr("pixel_A", s.pixel_A);
    root.set_attr("heatmap_sigma_A", s.heatmap_sigma_A);
    root.set_attr("Cs_A", s.Cs_A);
    root.set_attr("end_member", s.end_member);
    root.set_attr("scale_jitter", s.scale_jitter);
    ScanRangeOptions::write_attributes(root, s.scan);
    for (const auto& [name, r] : {std::pair<const char*, sim::Range>{"metal_alloy_range", s.metal_alloy}, {"chalcogen_alloy_range", s.chalcogen_alloy},
                                  {"metal_vacancy_range", s.metal_vacancy}, {"single_vacancy_range", s.single_vacancy},
                                  {"double_vacancy_range", s.double_vacancy}, {"background_range", s.background},
                                  {"read_noise_range", s.read_noise}, {"psf_range_A", s.psf_A}})
      root.set_attr(name, std::vector<double>{r.min, r.max});
    if (!style_applied_.empty()) root.set_attr("style", style_applied_);
  }

 private:
  static void write_sites(const io::h5::Group& root, const std::vector<SiteRow>& rows, const std::vector<std::string>& names) {
    io::h5::Group g = root.create_group("sites");
    std::vector<std::int64_t> patch;
    std::vector<float> x, y;
    std::vector<std::int8_t> cls;
    for (const auto& r : rows) patch.push_back(r.patch), x.push_back(r.x), y.push_back(r.y), cls.push_back(r.cls);
    g.write_vector("patch", patch);
    g.write_vector("x_px", x).set_attr("units", "pixels");
    g.write_vector("y_px", y).set_attr("units", "pixels");
    g.write_vector("site_class", cls).set_attr("class_names", str::join(names, ","));
  }

  sim::AtomsTrainsetSpec spec_;
  ScanRangeOptions scan_;
  std::string metal_, metal_alloy_, chalcogen_, chalcogen_alloy_, x_, y_, vm_, single_, double_, background_, read_noise_, psf_, style_, style_applied_;
};

}  // namespace

std::unique_ptr<Stage> make_make_atoms_trainset_stage() { return std::make_unique<MakeAtomsTrainset>(); }

}  // namespace tmdflow::stages

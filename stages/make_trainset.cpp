// Stage make-trainset: N labelled ADF-STEM patches of MX2 bilayers/trilayers for training the
// stacking network: each patch draws its slip (Da, Db), twist, orientation, point defects, dose,
// probe blur and scan distortion from the given ranges, keyed by (seed, patch index), so the set
// is identical for any number of ranks. Patches are sharded over ranks in blocks.
#include <filesystem>
#include <optional>

#include "label_table.hpp"
#include "sim_options.hpp"
#include "stage.hpp"
#include "stage_list.hpp"
#include "tmdflow/par/failure.hpp"
#include "tmdflow/io/emd.hpp"
#include "tmdflow/par/partition.hpp"
#include "tmdflow/par/progress.hpp"
#include "tmdflow/sim/style.hpp"
#include "tmdflow/sim/trainset.hpp"

namespace tmdflow::stages {
namespace {

class MakeTrainset : public Stage {
 public:
  std::string name() const override { return "make-trainset"; }
  std::string summary() const override { return "labelled ADF patches of TMD stacks sampling slip, twist, defects and noise"; }
  std::string description() const override {
    return "Simulates N patches (incoherent ADF model) of stacks: MX2 (MoS2, WS2, MoSe2, WSe2) or 1T'' (ReS2, ReSe2) layers.\n"
           "Per patch, uniformly within the given ranges: slip Da, Db of each upper layer (fractions of a1, a2), twist (degrees),\n"
           "orientation (a range, or a set plus jitter: the canonical frame), lattice scale, vacancy fraction, holes, dose\n"
           "(log-uniform) or a target PSNR, defocus, source size, line jitter, drift and contamination. Writes patches (N, size,\n"
           "size) float32 and labels/ (one dataset per label, N values; slips also as Cartesian vectors in the patch frame with\n"
           "the bottom layer's a1, a2), schema trainset/1. With --heatmap-sigma-A, also targets (N, 2, size, size): metal and\n"
           "chalcogen column heat maps (occupancy-weighted Gaussians on the columns where the scan saw them), the targets of\n"
           "atom-column detectors. --style FILE.h5[:/style] (stage style-fit) sets the realism ranges around a fitted style\n"
           "(dose, source size, jitter, background, read noise, point-spread, defocus, contamination) and the microscope, for\n"
           "the options not given (data_schema/style.md). Deterministic in --seed for any number of ranks. Conventions: data_schema/structures.md,\n"
           "data_schema/training.md (labels, canonical frame, the published conditions as example commands).";
  }
  std::string product_schema() const override { return "trainset/1"; }
  std::string default_group() const override { return "/trainset"; }
  bool takes_input() const override { return false; }

  void declare(Options& o) override {
    auto& s = spec_;
    o.add<std::int64_t>("count", &s.count, 1000, "number of patches")
        .add<int>("patch-px", &s.patch_px, 64, "patch size [pixels per side]")
        .add<double>("pixel-A", &s.pixel_A, 0.2, "probe step [Angstrom]")
        .add<std::string>("material", &s.material, "MoS2",
                          "compound (MoS2, WS2, MoSe2, WSe2; 1T'': ReS2, ReSe2), or a list of one family drawn per patch (label material_index)")
        .add<int>("layers", &s.layers, 2, "layers (1 to 3)")
        .add<std::string>("stacking", &s.stacking, "", "registry at zero slip and twist: 2H, 3R or AA (default 2H for MX2; 1T'': AA only)")
        .add<std::string>("slip-range", &slip_, "0,1", "range of Da and Db of each upper layer [fraction of a1, a2]")
        .add<std::string>("slip2-range", &slip2_, "", "range of layer 2's Da and Db (trilayers) when it differs from --slip-range")
        .add<std::string>("twist-range-deg", &twist_, "-1,1", "range of the twist of each upper layer [degrees]")
        .add<std::string>("phi-range-deg", &phi_, "0,120", "range of the bottom layer's orientation [degrees]")
        .add<std::string>("phi-set-deg", &phi_set_, "",
                          "orientations of the bottom layer, one drawn per patch (canonical frame: 30,90 for MX2); overrides --phi-range-deg")
        .add<double>("phi-jitter-deg", &s.phi_jitter_deg, 0.0, "uniform jitter added to an orientation of --phi-set-deg [+- degrees]")
        .add<double>("scale-jitter", &s.scale_jitter, 0.0, "lattice scaled by a factor uniform in 1 +- this (calibration error)")
        .add<bool>("translate", &s.translate, false,
                   "lattice moved by a random point of its cell relative to the patch (labels shift_x_A, shift_y_A): windows cut anywhere")
        .add<bool>("anchor", &s.anchor, false,
                   "each patch re-centred on its lattice anchor (the brightest point of its periodic image), as infer-stacking re-centres windows")
        .add<std::string>("vacancy-range", &vacancy_, "0,0.02", "range of the chalcogen single-vacancy fraction")
        .add<std::string>("dose-range-e-per-A2", &dose_, "1e4,1e6", "range of the dose [e/A^2] (log-uniform; 0,0: noise-free)")
        .add<std::string>("defocus-range-A", &defocus_, "-20,20", "range of C1 [Angstrom]")
        .add<std::string>("source-size-range-A", &source_, "0.3,0.7", "range of the Gaussian source size [Angstrom]")
        .add<std::string>("jitter-range-A", &jitter_, "0,0.1", "range of the scan-line jitter [Angstrom rms]")
        .add<std::string>("contamination-range", &contamination_, "0,0.05", "range of amorphous carbon [atoms per A^2]")
        .add<std::string>("drift-range-A", &drift_, "0,0", "range of the sample drift over a patch's scan [Angstrom], in a random direction")
        .add<std::string>("holes-range", &holes_, "0,0", "range of the fraction of a patch's area in holes (vacuum through every layer)")
        .add<std::string>("background-range", &background_, "0,0", "range of a uniform background added before the noise [fraction of the beam]")
        .add<std::string>("read-noise-range", &read_noise_, "0,0", "range of the read noise after the counting noise [detected electrons rms]")
        .add<std::string>("psf-range-A", &psf_, "0,0", "range of a Gaussian point-spread applied after the noise [Angstrom, sigma]")
        .add<std::string>("style", &style_, "", "a style-fit product FILE.h5[:/style]: realism ranges around it and its microscope, for the options not given")
        .add<std::string>("psnr-range-dB", &psnr_, "0,0",
                          "range of the PSNR, 20 log10(max of the clean patch / rms noise) [dB]; sets the noise instead of the dose (0,0: off)")
        .add<std::string>("psnr-noise", &psnr_noise_, "poisson", "noise of --psnr-range-dB: poisson (counts at the dose that gives it) or gaussian")
        .add<double>("inner-mrad", &s.inner_mrad, 60.0, "ADF detector inner angle [mrad]")
        .add<double>("outer-mrad", &s.outer_mrad, 200.0, "ADF detector outer angle [mrad]")
        .add<double>("voltage-kV", &s.voltage_kV, 80.0, "accelerating voltage [kV]")
        .add<double>("convergence-mrad", &s.convergence_mrad, 30.0, "probe convergence semi-angle [mrad]")
        .add<double>("Cs-A", &s.Cs_A, 0.0, "spherical aberration [Angstrom]")
        .add<std::uint64_t>("seed", &s.seed, 1, "random seed")
        .add<double>("heatmap-sigma-A", &s.heatmap_sigma_A, 0.0,
                     "also write column heat maps (targets: metal, chalcogen) with this Gaussian sigma [Angstrom]; 0: none");
  }

  void validate(const StageContext& ctx) override {
    if (!style_.empty() && std::filesystem::exists(io::parse_target(style_, "/style").file)) apply_style(ctx);
    auto range = [](const std::string& t, const char* what) {
      const auto v = str::to_double_list(t, what);
      if (v.size() != 2 || !(v[1] >= v[0])) throw ConfigError(std::string(what) + ": expected MIN,MAX with MIN <= MAX, found '" + t + "'");
      return sim::Range{v[0], v[1]};
    };
    spec_.slip = range(slip_, "slip-range");
    spec_.twist_deg = range(twist_, "twist-range-deg");
    spec_.phi_deg = range(phi_, "phi-range-deg");
    spec_.phi_set_deg = phi_set_.empty() ? std::vector<double>{} : str::to_double_list(phi_set_, "phi-set-deg");
    spec_.vacancy = range(vacancy_, "vacancy-range");
    spec_.dose = range(dose_, "dose-range-e-per-A2");
    spec_.defocus_A = range(defocus_, "defocus-range-A");
    spec_.source_size_A = range(source_, "source-size-range-A");
    spec_.jitter_A = range(jitter_, "jitter-range-A");
    spec_.contamination = range(contamination_, "contamination-range");
    if (!slip2_.empty()) spec_.slip2 = range(slip2_, "slip2-range");
    spec_.drift_A = range(drift_, "drift-range-A");
    spec_.holes = range(holes_, "holes-range");
    spec_.psnr_dB = range(psnr_, "psnr-range-dB");
    spec_.background = range(background_, "background-range");
    spec_.read_noise = range(read_noise_, "read-noise-range");
    spec_.psf_A = range(psf_, "psf-range-A");
    if (psnr_noise_ != "poisson" && psnr_noise_ != "gaussian")
      throw ConfigError("psnr-noise: expected poisson or gaussian, found '" + psnr_noise_ + "'");
    spec_.psnr_gaussian = psnr_noise_ == "gaussian";
    sim::validate(spec_);
  }

  std::uint64_t planned_bytes(const StageContext&) const override {
    const std::uint64_t planes = spec_.heatmap_sigma_A > 0 ? 1 + sim::kHeatmapChannels : 1;
    return planes * std::uint64_t(spec_.count) * std::uint64_t(spec_.patch_px) * std::uint64_t(spec_.patch_px) * sizeof(float);
  }

  std::vector<std::string> extra_inputs() const override { return style_.empty() ? std::vector<std::string>{} : std::vector<std::string>{style_}; }

  /// Range options not given on the command line take the ranges around the style
  /// (sim::style_ranges, data_schema/style.md), the microscope options its values.
  void apply_style(const StageContext& ctx) {
    const sim::Style st = sim::read_style(style_);
    const sim::StyleRanges r = sim::style_ranges(st);
    auto text = [](const sim::Range& v) { return Options::text(v.min) + "," + Options::text(v.max); };
    auto set_range = [&](const char* option, std::string& target, const sim::Range& v) {
      if (!ctx.given(option)) target = text(v);
    };
    auto set = [&](const char* option, double& target, double value) {
      if (!ctx.given(option)) target = value;
    };
    set_range("dose-range-e-per-A2", dose_, r.dose);
    set_range("source-size-range-A", source_, r.source_size_A);
    set_range("jitter-range-A", jitter_, r.jitter_A);
    set_range("background-range", background_, r.background);
    set_range("read-noise-range", read_noise_, r.read_noise);
    set_range("psf-range-A", psf_, r.psf_A);
    set_range("contamination-range", contamination_, r.contamination);
    set_range("defocus-range-A", defocus_, r.defocus_A);
    set("voltage-kV", spec_.voltage_kV, st.voltage_kV);
    set("convergence-mrad", spec_.convergence_mrad, st.convergence_mrad);
    set("inner-mrad", spec_.inner_mrad, st.inner_mrad);
    set("outer-mrad", spec_.outer_mrad, st.outer_mrad);
    set("Cs-A", spec_.Cs_A, st.Cs_A);
    style_applied_ = st.where;
  }

  void run(const StageContext& ctx, io::ProductWriter& out) override {
    if (!style_.empty() && style_applied_.empty()) validate(ctx);  // a style made by an earlier workflow step
    if (!style_.empty() && style_applied_.empty()) sim::read_style(style_);  // names the missing file
    const auto& s = spec_;
    const io::h5::Group& root = out.group();
    root.set_attr("emd_group_type", "root");
    root.set_attr("python_class", "Root");
    io::emd::ArraySpec as{"patches", io::Dtype::f32, {s.count, s.patch_px, s.patch_px},
                          {{"patch", "index", 0.0, 1.0}, {"y", "A", 0.0, s.pixel_A}, {"x", "A", 0.0, s.pixel_A}}, "Array",
                          "detected electrons (fraction of the beam when the dose is 0)", {1, s.patch_px, s.patch_px}};
    io::h5::Dataset patches = io::emd::create_array(root, as);
    const bool heat = s.heatmap_sigma_A > 0;
    std::optional<io::h5::Dataset> targets;
    if (heat) {
      io::emd::ArraySpec ts{"targets", io::Dtype::f32, {s.count, sim::kHeatmapChannels, s.patch_px, s.patch_px},
                            {{"patch", "index", 0.0, 1.0}, {"class", "index", 0.0, 1.0}, {"y", "A", 0.0, s.pixel_A}, {"x", "A", 0.0, s.pixel_A}},
                            "Array", "column heat map (occupancy-weighted Gaussians; class 0 metal, 1 chalcogen)",
                            {1, sim::kHeatmapChannels, s.patch_px, s.patch_px}};
      targets = io::emd::create_array(root, ts);
      root.set_attr("heatmap_sigma_A", s.heatmap_sigma_A);
    }
    const par::Range mine = par::block_partition(s.count, ctx.comm.size(), ctx.comm.rank());
    const std::int64_t most = ctx.comm.allreduce(mine.size(), par::Op::max);
    constexpr std::int64_t block = 64;
    const std::size_t npix = std::size_t(s.patch_px) * s.patch_px;
    sim::TrainsetGenerator generator(s);
    std::vector<float> buffer(std::size_t(block) * npix);
    std::vector<float> heat_buffer(heat ? std::size_t(block) * sim::kHeatmapChannels * npix : 0);
    std::vector<sim::PatchLabels> labels(std::size_t(std::max<std::int64_t>(mine.size(), 0)));
    par::Progress progress(ctx.comm, "make-trainset", std::uint64_t(s.count), "patches");
    for (std::int64_t b0 = 0; b0 < most; b0 += block) {
      const std::int64_t n = std::clamp<std::int64_t>(mine.size() - b0, 0, block);
      for (std::int64_t k = 0; k < n; ++k)
        labels[std::size_t(b0 + k)] = generator.patch(mine.begin + b0 + k, buffer.data() + std::size_t(k) * npix,
                                                      heat ? heat_buffer.data() + std::size_t(k) * sim::kHeatmapChannels * npix : nullptr);
      par::interruption_point(ctx.comm);
      par::inject_fault(ctx.comm, "block-write");
      patches.write<float>(io::h5::Shape{n > 0 ? mine.begin + b0 : 0, 0, 0}, io::h5::Shape{n, s.patch_px, s.patch_px}, buffer.data());
      if (targets)
        targets->write<float>(io::h5::Shape{n > 0 ? mine.begin + b0 : 0, 0, 0, 0},
                              io::h5::Shape{n, sim::kHeatmapChannels, s.patch_px, s.patch_px}, heat_buffer.data());
      progress.advance(std::uint64_t(n));
    }
    progress.finish();

    write_label_table(root, labels, s.count, mine);
    root.set_attr("material", s.material);
    root.set_attr("materials", str::join(sim::materials_of(s), ","));
    // The conditions the patches stand for (a model's manifest quotes them).
    root.set_attr("pixel_A", s.pixel_A);
    root.set_attr("voltage_kV", s.voltage_kV);
    root.set_attr("convergence_mrad", s.convergence_mrad);
    root.set_attr("detector_inner_mrad", s.inner_mrad);
    root.set_attr("detector_outer_mrad", s.outer_mrad);
    root.set_attr("Cs_A", s.Cs_A);
    for (const auto& [name, r] : {std::pair<const char*, sim::Range>{"dose_range_e_per_A2", s.dose}, {"defocus_range_A", s.defocus_A},
                                  {"source_size_range_A", s.source_size_A}, {"jitter_range_A", s.jitter_A},
                                  {"vacancy_range", s.vacancy}, {"contamination_range", s.contamination},
                                  {"slip_range", s.slip}, {"twist_range_deg", s.twist_deg}, {"drift_range_A", s.drift_A},
                                  {"holes_range", s.holes}, {"psnr_range_dB", s.psnr_dB}, {"background_range", s.background},
                                  {"read_noise_range", s.read_noise}, {"psf_range_A", s.psf_A}})
      root.set_attr(name, std::vector<double>{r.min, r.max});
    if (s.slip2) root.set_attr("slip2_range", std::vector<double>{s.slip2->min, s.slip2->max});
    if (s.psnr_dB.max > 0) root.set_attr("psnr_noise", psnr_noise_);
    if (!s.phi_set_deg.empty()) root.set_attr("phi_set_deg", s.phi_set_deg);
    root.set_attr("phi_jitter_deg", s.phi_jitter_deg);
    root.set_attr("scale_jitter", s.scale_jitter);
    root.set_attr("translate", std::int64_t(s.translate));
    root.set_attr("anchor", std::int64_t(s.anchor));
    root.set_attr("layers", std::int64_t(s.layers));
    root.set_attr("stacking", sim::stacking_of(s));
    if (!style_applied_.empty()) root.set_attr("style", style_applied_);
  }

 private:
  sim::TrainsetSpec spec_;
  std::string slip_, slip2_, twist_, phi_, phi_set_, vacancy_, drift_, holes_, psnr_, psnr_noise_, dose_, defocus_, source_, jitter_, contamination_;
  std::string background_, read_noise_, psf_, style_, style_applied_;
};

}  // namespace

std::unique_ptr<Stage> make_make_trainset_stage() { return std::make_unique<MakeTrainset>(); }

}  // namespace tmdflow::stages

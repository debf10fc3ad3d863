// Stage simulate-adf: incoherent ADF-STEM images (the incoSTEM model) of a structure -- a stack of
// 1-3 MX2 or 1T'' ReS2/ReSe2 layers with slip and twist, a 1T'' layer or a polycrystal -- with alloying,
// point defects, contamination, scan distortion and counting noise, and the ground truth beside
// them (atoms, columns, domains). Frames (independent noise and distortion of the same structure)
// are sharded over ranks; the result is the same for any number of ranks.
#include <cmath>
#include <filesystem>

#include "sim_options.hpp"

#include "stage.hpp"
#include "stage_list.hpp"
#include "tmdflow/par/failure.hpp"
#include "tmdflow/core/units.hpp"
#include "tmdflow/io/emd.hpp"
#include "tmdflow/par/partition.hpp"
#include "tmdflow/par/progress.hpp"
#include "tmdflow/sim/adf.hpp"
#include "tmdflow/sim/random.hpp"
#include "tmdflow/sim/realism.hpp"
#include "tmdflow/sim/structure_io.hpp"
#include "tmdflow/sim/style.hpp"

namespace tmdflow::stages {
namespace {

class SimulateAdf : public Stage {
 public:
  std::string name() const override { return "simulate-adf"; }
  std::string summary() const override { return "incoherent ADF-STEM images of TMD stacks, alloys, defects or polycrystals, with ground truth"; }
  std::string description() const override {
    return "Builds a structure (--crystal stack: 1-3 layers, MX2 or 1T'' ReS2/ReSe2, with stacking, slip and twist; 1T'': one\n"
           "ReS2/ReSe2 layer; polycrystal: Voronoi domains) and images it with the incoherent ADF model: each atom's elastic cross-section on the annular\n"
           "detector (Kirkland scattering factors) convolved with the probe intensity (aperture, aberrations, source size,\n"
           "focal spread). Realism: contamination, drift and line jitter, a uniform background, Poisson noise for a dose, read\n"
           "noise, a point-spread after the noise; --style FILE.h5[:/style] takes them (and the microscope, the pixel size) from a\n"
           "style-fit product, options given on the command line winning (data_schema/style.md). Writes image\n"
           "(frames, y, x) in detected electrons (or the fraction of the beam when --dose-e-per-A2 is 0) and structure/.\n"
           "Conventions: data_schema/structures.md, data_schema/simulation.md.";
  }
  std::string product_schema() const override { return "adf_images/1"; }
  std::string default_group() const override { return "/adf_root"; }
  bool takes_input() const override { return false; }

  void declare(Options& o) override {
    o.add<std::string>("crystal", &crystal_, "stack", "structure kind: stack, 1T'' (ReS2/ReSe2) or polycrystal")
        .add<std::string>("material", &material_, "MoS2", "compound (MoS2, WS2, MoSe2, WSe2; 1T'': ReS2, ReSe2)")
        .add<int>("layers", &layers_, 1, "layers in a stack (1-3)")
        .add<std::string>("stacking", &stacking_, "", "registry at zero slip and twist: 2H, 3R or AA (default 2H for MX2; 1T'': AA only)")
        .add<double>("phi-deg", &phi_, 30.0, "orientation of the bottom layer [degrees] (MX2: phi; 1T'': rotation of the cell's a axis)")
        .add<std::string>("slip-a", &slip_a_, "", "slip of each upper layer along a1 [fraction of a1], comma-separated")
        .add<std::string>("slip-b", &slip_b_, "", "slip of each upper layer along a2 [fraction of a2], comma-separated")
        .add<std::string>("twist-deg", &twist_, "", "twist of each upper layer about a metal site [degrees], comma-separated")
        .add<int>("domains", &domains_, 6, "domains of a polycrystal")
        .add<double>("contamination", &contamination_, 0.0, "amorphous carbon on the surface [atoms per A^2]")
        .add<std::string>("size", &size_, "512,512", "image pixels ny,nx")
        .add<double>("pixel-A", &spec_.pixel_A, 0.1, "probe step [Angstrom]")
        .add<double>("inner-mrad", &spec_.inner_mrad, 60.0, "ADF detector inner angle [mrad]")
        .add<double>("outer-mrad", &spec_.outer_mrad, 200.0, "ADF detector outer angle [mrad]")
        .add<int>("frames", &frames_, 1, "images of the same structure with independent noise and distortion")
        .add<double>("dose-e-per-A2", &dose_, 0.0, "electron dose [e/A^2] with Poisson noise (0: noise-free fractions)")
        .add<double>("read-noise", &read_noise_, 0.0, "read noise [detected electrons rms per pixel]")
        .add<double>("background", &background_, 0.0, "uniform background added before the noise [fraction of the beam]")
        .add<double>("psf-A", &psf_A_, 0.0, "Gaussian point-spread applied after the noise (detector, display), sigma [Angstrom]")
        .add<std::string>("style", &style_, "", "a style-fit product FILE.h5[:/style]: its realism, microscope and pixel size for the options not given")
        .add<double>("drift-x-A", &distortion_.drift_x_A, 0.0, "sample drift along x during a frame [Angstrom]")
        .add<double>("drift-y-A", &distortion_.drift_y_A, 0.0, "sample drift along y during a frame [Angstrom]")
        .add<double>("jitter-A", &distortion_.jitter_A, 0.0, "scan-line jitter along x, rms [Angstrom]")
        .add<std::uint64_t>("seed", &seed_, 1, "random seed (structure, noise, distortion)");
    chemistry_.declare(o);
    declare_probe(o, spec_.probe, 80.0, 30.0);
  }

  void validate(const StageContext& ctx) override {
    if (!style_.empty() && style_file_exists()) apply_style(ctx);
    const auto s = str::to_int_list(size_, "size");
    if (s.size() != 2 || s[0] <= 0 || s[1] <= 0) throw ConfigError("size: expected two positive integers ny,nx, found '" + size_ + "'");
    spec_.ny = int(s[0]);
    spec_.nx = int(s[1]);
    if (frames_ < 1) throw ConfigError("frames: expected at least 1, found " + std::to_string(frames_));
    if (crystal_ != "stack" && crystal_ != "1T''" && crystal_ != "polycrystal")
      throw ConfigError("crystal: expected stack, 1T'' or polycrystal, found '" + crystal_ + "'");
    if (dose_ < 0 || read_noise_ < 0 || contamination_ < 0) throw ConfigError("dose-e-per-A2, read-noise, contamination: expected values >= 0");
    if (!(background_ >= 0 && background_ <= 1)) throw ConfigError("background: expected a fraction of the beam 0 to 1, found " + Options::text(background_));
    if (!(psf_A_ >= 0 && psf_A_ < 100)) throw ConfigError("psf-A: expected a sigma >= 0 Angstrom, found " + Options::text(psf_A_));
    require_positive("pixel-A", spec_.pixel_A);
    if (layers_ < 1 || layers_ > 3) throw ConfigError("layers: expected 1 to 3, found " + std::to_string(layers_));
    if (!stacking_.empty() && stacking_ != "2H" && stacking_ != "3R" && stacking_ != "AA")
      throw ConfigError("stacking: expected 2H, 3R or AA, found '" + stacking_ + "'");
    if (domains_ < 1) throw ConfigError("domains: expected at least 1, found " + std::to_string(domains_));
    if (!std::isfinite(phi_)) throw ConfigError("phi-deg: expected a finite angle");
    if (!(distortion_.jitter_A >= 0) || !std::isfinite(distortion_.drift_x_A) || !std::isfinite(distortion_.drift_y_A))
      throw ConfigError("jitter-A, drift-x-A, drift-y-A: expected finite values, jitter >= 0");
    sim::validate(spec_.probe);
    sim::material(material_);
    chemistry_.apply(alloy_, defects_);
    auto list = [](const std::string& t, const char* what) { return t.empty() ? std::vector<double>{} : str::to_double_list(t, what); };
    slip_a_v_ = list(slip_a_, "slip-a");
    slip_b_v_ = list(slip_b_, "slip-b");
    twist_v_ = list(twist_, "twist-deg");
    for (const auto* v : {&slip_a_v_, &slip_b_v_, &twist_v_})
      if (int(v->size()) > std::max(0, layers_ - 1))
        throw ConfigError("slip-a, slip-b, twist-deg: expected at most one value per upper layer (" + std::to_string(layers_ - 1) + ")");
    if (crystal_ != "stack" && (!slip_a_v_.empty() || !slip_b_v_.empty() || !twist_v_.empty() || layers_ != 1))
      throw ConfigError("layers, slip-a, slip-b, twist-deg: apply to --crystal stack only, found --crystal " + crystal_);
    if (crystal_ == "1T''" && (!alloy_.metal.empty() || !alloy_.chalcogen.empty()))
      throw ConfigError("alloy-metal, alloy-chalcogen: not available for --crystal 1T'' (stack and polycrystal only)");
    // The simulator checks sampling and angles, the builders the structure's parameters (the
    // registry of a 1T'' stack, ...): both once here, on a small field, so errors come before any work.
    sim::AdfSimulator check(spec_);
    build(sim::AdfField{0, 0, 12, 12});
  }

  std::uint64_t planned_bytes(const StageContext&) const override {
    return std::uint64_t(frames_) * std::uint64_t(spec_.ny) * std::uint64_t(spec_.nx) * sizeof(float);
  }

  sim::Structure build(const sim::AdfField& field) const {
    const double w = field.extent_x, h = field.extent_y;
    sim::Structure st;
    if (crystal_ == "stack") {
      sim::StackSpec k;
      k.material = material_;
      k.layers = layers_;
      k.stacking = stacking_;
      k.phi_deg = phi_;
      k.rotation_deg = phi_;  // the orientation of a 1T'' stack
      k.slip_a = slip_a_v_;
      k.slip_b = slip_b_v_;
      k.twist_deg = twist_v_;
      k.alloy = alloy_;
      k.defects = defects_;
      k.extent_x = w;
      k.extent_y = h;
      k.seed = seed_;
      st = sim::build_stack(k);
    } else if (crystal_ == "1T''") {
      sim::TriclinicSpec k;
      k.material = material_;
      k.rotation_deg = phi_;
      k.defects = defects_;
      k.extent_x = w;
      k.extent_y = h;
      k.seed = seed_;
      st = sim::build_1t_double_prime(k);
    } else {
      sim::PolycrystalSpec k;
      k.material = material_;
      k.domains = domains_;
      k.alloy = alloy_;
      k.defects = defects_;
      k.extent_x = w;
      k.extent_y = h;
      k.seed = seed_;
      st = sim::build_polycrystal(k);
    }
    sim::add_surface_contamination(st, contamination_, seed_);
    return st;
  }

  std::vector<std::string> extra_inputs() const override { return style_.empty() ? std::vector<std::string>{} : std::vector<std::string>{style_}; }

  /// Options not given on the command line take the style's values (data_schema/style.md).
  void apply_style(const StageContext& ctx) {
    const sim::Style st = sim::read_style(style_);
    auto set = [&](const char* option, double& target, double value) {
      if (!ctx.given(option)) target = value;
    };
    set("dose-e-per-A2", dose_, st.dose_e_per_A2);
    set("read-noise", read_noise_, st.read_noise);
    set("background", background_, st.background);
    set("psf-A", psf_A_, st.psf_A);
    set("jitter-A", distortion_.jitter_A, st.jitter_A);
    set("contamination", contamination_, st.contamination);
    set("source-size-A", spec_.probe.source_size_A, st.source_size_A);
    set("C1-A", spec_.probe.aberrations.C1, st.defocus_A);
    set("Cs-A", spec_.probe.aberrations.Cs, st.Cs_A);
    set("voltage-kV", spec_.probe.voltage_kV, st.voltage_kV);
    set("convergence-mrad", spec_.probe.convergence_mrad, st.convergence_mrad);
    set("inner-mrad", spec_.inner_mrad, st.inner_mrad);
    set("outer-mrad", spec_.outer_mrad, st.outer_mrad);
    set("pixel-A", spec_.pixel_A, st.pixel_A);
    style_applied_ = st.where;
  }
  bool style_file_exists() const { return std::filesystem::exists(io::parse_target(style_, "/style").file); }

  void run(const StageContext& ctx, io::ProductWriter& out) override {
    if (!style_.empty() && style_applied_.empty()) {
      // A style made by an earlier step of a workflow: read now, checked again.
      apply_style(ctx);
      validate(ctx);
    }
    const sim::AdfField field = sim::adf_field(spec_, distortion_);
    sim::AdfSpec spec = spec_;
    spec.x0 = field.x0;
    spec.y0 = field.y0;
    const sim::Structure structure = build(field);
    sim::AdfSimulator simulator(spec);
    const io::h5::Group& root = out.group();
    root.set_attr("emd_group_type", "root");
    root.set_attr("python_class", "Root");
    io::emd::ArraySpec as{"image", io::Dtype::f32, {frames_, spec.ny, spec.nx},
                          {{"frame", "index", 0.0, 1.0}, {"y", "A", 0.0, spec.pixel_A}, {"x", "A", 0.0, spec.pixel_A}}, "Array",
                          dose_ > 0 ? "detected electrons" : "fraction of the beam", {1, spec.ny, spec.nx}};
    io::h5::Dataset image = io::emd::create_array(root, as);
    const par::Range frames = par::block_partition(frames_, ctx.comm.size(), ctx.comm.rank());
    const std::int64_t frames_total = ctx.comm.allreduce(frames.size(), par::Op::max);
    std::vector<float> frame(std::size_t(spec.ny) * spec.nx);
    const float* padded = nullptr;
    std::vector<double> xs, ys;
    const double electrons_per_unit = dose_ * spec.pixel_A * spec.pixel_A;
    par::Progress progress(ctx.comm, "simulate-adf", std::uint64_t(frames_), "images");
    for (std::int64_t k = 0; k < frames_total; ++k) {
      const std::int64_t f = frames.begin + k;
      const bool mine = f < frames.end;
      if (mine) {
        // Every frame shows the same structure: one noise-free image, then per-frame distortion and noise.
        if (!padded) padded = simulator.padded_image(structure);
        if (distortion_.any()) {
          sim::scan_positions(distortion_, spec.ny, spec.nx, spec.pixel_A, spec.x0, spec.y0, sim::rng::key(seed_, 0x7363616eULL, f), xs, ys);
          sim::resample_bicubic(padded, simulator.padded_grid(), xs.data(), ys.data(), xs.size(), frame.data());
        } else {
          simulator.crop(padded, frame.data());
        }
        if (background_ > 0)
          for (float& v : frame) v += float(background_);
        if (dose_ > 0 || read_noise_ > 0)
          sim::add_counting_noise(frame.data(), frame.size(), electrons_per_unit, read_noise_, sim::rng::key(seed_, 0x6e6f697365ULL, f));
        if (psf_A_ > 0) sim::gaussian_blur(frame.data(), spec.ny, spec.nx, psf_A_ / spec.pixel_A);
      }
      par::interruption_point(ctx.comm);
      par::inject_fault(ctx.comm, "block-write");
      image.write<float>({mine ? f : 0, 0, 0}, {mine ? 1 : 0, spec.ny, spec.nx}, frame.data());
      if (mine) progress.advance(1);
    }
    progress.finish();

    io::h5::Group gt = root.create_group("ground_truth");
    gt.set_attr("image_origin_x_A", spec.x0);
    gt.set_attr("image_origin_y_A", spec.y0);
    gt.set_attr("pixel_A", spec.pixel_A);
    if (!style_applied_.empty()) root.set_attr("style", style_applied_);
    gt.set_attr("pixel_rule", "image pixel (i, j) is the probe at x = image_origin_x_A + j * pixel_A, y = image_origin_y_A + i * pixel_A (before distortion)");
    std::vector<std::int32_t> Z;
    std::vector<double> sigma;
    for (int z : elements(structure)) {
      Z.push_back(z);
      sigma.push_back(simulator.cross_section(z));
    }
    gt.write_vector("cross_section_Z", Z);
    gt.write_vector("cross_section_A2", sigma).set_attr("units", "A^2");
    sim::write_structure(gt, structure);
  }

 private:
  static std::vector<int> elements(const sim::Structure& s) {
    std::vector<int> z;
    for (const auto& a : s.atoms)
      if (std::find(z.begin(), z.end(), a.Z) == z.end()) z.push_back(a.Z);
    std::sort(z.begin(), z.end());
    return z;
  }
  sim::AdfSpec spec_;
  sim::ScanDistortion distortion_;
  sim::AlloySpec alloy_;
  sim::DefectSpec defects_;
  ChemistryOptions chemistry_;
  std::string crystal_, material_, stacking_, slip_a_, slip_b_, twist_, size_, style_, style_applied_;
  std::vector<double> slip_a_v_, slip_b_v_, twist_v_;
  double phi_ = 30, contamination_ = 0, dose_ = 0, read_noise_ = 0, background_ = 0, psf_A_ = 0;
  int layers_ = 1, domains_ = 6, frames_ = 1;
  std::uint64_t seed_ = 1;
};

}  // namespace

std::unique_ptr<Stage> make_simulate_adf_stage() { return std::make_unique<SimulateAdf>(); }

}  // namespace tmdflow::stages

// Stage simulate-4dstem: a multislice 4D-STEM datacube of a monolayer polycrystal (twist and
// inversion domains) with its ground truth (domain label, orientation, twist, polarity per scan
// position; the atoms and domains). Rows are sharded over ranks; the result is bit-identical for
// any number of ranks (every random draw is keyed by seed and position).
#include "sim_options.hpp"
#include "stage.hpp"
#include "stage_list.hpp"
#include "tmdflow/par/failure.hpp"
#include "tmdflow/core/units.hpp"
#include <cmath>
#include <filesystem>

#include "tmdflow/io/datacube.hpp"
#include "tmdflow/io/plot_panels.hpp"
#include "tmdflow/core/log.hpp"
#include "tmdflow/core/strings.hpp"
#include "tmdflow/par/partition.hpp"
#include "tmdflow/par/progress.hpp"
#include "tmdflow/sim/scan_simulation.hpp"
#include "tmdflow/sim/structure_io.hpp"

namespace tmdflow::stages {
namespace {

class Simulate4dstem : public Stage {
 public:
  std::string name() const override { return "simulate-4dstem"; }
  std::string summary() const override { return "multislice 4D-STEM of a monolayer polycrystal, with ground-truth domain maps"; }
  std::string description() const override {
    return "Builds a monolayer polycrystal (Voronoi domains, each with its own orientation phi in [0, 120): twist = phi mod 60,\n"
           "polarity = +1 when phi mod 120 < 60) spanning the scan, and simulates a nanobeam (small convergence: spots) or\n"
           "convergent-beam (overlapping discs) 4D-STEM datacube by multislice, with optional frozen phonons, descan shift,\n"
           "detector point-spread, counting noise and scan distortion. Writes the datacube (datacube/1 layout, float32\n"
           "fractions of the beam, or detected electrons with --electrons) and ground_truth/ (label, orientation_deg,\n"
           "twist_deg, polarity on the scan grid; structure/ atoms, columns, domains). Conventions: data_schema/structures.md.";
  }
  std::string product_schema() const override { return "simulated_datacube/1"; }
  std::string default_group() const override { return "/datacube_root"; }
  bool takes_input() const override { return false; }

  void declare(Options& o) override {
    o.add<std::string>("material", &spec_.crystal.material, "MoS2", "monolayer compound (MoS2, WS2, MoSe2, WSe2)")
        .add<int>("domains", &spec_.crystal.domains, 8, "number of Voronoi domains")
        .add<std::string>("phi-deg", &phi_, "", "orientation of each domain, comma-separated [degrees, 0..120) (default: random)")
        .add<std::string>("scan", &scan_, "32,32", "scan shape Rx,Ry [positions]")
        .add<double>("step-nm", &step_nm_, 1.0, "scan step [nm]")
        .add<int>("detector-px", &spec_.multislice.detector.size, 128, "detector pixels per side")
        .add<double>("detector-max-mrad", &spec_.multislice.detector.max_mrad, 40.0, "half-width of the detector [mrad]")
        .add<int>("window-px", &spec_.multislice.window_px, 256, "multislice window per probe [pixels per side]")
        .add<double>("slice-thickness-A", &spec_.multislice.slice_thickness_A, 1.0, "slice thickness [Angstrom]")
        .add<int>("frozen-phonons", &spec_.multislice.frozen_phonons, 0, "frozen-phonon configurations (0: static lattice)")
        .add<double>("electrons", &spec_.electrons_per_pattern, 0.0, "dose per pattern [electrons] with Poisson noise (0: noise-free)")
        .add<double>("read-noise", &spec_.read_noise, 0.0, "detector read noise [electrons rms per pixel]")
        .add<double>("psf-px", &spec_.psf_sigma_px, 0.0, "detector point-spread, Gaussian sigma [pixels]")
        .add<std::string>("descan", &descan_, "0,0,0,0", "pattern shift per nm of scan position: dx/dx,dx/dy,dy/dx,dy/dy [px/nm]")
        .add<std::string>("rotation-gradient", &rotation_, "0,0",
                          "lattice rotation per nm of scan position along x (columns) and y (rows), zero at the scan centre; "
                          "each pattern is turned about the optical axis by it [degrees/nm]")
        .add<double>("drift-x-A", &spec_.distortion.drift_x_A, 0.0, "sample drift along x over the scan [Angstrom]")
        .add<double>("drift-y-A", &spec_.distortion.drift_y_A, 0.0, "sample drift along y over the scan [Angstrom]")
        .add<double>("jitter-A", &spec_.distortion.jitter_A, 0.0, "scan-line jitter along x, rms [Angstrom]")
        .add<int>("holes", &spec_.holes.count, 0, "vacuum holes cut out of the film (0 to 1000), whole and apart inside the scanned area (bright in BF, dark in ADF)")
        .add<double>("hole-radius-nm", &hole_radius_nm_, 3.0, "radius of each hole [nm]")
        .add<std::string>("dtype", &dtype_, "float32", "element type of the datacube (float32, or uint16/uint32 with --electrons)")
        .add<std::string>("figures", &figures_, "", "folder for PNGs of the ground truth (orientation, polarity, labels); empty: none")
        .add<std::uint64_t>("seed", &spec_.seed, 1, "random seed (structure, phonons, noise)");
    declare_probe(o, spec_.multislice.probe, 80.0, 1.5);
  }

  void validate(const StageContext&) override {
    const auto s = str::to_int_list(scan_, "scan");
    if (s.size() != 2 || s[0] <= 0 || s[1] <= 0) throw ConfigError("scan: expected two positive integers Rx,Ry, found '" + scan_ + "'");
    spec_.scan_rows = int(s[0]);
    spec_.scan_cols = int(s[1]);
    if (!(step_nm_ > 0)) throw ConfigError("step-nm: expected a positive step, found " + Options::text(step_nm_));
    spec_.step_A = step_nm_ * 10.0;
    if (spec_.crystal.domains < 1) throw ConfigError("domains: expected at least 1, found " + std::to_string(spec_.crystal.domains));
    spec_.crystal.phi_deg.clear();
    if (!phi_.empty()) {
      spec_.crystal.phi_deg = str::to_double_list(phi_, "phi-deg");
      if (int(spec_.crystal.phi_deg.size()) != spec_.crystal.domains)
        throw ConfigError("phi-deg: expected one angle per domain (" + std::to_string(spec_.crystal.domains) + "), found " +
                          std::to_string(spec_.crystal.phi_deg.size()));
      // phi and phi + 120 are the same lattice: one value per orientation, so that the ground truth is unambiguous.
      for (double phi : spec_.crystal.phi_deg)
        if (!(phi >= 0 && phi < 120))
          throw ConfigError("phi-deg: expected angles in [0, 120) degrees (the lattice repeats every 120), found " + Options::text(phi));
    }
    const auto d = str::to_double_list(descan_, "descan");
    if (d.size() != 4) throw ConfigError("descan: expected four numbers dx/dx,dx/dy,dy/dx,dy/dy, found '" + descan_ + "'");
    for (int k = 0; k < 4; ++k) spec_.descan[k] = d[std::size_t(k)];
    const auto g = str::to_double_list(rotation_, "rotation-gradient");
    if (g.size() != 2) throw ConfigError("rotation-gradient: expected two numbers d(phi)/dx,d(phi)/dy [degrees/nm], found '" + rotation_ + "'");
    spec_.rotation_gradient[0] = g[0];
    spec_.rotation_gradient[1] = g[1];
    if (spec_.multislice.window_px < 16) throw ConfigError("window-px: expected at least 16, found " + std::to_string(spec_.multislice.window_px));
    if (!(spec_.multislice.slice_thickness_A > 0)) throw ConfigError("slice-thickness-A: expected a positive thickness, found " + Options::text(spec_.multislice.slice_thickness_A));
    if (spec_.multislice.frozen_phonons < 0) throw ConfigError("frozen-phonons: expected 0 or more, found " + std::to_string(spec_.multislice.frozen_phonons));
    if (!(spec_.distortion.jitter_A >= 0) || !std::isfinite(spec_.distortion.drift_x_A) || !std::isfinite(spec_.distortion.drift_y_A))
      throw ConfigError("jitter-A, drift-x-A, drift-y-A: expected finite values, jitter >= 0");
    if (spec_.multislice.detector.size < 4) throw ConfigError("detector-px: expected at least 4, found " + std::to_string(spec_.multislice.detector.size));
    if (!(spec_.multislice.detector.max_mrad > 0)) throw ConfigError("detector-max-mrad: expected a positive angle");
    if (spec_.electrons_per_pattern < 0 || spec_.read_noise < 0 || spec_.psf_sigma_px < 0)
      throw ConfigError("electrons, read-noise, psf-px: expected values >= 0");
    dtype_value_ = io::dtype_from_name(dtype_, "dtype");
    if (!io::dtype_is_float(dtype_value_) && spec_.electrons_per_pattern <= 0)
      throw ConfigError("dtype: an integer datacube (" + dtype_ + ") needs counts: give --electrons (dose per pattern)");
    spec_.multislice.seed = spec_.seed;
    spec_.crystal.seed = spec_.seed;
    sim::validate(spec_.multislice.probe);
    if (spec_.multislice.probe.source_size_A > 0)
      throw ConfigError("source-size-A: multislice 4D-STEM simulates a coherent probe per position; a source size blurs over scan "
                        "positions and is not modelled (use 0)");
    sim::material(spec_.crystal.material);  // throws for an unknown material
    spec_.holes.radius_A = hole_radius_nm_ * 10.0;
    sim::validate(spec_.holes);
  }

  std::uint64_t planned_bytes(const StageContext&) const override {
    const std::uint64_t det = std::uint64_t(spec_.multislice.detector.size);
    return std::uint64_t(spec_.scan_rows) * std::uint64_t(spec_.scan_cols) * det * det * io::dtype_size(dtype_value_);
  }

  void run(const StageContext& ctx, io::ProductWriter& out) override {
    sim::ScanSimulation simulation(spec_);
    const int det = spec_.multislice.detector.size;
    const double lambda = units::electron_wavelength_A(spec_.multislice.probe.voltage_kV);
    io::DatacubeMeta meta;
    meta.shape = {spec_.scan_rows, spec_.scan_cols, det, det};
    meta.dtype = dtype_value_;
    meta.calibration.R_pixel_size = step_nm_;
    meta.calibration.R_pixel_units = "nm";
    meta.calibration.Q_pixel_size = units::mrad_to_invA(spec_.multislice.detector.pixel_mrad(), lambda);
    meta.calibration.Q_pixel_units = "A^-1";
    meta.acquisition["voltage_kV"] = spec_.multislice.probe.voltage_kV;
    meta.acquisition["convergence_mrad"] = spec_.multislice.probe.convergence_mrad;
    if (spec_.electrons_per_pattern > 0) meta.acquisition["electrons_per_pattern"] = spec_.electrons_per_pattern;
    io::DatacubeWriter writer(out, meta);

    const par::Range rows = par::block_partition(spec_.scan_rows, ctx.comm.size(), ctx.comm.rank());
    const std::int64_t rows_total = ctx.comm.allreduce(rows.size(), par::Op::max);
    const std::size_t npix = std::size_t(det) * det;
    std::vector<float> buffer(std::size_t(spec_.scan_cols) * npix);
    par::Progress progress(ctx.comm, "simulate-4dstem", std::uint64_t(spec_.scan_rows) * spec_.scan_cols, "patterns");
    for (std::int64_t k = 0; k < rows_total; ++k) {
      const std::int64_t r = rows.begin + k;
      const bool mine = r < rows.end;
      if (mine) simulation.row(int(r), buffer.data());
      par::interruption_point(ctx.comm);
      par::inject_fault(ctx.comm, "block-write");
      writer.write_rows(mine ? r : 0, mine ? 1 : 0, buffer.data());
      if (mine) progress.advance(std::uint64_t(spec_.scan_cols));
    }
    progress.finish();

    // Ground truth (every rank holds the same deterministic structure).
    const io::h5::Group gt = out.group().create_group("ground_truth");
    gt.set_attr("description", "domain maps at the nominal probe positions; orientation phi as in data_schema/structures.md");
    gt.set_attr("scan_origin_A", simulation.origin_A());
    gt.set_attr("scan_step_A", spec_.step_A);
    const auto truth = simulation.ground_truth();
    const io::h5::Shape shape{spec_.scan_rows, spec_.scan_cols};
    gt.write_array("label", truth.domain, shape);
    gt.write_array("orientation_deg", truth.orientation_deg, shape).set_attr("units", "degree");
    gt.write_array("twist_deg", truth.twist_deg, shape).set_attr("units", "degree");
    gt.write_array("polarity", truth.polarity, shape);
    gt.write_array("vacuum", truth.vacuum, shape).set_attr("description", "1 where the probe is in a hole (no specimen), else 0");
    if (!simulation.holes().empty()) {
      io::h5::Group holes = gt.create_group("holes");
      std::vector<double> hx, hy, hr;
      for (const auto& h : simulation.holes()) hx.push_back(h.x_A), hy.push_back(h.y_A), hr.push_back(h.radius_A);
      holes.write_vector("x", hx).set_attr("units", "A");
      holes.write_vector("y", hy).set_attr("units", "A");
      holes.write_vector("radius", hr).set_attr("units", "A");
    }
    sim::write_structure(gt, simulation.structure());
    gt.set_attr("slices", std::int64_t(simulation.slices()));
    if (!figures_.empty()) {
      std::string err;
      if (ctx.comm.is_root()) {
        try {
          write_figures(simulation, truth);
        } catch (const std::exception& e) {
          err = e.what();
        }
      }
      err = ctx.comm.bcast_string(err, 0);
      if (!err.empty()) throw IoError(err);
    }
  }

  void write_figures(const sim::ScanSimulation& simulation, const sim::ScanGroundTruth& truth) const {
    namespace fs = std::filesystem;
    fs::create_directories(figures_);
    const std::int64_t h = spec_.scan_rows, w = spec_.scan_cols;
    const io::plot::Axes scan = io::plot::scan_axes(step_nm_, "nm");
    const std::string holes = simulation.holes().empty() ? "" : "; black: holes (vacuum)";
    auto write = [&](const std::string& name, io::plot::Panel panel, const std::string& caption) {
      const std::string path = (fs::path(figures_) / name).string();
      io::plot::write_figure(path, std::move(panel), caption);
      log::info("simulate-4dstem: figure ", name, ": ", caption);
    };
    write("ground_truth_orientation.png",
          io::plot::angle_panel("Lattice orientation φ (ground truth)", truth.orientation_deg, h, w, scan, 120.0, "orientation φ\nperiod 120°"),
          "simulated lattice orientation phi (angle of the metal->chalcogen vector, period 120°) at each probe position" + holes);
    write("ground_truth_polarity.png", io::plot::polarity_panel("Polarity (ground truth)", truth.polarity, h, w, scan, "vacuum (hole)"),
          "simulated polarity (+1: phi mod 120 < 60, -1 otherwise) at each probe position" + holes);
    std::vector<std::pair<std::int32_t, std::string>> entries;
    for (const auto& d : simulation.structure().domains)
      entries.emplace_back(d.id, std::to_string(d.id) + ": φ " + str::number(std::round(d.phi_deg * 10) / 10) + "°, " + (d.polarity() > 0 ? "+1" : "−1"));
    io::plot::Panel labels = io::plot::label_panel("Domains (ground truth)", truth.domain, h, w, scan, entries, "vacuum (hole)");
    labels.legend->title = "domain: orientation, polarity";
    write("ground_truth_label.png", labels,
          "simulated domains (Voronoi cells, one colour each) with their orientation and polarity; domains_label.png uses the same colours" + holes);
  }

 private:
  sim::ScanSimulationSpec spec_;
  std::string scan_, phi_, descan_, rotation_ = "0,0", dtype_, figures_;
  double step_nm_ = 1.0, hole_radius_nm_ = 3.0;
  io::Dtype dtype_value_ = io::Dtype::f32;
};

}  // namespace

std::unique_ptr<Stage> make_simulate_4dstem_stage() { return std::make_unique<Simulate4dstem>(); }

}  // namespace tmdflow::stages

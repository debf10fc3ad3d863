// Stage synthesize-datacube: a deterministic synthetic nanobeam datacube with domains (demo and
// tests; the simulation engine's simulate-4dstem makes physical ones).
#include <cmath>

#include "stage.hpp"
#include "stage_list.hpp"
#include "tmdflow/io/datacube.hpp"
#include "tmdflow/par/failure.hpp"
#include "tmdflow/par/progress.hpp"
#include "tmdflow/sim/synthetic.hpp"

namespace tmdflow::stages {
namespace {

class SynthesizeDatacube : public Stage {
 public:
  std::string name() const override { return "synthesize-datacube"; }
  std::string summary() const override { return "deterministic synthetic 4D-STEM datacube with spot-pattern domains"; }
  std::string description() const override {
    return "Writes a synthetic nanobeam datacube: the scan is divided into Voronoi domains, each with a hexagonal\n"
           "spot pattern of its own orientation. Deterministic for a given seed, whatever the number of ranks.\n"
           "For demos and tests; simulate-4dstem makes physical patterns.";
  }
  std::string product_schema() const override { return "datacube/1"; }
  std::string default_group() const override { return "/datacube_root"; }
  bool takes_input() const override { return false; }

  void declare(Options& o) override {
    o.add<std::string>("scan", &scan_, "32,32", "scan shape Rx,Ry [positions]")
        .add<std::string>("detector", &detector_, "64,64", "pattern shape Qx,Qy [pixels]")
        .add<int>("domains", &spec_.domains, 4, "number of domains")
        .add<double>("spot-radius-px", &spec_.spot_radius_px, 16.0, "radius of the first-order spot ring [pixels]")
        .add<double>("spot-sigma-px", &spec_.disc_sigma_px, 1.5, "Gaussian width of the spots [pixels]")
        .add<double>("counts", &spec_.counts_per_pattern, 0.0, "mean electrons per pattern with Poisson noise (0: noiseless)")
        .add<std::uint64_t>("seed", &spec_.seed, 1, "random seed")
        .add<std::string>("dtype", &dtype_, "float32", "element type of the datacube (float32, uint16, ...)")
        .add<double>("r-pixel-nm", &r_pixel_nm_, 0.2, "scan step [nm]")
        .add<double>("q-pixel-invA", &q_pixel_invA_, 0.02, "detector pixel size [1/Angstrom]")
        .add<double>("voltage-kV", &voltage_kV_, 80.0, "accelerating voltage recorded with the data [kV]");
  }

  void validate(const StageContext&) override {
    auto s = str::to_int_list(scan_, "scan");
    auto d = str::to_int_list(detector_, "detector");
    if (s.size() != 2 || s[0] <= 0 || s[1] <= 0) throw ConfigError("scan: expected two positive integers Rx,Ry, found '" + scan_ + "'");
    if (d.size() != 2 || d[0] <= 0 || d[1] <= 0) throw ConfigError("detector: expected two positive integers Qx,Qy, found '" + detector_ + "'");
    if (spec_.domains < 1) throw ConfigError("domains: expected at least 1, found " + std::to_string(spec_.domains));
    require_positive("r-pixel-nm", r_pixel_nm_);
    require_positive("q-pixel-invA", q_pixel_invA_);
    require_positive("voltage-kV", voltage_kV_);
    require_positive("spot-radius-px", spec_.spot_radius_px);
    require_positive("spot-sigma-px", spec_.disc_sigma_px);
    if (!(spec_.counts_per_pattern >= 0) || !std::isfinite(spec_.counts_per_pattern))
      throw ConfigError("counts: expected electrons per pattern >= 0 (0: noiseless), found " + Options::text(spec_.counts_per_pattern));
    spec_.scan_rows = s[0];
    spec_.scan_cols = s[1];
    spec_.det_rows = d[0];
    spec_.det_cols = d[1];
    dtype_value_ = io::dtype_from_name(dtype_, "dtype");
  }

  std::uint64_t planned_bytes(const StageContext&) const override {
    return std::uint64_t(spec_.scan_rows) * std::uint64_t(spec_.scan_cols) * std::uint64_t(spec_.det_rows) *
           std::uint64_t(spec_.det_cols) * io::dtype_size(dtype_value_);
  }

  void run(const StageContext& ctx, io::ProductWriter& out) override {
    io::DatacubeMeta meta;
    meta.shape = {spec_.scan_rows, spec_.scan_cols, spec_.det_rows, spec_.det_cols};
    meta.dtype = dtype_value_;
    meta.calibration.R_pixel_size = r_pixel_nm_;
    meta.calibration.R_pixel_units = "nm";
    meta.calibration.Q_pixel_size = q_pixel_invA_;
    meta.calibration.Q_pixel_units = "A^-1";
    meta.acquisition["voltage_kV"] = voltage_kV_;
    io::DatacubeWriter writer(out, meta);
    const auto domains = sim::synthetic_domains(spec_);
    const par::Range rows = par::block_partition(spec_.scan_rows, ctx.comm.size(), ctx.comm.rank());
    const std::int64_t rows_total = ctx.comm.allreduce(rows.size(), par::Op::max);
    const std::int64_t npix = spec_.det_rows * spec_.det_cols;
    std::vector<float> row(std::size_t(spec_.scan_cols * npix));
    par::Progress progress(ctx.comm, "synthesize", std::uint64_t(spec_.scan_rows * spec_.scan_cols), "patterns");
    for (std::int64_t k = 0; k < rows_total; ++k) {
      const std::int64_t r = rows.begin + k;
      const bool mine = r < rows.end;
      if (mine)
        for (std::int64_t c = 0; c < spec_.scan_cols; ++c) sim::synthetic_pattern(spec_, domains, r, c, row.data() + c * npix);
      // float -> file type conversion by HDF5 (values are counts: exact in uint16 when < 65536).
      par::interruption_point(ctx.comm);
      par::inject_fault(ctx.comm, "block-write");
      writer.write_rows(mine ? r : 0, mine ? 1 : 0, row.data());
      if (mine) progress.advance(std::uint64_t(spec_.scan_cols));
    }
    progress.finish();
  }

 private:
  sim::SyntheticDatacubeSpec spec_;
  std::string scan_, detector_, dtype_;
  io::Dtype dtype_value_ = io::Dtype::f32;
  double r_pixel_nm_ = 0.2, q_pixel_invA_ = 0.02, voltage_kV_ = 80.0;
};

}  // namespace

std::unique_ptr<Stage> make_synthesize_datacube_stage() { return std::make_unique<SynthesizeDatacube>(); }

}  // namespace tmdflow::stages

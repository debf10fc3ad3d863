// Stage diffraction-features: one pass over a datacube of nanobeam patterns of a hexagonal
// monolayer: central-beam centres with a smooth descan field, background-free polar profiles of
// the {100} and {110} rings (and {200} when it fits), the six first-order spot intensities and the Friedel-triplet
// asymmetry (data_schema/diffraction.md). The input of stage `domains`.
#include <cmath>

#include "stage.hpp"
#include "stage_list.hpp"
#include "tmdflow/analysis/diffraction.hpp"
#include "tmdflow/analysis/virtual_detectors.hpp"
#include "tmdflow/core/log.hpp"
#include "tmdflow/core/strings.hpp"
#include "tmdflow/io/emd.hpp"
#include "tmdflow/par/failure.hpp"

namespace tmdflow::stages {
namespace {

class DiffractionFeaturesStage : public Stage {
 public:
  std::string name() const override { return "diffraction-features"; }
  std::string summary() const override { return "per-pattern ring profiles, spot intensities and Friedel asymmetry of a monolayer (one pass)"; }
  std::string description() const override {
    return "Finds the central disc and the {100} and {110} rings in the mean of a sample of patterns (and the {200}\n"
           "ring at twice the {100} radius when it fits on the detector), measures the central beam of an even sample\n"
           "of patterns and fits a smooth descan field (polynomial in the scan position), then in one pass samples\n"
           "the rings about each pattern's fitted centre on a fine azimuthal grid, removes the background, and\n"
           "derives the twist, the six first-order spot intensities and the Friedel-triplet asymmetry. Angles are in the detector frame (x = Qy, y = Qx); stage `domains` turns\n"
           "them into the scan frame. Product: diffraction_features/1 (data_schema/diffraction.md).";
  }
  std::string product_schema() const override { return "diffraction_features/1"; }
  std::string default_group() const override { return "/diffraction_features"; }

  void declare(Options& o) override {
    o.add<int>("descan-order", &descan_order_, 2, "total degree of the descan polynomial over the scan (0: a fixed centre)")
        .add<std::int64_t>("centre-samples", &centre_samples_, 1024, "patterns measured to fit the descan field")
        .add<int>("azimuth-bins", &bins_, 360, "azimuthal bins of the ring profiles (multiple of 6)")
        .add<std::string>("ring-radius-px", &rings_, "auto", "radii of the {100} and {110} rings 'r1,r2' [pixels] or 'auto'")
        .add<std::int64_t>("block-patterns", &block_patterns_, 0, "patterns per block (0: about 512 KiB when each pattern is a chunk read directly, whole scan rows of about 4 MiB otherwise)");
  }
  void validate(const StageContext&) override {
    if (bins_ < 36 || bins_ % 6 != 0) throw ConfigError("azimuth-bins: expected a multiple of 6 of at least 36, found " + std::to_string(bins_));
    if (descan_order_ < 0 || descan_order_ > 3) throw ConfigError("descan-order: expected 0..3, found " + std::to_string(descan_order_));
    if (centre_samples_ < 1) throw ConfigError("centre-samples: expected at least 1");
    if (block_patterns_ < 0) throw ConfigError("block-patterns: expected 0 (automatic) or more, found " + std::to_string(block_patterns_));
    if (rings_ != "auto") {
      radii_ = str::to_double_list(rings_, "ring-radius-px");
      if (radii_.size() != 2 || !(radii_[0] > 0) || !(radii_[1] > radii_[0]))
        throw ConfigError("ring-radius-px: expected 'r1,r2' with 0 < r1 < r2 or 'auto', found '" + rings_ + "'");
    }
  }

  std::vector<std::string> read_locations(const StageContext& ctx) const override { return {io::DatacubeReader::locate(ctx.input)}; }

  // The ring profiles dominate: one float per ring (at most 3) and azimuthal bin per pattern.
  std::uint64_t planned_bytes(const StageContext& ctx) const override {
    const auto reader = io::DatacubeReader::open(ctx.input, nullptr);
    return std::uint64_t(reader.meta().positions()) * 3u * std::uint64_t(bins_) * sizeof(float);
  }

  void run(const StageContext& ctx, io::ProductWriter& out) override {
    const par::Comm& comm = ctx.comm;
    std::unique_ptr<io::DatacubeReader> reader;
    par::collectively(comm, [&] { reader = std::make_unique<io::DatacubeReader>(io::DatacubeReader::open(ctx.input, &comm)); });
    const io::DatacubeMeta meta = reader->meta();
    const std::int64_t rows = meta.shape[2], cols = meta.shape[3];

    const std::vector<float> mean = analysis::sampled_mean_pattern(comm, *reader, 512);
    analysis::DiffractionGeometry geometry;
    par::collectively(comm, [&] {
      geometry = analysis::find_geometry(mean, rows, cols, reader->where());
      if (!radii_.empty()) {
        geometry.ring_radius[0] = radii_[0];
        geometry.ring_radius[1] = radii_[1];
        geometry.add_second_order_ring(rows, cols);
      }
      geometry.azimuth_bins = bins_;
    });
    std::vector<std::int64_t> index;
    std::vector<double> cx, cy;
    analysis::sampled_centres(comm, *reader, geometry, std::min(centre_samples_, meta.positions()), index, cx, cy);
    analysis::DescanField descan;
    par::collectively(comm, [&] {
      descan = analysis::fit_descan(index, cx, cy, meta.shape[0], meta.shape[1], descan_order_);
    });
    log::info("diffraction-features: disc radius ", geometry.disc_radius, " px, {100} and {110} rings at ", geometry.ring_radius[0], " and ",
              geometry.ring_radius[1], " px, ",
              geometry.rings > 2 ? "{200} ring at " + str::number(geometry.ring_radius[2]) + " px" : std::string("no {200} ring (beyond the detector)"),
              ", descan polynomial of order ", descan.order, " from ", index.size(), " patterns");

    analysis::DiffractionFeatures features(geometry, descan);
    io::PassOptions po;
    po.block_patterns = block_patterns_;
    po.progress_label = "diffraction-features";
    io::run_pattern_pass(comm, *reader, {&features}, po);

    write_product(ctx, out, meta, features, descan, reader->where());
  }

 private:
  void write_product(const StageContext& ctx, io::ProductWriter& out, const io::DatacubeMeta& meta, const analysis::DiffractionFeatures& df,
                     const analysis::DescanField& descan, const std::string& source) const {
    const io::h5::Group& root = out.group();
    root.set_attr("emd_group_type", "root");
    root.set_attr("python_class", "Root");
    const io::Shard shard = io::shard_of(meta, ctx.comm.size(), ctx.comm.rank());
    const auto& c = meta.calibration;
    const io::emd::Dim rx{"Rx", c.R_pixel_units, 0.0, c.R_pixel_size}, ry{"Ry", c.R_pixel_units, 0.0, c.R_pixel_size};
    const auto& f = df.features();
    const int bins = df.geometry().azimuth_bins, rings = df.geometry().rings;
    auto nav = [&](const std::string& name, const auto& view, io::h5::Shape extra, std::vector<io::emd::Dim> extra_dims, const std::string& units) {
      io::h5::Shape shape{meta.shape[0], meta.shape[1]};
      std::vector<io::emd::Dim> dims{rx, ry};
      for (auto e : extra) shape.push_back(e);
      for (auto& d : extra_dims) dims.push_back(d);
      io::h5::Dataset d = io::emd::create_array(root, {name, io::Dtype::f32, shape, dims, "Array", units, {}});
      auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view);
      io::h5::Shape off(shape.size(), 0), cnt = shape;
      off[0] = shard.rows.begin;
      cnt[0] = shard.rows.size();
      d.write(off, cnt, host.data());
    };
    const double step = 360.0 / bins;
    nav("ring_profiles", f.profiles, {rings, bins}, {{"ring", "index", 0, 1}, {"azimuth", "degree", 0.5 * step, step}}, "electrons");
    nav("spot_intensities", f.spots, {6}, {{"spot", "index", 0, 1}}, "electrons");
    nav("background", f.background, {rings}, {{"ring", "index", 0, 1}}, "electrons per azimuth bin");
    nav("twist_deg", f.twist_deg, {}, {}, "degree");
    nav("friedel_asymmetry", f.asymmetry, {}, {}, "fraction");
    nav("ring_signal", f.total, {}, {}, "electrons");
    nav("centre_x", f.centre_x, {}, {}, "pixels");
    nav("centre_y", f.centre_y, {}, {}, "pixels");
    nav("centre_measured_x", f.measured_x, {}, {}, "pixels");
    nav("centre_measured_y", f.measured_y, {}, {}, "pixels");
    // The datacube's calibration, so that py4DSTEM reads the maps calibrated.
    io::emd::write_calibration(root, c, {"/ring_profiles", "/spot_intensities", "/background", "/twist_deg", "/friedel_asymmetry", "/ring_signal",
                                         "/centre_x", "/centre_y", "/centre_measured_x", "/centre_measured_y"});
    const auto& g = df.geometry();
    io::h5::Group geo = root.create_group("geometry");
    geo.write_scalar("disc_radius_px", g.disc_radius);
    geo.write_vector("ring_radius_px", std::vector<double>(g.ring_radius, g.ring_radius + g.rings));
    geo.write_scalar("ring_halfwidth_px", g.ring_halfwidth);
    geo.write_scalar("radial_step_px", g.radial_step);
    geo.write_scalar_int("azimuth_bins", g.azimuth_bins);
    geo.write_scalar("spot_halfwidth_deg", g.spot_halfwidth_deg);
    geo.write_scalar_int("descan_order", descan.order);
    geo.write_vector("descan_coef_x", descan.coef_x);
    geo.write_vector("descan_coef_y", descan.coef_y);
    geo.write_scalar("q_pixel_size", c.Q_pixel_size);
    geo.set_attr("q_pixel_units", c.Q_pixel_units);  // an attribute: readable by the next step before the file closes
    geo.write_scalar("r_pixel_size", c.R_pixel_size);
    geo.set_attr("r_pixel_units", c.R_pixel_units);
    geo.write_scalar_int("detector_rows", meta.shape[2]);
    geo.write_scalar_int("detector_cols", meta.shape[3]);
    for (const auto& [k, v] : meta.acquisition) geo.write_scalar(k, v);
    root.set_attr("source", source);
    root.set_attr("source_input", ctx.input);
  }

  int descan_order_ = 2, bins_ = 360;
  std::int64_t centre_samples_ = 1024, block_patterns_ = 0;
  std::string rings_;
  std::vector<double> radii_;
};

}  // namespace

std::unique_ptr<Stage> make_diffraction_features_stage() { return std::make_unique<DiffractionFeaturesStage>(); }

}  // namespace tmdflow::stages

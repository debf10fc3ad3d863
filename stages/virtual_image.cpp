// Stage virtual-image: virtual detectors of a datacube in one pass (BF, ADF, masks, CoM, sum,
// mean and maximum patterns), with optional PNG figures.
#include <cmath>
#include <filesystem>
#include <map>

#include "stage.hpp"
#include "stage_list.hpp"
#include "tmdflow/analysis/virtual_detectors.hpp"
#include "tmdflow/core/log.hpp"
#include "tmdflow/core/units.hpp"
#include "tmdflow/io/plot_panels.hpp"
#include "tmdflow/par/failure.hpp"

namespace fs = std::filesystem;

namespace tmdflow::stages {
namespace {

class VirtualImage : public Stage {
 public:
  std::string name() const override { return "virtual-image"; }
  std::string summary() const override { return "virtual BF/ADF/mask images, centre of mass, mean and max patterns (one pass)"; }
  std::string description() const override {
    return "Computes every requested virtual detector in a single pass over the datacube, sharded by scan rows.\n"
           "Radii are in detector pixels, or in mrad when the datacube's Q axis is calibrated (1/Angstrom) and the\n"
           "voltage is known (from the file or --voltage-kV). The centre is found from the data (central disc of the\n"
           "mean of a sample of patterns) unless --centre gives it. Image x is the last axis (Qy), y the one before\n"
           "(Qx); the centre of mass is relative to the centre, in Q units.";
  }
  std::string product_schema() const override { return "virtual_images/1"; }
  std::string default_group() const override { return "/virtual_images"; }

  void declare(Options& o) override {
    o.add<std::string>("detectors", &detectors_, "bf,adf,com,max", "detectors: any of bf, adf, com, sum, max (the mean pattern is always made)")
        .add<std::string>("centre", &centre_, "auto", "pattern centre 'x,y' [pixels: column, row] or 'auto'")
        .add<double>("bf-outer-px", &bf_outer_px_, -1, "bright-field radius [pixels] (-1: 1.1 x the central disc radius)")
        .add<double>("bf-outer-mrad", &bf_outer_mrad_, -1, "bright-field radius [mrad] (calibrated data)")
        .add<double>("adf-inner-px", &adf_inner_px_, -1, "ADF inner radius [pixels] (-1: 2 x the central disc radius)")
        .add<double>("adf-outer-px", &adf_outer_px_, -1, "ADF outer radius [pixels] (-1: to the nearest detector edge)")
        .add<double>("adf-inner-mrad", &adf_inner_mrad_, -1, "ADF inner radius [mrad] (calibrated data)")
        .add<double>("adf-outer-mrad", &adf_outer_mrad_, -1, "ADF outer radius [mrad] (calibrated data)")
        .add<double>("voltage-kV", &voltage_kV_, -1, "accelerating voltage [kV] for mrad radii (-1: from the file)")
        .add<std::string>("masks", &masks_, "", "extra detectors: comma-separated FILE.h5:/dataset of (Qx,Qy) or (n,Qx,Qy) weights")
        .add<std::string>("figures", &figures_, "", "directory for PNG figures (empty: none)")
        .add<std::int64_t>("block-patterns", &block_patterns_, 0, "patterns per block (0: about 512 KiB when each pattern is a chunk read directly, whole scan rows of about 4 MiB otherwise)");
  }

  void validate(const StageContext&) override {
    for (const auto& d : str::split(detectors_, ',')) {
      if (d == "bf") bf_ = true;
      else if (d == "adf") adf_ = true;
      else if (d == "com") com_ = true;
      else if (d == "sum") sum_ = true;
      else if (d == "max") max_ = true;
      else throw ConfigError("detectors: expected any of bf, adf, com, sum, max, found '" + d + "'");
    }
    if (bf_outer_px_ >= 0 && bf_outer_mrad_ >= 0) throw ConfigError("give bf-outer-px or bf-outer-mrad, not both");
    if (adf_inner_px_ >= 0 && adf_inner_mrad_ >= 0) throw ConfigError("give adf-inner-px or adf-inner-mrad, not both");
    if (adf_outer_px_ >= 0 && adf_outer_mrad_ >= 0) throw ConfigError("give adf-outer-px or adf-outer-mrad, not both");
    if (centre_ != "auto") {
      auto c = str::to_double_list(centre_, "centre");
      if (c.size() != 2) throw ConfigError("centre: expected 'x,y' in pixels or 'auto', found '" + centre_ + "'");
      centre_x_ = c[0];
      centre_y_ = c[1];
    }
    for (const auto& m : str::split(masks_, ',')) mask_specs_.push_back(m);
    for (const auto& [option, value] : {std::pair<const char*, double>{"bf-outer-px", bf_outer_px_}, {"bf-outer-mrad", bf_outer_mrad_},
                                        {"adf-inner-px", adf_inner_px_}, {"adf-outer-px", adf_outer_px_},
                                        {"adf-inner-mrad", adf_inner_mrad_}, {"adf-outer-mrad", adf_outer_mrad_}})
      if (!(value >= 0 || value == -1) || !std::isfinite(value))
        throw ConfigError(std::string(option) + ": expected a radius >= 0, or -1 (automatic), found " + Options::text(value));
    require_positive("voltage-kV", voltage_kV_, "from the file");
    if (block_patterns_ < 0) throw ConfigError("block-patterns: expected 0 (automatic) or more, found " + std::to_string(block_patterns_));
  }

  std::vector<std::string> read_locations(const StageContext& ctx) const override {
    std::vector<std::string> out = {io::DatacubeReader::locate(ctx.input)};
    out.insert(out.end(), mask_specs_.begin(), mask_specs_.end());
    return out;
  }

  std::vector<std::string> extra_inputs() const override { return mask_specs_; }

  void run(const StageContext& ctx, io::ProductWriter& out) override {
    const par::Comm& comm = ctx.comm;
    std::unique_ptr<io::DatacubeReader> reader;
    analysis::VirtualDetectorConfig cfg;
    double disc_radius = 0;
    io::DatacubeMeta meta;
    par::collectively(comm, [&] { reader = std::make_unique<io::DatacubeReader>(io::DatacubeReader::open(ctx.input, &comm)); });
    meta = reader->meta();
    const std::int64_t rows = meta.shape[2], cols = meta.shape[3];

    // Centre and disc radius from a sample of patterns (collective, small).
    std::vector<float> sample = analysis::sampled_mean_pattern(comm, *reader, 512);
    const analysis::DiscFit disc = analysis::find_central_disc(sample, rows, cols);
    disc_radius = disc.radius;

    par::collectively(comm, [&] {
      // A centre off the detector gives all-zero images: refuse it before the pass.
      if (centre_ != "auto" && !(centre_x_ >= 0 && centre_x_ <= double(cols - 1) && centre_y_ >= 0 && centre_y_ <= double(rows - 1)))
        throw ConfigError("centre: expected a position on the " + std::to_string(cols) + " x " + std::to_string(rows) +
                          " pixel detector of " + reader->where() + " (x in 0.." + std::to_string(cols - 1) + ", y in 0.." +
                          std::to_string(rows - 1) + "), found " + centre_);
      cfg.centre_x = centre_ == "auto" ? disc.centre_x : centre_x_;
      cfg.centre_y = centre_ == "auto" ? disc.centre_y : centre_y_;
      cfg.q_pixel_size = meta.calibration.Q_pixel_size;
      const double mrad_per_px = mrad_per_pixel(meta);
      mrad_per_px_ = mrad_per_px;
      auto px = [&](double v_px, double v_mrad, double fallback, const char* what) {
        if (v_mrad >= 0) {
          if (mrad_per_px <= 0)
            throw ConfigError(std::string(what) + " in mrad needs a datacube calibrated in A^-1 and a voltage: " + reader->where() +
                              " has Q units '" + meta.calibration.Q_pixel_units + "'" +
                              (voltage() <= 0 ? " and no voltage (give --voltage-kV)" : ""));
          return v_mrad / mrad_per_px;
        }
        return v_px >= 0 ? v_px : fallback;
      };
      const double edge = std::min({cfg.centre_x, cfg.centre_y, double(cols - 1) - cfg.centre_x, double(rows - 1) - cfg.centre_y});
      if (bf_) {
        const double r = px(bf_outer_px_, bf_outer_mrad_, std::max(1.0, 1.1 * disc_radius), "bf-outer");
        cfg.binary.emplace_back("bf", analysis::annulus_mask(rows, cols, cfg.centre_x, cfg.centre_y, 0.0, r));
        bf_radius_px_ = r;
      }
      if (adf_) {
        const double ri = px(adf_inner_px_, adf_inner_mrad_, std::max(1.0, 2.0 * disc_radius), "adf-inner");
        const double ro = px(adf_outer_px_, adf_outer_mrad_, std::max(ri + 1.0, edge), "adf-outer");
        if (!(ro > ri)) throw ConfigError("ADF: expected outer radius > inner radius, found " + std::to_string(ri) + " and " + std::to_string(ro) + " pixels");
        cfg.binary.emplace_back("adf", analysis::annulus_mask(rows, cols, cfg.centre_x, cfg.centre_y, ri, ro));
        adf_inner_used_ = ri;
        adf_outer_used_ = ro;
      }
      for (const auto& spec : mask_specs_) load_masks(spec, rows, cols, cfg.weighted);
      cfg.com = com_;
      cfg.sum = sum_;
      cfg.max_pattern = max_;
    });

    analysis::VirtualDetectors vd(cfg);
    io::PassOptions po;
    po.block_patterns = block_patterns_;
    po.progress_label = "virtual-image";
    io::run_pattern_pass(comm, *reader, {&vd}, po);

    // Products: EMD arrays under the product root.
    const io::h5::Group& root = out.group();
    root.set_attr("emd_group_type", "root");
    root.set_attr("python_class", "Root");
    const auto& c = meta.calibration;
    const io::Shard shard = io::shard_of(meta, comm.size(), comm.rank());
    std::vector<io::emd::Dim> rdims = {{"Rx", c.R_pixel_units, 0.0, c.R_pixel_size}, {"Ry", c.R_pixel_units, 0.0, c.R_pixel_size}};
    std::vector<io::emd::Dim> qdims = {{"Qx", c.Q_pixel_units, 0.0, c.Q_pixel_size}, {"Qy", c.Q_pixel_units, 0.0, c.Q_pixel_size}};
    for (const auto& [name, map] : vd.images()) {
      io::emd::ArraySpec spec{name, io::Dtype::f32, {meta.shape[0], meta.shape[1]}, rdims, "VirtualImage",
                              (name == "com_x" || name == "com_y") ? c.Q_pixel_units : "counts", {}};
      io::h5::Dataset d = io::emd::create_array(root, spec);
      auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), map.values());
      d.write(io::h5::Shape{shard.rows.begin, 0}, io::h5::Shape{shard.rows.size(), meta.shape[1]}, host.data());
    }
    io::emd::write_array(root, {"mean_pattern", io::Dtype::f32, {rows, cols}, qdims, "VirtualDiffraction", "counts", {}}, vd.mean_pattern());
    if (max_) io::emd::write_array(root, {"max_pattern", io::Dtype::f32, {rows, cols}, qdims, "VirtualDiffraction", "counts", {}}, vd.max_pattern());
    // The datacube's calibration, so that py4DSTEM reads every map and pattern calibrated.
    std::vector<std::string> targets = {"/mean_pattern"};
    for (const auto& [name, map] : vd.images()) targets.push_back("/" + name);
    if (max_) targets.push_back("/max_pattern");
    io::emd::write_calibration(root, c, targets);
    io::h5::Group det = root.create_group("detectors");
    det.write_scalar("centre_qx", cfg.centre_y).set_attr("units", "pixels (row, Qx axis)");
    det.write_scalar("centre_qy", cfg.centre_x).set_attr("units", "pixels (column, Qy axis)");
    det.write_scalar("central_disc_radius_px", disc_radius);
    if (bf_) det.write_scalar("bf_outer_px", bf_radius_px_);
    if (adf_) {
      det.write_scalar("adf_inner_px", adf_inner_used_);
      det.write_scalar("adf_outer_px", adf_outer_used_);
    }
    det.set_attr("source", reader->where());
    log::info("virtual-image: centre (x, y) = (", cfg.centre_x, ", ", cfg.centre_y, ") px, central disc radius ", disc_radius, " px");

    if (!figures_.empty()) write_figures(ctx, vd, meta, shard, cfg);
  }

 private:
  double voltage() const { return voltage_kV_ > 0 ? voltage_kV_ : voltage_from_file_; }
  double mrad_per_pixel(const io::DatacubeMeta& meta) {
    auto it = meta.acquisition.find("voltage_kV");
    if (it != meta.acquisition.end()) voltage_from_file_ = it->second;
    if (!meta.q_calibrated() || voltage() <= 0) return -1;
    return units::invA_to_mrad(meta.calibration.Q_pixel_size, units::electron_wavelength_A(voltage()));
  }

  static void load_masks(const std::string& spec, std::int64_t rows, std::int64_t cols,
                         std::vector<std::pair<std::string, std::vector<float>>>& out) {
    io::Target t = io::parse_target(spec, "/");
    if (spec.find(":/") == std::string::npos) throw ConfigError("masks: expected FILE.h5:/dataset, found '" + spec + "'");
    auto f = io::FileRegistry::open(t.file, io::h5::Mode::read, nullptr);
    io::h5::Dataset d = f->root().open_dataset(t.group);
    io::h5::Shape s = d.shape();
    const std::string leaf = t.group.substr(t.group.rfind('/') + 1);
    auto w = d.read_all<float>();
    if (s.size() == 2 && s[0] == rows && s[1] == cols) {
      out.emplace_back("mask_" + leaf, w);
    } else if (s.size() == 3 && s[1] == rows && s[2] == cols) {
      for (std::int64_t k = 0; k < s[0]; ++k)
        out.emplace_back("mask_" + leaf + "_" + std::to_string(k),
                         std::vector<float>(w.begin() + k * rows * cols, w.begin() + (k + 1) * rows * cols));
    } else {
      throw InputError::at(t.file, t.group, "mask shape", "(" + std::to_string(rows) + ", " + std::to_string(cols) + ") or (n, " +
                                                               std::to_string(rows) + ", " + std::to_string(cols) + ")",
                           str::shape_string(s));
    }
  }

  /// "3.1-40 mrad" (or pixels on an uncalibrated detector) for figure titles.
  std::string radii_text(double inner_px, double outer_px) const {
    const bool mrad = mrad_per_px_ > 0;
    const double f = mrad ? mrad_per_px_ : 1.0;
    return (inner_px > 0 ? str::number(std::round(inner_px * f * 10) / 10) + "–" : std::string("0–")) +
           str::number(std::round(outer_px * f * 10) / 10) + (mrad ? " mrad" : " px");
  }

  void write_figures(const StageContext& ctx, const analysis::VirtualDetectors& vd, const io::DatacubeMeta& meta, const io::Shard& shard,
                     const analysis::VirtualDetectorConfig& cfg) {
    // Gather the maps on rank 0 (small: one float per scan position).
    const std::int64_t rx = meta.shape[0], ry = meta.shape[1];
    std::map<std::string, std::vector<float>> full;
    for (const auto& [name, map] : vd.images()) {
      std::vector<float> whole(std::size_t(rx * ry), 0.0f);
      auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), map.values());
      std::copy(host.data(), host.data() + host.size(), whole.begin() + shard.first_pattern());
      ctx.comm.allreduce_inplace(whole.data(), whole.size(), par::Op::sum);
      full[name] = std::move(whole);
    }
    std::string err;
    if (ctx.comm.is_root()) {
      try {
        fs::create_directories(figures_);
        const std::string stem = (fs::path(figures_) / fs::path(ctx.output.file).stem()).string();
        const auto& c = meta.calibration;
        const io::plot::Axes scan = io::plot::scan_axes(c.R_pixel_size, c.R_pixel_units);
        auto figure = [&](const std::string& suffix, io::plot::Panel panel, const std::string& caption) {
          const std::string path = stem + "_" + suffix + ".png";
          io::plot::write_figure(path, std::move(panel), caption);
          log::info("virtual-image: figure ", fs::path(path).filename().string(), ": ", caption);
        };
        if (full.count("bf"))
          figure("bf", io::plot::intensity_panel("Virtual bright field (" + radii_text(0, bf_radius_px_) + ")", full["bf"], rx, ry, scan,
                                                 "BF signal (counts)", io::robust_scale(full["bf"])),
                 "virtual bright-field image: counts inside the central disc (" + radii_text(0, bf_radius_px_) +
                     ") at each scan position; holes (vacuum) are bright, specimen and contamination darker");
        if (full.count("adf"))
          figure("adf", io::plot::intensity_panel("Virtual annular dark field (" + radii_text(adf_inner_used_, adf_outer_used_) + ")", full["adf"], rx,
                                                  ry, scan, "ADF signal (counts)", io::robust_scale(full["adf"])),
                 "virtual ADF image: counts scattered into the annulus " + radii_text(adf_inner_used_, adf_outer_used_) +
                     " at each scan position; vacuum is dark, specimen bright (heavier or thicker is brighter)");
        if (full.count("sum"))
          figure("sum", io::plot::intensity_panel("Total counts per pattern", full["sum"], rx, ry, scan, "counts", io::robust_scale(full["sum"])),
                 "sum of each diffraction pattern: the beam current and detector response over the scan (flat when both are stable)");
        for (const auto& [name, values] : full)
          if (str::starts_with(name, "mask_"))
            figure(name, io::plot::intensity_panel("Virtual image, detector " + name.substr(5), values, rx, ry, scan, "signal (weighted counts)",
                                                   io::robust_scale(values)),
                   "virtual image of the weighted detector " + name.substr(5) + " (--masks): the pattern weighted by the mask and summed at each scan position");
        if (full.count("com_x"))
          figure("com", io::plot::vector_panel("Centre of mass of each pattern", full["com_x"], full["com_y"], rx, ry, scan, "CoM", c.Q_pixel_units),
                 "centre-of-mass shift of each pattern from the pattern centre (detector frame): hue = direction, brightness = size; "
                 "fields in the specimen and descan deflect the beam");
        const io::plot::Axes det = io::plot::detector_axes(cfg.centre_x, cfg.centre_y, c.Q_pixel_size, c.Q_pixel_units);
        const std::vector<float> mean = vd.mean_pattern();
        figure("mean_pattern",
               io::plot::intensity_panel("Mean diffraction pattern (log scale)", mean, meta.shape[2], meta.shape[3], det, "mean counts per pixel",
                                         io::log_scale(mean)),
               "mean of all diffraction patterns on a log10 scale (weak outer spots and the central beam both visible); Q axes from the pattern centre");
        if (max_) {
          const std::vector<float> mx = vd.max_pattern();
          figure("max_pattern",
                 io::plot::intensity_panel("Maximum diffraction pattern (log scale)", mx, meta.shape[2], meta.shape[3], det, "maximum counts per pixel",
                                           io::log_scale(mx)),
                 "pixel-wise maximum over all diffraction patterns on a log10 scale: every spot any pattern has (all domains' orientations)");
        }
      } catch (const std::exception& e) {
        err = e.what();
      }
    }
    err = ctx.comm.bcast_string(err, 0);
    if (!err.empty()) throw IoError(err);
  }

  std::string detectors_, centre_, masks_, figures_;
  double bf_outer_px_ = -1, bf_outer_mrad_ = -1, adf_inner_px_ = -1, adf_outer_px_ = -1, adf_inner_mrad_ = -1, adf_outer_mrad_ = -1;
  double voltage_kV_ = -1, voltage_from_file_ = -1;
  double centre_x_ = 0, centre_y_ = 0;
  double bf_radius_px_ = 0, adf_inner_used_ = 0, adf_outer_used_ = 0, mrad_per_px_ = -1;
  std::int64_t block_patterns_ = 0;
  bool bf_ = false, adf_ = false, com_ = false, sum_ = false, max_ = false;
  std::vector<std::string> mask_specs_;
};

}  // namespace

std::unique_ptr<Stage> make_virtual_image_stage() { return std::make_unique<VirtualImage>(); }

}  // namespace tmdflow::stages

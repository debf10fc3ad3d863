// Stage domains: twist domains, lattice orientation and polarity of a monolayer from the product
// of diffraction-features (NMF -> clustering -> rotation-aware merging -> Potts refinement;
// src/tmdflow/analysis/domains.hpp), the polarity sign calibrated by a multislice simulation at
// the dataset's voltage and convergence. Product domains/1 (data_schema/domains.md).
#include <cmath>
#include <filesystem>
#include <limits>

#include "stage.hpp"
#include "stage_list.hpp"
#include "tmdflow/analysis/diffraction.hpp"
#include "tmdflow/analysis/domains.hpp"
#include "tmdflow/analysis/label_matching.hpp"
#include "tmdflow/analysis/label_means.hpp"
#include "tmdflow/core/log.hpp"
#include "tmdflow/core/strings.hpp"
#include "tmdflow/core/units.hpp"
#include "tmdflow/io/emd.hpp"
#include "tmdflow/io/plot_panels.hpp"
#include "tmdflow/par/failure.hpp"
#include "tmdflow/sim/scan_simulation.hpp"
#include "tmdflow/sim/structure.hpp"

namespace fs = std::filesystem;

namespace tmdflow::stages {
namespace {

class DomainsStage : public Stage {
 public:
  std::string name() const override { return "domains"; }
  std::string summary() const override { return "twist domains, orientation and polarity maps from diffraction features (NMF + clustering)"; }
  std::string description() const override {
    return "Input: a diffraction_features/1 product (stage diffraction-features). Folds each ring profile six-fold,\n"
           "factorises all patterns by NMF, clusters the loadings (k-means or Gaussian mixture), merges clusters whose\n"
           "signatures match after rotation (azimuthal cross-correlation), relabels with a Potts prior on the scan grid,\n"
           "finds each domain's polarity from the Friedel-triplet asymmetry (sign calibrated by a multislice\n"
           "simulation of a monolayer at the dataset's voltage and convergence) and refines the orientation per pattern.\n"
           "Orientation phi (degrees, [0, 120)) is the angle of the metal->nearest-chalcogen vector in the scan frame\n"
           "(x = last scan axis); detector-to-scan: phi_scan = qr-rotation-deg + (qr-flip ? 90 - phi_det : phi_det).\n"
           "Product: domains/1 (data_schema/domains.md).";
  }
  std::string product_schema() const override { return "domains/1"; }
  std::string default_group() const override { return "/domains"; }

  void declare(Options& o) override {
    o.add<double>("voltage-kV", &voltage_kV_, -1, "accelerating voltage [kV] (-1: from the datacube)")
        .add<double>("convergence-mrad", &convergence_mrad_, -1, "probe convergence semi-angle [mrad] (-1: from the datacube)")
        .add<double>("q-pixel-invA", &q_pixel_, -1, "detector pixel [1/Angstrom] (-1: from the datacube's calibration)")
        .add<double>("qr-rotation-deg", &frame_.rotation_deg, 0.0, "rotation of the detector frame in the scan frame [degrees]")
        .add<bool>("qr-flip", &frame_.flip, false, "detector axes transposed relative to the scan axes")
        .add<std::string>("material", &material_, "MoS2", "monolayer simulated for the polarity calibration (MoS2, WS2, MoSe2, WSe2)")
        .add<int>("components", &spec_.components, 0, "NMF components (0: Marchenko-Pastur rank of PCA + 1)")
        .add<std::string>("solver", &solver_, "hals", "NMF solver: hals or mu (multiplicative updates)")
        .add<int>("nmf-iterations", &spec_.nmf_iterations, 80, "maximum NMF iterations")
        .add<std::string>("clustering", &spec_.clustering, "kmeans", "clustering of the NMF loadings: kmeans or gmm")
        .add<int>("clusters", &spec_.clusters, 0, "clusters before merging (0: twice the components, at most 32)")
        .add<double>("merge-deg", &spec_.merge_deg, 1.0, "clusters whose signatures match within this rotation are one twist [degrees]")
        .add<std::int64_t>("min-interior-patterns", &spec_.min_interior_patterns, 4,
                           "a twist class needs this many patterns whose 8 neighbours are all in it (else: a boundary mixture, dropped)")
        .add<double>("twist-beta", &spec_.twist_beta, 1.0, "Potts weight per agreeing neighbour of the twist relabelling [nats]")
        .add<double>("polarity-beta", &spec_.polarity_beta, 1.1, "Potts cost per disagreeing neighbour pair of the polarity cut [sd of one pattern's Friedel evidence]")
        .add<double>("smoothing-px", &spec_.smoothing_px, 1.0, "Gaussian sigma of the per-pattern orientation refinement [scan pixels] (0: none)")
        .add<std::uint64_t>("seed", &spec_.seed, 1, "seed of the NMF and clustering initialisation")
        .add<std::string>("datacube", &datacube_, "", "datacube for the domains' mean patterns (default: the features' source; 'none': skip)")
        .add<std::string>("figures", &figures_, "", "folder for PNG maps and the sheet of domain mean patterns (empty: none)");
  }
  void validate(const StageContext&) override {
    if (solver_ == "hals") spec_.solver = cluster::NmfSolver::hals;
    else if (solver_ == "mu") spec_.solver = cluster::NmfSolver::multiplicative;
    else throw ConfigError("solver: expected hals or mu, found '" + solver_ + "'");
    if (spec_.clustering != "kmeans" && spec_.clustering != "gmm") throw ConfigError("clustering: expected kmeans or gmm, found '" + spec_.clustering + "'");
    if (spec_.components < 0 || spec_.components > 64) throw ConfigError("components: expected 0..64");
    if (spec_.clusters < 0 || spec_.clusters > 64) throw ConfigError("clusters: expected 0..64");
    if (!(spec_.merge_deg >= 0) || spec_.twist_beta < 0 || spec_.polarity_beta < 0 || spec_.smoothing_px < 0)
      throw ConfigError("merge-deg, twist-beta, polarity-beta, smoothing-px: expected values >= 0");
    if (spec_.nmf_iterations < 1) throw ConfigError("nmf-iterations: expected at least 1, found " + std::to_string(spec_.nmf_iterations));
    if (spec_.min_interior_patterns < 0) throw ConfigError("min-interior-patterns: expected 0 or more");
    require_positive("voltage-kV", voltage_kV_, "from the datacube");
    require_positive("convergence-mrad", convergence_mrad_, "from the datacube");
    require_positive("q-pixel-invA", q_pixel_, "from the datacube");
    if (!std::isfinite(frame_.rotation_deg)) throw ConfigError("qr-rotation-deg: expected a finite angle");
    sim::material(material_);
  }

  // The features (default group /diffraction_features) and the datacube of the mean patterns.
  std::vector<std::string> read_locations(const StageContext& ctx) const override {
    const io::Target in = io::parse_target(ctx.input, "/diffraction_features");
    std::vector<std::string> out = {in.str()};
    if (!datacube_.empty() && datacube_ != "none") out.push_back(datacube_);
    return out;
  }

  void run(const StageContext& ctx, io::ProductWriter& out) override {
    const par::Comm& comm = ctx.comm;
    const io::Target in = io::parse_target(ctx.input, "/diffraction_features");
    std::shared_ptr<io::h5::File> file;
    io::h5::Group root;
    std::int64_t rx = 0, ry = 0;
    int bins = 0, qrows = 0, qcols = 0, rings = 2;
    double spot_hw = 8, spot_hw200 = 4, q_file = -1, kV_file = -1, conv_file = -1;
    std::string q_units, source;
    par::collectively(comm, [&] {
      file = io::FileRegistry::open(in.file, io::h5::Mode::read, &comm);
      root = file->root().open_group(in.group);
      const auto info = io::read_product_attrs(root);
      if (!info || info->schema != "diffraction_features/1")
        throw InputError::at(in.file, in.group, "product", "diffraction_features/1 (stage diffraction-features)", info ? info->schema : "no tmdflow product");
      const io::h5::Shape s = root.open_dataset("ring_profiles/data").shape();
      rx = s[0];
      ry = s[1];
      rings = int(s[2]);
      bins = int(s[3]);
      io::h5::Group g = root.open_group("geometry");
      spot_hw = g.open_dataset("spot_halfwidth_deg").read_all<double>()[0];
      const std::vector<double> radii = g.open_dataset("ring_radius_px").read_all<double>();
      if ((rings != 2 && rings != 3) || radii.size() != std::size_t(rings))
        throw InputError::at(in.file, in.group, "ring_profiles/data", "2 or 3 rings matching geometry/ring_radius_px",
                             std::to_string(rings) + " rings and " + std::to_string(radii.size()) + " radii");
      if (rings == 3) spot_hw200 = analysis::spot_halfwidth_at(spot_hw, radii[0], radii[2]);
      q_file = g.open_dataset("q_pixel_size").read_all<double>()[0];
      q_units = g.attr_string("q_pixel_units").value_or("");
      qrows = int(g.open_dataset("detector_rows").read_all<double>()[0]);
      qcols = int(g.open_dataset("detector_cols").read_all<double>()[0]);
      if (g.exists("voltage_kV")) kV_file = g.open_dataset("voltage_kV").read_all<double>()[0];
      if (g.exists("convergence_mrad")) conv_file = g.open_dataset("convergence_mrad").read_all<double>()[0];
      source = root.attr_string("source_input").value_or("");
      rdims_ = io::emd::read_dims(root.open_group("twist_deg"), 2);  // the scan's axes, calibrated as the datacube's
      rdims_.resize(2);
      q_file_units_ = q_units;
      q_file_size_ = q_file;
    });
    const double kV = voltage_kV_ > 0 ? voltage_kV_ : kV_file;
    const double conv = convergence_mrad_ > 0 ? convergence_mrad_ : conv_file;
    const double qpix = q_pixel_ > 0 ? q_pixel_ : (q_units == "A^-1" ? q_file : -1);
    par::collectively(comm, [&] {
      if (!(kV > 0)) throw ConfigError(in.str() + ": the datacube records no voltage: give --voltage-kV (workflow.voltage_kV)");
      if (!(conv > 0)) throw ConfigError(in.str() + ": the datacube records no convergence angle: give --convergence-mrad (workflow.convergence_mrad)");
      if (!(qpix > 0)) throw ConfigError(in.str() + ": the detector is not calibrated in 1/Angstrom: give --q-pixel-invA (workflow.q_pixel_invA)");
    });

    // Polarity calibration: which triplets are brighter for polarity +1 at this voltage and convergence.
    analysis::SinglePatternFeatures cal;
    par::collectively(comm, [&] { cal = calibrate(kV, conv, qpix, std::max(qrows, qcols)); });
    frame_.calibrate(cal.asymmetry, cal.asymmetry_200, rings);
    log::info("domains: multislice calibration (", material_, ", ", kV, " kV, ", conv, " mrad): polarity +1 has triplet asymmetry ",
              cal.asymmetry, " ({100})", rings > 2 ? ", " + str::number(cal.asymmetry_200) + " ({200})" : std::string());

    // This rank's rows of the features.
    const par::Range rows = par::block_partition(rx, comm.size(), comm.rank());
    const std::int64_t n = rows.size() * ry;
    std::vector<float> profiles(static_cast<std::size_t>(n * rings * bins)), twist(static_cast<std::size_t>(n)), signal(static_cast<std::size_t>(n)), cx(static_cast<std::size_t>(n)), cy(static_cast<std::size_t>(n));
    par::collectively(comm, [&] {
      root.open_dataset("ring_profiles/data").read(io::h5::Shape{rows.begin, 0, 0, 0}, io::h5::Shape{rows.size(), ry, rings, bins}, profiles.data());
      for (auto [name, dst] : {std::pair{"twist_deg", &twist}, {"ring_signal", &signal}, {"centre_x", &cx}, {"centre_y", &cy}})
        root.open_dataset(std::string(name) + "/data").read(io::h5::Shape{rows.begin, 0}, io::h5::Shape{rows.size(), ry}, dst->data());
    });
    analysis::DomainInput din{rx, ry, rows.begin * ry, n, bins, spot_hw, profiles.data(), twist.data(), signal.data(), rings, spot_hw200};
    analysis::DomainResult r;
    par::collectively(comm, [&] { r = analysis::find_domains(comm, din, spec_, frame_); });

    // Mean pattern of each domain (second pass over the datacube, integer descan correction).
    std::vector<float> means;
    std::vector<std::int32_t> truth;  // ground-truth labels beside a simulated datacube (figures only)
    const std::string cube = datacube_.empty() ? source : datacube_;
    if (cube != "none" && !cube.empty() && !r.domains.empty()) {
      std::unique_ptr<io::DatacubeReader> reader;
      par::collectively(comm, [&] { reader = std::make_unique<io::DatacubeReader>(io::DatacubeReader::open(cube, &comm)); });
      if (!figures_.empty()) par::collectively(comm, [&] { truth = ground_truth_labels(*reader, rx, ry); });
      analysis::LabelMeans lm(r.label, int(r.domains.size()), cx, cy, 0.5 * qcols, 0.5 * qrows);
      io::PassOptions po;
      po.progress_label = "domains: mean patterns";
      io::run_pattern_pass(comm, *reader, {&lm}, po);
      means = lm.means();
    }
    write(ctx, out, r, means, rx, ry, qrows, qcols, kV, conv, qpix, cal, rows);
    if (!figures_.empty()) figures(ctx, r, means, truth, rx, ry, qrows, qcols, qpix, rdims_[0]);
  }

 private:
  /// Triplet asymmetries ({100}, {200}) of a simulated monolayer of orientation 10 degrees (polarity +1).
  analysis::SinglePatternFeatures calibrate(double kV, double conv, double qpix, int det) const {
    sim::ProbeSpec probe;
    probe.voltage_kV = kV;
    probe.convergence_mrad = conv;
    const sim::DetectorSpec detector{det, 0.5 * det * units::invA_to_mrad(qpix, units::electron_wavelength_A(kV))};
    const std::vector<float> pattern = sim::monolayer_pattern(material_, 10.0, probe, detector);
    const auto g = analysis::find_geometry(pattern, det, det, "multislice calibration pattern");
    return analysis::features_of_pattern(pattern, det, det, g, g.centre_x, g.centre_y);
  }

  void write(const StageContext& ctx, io::ProductWriter& out, const analysis::DomainResult& r, const std::vector<float>& means, std::int64_t rx,
             std::int64_t ry, int qrows, int qcols, double kV, double conv, double qpix, const analysis::SinglePatternFeatures& cal,
             const par::Range& rows) const {
    const io::h5::Group& root = out.group();
    root.set_attr("emd_group_type", "root");
    root.set_attr("python_class", "Root");
    const std::vector<io::emd::Dim> rd{{"Rx", rdims_[0].units, 0, rdims_[0].step}, {"Ry", rdims_[1].units, 0, rdims_[1].step}};
    io::emd::write_array(root, {"label", io::Dtype::i32, {rx, ry}, rd, "RealSlice", "domain id (-1: undetermined)", {}}, r.label);
    io::emd::write_array(root, {"orientation_deg", io::Dtype::f32, {rx, ry}, rd, "RealSlice", "degree", {}}, r.orientation_deg);
    io::emd::write_array(root, {"twist_deg", io::Dtype::f32, {rx, ry}, rd, "RealSlice", "degree", {}}, r.twist_deg);
    io::emd::write_array(root, {"polarity", io::Dtype::i8, {rx, ry}, rd, "RealSlice", "+1, -1, 0 undetermined", {}}, r.polarity);
    io::emd::write_array(root, {"confidence", io::Dtype::f32, {rx, ry}, rd, "RealSlice", "probability", {}}, r.confidence);
    // The scan's calibration (and the detector's, in 1/Angstrom when known), so that py4DSTEM
    // reads the maps calibrated.
    io::emd::Calibration c;
    c.R_pixel_size = rdims_[0].step;
    c.R_pixel_units = rdims_[0].units;
    c.Q_pixel_size = qpix > 0 ? qpix : q_file_size_;
    c.Q_pixel_units = qpix > 0 ? "A^-1" : q_file_units_;
    c.QR_flip = frame_.flip;
    io::emd::write_calibration(root, c, {"/label", "/orientation_deg", "/twist_deg", "/polarity", "/confidence"});
    // NMF: components (global) and loadings (this rank's rows).
    const std::int64_t k = std::int64_t(r.components.extent(0)), d = std::int64_t(r.components.extent(1));
    io::h5::Group nmf = root.create_group("nmf");
    auto comp = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), r.components);
    nmf.write_array("components", std::vector<float>(comp.data(), comp.data() + comp.size()), {k, d}).set_attr("description", "H: rows of six-fold folded, per-ring normalised profiles ({100} then {110})");
    io::h5::Dataset ld = nmf.create_dataset("loadings", io::Dtype::f32, {rx, ry, k});
    auto load = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), r.loadings);
    ld.write(io::h5::Shape{rows.begin, 0, 0}, io::h5::Shape{rows.size(), ry, k}, load.data());
    nmf.write_vector("relative_error", r.nmf_error);
    nmf.write_vector("pca_eigenvalues", r.pca_eigenvalues);
    nmf.write_scalar_int("marchenko_pastur_rank", r.marchenko_pastur_rank);
    io::h5::Group cl = root.create_group("clusters");
    cl.write_array("signatures", r.cluster_signatures, {std::int64_t(r.clusters), d});
    cl.write_vector("twist_class", std::vector<std::int32_t>(r.cluster_to_twist.begin(), r.cluster_to_twist.end()));
    // Per-domain table.
    const std::int64_t m = std::int64_t(r.domains.size());
    io::h5::Group dg = root.create_group("domain_table");
    std::vector<double> ori, tw, asym, asym200, twd, spots;
    std::vector<std::int32_t> pol, cnt, tcl;
    for (const auto& s : r.domains) {
      ori.push_back(s.orientation_deg);
      tw.push_back(s.twist_deg);
      asym.push_back(s.asymmetry);
      asym200.push_back(s.asymmetry_200);
      twd.push_back(s.twist_detector_deg);
      pol.push_back(s.polarity);
      cnt.push_back(std::int32_t(s.patterns));
      tcl.push_back(s.twist_class);
      spots.insert(spots.end(), s.spot_angles_deg.begin(), s.spot_angles_deg.end());
    }
    dg.write_vector("orientation_deg", ori);
    dg.write_vector("twist_deg", tw);
    dg.write_vector("polarity", pol);
    dg.write_vector("patterns", cnt);
    dg.write_vector("friedel_asymmetry", asym);
    dg.write_vector("friedel_asymmetry_200", asym200);
    dg.write_vector("twist_detector_deg", twd);
    dg.write_vector("twist_class", tcl);
    dg.write_array("spot_angles_detector_deg", spots, {m, 6});
    if (!means.empty())
      io::emd::write_array(root, {"mean_patterns", io::Dtype::f32, {m, qrows, qcols}, {{"domain", "index", 0, 1}, {"Qx", "A^-1", 0, qpix}, {"Qy", "A^-1", 0, qpix}}, "Array", "counts", {}}, means);
    io::h5::Group cal_g = root.create_group("calibration");
    cal_g.write_scalar("voltage_kV", kV);
    cal_g.write_scalar("convergence_mrad", conv);
    cal_g.write_scalar("q_pixel_invA", qpix);
    cal_g.write_scalar("qr_rotation_deg", frame_.rotation_deg);
    cal_g.write_scalar_bool("qr_flip", frame_.flip);
    cal_g.set_attr("calibration_material", material_);
    cal_g.write_scalar("calibration_asymmetry", cal.asymmetry);
    cal_g.write_scalar("calibration_asymmetry_200", cal.asymmetry_200);
    cal_g.write_scalar_int("calibration_sign_200", frame_.calibration_sign_200);
    cal_g.write_scalar("polarity_information_200", r.polarity_information_200);
  }

  /// ground_truth/label of the simulated datacube product that holds the datacube (simulate-4dstem
  /// writes it beside the datacube), when there is one of the scan's shape; else empty.
  static std::vector<std::int32_t> ground_truth_labels(const io::DatacubeReader& reader, std::int64_t rx, std::int64_t ry) {
    const std::string where = reader.where();  // FILE:/product/datacube/data
    std::string path = where.substr(where.rfind(':') + 1);
    for (int up = 0; up < 2 && path.rfind('/') != std::string::npos; ++up) path = path.substr(0, path.rfind('/'));
    const io::h5::Group product = path.empty() ? reader.file()->root() : reader.file()->root().open_group(path);
    if (product.kind("ground_truth/label") != io::h5::LinkKind::dataset) return {};
    const io::h5::Dataset d = product.open_dataset("ground_truth/label");
    if (d.shape() != io::h5::Shape{rx, ry}) return {};
    return d.read_all<std::int32_t>();
  }

  static std::string domain_text(const analysis::DomainSummary& d) {
    return "φ " + str::number(std::round(d.orientation_deg * 10) / 10) + "°, " + (d.polarity > 0 ? "+1" : "−1");
  }

  /// The label map; with a ground truth, each found domain in the colour of the true domain it is
  /// matched to (maximum overlap, one to one), so that it compares by eye with ground_truth_label.png.
  static io::plot::Panel label_panel(const analysis::DomainResult& r, const std::vector<std::int32_t>& truth, std::int64_t rx, std::int64_t ry,
                                     const io::plot::Axes& scan) {
    analysis::LabelMatch match;
    std::vector<std::int32_t> display;
    if (!truth.empty()) {
      match = analysis::match_labels(r.label, truth);
      display = match.display_ids();
      log::info("domains: found domains matched to the ground truth: ", match.agreeing, " of ", match.compared, " patterns agree");
    }
    std::vector<std::pair<std::int32_t, std::string>> entries;
    for (std::size_t k = 0; k < r.domains.size(); ++k) {
      const bool matched = k < match.truth_of_found.size() && match.truth_of_found[k] >= 0;
      entries.emplace_back(display.empty() ? std::int32_t(k) : display[k],
                           std::to_string(k) + (matched ? " = " + std::to_string(match.truth_of_found[k]) : std::string()) + ": " +
                               domain_text(r.domains[k]));
    }
    io::plot::Panel p = io::plot::label_panel("Domains (found)", r.label, rx, ry, scan, entries, "undetermined", display);
    p.legend->title = truth.empty() ? "domain: orientation, polarity" : "found = true domain";
    return p;
  }

  /// One panel per domain, one log scale for all.
  static io::plot::Figure mean_patterns_figure(const analysis::DomainResult& r, const std::vector<float>& means, int qrows, int qcols, double qpix) {
    io::plot::Figure f;
    f.title = "Mean diffraction pattern of each domain (log scale)";
    f.columns = std::min<int>(4, int(r.domains.size()));
    f.image_px = 200;
    f.shared_colour_bar = io::plot::ColourBar{"mean counts per pixel", io::log_scale(means)};
    const io::plot::Axes det = io::plot::detector_axes(0.5 * qcols, 0.5 * qrows, qpix, "A^-1");
    const std::size_t px = std::size_t(qrows) * std::size_t(qcols);
    for (std::size_t l = 0; l < r.domains.size(); ++l) {
      const std::vector<float> m(means.begin() + std::ptrdiff_t(l * px), means.begin() + std::ptrdiff_t((l + 1) * px));
      f.panels.push_back(io::plot::intensity_panel("domain " + std::to_string(l) + ": " + domain_text(r.domains[l]), m, qrows, qcols, det, "",
                                                   f.shared_colour_bar->scale));
    }
    return f;
  }

  void figures(const StageContext& ctx, const analysis::DomainResult& r, const std::vector<float>& means, const std::vector<std::int32_t>& truth,
               std::int64_t rx, std::int64_t ry, int qrows, int qcols, double qpix, const io::emd::Dim& step) const {
    std::string err;
    if (ctx.comm.is_root()) {
      try {
        fs::create_directories(figures_);
        const std::string stem = (fs::path(figures_) / "domains").string();
        const io::plot::Axes scan = io::plot::scan_axes(step.step, step.units);
        auto write = [&](const std::string& suffix, const auto& figure, const std::string& caption) {
          const std::string path = stem + "_" + suffix + ".png";
          io::plot::write_figure(path, figure, caption);
          log::info("domains: figure ", fs::path(path).filename().string(), ": ", caption);
        };
        write("orientation",
              io::plot::angle_panel("Lattice orientation φ (found)", r.orientation_deg, rx, ry, scan, 120.0, "orientation φ\nperiod 120°"),
              "lattice orientation phi found per scan position (angle of the metal->chalcogen vector in the scan frame, period 120°): the "
              "colour wheel shows each colour at its direction; black: undetermined");
        write("polarity", io::plot::polarity_panel("Polarity (found)", r.polarity, rx, ry, scan, "undetermined"),
              "polarity found per scan position (+1: phi mod 120 < 60, -1 otherwise; inversion domains differ in polarity only)");
        write("label", label_panel(r, truth, rx, ry, scan),
              std::string("twist and inversion domains found, one colour per domain") +
                  (truth.empty() ? "" : ", each in the colour of the ground-truth domain it is matched to") +
                  "; legend: orientation and polarity of each");
        write("confidence",
              io::plot::intensity_panel("Confidence", r.confidence, rx, ry, scan, "probability", io::ColourScale{0.0, 1.0, false, io::Ramp::heat}),
              "confidence of each pattern's domain (posterior of its twist class times that of its polarity)");
        if (!means.empty())
          write("mean_patterns", mean_patterns_figure(r, means, qrows, qcols, qpix),
                "mean diffraction pattern of each found domain (centred on the detector, log10 scale shared by all): six {100} spots at phi + 60n "
                "and the {110} spots between them; the Friedel triplets' asymmetry gives the polarity");
      } catch (const std::exception& e) {
        err = e.what();
      }
    }
    err = ctx.comm.bcast_string(err, 0);
    if (!err.empty()) throw IoError(err);
  }

  analysis::DomainSpec spec_;
  analysis::DetectorFrame frame_;
  double voltage_kV_ = -1, convergence_mrad_ = -1, q_pixel_ = -1;
  std::string material_, solver_, datacube_, figures_;
  std::vector<io::emd::Dim> rdims_;  // the features' scan axes
  std::string q_file_units_;
  double q_file_size_ = 1;
};

}  // namespace

std::unique_ptr<Stage> make_domains_stage() { return std::make_unique<DomainsStage>(); }

}  // namespace tmdflow::stages

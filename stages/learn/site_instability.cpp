// Stage site-instability: unstable lattice sites of an image stack (issue #17): the classified sites
// of every frame (classify-sites' atoms/1) are registered (stack drift, stages/stack_drift.hpp) and
// linked into one track per lattice site (analysis/dynamics/linking.hpp); a small convolutional
// autoencoder (the learning runtime: learn/autoencoder.hpp) is trained on this stack's atom-centred
// patches, data-parallel over the ranks (each rank its block of frames), and every patch encoded;
// each track's walk through latent space gives its instability (analysis/atoms/instability.hpp), and
// the unstable sites their density map and clusters. Writes atoms/1 again with the instability
// columns (data_schema/atoms.md). A single image has no instability: the product says so (NaN).
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <numeric>

#include "atoms_table.hpp"
#include "stack_drift.hpp"
#include "stage.hpp"
#include "stage_list.hpp"
#include "tmdflow/analysis/atoms/instability.hpp"
#include "tmdflow/analysis/dynamics/linking.hpp"
#include "tmdflow/analysis/dynamics/patches.hpp"
#include "tmdflow/core/log.hpp"
#include "tmdflow/io/figure.hpp"
#include "tmdflow/io/image_stack.hpp"
#include "tmdflow/io/plot.hpp"
#include "tmdflow/io/plot_panels.hpp"
#include "tmdflow/learn/autoencoder.hpp"
#include "tmdflow/learn/autoencoder_fit.hpp"
#include "tmdflow/learn/threads.hpp"
#include "tmdflow/par/failure.hpp"
#include "tmdflow/par/gather.hpp"
#include "tmdflow/par/partition.hpp"
#include "tmdflow/par/progress.hpp"

namespace tmdflow::stages {
namespace {

namespace at = analysis::atoms;
namespace dyn = analysis::dynamics;

class SiteInstability : public Stage {
 public:
  std::string name() const override { return "site-instability"; }
  std::string summary() const override { return learn_stage_summary("site-instability"); }
  std::string description() const override {
    return "Input: the classified sites of an image stack (classify-sites' atoms/1) and the stack (its source, or --images). The\n"
           "frames are registered (each to the one before, summed from frame 0) and each frame's sites linked into one track per\n"
           "lattice site (least squared displacement within --link-distance-A, sites of one sublattice only, --max-gap frames\n"
           "missed at most). A convolutional autoencoder (size --patch-px, latent --latent) is trained on this stack's atom-centred\n"
           "patches (--patch-A wide, standardised by their frame), data-parallel over the ranks, each rank its block of frames, and\n"
           "every patch encoded. A track's change is the largest standardised difference of its mean latent vector before and\n"
           "after a split point (patches cut by the frame's edge left out); its instability the robust z-score of that change over\n"
           "all tracks; sites above --threshold, or whose class changes --min-class-changes times, are unstable.\n"
           "Also the number of class changes along each track, the density of unstable sites (Gaussian, --density-sigma-A, per\n"
           "A^2) and their clusters (single linkage within --cluster-distance-A). Writes atoms/1 with the columns track_id,\n"
           "unstable (the instability, NaN for a site seen once or a single image), unstable_site, class_changes, cluster, and\n"
           "drift_px, instability/density (data_schema/atoms.md); PNG of image 0 with the unstable sites, and the density map.";
  }
  std::string product_schema() const override { return "atoms/1"; }
  std::string default_group() const override { return "/instability"; }
  bool validate_reads_input() const override { return true; }

  void declare(Options& o) override {
    o.add<std::string>("images", &images_, "", "the stack (FILE.h5[:/group]); empty: the one the sites were found in")
        .add<double>("patch-A", &patch_A_, 2.4, "side of the atom-centred patches [Angstrom] (the column and the edge of its neighbours)")
        .add<int>("patch-px", &patch_px_, 16, "samples per patch side (a multiple of 4)")
        .add<int>("latent", &latent_, 8, "latent dimensions of the autoencoder")
        .add<int>("epochs", &epochs_, 30, "training epochs of the autoencoder")
        .add<int>("batch", &batch_, 256, "global batch")
        .add<double>("learning-rate", &learning_rate_, 3e-3, "Adam's learning rate")
        .add<std::uint64_t>("seed", &seed_, 1, "seed of the autoencoder's weights and batches")
        .add<double>("max-drift-A-per-frame", &max_drift_A_, 1.5, "largest drift between consecutive frames [Angstrom]")
        .add<int>("registration-bin", &bin_, 0, "bin the frames by this factor before registering them (0: to about 0.25 A per pixel)")
        .add<double>("link-distance-A", &link_A_, 0.9, "largest displacement of a site between its observations [Angstrom] (half a bond)")
        .add<int>("max-gap", &max_gap_, 1, "frames a site may be missed and its track still continue")
        .add<double>("threshold", &threshold_, 5.0, "instability (robust z-score) above which a site is unstable")
        .add<int>("min-class-changes", &min_class_changes_, 1, "a site whose class changes this often along its track is unstable too (0: the latent instability alone)")
        .add<int>("min-observations", &min_observations_, 3, "usable observations (patches inside the frame) a track needs for an instability")
        .add<double>("cluster-distance-A", &cluster_A_, 8.0, "unstable sites closer than this join one cluster [Angstrom]")
        .add<double>("density-sigma-A", &sigma_A_, 5.0, "sigma of the density of unstable sites [Angstrom]")
        .add<double>("density-step-A", &step_A_, 2.5, "grid step of the density map [Angstrom]")
        .add<int>("threads", &threads_, 0, "LibTorch threads per rank (0: the cores each rank owns)")
        .add<std::string>("figures", &figures_, "auto", "folder for PNGs of image 0's unstable sites and their density (auto: figures/ beside the output; none: no figures)");
  }

  void validate(const StageContext& ctx) override {
    for (const auto& [name, v] : {std::pair<const char*, double>{"patch-A", patch_A_}, {"learning-rate", learning_rate_},
                                  {"max-drift-A-per-frame", max_drift_A_}, {"link-distance-A", link_A_}, {"cluster-distance-A", cluster_A_},
                                  {"density-sigma-A", sigma_A_}, {"density-step-A", step_A_}})
      require_positive(name, v);
    if (patch_px_ < 8 || patch_px_ > 256 || patch_px_ % 4 != 0) throw ConfigError("patch-px: expected a multiple of 4 from 8 to 256, found " + std::to_string(patch_px_));
    if (latent_ < 1 || latent_ > 1024) throw ConfigError("latent: expected 1 to 1024, found " + std::to_string(latent_));
    if (epochs_ < 1 || batch_ < 1) throw ConfigError("epochs, batch: expected at least 1");
    if (max_gap_ < 0) throw ConfigError("max-gap: expected 0 or more");
    if (min_class_changes_ < 0) throw ConfigError("min-class-changes: expected 0 or more");
    if (min_observations_ < 2) throw ConfigError("min-observations: expected at least 2, found " + std::to_string(min_observations_));
    if (bin_ < 0 || bin_ > 64) throw ConfigError("registration-bin: expected 0 (automatic) to 64, found " + std::to_string(bin_));
    table_ = read_atoms_table(ctx.input);
    stack_ = images_.empty() ? table_.source : images_;
    if (stack_.empty()) throw InputError(ctx.input + ": attribute source: expected the images the sites were found in, found none (give --images)");
    const io::ImageStackMeta m = io::ImageStackReader::open(stack_).meta();
    if (m.frames != table_.frames || m.height != table_.height || m.width != table_.width)
      throw InputError(stack_ + ": expected " + std::to_string(table_.frames) + " images of " + std::to_string(table_.height) + " x " +
                       std::to_string(table_.width) + " as " + ctx.input + " says, found " + std::to_string(m.frames) + " of " + std::to_string(m.height) +
                       " x " + std::to_string(m.width));
  }

  void run(const StageContext& ctx, io::ProductWriter& out) override {
    const AtomsTable& t = table_;
    const std::size_t M = t.rows.size();
    const double px = t.pixel_A;
    std::vector<std::int64_t> track(M);
    std::iota(track.begin(), track.end(), 0);
    std::vector<double> unstable(M, std::numeric_limits<double>::quiet_NaN());
    std::vector<std::int32_t> changes(M, 0), cluster(M, -1);
    std::vector<std::int8_t> flagged(M, 0);
    std::vector<dyn::Shift> drift(std::size_t(t.frames));
    std::vector<float> density;
    std::int64_t gy = 0, gx = 0, clusters = 0, unstable_tracks = 0, tracks = std::int64_t(M);
    double final_loss = std::numeric_limits<double>::quiet_NaN();
    std::vector<float> latent;
    if (t.frames >= 2 && M > 0) {
      const learn::ThreadSettings threads = learn::configure_threads(ctx.comm, threads_);
      StackDriftSpec ds;
      ds.pixel_A = px, ds.max_drift_A = max_drift_A_, ds.bin = bin_;
      drift = measure_stack_drift(ctx.comm, stack_, ds, "site-instability");
      // One track per lattice site.
      std::vector<dyn::LinkDetection> detections(M);
      for (std::size_t i = 0; i < M; ++i) {
        const auto& r = t.rows[i];
        const auto& d = drift[std::size_t(r.frame)];
        detections[i] = {r.frame, double(r.x) - d.dx, double(r.y) - d.dy, int(r.sublattice)};
      }
      dyn::LinkSpec link;
      link.max_displacement = link_A_ / px;
      link.max_gap = max_gap_;
      track = dyn::link_tracks(detections, link);
      tracks = track.empty() ? 0 : *std::max_element(track.begin(), track.end()) + 1;
      // Patches of this rank's frames, the autoencoder, the latent vectors of every site.
      const par::Range frames = par::block_partition(t.frames, ctx.comm.size(), ctx.comm.rank());
      std::size_t first = 0, last = 0;
      while (first < M && t.rows[first].frame < frames.begin) ++first;
      last = first;
      while (last < M && t.rows[last].frame < frames.end) ++last;
      latent = encode_sites(ctx, first, last, final_loss);
      if (ctx.comm.is_root())
        log::info("site-instability: ", tracks, " tracks of ", M, " sites in ", t.frames, " frames; autoencoder loss ", final_loss, "; ", threads.summary());
      std::vector<int> cls(M);
      std::vector<std::int64_t> frame(M);
      for (std::size_t i = 0; i < M; ++i) cls[i] = t.rows[i].cls, frame[i] = t.rows[i].frame;
      // Patches cut by the frame's edge are left out of the latent trajectories.
      std::vector<char> usable(M);
      const double half = 0.5 * patch_A_ / px + 1;
      for (std::size_t i = 0; i < M; ++i) {
        const auto& r = t.rows[i];
        usable[i] = r.x >= half && r.y >= half && r.x <= double(t.width - 1) - half && r.y <= double(t.height - 1) - half;
      }
      const at::TrackInstability ti = at::track_instability(track, frame, cls, latent, latent_, tracks, usable, min_observations_);
      // Unstable tracks: their density and clusters.
      std::vector<double> cx(M), cy(M);
      for (std::size_t i = 0; i < M; ++i) cx[i] = detections[i].x, cy[i] = detections[i].y;
      at::UnstableSpec us;
      us.threshold = threshold_, us.min_class_changes = min_class_changes_;
      us.height_px = double(t.height), us.width_px = double(t.width);
      us.sigma_px = sigma_A_ / px, us.step_px = step_A_ / px, us.cluster_px = cluster_A_ / px;
      const at::UnstableSites unstable_sites = at::unstable_sites(ti, track, cx, cy, us);
      unstable_tracks = unstable_sites.count, clusters = unstable_sites.clusters, gy = unstable_sites.ny, gx = unstable_sites.nx;
      density = unstable_sites.density;
      for (auto& v : density) v = float(v / (px * px));  // per A^2
      for (std::size_t i = 0; i < M; ++i) {
        const auto k = std::size_t(track[i]);
        unstable[i] = ti.instability[k];
        changes[i] = ti.class_changes[k];
        flagged[i] = unstable_sites.unstable[k];
        cluster[i] = std::int32_t(unstable_sites.cluster[k]);
      }
    } else {
      std::int64_t ny = 0, nx = 0;
      density = at::point_density({}, {}, double(t.height), double(t.width), sigma_A_ / px, step_A_ / px, ny, nx);
      gy = ny, gx = nx;
      if (ctx.comm.is_root()) log::info("site-instability: ", t.frames, " image(s): no instability without a stack (unstable is NaN)");
    }
    const io::h5::Group& g = out.group();
    write_atoms_table(g, t);
    g.write_vector("track_id", track).set_attr("meaning", "the lattice site's track across frames (0 .. tracks-1)");
    std::vector<float> u(unstable.begin(), unstable.end());
    g.write_vector("unstable", u).set_attr("meaning", "the site's instability: robust z-score of its track's latent change point (NaN: too few usable observations)");
    g.write_vector("unstable_site", flagged)
        .set_attr("meaning", "1 where unstable > instability/threshold, or the track's class changed at least instability/min_class_changes times");
    g.write_vector("class_changes", changes).set_attr("meaning", "changes of class along the site's track");
    g.write_vector("cluster", cluster).set_attr("meaning", "cluster of unstable sites (single linkage), -1 for a stable site");
    std::vector<double> d;
    for (const auto& s : drift) d.push_back(s.dy), d.push_back(s.dx);
    io::h5::Dataset dd = g.create_dataset("drift_px", io::Dtype::f64, {t.frames, 2});
    dd.write_whole<double>(d.data());
    dd.set_attr("meaning", "how far each frame's content moved from frame 0 (dy, dx) [pixels]");
    io::h5::Group ig = g.create_group("instability");
    io::h5::Dataset dens = ig.create_dataset("density", io::Dtype::f32, {gy, gx});
    dens.write_whole<float>(density.data());
    dens.set_attr("units", "unstable sites per A^2");
    ig.set_attr("threshold", threshold_);
    ig.set_attr("min_class_changes", std::int64_t(min_class_changes_));
    ig.set_attr("tracks", tracks);
    ig.set_attr("unstable_tracks", unstable_tracks);
    ig.set_attr("clusters", clusters);
    ig.set_attr("density_sigma_A", sigma_A_);
    ig.set_attr("density_step_A", step_A_);
    ig.set_attr("autoencoder_loss", final_loss);
    ig.set_attr("latent", std::int64_t(latent_));
    if (!latent.empty()) {
      io::h5::Dataset z = ig.create_dataset("latent", io::Dtype::f32, {std::int64_t(M), std::int64_t(latent_)});
      z.write_whole<float>(latent.data());
      z.set_attr("meaning", "each site's autoencoder latent vector in its frame (rows as the sites)");
    }
    if (ctx.comm.is_root())
      log::info("site-instability: ", unstable_tracks, " unstable of ", tracks, " sites in ", clusters, " cluster(s)");
    if (!figures_folder(figures_, ctx.output.file).empty() && t.frames >= 2) {
      par::collectively(ctx.comm, [&] {
        if (ctx.comm.is_root()) write_figures(ctx, flagged, density, gy, gx);
      });
    }
  }

 private:
  /// Trains the autoencoder on the patches of rows [first, last) of every rank and returns the
  /// latent vectors of all rows (M x latent, every rank).
  std::vector<float> encode_sites(const StageContext& ctx, std::size_t first, std::size_t last, double& final_loss) const {
    const AtomsTable& t = table_;
    const int P = patch_px_;
    const std::size_t np = std::size_t(P * P);
    const std::int64_t local = std::int64_t(last - first);
    std::vector<float> patches(std::size_t(local) * np);
    par::collectively(ctx.comm, [&] {
      if (local == 0) return;
      const io::ImageStackReader reader = io::ImageStackReader::open(stack_);
      std::vector<float> frame(std::size_t(t.height * t.width));
      std::int64_t loaded = -1;
      dyn::FrameStatistics stats;
      for (std::size_t i = first; i < last; ++i) {
        const auto& r = t.rows[i];
        if (r.frame != loaded) {
          reader.read_frames_as<float>(r.frame, 1, frame.data());
          stats = dyn::frame_statistics(frame.data(), t.height, t.width);
          loaded = r.frame;
        }
        dyn::extract_patch(frame.data(), t.height, t.width, r.x, r.y, patch_A_ / P / t.pixel_A, P, stats, patches.data() + (i - first) * np);
      }
    });
    learn::NetworkSpec spec{"autoencoder", {{"size", std::to_string(P)}, {"base", "16"}, {"levels", "2"}, {"latent", std::to_string(latent_)},
                                            {"norm", "group"}, {"groups", "4"}}};
    torch::manual_seed(seed_);
    auto net = std::dynamic_pointer_cast<learn::Autoencoder>(learn::make_network(spec));
    learn::InMemoryFit fit;
    fit.epochs = epochs_, fit.batch = batch_, fit.learning_rate = learning_rate_, fit.seed = seed_;
    fit.progress_label = "site-instability: autoencoder";
    final_loss = learn::fit_autoencoder(ctx.comm, *net, patches, local, P, fit);
    const std::vector<float> z = learn::encode_samples(*net, patches, local, P, latent_);
    return par::allgather_rows(ctx.comm, z);
  }

  void write_figures(const StageContext& ctx, const std::vector<std::int8_t>& flagged, const std::vector<float>& density, std::int64_t gy,
                     std::int64_t gx) const {
    namespace fs = std::filesystem;
    const AtomsTable& t = table_;
    const io::ImageStackReader reader = io::ImageStackReader::open(stack_);
    const std::int64_t h = std::min<std::int64_t>(t.height, 1024), w = std::min<std::int64_t>(t.width, 1024);
    std::vector<float> full(std::size_t(t.height * t.width)), image(std::size_t(h * w));
    reader.read_frames_as<float>(0, 1, full.data());
    for (std::int64_t i = 0; i < h; ++i) std::copy_n(full.begin() + std::ptrdiff_t(i * t.width), w, image.begin() + std::ptrdiff_t(i * w));
    io::plot::Figure fig;
    fig.columns = 2;
    io::plot::Panel panel = io::plot::intensity_panel("image 0, unstable sites", image, h, w, io::plot::scan_axes(t.pixel_A, "A"), "intensity", io::robust_scale(image));
    panel.colour_bar.reset();
    panel.legend = io::plot::Legend{"site", {{io::Rgb{230, 40, 40}, "unstable"}}};
    for (std::size_t i = 0; i < t.rows.size(); ++i) {
      const auto& r = t.rows[i];
      if (r.frame != 0 || !flagged[i] || r.x >= double(w) || r.y >= double(h)) continue;
      io::plot::Mark mark;
      mark.kind = io::plot::Mark::Kind::circle;
      mark.x0 = r.x, mark.y0 = r.y, mark.radius = 0.6 / t.pixel_A;
      mark.colour = io::Rgb{230, 40, 40};
      mark.line_width = 2.0;
      panel.marks.push_back(mark);
    }
    fig.panels.push_back(panel);
    io::ColourScale scale = io::robust_scale(density, 0.0, 1.0, io::Ramp::heat);
    if (!(scale.hi > scale.lo)) scale.hi = scale.lo + 1e-6;
    fig.panels.push_back(io::plot::intensity_panel("density of unstable sites", density, gy, gx, io::plot::scan_axes(step_A_, "A"), "sites per A^2", scale));
    const fs::path dir = figures_folder(figures_, ctx.output.file);
    fs::create_directories(dir);
    const std::string stem = fs::path(ctx.output.file).stem().string();
    io::plot::write_figure((dir / (stem + "_instability.png")).string(), fig,
                           "Unstable sites of " + stack_ + ": left, image 0 with the sites whose track moves through the autoencoder's latent space more "
                           "than " + str::number(threshold_) + " robust standard deviations above the median (red); right, their density (Gaussian of " +
                               str::number(sigma_A_) + " A, per A^2).");
  }

  std::string images_, figures_, stack_;
  double patch_A_ = 2.4, learning_rate_ = 3e-3, max_drift_A_ = 1.5, link_A_ = 0.9, threshold_ = 5.0, cluster_A_ = 8.0, sigma_A_ = 5.0, step_A_ = 2.5;
  int min_class_changes_ = 1, min_observations_ = 3;
  int patch_px_ = 16, latent_ = 8, epochs_ = 30, batch_ = 256, bin_ = 0, max_gap_ = 1, threads_ = 0;
  std::uint64_t seed_ = 1;
  AtomsTable table_;
};

}  // namespace

std::unique_ptr<Stage> make_site_instability_stage() { return std::make_unique<SiteInstability>(); }

}  // namespace tmdflow::stages

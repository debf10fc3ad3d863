// Stage track-defects: the drift of a movie by phase correlation of consecutive frames
// (analysis/dynamics/registration.hpp; the frames shard over the ranks), then the detected defects
// linked into tracks in the drift-corrected frame of reference by optimal assignment with a
// maximum displacement and gap closing (analysis/dynamics/linking.hpp). Input: detect-defects'
// defects/1 and the movie it names; product tracks/1 (data_schema/dynamics.md).
#include <algorithm>
#include <cmath>
#include <filesystem>

#include "defect_table.hpp"
#include "stack_drift.hpp"
#include "stage.hpp"
#include "stage_list.hpp"
#include "tmdflow/analysis/dynamics/linking.hpp"
#include "tmdflow/analysis/dynamics/neighbourhood.hpp"
#include "tmdflow/analysis/dynamics/registration.hpp"
#include "tmdflow/core/log.hpp"
#include "tmdflow/io/image_stack.hpp"
#include "tmdflow/io/plot_curves.hpp"
#include "tmdflow/par/failure.hpp"
#include "tmdflow/par/gather.hpp"
#include "tmdflow/par/partition.hpp"
#include "tmdflow/par/progress.hpp"

namespace tmdflow::stages {
namespace {

namespace dyn = analysis::dynamics;

class TrackDefects : public Stage {
 public:
  std::string name() const override { return "track-defects"; }
  std::string summary() const override { return "register the frames of a movie (drift) and link its detected defects into tracks"; }
  std::string description() const override {
    return "Input: the defects/1 product of detect-defects; the movie it was found in (the product's source, or --images).\n"
           "Drift: each frame is registered to the one before by phase correlation (frames binned to about 0.25 A per pixel,\n"
           "Hann-windowed, a Gaussian low-pass on the cross-power spectrum, the peak searched within --max-drift-A-per-frame\n"
           "of zero since a crystal matches itself at every lattice vector, sub-pixel by a log-parabola); drift_px is the\n"
           "running sum, the content's (row, col) shift from frame 0. Tracks: in the drift-corrected frame (x_A, y_A), each\n"
           "open track (seen within the last --max-gap + 1 frames) links to at most one detection of the next frame of its\n"
           "species (vacancies V_S and V_S2 together, dopants) by the assignment of least squared displacement among pairs\n"
           "closer than --max-displacement-A; a track that missed frames pays a penalty per frame; detections left over start\n"
           "new tracks. Writes the defect table with track_id, x_A, y_A and drift_px; schema tracks/1 (data_schema/dynamics.md).";
  }
  std::string product_schema() const override { return "tracks/1"; }
  std::string default_group() const override { return "/tracks"; }
  bool validate_reads_input() const override { return true; }

  void declare(Options& o) override {
    o.add<std::string>("images", &images_, "", "the movie (FILE.h5[:/group]); empty: the one detect-defects read (its product's source)")
        .add<double>("max-displacement-A", &link_.max_displacement, 7.0, "largest move of a defect between the frames it is seen in [Angstrom]")
        .add<int>("max-gap", &link_.max_gap, 2, "frames a defect may go undetected and keep its track")
        .add<bool>("register", &register_, true, "correct the drift by registering the frames (false: no correction)")
        .add<double>("max-drift-A-per-frame", &max_drift_A_, 1.5, "largest drift between consecutive frames [Angstrom] (below half the lattice constant)")
        .add<int>("registration-bin", &bin_, 0, "bin the frames by this factor before registering them (0: to about 0.25 A per pixel)")
        .add<std::string>("figures", &figures_, "auto", "folder for the drift PNG (auto: figures/ beside the output; empty: none)");
  }

  void validate(const StageContext& ctx) override {
    dyn::validate(link_);
    require_positive("max-drift-A-per-frame", max_drift_A_);
    if (bin_ < 0 || bin_ > 64) throw ConfigError("registration-bin: expected 0 (automatic) to 64, found " + std::to_string(bin_));
    table_ = read_defect_table(ctx.input, "/defects", "");
    const MovieFacts& m = table_.movie;
    movie_ = images_.empty() ? m.source : images_;
    if (register_ && m.frames > 1) movie_ = checked_movie(ctx.input, images_, m);
  }

  // The movie (after validate: the one named by the defect table when --images is not given).
  std::vector<std::string> extra_inputs() const override { return movie_.empty() ? std::vector<std::string>{} : std::vector<std::string>{movie_}; }

  void run(const StageContext& ctx, io::ProductWriter& out) override {
    DefectTable t = table_;
    const MovieFacts& m = t.movie;
    const std::vector<dyn::Shift> drift = register_ && m.frames > 1 ? measure_drift(ctx) : std::vector<dyn::Shift>(std::size_t(m.frames));
    t.drift_px.assign(std::size_t(2 * m.frames), 0.0);
    for (std::int64_t f = 0; f < m.frames; ++f) {
      t.drift_px[std::size_t(2 * f)] = drift[std::size_t(f)].dy;
      t.drift_px[std::size_t(2 * f + 1)] = drift[std::size_t(f)].dx;
    }
    const double p = m.pixel_size_A;
    const bool standard = t.class_names.size() == 3;  // V_S, V_S2, dopant: vacancies link together
    std::vector<dyn::LinkDetection> det(t.size());
    t.x_A.resize(t.size());
    t.y_A.resize(t.size());
    for (std::size_t k = 0; k < t.size(); ++k) {
      const auto f = std::size_t(t.frame[k]);
      t.x_A[k] = (t.x_px[k] - t.drift_px[2 * f + 1]) * p;
      t.y_A[k] = (t.y_px[k] - t.drift_px[2 * f]) * p;
      const int cls = t.defect_class[k];
      det[k] = {t.frame[k], t.x_A[k], t.y_A[k], standard ? (cls == dyn::kDopant ? 1 : 0) : cls};
    }
    const std::vector<std::int64_t> track = dyn::link_tracks(det, link_);
    t.track_id.assign(track.begin(), track.end());
    t.tracked = true;
    std::int64_t tracks = 0;
    for (auto id : track) tracks = std::max<std::int64_t>(tracks, id + 1);
    write_defect_table(out.group(), t);
    const io::h5::Group& g = out.group();
    g.set_attr("images", movie_);
    g.set_attr("max_displacement_A", link_.max_displacement);
    g.set_attr("max_gap", std::int64_t(link_.max_gap));
    g.set_attr("registered", std::int64_t(register_ ? 1 : 0));
    g.set_attr("tracks", tracks);
    std::vector<double> peaks;
    for (const auto& s : drift) peaks.push_back(s.peak);
    g.write_vector("registration_peak", peaks).set_attr("meaning", "normalised phase correlation of each frame with the one before (1: identical)");
    if (ctx.comm.is_root()) {
      const auto& last = drift.back();
      log::info("track-defects: drift over the movie (", str::number(last.dy), ", ", str::number(last.dx), ") pixels (row, col); ", t.size(),
                " defects in ", tracks, " tracks");
    }
    if (!figures_.empty() && m.frames > 1)
      par::collectively(ctx.comm, [&] {
        if (ctx.comm.is_root()) write_figure(ctx, drift);
      });
  }

 private:
  std::vector<dyn::Shift> measure_drift(const StageContext& ctx) const {
    StackDriftSpec spec;
    spec.pixel_A = table_.movie.pixel_size_A;
    spec.max_drift_A = max_drift_A_;
    spec.bin = bin_;
    return measure_stack_drift(ctx.comm, movie_, spec, "track-defects");
  }

  void write_figure(const StageContext& ctx, const std::vector<dyn::Shift>& drift) const {
    namespace fs = std::filesystem;
    const double p = table_.movie.pixel_size_A;
    io::plot::Series row{"drift along y (rows)", {}, {}, io::plot::series_colour(0)}, col{"drift along x (columns)", {}, {}, io::plot::series_colour(1)};
    for (std::size_t f = 0; f < drift.size(); ++f) {
      row.x.push_back(double(f)), row.y.push_back(drift[f].dy * p);
      col.x.push_back(double(f)), col.y.push_back(drift[f].dx * p);
    }
    row.markers = col.markers = drift.size() < 40;
    io::plot::Chart chart;
    chart.title = "drift from frame 0", chart.x_label = "frame", chart.y_label = "drift (A)", chart.integer_x = true, chart.series = {row, col};
    const fs::path dir = figures_ == "auto" ? fs::absolute(ctx.output.file).parent_path() / "figures" : fs::path(figures_);
    fs::create_directories(dir);
    io::plot::write_charts((dir / (fs::path(ctx.output.file).stem().string() + "_drift.png")).string(), {chart}, "drift of " + movie_,
                           "The drift of " + movie_ + " measured by phase correlation of consecutive frames: how far the content of each frame has "
                           "moved from frame 0, along x and y, in Angstrom (subtracted from the defects' positions before they are linked).");
  }

  std::string images_, movie_, figures_;
  dyn::LinkSpec link_;
  bool register_ = true;
  double max_drift_A_ = 1.5;
  int bin_ = 0;
  DefectTable table_;
};

}  // namespace

std::unique_ptr<Stage> make_track_defects_stage() { return std::make_unique<TrackDefects>(); }

}  // namespace tmdflow::stages

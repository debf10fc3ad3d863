// Stage segment-atoms: a trained site network (make-atoms-trainset + train: nine heat maps, one per
// site class of an MX2 alloy monolayer) run over every image of a stack, tile by tile with halos
// (io/image_pass.hpp: the tiles of all images shard over the ranks), and the sites found in place as
// the peaks of the summed maps (analysis/dynamics/peaks.hpp), each with the nine maps' values there
// (the network's class evidence) and its column's integrated intensity: a table of sites per image,
// schema atom_columns/1 (data_schema/atoms.md), which classify-sites turns into classified lattice
// sites. Maps are never written.
#include <algorithm>
#include <cmath>
#include <filesystem>

#include "map_model_support.hpp"
#include "stage.hpp"
#include "stage_list.hpp"
#include "tmdflow/analysis/dynamics/peaks.hpp"
#include "tmdflow/core/log.hpp"
#include "tmdflow/io/h5.hpp"
#include "tmdflow/io/image_pass.hpp"
#include "tmdflow/io/plot.hpp"
#include "tmdflow/io/plot_curves.hpp"
#include "tmdflow/io/plot_panels.hpp"
#include "tmdflow/learn/map_inference.hpp"
#include "tmdflow/learn/model_file.hpp"
#include "tmdflow/learn/threads.hpp"
#include "tmdflow/par/failure.hpp"
#include "tmdflow/par/gather.hpp"
#include "tmdflow/sim/site_classes.hpp"

namespace tmdflow::stages {
namespace {

namespace dyn = analysis::dynamics;
constexpr int C = sim::kSiteClasses;

struct FoundSite {
  std::int64_t frame = 0;
  double x = 0, y = 0;
  float score = 0, intensity = 0;
  float scores[C] = {};
};

/// The network on each tile: the peaks of the sum of its maps, with each map's value and the
/// column's intensity there.
class SiteFinding : public MapPeakAnalysis {
 public:
  SiteFinding(learn::Network& net, learn::MapModelLayout layout, double scale, std::int64_t halo, const learn::ImageStatistics* stats,
              dyn::PeakSpec peaks, double edge_margin_px, double radius_px)
      : MapPeakAnalysis(net, layout, scale, halo, stats, edge_margin_px), peaks_(peaks), radius_px_(radius_px) {}
  const std::vector<FoundSite>& found() const { return found_; }

 private:
  std::vector<dyn::Peak> peaks(const TileMaps& t) override {
    const std::int64_t n = t.th * t.tw;
    std::vector<float> sum(std::size_t(n), 0.0f);
    for (std::int64_t c = 0; c < C; ++c) {
      const float* m = t.channel(c);
      for (std::int64_t q = 0; q < n; ++q) sum[std::size_t(q)] += m[q];
    }
    return dyn::find_peaks(sum.data(), t.th, t.tw, 0, peaks_);
  }
  void keep(const TileMaps& t, const dyn::Peak& p, double x, double y) override {
    FoundSite s;
    s.frame = t.tile.image, s.x = x, s.y = y, s.score = p.score;
    for (int c = 0; c < C; ++c) s.scores[c] = t.channel(c)[p.row * t.tw + p.col];
    // The column's intensity: the mean of the image over a disk about the site.
    const int r = int(std::ceil(radius_px_));
    double total = 0;
    int count = 0;
    for (int dy = -r; dy <= r; ++dy)
      for (int dx = -r; dx <= r; ++dx) {
        const std::int64_t i = p.row + dy, j = p.col + dx;
        if (i < 0 || j < 0 || i >= t.th || j >= t.tw) continue;
        if ((double(i) - p.y) * (double(i) - p.y) + (double(j) - p.x) * (double(j) - p.x) > radius_px_ * radius_px_) continue;
        total += t.tile.data[i * t.tw + j];
        ++count;
      }
    s.intensity = float(count ? total / count : 0.0);
    found_.push_back(s);
  }

  dyn::PeakSpec peaks_;
  double radius_px_;
  std::vector<FoundSite> found_;
};

class SegmentAtoms : public Stage {
 public:
  std::string name() const override { return "segment-atoms"; }
  std::string summary() const override { return learn_stage_summary("segment-atoms"); }
  std::string description() const override {
    return "Runs a trained site network (--model NAME|PATH; the shipped atoms-mowsse-v1 maps Mo/W/S/Se alloy monolayers to nine\n"
           "heat maps, one per site class: Mo, W, V_M, S2, SSe, Se2, S, Se, V_X2) over every image of a stack (ingest's\n"
           "image_stack/1, simulate-movie's movie/1 or simulate-adf's adf_images/1), tile by tile with a halo, the tiles of all\n"
           "images sharded over the ranks. Each tile is resampled to the model's pixel, normalised by its image's mean and standard\n"
           "deviation, run, and its maps resampled back. The sites are the local maxima of the summed maps above --threshold at\n"
           "least --min-distance-A apart, refined to sub-pixel by parabolas, none within --edge-margin-A of the image's edge; each\n"
           "keeps the nine maps' values at its pixel (class_scores: the network's evidence, a site of class c peaks at 1 in map\n"
           "c) and its column's intensity (the image's mean within --intensity-radius-A). Writes frame, x_px, y_px (the image's\n"
           "pixels, x = column), score, class_scores [M, 9], intensity, with class_names; schema atom_columns/1\n"
           "(data_schema/atoms.md). classify-sites builds the lattice graph from them and classifies every site.";
  }
  std::string product_schema() const override { return "atom_columns/1"; }
  std::string default_group() const override { return "/columns"; }
  bool validate_reads_input() const override { return true; }

  void declare(Options& o) override {
    o.add<std::string>("model", &model_, "atoms-mowsse-v1", "site network: a name (tmdflow models) or a model folder or file")
        .add<double>("threshold", &threshold_, 0.4, "least peak of the summed heat maps that counts as a site (a site's target peaks at 1)")
        .add<double>("min-distance-A", &min_distance_A_, 1.0, "least distance between two sites [Angstrom] (metal-chalcogen: a/sqrt(3) = 1.8-1.9 A)")
        .add<double>("edge-margin-A", &edge_margin_A_, 1.0, "report no site closer than this to the image's edge [Angstrom]")
        .add<double>("intensity-radius-A", &radius_A_, 0.5, "radius of the disk a column's intensity is averaged over [Angstrom]")
        .add<std::int64_t>("tile-px", &tile_, 512, "owned pixels per tile side [image pixels]")
        .add<std::int64_t>("halo-px", &halo_, 0, "halo around each tile [image pixels] (0: 24 model pixels)")
        .add<int>("threads", &threads_, 0, "LibTorch threads per rank (0: the cores each rank owns)")
        .add<std::string>("figures", &figures_, "auto", "folder for a PNG of the first image with its sites (auto: figures/ beside the output; none: no figures)");
    microscope_.declare(o, "the stack's");
  }

  void validate(const StageContext& ctx) override {
    if (!(threshold_ > 0 && threshold_ < 1e3)) throw ConfigError("threshold: expected a positive heat-map value, found " + Options::text(threshold_));
    require_positive("min-distance-A", min_distance_A_);
    require_positive("intensity-radius-A", radius_A_);
    if (!(edge_margin_A_ >= 0 && edge_margin_A_ < 1e3)) throw ConfigError("edge-margin-A: expected 0 or more Angstrom");
    require_positive("tile-px", double(tile_));
    if (halo_ < 0) throw ConfigError("halo-px: expected 0 or more, found " + std::to_string(halo_));
    model_info_ = resolve_named_map_model(model_, "a site network", "make-atoms-trainset");
    if (model_info_.layout.channels != C)
      throw ConfigError("model: " + model_info_.location.manifest.name + ": expected a site network of " + std::to_string(C) + " classes, found " +
                        std::to_string(model_info_.layout.channels));
    stack_ = open_calibrated_stack(ctx.input, "segment-atoms (distances in Angstrom; model " + model_info_.location.manifest.name + ")");
    check_model_conditions(ctx.input, model_info_.location.manifest, stack_.pixel_A, microscope_, "workflows/train_atoms.ini");
  }

  void run(const StageContext& ctx, io::ProductWriter& out) override {
    const learn::ThreadSettings threads = learn::configure_threads(ctx.comm, threads_);
    learn::LoadedModel model = learn::load_model(model_);
    const auto& m = model.manifest;
    const auto& meta = stack_.meta;
    const double pixel_A = stack_.pixel_A;
    const double scale = m.pixel_size_A > 0 ? pixel_A / m.pixel_size_A : 1.0;  // model pixels per image pixel
    const std::int64_t halo = halo_ > 0 ? halo_ : std::int64_t(std::ceil(24.0 / scale));
    const auto& names = model_info_.class_names;
    if (ctx.comm.is_root())
      log::info("segment-atoms: model ", model.label(), " (", str::join(names, ", "), ") on ", stack_.where, " (", meta.frames, " x ", meta.height,
                " x ", meta.width, " at ", pixel_A, " A per pixel); ", threads.summary());
    const io::Target in = io::parse_target(ctx.input, "/image_stack");
    const std::shared_ptr<io::h5::File> file = io::FileRegistry::open(in.file, io::h5::Mode::read, &ctx.comm);
    const io::h5::Group source = file->group(in.group);
    const io::h5::Dataset images = source.open_dataset(stack_.data_path);
    io::ImagePassOptions options;
    options.sharding = io::ImageSharding::by_tile;
    options.tile = tile_;
    options.progress_label = "segment-atoms";
    ImageNormalisation norm;
    measure_normalisation(ctx.comm, images, m, options, norm);
    dyn::PeakSpec peaks;
    peaks.threshold = float(threshold_);
    peaks.min_distance_px = min_distance_A_ / pixel_A;
    SiteFinding finding(*model.network, model_info_.layout, scale, halo, norm.get(), peaks, edge_margin_A_ / pixel_A, radius_A_ / pixel_A);
    io::run_image_pass(ctx.comm, images, {&finding}, nullptr, options);
    std::vector<FoundSite> all = par::allgather_rows(ctx.comm, finding.found());
    std::stable_sort(all.begin(), all.end(), [](const FoundSite& a, const FoundSite& b) {
      if (a.frame != b.frame) return a.frame < b.frame;
      return a.y != b.y ? a.y < b.y : a.x < b.x;
    });
    write_table(out.group(), all, names);
    write_attributes(out.group(), source, model);
    if (ctx.comm.is_root()) {
      std::int64_t occupied = 0;
      for (const auto& s : all) occupied += !sim::is_empty_class(int(std::max_element(s.scores, s.scores + C) - s.scores));
      log::info("segment-atoms: ", all.size(), " sites in ", meta.frames, " image(s), ", occupied, " of them atom columns by the network's evidence");
    }
    if (!figures_folder(figures_, ctx.output.file).empty()) {
      par::collectively(ctx.comm, [&] {
        if (ctx.comm.is_root()) write_figure(ctx, images, all, m.name);
      });
    }
  }

 private:
  static void write_table(const io::h5::Group& g, const std::vector<FoundSite>& all, const std::vector<std::string>& names) {
    std::vector<std::int32_t> frame;
    std::vector<float> x, y, score, intensity, scores;
    for (const auto& s : all) {
      frame.push_back(std::int32_t(s.frame));
      x.push_back(float(s.x));
      y.push_back(float(s.y));
      score.push_back(s.score);
      intensity.push_back(s.intensity);
      scores.insert(scores.end(), s.scores, s.scores + C);
    }
    g.write_vector("frame", frame);
    g.write_vector("x_px", x).set_attr("units", "pixels");
    g.write_vector("y_px", y).set_attr("units", "pixels");
    g.write_vector("score", score).set_attr("meaning", "the summed heat maps' value at the site (a site's training target peaks at 1)");
    io::h5::Dataset d = g.create_dataset("class_scores", io::Dtype::f32, {std::int64_t(all.size()), C});
    d.write<float>(io::h5::Shape{0, 0}, io::h5::Shape{std::int64_t(all.size()), C}, scores.data());
    d.set_attr("meaning", "each class's heat map at the site's pixel (columns in the order of class_names)");
    g.write_vector("intensity", intensity).set_attr("meaning", "the image's mean over a disk about the site (its units)");
    g.write_strings("class_names", names);
  }

  void write_attributes(const io::h5::Group& g, const io::h5::Group& source, const learn::LoadedModel& model) const {
    write_source_attributes(g, source, stack_.where, stack_.meta, stack_.pixel_A, model);
    g.set_attr("threshold", threshold_);
    g.set_attr("min_distance_A", min_distance_A_);
    g.set_attr("edge_margin_A", edge_margin_A_);
    g.set_attr("intensity_radius_A", radius_A_);
  }

  // The first image (at most its top-left 1024 x 1024 pixels) with its sites, coloured by the
  // network's strongest class.
  void write_figure(const StageContext& ctx, const io::h5::Dataset& images, const std::vector<FoundSite>& all, const std::string& model_name) const {
    namespace fs = std::filesystem;
    const auto& meta = stack_.meta;
    std::int64_t h = 0, w = 0;
    io::plot::Panel panel = first_image_panel(images, meta.height, meta.width, stack_.pixel_A, "image 0", h, w);
    io::plot::Legend legend{"strongest class", {}};
    for (int c = 0; c < C; ++c) legend.entries.push_back({io::plot::series_colour(c), model_info_.class_names[std::size_t(c)]});
    panel.legend = legend;
    for (const auto& s : all) {
      if (s.frame != 0 || s.x >= double(w) || s.y >= double(h)) continue;
      io::plot::Mark mark;
      mark.kind = io::plot::Mark::Kind::circle;
      mark.x0 = s.x, mark.y0 = s.y, mark.radius = 0.5 / stack_.pixel_A;
      mark.colour = io::plot::series_colour(int(std::max_element(s.scores, s.scores + C) - s.scores));
      mark.line_width = 1.2;
      panel.marks.push_back(mark);
    }
    const fs::path dir = figures_folder(figures_, ctx.output.file);
    fs::create_directories(dir);
    const std::string stem = fs::path(ctx.output.file).stem().string();
    io::plot::write_figure((dir / (stem + "_sites.png")).string(), panel,
                           "Image 0 of " + stack_.where + " with the sites that network " + model_name +
                               " finds, circled in the colour of its strongest class (before the lattice graph and the sublattice constraint).");
  }

  std::string model_, figures_;
  double threshold_ = 0.4, min_distance_A_ = 1.0, edge_margin_A_ = 1.0, radius_A_ = 0.5;
  std::int64_t tile_ = 512, halo_ = 0;
  int threads_ = 0;
  MicroscopeOptions microscope_;
  NamedMapModel model_info_;
  CalibratedStack stack_;
};

}  // namespace

std::unique_ptr<Stage> make_segment_atoms_stage() { return std::make_unique<SegmentAtoms>(); }

}  // namespace tmdflow::stages

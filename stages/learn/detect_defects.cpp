// Stage detect-defects: a trained defect detector (heat maps of V_S, V_S2 and dopants; trained on
// make-defect-trainset patches) run over every frame of a movie (image_stack/1 or movie/1), tile by
// tile with halos (io/image_pass.hpp: the tiles of all frames shard over the ranks), and the peaks
// of each class's map found in place (analysis/dynamics/peaks.hpp): a table of defects per frame
// (frame, x_px, y_px, class, score), schema defects/1 (data_schema/dynamics.md). Maps are never
// written: a 100-frame movie of 1024^2 would need 1.2 GB for them.

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
#include "tmdflow/io/image_stack.hpp"
#include "tmdflow/io/plot.hpp"
#include "tmdflow/io/plot_curves.hpp"
#include "tmdflow/io/plot_panels.hpp"
#include "tmdflow/learn/map_inference.hpp"
#include "tmdflow/learn/model_file.hpp"
#include "tmdflow/learn/threads.hpp"
#include "tmdflow/par/failure.hpp"
#include "tmdflow/par/gather.hpp"

namespace tmdflow::stages {
namespace {

namespace dyn = analysis::dynamics;

struct Detection {
  std::int64_t frame = 0;
  double x = 0, y = 0;
  float score = 0;
  int cls = 0;
};

/// The detector on each tile: the peaks of each class's map, one class per site.
class DefectDetection : public MapPeakAnalysis {
 public:
  DefectDetection(learn::Network& net, learn::MapModelLayout layout, double scale, std::int64_t halo, const learn::ImageStatistics* stats,
                  dyn::PeakSpec peaks, double class_distance_px, double edge_margin_px)
      : MapPeakAnalysis(net, layout, scale, halo, stats, edge_margin_px), peaks_(peaks), class_distance_px_(class_distance_px) {}
  const std::vector<Detection>& found() const { return found_; }

 private:
  std::vector<dyn::Peak> peaks(const TileMaps& t) override {
    std::vector<dyn::Peak> all;
    for (std::int64_t c = 0; c < layout().channels; ++c) {
      const auto p = dyn::find_peaks(t.channel(c), t.th, t.tw, int(c), peaks_);
      all.insert(all.end(), p.begin(), p.end());
    }
    return dyn::one_class_per_site(std::move(all), class_distance_px_);
  }
  void keep(const TileMaps& t, const dyn::Peak& p, double x, double y) override { found_.push_back({t.tile.image, x, y, p.score, p.cls}); }

  dyn::PeakSpec peaks_;
  double class_distance_px_;
  std::vector<Detection> found_;
};

class DetectDefects : public Stage {
 public:
  std::string name() const override { return "detect-defects"; }
  std::string summary() const override { return learn_stage_summary("detect-defects"); }
  std::string description() const override {
    return "Runs a trained defect detector (--model NAME|PATH; the shipped defects-ws2mo-v1 finds V_S, V_S2 and Mo in WS2:Mo)\n"
           "over every frame of a movie (an image_stack/1 product from ingest, or simulate-movie's movie/1), tile by tile with a\n"
           "halo, the tiles of all frames sharded over the ranks. Each tile is resampled to the model's pixel size, normalised by\n"
           "its frame's mean and standard deviation, run, and its maps resampled back; in each class's map the local maxima\n"
           "above --threshold at least --min-distance-A apart are the defects, refined to sub-pixel by parabolas; of peaks of\n"
           "different classes closer than --class-distance-A the strongest wins; none within --edge-margin-A of the frame's edge\n"
           "(where cut columns look like vacancies). Writes the table frame, x_px, y_px (the frame's\n"
           "pixels, x = column), defect_class (with class_names), score, sorted by frame, row, column; schema defects/1\n"
           "(data_schema/dynamics.md).";
  }
  std::string product_schema() const override { return "defects/1"; }
  std::string default_group() const override { return "/defects"; }
  bool validate_reads_input() const override { return true; }

  void declare(Options& o) override {
    o.add<std::string>("model", &model_, "defects-ws2mo-v1", "detector: a name (tmdflow models) or a model folder or file")
        .add<double>("threshold", &threshold_, 0.85,
                     "least heat-map peak that counts as a defect (a defect's target peak is 1; the shipped detector's true peaks are 0.9-1)")
        .add<double>("min-distance-A", &min_distance_A_, 1.2, "least distance between two defects of one class [Angstrom]")
        .add<double>("class-distance-A", &class_distance_A_, 1.2, "peaks of different classes closer than this are one defect: the strongest [Angstrom]")
        .add<double>("edge-margin-A", &edge_margin_A_, 2.0, "report no defect closer than this to the frame's edge, where columns are cut [Angstrom]")
        .add<std::int64_t>("tile-px", &tile_, 512, "owned pixels per tile side [image pixels]")
        .add<std::int64_t>("halo-px", &halo_, 0, "halo around each tile [image pixels] (0: 24 model pixels)")
        .add<int>("threads", &threads_, 0, "LibTorch threads per rank (0: the cores each rank owns)")
        .add<std::string>("figures", &figures_, "auto", "folder for a PNG of the first frame with its defects (auto: figures/ beside the output; empty: none)");
    microscope_.declare(o, "the movie's");
  }

  void validate(const StageContext& ctx) override {
    if (!(threshold_ > 0 && threshold_ < 1e3)) throw ConfigError("threshold: expected a positive heat-map value, found " + Options::text(threshold_));
    require_positive("min-distance-A", min_distance_A_);
    if (!(class_distance_A_ >= 0 && class_distance_A_ < 1e3)) throw ConfigError("class-distance-A: expected 0 or more Angstrom");
    if (!(edge_margin_A_ >= 0 && edge_margin_A_ < 1e3)) throw ConfigError("edge-margin-A: expected 0 or more Angstrom");
    require_positive("tile-px", double(tile_));
    if (halo_ < 0) throw ConfigError("halo-px: expected 0 or more, found " + std::to_string(halo_));
    model_info_ = resolve_named_map_model(model_, "a defect detector", "make-defect-trainset");
    layout_ = model_info_.layout;
    class_names_ = model_info_.class_names;
    const CalibratedStack stack = open_calibrated_stack(ctx.input, "detect-defects (distances in Angstrom; model " + model_info_.location.manifest.name + ")");
    meta_ = stack.meta;
    where_ = stack.where;
    data_path_ = stack.data_path;
    pixel_A_ = stack.pixel_A;
    check_model_conditions(ctx.input, model_info_.location.manifest, pixel_A_, microscope_, "workflows/train_defects.ini");
  }

  void run(const StageContext& ctx, io::ProductWriter& out) override {
    const learn::ThreadSettings threads = learn::configure_threads(ctx.comm, threads_);
    learn::LoadedModel model = learn::load_model(model_);
    const auto& m = model.manifest;
    const double scale = m.pixel_size_A > 0 ? pixel_A_ / m.pixel_size_A : 1.0;  // model pixels per image pixel
    const std::int64_t halo = halo_ > 0 ? halo_ : std::int64_t(std::ceil(24.0 / scale));
    if (ctx.comm.is_root())
      log::info("detect-defects: model ", model.label(), " (", str::join(class_names_, ", "), ") on ", where_, " (", meta_.frames, " x ",
                meta_.height, " x ", meta_.width, " at ", pixel_A_, " A per pixel); ", threads.summary());
    const io::Target in = io::parse_target(ctx.input, "/image_stack");
    const std::shared_ptr<io::h5::File> file = io::FileRegistry::open(in.file, io::h5::Mode::read, &ctx.comm);
    const io::h5::Group source = file->group(in.group);
    const io::h5::Dataset images = source.open_dataset(data_path_);
    io::ImagePassOptions options;
    options.sharding = io::ImageSharding::by_tile;
    options.tile = tile_;
    options.progress_label = "detect-defects";
    ImageNormalisation norm;
    measure_normalisation(ctx.comm, images, m, options, norm);
    dyn::PeakSpec peaks;
    peaks.threshold = float(threshold_);
    peaks.min_distance_px = min_distance_A_ / pixel_A_;
    DefectDetection detection(*model.network, layout_, scale, halo, norm.get(), peaks, class_distance_A_ / pixel_A_,
                              edge_margin_A_ / pixel_A_);
    io::run_image_pass(ctx.comm, images, {&detection}, nullptr, options);
    std::vector<Detection> all = par::allgather_rows(ctx.comm, detection.found());
    std::stable_sort(all.begin(), all.end(), [](const Detection& a, const Detection& b) {
      if (a.frame != b.frame) return a.frame < b.frame;
      return a.y != b.y ? a.y < b.y : a.x < b.x;
    });
    write_table(out.group(), all);
    write_attributes(out.group(), source, model);
    std::vector<std::int64_t> per_class(class_names_.size(), 0);
    for (const auto& d : all) ++per_class[std::size_t(d.cls)];
    if (ctx.comm.is_root()) {
      std::string counts;
      for (std::size_t c = 0; c < per_class.size(); ++c) counts += (c ? ", " : "") + std::to_string(per_class[c]) + " " + class_names_[c];
      log::info("detect-defects: ", all.size(), " defects in ", meta_.frames, " frames (", counts, ")");
    }
    if (!figures_.empty()) {
      par::collectively(ctx.comm, [&] {
        if (ctx.comm.is_root()) write_figure(ctx, images, all, m.name);
      });
    }
  }

 private:
  void write_table(const io::h5::Group& g, const std::vector<Detection>& all) const {
    std::vector<std::int32_t> frame;
    std::vector<float> x, y, score;
    std::vector<std::int8_t> cls;
    for (const auto& d : all) {
      frame.push_back(std::int32_t(d.frame));
      x.push_back(float(d.x));
      y.push_back(float(d.y));
      score.push_back(d.score);
      cls.push_back(std::int8_t(d.cls));
    }
    g.write_vector("frame", frame);
    g.write_vector("x_px", x).set_attr("units", "pixels");
    g.write_vector("y_px", y).set_attr("units", "pixels");
    g.write_vector("defect_class", cls).set_attr("class_names", str::join(class_names_, ","));
    g.write_vector("score", score).set_attr("meaning", "the class's heat-map value at the peak (a defect's training target peaks at 1)");
    g.write_strings("class_names", class_names_);
  }

  void write_attributes(const io::h5::Group& g, const io::h5::Group& source, const learn::LoadedModel& model) const {
    write_source_attributes(g, source, where_, meta_, pixel_A_, model);
    g.set_attr("threshold", threshold_);
    g.set_attr("min_distance_A", min_distance_A_);
    g.set_attr("class_distance_A", class_distance_A_);
    g.set_attr("edge_margin_A", edge_margin_A_);
  }

  // The first frame (at most its top-left 1024 x 1024 pixels) with its defects circled by class.
  void write_figure(const StageContext& ctx, const io::h5::Dataset& images, const std::vector<Detection>& all, const std::string& model_name) const {
    namespace fs = std::filesystem;
    std::int64_t h = 0, w = 0;
    io::plot::Panel panel = first_image_panel(images, meta_.height, meta_.width, pixel_A_, "frame 0", h, w);
    io::plot::Legend legend{"defect", {}};
    for (std::size_t c = 0; c < class_names_.size(); ++c) legend.entries.push_back({io::plot::series_colour(int(c)), class_names_[c]});
    panel.legend = legend;
    for (const auto& d : all) {
      if (d.frame != 0 || d.x >= double(w) || d.y >= double(h)) continue;
      io::plot::Mark mark;
      mark.kind = io::plot::Mark::Kind::circle;
      mark.x0 = d.x, mark.y0 = d.y, mark.radius = 0.8 / pixel_A_;
      mark.colour = io::plot::series_colour(d.cls);
      mark.line_width = 1.5;
      panel.marks.push_back(mark);
    }
    const fs::path dir = figures_ == "auto" ? fs::absolute(ctx.output.file).parent_path() / "figures" : fs::path(figures_);
    fs::create_directories(dir);
    const std::string stem = fs::path(ctx.output.file).stem().string();
    io::plot::write_figure((dir / (stem + "_defects.png")).string(), panel,
                           "Frame 0 of " + where_ + " with the defects that detector " + model_name +
                               " finds in it, circled in the colour of their class (legend; circles of 0.8 A radius).");
  }

  std::string model_, figures_;
  double threshold_ = 0.85, min_distance_A_ = 1.2, class_distance_A_ = 1.2, edge_margin_A_ = 2.0;
  MicroscopeOptions microscope_;
  std::int64_t tile_ = 512, halo_ = 0;
  int threads_ = 0;
  NamedMapModel model_info_;
  learn::MapModelLayout layout_;
  std::vector<std::string> class_names_;
  io::ImageStackMeta meta_;
  std::string where_, data_path_;
  double pixel_A_ = 0;
};

}  // namespace

std::unique_ptr<Stage> make_detect_defects_stage() { return std::make_unique<DetectDefects>(); }

}  // namespace tmdflow::stages

// Stage predict: a trained map model (U-Net, detector, autoencoder: one output map per channel,
// the input's size) run over every image of an image_stack product, tile by tile with halos
// (io/image_pass.hpp), so that images of any size and stacks of any length fit in memory and
// shard over the ranks (the tile computation: learn/map_inference.hpp). The maps lie exactly on
// the image's pixel grid. The product names the model (name and sha256).
#include <cmath>
#include <filesystem>

#include "stage.hpp"
#include "stage_list.hpp"
#include "tmdflow/core/log.hpp"
#include "tmdflow/io/emd.hpp"
#include "tmdflow/io/h5.hpp"
#include "tmdflow/io/image_pass.hpp"
#include "tmdflow/io/image_stack.hpp"
#include "tmdflow/io/plot.hpp"
#include "tmdflow/io/plot_panels.hpp"
#include "tmdflow/par/failure.hpp"
#include "tmdflow/learn/map_inference.hpp"
#include "tmdflow/learn/model_file.hpp"
#include "tmdflow/learn/threads.hpp"

namespace tmdflow::stages {
namespace {

class Predict : public Stage {
 public:
  std::string name() const override { return "predict"; }
  std::string summary() const override { return learn_stage_summary("predict"); }
  std::string description() const override {
    return "Runs a trained map model (--model NAME|PATH: a name from `tmdflow models`, or a model folder or file) over every\n"
           "image of an image_stack product (ingest), tile by tile with a halo, sharded over the ranks. Each tile is\n"
           "resampled to the model's pixel size (the stack must be calibrated when the model has one), normalised as in\n"
           "training (by the mean and standard deviation of its whole image, so the maps do not depend on the tiling), run, and its maps resampled back onto the image's own pixel grid. Writes map_0 .. map_{C-1} [N, H, W]\n"
           "float32 in maps/ (the image's pixel grid), schema predictions/1, naming the model and its sha256.";
  }
  std::string product_schema() const override { return "predictions/1"; }
  std::string default_group() const override { return "/predictions"; }
  bool validate_reads_input() const override { return true; }

  void declare(Options& o) override {
    o.add<std::string>("model", &model_, "", "model: a name (tmdflow models) or a model folder or file")
        .add<std::int64_t>("tile-px", &tile_, 256, "owned pixels per tile side [image pixels]")
        .add<std::int64_t>("halo-px", &halo_, 0, "halo around each tile [image pixels] (0: 24 model pixels)")
        .add<int>("threads", &threads_, 0, "LibTorch threads per rank (0: the cores each rank owns)")
        .add<std::string>("figures", &figures_, "auto", "folder for a PNG of the first image and its maps (auto: figures/ beside the output; none: no figure)");
  }

  void validate(const StageContext& ctx) override {
    if (model_.empty()) throw ConfigError("model: expected a model name or path (tmdflow models lists them)");
    require_positive("tile-px", double(tile_));
    if (halo_ < 0) throw ConfigError("halo-px: expected 0 or more, found " + std::to_string(halo_));
    model_location_ = learn::resolve_model(model_);  // sha256 checked here, before any work
    const auto& m = model_location_.manifest;
    layout_ = learn::map_model_layout(m.family, m.params);  // refuses a values model
    const io::ImageStackReader reader = io::ImageStackReader::open(ctx.input);
    data_path_ = reader.data_path();
    meta_ = reader.meta();
    where_ = reader.where();
    pixel_A_ = 0;
    if (m.pixel_size_A > 0) {
      reader.require_calibrated("predict with model " + m.name + " (trained at " + std::to_string(m.pixel_size_A) + " A per pixel)");
      const auto& im = meta_;
      if (std::fabs(im.pixel_size_y_A / im.pixel_size_x_A - 1) > 0.02)
        throw InputError(ctx.input + ": expected square pixels for model " + m.name + ", found " + std::to_string(im.pixel_size_y_A) +
                         " x " + std::to_string(im.pixel_size_x_A) + " A (give ingest --pixel-size-A)");
      pixel_A_ = im.pixel_size_x_A;
    }
  }

  std::uint64_t planned_bytes(const StageContext&) const override {
    const auto& im = meta_;
    return std::uint64_t(im.frames) * std::uint64_t(im.height) * std::uint64_t(im.width) * sizeof(float) * std::uint64_t(layout_.channels);
  }

  void run(const StageContext& ctx, io::ProductWriter& out) override {
    const learn::ThreadSettings threads = learn::configure_threads(ctx.comm, threads_);
    learn::LoadedModel model = learn::load_model(model_);
    const auto& m = model.manifest;
    const double scale = m.pixel_size_A > 0 ? pixel_A_ / m.pixel_size_A : 1.0;  // model pixels per image pixel
    const std::int64_t halo = halo_ > 0 ? halo_ : std::int64_t(std::ceil(24.0 / scale));
    const learn::MapModelLayout layout = learn::map_model_layout(m.family, m.params);
    const std::int64_t channels = layout.channels;
    if (ctx.comm.is_root())
      log::info("predict: model ", model.label(), " (", m.family, ", ", channels, " maps) at ", m.pixel_size_A > 0 ? m.pixel_size_A : pixel_A_,
                " A per pixel on ", where_, " (", meta_.frames, " x ", meta_.height, " x ", meta_.width, scale != 1.0 ? ", resampled by " + std::to_string(scale) : std::string(), "); ", threads.summary());
    const bool normalise = m.normalisation.rfind("per-sample", 0) == 0;
    const io::h5::Group& g = out.group();
    g.set_attr("emd_group_type", "root");
    g.set_attr("python_class", "Root");
    io::h5::Group maps = g.create_group("maps");
    const io::Target in = io::parse_target(ctx.input, "/image_stack");
    const std::shared_ptr<io::h5::File> file = io::FileRegistry::open(in.file, io::h5::Mode::read, &ctx.comm);
    const io::h5::Dataset images = file->group(in.group).open_dataset(data_path_);
    io::ImagePassOptions options;
    options.sharding = io::ImageSharding::by_tile;
    options.tile = tile_;
    options.progress_label = "predict";
    learn::ImageStatistics stats;
    if (normalise) {
      io::ImagePassOptions first = options;
      first.show_progress = false;
      io::run_image_pass(ctx.comm, images, {&stats}, nullptr, first);
    }
    learn::MapModelAnalysis analysis(*model.network, layout, scale, halo, normalise ? &stats : nullptr);
    io::run_image_pass(ctx.comm, images, {&analysis}, &maps, options);
    g.set_attr("model_name", m.name);
    g.set_attr("model_sha256", model.sha256);
    g.set_attr("model_task", m.task);
    g.set_attr("source", ctx.input);
    g.set_attr("pixel_size_A", pixel_A_);
    if (!figures_folder(figures_, ctx.output.file).empty()) {
      out.file().flush();
      std::vector<io::h5::Dataset> map_data;  // opened on every rank; read by rank 0 alone
      for (std::int64_t c = 0; c < channels; ++c) map_data.push_back(maps.open_dataset("map_" + std::to_string(c)));
      par::collectively(ctx.comm, [&] {
        if (ctx.comm.is_root()) write_figure(ctx, images, map_data, m.name);
      });
    }
  }

  // The first image of the stack beside its maps (at most 1024 x 1024 pixels of it: the top left).
  void write_figure(const StageContext& ctx, const io::h5::Dataset& images, const std::vector<io::h5::Dataset>& maps,
                    const std::string& model_name) const {
    const std::int64_t channels = std::int64_t(maps.size());
    namespace fs = std::filesystem;
    const std::int64_t h = std::min<std::int64_t>(meta_.height, 1024), w = std::min<std::int64_t>(meta_.width, 1024);
    std::vector<float> image(std::size_t(h * w));
    images.read<float>({0, 0, 0}, {1, h, w}, image.data(), io::h5::Xfer::independent);
    const io::plot::Axes axes = io::plot::scan_axes(pixel_A_ > 0 ? pixel_A_ : 1.0, pixel_A_ > 0 ? "A" : "pixels");
    io::plot::Figure fig;
    fig.title = "model " + model_name + " on " + where_;
    fig.columns = int(std::min<std::int64_t>(channels + 1, 3));
    fig.panels.push_back(io::plot::intensity_panel("image", image, h, w, axes, "intensity", io::robust_scale(image)));
    for (std::int64_t c = 0; c < channels; ++c) {
      std::vector<float> v(image.size());
      maps[std::size_t(c)].read<float>({0, 0, 0}, {1, h, w}, v.data(), io::h5::Xfer::independent);
      fig.panels.push_back(io::plot::intensity_panel("map_" + std::to_string(c), v, h, w, axes, "model output",
                                                     io::robust_scale(v, 0.005, 0.995, io::Ramp::heat)));
    }
    const fs::path dir = figures_folder(figures_, ctx.output.file);
    fs::create_directories(dir);
    const std::string stem = fs::path(ctx.output.file).stem().string() + "_" + model_name;
    io::plot::write_figure((dir / (stem + "_maps.png")).string(), fig,
                           "The first image of " + where_ + " and the maps that model " + model_name + " (" +
                               model_location_.manifest.task + ") gives for it, one per output channel, on the image's pixel grid.");
  }

 private:
  std::string model_;
  std::int64_t tile_ = 256, halo_ = 0;
  std::string figures_;
  int threads_ = 0;
  io::ModelLocation model_location_;
  learn::MapModelLayout layout_;
  io::ImageStackMeta meta_;
  std::string where_;
  double pixel_A_ = 0;
  std::string data_path_ = "images/data";  // the frames within the input group (io::ImageStackReader)
};

}  // namespace

std::unique_ptr<Stage> make_predict_stage() { return std::make_unique<Predict>(); }

}  // namespace tmdflow::stages

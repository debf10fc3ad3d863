// Stage style-translate: every patch of a trainset (make-trainset, noise-free) through a learned
// style translator (style-train; learn/style_translator.hpp): resampled to the translator's pixel
// size, translated into the experiments' style with noise keyed by the patch's index (the same set
// for any number of ranks), resampled back. Writes a trainset/1 with the same labels and attributes,
// the patches standardised (mean 0, sd 1 each), and the translator named; train-stacking takes it
// as it is. Sharded over the ranks in blocks of patches.
#include <torch/torch.h>

#include <algorithm>

#include "stage.hpp"
#include "stage_list.hpp"
#include "tmdflow/core/log.hpp"
#include "tmdflow/io/emd.hpp"
#include "tmdflow/learn/model_file.hpp"
#include "tmdflow/learn/style_translator.hpp"
#include "tmdflow/learn/threads.hpp"
#include "tmdflow/par/failure.hpp"
#include "tmdflow/par/partition.hpp"
#include "tmdflow/par/progress.hpp"

namespace tmdflow::stages {
namespace {

class StyleTranslate : public Stage {
 public:
  std::string name() const override { return "style-translate"; }
  std::string summary() const override { return "translate a trainset's noise-free patches into an experiment's style with a style-train model"; }
  std::string description() const override {
    return "Runs every patch of a trainset (make-trainset, noise-free: --dose-range-e-per-A2 0,0 and no PSNR) through a translator\n"
           "trained by style-train: resampled to its pixel size, translated with per-pixel noise keyed by (--seed, patch index),\n"
           "resampled back. Writes trainset/1 with the input's labels and attributes, the patches standardised (mean 0, sd 1)\n"
           "and the attribute style_translator naming the model. Definitions: data_schema/style.md.";
  }
  std::string product_schema() const override { return "trainset/1"; }
  std::string default_group() const override { return "/trainset"; }
  bool validate_reads_input() const override { return true; }

  void declare(Options& o) override {
    o.add<std::string>("model", &model_, "", "the translator: a model name or folder (style-train)")
        .add<std::int64_t>("batch", &batch_, 16, "patches per forward pass")
        .add<int>("threads", &threads_, 0, "intra-op threads per rank (0: the cores of this rank's share)")
        .add<std::uint64_t>("seed", &seed_, 1, "random seed of the translation's noise");
  }

  void validate(const StageContext& ctx) override {
    if (model_.empty()) throw ConfigError("model: expected a style-train model (name or folder)");
    if (batch_ < 1) throw ConfigError("batch: expected at least 1, found " + std::to_string(batch_));
    location_ = learn::resolve_model(model_);
    if (location_.manifest.family != "style-translator")
      throw InputError(location_.manifest_path + ": expected a style-translator model (style-train), found family '" + location_.manifest.family + "'");
    const io::Target in = io::parse_target(ctx.input, "/trainset");
    io::h5::File f = io::h5::File::open(in.file, io::h5::Mode::read, nullptr);
    const io::h5::Group g = f.group(in.group);
    where_ = in.file + ":" + in.group;
    if (!g.exists("patches/data") || !g.exists("labels"))
      throw InputError(where_ + ": expected a trainset (make-trainset) with patches/ and labels/, found " + (g.exists("patches/data") ? "no labels" : "no patches"));
    if (g.exists("targets")) throw InputError(where_ + ": expected a trainset of patches and labels, found heat-map targets (not translated)");
    const io::h5::Shape s = g.open_dataset("patches/data").shape();
    if (s.size() != 3) throw InputError(where_ + "/patches/data: expected (N, H, W), found rank " + std::to_string(s.size()));
    count_ = s[0], ny_ = s[1], nx_ = s[2];
    pixel_A_ = g.attr_double("pixel_A").value_or(0);
    if (!(pixel_A_ > 0)) throw InputError(where_ + ": expected the attribute pixel_A, found none");
    if (g.attr_doubles("dose_range_e_per_A2").value_or(std::vector<double>{0, 0}).back() > 0 ||
        g.attr_doubles("psnr_range_dB").value_or(std::vector<double>{0, 0}).back() > 0)
      log::warn("style-translate: ", where_, ": the patches have noise (dose or PSNR range); the translator expects noise-free ones");
  }

  void run(const StageContext& ctx, io::ProductWriter& out) override {
    const learn::ThreadSettings threads = learn::configure_threads(ctx.comm, threads_);
    const learn::LoadedModel model = learn::load_model(model_);
    auto* tr = dynamic_cast<learn::StyleTranslator*>(model.network.get());
    if (!tr) throw InputError(model.path + ": expected a style-translator network");
    const double tp = model.manifest.pixel_size_A;
    const io::Target in = io::parse_target(ctx.input, "/trainset");
    io::h5::File f = io::h5::File::open(in.file, io::h5::Mode::read, nullptr);
    const io::h5::Group g = f.group(in.group);
    const io::h5::Group& root = out.group();
    // Attributes and labels as they are.
    for (const auto& a : g.attr_names()) {
      if (a.rfind("tmdflow_", 0) == 0) continue;  // the writer's own (stage, command, completeness)
      if (auto v = g.attr_string(a)) root.set_attr(a, *v);
      else if (auto d = g.attr_doubles(a); d && d->size() != 1) root.set_attr(a, *d);
      else if (auto i = g.attr_int(a)) root.set_attr(a, *i);
      else if (auto x = g.attr_double(a)) root.set_attr(a, *x);
    }
    root.set_attr("style_translator", model.label());
    root.set_attr("style_source", where_);
    root.set_attr("style_seed", std::int64_t(seed_));
    const io::h5::Group lin = g.open_group("labels");
    const io::h5::Group lout = root.create_group("labels");
    for (const auto& name : lin.children()) {
      const io::h5::Dataset d = lin.open_dataset(name);
      const std::vector<double> v = d.read_all<double>();
      io::h5::Dataset o = lout.write_vector(name, v);
      for (const auto& a : d.attr_names())
        if (auto s = d.attr_string(a)) o.set_attr(a, *s);
    }
    io::emd::ArraySpec as{"patches", io::Dtype::f32, {count_, ny_, nx_}, {{"patch", "index", 0.0, 1.0}, {"y", "A", 0.0, pixel_A_}, {"x", "A", 0.0, pixel_A_}},
                          "Array", "standardised grey level (translated into the experiments' style)", {1, ny_, nx_}};
    io::h5::Dataset patches = io::emd::create_array(root, as);
    const io::h5::Dataset src = g.open_dataset("patches/data");
    const par::Range mine = par::block_partition(count_, ctx.comm.size(), ctx.comm.rank());
    const std::int64_t most = ctx.comm.allreduce(mine.size(), par::Op::max);
    std::vector<float> buffer(std::size_t(batch_ * ny_ * nx_));
    par::Progress progress(ctx.comm, "style-translate", std::uint64_t(count_), "patches");
    if (ctx.comm.is_root())
      log::info("style-translate: ", count_, " patches of ", ny_, " x ", nx_, " at ", Options::text(pixel_A_), " A through ", model.label(), " (at ",
                Options::text(tp), " A; ", threads.summary(), ")");
    torch::NoGradGuard guard;
    for (std::int64_t b0 = 0; b0 < most; b0 += batch_) {
      const std::int64_t n = std::clamp<std::int64_t>(mine.size() - b0, 0, batch_);
      if (n > 0) {
        src.read<float>(io::h5::Shape{mine.begin + b0, 0, 0}, io::h5::Shape{n, ny_, nx_}, buffer.data(), io::h5::Xfer::independent);
        const torch::Tensor x = torch::from_blob(buffer.data(), {n, 1, ny_, nx_}, torch::kFloat32);
        const torch::Tensor y = learn::translate_at(*tr, x, pixel_A_, tp, seed_, mine.begin + b0).contiguous();
        std::copy_n(y.data_ptr<float>(), std::size_t(n * ny_ * nx_), buffer.data());
      }
      par::interruption_point(ctx.comm);
      patches.write<float>(io::h5::Shape{n > 0 ? mine.begin + b0 : 0, 0, 0}, io::h5::Shape{n, ny_, nx_}, buffer.data());
      progress.advance(std::uint64_t(n));
    }
    progress.finish();
  }

 private:
  std::string model_, where_;
  std::int64_t batch_ = 16, count_ = 0, ny_ = 0, nx_ = 0;
  int threads_ = 0;
  std::uint64_t seed_ = 1;
  double pixel_A_ = 0;
  io::ModelLocation location_;
};

}  // namespace

std::unique_ptr<Stage> make_style_translate_stage() { return std::make_unique<StyleTranslate>(); }

}  // namespace tmdflow::stages

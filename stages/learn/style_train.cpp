// Stage style-train: a learned translation of noise-free simulations into the style of unlabelled
// experimental images (learn/style_translator.hpp; data_schema/style.md "Learned translation"):
// TED-Gen's Trident-enhanced DRIT, sized for CPUs. Data selection as in the paper, with physical
// features instead of VGG16's: each simulation and each experiment is described by the grey-level
// quantiles and the radially averaged power spectrum of its (lightly blurred) central crop, the
// features are reduced by PCA and clustered by k-means (K = 2), and the translator trains on the
// simulations of the experiments' cluster nearest to the experiments. Data-parallel over the
// ranks. Writes the model (the simulation -> experiment path) and the product style_translator/1:
// the selection, the training curves and, with --style (a style-fit product of one experiment), the
// measures of the learned translation beside the noise-free, noise-added and style-fit simulations
// of the same structure (grey-level KL, Ra, and how far the translation moved the atom columns).
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <numeric>

#include "stage.hpp"
#include "stage_list.hpp"
#include "train_support.hpp"
#include "tmdflow/analysis/style/grey_measures.hpp"
#include "tmdflow/analysis/style/style_renderer.hpp"
#include "tmdflow/core/log.hpp"
#include "tmdflow/io/emd.hpp"
#include "tmdflow/io/image_stack.hpp"
#include "tmdflow/io/plot.hpp"
#include "tmdflow/io/plot_curves.hpp"
#include "tmdflow/io/plot_panels.hpp"
#include "tmdflow/learn/model_file.hpp"
#include "tmdflow/learn/style_selection.hpp"
#include "tmdflow/learn/style_translator.hpp"
#include "tmdflow/learn/threads.hpp"
#include "tmdflow/par/failure.hpp"

namespace tmdflow::stages {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

torch::Tensor as_tensor(const learn::TrainingImage& im) {
  return torch::from_blob(const_cast<float*>(im.pixels.data()), {1, 1, im.ny, im.nx}, torch::kFloat32).clone();
}

learn::TrainingImage from_tensor(const torch::Tensor& t) {
  const torch::Tensor c = t.contiguous();
  learn::TrainingImage im;
  im.ny = c.size(2), im.nx = c.size(3);
  im.pixels.assign(c.data_ptr<float>(), c.data_ptr<float>() + im.ny * im.nx);
  return im;
}

// An image resampled from `pixel_A` to the translator's pixel size.
learn::TrainingImage at_pixel(const std::vector<float>& v, std::int64_t ny, std::int64_t nx, double pixel_A, double target_A) {
  const torch::Tensor x = torch::from_blob(const_cast<float*>(v.data()), {1, 1, ny, nx}, torch::kFloat32);
  const double f = pixel_A / target_A;
  return from_tensor(learn::resample(x, std::max<std::int64_t>(8, std::llround(double(ny) * f)), std::max<std::int64_t>(8, std::llround(double(nx) * f))));
}

class StyleTrain : public Stage {
 public:
  std::string name() const override { return "style-train"; }
  std::string summary() const override {
    return "learn a translation of noise-free simulations into the style of unlabelled experimental images (disentangled GAN)";
  }
  std::string description() const override {
    return "Trains TED-Gen's Trident-enhanced DRIT, sized for CPUs (learn/style_translator.hpp): a content encoder shared by\n"
           "both domains, attribute encoders and generators per domain (the generators re-render their input through a skip\n"
           "connection, with per-pixel noise), patch discriminators and a content discriminator, cross-cycle and self\n"
           "reconstruction, a content-consistency loss between blurred images and their translations (atoms stay put) and a\n"
           "grey-level quantile loss. --input: noise-free simulations (a make-trainset product; its patches are the\n"
           "candidates); --experiments: one or more calibrated image stacks (stage ingest), every frame an experiment. Data\n"
           "selection: grey-level quantiles and radial power spectra of blurred central crops, PCA, k-means with K = 2; the\n"
           "translator trains on the simulations of the experiments' cluster nearest to them (--select-min .. --select-max).\n"
           "Everything is resampled to --pixel-A. Crops of --crop-px with rotations of +-45 deg, flips and +-10 % scale.\n"
           "Writes the model (--model-dir / --model-name: the simulation -> experiment translator, used by style-translate)\n"
           "and style_translator/1 (selection, training curves; with --style the measures of the translation against the\n"
           "style-fit's experiment). Definitions: data_schema/style.md.";
  }
  std::string product_schema() const override { return "style_translator/1"; }
  std::string default_group() const override { return "/style_translator"; }
  bool validate_reads_input() const override { return true; }
  std::vector<std::string> extra_inputs() const override {
    std::vector<std::string> v = experiments_;
    if (!style_.empty()) v.push_back(style_);
    return v;
  }

  void declare(Options& o) override {
    o.add<std::string>("experiments", &experiments_text_, "", "image stacks of the experiments, FILE.h5[:/images], comma-separated (calibrated)")
        .add<double>("pixel-A", &pixel_A_, 0.1, "pixel size the translator works at [Angstrom]")
        .add<std::int64_t>("crop-px", &fit_.crop, 256, "side of the training crops [pixels] (a multiple of 8)")
        .add<std::int64_t>("batch", &fit_.batch, 4, "crops of each domain per step (global)")
        .add<std::int64_t>("steps", &fit_.steps, 1500, "training steps")
        .add<double>("learning-rate", &fit_.learning_rate, 2e-4, "Adam learning rate (betas 0.5, 0.999)")
        .add<double>("consistency-weight", &fit_.weight_content_consistency, 2, "weight of the content-consistency loss")
        .add<double>("cycle-weight", &fit_.weight_cycle, 2, "weight of the cross-cycle reconstruction loss")
        .add<double>("quantile-weight", &fit_.weight_quantile, 5, "weight of the grey-level quantile loss")
        .add<int>("select-min", &select_min_, 16, "fewest simulations trained on (the nearest to the experiments fill up the cluster)")
        .add<int>("select-max", &select_max_, 32, "most simulations trained on (the nearest of the experiments' cluster)")
        .add<std::string>("network-params", &network_params_, "base=8,content=32,attribute=8,tone=64",
                                "sizes of the translator (tone: segments of its output tone curve, 0: none)")
        .add<std::string>("style", &style_, "", "a style-fit product FILE.h5[:/style] of one experiment: measure the translation against it")
        .add<std::string>("model-name", &model_name_, "style-translator", "name of the model")
        .add<std::string>("model-dir", &model_dir_, "", "folder of the model (default: the --model-name folder in 'models' beside the output)")
        .add<int>("threads", &threads_, 0, "intra-op threads per rank (0: the cores of this rank's share)")
        .add<std::uint64_t>("seed", &fit_.seed, 1, "random seed (weights, crops, noise)")
        .add<std::string>("figures", &figures_, "auto", "folder for the PNG sheets (auto: figures/ beside the output; none: none)");
  }

  void validate(const StageContext& ctx) override {
    require_positive("pixel-A", pixel_A_);
    if (fit_.crop % 8 != 0 || fit_.crop < 16) throw ConfigError("crop-px: expected a multiple of 8, at least 16, found " + std::to_string(fit_.crop));
    if (fit_.steps < 1) throw ConfigError("steps: expected at least 1, found " + std::to_string(fit_.steps));
    if (fit_.batch < 1) throw ConfigError("batch: expected at least 1, found " + std::to_string(fit_.batch));
    if (select_min_ < 1 || select_max_ < select_min_)
      throw ConfigError("select-min, select-max: expected 1 <= min <= max, found " + std::to_string(select_min_) + ", " + std::to_string(select_max_));
    experiments_.clear();
    for (auto e : str::split(experiments_text_, ','))
      if (!str::trim(e).empty()) experiments_.push_back(str::trim(e));
    if (experiments_.empty()) throw ConfigError("experiments: expected one or more image stacks FILE.h5[:/images]");
    learn::NetworkSpec spec{"style-translator", network_params_of(network_params_)};
    spec_ = learn::TranslatorSizes::from(spec), spec_.to(net_spec_);
    // Simulations: a trainset's patches.
    const io::Target in = io::parse_target(ctx.input, "/trainset");
    {
      io::h5::File f = io::h5::File::open(in.file, io::h5::Mode::read, nullptr);
      const io::h5::Group g = f.group(in.group);
      const std::string data = g.kind("patches") == io::h5::LinkKind::group ? "patches/data" : "patches";
      if (!g.exists(data)) throw InputError(in.file + ":" + in.group + ": expected the patches of a trainset (make-trainset), found none");
      const io::h5::Dataset d = g.open_dataset(data);
      const io::h5::Shape s = d.shape();
      if (s.size() != 3) throw InputError(in.file + ":" + in.group + "/" + data + ": expected (N, H, W) patches, found rank " + std::to_string(s.size()));
      sim_count_ = s[0], sim_ny_ = s[1], sim_nx_ = s[2];
      sim_pixel_A_ = g.attr_double("pixel_A").value_or(0);
      if (!(sim_pixel_A_ > 0)) throw InputError(in.file + ":" + in.group + ": expected the attribute pixel_A (the patches' pixel size), found none");
      if (g.attr_doubles("dose_range_e_per_A2").value_or(std::vector<double>{0, 0}).back() > 0 ||
          g.attr_doubles("psnr_range_dB").value_or(std::vector<double>{0, 0}).back() > 0)
        log::warn("style-train: ", in.file, ":", in.group, ": the simulations have noise (dose or PSNR range); the translator expects noise-free ones");
      material_ = g.attr_string("material").value_or("");
    }
    const double f = sim_pixel_A_ / pixel_A_;
    if (double(std::min(sim_ny_, sim_nx_)) * f < double(fit_.crop))
      throw InputError(in.file + ":" + in.group + "/patches: expected patches of at least " + Options::text(double(fit_.crop) / f) +
                       " pixels (crop-px at pixel-A), found " + std::to_string(std::min(sim_ny_, sim_nx_)));
    for (const auto& e : experiments_) {
      const io::ImageStackReader r = io::ImageStackReader::open(e);
      r.require_calibrated("style-train (ingest with --pixel-size-A)");
      const double side = double(std::min(r.meta().height, r.meta().width)) * r.meta().pixel_size_x_A / pixel_A_;
      if (side < double(fit_.crop))
        throw InputError(r.where() + ": expected images of at least " + std::to_string(fit_.crop) + " pixels at " + Options::text(pixel_A_) +
                         " A per pixel (crop-px), found " + Options::text(std::floor(side)));
    }
    if (!style_.empty() && fs::exists(io::parse_target(style_, "/style").file)) read_style_product();
    const fs::path out_dir = fs::absolute(ctx.output.file).parent_path();
    model_dir_used_ = model_dir_.empty() ? (out_dir / "models" / model_name_).string() : model_dir_;
    if (fs::exists(fs::path(model_dir_used_) / "model.pt") && !ctx.replace)
      throw ConfigError("model-dir: " + model_dir_used_ + " already holds a model (model.pt): give another --model-name or --model-dir, or --force");
  }

  void run(const StageContext& ctx, io::ProductWriter& out) override {
    const learn::ThreadSettings threads = learn::configure_threads(ctx.comm, threads_);
    if (!style_.empty() && style_where_.empty()) read_style_product();
    // Every rank holds every image (they are few).
    std::vector<learn::TrainingImage> sims, exps;
    std::vector<std::string> exp_names;
    {
      const io::Target in = io::parse_target(ctx.input, "/trainset");
      io::h5::File f = io::h5::File::open(in.file, io::h5::Mode::read, nullptr);
      const io::h5::Group g = f.group(in.group);
      const io::h5::Dataset d = g.open_dataset(g.kind("patches") == io::h5::LinkKind::group ? "patches/data" : "patches");
      std::vector<float> v(std::size_t(sim_ny_ * sim_nx_));
      for (std::int64_t k = 0; k < sim_count_; ++k) {
        d.read<float>(io::h5::Shape{k, 0, 0}, io::h5::Shape{1, sim_ny_, sim_nx_}, v.data(), io::h5::Xfer::independent);
        sims.push_back(at_pixel(v, sim_ny_, sim_nx_, sim_pixel_A_, pixel_A_));
      }
    }
    for (const auto& e : experiments_) {
      const io::ImageStackReader r = io::ImageStackReader::open(e);
      const auto& m = r.meta();
      std::vector<float> v(std::size_t(m.height * m.width));
      for (std::int64_t k = 0; k < m.frames; ++k) {
        r.read_frames_as<float>(k, 1, v.data());
        exps.push_back(at_pixel(v, m.height, m.width, m.pixel_size_x_A, pixel_A_));
        exp_names.push_back(r.where() + (m.frames > 1 ? " frame " + std::to_string(k) : std::string()));
      }
    }
    learn::StyleSelectionSpec selection;
    selection.select_min = select_min_, selection.select_max = select_max_, selection.pixel_A = pixel_A_, selection.seed = fit_.seed;
    const learn::StyleSelection sel = learn::select_for_style(ctx.comm, sims, exps, selection);
    std::vector<learn::TrainingImage> chosen;
    for (std::size_t k = 0; k < sims.size(); ++k)
      if (sel.selected[k]) chosen.push_back(sims[k]);
    if (ctx.comm.is_root())
      log::info("style-train: ", chosen.size(), " of ", sims.size(), " simulations selected; ", exps.size(), " experiment(s); ",
                fit_.steps, " steps of ", fit_.batch, " crops of ", fit_.crop, " px at ", Options::text(pixel_A_), " A (", threads.summary(), ")");

    learn::StyleTranslator translator(net_spec_);
    const learn::TranslatorLog log = learn::fit_translator(ctx.comm, translator, chosen, exps, fit_, 25, [&](std::int64_t step, const learn::TranslatorLog& l) {
      log::info("style-train: step ", step, "/", fit_.steps, ": D ", Options::text(l.loss_d.back()), ", adversarial ",
                Options::text(l.loss_adversarial.back()), ", cycle ", Options::text(l.loss_cycle.back()), ", consistency ",
                Options::text(l.loss_consistency.back()), ", quantile ", Options::text(l.loss_quantile.back()), " (", Options::text(l.seconds), " s)");
    });
    translator.eval();

    // The measures against the style-fit's experiment (every rank the same: small).
    Measures meas;
    if (!style_.empty()) meas = measure(translator);

    // Model (rank 0 writes), then the product (collective).
    io::ModelManifest man;
    man.name = model_name_;
    man.task = "translation of noise-free ADF-STEM simulations into the style of experimental images";
    man.family = net_spec_.family;
    man.params = net_spec_.params;
    man.input_channels = 1;
    man.pixel_size_A = pixel_A_;
    man.normalisation = "per-image mean 0, sd 1 (in and out)";
    man.output = json{{"kind", "image"}, {"domain", "experiment"}}.dump();
    man.conditions = json{{"material", material_}, {"experiments", exp_names}}.dump();
    const io::Target in = io::parse_target(ctx.input, "/trainset");
    io::h5::File inf = io::h5::File::open(in.file, io::h5::Mode::read, nullptr);
    man.data = json{{"command", inf.group(in.group).attr_string("tmdflow_command").value_or("")},
                    {"product", in.file + ":" + in.group},
                    {"simulations", sims.size()},
                    {"selected", chosen.size()},
                    {"experiments", exp_names}}
                   .dump();
    man.training = json{{"command", ctx.command}, {"steps", fit_.steps}, {"ranks", ctx.comm.size()}, {"global_batch", fit_.batch},
                        {"crop_px", fit_.crop}, {"seconds", log.seconds}}
                       .dump();
    json metrics = {{"final_losses", {{"discriminators", log.loss_d.back()}, {"adversarial", log.loss_adversarial.back()},
                                      {"cycle", log.loss_cycle.back()}, {"consistency", log.loss_consistency.back()}, {"quantile", log.loss_quantile.back()}}}};
    if (meas.valid) metrics["measures"] = {{"kl_translated", meas.kl.back()}, {"ra_translated", meas.ra.back()}, {"atom_shift_mean_A", meas.shift_mean_A},
                                           {"atom_shift_p95_A", meas.shift_p95_A}, {"columns_matched", meas.matched},
                                           {"atom_shift_averaged_mean_A", meas.shift_averaged_mean_A},
                                           {"atom_shift_median_A", meas.shift_median_A},
                                           {"atom_shift_resampled_mean_A", meas.shift_resampled_mean_A},
                                           {"kl_network_alone", meas.kl_network_alone},
                                           {"kl_at_pixel", meas.kl_model_pixel},
                                           {"atom_shift_by_simulation_A", meas.shift_by_simulation}};
    man.metrics = metrics.dump();
    std::string sha;
    par::collectively(ctx.comm, [&] {
      if (ctx.comm.is_root()) sha = learn::save_model(translator, man, model_dir_used_).sha256;
    });
    sha = ctx.comm.bcast_string(sha, 0);
    write_product(ctx, out.group(), sims.size(), exps, exp_names, sel, log, meas, sha, threads.summary());
    if (!figures_folder(figures_, ctx.output.file).empty())
      par::collectively(ctx.comm, [&] {
        if (ctx.comm.is_root()) write_figures(ctx, translator, chosen, exps, sel, log, meas);
      });
  }

 private:
  struct Measures {
    bool valid = false;
    std::vector<std::string> names;  // noise_free, noise_added, style_fit, translated
    std::vector<double> kl, ra;
    double experiment_ra = 0, shift_mean_A = 0, shift_p95_A = 0, shift_median_A = 0, shift_averaged_mean_A = 0, shift_averaged_p95_A = 0,
           shift_resampled_mean_A = 0;
    std::vector<double> shift_by_simulation;  // mean column shift of each of the 4 simulations [A]
    double kl_network_alone = -1;             // KL of the translation without its tone curve (-1: none)
    std::vector<double> kl_model_pixel;       // the 4 KLs with every image at the translator's pixel size (empty: no experiment)
    std::int64_t matched = 0, columns = 0;
    std::vector<float> translated;  // on the experiment's grey scale, H x W of the style's simulation
    std::vector<double> histogram;  // of the translation
  };

  void read_style_product() {
    const io::Target t = io::parse_target(style_, "/style");
    io::h5::File f = io::h5::File::open(t.file, io::h5::Mode::read, nullptr);
    const io::h5::Group g = f.group(t.group);
    style_where_ = t.file + ":" + t.group;
    if (!g.exists("simulation/data") || !g.exists("measures/histogram_experiment"))
      throw InputError(style_where_ + ": expected a style-fit product (style/1) with simulation/ and measures/, found neither");
    style_pixel_A_ = g.attr_double("pixel_A").value_or(0);
    const io::h5::Shape s = g.open_dataset("simulation/data").shape();
    style_ny_ = s[1], style_nx_ = s[2];

    style_sims_ = g.open_dataset("simulation/data").read_all<float>();
    const io::h5::Group m = g.open_group("measures");
    const std::vector<double> kl = m.open_dataset("kl").read_all<double>(), ra = m.open_dataset("roughness").read_all<double>();
    style_kl_.assign(kl.begin(), kl.begin() + 3);
    style_ra_.assign(ra.begin(), ra.begin() + 3);
    style_exp_ra_ = m.open_dataset("experiment_roughness").read_all<double>().front();
    style_source_ = g.attr_string("source").value_or("");
    const std::vector<double> he = m.open_dataset("histogram_experiment").read_all<double>();
    grey_level_ = m.open_dataset("grey_level").read_all<double>();
    style_hist_.assign(he.begin(), he.begin() + std::ptrdiff_t(grey_level_.size()));
    scale_.lo = g.attr_double("grey_lo").value_or(0), scale_.hi = g.attr_double("grey_hi").value_or(255);
    scale_.bins = int(grey_level_.size());
    scale_.integer_levels = g.attr_string("grey_levels").value_or("").rfind("8-bit", 0) == 0;
  }

  // The learned translation of the style-fit's noise-free simulation, on the experiment's grey
  // scale, against the experiment; and how far it moved the atom columns.
  Measures measure(learn::StyleTranslator& tr) const {
    Measures m;
    m.valid = true;
    m.names = {"noise_free", "noise_added", "style_fit", "translated"};
    const std::int64_t H = style_ny_, W = style_nx_, npx = H * W;
    const std::vector<float> clean(style_sims_.begin(), style_sims_.begin() + npx);
    const torch::Tensor x = torch::from_blob(const_cast<float*>(clean.data()), {1, 1, H, W}, torch::kFloat32);
    // onto the experiment's grey scale by its moments (from its histogram)
    double sum = 0, sum2 = 0, cnt = 0;
    for (std::size_t b = 0; b < style_hist_.size(); ++b) sum += style_hist_[b] * grey_level_[b], sum2 += style_hist_[b] * grey_level_[b] * grey_level_[b], cnt += style_hist_[b];
    const double mean = sum / cnt, sd = std::sqrt(std::max(0.0, sum2 / cnt - mean * mean));
    auto translated = [&] {
      torch::NoGradGuard guard;
      const torch::Tensor out = learn::translate_at(tr, x, style_pixel_A_, pixel_A_, fit_.seed, 0).contiguous();
      std::vector<float> t(out.data_ptr<float>(), out.data_ptr<float>() + npx);
      const analysis::GreyMapping g = analysis::match_moments(t, mean, sd);
      for (auto& v : t) v = float(scale_.stored(g.gain * double(v) + g.offset));
      return t;
    };
    const std::vector<float> t = translated();
    m.histogram = analysis::grey_histogram(t.data(), t.size(), scale_);
    m.kl = style_kl_, m.ra = style_ra_;
    m.kl.push_back(analysis::kl_divergence(style_hist_, m.histogram));
    m.ra.push_back(analysis::line_roughness(t.data(), int(H), int(W), scale_));
    if (tr.tone_from().defined()) {  // the network alone: the tone curve set to the identity for a moment
      torch::NoGradGuard guard;
      const torch::Tensor knots = tr.tone_to().clone();
      tr.tone_to().copy_(tr.tone_from());
      const std::vector<float> n = translated();
      tr.tone_to().copy_(knots);
      m.kl_network_alone = analysis::kl_divergence(style_hist_, analysis::grey_histogram(n.data(), n.size(), scale_));
    }
    m.experiment_ra = style_exp_ra_;
    m.translated = t;
    m.kl_model_pixel = kl_at_model_pixel(tr);
    // Columns of the noise-free simulation found again in the translation (learn::column_shift).
    auto shift_of = [&](const std::vector<float>& image) { return learn::column_shift(clean, image, H, W, style_pixel_A_); };
    const learn::ColumnShift st = shift_of(t);
    m.columns = st.columns, m.matched = st.matched, m.shift_mean_A = st.mean_A, m.shift_p95_A = st.p95_A;
    // Baselines: the columns' apparent shift in the style-fit's noisy simulations (physical noise,
    // no column moved), and the translation's own displacement with its noise averaged out (the
    // mean of `kAveraged` translations, each with its own noise draw).
    m.shift_by_simulation = {0.0};
    for (std::int64_t k = 1; k < 3; ++k)
      m.shift_by_simulation.push_back(shift_of(std::vector<float>(style_sims_.begin() + k * npx, style_sims_.begin() + (k + 1) * npx)).mean_A);
    m.shift_by_simulation.push_back(st.mean_A);
    {
      constexpr std::int64_t kAveraged = 16;
      torch::NoGradGuard guard;
      const torch::Tensor x = torch::from_blob(const_cast<float*>(clean.data()), {1, 1, H, W}, torch::kFloat32).expand({kAveraged, 1, H, W});
      const torch::Tensor mean = learn::translate_at(tr, x.contiguous(), style_pixel_A_, pixel_A_, fit_.seed, 1).mean(0).contiguous();
      const learn::ColumnShift sa = shift_of(std::vector<float>(mean.data_ptr<float>(), mean.data_ptr<float>() + npx));
      m.shift_averaged_mean_A = sa.mean_A, m.shift_averaged_p95_A = sa.p95_A;
      // and what the round trip to the translator's pixel size and back does alone
      const std::int64_t h = learn::translator_side(H, style_pixel_A_, pixel_A_), w = learn::translator_side(W, style_pixel_A_, pixel_A_);
      const torch::Tensor back = learn::resample(learn::resample(x.narrow(0, 0, 1), h, w), H, W).contiguous();
      m.shift_resampled_mean_A = shift_of(std::vector<float>(back.data_ptr<float>(), back.data_ptr<float>() + npx)).mean_A;
    }
    m.shift_median_A = st.median_A;
    return m;
  }

  // The four KLs again with the experiment and every simulation at the translator's pixel size
  // (area averages), the translation made there and not resampled back: the style the trainsets it
  // makes have. The experiment: the first frame of the style-fit's input; on its own grey scale
  // (256 bins between its 0.1 % and 99.9 % quantiles), each simulation mapped onto it by moments.
  std::vector<double> kl_at_model_pixel(learn::StyleTranslator& tr) const {
    if (style_source_.empty() || !fs::exists(io::parse_target(style_source_, "/image_stack").file)) {
      log::warn("style-train: ", style_where_, ": its experiment ", style_source_, " is not at hand: no measures at pixel-A");
      return {};
    }
    const io::ImageStackReader r = io::ImageStackReader::open(style_source_);
    const std::int64_t H = r.meta().height, W = r.meta().width;
    if (H != style_ny_ || W != style_nx_) return {};
    std::vector<float> e(std::size_t(H * W));
    r.read_frames_as<float>(0, 1, e.data());
    const std::int64_t h = learn::translator_side(H, style_pixel_A_, pixel_A_), w = learn::translator_side(W, style_pixel_A_, pixel_A_), n = h * w;
    torch::NoGradGuard guard;
    auto at_pixel = [&](const float* v) {
      return learn::resample(torch::from_blob(const_cast<float*>(v), {1, 1, H, W}, torch::kFloat32), h, w).contiguous();
    };
    const torch::Tensor ex = at_pixel(e.data());
    const float* ep = ex.data_ptr<float>();
    const analysis::GreyScale scale = analysis::grey_scale_of({ep}, std::size_t(n));
    const std::vector<double> he = analysis::grey_histogram(ep, std::size_t(n), scale);
    const double mean = ex.mean().item<double>(), sd = ex.std(false).item<double>();
    auto kl_of = [&](const torch::Tensor& t) {
      const torch::Tensor c = t.contiguous();
      std::vector<float> v(c.data_ptr<float>(), c.data_ptr<float>() + n);
      const analysis::GreyMapping g = analysis::match_moments(v, mean, sd);
      for (auto& x : v) x = float(scale.stored(g.gain * double(x) + g.offset));
      return analysis::kl_divergence(he, analysis::grey_histogram(v.data(), v.size(), scale));
    };
    std::vector<double> out;
    for (std::int64_t k = 0; k < 3; ++k) out.push_back(kl_of(at_pixel(style_sims_.data() + k * H * W)));
    const auto [nh, nf] = learn::translation_noise(fit_.seed, 0, 1, h, w);
    out.push_back(kl_of(tr.translate(at_pixel(style_sims_.data()), nh, nf)));
    return out;
  }

  void write_product(const StageContext& ctx, const io::h5::Group& g, std::size_t nsims, const std::vector<learn::TrainingImage>& exps,
                     const std::vector<std::string>& exp_names, const learn::StyleSelection& sel, const learn::TranslatorLog& log, const Measures& meas,
                     const std::string& sha, const std::string& threads) const {
    g.set_attr("emd_group_type", "root");
    g.set_attr("python_class", "Root");
    g.set_attr("model", model_name_ + " (sha256 " + sha.substr(0, 12) + ")");
    g.set_attr("model_dir", model_dir_used_);
    g.set_attr("pixel_A", pixel_A_);
    g.set_attr("material", material_);
    g.set_attr("crop_px", std::int64_t(fit_.crop));
    g.set_attr("steps", std::int64_t(fit_.steps));
    g.set_attr("batch", std::int64_t(fit_.batch));
    g.set_attr("seconds", log.seconds);
    g.set_attr("ranks", std::int64_t(ctx.comm.size()));
    g.set_attr("threads", threads);
    const io::h5::Group s = g.create_group("selection");
    s.write_strings("experiments", exp_names);
    const std::int64_t n = std::int64_t(sel.coords.size()), k = std::int64_t(sel.coords.front().size());
    std::vector<double> c;
    for (const auto& row : sel.coords) c.insert(c.end(), row.begin(), row.end());
    s.write_array("pca", c, {n, k}).set_attr("units", "PCA coordinates of the standardised features: simulations first, then experiments");
    std::vector<std::int64_t> cl(sel.cluster.begin(), sel.cluster.end()), se(sel.selected.begin(), sel.selected.end());
    s.write_vector("cluster", cl).set_attr("units", "k-means cluster (K = 2) of each item, simulations first");
    s.write_vector("selected", se).set_attr("units", "1: the simulation was trained on");
    s.write_vector("distance", sel.distance).set_attr("units", "PCA distance of each simulation to the experiments' centroid");
    s.set_attr("experiment_cluster", std::int64_t(sel.experiment_cluster));
    s.set_attr("simulations", std::int64_t(nsims));
    (void)exps;
    const io::h5::Group t = g.create_group("training");
    t.write_vector("step", log.step);
    t.write_vector("loss_discriminators", log.loss_d);
    t.write_vector("loss_adversarial", log.loss_adversarial);
    t.write_vector("loss_cycle", log.loss_cycle);
    t.write_vector("loss_consistency", log.loss_consistency);
    t.write_vector("loss_quantile", log.loss_quantile);
    if (meas.valid) {
      const io::h5::Group m = g.create_group("measures");
      m.set_attr("style", style_where_);
      m.write_strings("simulations", meas.names);
      m.write_vector("kl", meas.kl).set_attr("units", "nats: KL(experiment || simulation) of the grey-level histograms");
      m.write_vector("roughness", meas.ra).set_attr("units", "Ra of the line profiles / grey-scale width");
      m.set_attr("experiment_roughness", meas.experiment_ra);
      m.set_attr("atom_shift_mean_A", meas.shift_mean_A);
      m.set_attr("atom_shift_p95_A", meas.shift_p95_A);
      if (meas.kl_network_alone >= 0) m.set_attr("kl_network_alone", meas.kl_network_alone);
      if (!meas.kl_model_pixel.empty())
        m.write_vector("kl_at_pixel", meas.kl_model_pixel)
            .set_attr("units", "nats: KL(experiment || simulation) with every image at the translator's pixel size");
      m.set_attr("atom_shift_median_A", meas.shift_median_A);
      m.set_attr("atom_shift_resampled_mean_A", meas.shift_resampled_mean_A);
      m.set_attr("atom_shift_averaged_mean_A", meas.shift_averaged_mean_A);
      m.set_attr("atom_shift_averaged_p95_A", meas.shift_averaged_p95_A);
      m.write_vector("atom_shift_by_simulation_A", meas.shift_by_simulation)
          .set_attr("units", "A: mean distance of the noise-free simulation's metal columns to the nearest maximum of each simulation");
      m.set_attr("columns", meas.columns);
      m.set_attr("columns_matched", meas.matched);
      m.write_vector("grey_level", grey_level_);
      m.write_vector("histogram_experiment", style_hist_);
      m.write_vector("histogram_translated", meas.histogram);
      io::emd::ArraySpec as{"translated", io::Dtype::f32, {style_ny_, style_nx_}, {{"y", "A", 0.0, style_pixel_A_}, {"x", "A", 0.0, style_pixel_A_}},
                            "Array", "grey level (the experiment's scale)", {}};
      io::emd::write_array(m, as, meas.translated);
    }
  }

  void write_figures(const StageContext& ctx, learn::StyleTranslator& tr, const std::vector<learn::TrainingImage>& sims,
                     const std::vector<learn::TrainingImage>& exps, const learn::StyleSelection& sel, const learn::TranslatorLog& log, const Measures& meas) const {
    const fs::path dir = figures_folder(figures_, ctx.output.file);
    fs::create_directories(dir);
    const std::string stem = fs::path(ctx.output.file).stem().string();
    // Curves and the selection.
    io::plot::Chart losses;
    losses.title = "Training", losses.x_label = "step", losses.y_label = "loss (mean over the last steps)";
    losses.log_y = true;
    const std::pair<const char*, const std::vector<double>*> series[] = {{"discriminators", &log.loss_d}, {"adversarial", &log.loss_adversarial},
                                                                         {"cycle", &log.loss_cycle}, {"consistency", &log.loss_consistency},
                                                                         {"quantile", &log.loss_quantile}};
    int ci = 0;
    for (const auto& [name, v] : series) losses.series.push_back({name, log.step, *v, io::plot::series_colour(ci++), false, false});
    io::plot::Chart scatter;
    scatter.title = "Data selection (PCA of the features, k-means K = 2)", scatter.x_label = "PC 1", scatter.y_label = "PC 2";
    std::vector<double> xs[3], ys[3];
    for (std::size_t i = 0; i < sel.coords.size(); ++i) {
      const int kind = i >= sel.selected.size() ? 2 : (sel.selected[i] ? 1 : 0);
      xs[kind].push_back(sel.coords[i][0]);
      ys[kind].push_back(sel.coords[i].size() > 1 ? sel.coords[i][1] : 0.0);
    }
    const char* kinds[] = {"simulations left out", "simulations selected", "experiments"};
    for (int q = 0; q < 3; ++q)
      if (!xs[q].empty()) scatter.series.push_back({kinds[q], xs[q], ys[q], io::plot::series_colour(q), false, true});
    io::plot::write_charts((dir / (stem + "_style_training.png")).string(), {losses, scatter}, "style-train: " + model_name_,
                           "The translator's training losses (means over 25 steps) and the data selection: the simulations and experiments in "
                           "the first two principal components of their grey-level quantiles and power spectra; the translator trains on the "
                           "selected simulations.");
    // Translations: three selected simulations' central crops, their translations and experiments.
    torch::NoGradGuard guard;
    const std::int64_t c = fit_.crop;
    io::plot::Figure fig;
    fig.title = "style-train: simulations, their translations and experiments";
    fig.columns = 3;
    const io::plot::Axes axes = io::plot::scan_axes(pixel_A_, "A");
    auto centre = [&](const learn::TrainingImage& im) {
      return learn::standardise(as_tensor(im).narrow(2, (im.ny - c) / 2, c).narrow(3, (im.nx - c) / 2, c)).contiguous();
    };
    auto vec = [](const torch::Tensor& t) { return std::vector<float>(t.data_ptr<float>(), t.data_ptr<float>() + t.numel()); };
    const io::ColourScale grey{-3, 3, false, io::Ramp::grey};
    for (std::size_t q = 0; q < std::min<std::size_t>(3, sims.size()); ++q) {
      const torch::Tensor x = centre(sims[q]);
      const auto [nh, nf] = learn::translation_noise(fit_.seed, std::int64_t(q), 1, c, c);
      const torch::Tensor u = tr.translate(x, nh, nf).contiguous();
      fig.panels.push_back(io::plot::intensity_panel("simulation " + std::to_string(q + 1), vec(x), int(c), int(c), axes, "sd", grey));
      fig.panels.push_back(io::plot::intensity_panel("translated", vec(u), int(c), int(c), axes, "sd", grey));
      fig.panels.push_back(io::plot::intensity_panel("experiment " + std::to_string(q % exps.size() + 1), vec(centre(exps[q % exps.size()])), int(c),
                                                     int(c), axes, "sd", grey));
    }
    for (auto& p : fig.panels) p.colour_bar.reset();
    fig.shared_colour_bar = io::plot::ColourBar{"standardised grey level", grey};
    io::plot::write_figure((dir / (stem + "_style_translations.png")).string(), fig,
                           "Central crops of selected noise-free simulations, their learned translations into the experiments' style, and "
                           "crops of the experiments, each standardised (mean 0, sd 1).");
    if (meas.valid) {
      io::plot::Chart hist;
      hist.title = "Grey levels: experiment vs translated (KL " + Options::text(std::round(meas.kl.back() * 1000) / 1000) + ")";
      hist.x_label = "grey level", hist.y_label = "fraction of pixels";
      auto frac = [](const std::vector<double>& h) {
        double s = std::accumulate(h.begin(), h.end(), 0.0);
        std::vector<double> f(h.size());
        for (std::size_t b = 0; b < h.size(); ++b) f[b] = s > 0 ? h[b] / s : 0;
        return f;
      };
      hist.series.push_back({"experiment", grey_level_, frac(style_hist_), {0, 0, 0}, false, false});
      hist.series.push_back({"translated", grey_level_, frac(meas.histogram), io::plot::series_colour(3), false, false});
      io::plot::Chart bars;
      bars.title = "KL and Ra by simulation (noise-free, noise added, style-fit, translated)";
      bars.x_label = "simulation (1 noise-free, 2 noise added, 3 style-fit, 4 translated)", bars.y_label = "KL (nats) / Ra";
      bars.integer_x = true;
      std::vector<double> idx = {1, 2, 3, 4};
      bars.series.push_back({"KL", idx, meas.kl, io::plot::series_colour(0), false, true});
      bars.series.push_back({"Ra", idx, meas.ra, io::plot::series_colour(1), false, true});
      bars.series.push_back({"Ra experiment", {1, 4}, {meas.experiment_ra, meas.experiment_ra}, {0, 0, 0}, true, false});
      bars.series.push_back({"column shift (A)", idx, meas.shift_by_simulation, io::plot::series_colour(2), false, true});
      io::plot::write_charts((dir / (stem + "_style_measures.png")).string(), {hist, bars}, "style-train: measures against " + style_where_,
                             "Grey-level histogram of the experiment of " + style_where_ + " and of the learned translation of its noise-free "
                             "simulation (same structure, on its grey scale); KL and Ra of the four simulations. Atom columns moved by "
                             "the translation: mean " + Options::text(std::round(meas.shift_mean_A * 1000) / 1000) + " A over " +
                                 std::to_string(meas.matched) + " columns (" + Options::text(std::round(meas.shift_averaged_mean_A * 1000) / 1000) +
                                 " A with the noise averaged over 16 draws; the noisy physical simulations, whose columns do not move, show " +
                                 Options::text(std::round(meas.shift_by_simulation[1] * 1000) / 1000) + " and " +
                                 Options::text(std::round(meas.shift_by_simulation[2] * 1000) / 1000) + " A).");
    }
  }

  learn::TranslatorFit fit_;
  learn::TranslatorSizes spec_;
  learn::NetworkSpec net_spec_;
  std::string experiments_text_, network_params_, style_, model_name_, model_dir_, model_dir_used_, figures_, material_;
  std::vector<std::string> experiments_;
  double pixel_A_ = 0.1, sim_pixel_A_ = 0;
  std::int64_t sim_count_ = 0, sim_ny_ = 0, sim_nx_ = 0;
  int select_min_ = 16, select_max_ = 32, threads_ = 0;
  // the style-fit product
  std::string style_where_;
  double style_pixel_A_ = 0, style_exp_ra_ = 0;
  std::string style_source_;  // the style-fit's experiment (an image stack), for the measures at pixel-A
  std::int64_t style_ny_ = 0, style_nx_ = 0;
  std::vector<float> style_sims_;
  std::vector<double> style_kl_, style_ra_, style_hist_, grey_level_;
  analysis::GreyScale scale_;
};

}  // namespace

std::unique_ptr<Stage> make_style_train_stage() { return std::make_unique<StyleTrain>(); }

}  // namespace tmdflow::stages

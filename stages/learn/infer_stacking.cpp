// Stage infer-stacking: the interlayer slip (or twist) of bilayers and trilayers in every image of
// an image stack (data_schema/stacking.md). Per image: the lattice is found in the image and checked
// against the material and the calibration; windows on a grid are sampled in the lattice's canonical
// frame and read by a stacking regressor (train-stacking); an optional second pass with a finer
// stride evaluates the windows where neighbours differ (stacking boundaries); the physics refinement
// fits the incoherent ADF model of the stack to windows; the whole-image estimate is the robust
// centre of the windows. Window rows of the whole stack are block-partitioned over the ranks.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <numeric>
#include <optional>

#include "stage.hpp"
#include "stage_list.hpp"
#include "stacking_figures.hpp"
#include "tmdflow/analysis/lattice_finder.hpp"
#include "tmdflow/analysis/stacking_estimate.hpp"
#include "tmdflow/analysis/stacking_fit.hpp"
#include "tmdflow/core/log.hpp"
#include "tmdflow/io/h5.hpp"
#include "tmdflow/io/image_stack.hpp"
#include "tmdflow/learn/model_file.hpp"
#include "tmdflow/learn/stacking_inference.hpp"
#include "tmdflow/learn/threads.hpp"
#include "tmdflow/par/failure.hpp"
#include "tmdflow/par/interrupt.hpp"
#include "tmdflow/par/partition.hpp"
#include "tmdflow/par/progress.hpp"
#include "tmdflow/sim/probe.hpp"
#include "tmdflow/sim/structure.hpp"

namespace tmdflow::stages {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

/// One image's lattice and frame, as the ranks that read it computed them (identically).
struct ImageLattice {
  analysis::FoundLattice lattice;
  analysis::CanonicalFrame frame{};
  bool found = false;
};

/// The image a rank works on: its pixels, lattice and canonical-frame sampler.
struct CurrentImage {
  std::int64_t index = -1;
  std::vector<float> pixels;
  ImageLattice lattice;
  std::unique_ptr<analysis::CanonicalSampler> sampler;
};

class InferStacking : public Stage {
 public:
  std::string name() const override { return "infer-stacking"; }
  std::string summary() const override { return learn_stage_summary("infer-stacking"); }
  std::string description() const override {
    return "Reads the interlayer slip (bilayers: one per image, trilayers: two) or the twist of TMD stacks in every image of an\n"
           "image_stack product (ingest; it must be calibrated). Per image: the lattice of --material is found in the image\n"
           "and checked against the calibration; windows of --window-nm every --stride-nm are sampled in the lattice's canonical\n"
           "frame at the model's pixel size and read by a stacking model (train-stacking; --model, or the shipped model for\n"
           "--material/--layers/--task); with --fine-stride-nm, windows whose neighbours differ by more than\n"
           "--boundary-threshold are evaluated again on a finer grid; --refine fits the incoherent ADF model of the stack to\n"
           "windows (summary: the windows nearest the whole-image estimate; all: every window). Writes schema stacking/1:\n"
           "the whole-image slip (Cartesian A in the image frame, fractions of the found a1, a2, and TED-Gen's Da, Db for\n"
           "ReS2/ReSe2) or twist, maps per window, boundaries, confidence; PNG figures. Conventions: data_schema/stacking.md.";
  }
  std::string product_schema() const override { return "stacking/1"; }
  std::string default_group() const override { return "/stacking"; }
  bool validate_reads_input() const override { return true; }

  void declare(Options& o) override {
    o.add<std::string>("model", &model_, "auto", "stacking model: a name (tmdflow models), a folder or file; auto: the shipped one for material, layers, task")
        .add<std::string>("material", &material_, "ReS2", "material: ReS2, ReSe2, MoS2, WS2, MoSe2, WSe2")
        .add<int>("layers", &layers_, 2, "layers in the stack (2 or 3)")
        .add<std::string>("task", &task_, "slip", "slip or twist")
        .add<std::string>("stacking", &stacking_, "", "registry of the stack (MX2: 2H, 3R, AA; 1T'': AA) when --model auto must choose; empty: any")
        .add<double>("window-nm", &window_nm_, 0.0, "window side [nm] (0: the model's training window; 2-5 nm typical)")
        .add<double>("stride-nm", &stride_nm_, 1.0, "stride of the window grid [nm]")
        .add<double>("fine-stride-nm", &fine_stride_nm_, 0.0, "second pass stride [nm] over windows whose neighbours differ (0: none)")
        .add<double>("boundary-threshold", &boundary_threshold_, 0.0,
                     "neighbouring windows differing by more than this are a boundary [A for slips, degrees for twist] (0: 0.3 A or 1 degree)")
        .add<std::string>("refine", &refine_, "summary", "physics refinement: off, summary (windows nearest the image's estimate), all")
        .add<int>("refine-windows", &refine_windows_, 24, "windows per image that --refine summary fits")
        .add<double>("voltage-kV", &voltage_kV_, 0.0, "accelerating voltage [kV] for the refinement (0: the model's conditions)")
        .add<double>("convergence-mrad", &convergence_mrad_, 0.0, "probe semi-angle [mrad] (0: the model's)")
        .add<double>("adf-inner-mrad", &inner_mrad_, 0.0, "ADF inner angle [mrad] (0: the model's)")
        .add<double>("adf-outer-mrad", &outer_mrad_, 0.0, "ADF outer angle [mrad] (0: the model's)")
        .add<double>("lattice-tolerance", &tolerance_, 0.10, "largest accepted relative mismatch of the found lattice constant")
        .add<bool>("calibrate-by-lattice", &calibrate_by_lattice_, false,
                   "an uncalibrated stack: take the pixel size at which the first image's lattice has the material's constant")
        .add<bool>("consistency", &consistency_, true, "also read each window turned by 180 degrees (confidence; averaged)")
        .add<std::int64_t>("batch", &batch_, 128, "windows per model call")
        .add<int>("threads", &threads_, 0, "LibTorch threads per rank (0: the cores each rank owns)")
        .add<std::string>("figures", &figures_, "auto", "folder for the PNG figures (auto: figures/ beside the output; none: no figures)");
  }

  void validate(const StageContext& ctx) override {
    sim::material(material_);  // ConfigError naming the known ones
    if (layers_ != 2 && layers_ != 3) throw ConfigError("layers: expected 2 or 3, found " + std::to_string(layers_));
    if (task_ != "slip" && task_ != "twist") throw ConfigError("task: expected slip or twist, found " + task_);
    if (task_ == "twist" && layers_ != 2) throw ConfigError("task twist: expected layers 2 (twisted bilayers), found " + std::to_string(layers_));
    if (refine_ != "off" && refine_ != "summary" && refine_ != "all") throw ConfigError("refine: expected off, summary or all, found " + refine_);
    require_positive("stride-nm", stride_nm_);
    if (window_nm_ < 0 || fine_stride_nm_ < 0 || boundary_threshold_ < 0)
      throw ConfigError("window-nm, fine-stride-nm, boundary-threshold: expected values >= 0");
    if (fine_stride_nm_ > stride_nm_)
      throw ConfigError("fine-stride-nm: expected at most stride-nm (" + Options::text(stride_nm_) + "), found " + Options::text(fine_stride_nm_));
    location_ = resolve_stacking_model();
    info_ = learn::StackingModelInfo::from_manifest(location_.manifest);
    const std::string who = "model " + location_.manifest.name;
    if (info_.material != sim::material(material_).name)
      throw ConfigError(who + ": trained for " + info_.material + ", expected material " + material_ + " (give --model or --material)");
    if (info_.layers != layers_ || info_.task != task_)
      throw ConfigError(who + ": a " + std::to_string(info_.layers) + "-layer " + info_.task + " model, expected " + std::to_string(layers_) +
                        " layers and task " + task_);
    if (!stacking_.empty() && info_.stacking != stacking_)
      throw ConfigError(who + ": a model of " + info_.stacking + " stacks, expected stacking " + stacking_ + " (give --model or --stacking)");
    const io::ImageStackReader reader = io::ImageStackReader::open(ctx.input);
    data_path_ = reader.data_path();
    meta_ = reader.meta();
    where_ = reader.where();
    if (calibrate_by_lattice_ && !meta_.calibrated()) {
      // The lattice is the ruler: the pixel size at which the first image shows the tabulated cell.
      std::vector<float> first(static_cast<std::size_t>(meta_.height * meta_.width));
      reader.read_frames_as<float>(0, 1, first.data());
      try {
        pixel_A_ = analysis::estimate_pixel_size(first.data(), meta_.height, meta_.width, info_.material);
      } catch (const InputError& e) {
        throw InputError(where_ + ": image 0: --calibrate-by-lattice: " + e.what());
      }
      meta_.pixel_size_x_A = meta_.pixel_size_y_A = pixel_A_;
      if (ctx.comm.is_root())
        log::warn("infer-stacking: ", where_, " has no calibration: ", pixel_A_, " A per pixel from the ", info_.material,
                  " lattice of its first image (lattice_scale is then 1 by construction)");
    } else {
      reader.require_calibrated("infer-stacking (windows and lattice constants are physical lengths; or give --calibrate-by-lattice)");
    }
    if (std::fabs(meta_.pixel_size_y_A / meta_.pixel_size_x_A - 1) > 0.02)
      throw InputError(ctx.input + ": expected square pixels, found " + Options::text(meta_.pixel_size_y_A) + " x " +
                       Options::text(meta_.pixel_size_x_A) + " A (give ingest --pixel-size-A)");
    pixel_A_ = meta_.pixel_size_x_A;
    window_A_ = window_nm_ > 0 ? 10 * window_nm_ : double(info_.window_px) * info_.pixel_A;
    window_model_px_ = std::int64_t(std::lround(window_A_ / info_.pixel_A));
    const double window_px = window_A_ / pixel_A_;
    if (window_px > double(meta_.height) || window_px > double(meta_.width))
      throw ConfigError(where_ + ": window of " + Options::text(window_A_ / 10) + " nm is " + std::to_string(std::int64_t(std::lround(window_px))) +
                        " pixels, larger than the images (" + std::to_string(meta_.height) + " x " + std::to_string(meta_.width) + " pixels at " +
                        Options::text(pixel_A_) + " A)");
    if (window_A_ < 10 || window_A_ > 100)
      log::warn("infer-stacking: a window of ", window_A_ / 10, " nm is outside the 1-10 nm the method is meant for");
    conditions();
  }

  std::uint64_t planned_bytes(const StageContext&) const override {
    const auto c = learn::window_centres(meta_.height, meta_.width, window_A_ / pixel_A_, 10 * stride_nm_ / pixel_A_);
    return std::uint64_t(meta_.frames) * std::uint64_t(c.rows * c.cols) * 16 * sizeof(float);
  }

  void run(const StageContext& ctx, io::ProductWriter& out) override {
    const learn::ThreadSettings threads = learn::configure_threads(ctx.comm, threads_);
    const io::Target in = io::parse_target(ctx.input, "/image_stack");
    file_ = io::FileRegistry::open(in.file, io::h5::Mode::read, &ctx.comm);
    images_ = file_->group(in.group).open_dataset(data_path_);
    // The images may live in the product's own file (a workflow's ingest step): the runner closes
    // that file after run(), so the dataset must not outlive it.
    struct Release {
      InferStacking* stage;
      ~Release() { stage->images_.reset(), stage->file_.reset(); }
    } release{this};
    learn::LoadedModel model = learn::load_model(location_.model_path);
    auto network = learn::as_patch_model(model);
    const sim::LabelSymmetry symmetry = sim::label_symmetry(info_.material, info_.layers, info_.stacking, info_.task);
    const bool slip = info_.task == "slip";
    const std::int64_t C = std::int64_t(info_.values.size());
    const double threshold = boundary_threshold_ > 0 ? boundary_threshold_ : (slip ? 0.3 : 1.0);
    const std::int64_t N = meta_.frames, H = meta_.height, W = meta_.width;
    const double window_px = window_A_ / pixel_A_, stride_px = 10 * stride_nm_ / pixel_A_;
    const learn::WindowCentres grid = learn::window_centres(H, W, window_px, stride_px);
    const std::int64_t R = grid.rows, K = grid.cols, per_image = R * K;
    learn::StackingInferenceOptions opts;
    opts.batch = batch_;
    opts.consistency = consistency_;
    if (ctx.comm.is_root())
      log::info("infer-stacking: model ", model.label(), " (", info_.material, " ", info_.layers, " layers, ", info_.task, ") on ", where_, ": ", N,
                " images of ", H, " x ", W, " at ", pixel_A_, " A; windows ", window_A_ / 10, " nm (", window_model_px_, " px at ", info_.pixel_A,
                " A) every ", stride_nm_, " nm: ", R, " x ", K, " per image; ", threads.summary());

    // Coarse pass: the (image, window row) pairs of the stack, block-partitioned over the ranks.
    const par::Range mine = par::block_partition(N * R, ctx.comm.size(), ctx.comm.rank());
    std::vector<double> labels(static_cast<std::size_t>(N * per_image * C), 0.0), consistency(static_cast<std::size_t>(N * per_image), 0.0);
    std::vector<double> lattice_values(static_cast<std::size_t>(N * kLatticeValues), 0.0);
    std::map<std::int64_t, ImageLattice> lattices;  // the images this rank read
    CurrentImage images;
    par::Progress progress(ctx.comm, "infer-stacking", std::uint64_t(N * per_image), "windows");
    par::collectively(ctx.comm, [&] {
      for (std::int64_t item = mine.begin; item < mine.end; ++item) {
        const std::int64_t n = item / R, i = item % R;
        const CurrentImage& img = image_at(n, images, lattices);
        store_lattice(img.lattice, n, i == 0, lattice_values);
        std::vector<std::array<double, 2>> centres(static_cast<std::size_t>(K));
        for (std::int64_t j = 0; j < K; ++j) centres[std::size_t(j)] = {grid.row_px[std::size_t(i)], grid.col_px[std::size_t(j)]};
        const learn::WindowLabels w = learn::infer_stacking_windows(*network, info_, symmetry, *img.sampler, centres, opts);
        for (std::int64_t j = 0; j < K; ++j) {
          const std::int64_t cell = n * per_image + i * K + j;
          for (std::int64_t c = 0; c < C; ++c) labels[std::size_t(cell * C + c)] = w.label[std::size_t(j)][std::size_t(c)];
          consistency[std::size_t(cell)] = w.consistency[std::size_t(j)];
        }
        progress.advance(std::uint64_t(K));
        par::throw_if_interrupted();
      }
    });
    progress.finish();
    ctx.comm.allreduce_inplace(labels.data(), labels.size(), par::Op::sum);
    ctx.comm.allreduce_inplace(consistency.data(), consistency.size(), par::Op::sum);
    ctx.comm.allreduce_inplace(lattice_values.data(), lattice_values.size(), par::Op::sum);
    par::interruption_point(ctx.comm);

    // Per image, on every rank (cheap and identical): the network's robust centre.
    std::vector<std::vector<std::vector<double>>> window_labels(static_cast<std::size_t>(N));
    std::vector<std::uint8_t> boundary(static_cast<std::size_t>(N * per_image));
    std::vector<analysis::RobustCentre> centre(static_cast<std::size_t>(N));
    for (std::int64_t n = 0; n < N; ++n) {
      auto& wl = window_labels[std::size_t(n)];
      wl.resize(static_cast<std::size_t>(per_image));
      for (std::int64_t k = 0; k < per_image; ++k)
        wl[std::size_t(k)].assign(labels.begin() + std::ptrdiff_t((n * per_image + k) * C), labels.begin() + std::ptrdiff_t((n * per_image + k + 1) * C));
      centre[std::size_t(n)] = analysis::robust_centre(symmetry, wl, 2 * threshold);
    }

    // Physics refinement: every window, or the windows nearest each image's estimate.
    std::vector<double> refined(labels.size(), 0.0), fit_confidence(static_cast<std::size_t>(N * per_image), 0.0), fit_residual(static_cast<std::size_t>(N * per_image), 0.0);
    // Per window: the fit's origin (x, y), bottom-layer rotation and label as fitted (not folded):
    // where the model sits, for the figure.
    std::vector<double> fit_origin(static_cast<std::size_t>(N * per_image * (3 + C)), 0.0);
    std::vector<std::uint8_t> was_refined(static_cast<std::size_t>(N * per_image), 0);
    if (refine_ != "off") {
      std::vector<std::int64_t> cells = cells_to_refine(symmetry, window_labels, centre, per_image, C);
      for (std::int64_t cell : cells) was_refined[std::size_t(cell)] = 1;
      refine_cells(ctx, symmetry, cells, grid, labels, refined, fit_confidence, fit_residual, fit_origin, images, lattices);
    }

    // Boundaries between the windows' final labels (refined where refined).
    for (std::int64_t n = 0; n < N; ++n) {
      std::vector<std::vector<double>> final_labels(static_cast<std::size_t>(per_image));
      for (std::int64_t k = 0; k < per_image; ++k) {
        const std::int64_t cell = n * per_image + k;
        const std::vector<double>& src = was_refined[std::size_t(cell)] ? refined : labels;
        final_labels[std::size_t(k)].assign(src.begin() + std::ptrdiff_t(cell * C), src.begin() + std::ptrdiff_t((cell + 1) * C));
      }
      const auto b = analysis::boundary_cells(symmetry, final_labels, R, K, threshold);
      std::copy(b.begin(), b.end(), boundary.begin() + std::ptrdiff_t(n * per_image));
    }

    // Second pass: finer windows inside the cells that lie on a boundary.
    FinePass fine;
    if (fine_stride_nm_ > 0) fine = fine_pass(ctx, *network, symmetry, grid, boundary, stride_px, 10 * fine_stride_nm_ / pixel_A_, opts, images, lattices);

    // Whole-image estimates (refined windows when there are any), confidence per window.
    std::vector<std::vector<double>> estimate(static_cast<std::size_t>(N));
    std::vector<double> confidence_map(static_cast<std::size_t>(N * per_image)), image_confidence(static_cast<std::size_t>(N));
    for (std::int64_t n = 0; n < N; ++n) {
      std::vector<std::vector<double>> used;
      std::vector<double> conf;
      for (std::int64_t k = 0; k < per_image; ++k) {
        const std::int64_t cell = n * per_image + k;
        double cval = consistency_ ? std::exp(-std::pow(consistency[std::size_t(cell)] / (slip ? 0.1 : 0.5), 2)) : kNaN;
        if (was_refined[std::size_t(cell)]) {
          used.emplace_back(refined.begin() + std::ptrdiff_t(cell * C), refined.begin() + std::ptrdiff_t((cell + 1) * C));
          cval = fit_confidence[std::size_t(cell)];
          conf.push_back(cval);
        }
        confidence_map[std::size_t(cell)] = cval;
      }
      if (used.empty()) {
        estimate[std::size_t(n)] = centre[std::size_t(n)].label;
        image_confidence[std::size_t(n)] = centre[std::size_t(n)].inliers;
      } else {
        // The bottom layer's orientation of the image: the refined windows' majority, each weighed by
        // its fit's confidence (as in the centre: a window the model does not explain, such as a
        // twisted window fitted at 60 - theta from a poor start, must not outvote one it does).
        // All-zero confidences count as equal, as robust_centre takes them.
        const bool weighted = std::any_of(conf.begin(), conf.end(), [](double c) { return c > 0; });
        double turned = 0;
        for (std::int64_t k = 0; k < per_image; ++k) {
          const std::int64_t cell = n * per_image + k;
          if (!was_refined[std::size_t(cell)]) continue;
          const double side = fit_origin[std::size_t(cell * (3 + C) + 2)] > 30 ? 1 : -1;
          turned += side * (weighted ? fit_confidence[std::size_t(cell)] : 1.0);
        }
        const auto rc = analysis::robust_centre(turned > 0 ? symmetry_for_bottom(1) : symmetry, used, 2 * threshold, 256, conf);
        estimate[std::size_t(n)] = rc.label;
        std::sort(conf.begin(), conf.end());
        image_confidence[std::size_t(n)] = conf[conf.size() / 2];
      }
    }

    write_product(ctx, out, symmetry, grid, labels, refined, was_refined, consistency, confidence_map, boundary, centre, estimate,
                  image_confidence, lattice_values, fine, model);
    if (!figures_folder(figures_, ctx.output.file).empty()) {
      out.file().flush();
      par::collectively(ctx.comm, [&] {
        if (ctx.comm.is_root()) write_figures(ctx, symmetry, grid, labels, confidence_map, boundary, estimate, lattice_values, fit_origin, was_refined, refined);
      });
    }
  }

 private:
  // Per image: a1_px (2), a2_px (2), scale, mirrored, quality, twist_deg (FFT), found, and the
  // canonical frame's matrix M (canonical Angstrom -> input pixels; row-major, 4).
  static constexpr std::int64_t kLatticeValues = 13, kFrameAt = 9;
  // Below this fit confidence a refined window is fitted again from a search over the cell.
  static constexpr double kSearchBelow = 0.5;

  /// The label symmetry for a bottom layer in orientation `bottom` (sim::bottom_orientations).
  sim::LabelSymmetry symmetry_for_bottom(int bottom) const {
    if (bottom >= sim::bottom_orientations(info_.material)) bottom = 0;
    return sim::label_symmetry(info_.material, info_.layers, info_.stacking, info_.task, bottom);
  }

  /// --model auto: the model on the search path for the material, layers, task (and --stacking when
  /// given). Among several of one stacking the anchored ones (their windows cut anywhere) come first,
  /// then the later name (res2-bilayer-slip-v2 before res2-bilayer-slip); models of several stackings
  /// without --stacking are an error naming them, since the image alone does not choose.
  io::ModelLocation resolve_stacking_model() const {
    if (model_ != "auto") return learn::resolve_model(model_);
    const std::string want = sim::material(material_).name;
    struct Candidate {
      std::string folder, name, stacking;
      bool anchor = false;
    };
    std::vector<Candidate> found;
    for (const auto& entry : io::list_models(io::model_search_path())) {
      if (entry.status != "ok") continue;
      try {
        const io::ModelManifest m = io::read_manifest(entry.folder + "/manifest.json");
        const auto info = learn::StackingModelInfo::from_manifest(m);
        if (info.material == want && info.layers == layers_ && info.task == task_ && (stacking_.empty() || info.stacking == stacking_))
          found.push_back({entry.folder, m.name, info.stacking, info.anchor});
      } catch (const InputError&) {
      }
    }
    if (found.empty())
      throw ConfigError("model: no stacking model for " + want + ", " + std::to_string(layers_) + " layers, task " + task_ +
                        (stacking_.empty() ? std::string() : ", stacking " + stacking_) +
                        " on the model search path (tmdflow models lists them; train one with workflows/train_stacking.ini and give --model)");
    std::string names;
    for (const auto& c : found) {
      if (c.stacking != found.front().stacking) {
        for (const auto& d : found) names += (names.empty() ? "" : ", ") + d.name + " (" + d.stacking + ")";
        throw ConfigError("model: stacking models of several registries for " + want + ": " + names + "; give --stacking or --model");
      }
    }
    const auto best = std::max_element(found.begin(), found.end(), [](const Candidate& a, const Candidate& b) {
      return a.anchor != b.anchor ? !a.anchor : a.name < b.name;
    });
    return learn::resolve_model(best->folder);
  }

  // The conditions the physics refinement uses: the options, else the model's manifest.
  void conditions() {
    fit_spec_.material = info_.material;
    fit_spec_.layers = info_.layers;
    fit_spec_.stacking = info_.stacking;
    fit_spec_.twist = info_.task == "twist";
    auto pick = [](double given, double from_model, double fallback) { return given > 0 ? given : (from_model > 0 ? from_model : fallback); };
    fit_spec_.voltage_kV = pick(voltage_kV_, info_.voltage_kV, fit_spec_.voltage_kV);
    fit_spec_.convergence_mrad = pick(convergence_mrad_, info_.convergence_mrad, fit_spec_.convergence_mrad);
    fit_spec_.inner_mrad = pick(inner_mrad_, info_.inner_mrad, fit_spec_.inner_mrad);
    fit_spec_.outer_mrad = pick(outer_mrad_, info_.outer_mrad, fit_spec_.outer_mrad);
  }

  /// Image n with its lattice and sampler: read (and its lattice found, once) when it is not the
  /// current one. One image in memory at a time: every pass goes image by image.
  const CurrentImage& image_at(std::int64_t n, CurrentImage& current, std::map<std::int64_t, ImageLattice>& lattices) const {
    if (current.index == n) return current;
    current.sampler.reset();
    current.index = n;
    current.pixels.resize(static_cast<std::size_t>(meta_.height * meta_.width));
    read_frame(n, current.pixels.data());
    auto it = lattices.find(n);
    if (it == lattices.end()) {
      analysis::LatticeOptions lo;
      lo.pixel_A = pixel_A_;
      lo.material = info_.material;
      lo.tolerance = tolerance_;
      lo.twisted = info_.task == "twist";
      lo.layers = info_.layers;
      ImageLattice l;
      try {
        l.lattice = analysis::find_lattice(current.pixels.data(), meta_.height, meta_.width, lo);
      } catch (const InputError& e) {
        current.index = -1;
        throw InputError(where_ + ": image " + std::to_string(n) + ": " + e.what());
      }
      l.frame = analysis::canonical_frame(l.lattice, info_.material);
      l.found = true;
      if (n < 4) log::info("infer-stacking: image ", n, ": ", l.lattice.describe());
      it = lattices.emplace(n, l).first;
    }
    current.lattice = it->second;
    current.sampler = std::make_unique<analysis::CanonicalSampler>(current.pixels.data(), meta_.height, meta_.width, current.lattice.frame,
                                                                   int(window_model_px_), info_.pixel_A);
    return current;
  }

  void store_lattice(const ImageLattice& l, std::int64_t n, bool owner, std::vector<double>& values) const {
    if (!owner) return;
    double* v = values.data() + n * kLatticeValues;
    v[0] = l.lattice.a1_px[0], v[1] = l.lattice.a1_px[1], v[2] = l.lattice.a2_px[0], v[3] = l.lattice.a2_px[1];
    v[4] = l.lattice.scale, v[5] = l.lattice.mirrored ? 1 : 0, v[6] = l.lattice.quality, v[7] = l.lattice.twist_deg, v[8] = 1;
    v[kFrameAt] = l.frame.m[0][0], v[kFrameAt + 1] = l.frame.m[0][1], v[kFrameAt + 2] = l.frame.m[1][0], v[kFrameAt + 3] = l.frame.m[1][1];
  }

  /// Frame n as float (independent I/O on the file the runner opened on the communicator).
  void read_frame(std::int64_t n, float* out) const {
    images_->read<float>(io::h5::Shape{n, 0, 0}, io::h5::Shape{1, meta_.height, meta_.width}, out, io::h5::Xfer::independent);
  }

  std::vector<std::int64_t> cells_to_refine(const sim::LabelSymmetry& symmetry, const std::vector<std::vector<std::vector<double>>>& wl,
                                            const std::vector<analysis::RobustCentre>& centre, std::int64_t per_image, std::int64_t) const {
    std::vector<std::int64_t> cells;
    for (std::size_t n = 0; n < wl.size(); ++n) {
      std::vector<std::pair<double, std::int64_t>> near;
      for (std::int64_t k = 0; k < per_image; ++k) {
        const auto& y = wl[n][std::size_t(k)];
        const double d = refine_ == "all" ? 0.0 : sim::label_distance(symmetry, y, centre[n].label);
        near.emplace_back(d, std::int64_t(n) * per_image + k);
      }
      if (refine_ == "summary") {
        // The windows nearest the estimate, at most refine_windows_ of them.
        std::stable_sort(near.begin(), near.end());
        near.resize(std::min<std::size_t>(near.size(), std::size_t(std::max(1, refine_windows_))));
      }
      for (const auto& [d, cell] : near) cells.push_back(cell);
    }
    std::sort(cells.begin(), cells.end());
    return cells;
  }

  void refine_cells(const StageContext& ctx, const sim::LabelSymmetry& symmetry, const std::vector<std::int64_t>& cells,
                    const learn::WindowCentres& grid, const std::vector<double>& labels, std::vector<double>& refined,
                    std::vector<double>& confidence, std::vector<double>& residual, std::vector<double>& origin,
                    CurrentImage& images, std::map<std::int64_t, ImageLattice>& lattices) const {
    const std::int64_t C = std::int64_t(info_.values.size()), per_image = grid.rows * grid.cols;
    const int n_px = int(window_model_px_);
    const par::Range mine = par::block_partition(std::int64_t(cells.size()), ctx.comm.size(), ctx.comm.rank());
    par::Progress progress(ctx.comm, "infer-stacking refinement", std::uint64_t(cells.size()), "windows");
    std::vector<float> window(static_cast<std::size_t>(n_px) * std::size_t(n_px));
    // The probe of the training conditions gives the fit its starting blur.
    sim::ProbeSpec probe;
    probe.voltage_kV = fit_spec_.voltage_kV;
    probe.convergence_mrad = fit_spec_.convergence_mrad;
    probe.aberrations.C1 = info_.defocus_A;
    probe.source_size_A = info_.source_size_A;
    const double blur_A = analysis::gaussian_probe_sigma_A(probe);
    analysis::FitOptions fit_options;
    fit_options.search_slip = info_.task == "twist";  // a twist window's local registry is unknown
    fit_options.twist_branches = info_.task == "twist";  // +-theta, +-(60 - theta): the network gives the folded theta
    std::unique_ptr<analysis::StackingWindowFitter> fitter, searcher;
    std::int64_t searched_windows = 0;
    par::collectively(ctx.comm, [&] {
      if (mine.size() > 0) fitter = std::make_unique<analysis::StackingWindowFitter>(fit_spec_, n_px, info_.pixel_A, fit_options);
      for (std::int64_t q = mine.begin; q < mine.end; ++q) {
        const std::int64_t cell = cells[std::size_t(q)], n = cell / per_image, k = cell % per_image;
        const CurrentImage& img = image_at(n, images, lattices);
        const double cr = grid.row_px[std::size_t(k / grid.cols)], cc = grid.col_px[std::size_t(k % grid.cols)];
        img.sampler->sample(cr, cc, window.data());
        analysis::StackingParams start;
        start.blur_A = blur_A;
        const double* y = labels.data() + cell * C;
        if (info_.task == "slip") {
          for (std::int64_t i = 0; i < info_.interfaces(); ++i) {
            const auto s = info_.cartesian(y[2 * i], y[2 * i + 1]);
            start.slip_x_A.push_back(s[0]);
            start.slip_y_A.push_back(s[1]);
          }
        } else {
          // A twisted window's local registry is unknown: its slip starts at zero and is searched.
          start.twist_deg = y[0];
          start.slip_x_A.assign(std::size_t(info_.layers - 1), 0.0);
          start.slip_y_A.assign(std::size_t(info_.layers - 1), 0.0);
        }
        analysis::StackingFit fit = fitter->fit(window.data(), start);
        if (fit.confidence < kSearchBelow && !fit_options.search_slip) {
          // The network's estimate was outside the fit's capture range (or the window is bad):
          // search the cell for the slip, keep whichever explains the window better (a twisted
          // window's fit searches the slip already).
          if (!searcher) {
            analysis::FitOptions o = fit_options;
            o.search_slip = true;
            searcher = std::make_unique<analysis::StackingWindowFitter>(fit_spec_, n_px, info_.pixel_A, o);
          }
          const analysis::StackingFit searched = searcher->fit(window.data(), start);
          if (searched.misfit < fit.misfit) fit = searched;
          ++searched_windows;
        }
        std::vector<double> r(static_cast<std::size_t>(C));
        if (info_.task == "slip") {
          for (std::int64_t i = 0; i < info_.interfaces(); ++i) {
            const auto f = info_.fractions(fit.params.slip_x_A[std::size_t(i)], fit.params.slip_y_A[std::size_t(i)]);
            r[std::size_t(2 * i)] = f[0], r[std::size_t(2 * i + 1)] = f[1];
          }
        } else {
          r[0] = fit.params.twist_deg;
        }
        double* pose = origin.data() + cell * (3 + C);
        pose[0] = fit.params.origin_x_A, pose[1] = fit.params.origin_y_A, pose[2] = fit.params.bottom_rotation_deg;
        std::copy(r.begin(), r.end(), pose + 3);
        // A 3R stack's labels fold differently on the two bottom orientations the frame cannot tell
        // apart (sim/stacking_symmetry.hpp); the fit sees which one the window shows.
        r = sim::fold_label(fit.params.bottom_rotation_deg > 30 ? symmetry_for_bottom(1) : symmetry, r);
        for (std::int64_t c = 0; c < C; ++c) refined[std::size_t(cell * C + c)] = r[std::size_t(c)];
        confidence[std::size_t(cell)] = fit.confidence;
        residual[std::size_t(cell)] = fit.residual_rms;
        progress.advance(1);
        par::throw_if_interrupted();
      }
    });
    progress.finish();
    for (auto* v : {&refined, &confidence, &residual, &origin}) ctx.comm.allreduce_inplace(v->data(), v->size(), par::Op::sum);
    searched_windows = ctx.comm.allreduce(searched_windows, par::Op::sum);
    if (ctx.comm.is_root() && searched_windows > 0)
      log::info("infer-stacking: ", searched_windows, " of ", cells.size(), " refined windows were searched over the cell (the network's estimate fitted with confidence < ",
                kSearchBelow, ")");
  }

  struct FinePass {
    std::vector<std::int64_t> image;
    std::vector<double> row_px, col_px, consistency;
    std::vector<double> labels;  // per window, C values
  };

  FinePass fine_pass(const StageContext& ctx, learn::PatchModel& network, const sim::LabelSymmetry& symmetry, const learn::WindowCentres& grid,
                     const std::vector<std::uint8_t>& boundary, double stride_px, double fine_px, const learn::StackingInferenceOptions& opts,
                     CurrentImage& images, std::map<std::int64_t, ImageLattice>& lattices) const {
    // Every boundary cell is covered by fine windows spaced fine_px around its centre (its stride cell).
    FinePass f;
    const std::int64_t per_image = grid.rows * grid.cols;
    const int steps = std::max(1, int(std::floor(stride_px / fine_px + 1e-9)));
    for (std::int64_t cell = 0; cell < std::int64_t(boundary.size()); ++cell) {
      if (!boundary[std::size_t(cell)]) continue;
      const std::int64_t n = cell / per_image, k = cell % per_image;
      const double r0 = grid.row_px[std::size_t(k / grid.cols)], c0 = grid.col_px[std::size_t(k % grid.cols)];
      for (int a = 0; a < steps; ++a)
        for (int b = 0; b < steps; ++b) {
          const double r = r0 + (a - (steps - 1) / 2.0) * fine_px, c = c0 + (b - (steps - 1) / 2.0) * fine_px;
          if (r < 0 || c < 0 || r > double(meta_.height - 1) || c > double(meta_.width - 1)) continue;
          f.image.push_back(n), f.row_px.push_back(r), f.col_px.push_back(c);
        }
    }
    const std::int64_t F = std::int64_t(f.image.size()), C = std::int64_t(info_.values.size());
    f.labels.assign(static_cast<std::size_t>(F * C), 0.0);
    f.consistency.assign(static_cast<std::size_t>(F), 0.0);
    if (F == 0) return f;
    const par::Range mine = par::block_partition(F, ctx.comm.size(), ctx.comm.rank());
    par::Progress progress(ctx.comm, "infer-stacking fine pass", std::uint64_t(F), "windows");
    par::collectively(ctx.comm, [&] {
      std::int64_t q = mine.begin;
      while (q < mine.end) {
        const std::int64_t n = f.image[std::size_t(q)];
        std::int64_t e = q;
        std::vector<std::array<double, 2>> centres;
        while (e < mine.end && f.image[std::size_t(e)] == n && e - q < 4096) centres.push_back({f.row_px[std::size_t(e)], f.col_px[std::size_t(e)]}), ++e;
        const CurrentImage& img = image_at(n, images, lattices);
        const auto w = learn::infer_stacking_windows(network, info_, symmetry, *img.sampler, centres, opts);
        for (std::int64_t i = q; i < e; ++i) {
          for (std::int64_t c = 0; c < C; ++c) f.labels[std::size_t(i * C + c)] = w.label[std::size_t(i - q)][std::size_t(c)];
          f.consistency[std::size_t(i)] = w.consistency[std::size_t(i - q)];
        }
        progress.advance(std::uint64_t(e - q));
        q = e;
        par::throw_if_interrupted();
      }
    });
    progress.finish();
    ctx.comm.allreduce_inplace(f.labels.data(), f.labels.size(), par::Op::sum);
    ctx.comm.allreduce_inplace(f.consistency.data(), f.consistency.size(), par::Op::sum);
    return f;
  }

  // --- the product ------------------------------------------------------------------------------

  /// One label (C values) as the product's quantities: per interface slip (image-frame A, fractions,
  /// TED-Gen Da/Db) or the twist.
  struct Quantities {
    std::vector<double> x_A, y_A, a, b, da, db;
    double twist = kNaN;
  };
  Quantities quantities(const std::vector<double>& y, const double* lattice) const {
    Quantities q;
    if (info_.task == "twist") {
      q.twist = y.empty() ? kNaN : y[0];
      return q;
    }
    const bool tedgen = sim::layer_cell(info_.material).triclinic;
    const double* M = lattice + kFrameAt;  // canonical Angstrom -> input pixels (analysis::canonical_frame)
    for (std::int64_t i = 0; i < info_.interfaces(); ++i) {
      const double fa = y[std::size_t(2 * i)], fb = y[std::size_t(2 * i + 1)];
      const auto s = info_.cartesian(fa, fb);
      q.a.push_back(fa), q.b.push_back(fb);
      q.x_A.push_back((M[0] * s[0] + M[1] * s[1]) * meta_.pixel_size_x_A);
      q.y_A.push_back((M[2] * s[0] + M[3] * s[1]) * meta_.pixel_size_y_A);
      // TED-Gen's ReS2 layer is the mirror image of layer_cell's (about a1): their (dx, dy) is the
      // canonical slip mirrored about x (data_schema/stacking.md, "TED-Gen convention").
      const auto d = tedgen ? analysis::tedgen_da_db(s[0], -s[1]) : std::array<double, 2>{kNaN, kNaN};
      q.da.push_back(d[0]), q.db.push_back(d[1]);
    }
    return q;
  }

  void write_product(const StageContext& ctx, io::ProductWriter& out, const sim::LabelSymmetry& symmetry, const learn::WindowCentres& grid,
                     const std::vector<double>& labels, const std::vector<double>& refined, const std::vector<std::uint8_t>& was_refined,
                     const std::vector<double>& consistency, const std::vector<double>& confidence, const std::vector<std::uint8_t>& boundary,
                     const std::vector<analysis::RobustCentre>& network_centre, const std::vector<std::vector<double>>& estimate,
                     const std::vector<double>& image_confidence, const std::vector<double>& lattice, const FinePass& fine,
                     const learn::LoadedModel& model) const {
    const io::h5::Group& g = out.group();
    const std::int64_t N = meta_.frames, R = grid.rows, K = grid.cols, per_image = R * K, C = std::int64_t(info_.values.size());
    const std::int64_t L1 = std::max<std::int64_t>(1, info_.interfaces());
    const bool slip = info_.task == "slip";
    g.set_attr("emd_group_type", "root");
    g.set_attr("python_class", "Root");
    g.set_attr("material", info_.material);
    g.set_attr("layers", std::int64_t(info_.layers));
    g.set_attr("task", info_.task);
    g.set_attr("stacking", info_.stacking);
    g.set_attr("model_name", model.manifest.name);
    g.set_attr("model_sha256", model.sha256);
    g.set_attr("source", where_);
    g.set_attr("pixel_size_A", pixel_A_);
    g.set_attr("model_pixel_A", info_.pixel_A);
    g.set_attr("window_A", window_A_);
    g.set_attr("stride_A", 10 * stride_nm_);
    g.set_attr("fine_stride_A", 10 * fine_stride_nm_);
    g.set_attr("refine", refine_);
    g.set_attr("label_symmetry", symmetry.describe());
    g.set_attr("refine_voltage_kV", fit_spec_.voltage_kV);
    g.set_attr("refine_convergence_mrad", fit_spec_.convergence_mrad);
    g.set_attr("refine_adf_inner_mrad", fit_spec_.inner_mrad);
    g.set_attr("refine_adf_outer_mrad", fit_spec_.outer_mrad);

    // Writes a whole dataset from the root's values (every rank holds the same ones).
    auto put = [&](const io::h5::Group& grp, const std::string& name, const std::vector<std::int64_t>& shape, const std::vector<double>& v,
                   const std::string& units, const std::string& description) {
      io::h5::Dataset d = grp.create_dataset(name, io::Dtype::f64, io::h5::Shape(shape.begin(), shape.end()));
      d.set_attr("units", units);
      d.set_attr("description", description);
      d.write_whole(v.data());
    };
    auto put_u8 = [&](const io::h5::Group& grp, const std::string& name, const std::vector<std::int64_t>& shape, const std::vector<std::uint8_t>& v,
                      const std::string& description) {
      io::h5::Dataset d = grp.create_dataset(name, io::Dtype::u8, io::h5::Shape(shape.begin(), shape.end()));
      d.set_attr("description", description);
      d.write_whole(v.data());
    };

    // Whole-image values.
    std::vector<double> sx(static_cast<std::size_t>(N * L1), kNaN), sy = sx, fa = sx, fb = sx, da = sx, db = sx, twist(static_cast<std::size_t>(N), kNaN);
    std::vector<double> nsx = sx, nsy = sx, nfa = sx, nfb = sx, ntwist = twist;
    std::vector<double> a1(static_cast<std::size_t>(N * 2)), a2(static_cast<std::size_t>(N * 2)), a1px(static_cast<std::size_t>(N * 2)), a2px(static_cast<std::size_t>(N * 2));
    std::vector<double> scale(static_cast<std::size_t>(N)), mirrored(static_cast<std::size_t>(N)), quality(static_cast<std::size_t>(N)), spread(static_cast<std::size_t>(N)), inliers(static_cast<std::size_t>(N)),
        fft_twist(static_cast<std::size_t>(N)), boundary_fraction(static_cast<std::size_t>(N));
    for (std::int64_t n = 0; n < N; ++n) {
      const double* lat = lattice.data() + n * kLatticeValues;
      const Quantities q = quantities(estimate[std::size_t(n)], lat), nq = quantities(network_centre[std::size_t(n)].label, lat);
      for (std::int64_t i = 0; slip && i < L1; ++i) {
        const std::size_t k = std::size_t(n * L1 + i);
        sx[k] = q.x_A[std::size_t(i)], sy[k] = q.y_A[std::size_t(i)], fa[k] = q.a[std::size_t(i)], fb[k] = q.b[std::size_t(i)];
        da[k] = q.da[std::size_t(i)], db[k] = q.db[std::size_t(i)];
        nsx[k] = nq.x_A[std::size_t(i)], nsy[k] = nq.y_A[std::size_t(i)], nfa[k] = nq.a[std::size_t(i)], nfb[k] = nq.b[std::size_t(i)];
      }
      twist[std::size_t(n)] = q.twist, ntwist[std::size_t(n)] = nq.twist;
      for (int c = 0; c < 2; ++c) {
        a1px[std::size_t(2 * n + c)] = lat[c], a2px[std::size_t(2 * n + c)] = lat[2 + c];
        const double p = c == 0 ? meta_.pixel_size_x_A : meta_.pixel_size_y_A;
        a1[std::size_t(2 * n + c)] = lat[c] * p, a2[std::size_t(2 * n + c)] = lat[2 + c] * p;
      }
      scale[std::size_t(n)] = lat[4], mirrored[std::size_t(n)] = lat[5], quality[std::size_t(n)] = lat[6], fft_twist[std::size_t(n)] = lat[7];
      spread[std::size_t(n)] = network_centre[std::size_t(n)].spread, inliers[std::size_t(n)] = network_centre[std::size_t(n)].inliers;
      boundary_fraction[std::size_t(n)] =
          double(std::count(boundary.begin() + std::ptrdiff_t(n * per_image), boundary.begin() + std::ptrdiff_t((n + 1) * per_image), 1)) / double(per_image);
    }
    const std::string unit = slip ? "A" : "degree";
    if (slip) {
      put(g, "slip_x_A", {N, L1}, sx, "A", "whole-image slip of interface k (layer k+1 vs layer k, minus the registry), x = column, image frame");
      put(g, "slip_y_A", {N, L1}, sy, "A", "the same, y = row");
      put(g, "slip_a", {N, L1}, fa, "fraction of a1", "the same as a fraction of the bottom layer's a1 found in the image");
      put(g, "slip_b", {N, L1}, fb, "fraction of a2", "the same along a2");
      put(g, "tedgen_Da_A", {N, L1}, da, "A", "TED-Gen's Da of the slip (ReS2/ReSe2; NaN otherwise): data_schema/stacking.md");
      put(g, "tedgen_Db_A", {N, L1}, db, "A", "TED-Gen's Db of the slip");
    } else {
      put(g, "twist_deg", {N}, twist, "degree", "twist of layer 1 relative to layer 0, in [0, 60]");
      put(g, "fft_twist_deg", {N}, fft_twist, "degree", "angle between the two lattices of the image's spectrum, folded into [0, 30] (cannot tell theta from 60 - theta)");
    }
    put(g, "a1_A", {N, 2}, a1, "A", "bottom layer's a1 found in the image (x, y)");
    put(g, "a2_A", {N, 2}, a2, "A", "bottom layer's a2 found in the image (x, y)");
    put(g, "a1_px", {N, 2}, a1px, "pixels", "a1 in input pixels (x, y)");
    put(g, "a2_px", {N, 2}, a2px, "pixels", "a2 in input pixels (x, y)");
    put(g, "lattice_scale", {N}, scale, "ratio", "found / tabulated lattice constant (the calibration check)");
    put(g, "mirrored", {N}, mirrored, "flag", "1 when the image shows the layers' mirror image (seen from the other side)");
    put(g, "lattice_quality", {N}, quality, "ratio", "strength of the lattice peaks over the spectrum's background");
    put(g, "confidence", {N}, image_confidence, "fraction", "whole-image confidence: median fit confidence of the refined windows, else the inlier fraction");
    put(g, "spread", {N}, spread, unit, "median distance of the windows' network labels to their robust centre");
    put(g, "inlier_fraction", {N}, inliers, "fraction", "windows within twice the boundary threshold of the centre");
    put(g, "boundary_fraction", {N}, boundary_fraction, "fraction", "windows on a stacking boundary");
    io::h5::Group net = g.create_group("network");
    if (slip) {
      put(net, "slip_x_A", {N, L1}, nsx, "A", "whole-image slip from the network alone (robust centre of the windows)");
      put(net, "slip_y_A", {N, L1}, nsy, "A", "the same, y");
      put(net, "slip_a", {N, L1}, nfa, "fraction of a1", "the same as fractions");
      put(net, "slip_b", {N, L1}, nfb, "fraction of a2", "the same");
    } else {
      put(net, "twist_deg", {N}, ntwist, "degree", "whole-image twist from the network alone");
    }

    // Maps.
    io::h5::Group maps = g.create_group("maps");
    put(maps, "center_row_px", {R}, grid.row_px, "pixels", "centre row of window row i (input pixels)");
    put(maps, "center_col_px", {K}, grid.col_px, "pixels", "centre column of window column j (input pixels)");
    auto per_window = [&](const std::vector<double>& source, const std::vector<std::uint8_t>* use_refined, const std::vector<double>* refined_values) {
      // [N, L1, R, K] quantities of every window.
      std::vector<double> mx(static_cast<std::size_t>(N * L1 * per_image)), my = mx, ma = mx, mb = mx, mda = mx, mdb = mx, mt(static_cast<std::size_t>(N * per_image));
      for (std::int64_t n = 0; n < N; ++n) {
        const double* lat = lattice.data() + n * kLatticeValues;
        for (std::int64_t k = 0; k < per_image; ++k) {
          const std::int64_t cell = n * per_image + k;
          const std::vector<double>& src = (use_refined && (*use_refined)[std::size_t(cell)]) ? *refined_values : source;
          const std::vector<double> y(src.begin() + std::ptrdiff_t(cell * C), src.begin() + std::ptrdiff_t((cell + 1) * C));
          const Quantities q = quantities(y, lat);
          mt[std::size_t(cell)] = q.twist;
          for (std::int64_t i = 0; slip && i < L1; ++i) {
            const std::size_t at = std::size_t((n * L1 + i) * per_image + k);
            mx[at] = q.x_A[std::size_t(i)], my[at] = q.y_A[std::size_t(i)], ma[at] = q.a[std::size_t(i)], mb[at] = q.b[std::size_t(i)];
            mda[at] = q.da[std::size_t(i)], mdb[at] = q.db[std::size_t(i)];
          }
        }
      }
      return std::vector<std::vector<double>>{mx, my, ma, mb, mda, mdb, mt};
    };
    const auto m = per_window(labels, &was_refined, &refined);
    if (slip) {
      put(maps, "slip_x_A", {N, L1, R, K}, m[0], "A", "slip of each window (refined where refine = all), image frame x");
      put(maps, "slip_y_A", {N, L1, R, K}, m[1], "A", "the same, y");
      put(maps, "slip_a", {N, L1, R, K}, m[2], "fraction of a1", "the same as fractions of a1");
      put(maps, "slip_b", {N, L1, R, K}, m[3], "fraction of a2", "the same, a2");
      put(maps, "tedgen_Da_A", {N, L1, R, K}, m[4], "A", "TED-Gen's Da of each window");
      put(maps, "tedgen_Db_A", {N, L1, R, K}, m[5], "A", "TED-Gen's Db of each window");
    } else {
      put(maps, "twist_deg", {N, R, K}, m[6], "degree", "twist of each window");
    }
    put(maps, "confidence", {N, R, K}, confidence, "fraction",
        "per window: the fit's confidence where refined, else exp(-(c/s)^2) of the 180-degree consistency c (s = 0.1 A or 0.5 degree)");
    put(maps, "consistency", {N, R, K}, consistency, unit, "distance between the labels of the window and of the window turned by 180 degrees");
    put_u8(maps, "boundary", {N, R, K}, boundary, "1 where a neighbouring window differs by more than the boundary threshold");
    put_u8(maps, "refined", {N, R, K}, was_refined, "1 where the physics refinement fitted the window");

    if (!fine.image.empty()) {
      io::h5::Group fg = g.create_group("fine");
      const std::int64_t F = std::int64_t(fine.image.size());
      std::vector<double> img(fine.image.begin(), fine.image.end());
      put(fg, "image", {F}, img, "index", "image of each fine window");
      put(fg, "center_row_px", {F}, fine.row_px, "pixels", "centre row (input pixels)");
      put(fg, "center_col_px", {F}, fine.col_px, "pixels", "centre column (input pixels)");
      std::vector<double> fx(static_cast<std::size_t>(F * L1), kNaN), fy = fx, ft(static_cast<std::size_t>(F), kNaN);
      for (std::int64_t w = 0; w < F; ++w) {
        const std::vector<double> y(fine.labels.begin() + std::ptrdiff_t(w * C), fine.labels.begin() + std::ptrdiff_t((w + 1) * C));
        const Quantities q = quantities(y, lattice.data() + fine.image[std::size_t(w)] * kLatticeValues);
        ft[std::size_t(w)] = q.twist;
        for (std::int64_t i = 0; slip && i < L1; ++i) fx[std::size_t(w * L1 + i)] = q.x_A[std::size_t(i)], fy[std::size_t(w * L1 + i)] = q.y_A[std::size_t(i)];
      }
      if (slip) {
        put(fg, "slip_x_A", {F, L1}, fx, "A", "slip of each fine window, image frame x");
        put(fg, "slip_y_A", {F, L1}, fy, "A", "the same, y");
      } else {
        put(fg, "twist_deg", {F}, ft, "degree", "twist of each fine window");
      }
      put(fg, "consistency", {F}, fine.consistency, unit, "180-degree consistency of each fine window");
    }
  }

  void write_figures(const StageContext& ctx, const sim::LabelSymmetry&, const learn::WindowCentres& grid, const std::vector<double>& labels,
                     const std::vector<double>& confidence, const std::vector<std::uint8_t>& boundary, const std::vector<std::vector<double>>& estimate,
                     const std::vector<double>& lattice, const std::vector<double>& origin, const std::vector<std::uint8_t>& was_refined,
                     const std::vector<double>& refined) const {
    namespace fs = std::filesystem;
    const fs::path dir = figures_folder(figures_, ctx.output.file);
    fs::create_directories(dir);
    const std::string stem = fs::path(ctx.output.file).stem().string();
    const std::int64_t per_image = grid.rows * grid.cols, C = std::int64_t(info_.values.size());
    std::vector<float> img(static_cast<std::size_t>(meta_.height * meta_.width));
    read_frame(0, img.data());
    StackingFigureInput f;
    f.image = &img;
    f.height = meta_.height, f.width = meta_.width, f.pixel_A = pixel_A_;
    f.material = info_.material, f.task = info_.task, f.stacking = info_.stacking, f.layers = info_.layers;
    f.where = where_;
    f.grid = &grid;
    f.window_px = window_A_ / pixel_A_;
    for (std::int64_t k = 0; k < per_image; ++k) {
      const std::vector<double>& src = was_refined[std::size_t(k)] ? refined : labels;
      const std::vector<double> y(src.begin() + std::ptrdiff_t(k * C), src.begin() + std::ptrdiff_t((k + 1) * C));
      const Quantities q = quantities(y, lattice.data());
      f.window_values.push_back(info_.task == "slip" ? std::vector<double>{} : std::vector<double>{q.twist});
      if (info_.task == "slip")
        for (std::size_t i = 0; i < q.x_A.size(); ++i) f.window_values.back().push_back(q.x_A[i]), f.window_values.back().push_back(q.y_A[i]);
    }
    f.confidence.assign(confidence.begin(), confidence.begin() + std::ptrdiff_t(per_image));
    f.boundary.assign(boundary.begin(), boundary.begin() + std::ptrdiff_t(per_image));
    f.estimate_label = estimate.front();
    const Quantities q = quantities(estimate.front(), lattice.data());
    for (std::size_t i = 0; i < q.x_A.size(); ++i) f.estimate_xy_A.push_back({q.x_A[i], q.y_A[i]});
    f.estimate_twist = q.twist;
    // Where the lattice sits: the refined window nearest the image centre, when there is one.
    double best = HUGE_VAL;
    for (std::int64_t k = 0; k < per_image; ++k) {
      if (!was_refined[std::size_t(k)]) continue;
      const double r = grid.row_px[std::size_t(k / grid.cols)], c = grid.col_px[std::size_t(k % grid.cols)];
      const double d = std::hypot(r - meta_.height / 2.0, c - meta_.width / 2.0);
      if (d < best) {
        best = d;
        const double* pose = origin.data() + k * (3 + C);
        f.model_origin = {{r, c, pose[0], pose[1]}};
        f.model_bottom_rotation_deg = pose[2];
        f.model_label.assign(pose + 3, pose + 3 + C);
      }
    }
    f.frame = {lattice[kFrameAt], lattice[kFrameAt + 1], lattice[kFrameAt + 2], lattice[kFrameAt + 3]};
    write_stacking_figures(dir.string(), stem, f);
  }

  std::string model_, material_, task_, stacking_, refine_, figures_;
  int layers_ = 2, refine_windows_ = 24, threads_ = 0;
  double window_nm_ = 0, stride_nm_ = 1, fine_stride_nm_ = 0, boundary_threshold_ = 0;
  double voltage_kV_ = 0, convergence_mrad_ = 0, inner_mrad_ = 0, outer_mrad_ = 0, tolerance_ = 0.1;
  bool consistency_ = true, calibrate_by_lattice_ = false;
  std::int64_t batch_ = 128;
  io::ModelLocation location_;
  learn::StackingModelInfo info_;
  analysis::StackingModelSpec fit_spec_;
  io::ImageStackMeta meta_;
  std::string where_;
  double pixel_A_ = 0, window_A_ = 0;
  std::int64_t window_model_px_ = 0;  // window side in model pixels
  std::shared_ptr<io::h5::File> file_;
  std::optional<io::h5::Dataset> images_;
  std::string data_path_ = "images/data";  // the frames within the input group (io::ImageStackReader)
};

}  // namespace

std::unique_ptr<Stage> make_infer_stacking_stage() { return std::make_unique<InferStacking>(); }

}  // namespace tmdflow::stages

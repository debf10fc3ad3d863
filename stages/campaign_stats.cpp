// Stage campaign-stats: the distribution of a campaign's window slips on the sliding-energy
// landscape (data_schema/stacking.md, "Campaign statistics"), after TED-Gen (Huang et al. 2025),
// who plotted 3,750 2-nm windows of 150 ReS2 images on their landscape. Reads a stacking/1 product
// (infer-stacking, any number of images) and a landscape (landscape/1, a file, or the built-in
// estimate made here); writes stacking_stats/1: histograms and kernel densities of the window slips
// in fractions of the cell and in TED-Gen's (Da, Db), the fraction of windows in each basin of the
// landscape, per-image summaries and a basin map per image; PNGs of the slips over the landscape.
// Images are sharded over the ranks and streamed one at a time; only counts are reduced.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>

#include "stage.hpp"
#include "stage_list.hpp"
#include "tmdflow/analysis/landscape/slip_campaign.hpp"
#include "tmdflow/core/log.hpp"
#include "tmdflow/io/image_stack.hpp"
#include "tmdflow/par/failure.hpp"
#include "tmdflow/par/interrupt.hpp"
#include "tmdflow/par/partition.hpp"
#include "tmdflow/par/progress.hpp"
#include "tmdflow/sim/interlayer_energy.hpp"
#include "tmdflow/sim/structure.hpp"

namespace tmdflow::stages {
namespace {

class CampaignStats : public Stage {
 public:
  std::string name() const override { return "campaign-stats"; }
  std::string summary() const override {
    return "statistics of a campaign's window slips on the sliding-energy landscape: histograms, densities, fractions per basin, per image";
  }
  std::string description() const override {
    return "Reads a stacking/1 product of bilayer slips (infer-stacking over any number of images) and a sliding-energy landscape\n"
           "(--landscape: builtin, the estimate of stage landscape made here for the product's material and stacking; or a\n"
           "landscape/1 product FILE.h5[:/landscape], an HDF5 2-D dataset or a CSV file). Windows below --min-confidence are\n"
           "left out (counted). The image cannot tell a slip from its equivalents (ReS2: s and -s) while their energies differ,\n"
           "so the landscape is folded (the lower energy of the equivalents) and its basins -- the attraction basins of its\n"
           "minima on the periodic grid, shallower than --min-depth-meV merged, equivalent ones merged -- are the stacking\n"
           "basins; the pairs of basins of the unfolded landscape are reported beside them. Writes stacking_stats/1: the\n"
           "fraction of windows per basin, 2-D histograms and Gaussian kernel densities (--bandwidth-A) in fractions of the\n"
           "cell and in TED-Gen's (Da, Db) (ReS2, ReSe2), per-image summaries and basin maps; PNGs of the slips over the\n"
           "landscape's contours with the basins outlined. Images are sharded over the ranks. Conventions: data_schema/stacking.md.";
  }
  std::string product_schema() const override { return "stacking_stats/1"; }
  std::string default_group() const override { return "/stacking_stats"; }
  bool validate_reads_input() const override { return true; }

  void declare(Options& o) override {
    o.add<std::string>("landscape", &landscape_, "builtin",
                       "builtin (the built-in estimate for the product's material) or FILE.h5[:/landscape] (landscape/1 or a 2-D dataset) or FILE.csv")
        .add<std::string>("potential", &potential_, "ilp", "builtin landscape: interlayer potential ilp or lj (stage landscape)")
        .add<std::string>("landscape-grid", &landscape_grid_, "24,24", "builtin landscape: slips along a1 and a2, NA,NB")
        .add<int>("basin-grid", &basin_grid_, 120, "the landscape is resampled to this many slips per axis for the basins")
        .add<double>("min-depth-meV", &min_depth_meV_, 2.0, "basins less deep than this [meV per cell] merge into their neighbour")
        .add<double>("min-confidence", &min_confidence_, 0.5, "windows of lower confidence (maps/confidence) are left out and counted")
        .add<int>("bins", &bins_, 64, "histogram bins per axis of the cell (fractions)")
        .add<double>("tedgen-bin-A", &tedgen_bin_A_, 0.1, "histogram bin in TED-Gen's (Da, Db) [Angstrom]")
        .add<double>("bandwidth-A", &bandwidth_A_, 0.2, "Gaussian kernel of the density, sigma [Angstrom of slip]")
        .add<int>("figure-points", &figure_points_, 20000, "at most this many windows drawn in the PNG (evenly spread)")
        .add<std::string>("figures", &figures_, "auto", "folder for the PNGs (auto: figures/ beside the output; none: no PNG)");
  }

  void validate(const StageContext& ctx) override {
    const auto g = str::to_int_list(landscape_grid_, "landscape-grid");
    if (g.size() != 2 || g[0] < 3 || g[1] < 3 || g[0] > 512 || g[1] > 512)
      throw ConfigError("landscape-grid: expected NA,NB with 3 to 512 slips each, found '" + landscape_grid_ + "'");
    grid_na_ = int(g[0]), grid_nb_ = int(g[1]);
    if (basin_grid_ < 12 || basin_grid_ > 1024) throw ConfigError("basin-grid: expected 12 to 1024 slips per axis, found " + std::to_string(basin_grid_));
    if (bins_ < 4 || bins_ > 1024) throw ConfigError("bins: expected 4 to 1024 bins per axis, found " + std::to_string(bins_));
    if (!(min_depth_meV_ >= 0 && min_depth_meV_ < 1e6)) throw ConfigError("min-depth-meV: expected a value >= 0, found " + Options::text(min_depth_meV_));
    if (!(min_confidence_ >= 0 && min_confidence_ <= 1)) throw ConfigError("min-confidence: expected 0 to 1, found " + Options::text(min_confidence_));
    require_positive("bandwidth-A", bandwidth_A_);
    if (!(tedgen_bin_A_ >= 0.01 && tedgen_bin_A_ <= 1)) throw ConfigError("tedgen-bin-A: expected 0.01 to 1 A, found " + Options::text(tedgen_bin_A_));
    if (figure_points_ < 0) throw ConfigError("figure-points: expected a count >= 0, found " + std::to_string(figure_points_));
    if (potential_ != "ilp" && potential_ != "lj") throw ConfigError("potential: expected ilp or lj, found '" + potential_ + "'");
    header_ = read_header(ctx.input);
    if (builtin()) {
      sim::InterlayerEnergySpec spec;
      spec.material = header_.material, spec.stacking = header_.stacking, spec.potential = potential_;
      sim::validate(spec);
    } else if (std::filesystem::exists(io::parse_target(landscape_, "/landscape").file)) {
      check_landscape_product();  // else the step that makes it has not run yet: checked in run()
    }
  }

  std::vector<std::string> extra_inputs() const override { return builtin() ? std::vector<std::string>{} : std::vector<std::string>{landscape_}; }

  void run(const StageContext& ctx, io::ProductWriter& out) override {
    const par::Comm& comm = ctx.comm;
    const io::Target in = io::parse_target(ctx.input, "/stacking");

    // 1. The landscape, its basins and the tally (identical on every rank).
    std::string landscape_source;
    analysis::EnergyGrid grid;
    par::collectively(comm, [&] {
      if (!builtin()) check_landscape_product();
    });
    if (builtin()) {
      const par::Range rows = par::block_partition(grid_nb_, comm.size(), comm.rank());
      par::collectively(comm, [&] {
        grid = analysis::builtin_landscape(header_.material, header_.stacking, potential_, grid_na_, grid_nb_, rows.begin, rows.end, landscape_source);
      });
      comm.allreduce_inplace(grid.energy_meV.data(), grid.energy_meV.size(), par::Op::sum);
    } else {
      par::collectively(comm, [&] { grid = read_landscape(landscape_source); });
    }
    analysis::SlipCampaignOptions o;
    o.basin_grid = basin_grid_, o.min_depth_meV = min_depth_meV_, o.min_confidence = min_confidence_, o.bins = bins_;
    o.tedgen_bin_A = tedgen_bin_A_, o.bandwidth_A = bandwidth_A_, o.figure_points = figure_points_;
    analysis::SlipCampaign campaign(header_.material, header_.stacking, std::move(grid), landscape_source, o);

    // 2. The images, one at a time, in rounds: each rank its k-th image, then one collective write
    //    of the rounds' basin maps.
    const std::int64_t N = header_.images, R = header_.rows, K = header_.cols, per_image = R * K;
    std::shared_ptr<io::h5::File> file;
    io::h5::Group root;
    std::vector<analysis::SlipImage> images;
    par::collectively(comm, [&] {
      file = io::FileRegistry::open(in.file, io::h5::Mode::read, &comm);
      root = file->root().open_group(in.group);
      images = analysis::read_stacking_images(root, header_);
    });
    const std::vector<std::string> source_files = image_source_files(comm);
    for (std::size_t n = 0; n < images.size(); ++n) images[n].source_file = source_files[n];
    campaign.plan(std::move(images), N * per_image);

    const io::h5::Group& g = out.group();
    io::h5::Dataset basin_map = g.require_group("maps").create_dataset("basin", io::Dtype::i32, io::h5::Shape{N, R, K}, io::h5::Shape{1, R, K});
    basin_map.set_attr("description", "basin of each window (folded landscape), -1 where left out (no slip or low confidence)");
    const par::Range mine = par::block_partition(N, comm.size(), comm.rank());
    const std::int64_t rounds = comm.allreduce(mine.size(), par::Op::max);
    par::Progress progress(comm, "campaign-stats", std::uint64_t(N), "images");
    for (std::int64_t k = 0; k < rounds; ++k) {
      const std::int64_t n = mine.begin + k;
      const bool have = n < mine.end;
      std::vector<std::int32_t> basins(static_cast<std::size_t>(per_image), -1);
      par::collectively(comm, [&] {
        if (!have) return;
        basins = campaign.add_image(n, n * per_image, analysis::read_stacking_windows(root, header_, n)).window_basin;
        progress.advance(1);
        par::throw_if_interrupted();
      });
      basin_map.write<std::int32_t>({have ? n : 0, 0, 0}, {have ? 1 : 0, R, K}, basins.data());
    }
    progress.finish();

    // 3. The sums, the product and the figures.
    std::vector<double> counts = campaign.counts();
    comm.allreduce_inplace(counts.data(), counts.size(), par::Op::sum);
    campaign.set_counts(counts);
    par::interruption_point(comm);
    if (comm.is_root()) log::info("campaign-stats: ", campaign.summary());
    campaign.write(g, in.str());
    if (!figures_folder(figures_, ctx.output.file).empty()) {
      out.file().flush();
      par::collectively(comm, [&] {
        if (!comm.is_root()) return;
        namespace fs = std::filesystem;
        campaign.write_figures(figures_folder(figures_, ctx.output.file), fs::path(ctx.output.file).stem().string(),
                               header_.source.empty() ? ctx.input : header_.source);
      });
    }
  }

 private:
  bool builtin() const { return landscape_ == "builtin"; }

  /// The stacking product's identity and shape; InputError naming what is not a bilayer slip map.
  static analysis::StackingMapsHeader read_header(const std::string& input) {
    const io::Target t = io::parse_target(input, "/stacking");
    if (!std::filesystem::exists(t.file)) throw InputError(t.file + ": expected a stacking/1 product (stage infer-stacking), found no such file");
    if (!io::h5::File::is_hdf5(t.file)) throw InputError(t.file + ": expected an HDF5 file holding a stacking/1 product, found another kind of file");
    const auto file = io::FileRegistry::open(t.file, io::h5::Mode::read, nullptr);
    if (file->root().kind(t.group) != io::h5::LinkKind::group)
      throw InputError::at(t.file, t.group, "group", "a stacking/1 product (stage infer-stacking)", "nothing there");
    return analysis::inspect_stacking_maps(file->root().open_group(t.group));
  }

  /// A landscape product must be of the stacking's material and registry; anything else is read as
  /// a grid of that material.
  void check_landscape_product() const {
    const io::Target t = io::parse_target(landscape_, "/landscape");
    if (!std::filesystem::exists(t.file)) throw InputError(t.file + ": landscape: expected a landscape file (HDF5 or CSV), found none");
    if (!io::h5::File::is_hdf5(t.file)) return;  // CSV: the reader checks it
    const auto file = io::FileRegistry::open(t.file, io::h5::Mode::read, nullptr);
    if (file->root().kind(t.group) != io::h5::LinkKind::group) return;  // a dataset, or nothing (the reader says so)
    const io::h5::Group g = file->root().open_group(t.group);
    const auto info = io::read_product_attrs(g);
    if (!info) return;
    if (info->schema != "landscape/1")
      throw InputError::at(t.file, t.group, "product", "landscape/1 (stage landscape) for --landscape", info->schema);
    const std::string material = g.attr_string("material").value_or(""), stacking = g.attr_string("stacking").value_or("");
    if (material != header_.material)
      throw InputError::at(t.file, t.group, "material", header_.material + " (the stacking product's)", material);
    if (!stacking.empty() && stacking != header_.stacking)
      throw InputError::at(t.file, t.group, "stacking", header_.stacking + " (the stacking product's registry)", stacking);
  }

  analysis::EnergyGrid read_landscape(std::string& source) const {
    const io::Target t = io::parse_target(landscape_, "/landscape");
    source = landscape_;
    analysis::EnergyGrid g = io::h5::File::is_hdf5(t.file) ? analysis::read_energy_grid_h5(landscape_) : analysis::read_energy_grid_csv(t.file);
    // Its base vectors, when it has them, must be the material's cell (up to a mirror: fractions
    // are the same numbers in the mirror image).
    const sim::LayerCell cell = sim::layer_cell(header_.material);
    if (g.a1_A[0] != 0 || g.a1_A[1] != 0) {
      const double l1 = std::hypot(g.a1_A[0], g.a1_A[1]), l2 = std::hypot(g.a2_A[0], g.a2_A[1]);
      const double c1 = std::hypot(cell.a1[0], cell.a1[1]), c2 = std::hypot(cell.a2[0], cell.a2[1]);
      if (std::abs(l1 / c1 - 1) > 0.05 || std::abs(l2 / c2 - 1) > 0.05)
        throw InputError(t.str() + ": a1_A, a2_A: expected the " + header_.material + " cell (" + Options::text(c1) + ", " + Options::text(c2) +
                         " A), found " + Options::text(l1) + ", " + Options::text(l2) + " A");
    }
    return g;
  }

  /// The file each image came from (the image stack's frames/source_file), "" when unknown.
  std::vector<std::string> image_source_files(const par::Comm& comm) const {
    std::vector<std::string> names;
    try {
      const io::ImageStackReader r = io::ImageStackReader::open(header_.source);
      names = r.meta().source_file;
    } catch (const Error&) {
    }
    if (std::int64_t(names.size()) != header_.images) {
      if (comm.is_root()) log::warn("campaign-stats: the image stack ", header_.source, " is not at hand: images/source_file left empty");
      names.assign(std::size_t(header_.images), "");
    }
    return names;
  }

  std::string landscape_, potential_, landscape_grid_, figures_;
  int grid_na_ = 24, grid_nb_ = 24, basin_grid_ = 120, bins_ = 64, figure_points_ = 20000;
  double min_depth_meV_ = 2, min_confidence_ = 0.5, tedgen_bin_A_ = 0.1, bandwidth_A_ = 0.2;
  analysis::StackingMapsHeader header_;
};

}  // namespace

std::unique_ptr<Stage> make_campaign_stats_stage() { return std::make_unique<CampaignStats>(); }

}  // namespace tmdflow::stages

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

#include "campaign_figures.hpp"
#include "stage.hpp"
#include "stage_list.hpp"
#include "tmdflow/analysis/landscape/campaign_tally.hpp"
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

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

/// What validate() learns from the stacking product.
struct StackingHeader {
  std::string material, stacking, source;
  std::int64_t images = 0, rows = 0, cols = 0;
};

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
    const sim::LabelSymmetry symmetry = sim::label_symmetry(header_.material, 2, header_.stacking, "slip");
    const sim::LayerCell cell = sim::layer_cell(header_.material);
    const std::array<double, 2> a1 = {cell.a1[0], cell.a1[1]}, a2 = {cell.a2[0], cell.a2[1]};

    // 1. The landscape and its basins (identical on every rank).
    std::string landscape_source;
    analysis::EnergyGrid grid;
    par::collectively(comm, [&] {
      if (!builtin()) check_landscape_product();
    });
    if (builtin()) {
      grid = builtin_landscape(comm, landscape_source);
    } else {
      par::collectively(comm, [&] { grid = read_landscape(landscape_source); });
    }
    const double lowest = grid.min();
    for (double& e : grid.energy_meV) e -= lowest;
    const analysis::EnergyGrid fine = analysis::resample_landscape(grid, basin_grid_, basin_grid_);
    const analysis::EnergyGrid folded = analysis::fold_landscape(fine, symmetry);
    analysis::Basins folded_basins = analysis::merge_equivalent_basins(analysis::watershed_basins(folded, min_depth_meV_), symmetry);
    analysis::Basins unfolded_basins = analysis::watershed_basins(fine, min_depth_meV_);
    std::optional<analysis::SlipHistogram> tedgen;
    if (cell.triclinic) tedgen = analysis::tedgen_histogram(tedgen_bin_A_);
    analysis::CampaignTally tally(symmetry, folded_basins, unfolded_basins, analysis::fraction_histogram(bins_, bins_, a1, a2), tedgen, min_confidence_);
    const std::int64_t B = folded_basins.count();

    // 2. The images, one at a time, in rounds: each rank its k-th image, then one collective write
    //    of the rounds' basin maps.
    const std::int64_t N = header_.images, R = header_.rows, K = header_.cols, per_image = R * K;
    std::shared_ptr<io::h5::File> file;
    io::h5::Group root;
    io::h5::Dataset map_a, map_b, map_da, map_db, map_conf;
    std::vector<double> whole_a, whole_b, whole_da, whole_db;
    par::collectively(comm, [&] {
      file = io::FileRegistry::open(in.file, io::h5::Mode::read, &comm);
      root = file->root().open_group(in.group);
      map_a = root.open_dataset("maps/slip_a"), map_b = root.open_dataset("maps/slip_b"), map_conf = root.open_dataset("maps/confidence");
      if (tedgen) map_da = root.open_dataset("maps/tedgen_Da_A"), map_db = root.open_dataset("maps/tedgen_Db_A");
      whole_a = root.open_dataset("slip_a").read_all<double>(), whole_b = root.open_dataset("slip_b").read_all<double>();
      if (tedgen) whole_da = root.open_dataset("tedgen_Da_A").read_all<double>(), whole_db = root.open_dataset("tedgen_Db_A").read_all<double>();
    });
    const std::vector<std::string> source_files = image_source_files(comm);

    const io::h5::Group& g = out.group();
    io::h5::Dataset basin_map = g.require_group("maps").create_dataset("basin", io::Dtype::i32, io::h5::Shape{N, R, K}, io::h5::Shape{1, R, K});
    basin_map.set_attr("description", "basin of each window (folded landscape), -1 where left out (no slip or low confidence)");
    const par::Range mine = par::block_partition(N, comm.size(), comm.rank());
    const std::int64_t rounds = comm.allreduce(mine.size(), par::Op::max);
    // Per image: kept, low confidence, missing, mean confidence, then B basin counts.
    const std::int64_t columns = 4 + B;
    std::vector<double> per_image_values(static_cast<std::size_t>(N * columns), 0.0);
    // The windows the figure shows: every `stride`-th window of the campaign, at its slot.
    const std::int64_t total_windows = N * per_image;
    const std::int64_t stride = figure_points_ > 0 ? std::max<std::int64_t>(1, (total_windows + figure_points_ - 1) / figure_points_) : total_windows + 1;
    const std::int64_t slots = figure_points_ > 0 ? (total_windows + stride - 1) / stride : 0;
    std::vector<double> points(static_cast<std::size_t>(slots * 5), 0.0);  // present, slip_a, slip_b, Da, Db
    par::Progress progress(comm, "campaign-stats", std::uint64_t(N), "images");
    std::vector<double> sa(static_cast<std::size_t>(per_image)), sb = sa, da = sa, db = sa, conf = sa;
    for (std::int64_t k = 0; k < rounds; ++k) {
      const std::int64_t n = mine.begin + k;
      const bool have = n < mine.end;
      std::vector<std::int32_t> basins(static_cast<std::size_t>(per_image), -1);
      par::collectively(comm, [&] {
        if (!have) return;
        map_a.read<double>({n, 0, 0, 0}, {1, 1, R, K}, sa.data(), io::h5::Xfer::independent);
        map_b.read<double>({n, 0, 0, 0}, {1, 1, R, K}, sb.data(), io::h5::Xfer::independent);
        map_conf.read<double>({n, 0, 0}, {1, R, K}, conf.data(), io::h5::Xfer::independent);
        if (tedgen) {
          map_da.read<double>({n, 0, 0, 0}, {1, 1, R, K}, da.data(), io::h5::Xfer::independent);
          map_db.read<double>({n, 0, 0, 0}, {1, 1, R, K}, db.data(), io::h5::Xfer::independent);
        }
        std::vector<analysis::CampaignWindow> windows(static_cast<std::size_t>(per_image));
        for (std::size_t w = 0; w < windows.size(); ++w)
          windows[w] = {sa[w], sb[w], tedgen ? da[w] : kNaN, tedgen ? db[w] : kNaN, conf[w]};
        const analysis::ImageTally t = tally.add_image(windows);
        basins = t.window_basin;
        double* row = per_image_values.data() + n * columns;
        row[0] = double(t.kept), row[1] = double(t.low_confidence), row[2] = double(t.missing), row[3] = t.mean_confidence;
        for (std::int64_t b = 0; b < B; ++b) row[4 + b] = double(t.basin_count[std::size_t(b)]);
        for (std::int64_t w = 0; w < per_image; ++w) {
          const std::int64_t at = n * per_image + w;
          if (at % stride != 0 || t.window_basin[std::size_t(w)] < 0) continue;
          double* p = points.data() + (at / stride) * 5;
          p[0] = 1, p[1] = sa[std::size_t(w)], p[2] = sb[std::size_t(w)], p[3] = windows[std::size_t(w)].da_A, p[4] = windows[std::size_t(w)].db_A;
        }
        progress.advance(1);
        par::throw_if_interrupted();
      });
      basin_map.write<std::int32_t>({have ? n : 0, 0, 0}, {have ? 1 : 0, R, K}, basins.data());
    }
    progress.finish();

    // 3. The sums.
    std::vector<double> counts = tally.counts();
    comm.allreduce_inplace(counts.data(), counts.size(), par::Op::sum);
    tally.set_counts(counts);
    comm.allreduce_inplace(per_image_values.data(), per_image_values.size(), par::Op::sum);
    comm.allreduce_inplace(points.data(), points.size(), par::Op::sum);
    par::interruption_point(comm);
    const std::vector<double> fraction_density = analysis::kernel_density(tally.fractions(), bandwidth_A_);
    const std::vector<double> tedgen_density = tedgen ? analysis::kernel_density(*tally.tedgen(), bandwidth_A_) : std::vector<double>{};
    std::vector<double> basin_fraction(static_cast<std::size_t>(B), kNaN);
    for (std::int64_t b = 0; b < B; ++b) basin_fraction[std::size_t(b)] = tally.kept() > 0 ? tally.basin_count()[std::size_t(b)] / tally.kept() : kNaN;
    if (comm.is_root()) {
      std::string text;
      for (std::int64_t b = 0; b < B; ++b)
        text += " " + std::to_string(b) + ": " + Options::text(std::round(basin_fraction[std::size_t(b)] * 1000) / 10) + " %";
      log::info("campaign-stats: ", N, " images, ", std::int64_t(tally.kept()), " windows kept, ", std::int64_t(tally.low_confidence()),
                " below confidence ", min_confidence_, ", ", std::int64_t(tally.missing()), " without a slip; ", B, " basins on the folded landscape:", text);
    }

    // 4. The product.
    write_header(g, in, landscape_source, grid, tally);
    write_landscape(g, grid, folded, tally, basin_fraction);
    write_histograms(g, tally, fraction_density, tedgen_density);
    write_images(g, tally, per_image_values, source_files, whole_a, whole_b, whole_da, whole_db, columns);

    if (!figures_folder(figures_, ctx.output.file).empty()) {
      out.file().flush();
      par::collectively(comm, [&] {
        if (!comm.is_root()) return;
        CampaignFigureInput f;
        f.material = header_.material, f.title_source = header_.source.empty() ? ctx.input : header_.source;
        f.folded = &folded, f.tally = &tally, f.symmetry = &symmetry;
        f.fraction_density = fraction_density, f.tedgen_density = tedgen_density;
        f.a1_A = a1, f.a2_A = a2;
        f.basin_fraction = basin_fraction;
        for (std::int64_t s = 0; s < slots; ++s) {
          const double* p = points.data() + s * 5;
          if (p[0] == 0) continue;
          f.points_fraction.push_back({p[1], p[2]});
          f.points_tedgen.push_back({p[3], p[4]});
        }
        namespace fs = std::filesystem;
        const fs::path dir = figures_folder(figures_, ctx.output.file);
        fs::create_directories(dir);
        write_campaign_figures(dir.string(), fs::path(ctx.output.file).stem().string(), f);
      });
    }
  }

 private:
  bool builtin() const { return landscape_ == "builtin"; }

  /// The stacking product's identity and shape; InputError naming what is not a bilayer slip map.
  static StackingHeader read_header(const std::string& input) {
    const io::Target t = io::parse_target(input, "/stacking");
    if (!std::filesystem::exists(t.file)) throw InputError(t.file + ": expected a stacking/1 product (stage infer-stacking), found no such file");
    if (!io::h5::File::is_hdf5(t.file)) throw InputError(t.file + ": expected an HDF5 file holding a stacking/1 product, found another kind of file");
    const auto file = io::FileRegistry::open(t.file, io::h5::Mode::read, nullptr);
    if (file->root().kind(t.group) != io::h5::LinkKind::group)
      throw InputError::at(t.file, t.group, "group", "a stacking/1 product (stage infer-stacking)", "nothing there");
    const io::h5::Group g = file->root().open_group(t.group);
    const auto info = io::read_product_attrs(g);
    if (!info || info->schema != "stacking/1")
      throw InputError::at(t.file, t.group, "product", "stacking/1 (stage infer-stacking)", info ? info->schema : "no tmdflow product");
    if (!info->complete) throw InputError::at(t.file, t.group, "tmdflow_complete", "a complete product", "an unfinished one (rerun infer-stacking)");
    StackingHeader h;
    h.material = g.attr_string("material").value_or("");
    h.stacking = g.attr_string("stacking").value_or("");
    h.source = g.attr_string("source").value_or("");
    const std::string task = g.attr_string("task").value_or("");
    const std::int64_t layers = g.attr_int("layers").value_or(0);
    if (task != "slip" || layers != 2)
      throw InputError::at(t.file, t.group, "task, layers", "the slip of bilayers (task slip, layers 2)", "task " + task + ", layers " + std::to_string(layers));
    for (const char* name : {"maps/slip_a", "maps/slip_b", "maps/confidence", "slip_a", "slip_b"})
      if (g.kind(name) != io::h5::LinkKind::dataset) throw InputError::at(t.file, t.group + "/" + name, "dataset", "present", "none");
    const auto s = g.open_dataset("maps/slip_a").shape();
    if (s.size() != 4 || s[1] != 1) throw InputError::at(t.file, t.group + "/maps/slip_a", "shape", "[N, 1, R, K]", str::shape_string(s));
    h.images = s[0], h.rows = s[2], h.cols = s[3];
    for (const char* name : {"maps/slip_b", "maps/confidence"}) {
      auto c = g.open_dataset(name).shape();
      if (c.size() == 3) c.insert(c.begin() + 1, 1);
      if (c != s) throw InputError::at(t.file, t.group + "/" + name, "shape", "that of maps/slip_a " + str::shape_string(s), str::shape_string(c));
    }
    if (sim::layer_cell(h.material).triclinic)
      for (const char* name : {"maps/tedgen_Da_A", "maps/tedgen_Db_A", "tedgen_Da_A", "tedgen_Db_A"})
        if (g.kind(name) != io::h5::LinkKind::dataset) throw InputError::at(t.file, t.group + "/" + name, "dataset", "present (" + h.material + ")", "none");
    return h;
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

  /// The built-in estimate for the product's material and registry, grid rows over the ranks.
  analysis::EnergyGrid builtin_landscape(const par::Comm& comm, std::string& source) const {
    sim::InterlayerEnergySpec spec;
    spec.material = header_.material, spec.stacking = header_.stacking, spec.potential = potential_;
    const sim::InterlayerEnergyModel model(spec);
    analysis::EnergyGrid grid;
    grid.na = grid_na_, grid.nb = grid_nb_;
    grid.energy_meV.assign(std::size_t(grid_na_) * grid_nb_, 0.0);
    const par::Range rows = par::block_partition(grid_nb_, comm.size(), comm.rank());
    par::collectively(comm, [&] {
      for (std::int64_t ib = rows.begin; ib < rows.end; ++ib)
        for (int ia = 0; ia < grid_na_; ++ia) grid.energy_meV[std::size_t(ib) * grid_na_ + ia] = model.at(double(ia) / grid_na_, double(ib) / grid_nb_).energy_meV;
    });
    comm.allreduce_inplace(grid.energy_meV.data(), grid.energy_meV.size(), par::Op::sum);
    const auto& v = model.base_vectors();
    grid.a1_A = {v.a1[0], v.a1[1]}, grid.a2_A = {v.a2[0], v.a2[1]};
    source = "built-in estimate: " + std::string(potential_ == "ilp" ? "ILP" : "UFF Lennard-Jones") + ", rigid layers, spacing relaxed per slip (" +
             std::to_string(grid_na_) + " x " + std::to_string(grid_nb_) + " slips)";
    return grid;
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

  void write_header(const io::h5::Group& g, const io::Target& in, const std::string& landscape_source, const analysis::EnergyGrid& grid,
                    const analysis::CampaignTally& tally) const {
    const sim::LayerCell cell = sim::layer_cell(header_.material);
    g.set_attr("emd_group_type", "root");
    g.set_attr("python_class", "Root");
    g.set_attr("material", header_.material);
    g.set_attr("stacking", header_.stacking);
    g.set_attr("source", in.str());
    g.set_attr("landscape_source", landscape_source);
    g.set_attr("landscape_fold", "lower energy of the equivalent slips (the image cannot tell them apart)");
    g.set_attr("a1_A", std::vector<double>{cell.a1[0], cell.a1[1]});
    g.set_attr("a2_A", std::vector<double>{cell.a2[0], cell.a2[1]});
    g.set_attr("images", header_.images);
    g.set_attr("windows_kept", std::int64_t(tally.kept()));
    g.set_attr("windows_low_confidence", std::int64_t(tally.low_confidence()));
    g.set_attr("windows_missing", std::int64_t(tally.missing()));
    g.set_attr("min_confidence", min_confidence_);
    g.set_attr("min_depth_meV", min_depth_meV_);
    g.set_attr("bandwidth_A", bandwidth_A_);
    g.set_attr("landscape_range_meV", grid.max());
  }

  void write_landscape(const io::h5::Group& g, const analysis::EnergyGrid& grid, const analysis::EnergyGrid& folded,
                       const analysis::CampaignTally& tally, const std::vector<double>& basin_fraction) const {
    const io::h5::Group l = g.create_group("landscape");
    l.write_array("energy_meV", grid.energy_meV, {grid.nb, grid.na}).set_attr("units", "meV per unit cell, relative to the lowest grid point");
    l.write_array("folded_energy_meV", folded.energy_meV, {folded.nb, folded.na})
        .set_attr("units", "meV per unit cell: the lower of the equivalent slips, on the basin grid");

    const analysis::Basins& f = tally.folded();
    const io::h5::Group b = g.create_group("basins");
    b.write_array("map", f.label, {f.nb, f.na}).set_attr("description", "basin of each slip (slip_a = ia / NA, slip_b = ib / NB), folded landscape");
    std::vector<double> ma, mb, me, esc, cnt;
    std::vector<std::int32_t> regions(f.regions.begin(), f.regions.end());
    for (int k = 0; k < f.count(); ++k) {
      const auto& m = f.minimum[std::size_t(k)];
      ma.push_back(m.slip_a), mb.push_back(m.slip_b), me.push_back(m.energy_meV), esc.push_back(f.escape_meV(k));
      cnt.push_back(tally.basin_count()[std::size_t(k)]);
    }
    b.write_vector("minimum_slip_a", ma).set_attr("units", "fraction of a1");
    b.write_vector("minimum_slip_b", mb).set_attr("units", "fraction of a2");
    b.write_vector("minimum_energy_meV", me).set_attr("units", "meV per unit cell");
    b.write_vector("escape_meV", esc).set_attr("units", "meV per unit cell: lowest pass to another basin above the minimum (inf: none)");
    b.write_vector("regions", regions).set_attr("description", "attraction basins of the folded landscape that are equivalent slips of this one");
    b.write_vector("count", cnt).set_attr("units", "windows");
    b.write_vector("fraction", basin_fraction).set_attr("units", "fraction of the kept windows");

    const analysis::Basins& u = tally.unfolded();
    const io::h5::Group ub = g.create_group("unfolded_basins");
    ub.write_array("map", u.label, {u.nb, u.na}).set_attr("description", "basin of each slip on the landscape itself (not folded)");
    std::vector<double> ua, ubb, ue;
    for (const auto& m : u.minimum) ua.push_back(m.slip_a), ubb.push_back(m.slip_b), ue.push_back(m.energy_meV);
    ub.write_vector("minimum_slip_a", ua);
    ub.write_vector("minimum_slip_b", ubb);
    ub.write_vector("minimum_energy_meV", ue);
    // Pairs: the unfolded basins of the two members of each kept window's class, most frequent first.
    const std::int64_t U = u.count();
    std::vector<std::array<double, 3>> pairs;
    for (std::int64_t x = 0; x < U; ++x)
      for (std::int64_t y = x; y < U; ++y)
        if (const double c = tally.pair_count()[std::size_t(x * U + y)]; c > 0) pairs.push_back({c, double(x), double(y)});
    std::stable_sort(pairs.begin(), pairs.end(), [](const auto& p, const auto& q) { return p[0] > q[0]; });
    std::vector<std::int32_t> members;
    std::vector<double> pc, pf;
    for (const auto& p : pairs) {
      members.push_back(std::int32_t(p[1])), members.push_back(std::int32_t(p[2]));
      pc.push_back(p[0]), pf.push_back(tally.kept() > 0 ? p[0] / tally.kept() : kNaN);
    }
    const io::h5::Group pg = g.create_group("basin_pairs");
    pg.write_array("basins", members, {std::int64_t(pairs.size()), 2}).set_attr("description", "the unfolded basins of a class's two members (first <= second)");
    pg.write_vector("count", pc).set_attr("units", "windows");
    pg.write_vector("fraction", pf).set_attr("units", "fraction of the kept windows");
  }

  void write_histograms(const io::h5::Group& g, const analysis::CampaignTally& tally, const std::vector<double>& fraction_density,
                        const std::vector<double>& tedgen_density) const {
    const analysis::SlipHistogram& h = tally.fractions();
    const io::h5::Group f = g.create_group("fractions");
    f.write_array("counts", h.counts, {h.ny, h.nx}).set_attr("description", "kept windows per bin [slip_b, slip_a]; each shared between its class's members");
    f.write_array("density_per_A2", fraction_density, {h.ny, h.nx}).set_attr("units", "1/A^2: Gaussian kernel density, sum x bin area = 1");
    f.write_vector("slip_a_edges", h.x_edges()).set_attr("units", "fraction of a1");
    f.write_vector("slip_b_edges", h.y_edges()).set_attr("units", "fraction of a2");
    f.set_attr("bin_area_A2", h.bin_area_A2());
    if (!tally.tedgen()) return;
    const analysis::SlipHistogram& t = *tally.tedgen();
    const io::h5::Group d = g.create_group("tedgen");
    d.write_array("counts", t.counts, {t.ny, t.nx}).set_attr("description", "kept windows per bin [Db, Da] of TED-Gen's (Da, Db)");
    d.write_array("density_per_A2", tedgen_density, {t.ny, t.nx}).set_attr("units", "1/A^2 of slip (the oblique bin's area)");
    d.write_vector("Da_edges_A", t.x_edges()).set_attr("units", "A");
    d.write_vector("Db_edges_A", t.y_edges()).set_attr("units", "A");
    d.set_attr("bin_area_A2", t.bin_area_A2());
    d.set_attr("windows_outside", std::int64_t(tally.outside_tedgen()));
  }

  void write_images(const io::h5::Group& g, const analysis::CampaignTally& tally, const std::vector<double>& values,
                    const std::vector<std::string>& source_files, const std::vector<double>& whole_a, const std::vector<double>& whole_b,
                    const std::vector<double>& whole_da, const std::vector<double>& whole_db, std::int64_t columns) const {
    const std::int64_t N = header_.images, B = columns - 4;
    std::vector<std::int64_t> kept(static_cast<std::size_t>(N)), low(kept.size()), missing(kept.size());
    std::vector<double> mean_conf(kept.size()), fraction(static_cast<std::size_t>(N * B), kNaN);
    std::vector<std::int32_t> whole_basin(kept.size(), -1);
    for (std::int64_t n = 0; n < N; ++n) {
      const double* row = values.data() + n * columns;
      kept[std::size_t(n)] = std::int64_t(row[0]), low[std::size_t(n)] = std::int64_t(row[1]), missing[std::size_t(n)] = std::int64_t(row[2]);
      mean_conf[std::size_t(n)] = row[3];
      for (std::int64_t b = 0; b < B && row[0] > 0; ++b) fraction[std::size_t(n * B + b)] = row[4 + b] / row[0];
      if (std::isfinite(whole_a[std::size_t(n)]) && std::isfinite(whole_b[std::size_t(n)]))
        whole_basin[std::size_t(n)] = tally.folded().at(whole_a[std::size_t(n)], whole_b[std::size_t(n)]);
    }
    const io::h5::Group im = g.create_group("images");
    im.write_strings("source_file", source_files);
    im.write_vector("slip_a", whole_a).set_attr("units", "fraction of a1 (whole image, infer-stacking)");
    im.write_vector("slip_b", whole_b).set_attr("units", "fraction of a2");
    if (!whole_da.empty()) {
      im.write_vector("tedgen_Da_A", whole_da).set_attr("units", "A");
      im.write_vector("tedgen_Db_A", whole_db).set_attr("units", "A");
    }
    im.write_vector("basin", whole_basin).set_attr("description", "basin of the whole-image slip (folded landscape)");
    im.write_vector("windows", kept).set_attr("description", "windows kept");
    im.write_vector("low_confidence", low).set_attr("description", "windows left out below min_confidence");
    im.write_vector("missing", missing).set_attr("description", "windows without a slip (NaN)");
    im.write_vector("mean_confidence", mean_conf).set_attr("description", "mean confidence of the windows with a slip");
    im.write_array("basin_fraction", fraction, {N, B}).set_attr("description", "fraction of the image's kept windows in each basin");
  }

  std::string landscape_, potential_, landscape_grid_, figures_;
  int grid_na_ = 24, grid_nb_ = 24, basin_grid_ = 120, bins_ = 64, figure_points_ = 20000;
  double min_depth_meV_ = 2, min_confidence_ = 0.5, tedgen_bin_A_ = 0.1, bandwidth_A_ = 0.2;
  StackingHeader header_;
};

}  // namespace

std::unique_ptr<Stage> make_campaign_stats_stage() { return std::make_unique<CampaignStats>(); }

}  // namespace tmdflow::stages

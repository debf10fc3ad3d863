// Stage classify-sites: every lattice site of an MX2 alloy monolayer classified under the
// sublattice constraint (issue #17): the sites of segment-atoms (atom_columns/1) are joined into
// the lattice graph per image, which adds the empty sites nothing was found on, and each site gets
// a probability per class of its own sublattice (analysis/atoms/site_classification.hpp); local
// composition maps and defect counts follow. Images shard over the ranks. Product atoms/1
// (data_schema/atoms.md).
#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>

#include "stage.hpp"
#include "stage_list.hpp"
#include "tmdflow/analysis/atoms/site_classification.hpp"
#include "tmdflow/core/error.hpp"
#include "tmdflow/core/log.hpp"
#include "tmdflow/io/figure.hpp"
#include "tmdflow/io/h5.hpp"
#include "tmdflow/io/image_stack.hpp"
#include "tmdflow/io/plot.hpp"
#include "tmdflow/io/plot_curves.hpp"
#include "tmdflow/io/plot_panels.hpp"
#include "tmdflow/par/failure.hpp"
#include "tmdflow/par/gather.hpp"
#include "tmdflow/par/partition.hpp"

namespace tmdflow::stages {
namespace {

namespace at = analysis::atoms;
constexpr int C = at::kClasses;

struct SiteRow {
  std::int32_t frame;
  float x, y;
  std::int8_t cls, unconstrained, sublattice, found;
  std::array<float, C> probability;
};

/// The segment-atoms table.
struct ColumnTable {
  std::string where, source;
  std::int64_t frames = 0, height = 0, width = 0;
  double pixel_A = 0, edge_margin_A = 0;
  std::vector<std::string> class_names;
  std::vector<std::int32_t> frame;
  std::vector<float> x, y, scores;  // scores: M x C
};

ColumnTable read_columns(const std::string& spec) {
  const io::Target t = io::parse_target(spec, "/columns");
  if (!io::h5::File::is_hdf5(t.file)) throw InputError(t.file + ": expected an HDF5 file holding the sites of segment-atoms, found another kind of file");
  const auto file = io::FileRegistry::open(t.file, io::h5::Mode::read, nullptr);
  const io::h5::Group root = file->root();
  if (root.kind(t.group) != io::h5::LinkKind::group) throw InputError(t.str() + ": expected an atom_columns/1 product (segment-atoms), found nothing");
  const io::h5::Group g = root.open_group(t.group);
  const auto info = io::read_product_attrs(g);
  if (!info || info->schema != "atom_columns/1")
    throw InputError(t.str() + ": tmdflow_product: expected atom_columns/1 (segment-atoms), found " + (info ? info->schema : std::string("no product")));
  ColumnTable c;
  c.where = t.str();
  c.source = g.attr_string("source").value_or("");
  c.frames = g.attr_int("frames").value_or(0);
  c.height = g.attr_int("height").value_or(0);
  c.width = g.attr_int("width").value_or(0);
  c.pixel_A = g.attr_double("pixel_size_A").value_or(0);
  c.edge_margin_A = g.attr_double("edge_margin_A").value_or(0);
  if (c.frames < 1 || c.height < 1 || c.width < 1 || !(c.pixel_A > 0))
    throw InputError(t.str() + ": attributes frames, height, width, pixel_size_A: expected positive values");
  for (const char* name : {"frame", "x_px", "y_px", "class_scores", "class_names"})
    if (g.kind(name) != io::h5::LinkKind::dataset) throw InputError::at(t.file, g.path() + "/" + name, "atom columns", "a dataset", "nothing");
  c.class_names = g.open_dataset("class_names").read_strings();
  if (c.class_names.size() != std::size_t(C))
    throw InputError::at(t.file, g.path() + "/class_names", "classes", std::to_string(C) + " site classes", std::to_string(c.class_names.size()));
  c.frame = g.open_dataset("frame").read_all<std::int32_t>();
  c.x = g.open_dataset("x_px").read_all<float>();
  c.y = g.open_dataset("y_px").read_all<float>();
  const io::h5::Dataset s = g.open_dataset("class_scores");
  const std::size_t m = c.frame.size();
  if (c.x.size() != m || c.y.size() != m || s.rank() != 2 || std::size_t(s.shape()[0]) != m || s.shape()[1] != C)
    throw InputError::at(t.file, g.path(), "table", "frame, x_px, y_px of one length M and class_scores (M, " + std::to_string(C) + ")",
                         "lengths " + std::to_string(m) + ", " + std::to_string(c.x.size()) + ", " + std::to_string(c.y.size()) + " and class_scores " +
                             str::shape_string(s.shape()));
  c.scores = s.read_all<float>();
  for (std::size_t i = 0; i < m; ++i)
    if (c.frame[i] < 0 || c.frame[i] >= c.frames)
      throw InputError::at(t.file, g.path() + "/frame", "frame", "0 to " + std::to_string(c.frames - 1), std::to_string(c.frame[i]));
  return c;
}

class ClassifySites : public Stage {
 public:
  std::string name() const override { return "classify-sites"; }
  std::string summary() const override { return "every lattice site of an MX2 alloy monolayer classified under the sublattice constraint; composition maps, defect counts"; }
  std::string description() const override {
    return "Input: the sites of segment-atoms (atom_columns/1) with the site network's evidence for nine classes. Per image, the\n"
           "lattice graph (nearest-neighbour topology of the honeycomb: bonds of a/sqrt(3), the sublattices from the three-fold\n"
           "phase of each site's bonds, followed locally so that it survives strain, grain boundaries and missing columns) tells\n"
           "each site's sublattice (which one is the metal: the network's evidence averaged locally) and adds the empty sites\n"
           "where the lattice has a site and nothing was found (predicted by at least --min-support bonded sites). Every site is\n"
           "then classified under the sublattice constraint into Mo, W, V_M (metal) or S2, SSe, Se2, S, Se, V_X2 (chalcogen) with a\n"
           "probability per class (zero for the other sublattice's classes); site_class_unconstrained is the network's strongest\n"
           "class alone, for comparison. Also local composition maps (x: W/(Mo+W) on metal sites, y: Se/(S+Se) of the chalcogen\n"
           "atoms, within --composition-radius-A) and the defect counts and table. Images shard over the ranks. Product atoms/1\n"
           "(data_schema/atoms.md); PNGs of the first image's classified sites and its composition maps.";
  }
  std::string product_schema() const override { return "atoms/1"; }
  std::string default_group() const override { return "/atoms"; }
  bool validate_reads_input() const override { return true; }

  void declare(Options& o) override {
    o.add<double>("bond-A", &bond_A_, 0, "metal-chalcogen distance a/sqrt(3) [Angstrom] (0: the median nearest-neighbour distance of the sites)")
        .add<double>("bond-tolerance", &spec_.graph.bond_tolerance, 0.25, "bonds are (1 +- this) x the bond length")
        .add<double>("empty-tolerance", &spec_.graph.empty_tolerance, 0.4, "a predicted site within this x bond of a found one is that site")
        .add<int>("min-support", &spec_.graph.min_support, 2, "bonded sites that must predict an empty site")
        .add<double>("composition-radius-A", &radius_A_, 10, "radius of the neighbourhood of the composition maps [Angstrom]")
        .add<double>("composition-step-A", &step_A_, 2.5, "grid step of the composition maps [Angstrom]")
        .add<std::string>("images", &images_, "", "the images (FILE.h5[:/group]) for the figures; empty: the ones segment-atoms read")
        .add<std::string>("figures", &figures_, "auto", "folder for PNGs of the first image's sites and composition (auto: figures/ beside the output; empty: none)");
  }

  void validate(const StageContext& ctx) override {
    if (bond_A_ < 0 || !std::isfinite(bond_A_)) throw ConfigError("bond-A: expected 0 (from the sites) or a positive length, found " + Options::text(bond_A_));
    require_positive("composition-radius-A", radius_A_);
    require_positive("composition-step-A", step_A_);
    table_ = read_columns(ctx.input);
    spec_.graph.bond_px = bond_A_ / table_.pixel_A;
    spec_.graph.width_px = double(table_.width);
    spec_.graph.height_px = double(table_.height);
    // segment-atoms reports no site within its edge margin: the graph must not call those empty.
    spec_.graph.edge_px = table_.edge_margin_A / table_.pixel_A;
    // Throws on bad graph parameters before any work.
    at::classify_sites({{0, 0, {}}, {1, 0, {}}, {0, 1, {}}}, spec_);
  }

  void run(const StageContext& ctx, io::ProductWriter& out) override {
    const ColumnTable& t = table_;
    const par::Range mine = par::block_partition(t.frames, ctx.comm.size(), ctx.comm.rank());
    std::vector<SiteRow> rows;
    std::vector<std::int64_t> counts(std::size_t(std::max<std::int64_t>(mine.size(), 0)) * C, 0);
    std::vector<std::vector<float>> xmaps, ymaps;
    at::CompositionMaps shape;
    par::collectively(ctx.comm, [&] {
      for (std::int64_t f = mine.begin; f < mine.end; ++f) {
        std::vector<at::SiteEvidence> sites;
        for (std::size_t i = 0; i < t.frame.size(); ++i) {
          if (t.frame[i] != f) continue;
          at::SiteEvidence e;
          e.x = t.x[i], e.y = t.y[i];
          std::copy(t.scores.begin() + std::ptrdiff_t(i * C), t.scores.begin() + std::ptrdiff_t((i + 1) * C), e.scores.begin());
          sites.push_back(e);
        }
        std::vector<at::ClassifiedSite> classified;
        if (sites.size() >= 3) classified = at::classify_sites(sites, spec_).sites;
        for (const auto& s : classified) {
          SiteRow r{std::int32_t(f), float(s.x), float(s.y), std::int8_t(s.site_class), std::int8_t(s.unconstrained_class),
                    std::int8_t(s.sublattice), std::int8_t(s.found), s.probability};
          rows.push_back(r);
          ++counts[std::size_t((f - mine.begin) * C + s.site_class)];
        }
        shape = at::composition_maps(classified, double(t.height), double(t.width), radius_A_ / t.pixel_A, step_A_ / t.pixel_A);
        xmaps.push_back(shape.x);
        ymaps.push_back(shape.y);
      }
    });
    par::interruption_point(ctx.comm);
    const std::vector<SiteRow> all = par::allgather_rows(ctx.comm, rows);
    const std::vector<std::int64_t> all_counts = par::allgather_rows(ctx.comm, counts);
    write_product(ctx, out.group(), all, all_counts, mine, xmaps, ymaps);
    if (ctx.comm.is_root()) {
      std::string text;
      for (int c = 0; c < C; ++c) {
        std::int64_t n = 0;
        for (std::int64_t f = 0; f < t.frames; ++f) n += all_counts[std::size_t(f * C + c)];
        text += (c ? ", " : "") + std::to_string(n) + " " + t.class_names[std::size_t(c)];
      }
      log::info("classify-sites: ", all.size(), " sites in ", t.frames, " image(s): ", text);
    }
    if (!figures_.empty()) {
      par::collectively(ctx.comm, [&] {
        if (ctx.comm.is_root()) write_figures(ctx, all);
      });
    }
  }

 private:
  void write_product(const StageContext& ctx, const io::h5::Group& g, const std::vector<SiteRow>& all, const std::vector<std::int64_t>& counts,
                     const par::Range& mine, const std::vector<std::vector<float>>& xmaps, const std::vector<std::vector<float>>& ymaps) const {
    const ColumnTable& t = table_;
    std::vector<std::int32_t> frame;
    std::vector<float> x, y, probability;
    std::vector<std::int8_t> cls, unconstrained, sublattice, found;
    for (const auto& r : all) {
      frame.push_back(r.frame), x.push_back(r.x), y.push_back(r.y);
      cls.push_back(r.cls), unconstrained.push_back(r.unconstrained), sublattice.push_back(r.sublattice), found.push_back(r.found);
      probability.insert(probability.end(), r.probability.begin(), r.probability.end());
    }
    const std::string names = str::join(t.class_names, ",");
    const auto M = std::int64_t(all.size());
    g.write_vector("frame", frame);
    g.write_vector("x_px", x).set_attr("units", "pixels");
    g.write_vector("y_px", y).set_attr("units", "pixels");
    g.write_vector("site_class", cls).set_attr("class_names", names);
    g.write_vector("site_class_unconstrained", unconstrained)
        .set_attr("meaning", "the network's strongest class without the lattice graph (-1: a site only the lattice graph found)");
    g.write_vector("sublattice", sublattice).set_attr("values", "0 metal, 1 chalcogen");
    g.write_vector("found", found).set_attr("meaning", "1: found by segment-atoms; 0: an empty site added by the lattice graph");
    io::h5::Dataset p = g.create_dataset("probability", io::Dtype::f32, {M, C});
    p.write<float>(io::h5::Shape{0, 0}, io::h5::Shape{M, C}, probability.data());
    p.set_attr("meaning", "probability per class (columns in the order of class_names), zero off the site's sublattice");
    g.write_strings("class_names", t.class_names);
    io::h5::Dataset n = g.create_dataset("counts", io::Dtype::i64, {t.frames, C});
    n.write<std::int64_t>(io::h5::Shape{0, 0}, io::h5::Shape{t.frames, C}, counts.data());
    n.set_attr("meaning", "sites of each class per image (columns in the order of class_names)");
    // Defects: the sites of the vacancy classes (V_M, single chalcogen, V_X2).
    {
      io::h5::Group d = g.create_group("defects");
      std::vector<std::int32_t> df;
      std::vector<float> dx, dy;
      std::vector<std::int8_t> dc;
      for (const auto& r : all)
        if (r.cls == sim::metal_vacancy_site || r.cls == sim::host_single || r.cls == sim::alloy_single || r.cls == sim::chalcogen_vacancy_site)
          df.push_back(r.frame), dx.push_back(r.x), dy.push_back(r.y), dc.push_back(r.cls);
      d.write_vector("frame", df);
      d.write_vector("x_px", dx).set_attr("units", "pixels");
      d.write_vector("y_px", dy).set_attr("units", "pixels");
      d.write_vector("site_class", dc).set_attr("class_names", names);
    }
    // Composition maps (frames, ny, nx), each rank its images.
    {
      const at::CompositionMaps grid = at::composition_maps({}, double(t.height), double(t.width), radius_A_ / t.pixel_A, step_A_ / t.pixel_A);
      io::h5::Group c = g.create_group("composition");
      c.set_attr("radius_A", radius_A_);
      c.set_attr("step_A", step_A_);
      c.set_attr("grid", "map pixel (i, j) is the neighbourhood of image point ((j + 0.5) step, (i + 0.5) step)");
      for (const char* which : {"x", "y"}) {
        io::h5::Dataset d = c.create_dataset(which, io::Dtype::f32, {t.frames, grid.ny, grid.nx});
        std::vector<float> block;
        for (const auto& m : (which[0] == 'x' ? xmaps : ymaps)) block.insert(block.end(), m.begin(), m.end());
        d.write<float>(io::h5::Shape{mine.size() > 0 ? mine.begin : 0, 0, 0}, io::h5::Shape{mine.size(), grid.ny, grid.nx}, block.data());
        d.set_attr("meaning", which[0] == 'x' ? "alloying metal / metal atoms on the metal sites of the neighbourhood (NaN: none)"
                                              : "alloying chalcogen / chalcogen atoms on the chalcogen columns of the neighbourhood (NaN: none)");
      }
    }
    g.set_attr("source", t.source);
    g.set_attr("columns", t.where);
    g.set_attr("frames", t.frames);
    g.set_attr("height", t.height);
    g.set_attr("width", t.width);
    g.set_attr("pixel_size_A", t.pixel_A);
    (void)ctx;
  }

  void write_figures(const StageContext& ctx, const std::vector<SiteRow>& all) const {
    namespace fs = std::filesystem;
    const ColumnTable& t = table_;
    const std::string images = images_.empty() ? t.source : images_;
    if (images.empty()) return;
    const io::ImageStackReader reader = io::ImageStackReader::open(images);
    const auto& meta = reader.meta();
    if (meta.height != t.height || meta.width != t.width)
      throw InputError(images + ": expected images of " + std::to_string(t.height) + " x " + std::to_string(t.width) + " as " + t.where + " says, found " +
                       std::to_string(meta.height) + " x " + std::to_string(meta.width));
    const std::int64_t h = std::min<std::int64_t>(meta.height, 1024), w = std::min<std::int64_t>(meta.width, 1024);
    std::vector<float> full(std::size_t(meta.height * meta.width)), image(std::size_t(h * w));
    reader.read_frames_as<float>(0, 1, full.data());
    for (std::int64_t i = 0; i < h; ++i) std::copy_n(full.begin() + std::ptrdiff_t(i * meta.width), w, image.begin() + std::ptrdiff_t(i * w));
    io::plot::Panel panel = io::plot::intensity_panel("image 0", image, h, w, io::plot::scan_axes(t.pixel_A, "A"), "intensity", io::robust_scale(image));
    panel.colour_bar.reset();
    io::plot::Legend legend{"site class", {}};
    for (int c = 0; c < C; ++c) legend.entries.push_back({io::plot::series_colour(c), t.class_names[std::size_t(c)]});
    panel.legend = legend;
    for (const auto& r : all) {
      if (r.frame != 0 || r.x >= double(w) || r.y >= double(h)) continue;
      io::plot::Mark mark;
      const bool defect = r.cls == sim::metal_vacancy_site || r.cls == sim::host_single || r.cls == sim::alloy_single || r.cls == sim::chalcogen_vacancy_site;
      mark.colour = io::plot::series_colour(r.cls);
      if (!defect) {
        mark.kind = io::plot::Mark::Kind::circle;
        mark.x0 = r.x, mark.y0 = r.y, mark.radius = 0.45 / t.pixel_A;
        mark.line_width = 1.2;
        panel.marks.push_back(mark);
        continue;
      }
      const double d = 0.6 / t.pixel_A;  // a cross
      mark.line_width = 2.0;
      for (int k = 0; k < 2; ++k) {
        mark.x0 = r.x - d, mark.x1 = r.x + d;
        mark.y0 = r.y - (k ? -d : d), mark.y1 = r.y + (k ? -d : d);
        panel.marks.push_back(mark);
      }
    }
    const fs::path dir = figures_ == "auto" ? fs::absolute(ctx.output.file).parent_path() / "figures" : fs::path(figures_);
    fs::create_directories(dir);
    const std::string stem = fs::path(ctx.output.file).stem().string();
    io::plot::write_figure((dir / (stem + "_sites.png")).string(), panel,
                           "Image 0 of " + images + " with every lattice site classified under the sublattice constraint, in the colour of its class "
                           "(legend); crosses mark the defects (empty metal sites, chalcogen columns missing one or both atoms).");
    // Composition maps of image 0.
    const at::CompositionMaps grid = at::composition_maps({}, double(t.height), double(t.width), radius_A_ / t.pixel_A, step_A_ / t.pixel_A);
    std::vector<at::ClassifiedSite> sites;
    for (const auto& r : all)
      if (r.frame == 0) {
        at::ClassifiedSite s;
        s.x = r.x, s.y = r.y, s.site_class = r.cls;
        sites.push_back(s);
      }
    const at::CompositionMaps m = at::composition_maps(sites, double(t.height), double(t.width), radius_A_ / t.pixel_A, step_A_ / t.pixel_A);
    io::ColourScale unit;
    unit.lo = 0, unit.hi = 1, unit.ramp = io::Ramp::heat;
    io::plot::Figure fig;
    fig.columns = 2;
    const std::string metal = t.class_names[1] + "/(" + t.class_names[0] + "+" + t.class_names[1] + ")";
    const std::string chalcogen = t.class_names[7] + "/(" + t.class_names[6] + "+" + t.class_names[7] + ")";
    fig.panels.push_back(io::plot::intensity_panel("x = " + metal, m.x, m.ny, m.nx, io::plot::scan_axes(step_A_, "A"), "x", unit));
    fig.panels.push_back(io::plot::intensity_panel("y = " + chalcogen, m.y, m.ny, m.nx, io::plot::scan_axes(step_A_, "A"), "y", unit));
    (void)grid;
    io::plot::write_figure((dir / (stem + "_composition.png")).string(), fig,
                           "Local composition of image 0 of " + images + ": the alloying metal's share of the metal sites (left) and the alloying "
                           "chalcogen's share of the chalcogen atoms (right) within " + str::number(radius_A_) + " A of each point, from the classified sites.");
  }

  double bond_A_ = 0, radius_A_ = 10, step_A_ = 2.5;
  std::string images_, figures_;
  at::ClassificationSpec spec_;
  ColumnTable table_;
};

}  // namespace

std::unique_ptr<Stage> make_classify_sites_stage() { return std::make_unique<ClassifySites>(); }

}  // namespace tmdflow::stages

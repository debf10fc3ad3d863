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

#include "atoms_table.hpp"
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
#include "tmdflow/sim/elements.hpp"

namespace tmdflow::stages {
namespace {

namespace at = analysis::atoms;
constexpr int C = at::kClasses;

/// The segment-atoms table.
struct ColumnTable {
  std::string where, source;
  std::int64_t frames = 0, height = 0, width = 0;
  double pixel_A = 0, edge_margin_A = 0;
  std::vector<std::string> class_names;
  std::vector<std::int32_t> frame;
  std::vector<float> x, y, scores, intensity;  // scores: M x C; intensity: empty when not recorded
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
  if (g.kind("intensity") == io::h5::LinkKind::dataset) {
    const io::h5::Dataset d = g.open_dataset("intensity");
    if (d.rank() != 1 || std::size_t(d.shape()[0]) != m)
      throw InputError::at(t.file, d.path(), "shape", "(" + std::to_string(m) + ",) like frame", str::shape_string(d.shape()));
    c.intensity = d.read_all<float>();
  }
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
        .add<bool>("intensity-model", &spec_.intensity_model, true, "weigh the network's evidence by the intensity model fitted on each image")
        .add<double>("composition-radius-A", &radius_A_, 10, "radius of the neighbourhood of the composition maps [Angstrom]")
        .add<double>("composition-step-A", &step_A_, 2.5, "grid step of the composition maps [Angstrom]")
        .add<std::string>("images", &images_, "", "the images (FILE.h5[:/group]) for the figures; empty: the ones segment-atoms read")
        .add<std::string>("figures", &figures_, "auto", "folder for PNGs of the first image's sites and composition (auto: figures/ beside the output; none: no figures)");
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
    // The four elements, from the class names (Mo, W, V_M, S2, SSe, Se2, S, Se, V_X2).
    try {
      spec_.elements = {sim::atomic_number(table_.class_names[0]), sim::atomic_number(table_.class_names[1]), sim::atomic_number(table_.class_names[6]),
                        sim::atomic_number(table_.class_names[7])};
    } catch (const Error&) {
      throw InputError(ctx.input + ": class_names: expected the nine classes of make-atoms-trainset (metal, alloy metal, V_M, ..., X, Y, V_X2), found " +
                       str::join(table_.class_names, ","));
    }
    // Throws on bad graph parameters before any work.
    at::classify_sites({{0, 0, {}}, {1, 0, {}}, {0, 1, {}}}, spec_);
  }

  void run(const StageContext& ctx, io::ProductWriter& out) override {
    const ColumnTable& t = table_;
    const par::Range mine = par::block_partition(t.frames, ctx.comm.size(), ctx.comm.rank());
    std::vector<AtomsRow> rows;
    std::vector<float> xmaps, ymaps;
    std::vector<double> models;
    par::collectively(ctx.comm, [&] {
      for (std::int64_t f = mine.begin; f < mine.end; ++f) {
        std::vector<at::SiteEvidence> sites;
        for (std::size_t i = 0; i < t.frame.size(); ++i) {
          if (t.frame[i] != f) continue;
          at::SiteEvidence e;
          e.x = t.x[i], e.y = t.y[i];
          if (!t.intensity.empty()) e.intensity = t.intensity[i];
          std::copy(t.scores.begin() + std::ptrdiff_t(i * C), t.scores.begin() + std::ptrdiff_t((i + 1) * C), e.scores.begin());
          sites.push_back(e);
        }
        std::vector<at::ClassifiedSite> classified;
        at::IntensityModel model;
        if (sites.size() >= 3) {
          at::Classification c = at::classify_sites(sites, spec_);
          classified = std::move(c.sites);
          model = c.intensity;
        }
        for (const auto& s : classified)
          rows.push_back({std::int32_t(f), float(s.x), float(s.y), std::int8_t(s.site_class), std::int8_t(s.unconstrained_class),
                          std::int8_t(s.network_class), std::int8_t(s.sublattice), std::int8_t(s.found), s.probability});
        models.insert(models.end(), {double(model.fitted), model.background, model.k[0], model.k[1], model.k[2], model.k[3], model.sd[0], model.sd[1]});
        const at::CompositionMaps m = at::composition_maps(classified, double(t.height), double(t.width), radius_A_ / t.pixel_A, step_A_ / t.pixel_A);
        xmaps.insert(xmaps.end(), m.x.begin(), m.x.end());
        ymaps.insert(ymaps.end(), m.y.begin(), m.y.end());
      }
    });
    par::interruption_point(ctx.comm);
    AtomsTable a;
    a.source = t.source, a.columns = t.where, a.frames = t.frames, a.height = t.height, a.width = t.width, a.pixel_A = t.pixel_A;
    a.class_names = t.class_names;
    a.rows = par::allgather_rows(ctx.comm, rows);  // blocks of frames in rank order: sorted by frame
    const at::CompositionMaps grid = at::composition_maps({}, double(t.height), double(t.width), radius_A_ / t.pixel_A, step_A_ / t.pixel_A);
    a.composition_radius_A = radius_A_, a.composition_step_A = step_A_, a.grid_ny = grid.ny, a.grid_nx = grid.nx;
    a.composition_x = par::allgather_rows(ctx.comm, xmaps);
    a.composition_y = par::allgather_rows(ctx.comm, ymaps);
    a.intensity_model = par::allgather_rows(ctx.comm, models);
    write_atoms_table(out.group(), a);
    if (ctx.comm.is_root()) {
      const auto counts = a.counts();
      std::string text;
      for (int c = 0; c < C; ++c) {
        std::int64_t n = 0;
        for (std::int64_t f = 0; f < t.frames; ++f) n += counts[std::size_t(f * C + c)];
        text += (c ? ", " : "") + std::to_string(n) + " " + t.class_names[std::size_t(c)];
      }
      log::info("classify-sites: ", a.rows.size(), " sites in ", t.frames, " image(s): ", text);
    }
    if (!figures_folder(figures_, ctx.output.file).empty()) {
      par::collectively(ctx.comm, [&] {
        if (ctx.comm.is_root()) write_atoms_figures(ctx, a, images_, figures_);
      });
    }
  }

 private:
  double bond_A_ = 0, radius_A_ = 10, step_A_ = 2.5;
  std::string images_, figures_;
  at::ClassificationSpec spec_;
  ColumnTable table_;
};

}  // namespace

std::unique_ptr<Stage> make_classify_sites_stage() { return std::make_unique<ClassifySites>(); }

}  // namespace tmdflow::stages

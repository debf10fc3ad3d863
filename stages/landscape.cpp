// Stage landscape: the potential-energy landscape (PEL) of sliding one layer of a bilayer over the
// other, as energies on a grid of slips (slip_a, slip_b) over the bottom layer's cell: tmdflow's
// built-in estimate (sim/interlayer_energy.hpp: rigid layers as build_stack makes them, a published
// interlayer potential, the spacing relaxed per slip), or a landscape read from a file (CSV or HDF5,
// e.g. from DFT). Writes landscape/1 with the minima, the sliding barrier and, for MX2, the energies
// of the named registries (AA, AB, BA; AA', AB', A'B), and a PNG. Grid rows are sharded over ranks.
#include <algorithm>
#include <cmath>
#include <filesystem>

#include "stage.hpp"
#include "stage_list.hpp"
#include "tmdflow/analysis/landscape/energy_grid.hpp"
#include "tmdflow/core/log.hpp"
#include "tmdflow/io/plot.hpp"
#include "tmdflow/io/plot_panels.hpp"
#include "tmdflow/par/failure.hpp"
#include "tmdflow/par/partition.hpp"
#include "tmdflow/par/progress.hpp"
#include "tmdflow/sim/interlayer_energy.hpp"

namespace tmdflow::stages {
namespace {

class Landscape : public Stage {
 public:
  std::string name() const override { return "landscape"; }
  std::string summary() const override { return "potential-energy landscape of interlayer sliding: built-in estimate or read from a file"; }
  std::string description() const override {
    return "The energy of a bilayer as a function of the slip (slip_a, slip_b) of its upper layer, fractions of the bottom\n"
           "layer's a1, a2 (build_stack's convention; the registry --stacking at zero slip), on a --grid of slips over the cell.\n"
           "Built-in estimate: rigid layers as the simulation engine builds them and a registry-dependent pair potential\n"
           "between the atoms of the two layers, --potential ilp (Ouyang et al. 2021, Jiang et al. 2023; Re as W) or lj (UFF\n"
           "Lennard-Jones), with the interlayer distance relaxed at each slip (--relax-spacing). Or --from a file: CSV lines\n"
           "slip_a,slip_b,energy_meV, or HDF5 FILE.h5:/path (a landscape/1 group or a 2-D dataset [slip_b, slip_a] in meV).\n"
           "Writes landscape/1: energy_meV [nb, na] per unit cell relative to the lowest, the minima, the sliding barrier\n"
           "(the lowest energy that connects the global minimum to its copy one lattice vector away) and, for MX2, the\n"
           "named registries; and a PNG with the minima. Definitions and literature: data_schema/landscape.md.";
  }
  std::string product_schema() const override { return "landscape/1"; }
  std::string default_group() const override { return "/landscape"; }
  bool takes_input() const override { return false; }

  void declare(Options& o) override {
    o.add<std::string>("material", &spec_.material, "MoS2", "compound (MoS2, WS2, MoSe2, WSe2; 1T'': ReS2, ReSe2)")
        .add<std::string>("stacking", &spec_.stacking, "", "registry at zero slip: 2H, 3R or AA (default 2H for MX2; 1T'': AA)")
        .add<std::string>("potential", &spec_.potential, "ilp", "interlayer potential: ilp (Ouyang 2021 / Jiang 2023) or lj (UFF)")
        .add<std::string>("grid", &grid_, "24,24", "slips along a1 and a2: NA,NB (slip_a = i / NA)")
        .add<bool>("relax-spacing", &spec_.relax_spacing, true, "relax the interlayer distance at each slip (false: the builder's, or --spacing-A)")
        .add<double>("spacing-A", &spec_.spacing_A, 0.0, "metal-plane distance of the layers [Angstrom] (0: the builder's); the start when relaxed")
        .add<double>("cutoff-A", &spec_.cutoff_A, 16.0, "pair cutoff, tapered [Angstrom]")
        .add<std::string>("from", &from_, "", "read the landscape instead: FILE.csv (slip_a,slip_b,energy_meV) or FILE.h5:/path")
        .add<std::string>("figures", &figures_, "auto", "folder for the PNG (auto: figures/ beside the output; none: no PNG)");
  }

  void validate(const StageContext&) override {
    const auto g = str::to_int_list(grid_, "grid");
    if (g.size() != 2 || g[0] < 3 || g[1] < 3 || g[0] > 512 || g[1] > 512)
      throw ConfigError("grid: expected NA,NB with 3 to 512 slips each, found '" + grid_ + "'");
    na_ = int(g[0]), nb_ = int(g[1]);
    sim::validate(spec_);
  }

  std::vector<std::string> extra_inputs() const override { return from_.empty() ? std::vector<std::string>{} : std::vector<std::string>{from_}; }

  void run(const StageContext& ctx, io::ProductWriter& out) override {
    analysis::EnergyGrid grid;
    std::vector<double> spacing;
    const sim::InterlayerEnergyModel model(spec_);
    double absolute_min = 0;
    std::string source;
    if (!from_.empty()) {
      grid = read_grid();
      source = from_;
    } else {
      grid.na = na_, grid.nb = nb_;
      grid.energy_meV.assign(std::size_t(na_) * nb_, 0.0);
      spacing.assign(grid.energy_meV.size(), 0.0);
      const par::Range rows = par::block_partition(nb_, ctx.comm.size(), ctx.comm.rank());
      par::Progress progress(ctx.comm, "landscape", std::uint64_t(nb_), "rows");
      for (std::int64_t ib = rows.begin; ib < rows.end; ++ib) {
        for (int ia = 0; ia < na_; ++ia) {
          const sim::InterlayerEnergy e = model.at(double(ia) / na_, double(ib) / nb_);
          grid.energy_meV[std::size_t(ib) * na_ + ia] = e.energy_meV;
          spacing[std::size_t(ib) * na_ + ia] = e.spacing_A;
        }
        progress.advance(1);
      }
      progress.finish();
      par::interruption_point(ctx.comm);
      ctx.comm.allreduce_inplace(grid.energy_meV.data(), grid.energy_meV.size(), par::Op::sum);
      ctx.comm.allreduce_inplace(spacing.data(), spacing.size(), par::Op::sum);
      source = "built-in estimate: " + std::string(spec_.potential == "ilp" ? "ILP (Ouyang et al. 2021; Jiang et al. 2023)" : "UFF Lennard-Jones") +
               ", rigid layers, spacing " + (spec_.relax_spacing ? "relaxed per slip" : "fixed");
    }
    if (grid.a1_A[0] == 0 && grid.a1_A[1] == 0) {
      const auto& v = model.base_vectors();
      grid.a1_A = {v.a1[0], v.a1[1]}, grid.a2_A = {v.a2[0], v.a2[1]};
    }
    absolute_min = grid.min();
    for (double& e : grid.energy_meV) e -= absolute_min;
    const auto minima = analysis::landscape_minima(grid);
    const analysis::SlidingBarrier barrier = analysis::sliding_barrier(grid);

    // The named registries, exactly (not interpolated), for the built-in estimate.
    std::vector<sim::NamedRegistry> named;
    std::vector<double> named_energy, named_spacing;
    if (from_.empty()) {
      named = sim::named_registries(spec_.material, spec_.stacking);
      for (const auto& r : named) {
        const auto e = model.at(r.slip_a, r.slip_b);
        named_energy.push_back(e.energy_meV - absolute_min);
        named_spacing.push_back(e.spacing_A);
      }
    }
    if (ctx.comm.is_root()) {
      std::string text;
      for (std::size_t k = 0; k < named.size(); ++k) text += " " + named[k].name + " " + Options::text(std::round(named_energy[k] * 100) / 100);
      log::info("landscape: ", spec_.material, " ", grid.na, " x ", grid.nb, " slips; range ", Options::text(std::round(grid.max() * 100) / 100),
                " meV per cell; sliding barrier ", Options::text(std::round(barrier.barrier_meV * 100) / 100), " meV at (",
                Options::text(barrier.saddle.slip_a), ", ", Options::text(barrier.saddle.slip_b), ")", named.empty() ? "" : ";", text);
    }

    const io::h5::Group& g = out.group();
    g.set_attr("emd_group_type", "root");
    g.set_attr("python_class", "Root");
    g.set_attr("material", spec_.material);
    g.set_attr("stacking", spec_.stacking.empty() ? (sim::layer_cell(spec_.material).triclinic ? "AA" : "2H") : spec_.stacking);
    g.set_attr("source", source);
    g.set_attr("potential", from_.empty() ? spec_.potential : std::string("file"));
    g.set_attr("relax_spacing", std::int64_t(from_.empty() && spec_.relax_spacing));
    g.set_attr("units", "meV per unit cell of the bottom layer, relative to the lowest grid point");
    g.set_attr("a1_A", std::vector<double>{grid.a1_A[0], grid.a1_A[1]});
    g.set_attr("a2_A", std::vector<double>{grid.a2_A[0], grid.a2_A[1]});
    g.set_attr("cell_area_A2", std::abs(grid.a1_A[0] * grid.a2_A[1] - grid.a1_A[1] * grid.a2_A[0]));
    g.set_attr("atoms_per_cell", std::int64_t(model.atoms_per_cell()));
    g.set_attr("lowest_energy_meV", absolute_min);
    g.set_attr("barrier_meV", barrier.barrier_meV);
    g.set_attr("saddle_slip", std::vector<double>{barrier.saddle.slip_a, barrier.saddle.slip_b});
    g.set_attr("barrier_lattice_vector", std::vector<double>{double(barrier.winding_a), double(barrier.winding_b)});
    g.write_array("energy_meV", grid.energy_meV, {grid.nb, grid.na}).set_attr("units", "meV per unit cell (relative)");
    std::vector<double> sa(std::size_t(grid.na)), sb(std::size_t(grid.nb));
    for (int k = 0; k < grid.na; ++k) sa[std::size_t(k)] = double(k) / grid.na;
    for (int k = 0; k < grid.nb; ++k) sb[std::size_t(k)] = double(k) / grid.nb;
    g.write_vector("slip_a", sa).set_attr("units", "fraction of a1");
    g.write_vector("slip_b", sb).set_attr("units", "fraction of a2");
    if (!spacing.empty()) g.write_array("spacing_A", spacing, {grid.nb, grid.na}).set_attr("units", "A (metal-plane distance)");
    const io::h5::Group m = g.create_group("minima");
    std::vector<double> ma, mb, me;
    for (const auto& p : minima) ma.push_back(p.slip_a), mb.push_back(p.slip_b), me.push_back(p.energy_meV);
    m.write_vector("slip_a", ma);
    m.write_vector("slip_b", mb);
    m.write_vector("energy_meV", me);
    if (!named.empty()) {
      const io::h5::Group r = g.create_group("registries");
      std::vector<std::string> names;
      std::vector<double> ra, rb;
      for (const auto& n : named) names.push_back(n.name), ra.push_back(n.slip_a), rb.push_back(n.slip_b);
      r.write_strings("name", names);
      r.write_vector("slip_a", ra);
      r.write_vector("slip_b", rb);
      r.write_vector("energy_meV", named_energy).set_attr("units", "meV per unit cell relative to the grid's lowest point");
      r.write_vector("spacing_A", named_spacing).set_attr("units", "A");
    }
    if (!figures_folder(figures_, ctx.output.file).empty())
      par::collectively(ctx.comm, [&] {
        if (ctx.comm.is_root()) write_figure(ctx, grid, minima, barrier);
      });
  }

 private:
  analysis::EnergyGrid read_grid() const {
    const io::Target t = io::parse_target(from_, "/landscape");
    if (!std::filesystem::exists(t.file)) throw InputError(t.file + ": from: expected a landscape file (CSV or HDF5), found none");
    if (from_.find(":/") != std::string::npos || io::h5::File::is_hdf5(t.file)) return analysis::read_energy_grid_h5(from_);
    return analysis::read_energy_grid_csv(from_);
  }

  void write_figure(const StageContext& ctx, const analysis::EnergyGrid& grid, const std::vector<analysis::LandscapePoint>& minima,
                    const analysis::SlidingBarrier& barrier) const {
    namespace fs = std::filesystem;
    const fs::path dir = figures_folder(figures_, ctx.output.file);
    fs::create_directories(dir);
    const io::ColourScale heat{0.0, std::max(grid.max(), 1e-9), false, io::Ramp::heat};
    const io::plot::ColourBar bar{"energy (meV per cell)", heat};
    io::plot::Figure fig;
    fig.title = "Sliding energy landscape of " + spec_.material + " (" + (from_.empty() ? spec_.potential : from_) + ")";
    fig.columns = 2;
    // 1. On the grid of fractions.
    std::vector<float> v(grid.energy_meV.begin(), grid.energy_meV.end());
    io::plot::Axes frac;
    frac.x = {"slip_a", "fraction of a1", 0.0, 1.0 / grid.na};
    frac.y = {"slip_b", "fraction of a2", 0.0, 1.0 / grid.nb};
    io::plot::Panel p1 = io::plot::intensity_panel("on the slip grid (minima o, saddle x)", v, grid.nb, grid.na, frac, "meV per cell", heat);
    p1.scale_bar = false;
    p1.colour_bar.reset();
    for (const auto& m : minima) {
      io::plot::Mark c;
      c.kind = io::plot::Mark::Kind::circle;
      c.x0 = m.slip_a * grid.na, c.y0 = m.slip_b * grid.nb, c.radius = 0.35, c.colour = {0, 160, 255}, c.line_width = 2;
      p1.marks.push_back(c);
    }
    const double sx = barrier.saddle.slip_a * grid.na, sy = barrier.saddle.slip_b * grid.nb;
    for (int s : {-1, 1}) {
      io::plot::Mark l;
      l.x0 = sx - 0.3, l.y0 = sy - 0.3 * s, l.x1 = sx + 0.3, l.y1 = sy + 0.3 * s, l.colour = {0, 255, 120}, l.line_width = 2;
      p1.marks.push_back(l);
    }
    fig.panels.push_back(p1);
    // 2. In the plane: two cells by two, x along the image columns as the builder orients a1.
    const auto& a1 = grid.a1_A;
    const auto& a2 = grid.a2_A;
    double xs[4] = {0, 2 * a1[0], 2 * a2[0], 2 * (a1[0] + a2[0])}, ys[4] = {0, 2 * a1[1], 2 * a2[1], 2 * (a1[1] + a2[1])};
    const double x0 = *std::min_element(xs, xs + 4), x1 = *std::max_element(xs, xs + 4), y0 = *std::min_element(ys, ys + 4),
                 y1 = *std::max_element(ys, ys + 4);
    const int w = 240, h = std::max(8, int(std::lround(w * (y1 - y0) / (x1 - x0))));
    const double step = (x1 - x0) / w;
    const double det = a1[0] * a2[1] - a1[1] * a2[0];
    std::vector<float> plane(std::size_t(w) * h);
    for (int i = 0; i < h; ++i)
      for (int j = 0; j < w; ++j) {
        const double x = x0 + (j + 0.5) * step, y = y0 + (i + 0.5) * step;
        const double u = (x * a2[1] - y * a2[0]) / det, t = (a1[0] * y - a1[1] * x) / det;
        plane[std::size_t(i) * w + j] = float(grid.interpolate(u, t));
      }
    io::plot::Axes cart;
    cart.x = {"slip x", "A", x0 + step / 2, step};
    cart.y = {"slip y", "A", y0 + step / 2, step};
    io::plot::Panel p2 = io::plot::intensity_panel("in the plane (cell a1, a2 outlined)", plane, h, w, cart, "meV per cell", heat);
    p2.colour_bar.reset();
    auto px = [&](double x, double y) { return std::array<double, 2>{(x - x0) / step - 0.5, (y - y0) / step - 0.5}; };
    const std::array<std::array<double, 2>, 5> corners = {{{0, 0}, {a1[0], a1[1]}, {a1[0] + a2[0], a1[1] + a2[1]}, {a2[0], a2[1]}, {0, 0}}};
    for (int k = 0; k < 4; ++k) {
      io::plot::Mark l;
      const auto p = px(corners[std::size_t(k)][0], corners[std::size_t(k)][1]), q = px(corners[std::size_t(k + 1)][0], corners[std::size_t(k + 1)][1]);
      l.x0 = p[0], l.y0 = p[1], l.x1 = q[0], l.y1 = q[1], l.colour = {255, 255, 255}, l.line_width = 1.5;
      p2.marks.push_back(l);
    }
    for (const auto& m : minima)
      for (int i = -1; i <= 2; ++i)
        for (int j = -1; j <= 2; ++j) {
          const double sa = m.slip_a + i, sb = m.slip_b + j;
          const double x = sa * a1[0] + sb * a2[0], y = sa * a1[1] + sb * a2[1];
          if (x < x0 || x > x1 || y < y0 || y > y1) continue;
          io::plot::Mark c;
          c.kind = io::plot::Mark::Kind::circle;
          const auto p = px(x, y);
          c.x0 = p[0], c.y0 = p[1], c.radius = 4, c.colour = {0, 160, 255}, c.line_width = 2;
          p2.marks.push_back(c);
        }
    fig.panels.push_back(p2);
    fig.shared_colour_bar = bar;
    const std::string stem = fs::path(ctx.output.file).stem().string();
    io::plot::write_figure((dir / (stem + "_landscape.png")).string(), fig,
                           "Energy of the " + spec_.material + " bilayer against the slip of its upper layer (meV per unit cell above the lowest): "
                           "left on the grid of fractions of a1 and a2 with the minima (circles) and the saddle of the sliding barrier (cross); "
                           "right in the plane over two cells by two, the cell outlined, the minima circled.");
  }

  sim::InterlayerEnergySpec spec_;
  std::string grid_, from_, figures_;
  int na_ = 24, nb_ = 24;
};

}  // namespace

std::unique_ptr<Stage> make_landscape_stage() { return std::make_unique<Landscape>(); }

}  // namespace tmdflow::stages

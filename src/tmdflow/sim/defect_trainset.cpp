#include "tmdflow/sim/defect_trainset.hpp"

#include <algorithm>
#include <cmath>

#include "tmdflow/core/error.hpp"
#include "tmdflow/sim/adf.hpp"
#include "tmdflow/sim/defect_lattice.hpp"
#include "tmdflow/sim/patch_scan.hpp"
#include "tmdflow/sim/random.hpp"
#include "tmdflow/sim/realism.hpp"
#include "tmdflow/sim/structure.hpp"

namespace tmdflow::sim {

const std::vector<DefectPatchLabels::Field>& DefectPatchLabels::fields() {
  using L = DefectPatchLabels;
  static const std::vector<Field> f = [] {
    std::vector<Field> v = scan_label_fields<L>("electron dose of the frame (0: noise-free)");
    v.insert(v.end(), {
      {"scale", &L::scale, "factor", "lattice scale (calibration error)"},
      {"phi_deg", &L::phi_deg, "degree", "orientation of the layer (data_schema/structures.md)"},
      {"dopant_fraction", &L::dopant_fraction, "fraction", "dopants per metal site as drawn"},
      {"single_vacancy", &L::single_vacancy, "fraction", "single chalcogen vacancies per chalcogen column as drawn"},
      {"double_vacancy", &L::double_vacancy, "fraction", "double chalcogen vacancies per chalcogen column as drawn"},
      {"single_vacancies", &L::single_vacancies, "count", "V_S in the patch"},
      {"double_vacancies", &L::double_vacancies, "count", "V_S2 in the patch"},
      {"dopants", &L::dopants, "count", "dopants in the patch"},
    });
    return v;
  }();
  return f;
}

void validate(const DefectTrainsetSpec& s) {
  if (s.count < 1) throw ConfigError("count: expected at least 1, found " + std::to_string(s.count));
  if (s.patch_px < 16 || s.patch_px > 1024) throw ConfigError("patch-px: expected 16..1024, found " + std::to_string(s.patch_px));
  if (!(s.pixel_A > 0.02 && s.pixel_A <= 1)) throw ConfigError("pixel-A: expected 0.02 to 1 Angstrom, found " + std::to_string(s.pixel_A));
  validate(s.scan);
  if (layer_cell(s.material).triclinic) throw ConfigError("material: expected an MX2 compound (MoS2, WS2, MoSe2, WSe2), found " + s.material);
  if (s.dopant_Z < 1 || s.dopant_Z > 103 || s.dopant_Z == material(s.material).metal_Z)
    throw ConfigError("dopant: expected an element other than the host metal");
  for (const Range* r : {&s.dopant_fraction, &s.single_vacancy, &s.double_vacancy}) {
    if (!(r->max >= r->min) || !std::isfinite(r->min) || !std::isfinite(r->max)) throw ConfigError("ranges: expected finite MIN,MAX with MIN <= MAX");
    if (!(r->min >= 0 && r->max <= 0.5)) throw ConfigError("dopant and vacancy fraction ranges: expected fractions 0 to 0.5");
  }
  if (!(s.clustered >= 0 && s.clustered <= 1)) throw ConfigError("clustered: expected a probability 0 to 1");
  if (!(s.scale_jitter >= 0 && s.scale_jitter <= 0.2)) throw ConfigError("scale-jitter: expected 0 to 0.2");
  if (!(s.heatmap_sigma_A > 0 && s.heatmap_sigma_A <= 3)) throw ConfigError("heatmap-sigma-A: expected 0 to 3 Angstrom");
}

void resample_bilinear(const float* in, int ny, int nx, float* out, int oy, int ox) {
  for (int i = 0; i < oy; ++i) {
    const double v = std::max(0.0, bilinear_source(i, ny, oy));
    const int i0 = std::min(int(v), ny - 1), i1 = std::min(i0 + 1, ny - 1);
    const double fy = v - i0;
    for (int j = 0; j < ox; ++j) {
      const double u = std::max(0.0, bilinear_source(j, nx, ox));
      const int j0 = std::min(int(u), nx - 1), j1 = std::min(j0 + 1, nx - 1);
      const double fx = u - j0;
      const double top = (1 - fx) * in[std::size_t(i0) * nx + j0] + fx * in[std::size_t(i0) * nx + j1];
      const double bottom = (1 - fx) * in[std::size_t(i1) * nx + j0] + fx * in[std::size_t(i1) * nx + j1];
      out[std::size_t(i) * ox + j] = float((1 - fy) * top + fy * bottom);
    }
  }
}

DefectTrainsetGenerator::DefectTrainsetGenerator(const DefectTrainsetSpec& spec) : spec_(spec) { validate(spec_); }

namespace {

enum DefectKey : std::uint64_t { conditions = 0x64656674ULL, structure_key, vacancies_key, scan_key, noise_key };

/// The chalcogen sites where a patch's vacancies go: uniformly, or (with probability `clustered`)
/// next to a dopant or to a vacancy placed before, as vacancies gather under the beam.
std::vector<std::uint8_t> draw_missing(const DefectLattice& lattice, const std::vector<std::uint8_t>& dopant, std::int64_t singles,
                                       std::int64_t doubles, double clustered, rng::Stream& g) {
  const std::size_t n = lattice.chalcogens();
  std::vector<std::uint8_t> missing(2 * n, 0);  // per site and slot
  std::vector<std::int32_t> dopant_sites, placed;
  for (std::size_t m = 0; m < dopant.size(); ++m)
    if (dopant[m]) dopant_sites.push_back(std::int32_t(m));
  auto pick_site = [&]() -> std::int32_t {
    if (g.uniform() < clustered && (!dopant_sites.empty() || !placed.empty())) {
      const bool near_dopant = placed.empty() || (!dopant_sites.empty() && g.uniform() < 0.5);
      if (near_dopant) {
        const auto m = dopant_sites[std::min(dopant_sites.size() - 1, std::size_t(g.uniform() * double(dopant_sites.size())))];
        const std::int32_t c = lattice.metal_chalcogens[std::size_t(m)][std::min<std::size_t>(2, std::size_t(3 * g.uniform()))];
        if (c >= 0) return c;
      } else {
        const auto v = placed[std::min(placed.size() - 1, std::size_t(g.uniform() * double(placed.size())))];
        const std::int32_t c = lattice.chalcogen_neighbours[std::size_t(v)][std::min<std::size_t>(5, std::size_t(6 * g.uniform()))];
        if (c >= 0) return c;
      }
    }
    return std::int32_t(std::min(n - 1, std::size_t(g.uniform() * double(n))));
  };
  for (std::int64_t k = 0; k < doubles + singles; ++k) {
    const std::int32_t c = pick_site();
    if (k < doubles) {
      missing[2 * std::size_t(c)] = missing[2 * std::size_t(c) + 1] = 1;
    } else {
      missing[2 * std::size_t(c) + (g.uniform() < 0.5 ? 0 : 1)] = 1;  // the other atom may be missing already: a double
    }
    placed.push_back(c);
  }
  return missing;
}

/// floor(mean + u): an integer count with the given mean.
std::int64_t count_of(double mean, rng::Stream& g) { return std::int64_t(std::floor(mean + g.uniform())); }

}  // namespace

DefectPatchLabels DefectTrainsetGenerator::patch(std::int64_t index, float* image, float* heatmaps, std::vector<PatchDefect>* defects) {
  const auto& s = spec_;
  rng::Stream g(rng::key(s.seed, conditions, std::uint64_t(index)));
  auto draw = [&](const Range& r) { return r.min + (r.max - r.min) * g.uniform(); };
  DefectPatchLabels L;
  const int P = s.patch_px;
  const ScanDraw scan_draw = draw_scan(s.scan, P, s.pixel_A, s.Cs_A, g);
  scan_draw.record(L);
  L.scale = 1 + s.scale_jitter * (2 * g.uniform() - 1);
  L.phi_deg = 120 * g.uniform();
  L.dopant_fraction = draw(s.dopant_fraction);
  L.single_vacancy = draw(s.single_vacancy);
  L.double_vacancy = draw(s.double_vacancy);
  const AdfSpec& a = scan_draw.adf;
  const AdfField& field = scan_draw.field;
  const double drift = scan_draw.drift_A;

  // The monolayer with its dopants, its bond graph, then the vacancies; scaled about the origin
  // after the graph is found (the graph's distance rule wants the tabulated lattice).
  StackSpec k;
  k.material = s.material;
  k.layers = 1;
  k.phi_deg = L.phi_deg;
  k.defects.dopant_Z = s.dopant_Z;
  k.defects.dopant_fraction = L.dopant_fraction;
  k.extent_x = field.extent_x / L.scale;
  k.extent_y = field.extent_y / L.scale;
  k.seed = rng::key(s.seed, structure_key, std::uint64_t(index));
  Structure st = build_stack(k);
  const Material& m = material(s.material);
  const DefectLattice lattice = defect_lattice(st, m, L.phi_deg);
  std::vector<std::uint8_t> dopant(lattice.metals(), 0);
  for (std::size_t i = 0; i < lattice.metals(); ++i) dopant[i] = st.columns[std::size_t(lattice.metal_columns[i])].defect == DefectKind::dopant;
  rng::Stream gv(rng::key(s.seed, vacancies_key, std::uint64_t(index)));
  const double sites = double(lattice.chalcogens());
  const std::vector<std::uint8_t> missing =
      draw_missing(lattice, dopant, count_of(L.single_vacancy * sites, gv), count_of(L.double_vacancy * sites, gv), s.clustered, gv);
  std::vector<std::int64_t> site_of_column(st.columns.size(), -1);
  for (std::size_t i = 0; i < lattice.chalcogens(); ++i) site_of_column[std::size_t(lattice.chalcogen_columns[i])] = std::int64_t(i);
  {
    std::vector<double> z_min(st.columns.size(), HUGE_VAL);
    for (const Atom& at : st.atoms)
      if (at.column >= 0) z_min[std::size_t(at.column)] = std::min(z_min[std::size_t(at.column)], at.z);
    std::vector<Atom> kept;
    kept.reserve(st.atoms.size());
    for (const Atom& at : st.atoms) {
      const std::int64_t site = at.column >= 0 ? site_of_column[std::size_t(at.column)] : -1;
      if (site >= 0 && missing[std::size_t(site) * 2 + (at.z > z_min[std::size_t(at.column)] ? 1 : 0)]) continue;
      kept.push_back(at);
    }
    st.atoms = std::move(kept);
  }
  for (Atom& at : st.atoms) at.x *= L.scale, at.y *= L.scale;
  for (Column& c : st.columns) c.x *= L.scale, c.y *= L.scale;
  st.extent_x = field.extent_x;
  st.extent_y = field.extent_y;
  add_surface_contamination(st, L.contamination, k.seed);

  // The defects and where they are (structure frame).
  struct Site {
    int cls;
    double x, y;
  };
  std::vector<Site> sites_of_defects;
  for (std::size_t i = 0; i < lattice.chalcogens(); ++i) {
    const int gone = missing[2 * i] + missing[2 * i + 1];
    if (gone == 0) continue;
    const Column& c = st.columns[std::size_t(lattice.chalcogen_columns[i])];
    sites_of_defects.push_back({gone == 1 ? 0 : 1, c.x, c.y});
  }
  for (std::size_t i = 0; i < lattice.metals(); ++i)
    if (dopant[i]) {
      const Column& c = st.columns[std::size_t(lattice.metal_columns[i])];
      sites_of_defects.push_back({2, c.x, c.y});
    }

  // The scan at the native pixel, its noise, then the detector's grid; the heat maps where the
  // scan saw each defect.
  PatchScan scan(a, scan_draw.distortion, P, s.pixel_A, rng::key(s.seed, scan_key, std::uint64_t(index)));
  scan.render(st, L.dose, rng::key(s.seed, noise_key, std::uint64_t(index)), image);
  if (heatmaps) std::fill(heatmaps, heatmaps + std::size_t(kDefectClasses) * P * P, 0.0f);
  const int reach = int(std::ceil((4 * s.heatmap_sigma_A + 10 * L.jitter_A + drift + 0.5) / s.pixel_A)) + 1;
  for (const Site& d : sites_of_defects) {
    const double col = scan.column_of(d.x), row = scan.row_of(d.y);
    const bool inside = col >= -0.5 && col < P - 0.5 && row >= -0.5 && row < P - 0.5;
    if (inside) (d.cls == 0 ? L.single_vacancies : d.cls == 1 ? L.double_vacancies : L.dopants) += 1;
    if (col < -reach || row < -reach || col > P + reach || row > P + reach) continue;
    if (defects) defects->push_back({d.cls, col, row});
    if (heatmaps) scan.splat(heatmaps + std::size_t(d.cls) * P * P, d.x, d.y, s.heatmap_sigma_A, reach);
  }
  return L;
}

}  // namespace tmdflow::sim

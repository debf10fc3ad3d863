#include "tmdflow/sim/atoms_trainset.hpp"

#include <algorithm>
#include <cmath>

#include "tmdflow/core/error.hpp"
#include "tmdflow/sim/adf.hpp"
#include "tmdflow/sim/elements.hpp"
#include "tmdflow/sim/patch_scan.hpp"
#include "tmdflow/sim/random.hpp"
#include "tmdflow/sim/realism.hpp"
#include "tmdflow/sim/structure.hpp"

namespace tmdflow::sim {

const std::vector<AtomsPatchLabels::Field>& AtomsPatchLabels::fields() {
  using L = AtomsPatchLabels;
  static const std::vector<Field> f = [] {
    std::vector<Field> v = scan_label_fields<L>("electron dose (0: noise-free)");
    v.insert(v.end(), {
      {"lattice_A", &L::lattice_A, "A", "lattice constant (Vegard's law of the composition, times the calibration error)"},
      {"phi_deg", &L::phi_deg, "degree", "orientation of the layer (data_schema/structures.md)"},
      {"metal_alloy", &L::metal_alloy, "fraction", "x: probability that a metal site holds the alloying metal"},
      {"chalcogen_alloy", &L::chalcogen_alloy, "fraction", "y: probability that a chalcogen atom is the alloying chalcogen"},
      {"metal_vacancy", &L::metal_vacancy, "fraction", "metal vacancies per metal site as drawn"},
      {"single_vacancy", &L::single_vacancy, "fraction", "chalcogen columns missing one atom, as drawn"},
      {"double_vacancy", &L::double_vacancy, "fraction", "chalcogen columns missing both atoms, as drawn"},
      {"sites", &L::sites, "count", "sites in the patch (the rows of sites/ with this patch)"},
      {"background", &L::background, "fraction", "uniform background added before the noise (fraction of the beam)"},
      {"read_noise", &L::read_noise, "electrons", "read noise (detected electrons rms per scan pixel)"},
      {"psf_A", &L::psf_A, "A", "Gaussian point-spread after the noise (sigma)"},
    });
    return v;
  }();
  return f;
}

namespace {

std::string compound(int metal_Z, int chalcogen_Z) { return element_symbol(metal_Z) + element_symbol(chalcogen_Z) + "2"; }

double lattice_of(int metal_Z, int chalcogen_Z, double fallback) {
  for (const auto& name : material_names())
    if (name == compound(metal_Z, chalcogen_Z)) return material(name).a;
  return fallback;
}

}  // namespace

double alloy_lattice_constant(const AlloyElements& e, double x, double y) {
  const double host = material(compound(e.metal_Z, e.chalcogen_Z)).a;
  return (1 - x) * (1 - y) * host + x * (1 - y) * lattice_of(e.metal_alloy_Z, e.chalcogen_Z, host) +
         (1 - x) * y * lattice_of(e.metal_Z, e.chalcogen_alloy_Z, host) + x * y * lattice_of(e.metal_alloy_Z, e.chalcogen_alloy_Z, host);
}

void validate(const AtomsTrainsetSpec& s) {
  if (s.count < 1) throw ConfigError("count: expected at least 1, found " + std::to_string(s.count));
  if (s.patch_px < 16 || s.patch_px > 1024) throw ConfigError("patch-px: expected 16..1024, found " + std::to_string(s.patch_px));
  if (!(s.pixel_A > 0.02 && s.pixel_A <= 1)) throw ConfigError("pixel-A: expected 0.02 to 1 Angstrom, found " + std::to_string(s.pixel_A));
  validate(s.scan);
  const auto& e = s.elements;
  const std::string host = compound(e.metal_Z, e.chalcogen_Z);
  const auto names = material_names();
  if (std::find(names.begin(), names.end(), host) == names.end() || layer_cell(host).triclinic)
    throw ConfigError("metal, chalcogen: expected the host of an MX2 compound (MoS2, WS2, MoSe2, WSe2), found " + host);
  if (e.metal_alloy_Z == e.metal_Z || e.chalcogen_alloy_Z == e.chalcogen_Z || e.metal_alloy_Z < 1 || e.metal_alloy_Z > 103 ||
      e.chalcogen_alloy_Z < 1 || e.chalcogen_alloy_Z > 103)
    throw ConfigError("metal-alloy, chalcogen-alloy: expected elements other than the host's metal and chalcogen");
  for (const Range* r : {&s.metal_alloy, &s.chalcogen_alloy, &s.metal_vacancy, &s.single_vacancy, &s.double_vacancy, &s.background, &s.read_noise,
                         &s.psf_A})
    if (!(r->max >= r->min) || !std::isfinite(r->min) || !std::isfinite(r->max)) throw ConfigError("ranges: expected finite MIN,MAX with MIN <= MAX");
  for (const Range* r : {&s.metal_alloy, &s.chalcogen_alloy})
    if (!(r->min >= 0 && r->max <= 1)) throw ConfigError("alloy fraction ranges: expected fractions 0 to 1");
  if (!(s.background.min >= 0 && s.background.max <= 1)) throw ConfigError("background-range: expected fractions of the beam 0 to 1");
  if (!(s.read_noise.min >= 0 && s.psf_A.min >= 0 && s.psf_A.max < 100)) throw ConfigError("read-noise-range, psf-range-A: expected values >= 0");
  if (!(s.end_member >= 0 && s.end_member <= 0.5)) throw ConfigError("end-member: expected a probability 0 to 0.5");
  for (const Range* r : {&s.metal_vacancy, &s.single_vacancy, &s.double_vacancy})
    if (!(r->min >= 0 && r->max <= 0.5)) throw ConfigError("vacancy fraction ranges: expected fractions 0 to 0.5");
  if (!(s.scale_jitter >= 0 && s.scale_jitter <= 0.2)) throw ConfigError("scale-jitter: expected 0 to 0.2");
  if (!(s.heatmap_sigma_A > 0 && s.heatmap_sigma_A <= 3)) throw ConfigError("heatmap-sigma-A: expected 0 to 3 Angstrom");
}

AtomsTrainsetGenerator::AtomsTrainsetGenerator(const AtomsTrainsetSpec& spec) : spec_(spec) { validate(spec_); }

namespace {
enum AtomsKey : std::uint64_t { atoms_conditions = 0x61746f6dULL, atoms_structure_key, atoms_scan_key, atoms_noise_key };
}

AtomsPatchLabels AtomsTrainsetGenerator::patch(std::int64_t index, float* image, float* heatmaps, std::vector<PatchSite>* sites) {
  const auto& s = spec_;
  rng::Stream g(rng::key(s.seed, atoms_conditions, std::uint64_t(index)));
  auto draw = [&](const Range& r) { return r.min + (r.max - r.min) * g.uniform(); };
  auto composition = [&](const Range& r) {
    const double u = g.uniform();
    return u < s.end_member ? r.min : u < 2 * s.end_member ? r.max : draw(r);
  };
  AtomsPatchLabels L;
  const int P = s.patch_px;
  const ScanDraw scan_draw = draw_scan(s.scan, P, s.pixel_A, s.Cs_A, g);
  scan_draw.record(L);
  L.phi_deg = 120 * g.uniform();
  L.metal_alloy = composition(s.metal_alloy);
  L.chalcogen_alloy = composition(s.chalcogen_alloy);
  L.metal_vacancy = draw(s.metal_vacancy);
  L.single_vacancy = draw(s.single_vacancy);
  L.double_vacancy = draw(s.double_vacancy);
  const auto& e = s.elements;
  const std::string host = compound(e.metal_Z, e.chalcogen_Z);
  const double host_a = material(host).a;
  L.lattice_A = alloy_lattice_constant(e, L.metal_alloy, L.chalcogen_alloy) * (1 + s.scale_jitter * (2 * g.uniform() - 1));
  const double scale = L.lattice_A / host_a;
  // Drawn last: the conditions before them are those of a set made without these options.
  L.background = draw(s.background);
  L.read_noise = draw(s.read_noise);
  L.psf_A = draw(s.psf_A);

  const AdfSpec& a = scan_draw.adf;
  const AdfField& field = scan_draw.field;

  // The alloy monolayer at the host's lattice, scaled about the origin to the alloy's.
  StackSpec k;
  k.material = host;
  k.layers = 1;
  k.phi_deg = L.phi_deg;
  k.alloy.metal[e.metal_alloy_Z] = L.metal_alloy;
  k.alloy.chalcogen[e.chalcogen_alloy_Z] = L.chalcogen_alloy;
  k.defects.metal_vacancy = L.metal_vacancy;
  k.defects.chalcogen_single_vacancy = L.single_vacancy;
  k.defects.chalcogen_double_vacancy = L.double_vacancy;
  k.extent_x = field.extent_x / scale;
  k.extent_y = field.extent_y / scale;
  k.seed = rng::key(s.seed, atoms_structure_key, std::uint64_t(index));
  Structure st = build_stack(k);
  for (Atom& at : st.atoms) at.x *= scale, at.y *= scale;
  for (Column& c : st.columns) c.x *= scale, c.y *= scale;
  st.extent_x = field.extent_x;
  st.extent_y = field.extent_y;
  add_surface_contamination(st, L.contamination, k.seed);

  PatchScan scan(a, scan_draw.distortion, P, s.pixel_A, rng::key(s.seed, atoms_scan_key, std::uint64_t(index)));
  scan.render(st, L.dose, rng::key(s.seed, atoms_noise_key, std::uint64_t(index)), image, PatchRealism{L.background, L.read_noise, L.psf_A});
  if (heatmaps) std::fill(heatmaps, heatmaps + std::size_t(kSiteClasses) * P * P, 0.0f);
  const int reach = int(std::ceil((4 * s.heatmap_sigma_A + 10 * L.jitter_A + scan_draw.drift_A + 0.5) / s.pixel_A)) + 1;
  for (const Column& c : st.columns) {
    const int cls = site_class(c, e);
    if (cls < 0) continue;
    const double col = scan.column_of(c.x), row = scan.row_of(c.y);
    if (col >= -0.5 && col < P - 0.5 && row >= -0.5 && row < P - 0.5) {
      L.sites += 1;
      if (sites) sites->push_back({cls, col, row});
    }
    if (heatmaps) scan.splat(heatmaps + std::size_t(cls) * P * P, c.x, c.y, s.heatmap_sigma_A, reach);
  }
  return L;
}

}  // namespace tmdflow::sim

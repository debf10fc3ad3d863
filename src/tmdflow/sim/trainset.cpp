#include "tmdflow/sim/trainset.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include "tmdflow/core/error.hpp"
#include "tmdflow/sim/adf.hpp"
#include "tmdflow/sim/random.hpp"
#include "tmdflow/sim/realism.hpp"
#include "tmdflow/sim/structure.hpp"

namespace tmdflow::sim {

const std::vector<PatchLabels::Field>& PatchLabels::fields() {
  static const std::vector<Field> f = {
      {"slip_a", &PatchLabels::slip_a, "fraction of a1", "slip of layer 1 along a1 relative to the stacking registry"},
      {"slip_b", &PatchLabels::slip_b, "fraction of a2", "slip of layer 1 along a2"},
      {"slip_a2", &PatchLabels::slip_a2, "fraction of a1", "slip of layer 2 along a1 (trilayers)"},
      {"slip_b2", &PatchLabels::slip_b2, "fraction of a2", "slip of layer 2 along a2 (trilayers)"},
      {"twist_deg", &PatchLabels::twist_deg, "degree", "twist of layer 1 about a metal site"},
      {"twist2_deg", &PatchLabels::twist2_deg, "degree", "twist of layer 2 (trilayers)"},
      {"material_index", &PatchLabels::material_index, "index", "compound of the patch: index into the product's materials attribute"},
      {"phi_deg", &PatchLabels::phi_deg, "degree", "orientation of layer 0 (data_schema/structures.md)"},
      {"vacancy", &PatchLabels::vacancy, "fraction", "chalcogen single-vacancy fraction"},
      {"dose", &PatchLabels::dose, "e/A^2", "electron dose (0: noise-free)"},
      {"defocus_A", &PatchLabels::defocus_A, "A", "C1"},
      {"source_size_A", &PatchLabels::source_size_A, "A", "Gaussian source size (sigma)"},
      {"jitter_A", &PatchLabels::jitter_A, "A", "scan-line jitter (rms)"},
      {"contamination", &PatchLabels::contamination, "atoms/A^2", "amorphous carbon density"},
  };
  return f;
}

std::vector<std::string> materials_of(const TrainsetSpec& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s.material + ",") {
    if (c == ',') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else if (c != ' ') {
      cur += c;
    }
  }
  return out;
}

void validate(const TrainsetSpec& s) {
  if (s.count < 1) throw ConfigError("count: expected at least 1, found " + std::to_string(s.count));
  if (s.patch_px < 8 || s.patch_px > 1024) throw ConfigError("patch-px: expected 8..1024, found " + std::to_string(s.patch_px));
  if (s.layers < 1 || s.layers > 3) throw ConfigError("layers: expected 1..3, found " + std::to_string(s.layers));
  if (s.dose.min < 0 || (s.dose.min == 0) != (s.dose.max == 0))
    throw ConfigError("dose-range-e-per-A2: expected 0,0 (noise-free) or two positive doses");
  for (const Range* r : {&s.vacancy, &s.source_size_A, &s.jitter_A, &s.contamination})
    if (r->min < 0) throw ConfigError("vacancy, source size, jitter and contamination ranges: expected values >= 0");
  if (s.vacancy.max > 1) throw ConfigError("vacancy-range: expected fractions <= 1");
  if (s.heatmap_sigma_A < 0 || s.heatmap_sigma_A > 5)
    throw ConfigError("heatmap-sigma-A: expected 0 (no heat maps) to 5 Angstrom, found " + std::to_string(s.heatmap_sigma_A));
  if (materials_of(s).empty()) throw ConfigError("material: expected a compound or a list A,B, found '" + s.material + "'");
  for (const auto& m : materials_of(s)) material(m);
  AdfSpec a;
  a.probe.voltage_kV = s.voltage_kV;
  a.probe.convergence_mrad = s.convergence_mrad;
  a.inner_mrad = s.inner_mrad;
  a.outer_mrad = s.outer_mrad;
  a.ny = a.nx = s.patch_px;
  a.pixel_A = s.pixel_A;
  AdfSimulator check(a);  // sampling and angle checks
}

struct TrainsetGenerator::Cache {
  std::vector<float> frame;
  std::vector<double> xs, ys;
};

TrainsetGenerator::TrainsetGenerator(const TrainsetSpec& spec) : spec_(spec), cache_(std::make_unique<Cache>()) { validate(spec); }
TrainsetGenerator::~TrainsetGenerator() = default;

namespace {

// Column heat maps of one patch. The probe positions (xs, ys) of pixel (i, j) follow the scan
// (with jitter) around the nominal grid x0 + j*step, so a column only reaches pixels near its
// nominal position: each column is drawn in a box of +-(4 sigma + distortion) pixels.
void draw_heatmaps(const Structure& st, const std::vector<double>& xs, const std::vector<double>& ys, int n, double step,
                   double x0, double y0, double sigma, double max_shift, float* out) {
  std::fill(out, out + std::size_t(kHeatmapChannels) * n * n, 0.0f);
  const double inv2s2 = 1.0 / (2 * sigma * sigma);
  const int reach = int(std::ceil((4 * sigma + max_shift) / step)) + 1;
  for (const Column& c : st.columns) {
    if (c.sublattice == Sublattice::other || c.occupancy <= 0 || c.capacity <= 0) continue;
    const float weight = float(c.occupancy) / float(c.capacity);
    float* map = out + std::size_t(c.sublattice == Sublattice::metal ? 0 : 1) * n * n;
    const int jc = int(std::lround((c.x - x0) / step)), ic = int(std::lround((c.y - y0) / step));
    for (int i = std::max(0, ic - reach); i <= std::min(n - 1, ic + reach); ++i)
      for (int j = std::max(0, jc - reach); j <= std::min(n - 1, jc + reach); ++j) {
        const std::size_t k = std::size_t(i) * n + j;
        const double dx = xs[k] - c.x, dy = ys[k] - c.y;
        map[k] += weight * float(std::exp(-(dx * dx + dy * dy) * inv2s2));
      }
  }
}

}  // namespace

PatchLabels TrainsetGenerator::patch(std::int64_t index, float* out, float* heatmaps) {
  const auto& s = spec_;
  rng::Stream g(rng::key(s.seed, 0x747261696eULL, std::uint64_t(index)));
  auto draw = [&](const Range& r) { return r.min + (r.max - r.min) * g.uniform(); };
  PatchLabels L;
  L.slip_a = draw(s.slip);
  L.slip_b = draw(s.slip);
  L.twist_deg = draw(s.twist_deg);
  if (s.layers == 3) {
    L.slip_a2 = draw(s.slip);
    L.slip_b2 = draw(s.slip);
    L.twist2_deg = draw(s.twist_deg);
  }
  L.phi_deg = draw(s.phi_deg);
  L.vacancy = draw(s.vacancy);
  L.dose = s.dose.max > 0 ? std::exp(std::log(s.dose.min) + (std::log(s.dose.max) - std::log(s.dose.min)) * g.uniform()) : 0.0;
  L.defocus_A = draw(s.defocus_A);
  L.source_size_A = draw(s.source_size_A);
  L.jitter_A = draw(s.jitter_A);
  L.contamination = draw(s.contamination);
  if (s.layers < 2) L.slip_a = L.slip_b = L.twist_deg = 0;
  // Drawn last, and only for a list, so that one material keeps the patches it always gave.
  const auto materials = materials_of(s);
  if (materials.size() > 1) L.material_index = std::min(double(materials.size() - 1), std::floor(g.uniform() * double(materials.size())));

  AdfSpec a;
  a.probe.voltage_kV = s.voltage_kV;
  a.probe.convergence_mrad = s.convergence_mrad;
  a.probe.aberrations.C1 = L.defocus_A;
  a.probe.aberrations.Cs = s.Cs_A;
  a.probe.source_size_A = L.source_size_A;
  a.inner_mrad = s.inner_mrad;
  a.outer_mrad = s.outer_mrad;
  a.ny = a.nx = s.patch_px;
  a.pixel_A = s.pixel_A;
  a.margin_A = 6;
  ScanDistortion d;
  d.jitter_A = L.jitter_A;
  const AdfField field = adf_field(a, d);
  a.x0 = field.x0;
  a.y0 = field.y0;
  AdfSimulator sim(a);

  StackSpec k;
  k.material = materials[std::size_t(L.material_index)];
  k.layers = s.layers;
  k.stacking = s.stacking;
  k.phi_deg = L.phi_deg;
  k.slip_a = {L.slip_a, L.slip_a2};
  k.slip_b = {L.slip_b, L.slip_b2};
  k.twist_deg = {L.twist_deg, L.twist2_deg};
  k.slip_a.resize(std::size_t(std::max(0, s.layers - 1)));
  k.slip_b.resize(k.slip_a.size());
  k.twist_deg.resize(k.slip_a.size());
  k.defects.chalcogen_single_vacancy = L.vacancy;
  k.extent_x = field.extent_x;
  k.extent_y = field.extent_y;
  k.seed = rng::key(s.seed, 0x737472756374ULL, std::uint64_t(index));
  Structure st = build_stack(k);
  add_surface_contamination(st, L.contamination, k.seed);
  const float* padded = sim.padded_image(st);
  scan_positions(d, s.patch_px, s.patch_px, s.pixel_A, a.x0, a.y0, k.seed, cache_->xs, cache_->ys);
  resample_bicubic(padded, sim.padded_grid(), cache_->xs.data(), cache_->ys.data(), cache_->xs.size(), out);
  if (heatmaps && s.heatmap_sigma_A > 0)
    draw_heatmaps(st, cache_->xs, cache_->ys, s.patch_px, s.pixel_A, a.x0, a.y0, s.heatmap_sigma_A, 10 * L.jitter_A + 1.0, heatmaps);
  if (L.dose > 0) add_counting_noise(out, std::size_t(s.patch_px) * s.patch_px, L.dose * s.pixel_A * s.pixel_A, 0.0, rng::key(k.seed, 0x6e6f697365ULL));
  return L;
}

}  // namespace tmdflow::sim

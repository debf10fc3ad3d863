#include "tmdflow/sim/trainset.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "tmdflow/core/error.hpp"
#include "tmdflow/sim/adf.hpp"
#include "tmdflow/sim/holes.hpp"
#include "tmdflow/sim/lattice_anchor.hpp"
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
      {"phi_deg", &PatchLabels::phi_deg, "degree", "orientation of layer 0 as drawn (MX2: phi of data_schema/structures.md; 1T'': rotation_deg)"},
      {"vacancy", &PatchLabels::vacancy, "fraction", "chalcogen single-vacancy fraction"},
      {"dose", &PatchLabels::dose, "e/A^2", "electron dose (0: noise-free or Gaussian PSNR noise)"},
      {"defocus_A", &PatchLabels::defocus_A, "A", "C1"},
      {"source_size_A", &PatchLabels::source_size_A, "A", "Gaussian source size (sigma)"},
      {"jitter_A", &PatchLabels::jitter_A, "A", "scan-line jitter (rms)"},
      {"contamination", &PatchLabels::contamination, "atoms/A^2", "amorphous carbon density"},
      {"slip_x_A", &PatchLabels::slip_x_A, "A", "interface 0 slip (layer 1 relative to layer 0, minus the registry), x component in the patch frame"},
      {"slip_y_A", &PatchLabels::slip_y_A, "A", "interface 0 slip, y component (rows) in the patch frame"},
      {"slip_x_A_1", &PatchLabels::slip_x_A_1, "A", "interface 1 slip (layer 2 relative to layer 1, minus the registry; trilayers), x component"},
      {"slip_y_A_1", &PatchLabels::slip_y_A_1, "A", "interface 1 slip (trilayers), y component"},
      {"a1_x_A", &PatchLabels::a1_x_A, "A", "bottom layer's base vector a1 in the patch frame, x component"},
      {"a1_y_A", &PatchLabels::a1_y_A, "A", "bottom layer's base vector a1, y component"},
      {"a2_x_A", &PatchLabels::a2_x_A, "A", "bottom layer's base vector a2 in the patch frame, x component"},
      {"a2_y_A", &PatchLabels::a2_y_A, "A", "bottom layer's base vector a2, y component"},
      {"scale", &PatchLabels::scale, "factor", "lattice scale of the patch (scale jitter; 1: as tabulated)"},
      {"rotation_deg", &PatchLabels::rotation_deg, "degree", "1T'': rotation of the bottom layer (its cell's A axis from +x); 0 for MX2"},
      {"psnr_dB", &PatchLabels::psnr_dB, "dB", "20 log10(max of the noise-free patch / rms of its noise), measured (inf: noise-free)"},
      {"holes", &PatchLabels::holes, "fraction", "fraction of the patch's pixels in holes (vacuum through every layer)"},
      {"drift_x_A", &PatchLabels::drift_x_A, "A", "sample drift over the patch's acquisition, x component"},
      {"drift_y_A", &PatchLabels::drift_y_A, "A", "sample drift over the patch's acquisition, y component"},
      {"background", &PatchLabels::background, "fraction of the beam", "uniform background added to every pixel before the counting noise"},
      {"read_noise", &PatchLabels::read_noise, "detected electrons", "Gaussian read noise (rms) added after the counting noise"},
      {"psf_A", &PatchLabels::psf_A, "A", "Gaussian point-spread (sigma) applied after the noise"},
      {"shift_x_A", &PatchLabels::shift_x_A, "A", "translation of the lattice relative to the patch, x component (0 without --translate)"},
      {"shift_y_A", &PatchLabels::shift_y_A, "A", "translation of the lattice relative to the patch, y component (rows)"},
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

std::string stacking_of(const TrainsetSpec& s) {
  if (!s.stacking.empty()) return s.stacking;
  const auto materials = materials_of(s);
  return !materials.empty() && layer_cell(materials.front()).triclinic ? "AA" : "2H";
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
  for (double v : s.phi_set_deg)
    if (!std::isfinite(v)) throw ConfigError("phi-set-deg: expected finite angles");
  if (!(s.phi_jitter_deg >= 0 && s.phi_jitter_deg <= 180))
    throw ConfigError("phi-jitter-deg: expected 0 to 180 degrees, found " + std::to_string(s.phi_jitter_deg));
  if (!(s.scale_jitter >= 0 && s.scale_jitter <= 0.5))
    throw ConfigError("scale-jitter: expected a fraction 0 to 0.5, found " + std::to_string(s.scale_jitter));
  if (s.slip2 && !(s.slip2->max >= s.slip2->min)) throw ConfigError("slip2-range: expected MIN <= MAX");
  if (!(s.drift_A.min >= 0)) throw ConfigError("drift-range-A: expected lengths >= 0");
  if (!(s.background.min >= 0 && s.background.max <= 1))
    throw ConfigError("background-range: expected fractions of the beam 0 to 1, found " + std::to_string(s.background.min) + "," +
                      std::to_string(s.background.max));
  if (!(s.psf_A.min >= 0 && s.psf_A.max <= 10))
    throw ConfigError("psf-range-A: expected sigmas 0 to 10 Angstrom, found " + std::to_string(s.psf_A.min) + "," + std::to_string(s.psf_A.max));
  if (!(s.read_noise.min >= 0)) throw ConfigError("read-noise-range: expected values >= 0 (detected electrons rms), found " +
                                                  std::to_string(s.read_noise.min));
  if (!(s.holes.min >= 0 && s.holes.max <= 0.5))
    throw ConfigError("holes-range: expected area fractions 0 to 0.5, found " + std::to_string(s.holes.min) + "," + std::to_string(s.holes.max));
  if (s.psnr_dB.max > 0 && !(s.psnr_dB.min > -20 && s.psnr_dB.max <= 80))
    throw ConfigError("psnr-range-dB: expected PSNRs above -20 and at most 80 dB (0,0: noise by the dose), found " +
                      std::to_string(s.psnr_dB.min) + "," + std::to_string(s.psnr_dB.max));
  if (s.heatmap_sigma_A < 0 || s.heatmap_sigma_A > 5)
    throw ConfigError("heatmap-sigma-A: expected 0 (no heat maps) to 5 Angstrom, found " + std::to_string(s.heatmap_sigma_A));
  if (materials_of(s).empty()) throw ConfigError("material: expected a compound or a list A,B, found '" + s.material + "'");
  const auto materials = materials_of(s);
  const bool triclinic = layer_cell(materials.front()).triclinic;
  for (const auto& m : materials)
    if (layer_cell(m).triclinic != triclinic)
      throw ConfigError("material: expected compounds of one family (MX2: MoS2, WS2, MoSe2, WSe2; 1T'': ReS2, ReSe2), found '" +
                        s.material + "'");
  // The builder checks the registry against the family.
  StackSpec probe;
  probe.material = materials.front();
  probe.layers = s.layers;
  probe.stacking = s.stacking;
  probe.extent_x = probe.extent_y = 1;
  build_stack(probe);
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

// Everything patch `index` is made of, drawn from (seed, index) alone.
struct TrainsetGenerator::Plan {
  PatchLabels labels;
  AdfSpec adf;
  ScanDistortion distortion;
  AdfField field;
  StackSpec stack;          // built on the field shrunk by 1/scale, then scaled (scaled_stack)
  std::vector<Hole> holes;  // in the field frame
  double psnr_target = 0;   // dB; 0: the noise is the dose's
};

TrainsetGenerator::Plan TrainsetGenerator::plan(std::int64_t index) const {
  const auto& s = spec_;
  rng::Stream g(rng::key(s.seed, 0x747261696eULL, std::uint64_t(index)));
  auto draw = [&](const Range& r) { return r.min + (r.max - r.min) * g.uniform(); };
  Plan p;
  PatchLabels& L = p.labels;
  L.slip_a = draw(s.slip);
  L.slip_b = draw(s.slip);
  L.twist_deg = draw(s.twist_deg);
  if (s.layers == 3) {
    L.slip_a2 = draw(s.slip2.value_or(s.slip));
    L.slip_b2 = draw(s.slip2.value_or(s.slip));
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

  // What was added later draws from a stream of its own, so that a set made without it keeps its
  // patches bit for bit.
  rng::Stream h(rng::key(s.seed, 0x6672616d65ULL, std::uint64_t(index)));
  auto draw_h = [&](const Range& r) { return r.min + (r.max - r.min) * h.uniform(); };
  if (!s.phi_set_deg.empty()) {
    const auto n = s.phi_set_deg.size();
    const auto pick = std::min(n - 1, std::size_t(h.uniform() * double(n)));
    L.phi_deg = s.phi_set_deg[pick] + s.phi_jitter_deg * (2 * h.uniform() - 1);
  }
  L.scale = 1 + s.scale_jitter * (2 * h.uniform() - 1);
  const double drift = draw_h(s.drift_A), drift_angle = 2 * 3.14159265358979323846 * h.uniform();
  if (drift > 0) L.drift_x_A = drift * std::cos(drift_angle), L.drift_y_A = drift * std::sin(drift_angle);
  const double hole_fraction = draw_h(s.holes);
  const int hole_count = 1 + int(2 * h.uniform());  // one or two holes share the area
  if (s.psnr_dB.max > 0) {
    p.psnr_target = draw_h(s.psnr_dB);
    L.dose = 0;  // set from the image (patch)
  }
  // The detector's side of a style (background, read noise): a stream of its own again.
  rng::Stream d(rng::key(s.seed, 0x6465746563ULL, std::uint64_t(index)));
  L.background = s.background.min + (s.background.max - s.background.min) * d.uniform();
  L.read_noise = s.read_noise.min + (s.read_noise.max - s.read_noise.min) * d.uniform();
  L.psf_A = s.psf_A.min + (s.psf_A.max - s.psf_A.min) * d.uniform();

  AdfSpec& a = p.adf;
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
  p.distortion.jitter_A = L.jitter_A;
  p.distortion.drift_x_A = L.drift_x_A;
  p.distortion.drift_y_A = L.drift_y_A;
  // Translation: the scan window moves by -shift in a field whose margin grows by |shift|, so the
  // lattice moves by +shift relative to the patch and every pixel keeps at least the margin. Its
  // own stream again: sets made without it keep their patches bit for bit.
  if (s.translate) {
    rng::Stream t(rng::key(s.seed, 0x7472616e73ULL, std::uint64_t(index)));
    StackSpec bottom;
    bottom.material = materials[std::size_t(L.material_index)];
    if (layer_cell(bottom.material).triclinic)
      bottom.rotation_deg = L.phi_deg;
    else
      bottom.phi_deg = L.phi_deg;
    const BaseVectors b = stack_base_vectors(bottom);
    const double u = t.uniform(), v = t.uniform();
    L.shift_x_A = L.scale * (u * b.a1[0] + v * b.a2[0]);
    L.shift_y_A = L.scale * (u * b.a1[1] + v * b.a2[1]);
    a.margin_A += std::max(std::abs(L.shift_x_A), std::abs(L.shift_y_A));
  }
  if (s.anchor) {  // the scan may move by up to half a cell's diagonal to its anchor
    const LayerCell c = layer_cell(materials[std::size_t(L.material_index)]);
    a.margin_A += 0.5 * (1 + s.scale_jitter) * (std::hypot(c.a1[0], c.a1[1]) + std::hypot(c.a2[0], c.a2[1]));
  }
  p.field = adf_field(a, p.distortion);
  a.x0 = p.field.x0 - L.shift_x_A;
  a.y0 = p.field.y0 - L.shift_y_A;

  StackSpec& k = p.stack;
  k.material = materials[std::size_t(L.material_index)];
  const bool triclinic = layer_cell(k.material).triclinic;
  k.layers = s.layers;
  k.stacking = s.stacking;
  if (triclinic) {
    k.rotation_deg = L.rotation_deg = L.phi_deg;
  } else {
    k.phi_deg = L.phi_deg;
  }
  k.slip_a = {L.slip_a, L.slip_a2};
  k.slip_b = {L.slip_b, L.slip_b2};
  k.twist_deg = {L.twist_deg, L.twist2_deg};
  k.slip_a.resize(std::size_t(std::max(0, s.layers - 1)));
  k.slip_b.resize(k.slip_a.size());
  k.twist_deg.resize(k.slip_a.size());
  k.defects.chalcogen_single_vacancy = L.vacancy;
  k.extent_x = p.field.extent_x / L.scale;
  k.extent_y = p.field.extent_y / L.scale;
  k.seed = rng::key(s.seed, 0x737472756374ULL, std::uint64_t(index));

  // Cartesian labels: s_k = slip_a[k-1] a1 + slip_b[k-1] a2 (s_0 = 0) is layer k's slip from its
  // registry; interface k is s_{k+1} - s_k; all scaled with the lattice.
  const BaseVectors v = stack_base_vectors(k);
  const double c = L.scale;
  L.a1_x_A = c * v.a1[0], L.a1_y_A = c * v.a1[1], L.a2_x_A = c * v.a2[0], L.a2_y_A = c * v.a2[1];
  const double s1x = L.slip_a * L.a1_x_A + L.slip_b * L.a2_x_A, s1y = L.slip_a * L.a1_y_A + L.slip_b * L.a2_y_A;
  const double s2x = L.slip_a2 * L.a1_x_A + L.slip_b2 * L.a2_x_A, s2y = L.slip_a2 * L.a1_y_A + L.slip_b2 * L.a2_y_A;
  L.slip_x_A = s1x, L.slip_y_A = s1y;
  if (s.layers == 3) L.slip_x_A_1 = s2x - s1x, L.slip_y_A_1 = s2y - s1y;

  // Holes: whole discs inside the patch whose areas add up to the drawn fraction; the label is the
  // fraction of the patch's (nominal) pixels that fall in one.
  if (hole_fraction > 0) {
    const double side = s.patch_px * s.pixel_A;
    HoleSpec hs;
    hs.count = hole_count;
    hs.radius_A = std::sqrt(hole_fraction * side * side / (hole_count * 3.14159265358979323846));
    p.holes = draw_holes(hs, a.x0, a.y0, side, side, rng::key(k.seed, 0x686f6c6573ULL));
    std::int64_t inside = 0;
    for (int i = 0; i < s.patch_px; ++i)
      for (int j = 0; j < s.patch_px; ++j) inside += in_hole(p.holes, a.x0 + j * s.pixel_A, a.y0 + i * s.pixel_A);
    L.holes = double(inside) / (double(s.patch_px) * s.patch_px);
  }
  L.psnr_dB = std::numeric_limits<double>::infinity();  // until noise is added
  return p;
}

namespace {

/// The stack of a plan: built on a field 1/scale the size of the patch's field, then every position
/// multiplied by scale, which maps that field onto the patch's and scales the lattice about the
/// field centre.
Structure scaled_stack(const StackSpec& k, double scale, const AdfField& field) {
  Structure st = build_stack(k);
  if (scale != 1) {
    for (Atom& a : st.atoms) a.x *= scale, a.y *= scale;
    for (Column& c : st.columns) c.x *= scale, c.y *= scale;
    for (Domain& d : st.domains) d.centre_x *= scale, d.centre_y *= scale;
  }
  st.extent_x = field.extent_x;
  st.extent_y = field.extent_y;
  return st;
}

/// 20 log10(max(clean) / rms(noisy - clean)); +inf without noise.
double measured_psnr(const std::vector<float>& clean, const float* noisy, double clean_to_noisy) {
  double peak = 0, sum2 = 0;
  for (std::size_t p = 0; p < clean.size(); ++p) {
    const double c = clean_to_noisy * clean[p];
    peak = std::max(peak, c);
    sum2 += (noisy[p] - c) * (noisy[p] - c);
  }
  const double rms = std::sqrt(sum2 / double(clean.size()));
  return rms > 0 ? 20 * std::log10(peak / rms) : std::numeric_limits<double>::infinity();
}

}  // namespace

PatchLabels TrainsetGenerator::labels(std::int64_t index) {
  if (spec_.dose.max > 0 || spec_.psnr_dB.max > 0) {
    std::vector<float> scratch(std::size_t(spec_.patch_px) * spec_.patch_px);
    return patch(index, scratch.data());
  }
  return plan(index).labels;
}

TrainsetGenerator::PatchStructure TrainsetGenerator::structure(std::int64_t index) const {
  const Plan p = plan(index);
  Structure st = scaled_stack(p.stack, p.labels.scale, p.field);
  cut_holes(st, p.holes);
  return {std::move(st), p.adf.x0, p.adf.y0};
}

PatchLabels TrainsetGenerator::patch(std::int64_t index, float* out, float* heatmaps) {
  const auto& s = spec_;
  Plan p = plan(index);
  PatchLabels& L = p.labels;
  AdfSimulator sim(p.adf);
  Structure st = scaled_stack(p.stack, L.scale, p.field);
  add_surface_contamination(st, L.contamination, p.stack.seed);
  cut_holes(st, p.holes);  // vacuum: no contamination over a hole either
  const float* padded = sim.padded_image(st);
  scan_positions(p.distortion, s.patch_px, s.patch_px, s.pixel_A, p.adf.x0, p.adf.y0, p.stack.seed, cache_->xs, cache_->ys);
  resample_bicubic(padded, sim.padded_grid(), cache_->xs.data(), cache_->ys.data(), cache_->xs.size(), out);
  if (s.anchor) {
    // Re-centred on the lattice anchor: the scan moves by it, the lattice by minus it.
    const auto t = lattice_anchor(out, s.patch_px, s.pixel_A, {L.a1_x_A, L.a1_y_A}, {L.a2_x_A, L.a2_y_A});
    for (double& x : cache_->xs) x += t[0];
    for (double& y : cache_->ys) y += t[1];
    resample_bicubic(padded, sim.padded_grid(), cache_->xs.data(), cache_->ys.data(), cache_->xs.size(), out);
    L.shift_x_A -= t[0], L.shift_y_A -= t[1];
  }
  if (heatmaps && s.heatmap_sigma_A > 0)
    draw_heatmaps(st, cache_->xs, cache_->ys, s.patch_px, s.pixel_A, p.adf.x0, p.adf.y0, s.heatmap_sigma_A,
                  10 * L.jitter_A + std::hypot(L.drift_x_A, L.drift_y_A) + 1.0, heatmaps);

  const std::size_t n = std::size_t(s.patch_px) * s.patch_px;
  if (L.background > 0)
    for (std::size_t q = 0; q < n; ++q) out[q] += float(L.background);
  const std::uint64_t noise_key = rng::key(p.stack.seed, 0x6e6f697365ULL);
  double electrons_per_unit = L.dose * s.pixel_A * s.pixel_A, read_noise = 0;
  if (s.psnr_dB.max > 0) {
    // Poisson counts c ~ P(e v): PSNR = 20 log10(e max v / sqrt(e mean v)), so e = 10^(PSNR/10)
    // mean v / (max v)^2. Gaussian: sigma = max v / 10^(PSNR/20) on the noise-free values.
    double peak = 0, mean = 0;
    for (std::size_t q = 0; q < n; ++q) peak = std::max(peak, double(out[q])), mean += std::max(0.0, double(out[q])) / double(n);
    const double ratio = std::pow(10.0, p.psnr_target / 20);
    electrons_per_unit = 0;
    if (peak > 0 && s.psnr_gaussian) read_noise = peak / ratio;
    if (peak > 0 && !s.psnr_gaussian) electrons_per_unit = ratio * ratio * mean / (peak * peak);
    L.dose = electrons_per_unit / (s.pixel_A * s.pixel_A);
  } else if (electrons_per_unit > 0) {
    read_noise = L.read_noise;
  }
  if (electrons_per_unit > 0 || read_noise > 0) {
    cache_->frame.assign(out, out + n);
    add_counting_noise(out, n, electrons_per_unit, read_noise, noise_key);
    L.psnr_dB = measured_psnr(cache_->frame, out, electrons_per_unit > 0 ? electrons_per_unit : 1.0);
  }
  if (L.psf_A > 0) gaussian_blur(out, s.patch_px, s.patch_px, L.psf_A / s.pixel_A);
  return L;
}

}  // namespace tmdflow::sim

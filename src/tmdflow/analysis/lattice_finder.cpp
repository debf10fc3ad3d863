#include "tmdflow/analysis/lattice_finder.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <sstream>

#include "tmdflow/analysis/lattice/geometry.hpp"
#include "tmdflow/analysis/lattice/motif.hpp"
#include "tmdflow/analysis/lattice/reciprocal.hpp"
#include "tmdflow/analysis/lattice/spectrum.hpp"
#include "tmdflow/core/error.hpp"
#include "tmdflow/core/strings.hpp"
#include "tmdflow/core/units.hpp"
#include "tmdflow/sim/structure.hpp"

namespace tmdflow::analysis {
namespace {

using lattice::Reciprocal;
using lattice::RefinedLattice;
using lattice::Spectrum;
constexpr auto Spots = lattice::Score::spots;

const double kSqrt3 = std::sqrt(3.0);
// The largest distortion from a hexagon accepted: a 1T'' cell is ~1.03 from one; a scan's drift or a
// non-square calibration may add 15 % (the canonical frame undoes it); more is no TMD lattice.
constexpr double kMaxAnisotropy = 1.3;
constexpr std::int64_t kMaxSide = 2048;  // larger images are read on their central part

double angle_deg(const double v[2]) { return units::rad_to_deg(std::atan2(v[1], v[0])); }
double modulo_deg(double a, double period) { return a - period * std::floor(a / period); }

std::string fixed(double v, int digits) {
  std::ostringstream s;
  s.setf(std::ios::fixed);
  s.precision(digits);
  s << v;
  return s.str();
}

/// What the material predicts: its ideal cell and the hexagonal lattice of the same cell area
/// (a 1T'' cell is pseudo-hexagonal to ~1.5 %), whose constant a_eff the spectrum search uses.
struct Expected {
  sim::LayerCell cell;
  double area_A2 = 0, a_eff_A = 0;
  std::string name;
};

Expected expected_lattice(const LatticeOptions& o) {
  Expected e;
  e.cell = sim::layer_cell(o.material);  // ConfigError naming the known materials
  e.name = e.cell.material;
  e.area_A2 = std::abs(e.cell.a1[0] * e.cell.a2[1] - e.cell.a1[1] * e.cell.a2[0]);
  e.a_eff_A = std::sqrt(e.area_A2 / (kSqrt3 / 2));
  return e;
}

void validate(const LatticeOptions& o, std::int64_t height, std::int64_t width, const Expected& e) {
  const std::string who = "lattice finder: ";
  if (!(o.pixel_A > 0) || !std::isfinite(o.pixel_A))
    throw ConfigError(who + "pixel_A: expected a positive calibration (Angstrom per pixel), found " + str::number(o.pixel_A));
  if (!(o.tolerance > 0 && o.tolerance <= 0.5))
    throw ConfigError(who + "tolerance: expected a fraction in (0, 0.5], found " + str::number(o.tolerance));
  if (o.layers < 0 || o.layers > 3)
    throw ConfigError(who + "layers: expected 1, 2 or 3 (0: not known), found " + std::to_string(o.layers));
  if (o.twisted && e.cell.triclinic)
    throw ConfigError(who + "twisted: expected an MX2 material (twisted stacks are MX2 only), found " + e.name);
  if (height < 16 || width < 16 || height > (1 << 20) || width > (1 << 20))
    throw InputError(who + "image: expected 16 to 2^20 pixels per side, found " + std::to_string(height) + " x " + std::to_string(width));
}

/// "MoS2 at 0.06 A/px: expected a = 3.160 A (52.67 px) within 10 %"
std::string expectation(const LatticeOptions& o, const Expected& e) {
  return "lattice finder: " + e.name + " at " + str::number(o.pixel_A) + " A/px: expected a lattice of constant " + fixed(e.a_eff_A, 3) +
         " A (" + fixed(e.a_eff_A / o.pixel_A, 2) + " px" + (e.cell.triclinic ? ", the hexagon of the 1T'' cell's area" : "") + ") within " +
         str::number(100 * o.tolerance) + " %";
}

double a_eff_px(const Reciprocal& r) { return std::sqrt(r.cell_area_px() / (kSqrt3 / 2)); }

/// The image's strongest lattice whatever its constant (the material's shape not assumed): what a
/// message about a wrong calibration quotes. False when there is none.
bool strongest_lattice(const Spectrum& spectrum, Reciprocal& out) {
  const auto spots = spectrum.strongest_spots(0.45 * spectrum.min_size(), 16);
  return lattice::primitive_lattice(spots, spectrum.height(), spectrum.width(), 1.0, out);
}

[[noreturn]] void throw_no_lattice(const Spectrum& spectrum, const LatticeOptions& o, const Expected& e, const std::string& found) {
  std::string msg = expectation(o, e) + ", found " + found;
  Reciprocal any;
  if (strongest_lattice(spectrum, any)) {
    const double px = a_eff_px(any);
    msg += "; the image's strongest lattice has a constant of " + fixed(px, 2) + " px, which a pixel size of " +
           str::number(e.a_eff_A / px) + " A would fit (calibration or material wrong?)";
  } else {
    msg += "; the image shows no lattice at all";
  }
  throw InputError(msg);
}

double quality_dB(const RefinedLattice& r) {
  std::vector<double> snr;
  for (const auto& s : r.spots) snr.push_back(s.snr);
  std::sort(snr.rbegin(), snr.rend());
  const std::size_t n = std::min<std::size_t>(6, snr.size());
  double sum = 0;
  for (std::size_t i = 0; i < n; ++i) sum += 10 * std::log10(snr[i]);
  return n ? sum / double(n) : 0;
}

/// The spectrum of the image, or of its central kMaxSide x kMaxSide part when it is larger: a
/// 2048^2 field already fixes the lattice to ~1e-4, and memory and time stay bounded.
Spectrum central_spectrum(const float* image, std::int64_t height, std::int64_t width) {
  if (height <= kMaxSide && width <= kMaxSide) return Spectrum(image, int(height), int(width));
  const std::int64_t h = std::min(height, kMaxSide), w = std::min(width, kMaxSide), r0 = (height - h) / 2, c0 = (width - w) / 2;
  std::vector<float> crop(std::size_t(h * w));
  for (std::int64_t i = 0; i < h; ++i) std::copy(image + (r0 + i) * width + c0, image + (r0 + i) * width + c0 + w, &crop[std::size_t(i * w)]);
  return Spectrum(crop.data(), int(h), int(w));
}

/// What the searches use: the expected lattice's first-order spot radius g (cycles per pixel), the
/// radii out to which lattices are scored and fitted, and the hexagon search's window.
struct SearchPlan {
  double g = 0, coarse_radius = 0, fit_radius = 0;
  lattice::HexagonSearch hexagon;
};

SearchPlan plan_search(const Spectrum& spectrum, const LatticeOptions& options, const Expected& expected) {
  SearchPlan p;
  p.g = 2 / (kSqrt3 * expected.a_eff_A) * options.pixel_A;
  if (p.g * spectrum.min_size() < spectrum.min_radius_bins() + 1.5)
    throw_no_lattice(spectrum, options, expected,
                     "a field of " + std::to_string(spectrum.height()) + " x " + std::to_string(spectrum.width()) +
                         " px, too small to show it (it must hold at least ~4 cells across)");
  if (p.g > 0.45)
    throw InputError(expectation(options, expected) + ", found pixels too coarse to resolve it (at least 2.6 px per cell side needed)");
  p.coarse_radius = std::min(0.45, 3.1 * p.g);
  p.fit_radius = std::min(0.45, 6 * p.g);
  // Scales well past the tolerance are searched so that a wrong calibration is measured, not missed.
  const double reach = std::max(0.35, 2 * options.tolerance);
  p.hexagon = {p.g, 1 / (1 + reach), 1 + reach, p.coarse_radius};
  return p;
}

/// The material's lattice from two seeds: the hexagonal lattice that hits the most spot evidence
/// (robust when a stack's interference empties some orders), and the lattice spanned by the
/// strongest spots whatever its shape (a scan's drift or a non-square calibration can shear a
/// lattice by 10 % and more). Each is fitted; the one whose points hold more genuine spots wins (the
/// smaller cell when they tie). Returns its spot evidence, <= 0 when neither seed gives a lattice.
double best_lattice(const Spectrum& spectrum, const SearchPlan& plan, const LatticeOptions& options, const Expected& expected,
                    RefinedLattice& best) {
  double best_evidence = -1;
  auto consider = [&](const Reciprocal& seed, double first_search_fraction) {
    RefinedLattice r;
    if (!lattice::refine_lattice(spectrum, seed, plan.fit_radius, first_search_fraction, r)) return;
    r.lattice = lattice::sixty_form(r.lattice);
    const double scale = a_eff_px(r.lattice) * options.pixel_A / expected.a_eff_A;
    if (scale < plan.hexagon.scale_lo || scale > plan.hexagon.scale_hi || lattice::anisotropy(r.lattice) > kMaxAnisotropy) return;
    const double e = lattice::lattice_evidence(spectrum, r.lattice, plan.coarse_radius, Spots);
    const bool tie = std::abs(e - best_evidence) <= 0.02 * std::max(e, best_evidence);
    if (best_evidence < 0 || (!tie && e > best_evidence) || (tie && r.lattice.cell_area_px() < 0.9 * best.lattice.cell_area_px()))
      best = r, best_evidence = e;
  };
  const auto hexagon = lattice::search_hexagon(spectrum, plan.hexagon);
  if (hexagon.evidence > 0) consider(hexagon.lattice, 0.05);
  Reciprocal spanned;
  if (lattice::primitive_lattice(spectrum.strongest_spots(plan.coarse_radius * spectrum.min_size(), 24), spectrum.height(),
                                 spectrum.width(), 1.0, spanned))
    consider(lattice::sixty_form(spanned), 0.02);
  return best_evidence;
}

/// A second lattice of the same scale among the spots the first does not explain (a twisted
/// layer): the hexagon search within +-3 % of the first's scale with its points excluded. False
/// when there is none, or when it is within ~1.5 bins of the first at the second order (one
/// lattice to the spectrum).
bool second_lattice(const Spectrum& spectrum, const SearchPlan& plan, const RefinedLattice& first, double first_evidence,
                    RefinedLattice& second) {
  const double s1 = a_eff_px(first.lattice) / (2 / (kSqrt3 * plan.g));
  const lattice::HexagonSearch near{plan.g, s1 / 1.03, s1 * 1.03, plan.coarse_radius};
  const auto found = lattice::search_hexagon(spectrum, near, {first.lattice});
  if (!(found.evidence > 0.1 * first_evidence) ||
      !lattice::refine_lattice(spectrum, found.lattice, plan.fit_radius, 0.02, second, {first.lattice}))
    return false;
  double a1[2], a2[2], b1[2], b2[2];
  lattice::canonical_hexagon(first.lattice, a1, a2);
  lattice::canonical_hexagon(second.lattice, b1, b2);
  const double turn = modulo_deg(angle_deg(b1) - angle_deg(a1), 60);
  // Resolved at the second order (sqrt(3) g), where the two lattices' spots are sqrt(3) times farther
  // apart than at the first: a small field blurs the first-order pairs into one spot but not these.
  const double resolution = units::rad_to_deg(1.5 / (kSqrt3 * plan.g * std::max(spectrum.height(), spectrum.width())));
  return std::min(turn, 60 - turn) >= resolution;
}

/// Sub- and super-cells: a lattice 2x or sqrt(3)x the true one (or 1/2, 1/sqrt(3) of it) is
/// hexagonal too, and a calibration wrong by those factors finds it. It shows as lattice points
/// without spots (spots only on a 2 x 2 or sqrt(3) x sqrt(3) sublattice) or as genuine spots between
/// the lattice points. `known` holds the lattices whose spots are explained (a twisted layer's);
/// `find_known` adds a second lattice when spots sit between the points, before they count.
void check_cell(const Spectrum& spectrum, const SearchPlan& plan, const LatticeOptions& options, const Expected& expected,
                const Reciprocal& lattice, std::vector<Reciprocal> known, const std::function<bool(Reciprocal&)>& find_known) {
  auto cell_error = [&](double factor, const std::string& what) {
    const double px = a_eff_px(lattice) * factor;
    throw InputError(expectation(options, expected) + ", found " + what + ": the material's lattice is at " + fixed(px, 2) +
                     " px, which a pixel size of " + str::number(expected.a_eff_A / px) + " A would fit (calibration wrong?)");
  };
  // Genuine spots only (not a strong spot's sidelobes): these sums say where spots are.
  const double all = lattice::lattice_evidence(spectrum, lattice, plan.coarse_radius, Spots);
  const double even = lattice::lattice_evidence(spectrum, lattice, plan.coarse_radius, Spots, {}, [](int h, int k) {
    return h % 2 == 0 && k % 2 == 0;
  });
  if (all - even < 0.02 * all) cell_error(0.5, "spots only at every second lattice point (the lattice is half as large)");
  const double third = lattice::lattice_evidence(spectrum, lattice, plan.coarse_radius, Spots, {}, [](int h, int k) {
    return ((h - k) % 3 + 3) % 3 == 0;  // sixty form: the sqrt(3) x sqrt(3) R30 sublattice
  });
  if (all - third < 0.02 * all) cell_error(1 / kSqrt3, "spots only on a sqrt(3) x sqrt(3) sublattice (the lattice is smaller)");
  Reciprocal halves, thirds;
  for (int c = 0; c < 2; ++c) {
    halves.b1[c] = lattice.b1[c] / 2, halves.b2[c] = lattice.b2[c] / 2;
    thirds.b1[c] = (lattice.b1[c] + lattice.b2[c]) / 3, thirds.b2[c] = (2 * lattice.b2[c] - lattice.b1[c]) / 3;
  }
  known.insert(known.begin(), lattice);
  auto between = [&](const Reciprocal& finer) { return lattice::lattice_evidence(spectrum, finer, plan.coarse_radius, Spots, known); };
  double e_half = between(halves), e_third = between(thirds);
  Reciprocal other;
  if ((e_half > 0.1 * all || e_third > 0.1 * all) && find_known && find_known(other)) {
    known.push_back(other);  // a twisted layer's spots may sit there; they do not make a super-cell
    e_half = between(halves), e_third = between(thirds);
  }
  if (e_half > 0.1 * all) cell_error(2, "spots halfway between the lattice points (the lattice is twice as large)");
  if (e_third > 0.1 * all) cell_error(kSqrt3, "spots at thirds between the lattice points (the lattice is larger)");
}

/// The canonical a1, a2 of the found lattice (MX2: the hexagon rule; 1T'': the motif) and the
/// numbers derived from them.
void choose_canonical(const Spectrum& spectrum, const SearchPlan& plan, const LatticeOptions& options, const Expected& expected,
                      const RefinedLattice& bottom, FoundLattice& out) {
  double real1[2], real2[2], shortest[3][2];
  bottom.lattice.real_basis(real1, real2);
  lattice::short_vectors(real1, real2, shortest);
  if (expected.cell.triclinic) {
    const auto ranked = lattice::rank_motif_assignments(spectrum, shortest, expected.cell, std::min(0.45, 5 * plan.g),
                                                       options.layers > 0 ? options.layers : 3);
    const auto& best = ranked.front();
    std::copy(best.a1, best.a1 + 2, out.a1_px), std::copy(best.a2, best.a2 + 2, out.a2_px);
    out.mirrored = best.mirrored;
    out.motif_score = best.score;
    out.motif_margin = ranked.size() > 1 ? best.score - ranked[1].score : best.score;
  } else {
    lattice::canonical_hexagon(shortest, out.a1_px, out.a2_px);
  }
  for (int c = 0; c < 2; ++c) out.a1_A[c] = out.a1_px[c] * options.pixel_A, out.a2_A[c] = out.a2_px[c] * options.pixel_A;
  out.angle_deg = angle_deg(out.a1_px);
  out.anisotropy = lattice::singular_value_ratio(canonical_frame(out, expected.name).m);
  out.quality = quality_dB(bottom);
  out.spots = int(bottom.spots.size());
  out.residual_bins = bottom.rms_bins;
}

/// find_lattice on a spectrum already computed (estimate_pixel_size tries many pixel sizes on one);
/// `check_scale` false returns the lattice whatever its scale (estimate_pixel_size wants the scale).
FoundLattice find_lattice_in(const Spectrum& spectrum, const LatticeOptions& options, const Expected& expected, bool check_scale = true) {
  const SearchPlan plan = plan_search(spectrum, options, expected);
  RefinedLattice bottom, top;
  const double evidence = best_lattice(spectrum, plan, options, expected, bottom);
  if (evidence <= 0) throw_no_lattice(spectrum, options, expected, "no such lattice");
  const bool has_top = options.twisted && second_lattice(spectrum, plan, bottom, evidence, top);
  if (has_top) {  // the bottom lattice again, without the spots it shares with the top one
    RefinedLattice again;
    if (lattice::refine_lattice(spectrum, bottom.lattice, plan.fit_radius, 0.02, again, {top.lattice})) bottom = again;
  }

  // Most of the spectrum's spot power must be the lattice's (both lattices' when twisted).
  std::vector<Reciprocal> found = {bottom.lattice};
  if (has_top) found.push_back(top.lattice);
  const double near_bins = std::min(3.0, 0.3 * plan.g * double(std::max(spectrum.height(), spectrum.width())));  // inside the spot spacing
  const double explained = lattice::explained_power(spectrum, found, plan.coarse_radius, near_bins);
  if (explained < 0.5)
    throw_no_lattice(spectrum, options, expected,
                     "only a weak lattice near it (its spots hold " + fixed(100 * explained, 0) + " % of the spectrum's spot power)");
  check_cell(spectrum, plan, options, expected, bottom.lattice, has_top ? std::vector<Reciprocal>{top.lattice} : std::vector<Reciprocal>{},
             [&](Reciprocal& other) {
               RefinedLattice r;
               if (has_top || !second_lattice(spectrum, plan, bottom, evidence, r)) return false;
               other = r.lattice;
               return true;
             });

  FoundLattice out;
  out.material = expected.name;
  out.scale = std::sqrt(bottom.lattice.cell_area_px() * options.pixel_A * options.pixel_A / expected.area_A2);
  out.fitting_pixel_A = options.pixel_A / out.scale;
  if (check_scale && std::abs(out.scale - 1) > options.tolerance)
    throw InputError(expectation(options, expected) + ", found " + fixed(out.scale * expected.a_eff_A, 3) + " A (" +
                     fixed(a_eff_px(bottom.lattice), 2) + " px, " + fixed(100 * (out.scale - 1), 1) + " %): a pixel size of " +
                     str::number(out.fitting_pixel_A) + " A would fit (calibration or material wrong?)");
  choose_canonical(spectrum, plan, options, expected, bottom, out);
  if (has_top) {
    out.has_second = true;
    lattice::canonical_hexagon(top.lattice, out.second_a1_px, out.second_a2_px);
    out.second_angle_deg = angle_deg(out.second_a1_px);
    out.twist_deg = modulo_deg(out.second_angle_deg - out.angle_deg, 60);
    out.twist_folded_deg = std::min(out.twist_deg, 60 - out.twist_deg);
  }
  return out;
}

}  // namespace

FoundLattice find_lattice(const float* image, std::int64_t height, std::int64_t width, const LatticeOptions& options) {
  const Expected expected = expected_lattice(options);
  validate(options, height, width, expected);
  return find_lattice_in(central_spectrum(image, height, width), options, expected);
}

double estimate_pixel_size(const float* image, std::int64_t height, std::int64_t width, const std::string& material) {
  LatticeOptions o;
  o.material = material;
  o.pixel_A = 1;
  const Expected expected = expected_lattice(o);
  validate(o, height, width, expected);
  const Spectrum spectrum = central_spectrum(image, height, width);
  Reciprocal any;
  if (!strongest_lattice(spectrum, any))
    throw InputError("lattice finder: " + expected.name + " without a calibration: expected a lattice in the image, found none");
  // The strongest lattice need not be the material's (a 1T'' image's Re sublattice, a twisted pair,
  // a lattice whose first-order spots are weak): try pixel sizes from that guess outwards, in steps
  // of 1.3 that the search's +-35 % window covers, and keep the first the checks accept.
  const double guess = expected.a_eff_A / a_eff_px(any);
  std::string first_error;
  for (int step = 0; step <= 18; ++step) {
    const int k = (step + 1) / 2 * (step % 2 ? 1 : -1);
    o.pixel_A = guess * std::pow(1.3, k);
    if (expected.a_eff_A / o.pixel_A < 3 || expected.a_eff_A / o.pixel_A > 0.25 * spectrum.min_size()) continue;
    try {
      return find_lattice_in(spectrum, o, expected, false).fitting_pixel_A;
    } catch (const InputError& e) {
      if (first_error.empty()) first_error = e.what();
    }
  }
  throw InputError("lattice finder: " + expected.name + " without a calibration: expected its lattice at some pixel size, found none (" +
                   first_error + ")");
}

std::string FoundLattice::describe() const {
  auto length = [](const double v[2]) { return std::hypot(v[0], v[1]); };
  std::ostringstream s;
  s << material << " lattice: a1 = " << fixed(length(a1_A), 4) << " A at " << fixed(angle_deg, 2) << " deg, a2 = " << fixed(length(a2_A), 4)
    << " A at " << fixed(units::rad_to_deg(std::atan2(a2_px[1], a2_px[0])), 2) << " deg; scale " << fixed(scale, 4) << " (pixel size "
    << str::number(fitting_pixel_A) << " A fits); " << spots << " spots, rms " << fixed(residual_bins, 3) << " bins, quality "
    << fixed(quality, 1) << " dB";
  if (anisotropy > 1.005) s << "; anisotropy " << fixed(anisotropy, 3);
  if (motif_score != 0) s << "; motif " << fixed(motif_score, 3) << " (lead " << fixed(motif_margin, 3) << ")" << (mirrored ? ", mirrored" : "");
  if (has_second)
    s << "; second lattice at " << fixed(second_angle_deg, 2) << " deg: twist " << fixed(twist_deg, 2) << " deg (or "
      << fixed(60 - twist_deg, 2) << ": the spectrum does not tell)";
  return s.str();
}

CanonicalFrame canonical_frame(const FoundLattice& lattice, const std::string& material) {
  const sim::LayerCell cell = sim::layer_cell(material);
  // M = P C^-1 with P = [a1_px a2_px], C = [a1c a2c] (columns).
  const double det = cell.a1[0] * cell.a2[1] - cell.a2[0] * cell.a1[1];
  const double ci[2][2] = {{cell.a2[1] / det, -cell.a2[0] / det}, {-cell.a1[1] / det, cell.a1[0] / det}};
  const double p[2][2] = {{lattice.a1_px[0], lattice.a2_px[0]}, {lattice.a1_px[1], lattice.a2_px[1]}};
  CanonicalFrame f;
  for (int r = 0; r < 2; ++r)
    for (int c = 0; c < 2; ++c) f.m[r][c] = p[r][0] * ci[0][c] + p[r][1] * ci[1][c];
  return f;
}

}  // namespace tmdflow::analysis

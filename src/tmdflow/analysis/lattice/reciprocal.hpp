#pragma once
// A 2-D lattice as the spectrum sees it, g = h b1 + k b2 (cycles per pixel, (fx, fy)), and the
// searches over the spectrum that find one: a coarse search of hexagonal lattices over orientation
// and scale scored by the spots they hit, then a least-squares fit of the general (affine) lattice
// to the refined spot positions.
#include <functional>
#include <vector>

#include "tmdflow/analysis/lattice/spectrum.hpp"

namespace tmdflow::analysis::lattice {

struct Reciprocal {
  double b1[2] = {0, 0}, b2[2] = {0, 0};
  void point(int h, int k, double g[2]) const { g[0] = h * b1[0] + k * b2[0], g[1] = h * b1[1] + k * b2[1]; }
  /// Real-space basis (pixels) dual to b1, b2: a_i . b_j = delta_ij.
  void real_basis(double a1[2], double a2[2]) const;
  static Reciprocal dual_of(const double a1[2], const double a2[2]);
  double cell_area_px() const;  // area of the real-space cell (pixels^2)
};

/// The hexagonal reciprocal lattice with |b1| = |b2| = g, b1 at angle theta (radians), b2 at theta + 60 deg.
Reciprocal hexagon(double g, double theta);

/// What a lattice point scores: its evidence above chance (the lattice searches), its plain evidence,
/// or only the evidence of a genuine spot there (Spectrum::spot_evidence_at: where spots are).
enum class Score { above_chance, plain, spots };

/// Sum of the scores of the lattice points within max_radius (cycles per pixel) over the half plane
/// (g and -g counted once), for the points `keep(h, k)` accepts (all when empty); a point within
/// 1.5 bins of a point of an `exclude` lattice counts 0, and so does, with Score::spots, a point whose
/// spot (the peak it takes, up to 1.5 bins away) is within 1.5 bins of one: a spot belongs to the
/// lattice it sits on, not to a point of a finer lattice that passes 2-3 bins from it (a twisted
/// layer's spots near the half or third points of the other layer's lattice).
double lattice_evidence(const Spectrum& spectrum, const Reciprocal& lattice, double max_radius, Score score,
                        const std::vector<Reciprocal>& exclude = {}, const std::function<bool(int, int)>& keep = {});

/// Fraction of the spectrum's spot power (power above the background, in bins with snr > 10, out
/// to max_radius cycles per pixel) that lies within `near_bins` of a point of one of the lattices:
/// how much of the image's periodic content they explain. Power rather than counted peaks, so that
/// a spot smeared by drift or ringing (a lattice over part of the field) counts once.
double explained_power(const Spectrum& spectrum, const std::vector<Reciprocal>& lattices, double max_radius, double near_bins);

struct HexagonSearch {
  double g = 0;                     // first-order spot radius of the expected lattice (cycles per pixel)
  double scale_lo = 0.75, scale_hi = 1.35;  // real-space scale range searched (1 = expected)
  double max_radius = 0;            // lattice points scored up to this radius (cycles per pixel)
};
struct HexagonCandidate {
  Reciprocal lattice;
  double theta = 0, scale = 1, evidence = 0;
};
/// The hexagonal lattice of largest evidence over orientation [0, 60) deg and the scale range,
/// sampled finely enough that every scored spot is predicted within about a bin.
HexagonCandidate search_hexagon(const Spectrum& spectrum, const HexagonSearch& search, const std::vector<Reciprocal>& exclude = {});

struct RefinedLattice {
  Reciprocal lattice;
  std::vector<Spot> spots;          // the spots the fit used (half plane)
  std::vector<int> h, k;            // their indices
  double rms_bins = 0;              // rms residual of the fit (bins)
};
/// Fits the general lattice (b1, b2 free: rotation, scale, shear, non-square pixels) to the refined
/// positions of its spots by weighted least squares, starting from `start` (indices kept). The first
/// pass looks for spots within `first_search_fraction` of their radius (distortions of the start),
/// later passes within 1.5 bins of the fitted prediction, out to max_radius (cycles per pixel).
/// Returns false when fewer than three spots of two independent directions are found. Points within
/// 2 bins of a point of an `exclude` lattice are left out: there the two lattices' spots blend into
/// one peak between them (a twisted bilayer near a coincidence angle), which would pull the fit.
bool refine_lattice(const Spectrum& spectrum, const Reciprocal& start, double max_radius, double first_search_fraction,
                    RefinedLattice& out, const std::vector<Reciprocal>& exclude = {});

/// The lattice that indexes most of the given spots' evidence (each within `tolerance_bins` of a
/// lattice point), among the lattices spanned by pairs of them: knows nothing of the material, so it
/// is what a wrong calibration is measured against. False when no two spots span two directions.
bool primitive_lattice(const std::vector<Spot>& spots, int height, int width, double tolerance_bins, Reciprocal& out);

/// Gauss-Lagrange reduction of a 2-D basis (shortest vectors, |a1| <= |a2|, angle in [60, 120] deg
/// for a hexagonal lattice), and the third short vector a1 - a2 or a1 + a2, whichever is shorter.
void reduce_basis(double a1[2], double a2[2]);
void short_vectors(const double a1[2], const double a2[2], double out[3][2]);

}  // namespace tmdflow::analysis::lattice

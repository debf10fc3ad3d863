#pragma once
// Rotation-aware features of nanobeam diffraction patterns of hexagonal monolayers (MX2):
// the central-beam position (with a smooth descan field over the scan), polar profiles of the
// first {100} and second {110} rings (and the {200} ring when it fits on the detector) about the
// corrected centre, the six first-order spot intensities and the Friedel-triplet asymmetry.
// Conventions: data_schema/domains.md.
//
// A pattern's x is its last axis (Qy, column), y the one before (Qx, row); an azimuth is
// atan2(dy, dx) in degrees; azimuth bin k of n covers [k, k+1) * 360/n, its centre (k + 0.5) * 360/n.
#include <array>
#include <string>
#include <vector>

#include "tmdflow/io/pattern_pass.hpp"

namespace tmdflow::analysis {

/// Geometry shared by every pattern: the rings and the central disc, in detector pixels.
/// Ring 0 is {100}, ring 1 {110} and ring 2, present when `rings` is 3, {200} at twice the {100}
/// radius: its spots share the {100} azimuths and carry Friedel-triplet evidence of their own.
struct DiffractionGeometry {
  static constexpr int kMaxRings = 3;
  double centre_x = 0, centre_y = 0;   // mean pattern's central-beam centre (column, row)
  double disc_radius = 0;              // central disc radius
  int rings = 2;                       // 2, or 3 with the {200} ring
  double ring_radius[kMaxRings] = {0, 0, 0};  // {100}, {110} and {200} ring radii
  double ring_halfwidth = 0;           // radial half-width of the sampled band
  int azimuth_bins = 360;
  double radial_step = 0.5;            // radial sampling step of the polar transform (pixels)
  double spot_halfwidth_deg = 8;       // azimuthal half-width of a first-order spot window
  /// Detector pixels per polar sample of ring r: converts summed samples to electrons.
  double sample_area(int ring) const;
  int radial_samples() const;
  /// Outermost radius a sample of ring r reaches (pixels from the centre, bilinear neighbour included).
  double reach(int ring) const;
  /// Azimuthal half-width of a spot window on ring r (0 or 2): the same arc length as on ring 0.
  double spot_halfwidth(int ring) const;
  /// Adds the {200} ring at 2 r100 (rings = 3) when it fits on a rows x cols detector about the centre.
  void add_second_order_ring(std::int64_t rows, std::int64_t cols);
};

/// Azimuthal half-width (degrees) of a spot window on a ring of radius r that spans the same arc
/// length as a window of halfwidth0_deg on the ring of radius r0.
inline double spot_halfwidth_at(double halfwidth0_deg, double r0, double r) { return halfwidth0_deg * r0 / r; }

/// Finds the disc and the rings from the mean pattern: the {100} ring is the strongest peak of the
/// background-subtracted radial profile beyond twice the disc radius, the {110} ring the strongest
/// within 8% of sqrt(3) times it, the {200} ring at exactly twice the {100} radius when it fits.
/// Throws InputError (naming `where`) when no ring stands out or the {110} ring does not fit.
DiffractionGeometry find_geometry(const std::vector<float>& mean_pattern, std::int64_t rows, std::int64_t cols,
                                  const std::string& where);

/// Smooth descan field: centre(x, y) = polynomial of total degree `order` (0..3) in the scan
/// coordinates (column j, row i) scaled to [-1, 1], fitted by least squares with outliers beyond
/// 4 median absolute deviations dropped once. The order is lowered until there are at least four
/// samples per polynomial term.
struct DescanField {
  int order = 2;
  std::int64_t rows = 1, cols = 1;
  std::vector<double> coef_x, coef_y;
  void centre(std::int64_t i, std::int64_t j, double& x, double& y) const;
  static int terms(int order) { return (order + 1) * (order + 2) / 2; }
};
DescanField fit_descan(const std::vector<std::int64_t>& index, const std::vector<double>& cx, const std::vector<double>& cy,
                       std::int64_t rows, std::int64_t cols, int order);

/// Central-beam centre of one pattern by centre of mass in shrinking windows (radius `coarse`
/// about the start, then 2.5 disc radii about the estimate, twice).
template <class T>
KOKKOS_INLINE_FUNCTION void measure_centre(const T* p, int rows, int cols, double x0, double y0, double coarse, double fine,
                                           double& cx, double& cy) {
  cx = x0;
  cy = y0;
  for (int pass = 0; pass < 3; ++pass) {
    const double r = pass == 0 ? coarse : fine;
    const int i0 = int(cy - r) < 0 ? 0 : int(cy - r), i1 = int(cy + r) + 1 > rows - 1 ? rows - 1 : int(cy + r) + 1;
    const int j0 = int(cx - r) < 0 ? 0 : int(cx - r), j1 = int(cx + r) + 1 > cols - 1 ? cols - 1 : int(cx + r) + 1;
    double s = 0, sx = 0, sy = 0;
    for (int i = i0; i <= i1; ++i)
      for (int j = j0; j <= j1; ++j) {
        const double dx = j - cx, dy = i - cy;
        if (dx * dx + dy * dy >= r * r) continue;
        const double v = double(p[i * cols + j]);
        s += v;
        sx += v * j;
        sy += v * i;
      }
    if (!(s > 0)) return;
    cx = sx / s;
    cy = sy / s;
  }
}

/// Per-pattern features of this rank's shard; nav outputs are indexed by local pattern index.
struct PatternFeatures {
  std::int64_t count = 0;
  int bins = 360;
  int rings = 2;
  // (n, rings, bins) electrons, background removed, >= 0; a pattern whose {200} ring leaves the
  // detector (descan) has a ring-2 profile of zeros.
  Kokkos::View<float***, Kokkos::LayoutRight, io::MemSpace> profiles;
  Kokkos::View<float**, Kokkos::LayoutRight, io::MemSpace> spots;      // (n, 6) {100} spot electrons from the twist
  Kokkos::View<float**, Kokkos::LayoutRight, io::MemSpace> background; // (n, rings) electrons per azimuth bin
  Kokkos::View<float*, io::MemSpace> twist_deg, asymmetry, centre_x, centre_y, measured_x, measured_y, total;
};

/// The single pass: measures each pattern's centre, samples the rings about the descan-field
/// centre, removes the background (mean of the profile bins below the profile mean), and derives
/// the twist (phase of the six-fold harmonic of both rings) and the spot intensities.
class DiffractionFeatures : public io::PatternAnalysis {
 public:
  DiffractionFeatures(DiffractionGeometry geometry, DescanField descan) : geometry_(geometry), descan_(std::move(descan)) {}
  void prepare(const io::DatacubeMeta& meta, const io::Shard& shard) override;
  void process(const io::PatternBlock& block) override;
  void merge(const par::Comm&) override {}
  const PatternFeatures& features() const { return features_; }
  const DiffractionGeometry& geometry() const { return geometry_; }

 private:
  template <class T>
  void process_typed(const io::PatternBlock& block);
  DiffractionGeometry geometry_;
  DescanField descan_;
  std::int64_t ry_ = 1;
  PatternFeatures features_;
  Kokkos::View<float**, Kokkos::LayoutRight, io::MemSpace> offset_x_, offset_y_, weight_;
  Kokkos::View<double**, Kokkos::LayoutRight, io::MemSpace> harmonic_;
  // Integer patterns of a block as float (exact), converted once per block rather than four times
  // per bilinear sample.
  Kokkos::View<float**, Kokkos::LayoutRight, io::MemSpace> converted_;
};

/// The pass's features of one pattern (host data, rows x cols) about the centre (cx, cy).
struct SinglePatternFeatures {
  double twist_deg = 0, asymmetry = 0, measured_x = 0, measured_y = 0;
  double asymmetry_200 = 0;  // Friedel-triplet asymmetry of the {200} spots (0 without that ring)
};
SinglePatternFeatures features_of_pattern(const std::vector<float>& pattern, std::int64_t rows, std::int64_t cols,
                                          const DiffractionGeometry& g, double cx, double cy);

/// Twist (degrees, [0, 60)) of a pair of ring profiles from the six-fold harmonic: first-order
/// spots at t + 60 n on ring 0, second-order at t + 30 + 60 n on ring 1.
double twist_from_profiles(const float* ring0, const float* ring1, int bins);
/// Sum of a profile within +-halfwidth degrees of angles t + 60 n (n = 0..5).
std::array<double, 6> spot_sums(const float* ring0, int bins, double twist_deg, double halfwidth_deg);
/// Friedel-triplet asymmetry (S0 + S2 + S4 - S1 - S3 - S5) / sum of the spots at t + 60 n.
double triplet_asymmetry(const std::array<double, 6>& s);

/// Central-beam centres of up to `max_patterns` patterns spread evenly over the scan (collective):
/// global pattern indices and centres, on every rank.
void sampled_centres(const par::Comm& comm, const io::DatacubeReader& reader, const DiffractionGeometry& g,
                     std::int64_t max_patterns, std::vector<std::int64_t>& index, std::vector<double>& cx,
                     std::vector<double>& cy);

}  // namespace tmdflow::analysis

#pragma once
// Twist domains and polarity of a monolayer from per-pattern diffraction features
// (data_schema/domains.md):
//  1. rotation-aware features: each ring profile folded modulo 60 degrees (six-fold), normalised;
//  2. NMF of all patterns (distributed), number of components from the Marchenko-Pastur rank of PCA;
//  3. k-means (or a Gaussian mixture) of the normalised loadings into more clusters than domains;
//  4. hierarchical merging of the cluster signatures by azimuthal cross-correlation: clusters whose
//     best rotation is within merge_deg are one twist;
//  5. a Potts (ICM) relabelling of the twist classes on the scan grid: a pattern joins the class whose
//     mean profile explains its counts best (multinomial log-likelihood) plus beta per agreeing neighbour;
//     classes with almost no interior patterns (boundary mixtures) are dropped and the rest relabelled;
//  6. polarity inside each twist class from the Friedel-triplet evidence of every pattern,
//     sum over the {100} (and {200}) spots of log((1+a)/(1-a)) (S+ - S-), with a Potts prior solved
//     exactly by a minimum cut;
//  7. orientation: twist of each class from its mean profile (spot centroids), refined per pattern by
//     the spatially smoothed deviation of the pattern's own six-fold phase.
// Angles are found in the detector frame and turned into the scan frame by DetectorFrame.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "tmdflow/cluster/matrix.hpp"
#include "tmdflow/cluster/nmf.hpp"
#include "tmdflow/par/comm.hpp"

namespace tmdflow::analysis {

/// The detector as seen from the scan: a direction at angle a on the detector is at
/// rotation_deg + (flip ? 90 - a : a) in the scan frame (flip = Qx and Qy transposed).
/// calibration_sign: sign of the {100} triplet asymmetry of polarity +1 (from a multislice simulation);
/// calibration_sign_200: that of the {200} triplet (0: the {200} ring is not used).
struct DetectorFrame {
  double rotation_deg = 0;
  bool flip = false;
  int calibration_sign = 1;
  int calibration_sign_200 = 0;
  /// Both signs from the triplet asymmetries of a simulated polarity +1 pattern; the {200} sign only
  /// when the features have that ring (rings > 2) and |asymmetry_200| >= 0.005 (a smaller simulated
  /// asymmetry would be a guess, not a calibration).
  void calibrate(double asymmetry, double asymmetry_200, int rings);
  double to_scan(double detector_deg) const { return rotation_deg + (flip ? 90.0 - detector_deg : detector_deg); }
};

struct DomainSpec {
  int components = 0;              // NMF components; 0: Marchenko-Pastur rank + 1, in [2, 24]
  cluster::NmfSolver solver = cluster::NmfSolver::hals;
  int nmf_iterations = 80;
  std::string clustering = "kmeans";  // kmeans or gmm
  int clusters = 0;                // 0: twice the components (at most 32)
  double merge_deg = 1.0;          // signatures closer than this in rotation are one twist
  std::int64_t min_interior_patterns = 4;  // a twist class needs this many patterns with all 8 neighbours in it
  double twist_beta = 1.0;         // Potts weight per neighbour (nats) of the twist relabelling
  double polarity_beta = 1.1;      // Potts cost per disagreeing neighbour pair of the polarity cut, in units of
                                   // the noise (sd, nats) of one pattern's Friedel evidence
  double smoothing_px = 1.0;       // Gaussian sigma of the per-pattern orientation refinement
  double min_signal_fraction = 0.05;  // patterns with less ring signal than this x median: undetermined
  std::uint64_t seed = 1;
};

/// This rank's rows of the features (host arrays, local pattern order).
struct DomainInput {
  std::int64_t rx = 0, ry = 0, first = 0, count = 0;
  int bins = 360;
  double spot_halfwidth_deg = 8;     // {100} spot window
  const float* profiles = nullptr;   // count x rings x bins: {100}, {110} (and {200})
  const float* twist_deg = nullptr;  // count, detector frame
  const float* signal = nullptr;     // count
  int rings = 2;
  double spot_halfwidth_200_deg = 4; // {200} spot window (rings = 3)
};

struct DomainSummary {
  std::int64_t patterns = 0;
  double orientation_deg = 0, twist_deg = 0;  // scan frame
  int polarity = 0;
  double asymmetry = 0;                       // {100} triplet asymmetry of the domain's patterns (detector frame, from its twist)
  double asymmetry_200 = 0;                   // the same of the {200} spots (0 without that ring)
  double twist_detector_deg = 0;
  std::array<double, 6> spot_angles_deg{};    // fitted first-order spot angles, detector frame
  int twist_class = 0;
};

struct DomainResult {
  // Whole-scan maps (every rank), row-major Rx x Ry.
  std::vector<std::int32_t> label;
  std::vector<float> orientation_deg, twist_deg, confidence;
  std::vector<std::int8_t> polarity;
  std::vector<DomainSummary> domains;
  // Decomposition and clustering.
  cluster::Matrix components;  // NMF H (k x folded features)
  cluster::Matrix loadings;    // NMF W of this rank's patterns
  std::vector<double> nmf_error, pca_eigenvalues;
  int marchenko_pastur_rank = 0, clusters = 0, twist_classes = 0;
  double polarity_evidence_noise = 0;  // sd (nats) of one pattern's Friedel evidence (Poisson)
  double polarity_information_200 = 0; // share of the Friedel evidence's Fisher information from the {200} spots
  std::vector<int> cluster_to_twist;
  std::vector<float> cluster_signatures;  // clusters x folded features
};

DomainResult find_domains(const par::Comm& comm, const DomainInput& in, const DomainSpec& spec, const DetectorFrame& frame);

/// Exact minimiser of a binary Potts energy sum_i -e_i p_i + beta sum_{i~j} [p_i != p_j] (p = +-1)
/// over a graph given by `edges` (pairs of node indices), by a minimum s-t cut (Dinic's max-flow).
std::vector<std::int8_t> binary_potts_cut(const std::vector<double>& evidence, const std::vector<std::pair<int, int>>& edges, double beta);

}  // namespace tmdflow::analysis

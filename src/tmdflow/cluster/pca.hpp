#pragma once
// Principal component analysis of row-sharded data from the allreduced d x d covariance
// (LAPACK dsyevd), and the Marchenko-Pastur rank of its spectrum.
#include <cstdint>
#include <vector>

#include "tmdflow/cluster/matrix.hpp"

namespace tmdflow::cluster {

struct PcaResult {
  std::vector<double> mean;         // d
  std::vector<double> eigenvalues;  // all d, descending, of the covariance (divided by N - 1)
  Matrix components;                // keep x d, unit rows; the entry of largest |value| of each row is > 0
  Matrix scores;                    // n_local x keep: (x - mean) projected on the components
};

/// Collective. Needs N >= 2 rows over all ranks and 0 <= keep <= d (ConfigError otherwise).
PcaResult pca(const par::Comm& comm, const Matrix& x_local, int keep);

/// Number of covariance eigenvalues above the Marchenko-Pastur upper edge of the noise bulk
/// (Marchenko & Pastur 1967), with the noise level estimated from the median eigenvalue as in
/// Gavish & Donoho (2014):
///   m = min(n, d) eigenvalues (the others are 0), beta = m / max(n, d),
///   s = 1 when d <= n, else d / n (the bulk of a wide matrix is scaled by d / n),
///   sigma^2 = median(largest m eigenvalues) / (s * mu_beta),
///   edge = sigma^2 * (1 + sqrt(d / n))^2,
/// with mu_beta the median of the Marchenko-Pastur law of ratio beta and unit variance,
/// found by integrating its density sqrt((b - x)(x - a)) / (2 pi beta x) on [a, b],
/// a = (1 - sqrt(beta))^2, b = (1 + sqrt(beta))^2. The median is robust to a few signal
/// eigenvalues as long as the rank is well below m / 2. `eigenvalues` need not be sorted.
int marchenko_pastur_rank(const std::vector<double>& eigenvalues, std::int64_t n, std::int64_t d);

/// Median of the Marchenko-Pastur law of aspect ratio 0 < beta <= 1 with unit variance.
double marchenko_pastur_median(double beta);

}  // namespace tmdflow::cluster

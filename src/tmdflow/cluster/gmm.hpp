#pragma once
// Gaussian mixture of row-sharded data by expectation-maximisation (Dempster, Laird & Rubin 1977):
// responsibilities stay with their rows, the sufficient statistics (per-component weights, sums
// and centred scatter matrices) are allreduced. Meant for few dimensions (d <= 64, e.g. NMF
// loadings) and few components (K <= 64).
#include <cstdint>
#include <vector>

#include "tmdflow/cluster/matrix.hpp"

namespace tmdflow::cluster {

enum class Covariance { full, diagonal };

struct GmmSpec {
  int components = 8;
  Covariance covariance = Covariance::full;
  int max_iterations = 100;
  /// Stop when the mean log-likelihood per row changes by less than this between iterations.
  double tolerance = 1e-4;
  /// Added to the diagonal of every covariance (keeps them positive definite).
  double reg_covar = 1e-6;
  /// Seed of the k-means that initialises the fit.
  std::uint64_t seed = 1;
};

struct GmmResult {
  std::vector<double> weights;                   // K, summing to 1
  Matrix means;                                  // K x d
  std::vector<std::vector<double>> covariances;  // K of d x d row-major (full) or d (diagonal)
  Matrix responsibilities;                       // n_local x K
  Labels labels;                                 // n_local: most responsible component (lowest index on ties)
  double log_likelihood = 0;                     // mean per row, over all ranks
  double bic = 0;                                // -2 N log_likelihood + parameters * ln N
  int iterations = 0;                            // E-steps done; the last one gives responsibilities
};

/// Collective. Init: k-means (same seed) labels as one-hot responsibilities, then an M-step.
/// E-steps use the Cholesky factors of the precisions and log-sum-exp, as scikit-learn does.
/// Throws ConfigError for a spec out of range, Error when a covariance is not positive definite.
GmmResult gmm(const par::Comm& comm, const Matrix& x_local, std::int64_t first_row, std::int64_t total_rows,
              const GmmSpec& spec);

/// Fits K = kmin..kmax components (the rest of `spec` unchanged) and returns the fit with the
/// lowest BIC (Schwarz 1978); the smaller K wins a tie.
GmmResult gmm_select(const par::Comm& comm, const Matrix& x_local, std::int64_t first_row, std::int64_t total_rows,
                     GmmSpec spec, int kmin, int kmax);

}  // namespace tmdflow::cluster

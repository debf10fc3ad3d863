#pragma once
// Non-negative matrix factorisation X ~ W H of row-sharded data: W (loadings) stays with its rows,
// H (components) is replicated and updated from allreduced k x d and k x k sums.
#include <cstdint>
#include <vector>

#include "tmdflow/cluster/matrix.hpp"

namespace tmdflow::cluster {

enum class NmfSolver {
  multiplicative,  // Lee & Seung (2001), multiplicative updates of the Frobenius loss
  hals,            // hierarchical alternating least squares (Cichocki & Phan 2009; Gillis 2014)
};

struct NmfSpec {
  int components = 8;
  NmfSolver solver = NmfSolver::hals;
  int max_iterations = 200;
  /// Stop when |e(t-1) - e(t)| < tolerance * e(t-1), e the relative error; 0 runs every iteration.
  double tolerance = 1e-4;
  std::uint64_t seed = 1;
};

struct NmfResult {
  Matrix loadings;    // W, n_local x k
  Matrix components;  // H, k x d, identical on all ranks
  int iterations = 0;
  /// Global ||X - W H||_F / ||X||_F after each iteration (computed from reduced traces).
  std::vector<double> relative_error;
};

/// Factorises the rows of all ranks (collective). `first_row` is the global index of this rank's
/// first row; it keys the random initial W so that the result does not depend on the rank count.
/// Initial H: `initial_components` (k x d) when given, else uniform in [0, 1) times
/// sqrt(mean(X) / k) (the scale of scikit-learn's 'random' init); W likewise per global row, then,
/// when H was given, fitted to it by 10 local HALS sweeps (for either solver).
/// Throws ConfigError when X has a negative entry or the spec is out of range.
NmfResult nmf(const par::Comm& comm, const Matrix& x_local, std::int64_t first_row, const NmfSpec& spec,
              const Matrix* initial_components = nullptr);

}  // namespace tmdflow::cluster

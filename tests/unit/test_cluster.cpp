// The cluster layer on one rank (kernels, NMF, PCA): each shared kernel against a naive host loop
// on odd sizes (not multiples of the 8 lanes, the 4-row tiles or the 64-row chunks), then each
// algorithm on data whose answer is known by construction. k-means, GMM and hierarchical
// clustering are in test_cluster_partitions.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "common/cluster_data.hpp"
#include "tmdflow/cluster/nmf.hpp"
#include "tmdflow/cluster/pca.hpp"
#include "tmdflow/core/error.hpp"

namespace cl = tmdflow::cluster;
using cl::Matrix;

using namespace tmdflow::testing::cluster_data;

// --- kernels ------------------------------------------------------------------------------

TEST(ClusterKernels, MultiplyTransposedMatchesNaiveLoop) {
  for (auto [n, m, d] : {std::array<int, 3>{37, 7, 29}, {5, 1, 8}, {3, 6, 3}, {11, 32, 101}}) {
    const auto a = uniform_values(std::size_t(n * d), 1), b = uniform_values(std::size_t(m * d), 2);
    Matrix out("out", n, m);
    cl::multiply_transposed(cl::to_matrix(a, n, d, "a"), cl::to_matrix(b, m, d, "b"), out);
    const auto got = cl::to_host(out);
    for (int i = 0; i < n; ++i)
      for (int c = 0; c < m; ++c) {
        double want = 0;
        for (int j = 0; j < d; ++j) want += double(a[std::size_t(i * d + j)]) * b[std::size_t(c * d + j)];
        ASSERT_NEAR(got[std::size_t(i * m + c)], want, 1e-5 * d) << n << "x" << m << "x" << d << " at " << i << "," << c;
      }
  }
}

TEST(ClusterKernels, TransposedMultiplyAndGramMatchNaiveLoops) {
  const int n = 201, k = 6, d = 19;
  const auto a = uniform_values(std::size_t(n * k), 3), b = uniform_values(std::size_t(n * d), 4, 0, 2);
  const auto got = cl::to_host(cl::transposed_multiply(self(), cl::to_matrix(a, n, k, "a"), cl::to_matrix(b, n, d, "b")));
  for (int c = 0; c < k; ++c)
    for (int j = 0; j < d; ++j) {
      double want = 0;
      for (int i = 0; i < n; ++i) want += double(a[std::size_t(i * k + c)]) * b[std::size_t(i * d + j)];
      ASSERT_NEAR(got[std::size_t(c * d + j)], want, 1e-5 * n);
    }
  const auto shift = uniform_values(std::size_t(d), 5, 0.5, 1.5);
  const auto g = cl::to_host(cl::gram(self(), cl::to_matrix(b, n, d, "b"), shift));
  for (int p = 0; p < d; ++p)
    for (int q = 0; q < d; ++q) {
      double want = 0;
      for (int i = 0; i < n; ++i)
        want += (double(b[std::size_t(i * d + p)]) - shift[std::size_t(p)]) * (double(b[std::size_t(i * d + q)]) - shift[std::size_t(q)]);
      ASSERT_NEAR(g[std::size_t(p * d + q)], want, 1e-5 * n) << p << "," << q;
    }
}

TEST(ClusterKernels, SmallReductionsMatchNaiveLoops) {
  const int n = 13, d = 11;
  const auto x = uniform_values(std::size_t(n * d), 6, -0.7, 2);
  const Matrix xm = cl::to_matrix(x, n, d, "x");
  const auto sums = cl::column_sums(self(), xm);
  const auto norms = cl::row_squared_norms(xm);
  const auto rg = cl::to_host(cl::row_gram(xm));
  double total = 0, smallest = 1e9;
  for (int i = 0; i < n; ++i) {
    double row = 0;
    for (int j = 0; j < d; ++j) {
      const double v = x[std::size_t(i * d + j)];
      row += v * v;
      smallest = std::min(smallest, v);
    }
    total += row;
    EXPECT_NEAR(norms(i), row, 1e-5);
    for (int l = 0; l < n; ++l) {
      double dot = 0;
      for (int j = 0; j < d; ++j) dot += double(x[std::size_t(i * d + j)]) * x[std::size_t(l * d + j)];
      EXPECT_NEAR(rg[std::size_t(i * n + l)], dot, 1e-9);
    }
  }
  for (int j = 0; j < d; ++j) {
    double want = 0;
    for (int i = 0; i < n; ++i) want += x[std::size_t(i * d + j)];
    EXPECT_NEAR(sums[std::size_t(j)], want, 1e-9);
  }
  EXPECT_NEAR(cl::squared_norm(self(), xm), total, 1e-4);
  EXPECT_FLOAT_EQ(cl::global_min(self(), xm), float(smallest));
  EXPECT_EQ(cl::global_rows(self(), xm), n);
  // A rank without rows contributes nothing.
  const Matrix empty("empty", 0, d);
  EXPECT_TRUE(std::isinf(cl::global_min(self(), empty)));
  for (double v : cl::to_host(cl::transposed_multiply(self(), empty, empty))) EXPECT_EQ(v, 0.0);
}

// --- NMF ----------------------------------------------------------------------------------

namespace {
/// X = W0 H0 with non-negative factors, about 20% of their entries 0 (which makes the
/// factorisation essentially unique), and row 4 all zero.
std::vector<float> exact_product(int n, int d, int k) {
  std::vector<float> w = uniform_values(std::size_t(n * k), 7, 0, 1), h = uniform_values(std::size_t(k * d), 8, 0, 1);
  for (std::size_t e = 0; e < w.size(); ++e)
    if (uniform(40, e) < 0.2) w[e] = 0;
  for (std::size_t e = 0; e < h.size(); ++e)
    if (uniform(41, e) < 0.2) h[e] = 0;
  for (int c = 0; c < k; ++c) w[std::size_t(4 * k + c)] = 0;
  std::vector<float> x(std::size_t(n * d), 0.0f);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < d; ++j) {
      double s = 0;
      for (int c = 0; c < k; ++c) s += double(w[std::size_t(i * k + c)]) * h[std::size_t(c * d + j)];
      x[std::size_t(i * d + j)] = float(s);
    }
  return x;
}
int first_below(const std::vector<double>& errors, double level) {
  for (std::size_t t = 0; t < errors.size(); ++t)
    if (errors[t] < level) return int(t) + 1;
  return 1 << 30;
}
}  // namespace

TEST(Nmf, FactorisesAnExactProductWithBothSolvers) {
  const int n = 300, d = 45, k = 3;
  const Matrix x = cl::to_matrix(exact_product(n, d, k), n, d, "x");
  cl::NmfSpec spec;
  spec.components = k;
  spec.tolerance = 0;
  spec.max_iterations = 400;
  const auto hals = cl::nmf(self(), x, 0, spec);
  EXPECT_LT(hals.relative_error.back(), 1e-3);
  spec.solver = cl::NmfSolver::multiplicative;
  spec.max_iterations = 2500;
  const auto mu = cl::nmf(self(), x, 0, spec);
  EXPECT_LT(mu.relative_error.back(), 1e-3);
  ASSERT_EQ(mu.relative_error.size(), 2500u);
  for (std::size_t t = 1; t < mu.relative_error.size(); ++t)
    ASSERT_LE(mu.relative_error[t], mu.relative_error[t - 1]) << "iteration " << t + 1;
  // The traced error is the true residual of the returned factors.
  for (const auto* fit : {&hals, &mu}) {
    const auto w = cl::to_host(fit->loadings), h = cl::to_host(fit->components), xv = cl::to_host(x);
    double r2 = 0, x2 = 0;
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < d; ++j) {
        double wh = 0;
        for (int c = 0; c < k; ++c) wh += double(w[std::size_t(i * k + c)]) * h[std::size_t(c * d + j)];
        r2 += (xv[std::size_t(i * d + j)] - wh) * (xv[std::size_t(i * d + j)] - wh);
        x2 += double(xv[std::size_t(i * d + j)]) * xv[std::size_t(i * d + j)];
      }
    // The trace formula ||X||^2 - 2 tr(W^T X H^T) + tr(W^T W H H^T) carries the float rounding of the
    // per-row products (~1e-7 of ||X||^2): compare squared relative errors to that precision.
    EXPECT_NEAR(fit->relative_error.back() * fit->relative_error.back(), r2 / x2, 1e-6);
    for (float v : w) ASSERT_TRUE(std::isfinite(v) && v >= 0);
    for (int c = 0; c < k; ++c) EXPECT_EQ(w[std::size_t(4 * k + c)], 0.0f) << "the zero row keeps zero loadings";
  }
}

TEST(Nmf, HalsReachesAnErrorInFewerIterationsThanMultiplicative) {
  const int n = 200, d = 37, k = 3;
  const Matrix x = cl::to_matrix(exact_product(n, d, k), n, d, "x");
  cl::NmfSpec spec;
  spec.components = k;
  spec.tolerance = 0;
  spec.max_iterations = 300;
  const auto hals = cl::nmf(self(), x, 0, spec);
  spec.solver = cl::NmfSolver::multiplicative;
  const auto mu = cl::nmf(self(), x, 0, spec);
  const int hals_at = first_below(hals.relative_error, 0.01), mu_at = first_below(mu.relative_error, 0.01);
  EXPECT_LT(hals_at, 300);
  EXPECT_LT(hals_at, mu_at) << "HALS reached 1% at iteration " << hals_at << ", MU at " << mu_at;
}

TEST(Nmf, StopsOnTheRelativeChangeAndUsesInitialComponents) {
  // Uniform noise has no exact factorisation: the error levels off and the rule stops the fit.
  const int n = 120, d = 21;
  const Matrix x = cl::to_matrix(uniform_values(std::size_t(n * d), 10, 0, 1), n, d, "x");
  cl::NmfSpec spec;
  spec.components = 3;
  spec.tolerance = 1e-3;
  const auto fit = cl::nmf(self(), x, 0, spec);
  ASSERT_LT(fit.iterations, spec.max_iterations);
  const auto& e = fit.relative_error;
  ASSERT_EQ(e.size(), std::size_t(fit.iterations));
  EXPECT_LT(std::abs(e[e.size() - 2] - e.back()), 1e-3 * e[e.size() - 2]);
  for (std::size_t t = 1; t + 1 < e.size(); ++t) EXPECT_GE(std::abs(e[t - 1] - e[t]), 1e-3 * e[t - 1]) << t;
  // Starting from the components of that fit, one iteration is as good as the whole fit.
  cl::NmfSpec one = spec;
  one.max_iterations = 1;
  const auto cold = cl::nmf(self(), x, 0, one);
  const auto warm = cl::nmf(self(), x, 0, one, &fit.components);
  EXPECT_LT(warm.relative_error[0], 1.001 * e.back());
  EXPECT_GT(cold.relative_error[0], 1.05 * e.back());
}

TEST(Nmf, RejectsNegativeDataNamingTheMinimum) {
  auto v = uniform_values(40, 9, 0, 1);
  v[17] = -0.5f;
  try {
    cl::nmf(self(), cl::to_matrix(v, 8, 5, "x"), 0, cl::NmfSpec{});
    FAIL() << "negative data accepted";
  } catch (const tmdflow::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("-0.5"), std::string::npos) << e.what();
  }
}

// --- PCA ----------------------------------------------------------------------------------

TEST(Pca, EigenvaluesAndAxesOfAKnownCovariance) {
  // Data with an exactly known sample covariance: orthonormalised (centred) Gaussian columns z_k,
  // scaled by sqrt((n - 1) lambda_k) along orthonormal axes u_k (a rotation mixing all 6 columns).
  const int n = 500, d = 6;
  const std::vector<double> lambda{9, 4, 1, 0.25, 0.04, 0.01}, mean{1, -2, 3, 0.5, 0, 10};
  std::vector<std::vector<double>> z(d, std::vector<double>(n)), u(d, std::vector<double>(d));
  for (int k = 0; k < d; ++k) {
    for (int i = 0; i < n; ++i) z[k][i] = normal(11, std::uint64_t(i), std::uint64_t(k));
    for (int j = 0; j < d; ++j) u[k][j] = normal(12, std::uint64_t(k), std::uint64_t(j));
  }
  auto orthonormalise = [](std::vector<std::vector<double>>& v, bool centre) {
    for (std::size_t k = 0; k < v.size(); ++k) {
      if (centre) {
        double m = 0;
        for (double e : v[k]) m += e;
        for (double& e : v[k]) e -= m / double(v[k].size());
      }
      for (std::size_t l = 0; l < k; ++l) {
        double dot = 0;
        for (std::size_t i = 0; i < v[k].size(); ++i) dot += v[k][i] * v[l][i];
        for (std::size_t i = 0; i < v[k].size(); ++i) v[k][i] -= dot * v[l][i];
      }
      double norm = 0;
      for (double e : v[k]) norm += e * e;
      for (double& e : v[k]) e /= std::sqrt(norm);
    }
  };
  orthonormalise(z, true);
  orthonormalise(u, false);
  std::vector<float> x(std::size_t(n * d));
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < d; ++j) {
      double v = mean[std::size_t(j)];
      for (int k = 0; k < d; ++k) v += std::sqrt((n - 1) * lambda[std::size_t(k)]) * z[k][i] * u[k][j];
      x[std::size_t(i * d + j)] = float(v);
    }
  const auto fit = cl::pca(self(), cl::to_matrix(x, n, d, "x"), 3);
  ASSERT_EQ(fit.eigenvalues.size(), std::size_t(d));
  for (int k = 0; k < d; ++k) EXPECT_NEAR(fit.eigenvalues[std::size_t(k)], lambda[std::size_t(k)], 1e-4 * lambda[0]);
  for (int j = 0; j < d; ++j) EXPECT_NEAR(fit.mean[std::size_t(j)], mean[std::size_t(j)], 1e-5);
  const auto comps = cl::to_host(fit.components), scores = cl::to_host(fit.scores);
  for (int k = 0; k < 3; ++k) {
    double dot = 0, norm = 0;
    for (int j = 0; j < d; ++j) {
      dot += comps[std::size_t(k * d + j)] * u[k][j];
      norm += comps[std::size_t(k * d + j)] * comps[std::size_t(k * d + j)];
    }
    EXPECT_NEAR(norm, 1.0, 1e-6);
    EXPECT_NEAR(std::abs(dot), 1.0, 1e-5) << "component " << k;
    double var = 0;  // the scores of component k have variance lambda_k
    for (int i = 0; i < n; ++i) var += double(scores[std::size_t(i * 3 + k)]) * scores[std::size_t(i * 3 + k)];
    EXPECT_NEAR(var / (n - 1), lambda[std::size_t(k)], 1e-3 * lambda[std::size_t(k)]);
  }
}

TEST(Pca, MarchenkoPasturMedianAndPlantedRank) {
  // Medians of the Marchenko-Pastur law from scipy.integrate.quad and brentq.
  EXPECT_NEAR(cl::marchenko_pastur_median(0.5), 0.8304658815832391, 1e-5);
  EXPECT_NEAR(cl::marchenko_pastur_median(0.1), 0.9665651474028255, 1e-5);
  EXPECT_NEAR(cl::marchenko_pastur_median(1.0), 0.6527759416335707, 1e-4);
  // Rank 5 signal (variances 2..10 along random directions) + unit Gaussian noise, n = 2000, d = 100.
  const int n = 2000, d = 100, rank = 5;
  std::vector<float> x(std::size_t(n) * d), noise(std::size_t(n) * d);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < d; ++j) {
      double s = 0;
      for (int r = 0; r < rank; ++r) s += std::sqrt(2.0 * (r + 1) / d) * normal(13, std::uint64_t(i), std::uint64_t(r)) * normal(14, std::uint64_t(r), std::uint64_t(j));
      noise[std::size_t(i) * d + std::size_t(j)] = float(normal(15, std::uint64_t(i), std::uint64_t(j)));
      x[std::size_t(i) * d + std::size_t(j)] = float(s) + noise[std::size_t(i) * d + std::size_t(j)];
    }
  const auto signal = cl::pca(self(), cl::to_matrix(x, n, d, "x"), 0);
  EXPECT_EQ(cl::marchenko_pastur_rank(signal.eigenvalues, n, d), rank);
  const auto pure = cl::pca(self(), cl::to_matrix(noise, n, d, "noise"), 0);
  EXPECT_EQ(cl::marchenko_pastur_rank(pure.eigenvalues, n, d), 0);
  // Wide data (d > n, the bulk scaled by d / n): pure noise seen through 60 rows.
  std::vector<float> wide(noise.begin(), noise.begin() + 60 * d);
  EXPECT_EQ(cl::marchenko_pastur_rank(cl::pca(self(), cl::to_matrix(wide, 60, d, "wide"), 0).eigenvalues, 60, d), 0);
}

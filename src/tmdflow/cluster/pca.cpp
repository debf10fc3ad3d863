#include "tmdflow/cluster/pca.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>

#include "tmdflow/core/error.hpp"

// LAPACK's symmetric divide-and-conquer eigensolver, called through its Fortran symbol. The
// trailing lengths are gfortran's hidden arguments of the two character parameters.
extern "C" void dsyevd_(const char* jobz, const char* uplo, const int* n, double* a, const int* lda, double* w,
                        double* work, const int* lwork, int* iwork, const int* liwork, int* info, std::size_t jobz_len,
                        std::size_t uplo_len);

namespace tmdflow::cluster {

namespace {

/// Eigen-decomposition of a symmetric d x d matrix (row-major or column-major alike): ascending
/// eigenvalues; on return a[k * d + j] is component j of eigenvector k.
std::vector<double> symmetric_eigen(std::vector<double>& a, int d) {
  std::vector<double> w(static_cast<std::size_t>(d));
  if (d == 0) return w;
  const char jobz = 'V', uplo = 'U';
  int info = 0, lwork = -1, liwork = -1, iwork_query = 0;
  double work_query = 0;
  dsyevd_(&jobz, &uplo, &d, a.data(), &d, w.data(), &work_query, &lwork, &iwork_query, &liwork, &info, 1, 1);
  if (info != 0) throw Error("pca: LAPACK dsyevd workspace query failed (info " + std::to_string(info) + ")", ExitCode::failure);
  lwork = int(work_query);
  liwork = iwork_query;
  std::vector<double> work(std::size_t(std::max(lwork, 1)));
  std::vector<int> iwork(std::size_t(std::max(liwork, 1)));
  dsyevd_(&jobz, &uplo, &d, a.data(), &d, w.data(), work.data(), &lwork, iwork.data(), &liwork, &info, 1, 1);
  if (info != 0)
    throw Error("pca: LAPACK dsyevd did not converge on the " + std::to_string(d) + "x" + std::to_string(d) +
                    " covariance (info " + std::to_string(info) + ")",
                ExitCode::failure);
  return w;
}

/// scores(i, c) = sum_j (x(i, j) - mean(j)) * v(c, j), vectorised like matrix.cpp's products.
void project(const Matrix& x, const Kokkos::View<float*, MemSpace>& mean, const Matrix& v, const Matrix& scores) {
  const int d = int(x.extent(1)), r = int(v.extent(0));
  Kokkos::parallel_for("tmdflow::cluster::pca_scores", Kokkos::RangePolicy<ExecSpace>(0, x.extent(0)),
                       KOKKOS_LAMBDA(const std::int64_t i) {
                         const float* row = &x(i, 0);
                         const float* mu = mean.data();
                         for (int c = 0; c < r; ++c) {
                           const float* vc = &v(c, 0);
                           float s = 0;
#pragma omp simd reduction(+ : s)
                           for (int j = 0; j < d; ++j) s += (row[j] - mu[j]) * vc[j];
                           scores(i, c) = s;
                         }
                       });
  Kokkos::fence();
}

}  // namespace

PcaResult pca(const par::Comm& comm, const Matrix& x_local, int keep) {
  const int d = int(x_local.extent(1));
  if (keep < 0 || keep > d)
    throw ConfigError("pca: keep must be in [0, " + std::to_string(d) + "], found " + std::to_string(keep));
  const std::int64_t total = global_rows(comm, x_local);
  if (total < 2) throw ConfigError("pca: needs at least 2 rows over all ranks, found " + std::to_string(total));

  PcaResult result;
  result.mean = column_sums(comm, x_local);
  for (double& m : result.mean) m /= double(total);
  std::vector<float> mean_f(result.mean.begin(), result.mean.end());
  // Centring before the products keeps the float partial sums free of the cancellation of
  // X^T X - N mu mu^T; the small rest left by rounding the mean to float is removed exactly:
  // sum (x - m)(x - m)^T = S - N (mu - m)(mu - m)^T with S the sum around m.
  std::vector<double> cov = to_host(gram(comm, x_local, mean_f));
  for (int a = 0; a < d; ++a)
    for (int b = 0; b < d; ++b) {
      const double da = result.mean[std::size_t(a)] - double(mean_f[std::size_t(a)]);
      const double db = result.mean[std::size_t(b)] - double(mean_f[std::size_t(b)]);
      double& c = cov[std::size_t(a) * std::size_t(d) + std::size_t(b)];
      c = (c - double(total) * da * db) / double(total - 1);
    }

  // Every rank decomposes the same reduced matrix, so every rank gets the same components.
  const std::vector<double> ascending = symmetric_eigen(cov, d);
  result.eigenvalues.assign(ascending.rbegin(), ascending.rend());
  std::vector<float> comps(std::size_t(keep) * std::size_t(d));
  for (int c = 0; c < keep; ++c) {
    const double* vec = &cov[std::size_t(d - 1 - c) * std::size_t(d)];
    // Fix the sign (largest |entry| positive) so the result does not depend on the solver's choice.
    int big = 0;
    for (int j = 1; j < d; ++j)
      if (std::abs(vec[j]) > std::abs(vec[big])) big = j;
    const double sign = vec[big] < 0 ? -1.0 : 1.0;
    for (int j = 0; j < d; ++j) comps[std::size_t(c) * std::size_t(d) + std::size_t(j)] = float(sign * vec[j]);
  }
  result.components = to_matrix(comps, keep, d, "tmdflow::cluster::pca_components");
  result.scores = Matrix("tmdflow::cluster::pca_scores", x_local.extent(0), keep);
  Kokkos::View<float*, MemSpace> mean_view("tmdflow::cluster::pca_mean", std::size_t(d));
  auto mh = Kokkos::create_mirror_view(mean_view);
  for (int j = 0; j < d; ++j) mh(j) = mean_f[std::size_t(j)];
  Kokkos::deep_copy(mean_view, mh);
  project(x_local, mean_view, result.components, result.scores);
  return result;
}

double marchenko_pastur_median(double beta) {
  if (!(beta > 0 && beta <= 1)) throw ConfigError("marchenko_pastur_median: beta must be in (0, 1], found " + std::to_string(beta));
  const double a = (1 - std::sqrt(beta)) * (1 - std::sqrt(beta)), b = (1 + std::sqrt(beta)) * (1 + std::sqrt(beta));
  // x = a + (b - a)(1 - cos t)/2 removes the square-root ends of the density: the integrand
  // ((b - a)/2)^2 sin^2 t / (2 pi beta x) is smooth on [0, pi] (finite at x -> 0 when beta = 1).
  const int steps = 20000;
  const double h = 3.141592653589793 / steps, half = (b - a) / 2;
  auto integrand = [&](double t) {
    const double x = a + half * (1 - std::cos(t));
    const double s = std::sin(t);
    return x > 0 ? half * half * s * s / (2 * 3.141592653589793 * beta * x) : half / (3.141592653589793 * beta);
  };
  double cdf = 0, previous = integrand(0);
  for (int i = 1; i <= steps; ++i) {
    const double t = i * h, f = integrand(t);
    const double piece = 0.5 * (previous + f) * h;
    if (cdf + piece >= 0.5) {
      const double t_half = t - h + h * (0.5 - cdf) / piece;
      return a + half * (1 - std::cos(t_half));
    }
    cdf += piece;
    previous = f;
  }
  return a + half * (1 - std::cos(3.141592653589793));
}

int marchenko_pastur_rank(const std::vector<double>& eigenvalues, std::int64_t n, std::int64_t d) {
  if (n < 1 || d < 1) throw ConfigError("marchenko_pastur_rank: n and d must be >= 1, found " + std::to_string(n) + " and " + std::to_string(d));
  std::vector<double> sorted = eigenvalues;
  std::sort(sorted.begin(), sorted.end(), std::greater<double>());
  const std::int64_t m = std::min<std::int64_t>({n, d, std::int64_t(sorted.size())});
  if (m == 0) return 0;
  const double beta = double(std::min(n, d)) / double(std::max(n, d));
  const double bulk_scale = d <= n ? 1.0 : double(d) / double(n);
  // Median of the m largest (nonzero) eigenvalues.
  const double median = m % 2 ? sorted[std::size_t(m / 2)] : 0.5 * (sorted[std::size_t(m / 2 - 1)] + sorted[std::size_t(m / 2)]);
  const double sigma2 = median / (bulk_scale * marchenko_pastur_median(beta));
  const double edge = sigma2 * (1 + std::sqrt(double(d) / double(n))) * (1 + std::sqrt(double(d) / double(n)));
  int rank = 0;
  for (double v : sorted)
    if (v > edge) ++rank;
  return rank;
}

}  // namespace tmdflow::cluster

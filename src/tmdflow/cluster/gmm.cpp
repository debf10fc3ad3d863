#include "tmdflow/cluster/gmm.hpp"

#include <cmath>
#include <limits>
#include <string>

#include "tmdflow/cluster/kmeans.hpp"
#include "tmdflow/core/error.hpp"
#include "tmdflow/par/reduce.hpp"

namespace tmdflow::cluster {

namespace {

constexpr int kMaxComponents = 64;
constexpr int kMaxDimensions = 64;
constexpr double kLogTwoPi = 1.8378770664093453;

using Cube = Kokkos::View<double***, Kokkos::LayoutRight, MemSpace>;

/// The parameters as the E-step kernel reads them.
struct Model {
  Table means;         // K x d
  Cube precision;      // K x d x d: upper Cholesky factor U of each precision (U U^T = inverse covariance)
  Vector log_norm;     // K: log weight + log det U - d/2 log 2 pi
};

/// Lower Cholesky factor of a d x d symmetric matrix (row-major), in place; false when the matrix
/// is not positive definite.
bool cholesky(std::vector<double>& a, int d) {
  for (int j = 0; j < d; ++j) {
    double s = a[std::size_t(j * d + j)];
    for (int l = 0; l < j; ++l) s -= a[std::size_t(j * d + l)] * a[std::size_t(j * d + l)];
    if (!(s > 0)) return false;
    const double root = std::sqrt(s);
    a[std::size_t(j * d + j)] = root;
    for (int i = j + 1; i < d; ++i) {
      double t = a[std::size_t(i * d + j)];
      for (int l = 0; l < j; ++l) t -= a[std::size_t(i * d + l)] * a[std::size_t(j * d + l)];
      a[std::size_t(i * d + j)] = t / root;
    }
    for (int i = 0; i < j; ++i) a[std::size_t(i * d + j)] = 0;
  }
  return true;
}

/// M-step: weights, means and covariances from the responsibilities (all sums allreduced), and
/// the model of the next E-step.
void maximise(const par::Comm& comm, const Matrix& x, const Matrix& resp, const GmmSpec& spec, std::int64_t total,
              GmmResult& result, Model& model) {
  const std::int64_t n = std::int64_t(x.extent(0));
  const int d = int(x.extent(1)), k = int(resp.extent(1));
  const bool diagonal = spec.covariance == Covariance::diagonal;
  // scikit-learn adds 10 machine epsilons so that an empty component divides by a nonzero weight.
  std::vector<double> nk = column_sums(comm, resp);
  for (double& v : nk) v += 10 * std::numeric_limits<double>::epsilon();
  std::vector<double> means = to_host(transposed_multiply(comm, resp, x));
  for (int c = 0; c < k; ++c) {
    result.weights[std::size_t(c)] = nk[std::size_t(c)] / double(total);
    for (int j = 0; j < d; ++j) means[std::size_t(c * d + j)] /= nk[std::size_t(c)];
  }
  result.means = to_matrix(means, k, d, "tmdflow::cluster::gmm_means");
  auto mh = Kokkos::create_mirror_view(model.means);
  for (int c = 0; c < k; ++c)
    for (int j = 0; j < d; ++j) mh(c, j) = means[std::size_t(c * d + j)];
  Kokkos::deep_copy(model.means, mh);

  // Scatter around the new means (not E[x x^T] - mu mu^T, which cancels badly).
  const int parts = reduction_parts(n);
  const Table mu = model.means;
  Kokkos::View<double****, Kokkos::LayoutRight, MemSpace> partial("tmdflow::cluster::gmm_scatter", parts, k, d, d);
  Kokkos::parallel_for("tmdflow::cluster::gmm_scatter", Kokkos::RangePolicy<ExecSpace>(0, parts), KOKKOS_LAMBDA(const int p) {
    double diff[kMaxDimensions];
    for (std::int64_t i = part_begin(n, parts, p); i < part_begin(n, parts, p + 1); ++i)
      for (int c = 0; c < k; ++c) {
        const double r = resp(i, c);
        if (r == 0) continue;
        for (int a = 0; a < d; ++a) diff[a] = double(x(i, a)) - mu(c, a);
        for (int a = 0; a < d; ++a) {
          const double ra = r * diff[a];
          if (diagonal)
            partial(p, c, a, a) += ra * diff[a];
          else
            for (int b = a; b < d; ++b) partial(p, c, a, b) += ra * diff[b];
        }
      }
  });
  auto ph = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), partial);
  const std::size_t block = std::size_t(k) * std::size_t(d) * std::size_t(d);
  std::vector<double> scatter(block, 0.0);
  for (int p = 0; p < parts; ++p)
    for (std::size_t e = 0; e < block; ++e) scatter[e] += ph.data()[std::size_t(p) * block + e];
  comm.allreduce_inplace(scatter.data(), scatter.size(), par::Op::sum);

  auto prec = Kokkos::create_mirror_view(model.precision);
  auto log_norm = Kokkos::create_mirror_view(model.log_norm);
  Kokkos::deep_copy(prec, 0.0);
  for (int c = 0; c < k; ++c) {
    std::vector<double> cov(std::size_t(d) * std::size_t(d), 0.0);
    for (int a = 0; a < d; ++a)
      for (int b = a; b < d; ++b) {
        if (diagonal && b != a) continue;
        const double v = scatter[std::size_t((c * d + a) * d + b)] / nk[std::size_t(c)];
        cov[std::size_t(a * d + b)] = cov[std::size_t(b * d + a)] = v;
      }
    for (int a = 0; a < d; ++a) cov[std::size_t(a * d + a)] += spec.reg_covar;
    if (diagonal) {
      std::vector<double>& out = result.covariances[std::size_t(c)];
      out.resize(std::size_t(d));
      for (int a = 0; a < d; ++a) out[std::size_t(a)] = cov[std::size_t(a * d + a)];
    } else {
      result.covariances[std::size_t(c)] = cov;
    }
    if (!cholesky(cov, d))
      throw Error("gmm: the covariance of component " + std::to_string(c) + " of " + std::to_string(k) +
                      " is not positive definite; increase reg_covar (now " + std::to_string(spec.reg_covar) + ")",
                  ExitCode::failure);
    // U = L^{-T}: column j of L^{-1} by forward substitution, stored as row j of U's transpose.
    double log_det = 0;
    for (int j = 0; j < d; ++j) {
      log_det -= std::log(cov[std::size_t(j * d + j)]);
      std::vector<double> z(std::size_t(d), 0.0);  // z = L^{-1} e_j
      for (int i = j; i < d; ++i) {
        double s = i == j ? 1.0 : 0.0;
        for (int l = j; l < i; ++l) s -= cov[std::size_t(i * d + l)] * z[std::size_t(l)];
        z[std::size_t(i)] = s / cov[std::size_t(i * d + i)];
      }
      for (int i = j; i < d; ++i) prec(c, j, i) = z[std::size_t(i)];  // U(j, i) = (L^{-1})(i, j)
    }
    log_norm(c) = std::log(result.weights[std::size_t(c)]) + log_det - 0.5 * d * kLogTwoPi;
  }
  Kokkos::deep_copy(model.precision, prec);
  Kokkos::deep_copy(model.log_norm, log_norm);
}

/// E-step: responsibilities by log-sum-exp, labels, and the global mean log-likelihood per row.
double expect(const par::Comm& comm, const Matrix& x, const Model& model, bool diagonal, std::int64_t total,
              const Matrix& resp, const Labels& labels) {
  const int d = int(x.extent(1)), k = int(resp.extent(1));
  const Table mu = model.means;
  const Cube u = model.precision;
  const Vector log_norm = model.log_norm;
  double local = 0;
  Kokkos::parallel_reduce(
      "tmdflow::cluster::gmm_responsibilities", Kokkos::RangePolicy<ExecSpace>(0, x.extent(0)),
      KOKKOS_LAMBDA(const std::int64_t i, double& sum) {
        double diff[kMaxDimensions], log_p[kMaxComponents];
        double top = -1e300;
        for (int c = 0; c < k; ++c) {
          for (int a = 0; a < d; ++a) diff[a] = double(x(i, a)) - mu(c, a);
          double mahalanobis = 0;
          for (int b = 0; b < d; ++b) {  // y = (x - mu) U, U upper triangular
            double y = 0;
            if (diagonal)
              y = diff[b] * u(c, b, b);
            else
              for (int a = 0; a <= b; ++a) y += diff[a] * u(c, a, b);
            mahalanobis += y * y;
          }
          log_p[c] = log_norm(c) - 0.5 * mahalanobis;
          if (log_p[c] > top) top = log_p[c];
        }
        double total_p = 0;
        for (int c = 0; c < k; ++c) total_p += Kokkos::Experimental::exp(log_p[c] - top);
        const double log_sum = top + Kokkos::Experimental::log(total_p);
        int best = 0;
        for (int c = 0; c < k; ++c) {
          resp(i, c) = float(Kokkos::Experimental::exp(log_p[c] - log_sum));
          if (log_p[c] > log_p[best]) best = c;  // strict: lowest index on ties
        }
        labels(i) = best;
        sum += log_sum;
      },
      local);
  return comm.allreduce(local, par::Op::sum) / double(total);
}

}  // namespace

GmmResult gmm(const par::Comm& comm, const Matrix& x_local, std::int64_t first_row, std::int64_t total_rows,
              const GmmSpec& spec) {
  const std::int64_t n = std::int64_t(x_local.extent(0));
  const int d = int(x_local.extent(1)), k = spec.components;
  if (k < 1 || k > kMaxComponents)
    throw ConfigError("gmm: components must be in [1, " + std::to_string(kMaxComponents) + "], found " + std::to_string(k));
  if (d < 1 || d > kMaxDimensions)
    throw ConfigError("gmm: the data must have 1 to " + std::to_string(kMaxDimensions) + " columns, found " + std::to_string(d));
  if (spec.max_iterations < 1 || !(spec.tolerance >= 0) || !(spec.reg_covar >= 0))
    throw ConfigError("gmm: need max_iterations >= 1, tolerance >= 0 and reg_covar >= 0");

  KmeansSpec init;
  init.clusters = k;
  init.seed = spec.seed;
  const KmeansResult start = kmeans(comm, x_local, first_row, total_rows, init);

  GmmResult result;
  result.weights.assign(std::size_t(k), 0.0);
  result.covariances.assign(std::size_t(k), {});
  result.responsibilities = Matrix("tmdflow::cluster::gmm_responsibilities", n, k);
  result.labels = start.labels;
  const Matrix resp = result.responsibilities;
  const Labels labels = start.labels;
  Kokkos::parallel_for("tmdflow::cluster::gmm_init", Kokkos::RangePolicy<ExecSpace>(0, n),
                       KOKKOS_LAMBDA(const std::int64_t i) { resp(i, labels(i)) = 1.0f; });
  Model model{Table("tmdflow::cluster::gmm_means", k, d), Cube("tmdflow::cluster::gmm_precision", k, d, d),
              Vector("tmdflow::cluster::gmm_log_norm", k)};
  const bool diagonal = spec.covariance == Covariance::diagonal;
  maximise(comm, x_local, resp, spec, total_rows, result, model);
  result.labels = Labels("tmdflow::cluster::gmm_labels", n);
  double previous = -std::numeric_limits<double>::infinity();
  for (int it = 1; it <= spec.max_iterations; ++it) {
    result.log_likelihood = expect(comm, x_local, model, diagonal, total_rows, resp, result.labels);
    result.iterations = it;
    if (std::abs(result.log_likelihood - previous) < spec.tolerance || it == spec.max_iterations) break;
    previous = result.log_likelihood;
    maximise(comm, x_local, resp, spec, total_rows, result, model);
  }
  const double parameters =
      (k - 1) + double(k) * d + double(k) * (diagonal ? d : d * (d + 1) / 2.0);
  result.bic = -2.0 * result.log_likelihood * double(total_rows) + parameters * std::log(double(total_rows));
  return result;
}

GmmResult gmm_select(const par::Comm& comm, const Matrix& x_local, std::int64_t first_row, std::int64_t total_rows,
                     GmmSpec spec, int kmin, int kmax) {
  if (kmin < 1 || kmax < kmin)
    throw ConfigError("gmm_select: need 1 <= kmin <= kmax, found kmin " + std::to_string(kmin) + ", kmax " +
                      std::to_string(kmax));
  GmmResult best;
  for (int k = kmin; k <= kmax; ++k) {
    spec.components = k;
    GmmResult fit = gmm(comm, x_local, first_row, total_rows, spec);
    if (k == kmin || fit.bic < best.bic) best = std::move(fit);
  }
  return best;
}

}  // namespace tmdflow::cluster

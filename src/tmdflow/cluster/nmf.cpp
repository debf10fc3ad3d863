#include "tmdflow/cluster/nmf.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "tmdflow/cluster/random.hpp"
#include "tmdflow/core/error.hpp"

namespace tmdflow::cluster {

namespace {

// Keeps the multiplicative ratios finite where a denominator vanishes (Lee & Seung 2001 add such
// an epsilon); it is below any positive double denominator that matters, so it does not bias them.
constexpr double kEpsilon = 1e-30;
constexpr double kFloatMax = 3.4028234663852886e38;
constexpr int kInitialSweeps = 10;  // HALS sweeps of W fitted to given initial components

void validate(const NmfSpec& spec, std::int64_t d, const Matrix* initial) {
  if (spec.components < 1) throw ConfigError("nmf: components must be >= 1, found " + std::to_string(spec.components));
  if (spec.max_iterations < 1)
    throw ConfigError("nmf: max_iterations must be >= 1, found " + std::to_string(spec.max_iterations));
  if (!(spec.tolerance >= 0)) throw ConfigError("nmf: tolerance must be >= 0, found " + std::to_string(spec.tolerance));
  if (initial && (std::int64_t(initial->extent(0)) != spec.components || std::int64_t(initial->extent(1)) != d))
    throw ConfigError("nmf: initial components must be " + std::to_string(spec.components) + "x" + std::to_string(d) +
                      ", found " + std::to_string(initial->extent(0)) + "x" + std::to_string(initial->extent(1)));
}

/// HALS update of each row of W (rows are independent): column c of the row moves to the
/// non-negative minimiser of the loss with the other columns fixed (Cichocki & Phan 2009, eq. 11).
void hals_update_loadings(const Matrix& w, const Matrix& xht, const Table& hht) {
  const int k = int(w.extent(1));
  const std::int64_t n = std::int64_t(w.extent(0));
  // Component c of a row needs that row's components < c already updated: a chain of k dependent
  // dot products per row. Rows are independent, so a tile of rows is swept component by component
  // and the chains of its rows overlap (same arithmetic per row as one row at a time).
  constexpr std::int64_t kRows = 16;
  Kokkos::parallel_for("tmdflow::cluster::nmf_hals_loadings", Kokkos::RangePolicy<ExecSpace>(0, (n + kRows - 1) / kRows),
                       KOKKOS_LAMBDA(const std::int64_t t) {
                         const std::int64_t i0 = t * kRows, i1 = i0 + kRows < n ? i0 + kRows : n;
                         for (int c = 0; c < k; ++c) {
                           const double curvature = hht(c, c);
                           if (curvature <= 0) continue;  // a zero component: nothing to fit
                           const double* hc = &hht(c, 0);  // symmetric: row access
                           for (std::int64_t i = i0; i < i1; ++i) {
                             float* wi = &w(i, 0);
                             double dot = 0;
#pragma omp simd reduction(+ : dot)
                             for (int l = 0; l < k; ++l) dot += double(wi[l]) * hc[l];
                             const double v = double(wi[c]) + (double(xht(i, c)) - dot) / curvature;
                             wi[c] = v > 0 ? float(v) : 0.0f;
                           }
                         }
                       });
}

/// HALS update of H from the reduced W^T X and W^T W: each column of H is independent.
void hals_update_components(const Matrix& h, const Table& wtx, const Table& wtw) {
  const int k = int(h.extent(0));
  Kokkos::parallel_for("tmdflow::cluster::nmf_hals_components", Kokkos::RangePolicy<ExecSpace>(0, h.extent(1)),
                       KOKKOS_LAMBDA(const std::int64_t j) {
                         for (int c = 0; c < k; ++c) {
                           const double curvature = wtw(c, c);
                           if (curvature <= 0) continue;
                           double s = wtx(c, j);
                           for (int l = 0; l < k; ++l) s -= wtw(c, l) * double(h(l, j));
                           const double v = double(h(c, j)) + s / curvature;
                           h(c, j) = v > 0 ? float(v) : 0.0f;
                         }
                       });
}

/// Multiplicative update of W (Lee & Seung 2001): W <- W * (X H^T) / (W H H^T + eps). The ratio
/// is formed in place in `xht` first so that every column sees the old row of W.
void multiplicative_update_loadings(const Matrix& w, const Matrix& xht, const Table& hht) {
  const int k = int(w.extent(1));
  Kokkos::parallel_for("tmdflow::cluster::nmf_mu_loadings", Kokkos::RangePolicy<ExecSpace>(0, w.extent(0)),
                       KOKKOS_LAMBDA(const std::int64_t i) {
                         for (int c = 0; c < k; ++c) {
                           double den = kEpsilon;
                           for (int l = 0; l < k; ++l) den += double(w(i, l)) * hht(c, l);
                           const double ratio = double(xht(i, c)) / den;
                           xht(i, c) = float(ratio < kFloatMax ? ratio : kFloatMax);
                         }
                         for (int c = 0; c < k; ++c) w(i, c) *= xht(i, c);
                       });
}

/// Multiplicative update of H: H <- H * (W^T X) / (W^T W H + eps), column by column.
void multiplicative_update_components(const Matrix& h, const Matrix& ratio, const Table& wtx, const Table& wtw) {
  const int k = int(h.extent(0));
  Kokkos::parallel_for("tmdflow::cluster::nmf_mu_components", Kokkos::RangePolicy<ExecSpace>(0, h.extent(1)),
                       KOKKOS_LAMBDA(const std::int64_t j) {
                         for (int c = 0; c < k; ++c) {
                           double den = kEpsilon;
                           for (int l = 0; l < k; ++l) den += wtw(c, l) * double(h(l, j));
                           const double r = wtx(c, j) / den;
                           ratio(c, j) = float(r < kFloatMax ? r : kFloatMax);
                         }
                         for (int c = 0; c < k; ++c) h(c, j) *= ratio(c, j);
                       });
}

/// Random W: uniform in [0, 1) times `scale`, keyed by (seed, global row, column).
void random_loadings(const Matrix& w, std::int64_t first_row, std::uint64_t seed, double scale) {
  const int k = int(w.extent(1));
  Kokkos::parallel_for("tmdflow::cluster::nmf_init_loadings", Kokkos::RangePolicy<ExecSpace>(0, w.extent(0)),
                       KOKKOS_LAMBDA(const std::int64_t i) {
                         for (int c = 0; c < k; ++c)
                           w(i, c) = float(scale * rng::uniform(rng::key(seed, rng::nmf_loadings,
                                                                          std::uint64_t(first_row + i), std::uint64_t(c))));
                       });
}

/// sum_ij a_ij b_ij of two k x d matrices held on the host.
double frobenius_product(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0.0;
  for (std::size_t e = 0; e < a.size(); ++e) s += a[e] * b[e];
  return s;
}

}  // namespace

NmfResult nmf(const par::Comm& comm, const Matrix& x_local, std::int64_t first_row, const NmfSpec& spec,
              const Matrix* initial_components) {
  const std::int64_t n = std::int64_t(x_local.extent(0)), d = std::int64_t(x_local.extent(1));
  const int k = spec.components;
  validate(spec, d, initial_components);
  const float minimum = global_min(comm, x_local);
  if (minimum < 0)
    throw ConfigError("nmf: the data must be non-negative, found a minimum of " + std::to_string(minimum));

  const double norm2 = squared_norm(comm, x_local);
  const std::int64_t total_rows = global_rows(comm, x_local);
  double total = 0.0;
  for (double s : column_sums(comm, x_local)) total += s;
  const double mean = total_rows > 0 && d > 0 ? total / (double(total_rows) * double(d)) : 0.0;
  const double scale = std::sqrt(mean / k);

  NmfResult result;
  result.loadings = Matrix("tmdflow::cluster::nmf_loadings", n, k);
  result.components = Matrix("tmdflow::cluster::nmf_components", k, d);
  const Matrix& w = result.loadings;
  const Matrix& h = result.components;
  if (norm2 == 0.0) {  // X = 0 is factorised exactly by W = 0, H = 0
    result.relative_error.push_back(0.0);
    return result;
  }
  if (initial_components) {
    Kokkos::deep_copy(h, *initial_components);
  } else {
    auto hh = Kokkos::create_mirror_view(h);
    for (int c = 0; c < k; ++c)
      for (std::int64_t j = 0; j < d; ++j)
        hh(c, j) = float(scale * rng::uniform(rng::key(spec.seed, rng::nmf_components, std::uint64_t(c), std::uint64_t(j))));
    Kokkos::deep_copy(h, hh);
  }
  random_loadings(w, first_row, spec.seed, scale);
  Matrix xht("tmdflow::cluster::nmf_xht", n, k);
  if (initial_components) {
    // Given components, fit W to them first (local HALS sweeps, no communication), so that the
    // first H update starts from loadings that belong to these components, not to random ones.
    multiply_transposed(x_local, h, xht);
    const Table hht = row_gram(h);
    for (int sweep = 0; sweep < kInitialSweeps; ++sweep) hals_update_loadings(w, xht, hht);
  }

  Matrix ratio;
  if (spec.solver == NmfSolver::multiplicative) ratio = Matrix("tmdflow::cluster::nmf_ratio", k, d);
  Table hht = row_gram(h);
  for (int it = 1; it <= spec.max_iterations; ++it) {
    multiply_transposed(x_local, h, xht);
    if (spec.solver == NmfSolver::hals)
      hals_update_loadings(w, xht, hht);
    else
      multiplicative_update_loadings(w, xht, hht);
    const Table wtx = transposed_multiply(comm, w, x_local);
    const Table wtw = transposed_multiply(comm, w, w);
    if (spec.solver == NmfSolver::hals)
      hals_update_components(h, wtx, wtw);
    else
      multiplicative_update_components(h, ratio, wtx, wtw);
    hht = row_gram(h);

    // ||X - WH||^2 = ||X||^2 - 2 <W^T X, H> + <W^T W, H H^T>: from reduced k x d and k x k sums
    // only, never a pass over X. W^T X and W^T W belong to the new W, which the new H was fitted to.
    const std::vector<float> hf = to_host(h);
    const std::vector<double> hv(hf.begin(), hf.end());
    const double err2 = norm2 - 2.0 * frobenius_product(to_host(wtx), hv) + frobenius_product(to_host(wtw), to_host(hht));
    const double rel = std::sqrt(std::max(err2, 0.0) / norm2);
    result.relative_error.push_back(rel);
    result.iterations = it;
    if (rel == 0.0) break;
    if (it > 1 && spec.tolerance > 0) {
      const double previous = result.relative_error[std::size_t(it - 2)];
      if (std::abs(previous - rel) < spec.tolerance * previous) break;
    }
  }
  return result;
}

}  // namespace tmdflow::cluster

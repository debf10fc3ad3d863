#include "tmdflow/analysis/domains.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <queue>

#include "tmdflow/analysis/diffraction.hpp"
#include "tmdflow/cluster/gmm.hpp"
#include "tmdflow/cluster/hierarchical.hpp"
#include "tmdflow/cluster/kmeans.hpp"
#include "tmdflow/cluster/pca.hpp"
#include "tmdflow/core/error.hpp"
#include "tmdflow/core/log.hpp"
#include "tmdflow/core/strings.hpp"
#include "tmdflow/core/timer.hpp"
#include "tmdflow/core/units.hpp"

namespace tmdflow::analysis {
namespace {

using units::pi;

double wrap(double a, double period) {
  a = std::fmod(a, period);
  return a < 0 ? a + period : a;
}
double wrap_centred(double a, double period) { return wrap(a + 0.5 * period, period) - 0.5 * period; }

/// Median of v (reordered in place; v not empty).
double median_inplace(std::vector<double>& v) {
  std::nth_element(v.begin(), v.begin() + std::ptrdiff_t(v.size() / 2), v.end());
  return v[v.size() / 2];
}

/// Which patterns may feed the smoothing of the orientation deviations: not those further than 4
/// robust sd (1.4826 x the domain's median absolute residual) from the median of their 5x5
/// neighbours in the same domain (boundary patterns that see two lattices).
std::vector<char> smoothing_sources(const std::vector<double>& deviation, const std::vector<std::int32_t>& label, std::int64_t rx,
                                    std::int64_t ry, int domains) {
  const std::int64_t total = rx * ry;
  std::vector<double> resid(std::size_t(total), 0.0), window;
  std::vector<std::vector<double>> per_domain(static_cast<std::size_t>(domains));
  for (std::int64_t p = 0; p < total; ++p) {
    const int l = label[std::size_t(p)];
    if (l < 0) continue;
    const std::int64_t i = p / ry, j = p % ry;
    window.clear();
    for (std::int64_t a = std::max<std::int64_t>(0, i - 2); a <= std::min(rx - 1, i + 2); ++a)
      for (std::int64_t b = std::max<std::int64_t>(0, j - 2); b <= std::min(ry - 1, j + 2); ++b)
        if (label[std::size_t(a * ry + b)] == l) window.push_back(deviation[std::size_t(a * ry + b)]);
    resid[std::size_t(p)] = std::fabs(deviation[std::size_t(p)] - median_inplace(window));
    per_domain[std::size_t(l)].push_back(resid[std::size_t(p)]);
  }
  std::vector<double> limit(static_cast<std::size_t>(domains), 0.0);
  for (int l = 0; l < domains; ++l)
    if (!per_domain[std::size_t(l)].empty()) limit[std::size_t(l)] = 4.0 * 1.4826 * median_inplace(per_domain[std::size_t(l)]) + 1e-3;
  std::vector<char> use(std::size_t(total), 0);
  for (std::int64_t p = 0; p < total; ++p)
    if (label[std::size_t(p)] >= 0) use[std::size_t(p)] = resid[std::size_t(p)] <= limit[std::size_t(label[std::size_t(p)])];
  return use;
}

/// Sum of a whole-scan array over ranks: each rank fills its own patterns, zeros elsewhere.
template <class T>
std::vector<T> gather(const par::Comm& comm, const std::vector<T>& local, std::int64_t first, std::int64_t total, std::size_t width = 1) {
  std::vector<T> all(std::size_t(total) * width, T(0));
  std::copy(local.begin(), local.end(), all.begin() + std::ptrdiff_t(std::size_t(first) * width));
  comm.allreduce_inplace(all.data(), all.size(), par::Op::sum);
  return all;
}

/// The 8-neighbours of pattern (i, j) inside the scan.
template <class F>
void for_neighbours(std::int64_t rx, std::int64_t ry, std::int64_t p, F&& f) {
  const std::int64_t i = p / ry, j = p % ry;
  for (int di = -1; di <= 1; ++di)
    for (int dj = -1; dj <= 1; ++dj) {
      if (!di && !dj) continue;
      const std::int64_t a = i + di, b = j + dj;
      if (a >= 0 && a < rx && b >= 0 && b < ry) f(a * ry + b);
    }
}

/// Fitted angle of each of six spots (centroid of the profile within +-halfwidth of t + offset + 60 n).
std::array<double, 6> spot_centroids(const std::vector<double>& prof, int bins, double t, double offset, double halfwidth) {
  std::array<double, 6> out{};
  for (int n = 0; n < 6; ++n) {
    const double c = t + offset + 60.0 * n;
    double s = 0, sa = 0;
    for (int b = 0; b < bins; ++b) {
      const double d = wrap_centred((b + 0.5) * 360.0 / bins - c, 360.0);
      if (std::fabs(d) <= halfwidth) {
        s += prof[std::size_t(b)];
        sa += prof[std::size_t(b)] * d;
      }
    }
    out[std::size_t(n)] = c + (s > 0 ? sa / s : 0.0);
  }
  return out;
}

/// Circular mean (period 60) of the spot angles of both rings: the twist, sub-degree.
double fitted_twist(const std::vector<double>& r0, const std::vector<double>& r1, int bins, double guess, double halfwidth,
                    std::array<double, 6>& first_order) {
  first_order = spot_centroids(r0, bins, guess, 0.0, halfwidth);
  const auto second = spot_centroids(r1, bins, guess, 30.0, halfwidth * 0.6);
  double re = 0, im = 0, w0 = 0, w1 = 0;
  for (double v : r0) w0 += v;
  for (double v : r1) w1 += v;
  for (int n = 0; n < 6; ++n) {
    const double a0 = (first_order[std::size_t(n)] - 60.0 * n) * 6.0 * pi / 180.0;
    const double a1 = (second[std::size_t(n)] - 30.0 - 60.0 * n) * 6.0 * pi / 180.0;
    re += w0 * std::cos(a0) + w1 * std::cos(a1);
    im += w0 * std::sin(a0) + w1 * std::sin(a1);
  }
  return wrap(std::atan2(im, re) * 180.0 / pi / 6.0, 60.0);
}

}  // namespace

std::vector<std::int8_t> binary_potts_cut(const std::vector<double>& evidence, const std::vector<std::pair<int, int>>& edges, double beta) {
  // Nodes 0..n-1, source n (p = +1), sink n+1 (p = -1). Unary costs shifted to be non-negative:
  // e > 0 costs 2e when i goes to the sink side, e < 0 costs -2e when it stays on the source side.
  const int n = int(evidence.size()), s = n, t = n + 1;
  struct Edge { int to; double cap; };
  std::vector<Edge> e;
  std::vector<std::vector<int>> adj(std::size_t(n + 2));
  auto add = [&](int a, int b, double c_ab, double c_ba) {
    adj[std::size_t(a)].push_back(int(e.size()));
    e.push_back({b, c_ab});
    adj[std::size_t(b)].push_back(int(e.size()));
    e.push_back({a, c_ba});
  };
  for (int i = 0; i < n; ++i) {
    if (evidence[std::size_t(i)] > 0) add(s, i, 2 * evidence[std::size_t(i)], 0);
    else if (evidence[std::size_t(i)] < 0) add(i, t, -2 * evidence[std::size_t(i)], 0);
  }
  for (const auto& [a, b] : edges) add(a, b, beta, beta);
  std::vector<int> level(static_cast<std::size_t>(n + 2)), it(std::size_t(n + 2));
  const double eps = 1e-12;
  auto bfs = [&] {
    std::fill(level.begin(), level.end(), -1);
    std::queue<int> q;
    level[std::size_t(s)] = 0;
    q.push(s);
    while (!q.empty()) {
      const int u = q.front();
      q.pop();
      for (int id : adj[std::size_t(u)])
        if (e[std::size_t(id)].cap > eps && level[std::size_t(e[std::size_t(id)].to)] < 0) {
          level[std::size_t(e[std::size_t(id)].to)] = level[std::size_t(u)] + 1;
          q.push(e[std::size_t(id)].to);
        }
    }
    return level[std::size_t(t)] >= 0;
  };
  // Iterative blocking-flow search (no recursion: the graph has one node per pattern).
  auto dfs = [&](double limit) {
    std::vector<int> path;
    int u = s;
    while (true) {
      if (u == t) {
        double f = limit;
        for (int id : path) f = std::min(f, e[std::size_t(id)].cap);
        for (int id : path) {
          e[std::size_t(id)].cap -= f;
          e[std::size_t(id ^ 1)].cap += f;
        }
        return f;
      }
      bool advanced = false;
      for (int& k = it[std::size_t(u)]; k < int(adj[std::size_t(u)].size()); ++k) {
        const int id = adj[std::size_t(u)][std::size_t(k)];
        const int v = e[std::size_t(id)].to;
        if (e[std::size_t(id)].cap > eps && level[std::size_t(v)] == level[std::size_t(u)] + 1) {
          path.push_back(id);
          u = v;
          advanced = true;
          break;
        }
      }
      if (!advanced) {
        if (path.empty()) return 0.0;
        level[std::size_t(u)] = -1;  // dead end
        const int id = path.back();
        path.pop_back();
        u = e[std::size_t(id ^ 1)].to;
        ++it[std::size_t(u)];
      }
    }
  };
  while (bfs()) {
    std::fill(it.begin(), it.end(), 0);
    while (dfs(std::numeric_limits<double>::infinity()) > eps) {
    }
  }
  // Source side of the minimum cut: reachable from s in the residual graph.
  std::vector<std::int8_t> p(std::size_t(n), -1);
  std::vector<char> seen(std::size_t(n + 2), 0);
  std::queue<int> q;
  q.push(s);
  seen[std::size_t(s)] = 1;
  while (!q.empty()) {
    const int u = q.front();
    q.pop();
    if (u < n) p[std::size_t(u)] = 1;
    for (int id : adj[std::size_t(u)])
      if (e[std::size_t(id)].cap > eps && !seen[std::size_t(e[std::size_t(id)].to)]) {
        seen[std::size_t(e[std::size_t(id)].to)] = 1;
        q.push(e[std::size_t(id)].to);
      }
  }
  return p;
}

void DetectorFrame::calibrate(double asymmetry, double asymmetry_200, int rings) {
  calibration_sign = asymmetry >= 0 ? 1 : -1;
  calibration_sign_200 = rings > 2 && std::fabs(asymmetry_200) >= 0.005 ? (asymmetry_200 > 0 ? 1 : -1) : 0;
}

DomainResult find_domains(const par::Comm& comm, const DomainInput& in, const DomainSpec& spec, const DetectorFrame& frame) {
  DomainResult res;
  const std::int64_t n = in.count, total = in.rx * in.ry;
  const int bins = in.bins, fb = bins / 6, d = 2 * fb;
  const std::int64_t stride = std::int64_t(in.rings) * bins;  // floats per pattern in in.profiles
  const bool use200 = in.rings > 2 && frame.calibration_sign_200 != 0;
  if (total < 2) throw ConfigError("domains: expected at least 2 patterns, found " + std::to_string(total));

  Stopwatch clock;
  auto lap = [&](const char* what) {
    log::debug("domains: ", what, " ", clock.seconds(), " s");
    clock.reset();
  };
  // 1. Six-fold folded profiles: counts (for likelihoods) and per-ring normalised rows (for NMF).
  std::vector<float> counts(std::size_t(n * d), 0.0f);
  cluster::Matrix x("tmdflow::analysis::folded", std::size_t(n), std::size_t(d));
  auto xh = Kokkos::create_mirror_view(x);
  for (std::int64_t p = 0; p < n; ++p)
    for (int r = 0; r < 2; ++r) {
      double sum = 0;
      for (int b = 0; b < bins; ++b) {
        const float v = in.profiles[p * stride + r * bins + b];
        counts[std::size_t(p * d + r * fb + b % fb)] += v;
        sum += v;
      }
      for (int b = 0; b < fb; ++b) xh(p, r * fb + b) = sum > 0 ? float(counts[std::size_t(p * d + r * fb + b)] / sum) : 0.0f;
    }
  Kokkos::deep_copy(x, xh);

  // 2. NMF; components from the Marchenko-Pastur rank of the PCA of the same rows.
  lap("features");
  const cluster::PcaResult pca = cluster::pca(comm, x, 1);
  lap("pca");
  res.pca_eigenvalues = pca.eigenvalues;
  res.marchenko_pastur_rank = cluster::marchenko_pastur_rank(pca.eigenvalues, total, d);
  const int k = spec.components > 0 ? spec.components : std::clamp(res.marchenko_pastur_rank + 1, 2, 24);
  cluster::NmfSpec ns;
  ns.components = k;
  ns.solver = spec.solver;
  ns.max_iterations = spec.nmf_iterations;
  ns.seed = spec.seed;
  const cluster::NmfResult nmf = cluster::nmf(comm, x, in.first, ns);
  res.components = nmf.components;
  res.loadings = nmf.loadings;
  res.nmf_error = nmf.relative_error;
  lap("nmf");

  // 3. Clusters of the normalised loadings.
  cluster::Matrix w("tmdflow::analysis::loadings_normalised", std::size_t(n), std::size_t(k));
  {
    auto wh = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), nmf.loadings);
    auto wn = Kokkos::create_mirror_view(w);
    for (std::int64_t p = 0; p < n; ++p) {
      double s = 0;
      for (int c = 0; c < k; ++c) s += wh(p, c);
      for (int c = 0; c < k; ++c) wn(p, c) = s > 0 ? float(wh(p, c) / s) : 0.0f;
    }
    Kokkos::deep_copy(w, wn);
  }
  const int K = spec.clusters > 0 ? spec.clusters : std::min(32, 2 * k);
  std::vector<int> cl(static_cast<std::size_t>(n));
  {
    cluster::Labels labels;
    if (spec.clustering == "gmm") {
      cluster::GmmSpec gs;
      gs.components = K;
      gs.seed = spec.seed;
      gs.reg_covar = 1e-4;
      labels = cluster::gmm(comm, w, in.first, total, gs).labels;
    } else if (spec.clustering == "kmeans") {
      cluster::KmeansSpec ks;
      ks.clusters = K;
      ks.seed = spec.seed;
      ks.restarts = 2;
      labels = cluster::kmeans(comm, w, in.first, total, ks).labels;
    } else {
      throw ConfigError("clustering: expected kmeans or gmm, found '" + spec.clustering + "'");
    }
    auto lh = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), labels);
    for (std::int64_t p = 0; p < n; ++p) cl[std::size_t(p)] = lh(p);
  }
  res.clusters = K;
  lap("clustering");

  // 4. Hierarchical merging of the cluster signatures (mean normalised folded profiles).
  std::vector<double> sig(std::size_t(K * d), 0.0), sizes(std::size_t(K), 0.0);
  for (std::int64_t p = 0; p < n; ++p) {
    sizes[std::size_t(cl[std::size_t(p)])] += 1;
    for (int q = 0; q < d; ++q) sig[std::size_t(cl[std::size_t(p)] * d + q)] += xh(p, q);
  }
  comm.allreduce_inplace(sig.data(), sig.size(), par::Op::sum);
  comm.allreduce_inplace(sizes.data(), sizes.size(), par::Op::sum);
  res.cluster_signatures.assign(std::size_t(K * d), 0.0f);
  for (int c = 0; c < K; ++c)
    for (int q = 0; q < d; ++q)
      res.cluster_signatures[std::size_t(c * d + q)] = sizes[std::size_t(c)] > 0 ? float(sig[std::size_t(c * d + q)] / sizes[std::size_t(c)]) : 0.0f;
  const double bin_deg = 360.0 / bins;
  std::vector<double> dist(std::size_t(K * K), 0.0);
  for (int a = 0; a < K; ++a)
    for (int b = a + 1; b < K; ++b) {
      double dd = 1e9;
      if (sizes[std::size_t(a)] > 0 && sizes[std::size_t(b)] > 0) {
        const auto m = cluster::azimuthal_cross_correlation(&res.cluster_signatures[std::size_t(a * d)],
                                                            &res.cluster_signatures[std::size_t(b * d)], 2, fb);
        if (m.correlation > 0.5) dd = std::fabs(m.shift_bins) * bin_deg;
      }
      dist[std::size_t(a * K + b)] = dist[std::size_t(b * K + a)] = dd;
    }
  const auto dendrogram = cluster::agglomerate(dist, K, cluster::Linkage::average);
  res.cluster_to_twist = cluster::cut_at_distance(dendrogram, spec.merge_deg);
  int nt = 0;
  for (int v : res.cluster_to_twist) nt = std::max(nt, v + 1);

  // Whole-scan arrays from here on (nav-sized state, identical on every rank).
  std::vector<float> signal_local(in.signal, in.signal + n), twist_local(in.twist_deg, in.twist_deg + n);
  const std::vector<float> signal = gather(comm, signal_local, in.first, total);
  const std::vector<float> twist_pattern = gather(comm, twist_local, in.first, total);
  std::vector<float> sorted_signal = signal;
  std::nth_element(sorted_signal.begin(), sorted_signal.begin() + std::ptrdiff_t(total / 2), sorted_signal.end());
  const double min_signal = spec.min_signal_fraction * sorted_signal[std::size_t(total / 2)];
  std::vector<char> valid(static_cast<std::size_t>(total));
  for (std::int64_t p = 0; p < total; ++p) valid[std::size_t(p)] = signal[std::size_t(p)] > min_signal;
  std::vector<std::int32_t> local_t(static_cast<std::size_t>(n));
  for (std::int64_t p = 0; p < n; ++p) local_t[std::size_t(p)] = res.cluster_to_twist[std::size_t(cl[std::size_t(p)])] + 1;
  std::vector<std::int32_t> tclass = gather(comm, local_t, in.first, total);
  for (auto& t : tclass) t -= 1;

  // 5. Potts relabelling of the twist classes (checkerboard ICM, 4 colours for 8 neighbours).
  auto class_means = [&](const std::vector<std::int32_t>& tc) {
    std::vector<double> mu(std::size_t(nt * d), 0.0);
    for (std::int64_t p = 0; p < n; ++p) {
      const int t = tc[std::size_t(in.first + p)];
      if (t < 0) continue;
      for (int q = 0; q < d; ++q) mu[std::size_t(t * d + q)] += counts[std::size_t(p * d + q)];
    }
    comm.allreduce_inplace(mu.data(), mu.size(), par::Op::sum);
    for (int t = 0; t < nt; ++t)
      for (int r = 0; r < 2; ++r) {
        double s = 0;
        for (int q = 0; q < fb; ++q) s += mu[std::size_t(t * d + r * fb + q)];
        for (int q = 0; q < fb; ++q) mu[std::size_t(t * d + r * fb + q)] = std::log((mu[std::size_t(t * d + r * fb + q)] + 1e-3 * s / fb + 1e-12) / (s * 1.001 + 1e-9));
      }
    return mu;
  };
  std::vector<double> ll;
  auto relabel = [&] {
    if (nt == 1)
      for (std::int64_t p = 0; p < total; ++p)
        if (valid[std::size_t(p)]) tclass[std::size_t(p)] = 0;
    for (int sweep = 0; sweep < 10 && nt > 1; ++sweep) {
      const std::vector<double> logmu = class_means(tclass);
      std::vector<double> ll_local(std::size_t(n * nt), 0.0);
      for (std::int64_t p = 0; p < n; ++p)
        for (int t = 0; t < nt; ++t) {
          double s = 0;
          for (int q = 0; q < d; ++q) s += counts[std::size_t(p * d + q)] * logmu[std::size_t(t * d + q)];
          ll_local[std::size_t(p * nt + t)] = s;
        }
      ll = gather(comm, ll_local, in.first, total, std::size_t(nt));
      std::int64_t changed = 0;
      for (int colour = 0; colour < 4; ++colour)
        for (std::int64_t p = 0; p < total; ++p) {
          if (((p / in.ry) % 2) * 2 + (p % in.ry) % 2 != colour || !valid[std::size_t(p)]) continue;
          std::vector<double> score(static_cast<std::size_t>(nt));
          for (int t = 0; t < nt; ++t) score[std::size_t(t)] = ll[std::size_t(p * nt + t)];
          for_neighbours(in.rx, in.ry, p, [&](std::int64_t q) {
            if (tclass[std::size_t(q)] >= 0) score[std::size_t(tclass[std::size_t(q)])] += spec.twist_beta;
          });
          const int best = int(std::max_element(score.begin(), score.end()) - score.begin());
          if (best != tclass[std::size_t(p)]) {
            tclass[std::size_t(p)] = best;
            ++changed;
          }
        }
      if (!changed) break;
    }
  };
  relabel();
  // Boundary mixtures: patterns where the probe straddles two domains can form a class of their own
  // (e.g. 13.5 degrees between 12 and 15.5). Such a class is a strip along boundaries with hardly a
  // pattern whose 8 neighbours are all in it; classes with fewer such interior patterns than
  // min_interior_patterns are dropped and their patterns relabelled among the others.
  for (int round = 0; round < 4 && nt > 1; ++round) {
    std::vector<std::int64_t> interior(static_cast<std::size_t>(nt), 0);
    for (std::int64_t p = 0; p < total; ++p) {
      const int t = tclass[std::size_t(p)];
      if (t < 0) continue;
      bool inside = true;
      for_neighbours(in.rx, in.ry, p, [&](std::int64_t q) { inside = inside && tclass[std::size_t(q)] == t; });
      if (inside) ++interior[std::size_t(t)];
    }
    std::vector<int> remap(static_cast<std::size_t>(nt), -1);
    int kept = 0;
    for (int t = 0; t < nt; ++t)
      if (interior[std::size_t(t)] >= spec.min_interior_patterns) remap[std::size_t(t)] = kept++;
    if (kept == nt || kept == 0) break;
    for (auto& t : tclass) t = t >= 0 ? remap[std::size_t(t)] : -1;
    for (auto& t : res.cluster_to_twist) t = t >= 0 ? remap[std::size_t(t)] : -1;
    nt = kept;
    relabel();
  }
  for (std::int64_t p = 0; p < total; ++p)
    if (!valid[std::size_t(p)]) tclass[std::size_t(p)] = -1;
  res.twist_classes = nt;
  lap("merging and twist relabelling");

  // 6. Twist of each class from its mean full profile, then per-pattern Friedel evidence.
  std::vector<double> mean_prof(std::size_t(nt * 2 * bins), 0.0), ncls(std::size_t(nt), 0.0);
  for (std::int64_t p = 0; p < n; ++p) {
    const int t = tclass[std::size_t(in.first + p)];
    if (t < 0) continue;
    ncls[std::size_t(t)] += 1;
    for (int q = 0; q < 2 * bins; ++q) mean_prof[std::size_t(t * 2 * bins + q)] += in.profiles[p * stride + q];
  }
  comm.allreduce_inplace(mean_prof.data(), mean_prof.size(), par::Op::sum);
  comm.allreduce_inplace(ncls.data(), ncls.size(), par::Op::sum);
  std::vector<double> class_twist(std::size_t(nt), 0.0);
  std::vector<std::array<double, 6>> class_spots(static_cast<std::size_t>(nt));
  for (int t = 0; t < nt; ++t) {
    std::vector<float> r0(mean_prof.begin() + t * 2 * bins, mean_prof.begin() + t * 2 * bins + bins);
    std::vector<float> r1(mean_prof.begin() + t * 2 * bins + bins, mean_prof.begin() + (t + 1) * 2 * bins);
    const double guess = twist_from_profiles(r0.data(), r1.data(), bins);
    std::vector<double> d0(r0.begin(), r0.end()), d1(r1.begin(), r1.end());
    class_twist[std::size_t(t)] = fitted_twist(d0, d1, bins, guess, in.spot_halfwidth_deg, class_spots[std::size_t(t)]);
  }
  // Friedel differences D and spot sums S of the {100} spots and, with the {200} ring, of the
  // {200} spots (same azimuths); rel turns a {200} difference into the {100} one's sense
  // (+1 when both triplets brighten together for a given polarity).
  const int rel = frame.calibration_sign * frame.calibration_sign_200;
  std::vector<double> diff_local(std::size_t(n), 0.0), sum_local(std::size_t(n), 0.0);
  std::vector<double> diff2_local(std::size_t(use200 ? n : 0), 0.0), sum2_local(std::size_t(use200 ? n : 0), 0.0);
  for (std::int64_t p = 0; p < n; ++p) {
    const int t = tclass[std::size_t(in.first + p)];
    if (t < 0) continue;
    const auto s = spot_sums(in.profiles + p * stride, bins, class_twist[std::size_t(t)], in.spot_halfwidth_deg);
    diff_local[std::size_t(p)] = s[0] + s[2] + s[4] - s[1] - s[3] - s[5];
    sum_local[std::size_t(p)] = s[0] + s[1] + s[2] + s[3] + s[4] + s[5];
    if (use200) {
      const auto u = spot_sums(in.profiles + p * stride + 2 * bins, bins, class_twist[std::size_t(t)], in.spot_halfwidth_200_deg);
      diff2_local[std::size_t(p)] = rel * (u[0] + u[2] + u[4] - u[1] - u[3] - u[5]);
      sum2_local[std::size_t(p)] = u[0] + u[1] + u[2] + u[3] + u[4] + u[5];
    }
  }
  const std::vector<double> diff = gather(comm, diff_local, in.first, total);
  const std::vector<double> ssum = gather(comm, sum_local, in.first, total);
  const std::vector<double> diff2 = use200 ? gather(comm, diff2_local, in.first, total) : std::vector<double>(std::size_t(total), 0.0);
  const std::vector<double> ssum2 = use200 ? gather(comm, sum2_local, in.first, total) : std::vector<double>(std::size_t(total), 0.0);

  // Initial polarity: sign of the Friedel difference (both rings) smoothed (sigma 2 px) inside the
  // twist class; it only serves to estimate each class's asymmetry magnitudes a.
  // Gaussian smoothing of v inside each class; only patterns with use[q] (all when use is empty) are sources.
  auto smooth_in_class = [&](const std::vector<double>& v, const std::vector<std::int32_t>& cls, double sigma,
                             const std::vector<char>& use = {}) {
    std::vector<double> out(std::size_t(total), 0.0);
    const int rad = int(std::ceil(3 * sigma));
    for (std::int64_t p = 0; p < total; ++p) {
      const int t = cls[std::size_t(p)];
      if (t < 0) continue;
      const std::int64_t i = p / in.ry, j = p % in.ry;
      double s = 0, sw = 0;
      for (std::int64_t a = std::max<std::int64_t>(0, i - rad); a <= std::min(in.rx - 1, i + rad); ++a)
        for (std::int64_t b = std::max<std::int64_t>(0, j - rad); b <= std::min(in.ry - 1, j + rad); ++b) {
          const std::int64_t q = a * in.ry + b;
          if (cls[std::size_t(q)] != t || (!use.empty() && !use[std::size_t(q)])) continue;
          const double wgt = std::exp(-0.5 * double((a - i) * (a - i) + (b - j) * (b - j)) / (sigma * sigma));
          s += wgt * v[std::size_t(q)];
          sw += wgt;
        }
      out[std::size_t(p)] = sw > 0 ? s / sw : v[std::size_t(p)];
    }
    return out;
  };
  std::vector<double> both(static_cast<std::size_t>(total));
  for (std::int64_t p = 0; p < total; ++p) both[std::size_t(p)] = diff[std::size_t(p)] + diff2[std::size_t(p)];
  const std::vector<double> smoothed = smooth_in_class(both, tclass, 2.0);
  std::vector<double> aligned(std::size_t(nt), 0.0), spots_total(std::size_t(nt), 0.0);
  std::vector<double> aligned2(std::size_t(nt), 0.0), spots_total2(std::size_t(nt), 0.0);
  for (std::int64_t p = 0; p < total; ++p) {
    const int t = tclass[std::size_t(p)];
    if (t < 0) continue;
    const double sgn = smoothed[std::size_t(p)] >= 0 ? 1.0 : -1.0;
    aligned[std::size_t(t)] += sgn * diff[std::size_t(p)];
    spots_total[std::size_t(t)] += ssum[std::size_t(p)];
    aligned2[std::size_t(t)] += sgn * diff2[std::size_t(p)];
    spots_total2[std::size_t(t)] += ssum2[std::size_t(p)];
  }
  // Evidence e = L * D with L = log((1+a)/(1-a)), summed over the {100} and {200} spots. The {200}
  // magnitude a2 is the part of the class's aligned difference that agrees with the calibrated sign:
  // where the data contradict the simulation, a2 -> 0 and the ring drops out. The cut's pairwise cost
  // is polarity_beta times the noise of one pattern's evidence: the Poisson spread of D is sqrt(S)
  // electrons, so e has sd sqrt(L^2 S + L2^2 S2). In these units a lone pattern must stand ~2 sd from its neighbours' polarity
  // to differ from them at any dose (a fixed cost in nats over-smooths at low dose, where the
  // evidence is weak, and under-smooths at high dose; measured on 4 simulated polycrystals at
  // 2,000 and 20,000 e-).
  std::vector<double> evidence(std::size_t(total), 0.0);
  double noise2 = 0, noise2_200 = 0, counted = 0;
  for (std::int64_t p = 0; p < total; ++p) {
    const int t = tclass[std::size_t(p)];
    if (t < 0) continue;
    const double a = std::clamp(spots_total[std::size_t(t)] > 0 ? std::fabs(aligned[std::size_t(t)]) / spots_total[std::size_t(t)] : 0.0, 1e-4, 0.9);
    const double l = std::log((1 + a) / (1 - a));
    const double a2 = std::clamp(spots_total2[std::size_t(t)] > 0 ? aligned2[std::size_t(t)] * (aligned[std::size_t(t)] >= 0 ? 1.0 : -1.0) / spots_total2[std::size_t(t)] : 0.0, 1e-4, 0.9);
    const double l2 = std::log((1 + a2) / (1 - a2));
    evidence[std::size_t(p)] = l * diff[std::size_t(p)] + l2 * diff2[std::size_t(p)];
    noise2 += l * l * std::max(ssum[std::size_t(p)], 0.0);
    noise2_200 += l2 * l2 * std::max(ssum2[std::size_t(p)], 0.0);
    counted += 1;
  }
  noise2 += noise2_200;
  res.polarity_information_200 = noise2 > 0 ? noise2_200 / noise2 : 0.0;
  std::vector<std::pair<int, int>> edges;
  for (std::int64_t p = 0; p < total; ++p)
    for_neighbours(in.rx, in.ry, p, [&](std::int64_t q) {
      if (q > p && tclass[std::size_t(p)] >= 0 && tclass[std::size_t(q)] == tclass[std::size_t(p)]) edges.emplace_back(int(p), int(q));
    });
  const double evidence_noise = counted > 0 && noise2 > 0 ? std::sqrt(noise2 / counted) : 1.0;
  const double beta = spec.polarity_beta * evidence_noise;
  res.polarity_evidence_noise = evidence_noise;
  lap("polarity evidence");
  const std::vector<std::int8_t> brighter = binary_potts_cut(evidence, edges, beta);
  lap("polarity cut");

  // 7. Domains = (twist class, polarity); orientation refined per pattern.
  std::map<std::pair<int, int>, std::int64_t> count;
  for (std::int64_t p = 0; p < total; ++p)
    if (tclass[std::size_t(p)] >= 0) ++count[{tclass[std::size_t(p)], brighter[std::size_t(p)]}];
  std::vector<std::pair<std::int64_t, std::pair<int, int>>> order;
  for (const auto& [key, c] : count) order.push_back({-c, key});
  std::sort(order.begin(), order.end());
  std::map<std::pair<int, int>, int> id;
  for (std::size_t k2 = 0; k2 < order.size(); ++k2) id[order[k2].second] = int(k2);

  res.label.assign(std::size_t(total), -1);
  res.orientation_deg.assign(std::size_t(total), std::numeric_limits<float>::quiet_NaN());
  res.twist_deg.assign(std::size_t(total), std::numeric_limits<float>::quiet_NaN());
  res.polarity.assign(std::size_t(total), 0);
  res.confidence.assign(std::size_t(total), 0.0f);
  std::vector<double> deviation(std::size_t(total), 0.0);
  for (std::int64_t p = 0; p < total; ++p) {
    const int t = tclass[std::size_t(p)];
    if (t < 0) continue;
    res.label[std::size_t(p)] = id[{t, brighter[std::size_t(p)]}];
    deviation[std::size_t(p)] = wrap_centred(double(twist_pattern[std::size_t(p)]) - class_twist[std::size_t(t)], 60.0);
  }
  // Per-pattern refinement: deviations from the class twist smoothed inside the domain. Patterns
  // where the probe straddles a boundary see two lattices and their six-fold phase can be off by
  // degrees: a pattern further than 4 robust sd from the median of its 5x5 neighbours in the same
  // domain is no source of the smoothing (it still gets its neighbours' value), so that it does
  // not bend the orientation of the interior (measured: the fitted rotation gradient of a domain
  // along a boundary was off by half without this).
  const std::vector<double> refined =
      spec.smoothing_px > 0
          ? smooth_in_class(deviation, res.label, spec.smoothing_px, smoothing_sources(deviation, res.label, in.rx, in.ry, int(order.size())))
          : deviation;
  for (std::int64_t p = 0; p < total; ++p) {
    const int t = tclass[std::size_t(p)];
    if (t < 0) continue;
    const int pz = brighter[std::size_t(p)] * frame.calibration_sign;  // +1: polarity +1 in the detector frame
    const double det = class_twist[std::size_t(t)] + std::clamp(refined[std::size_t(p)], -5.0, 5.0) + (pz > 0 ? 0.0 : 60.0);
    const double phi = wrap(frame.to_scan(det), 120.0);
    res.orientation_deg[std::size_t(p)] = float(phi);
    res.twist_deg[std::size_t(p)] = float(wrap(phi, 60.0));
    res.polarity[std::size_t(p)] = phi < 60.0 ? 1 : -1;
    // Confidence: posterior of the twist class (softmax of the ICM scores) times the local
    // conditional posterior of the polarity given the neighbours.
    double pt = 1.0;
    if (nt > 1 && !ll.empty()) {
      std::vector<double> score(static_cast<std::size_t>(nt));
      for (int c = 0; c < nt; ++c) score[std::size_t(c)] = ll[std::size_t(p * nt + c)];
      for_neighbours(in.rx, in.ry, p, [&](std::int64_t q) {
        if (tclass[std::size_t(q)] >= 0) score[std::size_t(tclass[std::size_t(q)])] += spec.twist_beta;
      });
      const double mx = *std::max_element(score.begin(), score.end());
      double z = 0;
      for (double s : score) z += std::exp(s - mx);
      pt = std::exp(score[std::size_t(t)] - mx) / z;
    }
    // Log-odds of p = +1 given the neighbours: 2 e + beta (agreeing - disagreeing).
    double log_odds = 2.0 * evidence[std::size_t(p)];
    for_neighbours(in.rx, in.ry, p, [&](std::int64_t q) {
      if (tclass[std::size_t(q)] == t) log_odds += beta * brighter[std::size_t(q)];
    });
    const double pp = 1.0 / (1.0 + std::exp(-log_odds * brighter[std::size_t(p)]));
    res.confidence[std::size_t(p)] = float(pt * pp);
  }
  res.domains.resize(order.size());
  std::vector<double> domain_diff(order.size(), 0.0), domain_spots(order.size(), 0.0);
  std::vector<double> domain_diff2(order.size(), 0.0), domain_spots2(order.size(), 0.0);
  for (std::int64_t p = 0; p < total; ++p)
    if (res.label[std::size_t(p)] >= 0) {
      const std::size_t l = std::size_t(res.label[std::size_t(p)]);
      domain_diff[l] += diff[std::size_t(p)];
      domain_spots[l] += ssum[std::size_t(p)];
      domain_diff2[l] += rel * diff2[std::size_t(p)];  // back to the {200} triplet's own sense
      domain_spots2[l] += ssum2[std::size_t(p)];
    }
  for (const auto& [key, k2] : id) {
    DomainSummary& s = res.domains[std::size_t(k2)];
    const int t = key.first;
    const int pz = key.second * frame.calibration_sign;
    s.patterns = count[key];
    s.twist_class = t;
    s.twist_detector_deg = class_twist[std::size_t(t)];
    s.spot_angles_deg = class_spots[std::size_t(t)];
    const double phi = wrap(frame.to_scan(class_twist[std::size_t(t)] + (pz > 0 ? 0.0 : 60.0)), 120.0);
    s.orientation_deg = phi;
    s.twist_deg = wrap(phi, 60.0);
    s.polarity = phi < 60.0 ? 1 : -1;
    s.asymmetry = domain_spots[std::size_t(k2)] > 0 ? domain_diff[std::size_t(k2)] / domain_spots[std::size_t(k2)] : 0.0;
    s.asymmetry_200 = domain_spots2[std::size_t(k2)] > 0 ? domain_diff2[std::size_t(k2)] / domain_spots2[std::size_t(k2)] : 0.0;
  }
  lap("orientation and confidence");
  log::info("domains: ", k, " NMF components (Marchenko-Pastur rank ", res.marchenko_pastur_rank, "), ", K, " clusters -> ", nt,
            " twist classes -> ", res.domains.size(), " domains; polarity evidence ", res.polarity_evidence_noise,
            " nats (sd) per pattern, ", use200 ? str::number(100.0 * res.polarity_information_200) + "% of it from the {200} spots" : std::string("{100} spots only"));
  return res;
}

}  // namespace tmdflow::analysis

#include "tmdflow/learn/style_selection.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "tmdflow/analysis/dynamics/peaks.hpp"
#include "tmdflow/cluster/kmeans.hpp"
#include "tmdflow/core/error.hpp"

namespace tmdflow::learn {

namespace F = torch::nn::functional;

torch::Tensor gaussian_blur(const torch::Tensor& x, double sigma_px, BlurEdge edge) {
  const std::int64_t r = std::max<std::int64_t>(1, std::int64_t(std::ceil(3 * sigma_px)));
  torch::Tensor k = torch::arange(-r, r + 1, torch::kFloat32);
  k = torch::exp(-k * k / float(2 * sigma_px * sigma_px));
  k = k / k.sum();
  if (edge == BlurEdge::replicate) {
    const torch::Tensor p = F::pad(x, F::PadFuncOptions({r, r, r, r}).mode(torch::kReplicate));
    return F::conv2d(F::conv2d(p, k.view({1, 1, 2 * r + 1, 1})), k.view({1, 1, 1, 2 * r + 1}));
  }
  const torch::Tensor y = F::conv2d(x, k.view({1, 1, 2 * r + 1, 1}), F::Conv2dFuncOptions().padding({r, 0}));
  return F::conv2d(y, k.view({1, 1, 1, 2 * r + 1}), F::Conv2dFuncOptions().padding({0, r}));
}

std::vector<double> selection_features(const TrainingImage& im, std::int64_t side, double pixel_A, analysis::RadialSpectrum& spectrum) {
  if (side > im.ny || side > im.nx)
    throw InputError("style selection: expected images of at least " + std::to_string(side) + " pixels, found " + std::to_string(im.ny) + " x " +
                     std::to_string(im.nx));
  const std::int64_t y0 = (im.ny - side) / 2, x0 = (im.nx - side) / 2;
  torch::Tensor c = torch::from_blob(const_cast<float*>(im.pixels.data()), {1, 1, im.ny, im.nx}, torch::kFloat32).narrow(2, y0, side).narrow(3, x0, side);
  c = standardise(gaussian_blur(c.contiguous(), 0.3 / pixel_A, BlurEdge::replicate)).contiguous();
  std::vector<double> f;
  const torch::Tensor sorted = std::get<0>(c.flatten().sort());
  for (int q = 0; q < 16; ++q) f.push_back(sorted[std::int64_t((double(q) + 0.5) / 16 * double(sorted.numel()))].item<double>());
  for (double p : spectrum.log_power(c.data_ptr<float>())) f.push_back(p);
  return f;
}

StyleSelection select_for_style(const par::Comm& comm, const std::vector<TrainingImage>& sims, const std::vector<TrainingImage>& exps,
                              const StyleSelectionSpec& spec) {
if (sims.empty() || exps.empty()) throw InputError("style selection: expected at least one simulation and one experiment");
  std::int64_t side = 256;
  for (const auto* set : {&sims, &exps})
    for (const auto& im : *set) side = std::min({side, im.ny, im.nx});
  analysis::RadialSpectrum spectrum(static_cast<int>(side), static_cast<int>(side), spec.pixel_A, 0.1, 24);
  std::vector<std::vector<double>> feats;
  for (const auto* set : {&sims, &exps})
    for (const auto& im : *set) feats.push_back(selection_features(im, side, spec.pixel_A, spectrum));
  const std::int64_t n = std::int64_t(feats.size()), d = std::int64_t(feats.front().size()), ns = std::int64_t(sims.size());
  torch::Tensor X = torch::empty({n, d}, torch::kFloat64);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < d; ++j) X[i][j] = feats[std::size_t(i)][std::size_t(j)];
  X = (X - X.mean(0, true)) / X.std(0, true, true).clamp_min(1e-9);
  const auto [U, S, V] = torch::svd(X);
  const std::int64_t k = std::min<std::int64_t>({2, n, d});
  const torch::Tensor P = X.matmul(V.narrow(1, 0, k)).contiguous();
  StyleSelection sel;
  sel.coords.resize(std::size_t(n));
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < k; ++j) sel.coords[std::size_t(i)].push_back(P[i][j].item<double>());
  // k-means (K = 2) on rank 0's rows (the others hold none), labels broadcast.
  cluster::Matrix m("style selection", comm.is_root() ? n : 0, k);
  auto mh = Kokkos::create_mirror_view(m);
  if (comm.is_root())
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = 0; j < k; ++j) mh(i, j) = float(sel.coords[std::size_t(i)][std::size_t(j)]);
  Kokkos::deep_copy(m, mh);
  cluster::KmeansSpec ks;
  ks.clusters = std::min<int>(2, int(n));
  ks.seed = spec.seed, ks.restarts = 4;
  const cluster::KmeansResult r = cluster::kmeans(comm, m, comm.is_root() ? 0 : n, n, ks);
  std::vector<double> labels(std::size_t(n), 0);
  auto lh = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), r.labels);
  if (comm.is_root())
    for (std::int64_t i = 0; i < n; ++i) labels[std::size_t(i)] = lh(i);
  comm.bcast(labels.data(), labels.size(), 0);
  for (double l : labels) sel.cluster.push_back(int(l));
  std::vector<int> votes(2, 0);
  for (std::int64_t i = ns; i < n; ++i) ++votes[std::size_t(sel.cluster[std::size_t(i)])];
  sel.experiment_cluster = votes[1] > votes[0] ? 1 : 0;
  std::vector<double> centre(std::size_t(k), 0);
  for (std::int64_t i = ns; i < n; ++i)
    for (std::int64_t j = 0; j < k; ++j) centre[std::size_t(j)] += sel.coords[std::size_t(i)][std::size_t(j)] / double(n - ns);
  for (std::int64_t i = 0; i < ns; ++i) {
    double s2 = 0;
    for (std::int64_t j = 0; j < k; ++j) s2 += std::pow(sel.coords[std::size_t(i)][std::size_t(j)] - centre[std::size_t(j)], 2);
    sel.distance.push_back(std::sqrt(s2));
  }
  // The simulations of the experiments' cluster, nearest first, at most select-max; the nearest
  // others fill up to select-min.
  std::vector<std::int64_t> order(static_cast<std::size_t>(ns));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
    const bool ia = sel.cluster[std::size_t(a)] == sel.experiment_cluster, ib = sel.cluster[std::size_t(b)] == sel.experiment_cluster;
    if (ia != ib) return ia;
    return sel.distance[std::size_t(a)] < sel.distance[std::size_t(b)];
  });
  sel.selected.assign(std::size_t(ns), 0);
  std::int64_t in_cluster = 0;
  for (std::int64_t i = 0; i < ns; ++i) in_cluster += sel.cluster[std::size_t(i)] == sel.experiment_cluster;
  const std::int64_t keep = std::clamp<std::int64_t>(in_cluster, std::min<std::int64_t>(spec.select_min, ns), std::min<std::int64_t>(spec.select_max, ns));
  for (std::int64_t q = 0; q < keep; ++q) sel.selected[std::size_t(order[std::size_t(q)])] = 1;
  return sel;
}

ColumnShift column_shift(const std::vector<float>& reference, const std::vector<float>& image, std::int64_t H, std::int64_t W, double pixel_A) {
  const std::int64_t npx = H * W;
  if (std::int64_t(reference.size()) != npx || std::int64_t(image.size()) != npx)
    throw InputError("column shift: expected two images of " + std::to_string(H) + " x " + std::to_string(W) + " pixels");
  auto peaks = [&](const std::vector<float>& v, double percentile) {
    torch::Tensor b = gaussian_blur(torch::from_blob(const_cast<float*>(v.data()), {1, 1, H, W}, torch::kFloat32), 0.3 / pixel_A, BlurEdge::replicate);
    b = standardise(b).contiguous();
    const float thr = std::get<0>(b.flatten().sort())[std::int64_t(percentile * double(npx))].item<float>();
    analysis::dynamics::PeakSpec ps;
    ps.threshold = thr, ps.min_distance_px = 1.5 / pixel_A;
    return analysis::dynamics::find_peaks(b.data_ptr<float>(), H, W, 0, ps);
  };
  const auto pa = peaks(reference, 0.9), pb = peaks(image, 0.8);
  const double edge = 1.0 / pixel_A, reach = 1.0 / pixel_A;
  std::vector<double> shifts;
  ColumnShift r;
  for (const auto& a : pa) {
    if (a.x < edge || a.y < edge || a.x > double(W) - 1 - edge || a.y > double(H) - 1 - edge) continue;
    double best = 1e30;
    for (const auto& b : pb) best = std::min(best, std::hypot(a.x - b.x, a.y - b.y));
    ++r.columns;
    if (best <= reach) shifts.push_back(best * pixel_A);
  }
  r.matched = std::int64_t(shifts.size());
  if (!shifts.empty()) {
    r.mean_A = std::accumulate(shifts.begin(), shifts.end(), 0.0) / double(shifts.size());
    std::sort(shifts.begin(), shifts.end());
    r.p95_A = shifts[std::min(shifts.size() - 1, std::size_t(0.95 * double(shifts.size())))];
    const std::size_t h = shifts.size() / 2;
    r.median_A = shifts.size() % 2 ? shifts[h] : 0.5 * (shifts[h - 1] + shifts[h]);
  }
  return r;
}

}  // namespace tmdflow::learn

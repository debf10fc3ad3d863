#include "tmdflow/analysis/style/nelder_mead.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "tmdflow/core/error.hpp"

namespace tmdflow::analysis {

namespace {

struct Search {
  const std::function<double(const std::vector<double>&)>& f;
  int budget;
  NelderMeadResult& result;
  double eval(const std::vector<double>& x) {
    const double v = f(x);
    const double value = std::isfinite(v) ? v : HUGE_VAL;
    ++result.evaluations;
    if (result.history.empty() || value < result.value) result.value = value, result.x = x;
    result.history.push_back(result.value);
    return value;
  }
  bool spent() const { return result.evaluations >= budget; }
};

void run_simplex(Search& s, const std::vector<double>& x0, const std::vector<double>& step, double tolerance) {
  const std::size_t n = x0.size();
  std::vector<std::vector<double>> pts(n + 1, x0);
  std::vector<double> val(n + 1);
  for (std::size_t k = 0; k < n; ++k) pts[k + 1][k] += step[k];
  for (std::size_t k = 0; k <= n && !s.spent(); ++k) val[k] = s.eval(pts[k]);
  std::vector<std::size_t> order(n + 1);
  auto along = [&](const std::vector<double>& c, const std::vector<double>& w, double t) {
    std::vector<double> x(n);
    for (std::size_t k = 0; k < n; ++k) x[k] = c[k] + t * (w[k] - c[k]);
    return x;
  };
  while (!s.spent()) {
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return val[a] < val[b]; });
    const std::size_t best = order.front(), worst = order.back(), second = order[n - 1];
    if (std::abs(val[worst] - val[best]) <= tolerance) break;
    std::vector<double> centre(n, 0.0);
    for (std::size_t k = 0; k <= n; ++k)
      if (k != worst)
        for (std::size_t d = 0; d < n; ++d) centre[d] += pts[k][d] / double(n);
    const auto reflected = along(centre, pts[worst], -1.0);
    const double fr = s.eval(reflected);
    if (fr < val[best]) {
      if (s.spent()) break;
      const auto expanded = along(centre, pts[worst], -2.0);
      const double fe = s.eval(expanded);
      if (fe < fr) pts[worst] = expanded, val[worst] = fe;
      else pts[worst] = reflected, val[worst] = fr;
    } else if (fr < val[second]) {
      pts[worst] = reflected, val[worst] = fr;
    } else {
      if (s.spent()) break;
      const bool outside = fr < val[worst];
      const auto contracted = along(centre, outside ? reflected : pts[worst], 0.5);
      const double fc = s.eval(contracted);
      if (fc < std::min(fr, val[worst])) {
        pts[worst] = contracted, val[worst] = fc;
      } else {
        for (std::size_t k = 0; k <= n && !s.spent(); ++k)
          if (k != best) {
            pts[k] = along(pts[best], pts[k], 0.5);
            val[k] = s.eval(pts[k]);
          }
      }
    }
  }
}

}  // namespace

NelderMeadResult nelder_mead(const std::function<double(const std::vector<double>&)>& f, std::vector<double> x0,
                             const std::vector<double>& step, int max_evaluations, double tolerance) {
  if (x0.empty() || step.size() != x0.size())
    throw ConfigError("Nelder-Mead: expected a start point and one step per coordinate, found " + std::to_string(x0.size()) + " and " +
                      std::to_string(step.size()));
  NelderMeadResult result;
  Search s{f, std::max(1, max_evaluations), result};
  run_simplex(s, x0, step, tolerance);
  if (!s.spent()) {
    std::vector<double> smaller(step.size());
    for (std::size_t k = 0; k < step.size(); ++k) smaller[k] = step[k] * 0.5;
    run_simplex(s, result.x, smaller, tolerance);
  }
  return result;
}

}  // namespace tmdflow::analysis

#include "tmdflow/analysis/dynamics/bootstrap.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "tmdflow/par/random.hpp"

namespace tmdflow::analysis::dynamics {

std::vector<std::size_t> bootstrap_draw(std::size_t count, std::uint64_t seed, std::uint64_t replicate) {
  par::rng::Stream g(par::rng::key(seed, 0x626f6f74ULL, replicate));
  std::vector<std::size_t> idx(count);
  for (auto& i : idx) i = std::min(count - 1, std::size_t(g.uniform() * double(count)));
  return idx;
}

double quantile(std::vector<double>& values, double q) {
  if (values.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(values.begin(), values.end());
  const double pos = std::clamp(q, 0.0, 1.0) * double(values.size() - 1);
  const auto lo = std::size_t(std::floor(pos));
  const std::size_t hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (pos - double(lo)) * (values[hi] - values[lo]);
}

}  // namespace tmdflow::analysis::dynamics

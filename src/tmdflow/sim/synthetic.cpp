#include "tmdflow/sim/synthetic.hpp"

#include <cmath>
#include <random>

namespace tmdflow::sim {

SyntheticDomains synthetic_domains(const SyntheticDatacubeSpec& spec) {
  SyntheticDomains d;
  std::mt19937_64 rng(spec.seed);
  std::uniform_int_distribution<std::int64_t> ur(0, spec.scan_rows - 1), uc(0, spec.scan_cols - 1);
  std::uniform_real_distribution<double> ua(0.0, 120.0);
  for (int k = 0; k < spec.domains; ++k) {
    d.centre_row.push_back(ur(rng));
    d.centre_col.push_back(uc(rng));
    d.orientation_deg.push_back(ua(rng));
  }
  // Per domain: a scattering strength (as a thickness would give: more in the Bragg spots, less in
  // the central beam, so virtual ADF/BF show the domains) and a small tilt that shifts the whole
  // pattern (so the centre of mass shows them too). Drawn after the orientations, which keep
  // their values for a given seed.
  std::uniform_real_distribution<double> us(0.6, 1.4), ut(-0.4, 0.4);
  for (int k = 0; k < spec.domains; ++k) {
    d.strength.push_back(us(rng));
    d.tilt_x_px.push_back(ut(rng));
    d.tilt_y_px.push_back(ut(rng));
  }
  d.label.resize(std::size_t(spec.scan_rows * spec.scan_cols));
  for (std::int64_t r = 0; r < spec.scan_rows; ++r)
    for (std::int64_t c = 0; c < spec.scan_cols; ++c) {
      int best = 0;
      double bd = 1e300;
      for (int k = 0; k < spec.domains; ++k) {
        const double dr = double(r - d.centre_row[k]), dc = double(c - d.centre_col[k]);
        const double dd = dr * dr + dc * dc;
        if (dd < bd) {
          bd = dd;
          best = k;
        }
      }
      d.label[std::size_t(r * spec.scan_cols + c)] = best;
    }
  return d;
}

void synthetic_pattern(const SyntheticDatacubeSpec& spec, const SyntheticDomains& domains, std::int64_t row,
                       std::int64_t col, float* out) {
  const int k = domains.label[std::size_t(row * spec.scan_cols + col)];
  const double phi = domains.orientation_deg[std::size_t(k)] * 3.14159265358979323846 / 180.0;
  const double cy = 0.5 * double(spec.det_rows - 1) + domains.tilt_y_px[std::size_t(k)];
  const double cx = 0.5 * double(spec.det_cols - 1) + domains.tilt_x_px[std::size_t(k)];
  const double strength = domains.strength[std::size_t(k)];
  struct Spot {
    double x, y, a;
  };
  std::vector<Spot> spots{{cx, cy, 10.0 - 4.0 * (strength - 1.0)}};
  for (int s = 0; s < 6; ++s) {
    const double a = phi + s * 3.14159265358979323846 / 3.0;
    // First order: alternate triplets, brighter one first for phi in [0, 60) mod 120.
    const double amp = 1.0 + ((s % 2 == 0) ? spec.asymmetry : -spec.asymmetry);
    spots.push_back({cx + spec.spot_radius_px * std::cos(a), cy + spec.spot_radius_px * std::sin(a), amp * strength});
    const double a2 = a + 3.14159265358979323846 / 6.0;
    const double r2 = spec.spot_radius_px * std::sqrt(3.0);
    spots.push_back({cx + r2 * std::cos(a2), cy + r2 * std::sin(a2), 0.5 * strength});
  }
  const double inv2s2 = 1.0 / (2.0 * spec.disc_sigma_px * spec.disc_sigma_px);
  double total = 0.0;
  for (std::int64_t i = 0; i < spec.det_rows; ++i)
    for (std::int64_t j = 0; j < spec.det_cols; ++j) {
      double v = 0.02;
      for (const auto& s : spots) {
        const double dx = double(j) - s.x, dy = double(i) - s.y;
        const double e = (dx * dx + dy * dy) * inv2s2;
        if (e < 30) v += s.a * std::exp(-e);
      }
      out[i * spec.det_cols + j] = float(v);
      total += v;
    }
  if (spec.counts_per_pattern > 0) {
    std::mt19937_64 rng(spec.seed * 0x9E3779B97F4A7C15ull + std::uint64_t(row * spec.scan_cols + col));
    const double scale = spec.counts_per_pattern / total;
    for (std::int64_t q = 0; q < spec.det_rows * spec.det_cols; ++q) {
      std::poisson_distribution<int> pd(double(out[q]) * scale);
      out[q] = float(pd(rng));
    }
  } else {
    for (std::int64_t q = 0; q < spec.det_rows * spec.det_cols; ++q) out[q] = float(double(out[q]) * 1000.0);
  }
}

}  // namespace tmdflow::sim

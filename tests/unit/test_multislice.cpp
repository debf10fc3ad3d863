// Multislice physics: normalisation in vacuum, Friedel's law in the weak-phase limit, its breaking
// by dynamical scattering in monolayer MoS2 with the triplet sign set by polarity, and spot
// positions that follow the reciprocal lattice of the built structure and rotate with phi.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "tmdflow/core/error.hpp"
#include "tmdflow/core/units.hpp"
#include "tmdflow/sim/multislice.hpp"
#include "tmdflow/sim/structure.hpp"

using namespace tmdflow;
using namespace tmdflow::sim;

namespace {

MultisliceSpec nanobeam(double voltage_kV = 80) {
  MultisliceSpec m;
  m.probe.voltage_kV = voltage_kV;
  m.probe.convergence_mrad = 1.5;
  m.detector.size = 128;
  m.detector.max_mrad = 40;
  m.window_px = 256;
  return m;
}

Structure monolayer(double phi, double extent = 200) {
  StackSpec s;
  s.material = "MoS2";
  s.phi_deg = phi;
  s.extent_x = s.extent_y = extent;
  return build_stack(s);
}

/// Intensity summed in a disc of radius r_px (reciprocal pixels) around frequency (kx, ky) of a raw
/// pattern in FFT order on an n x n grid with pixel dx.
double disc_sum(const std::vector<float>& I, int n, double dx, double kx, double ky, double r_px) {
  const double dk = 1.0 / (n * dx);
  const double u = kx / dk, v = ky / dk;
  double s = 0;
  for (int di = -int(r_px) - 1; di <= int(r_px) + 1; ++di)
    for (int dj = -int(r_px) - 1; dj <= int(r_px) + 1; ++dj) {
      const int i = int(std::lround(v)) + di, j = int(std::lround(u)) + dj;
      if (std::hypot(i - v, j - u) > r_px) continue;
      s += I[std::size_t((i % n + n) % n) * n + std::size_t((j % n + n) % n)];
    }
  return s;
}

/// First-order spot directions of a monolayer of orientation phi: phi + 60 n (degrees).
double triplet_asymmetry(const std::vector<float>& I, int n, double dx, double twist_deg, double g) {
  // Lab-frame triplets fixed by the twist: T+ at twist + {0, 120, 240}, T- at twist + {60, 180, 300}.
  double plus = 0, minus = 0;
  for (int k = 0; k < 6; ++k) {
    const double a = units::deg_to_rad(twist_deg + 60.0 * k);
    const double v = disc_sum(I, n, dx, g * std::cos(a), g * std::sin(a), 4.0);
    (k % 2 == 0 ? plus : minus) += v;
  }
  return (plus - minus) / (plus + minus);
}

}  // namespace

TEST(Multislice, VacuumPatternHoldsTheWholeBeam) {
  Structure empty;
  empty.extent_x = empty.extent_y = 200;
  for (double conv : {1.5, 20.0}) {
    MultisliceSpec m = nanobeam();
    m.probe.convergence_mrad = conv;
    Multislice ms(m, empty);
    std::vector<float> out(std::size_t(2) * 128 * 128);
    ms.row(100.0, {90.0, 101.3}, out.data());
    for (int k = 0; k < 2; ++k) {
      const double total = std::accumulate(out.begin() + k * 128 * 128, out.begin() + (k + 1) * 128 * 128, 0.0);
      EXPECT_NEAR(total, 1.0, 1e-4) << conv << " mrad";
    }
    // The undiffracted beam is centred on pixel (size/2, size/2).
    double s = 0, cx = 0, cy = 0;
    for (int i = 0; i < 128; ++i)
      for (int j = 0; j < 128; ++j) {
        s += out[std::size_t(i) * 128 + j];
        cx += j * out[std::size_t(i) * 128 + j];
        cy += i * out[std::size_t(i) * 128 + j];
      }
    EXPECT_NEAR(cx / s, 64.0, 0.05);
    EXPECT_NEAR(cy / s, 64.0, 0.05);
  }
}

TEST(Multislice, WeakPhaseSingleSliceObeysFriedel) {
  const Structure st = monolayer(17.0);
  MultisliceSpec m = nanobeam();
  m.weak_phase = true;
  m.slice_thickness_A = 10;  // the whole layer in one slice
  Multislice ms(m, st);
  ASSERT_EQ(ms.slices(), 1);
  const auto I = ms.raw_pattern(100.0, 100.0);
  const double g = 2.0 / (std::sqrt(3.0) * 3.160);
  double worst = 0;
  for (int k = 0; k < 6; ++k) {
    const double a = units::deg_to_rad(17.0 + 60.0 * k);
    const double p = disc_sum(I, 256, ms.pixel_A(), g * std::cos(a), g * std::sin(a), 4.0);
    const double q = disc_sum(I, 256, ms.pixel_A(), -g * std::cos(a), -g * std::sin(a), 4.0);
    ASSERT_GT(p, 1e-6);
    worst = std::max(worst, std::abs(p - q) / (p + q));
  }
  EXPECT_LT(worst, 1e-4);
}

TEST(Multislice, MonolayerMoS2BreaksFriedelWithTheSignOfItsPolarity) {
  const double g = 2.0 / (std::sqrt(3.0) * 3.160);
  for (double voltage : {60.0, 80.0}) {
    for (double twist : {7.0, 41.0}) {
      const Structure a = monolayer(twist), b = monolayer(twist + 60.0);
      MultisliceSpec m = nanobeam(voltage);
      Multislice ma(m, a), mb(m, b);
      ASSERT_EQ(ma.slices(), 3);  // S, Mo, S planes
      const double A = triplet_asymmetry(ma.raw_pattern(100, 100), 256, ma.pixel_A(), twist, g);
      const double B = triplet_asymmetry(mb.raw_pattern(100, 100), 256, mb.pixel_A(), twist, g);
      EXPECT_GT(std::abs(A), 0.01) << voltage << " kV, twist " << twist;
      EXPECT_LT(A * B, 0) << "inversion domains must give opposite triplet asymmetry (" << A << ", " << B << ")";
      EXPECT_NEAR(std::abs(A), std::abs(B), 0.2 * std::abs(A));
    }
  }
}

TEST(Multislice, SpotsSitOnTheReciprocalLatticeAndRotateWithPhi) {
  const double a0 = 3.160;
  const double g = 2.0 / (std::sqrt(3.0) * a0);
  for (double phi : {0.0, 23.0, 71.5}) {
    const Structure st = monolayer(phi);
    Multislice ms(nanobeam(), st);
    const auto I = ms.raw_pattern(100, 100);
    const int n = 256;
    const double dk = 1.0 / (n * ms.pixel_A());
    // The six brightest local maxima in the first-order annulus.
    struct Peak { double v, kx, ky; };
    std::vector<Peak> peaks;
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) {
        const double kx = fft_frequency(j, n, ms.pixel_A()), ky = fft_frequency(i, n, ms.pixel_A());
        const double k = std::hypot(kx, ky);
        if (k < 0.8 * g || k > 1.2 * g) continue;
        const float v = I[std::size_t(i) * n + j];
        bool is_max = true;
        for (int di = -2; di <= 2 && is_max; ++di)
          for (int dj = -2; dj <= 2; ++dj)
            if ((di || dj) && I[std::size_t((i + di + n) % n) * n + std::size_t((j + dj + n) % n)] > v) {
              is_max = false;
              break;
            }
        if (!is_max) continue;
        // Sub-pixel centroid of the spot's disc, re-centred until it settles (a nanobeam spot is
        // a flat disc of the aperture's radius, about 3 pixels here).
        double cx = kx, cy = ky;
        for (int it = 0; it < 8; ++it) {
          double s = 0, sx = 0, sy = 0;
          for (int di = -7; di <= 7; ++di)
            for (int dj = -7; dj <= 7; ++dj) {
              const int ii = int(std::lround(cy / dk)) + di, jj = int(std::lround(cx / dk)) + dj;
              const double px = jj * dk, py = ii * dk;
              if (std::hypot(px - cx, py - cy) > 5.5 * dk) continue;
              const double w = I[std::size_t((ii % n + n) % n) * n + std::size_t((jj % n + n) % n)];
              s += w;
              sx += w * px;
              sy += w * py;
            }
          cx = sx / s;
          cy = sy / s;
        }
        peaks.push_back({v, cx, cy});
      }
    std::sort(peaks.begin(), peaks.end(), [](const Peak& x, const Peak& y) { return x.v > y.v; });
    ASSERT_GE(peaks.size(), 6u) << "phi " << phi;
    for (int k = 0; k < 6; ++k) {
      const double r = std::hypot(peaks[std::size_t(k)].kx, peaks[std::size_t(k)].ky);
      EXPECT_NEAR(r, g, 0.005 * g) << "phi " << phi;
      // Spot directions are phi + 60 n.
      const double ang = units::rad_to_deg(std::atan2(peaks[std::size_t(k)].ky, peaks[std::size_t(k)].kx));
      const double off = std::remainder(ang - phi, 60.0);
      EXPECT_LT(std::abs(off), 0.4) << "phi " << phi << ", spot at " << ang << " deg";
    }
  }
}

TEST(Multislice, SamplingErrorsSayWhatToChange) {
  Structure empty;
  MultisliceSpec m = nanobeam();
  m.window_px = 128;  // too coarse for a 128-pixel detector
  try {
    Multislice ms(m, empty);
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("window-px"), std::string::npos) << e.what();
  }
}

TEST(Multislice, DescanShiftMovesThePatternOnTheDetector) {
  Structure empty;
  empty.extent_x = empty.extent_y = 200;
  Multislice ms(nanobeam(), empty);
  std::vector<float> out(std::size_t(2) * 128 * 128);
  const double sx[2] = {0.0, 3.25}, sy[2] = {0.0, -1.5};
  ms.row(100.0, {100.0, 100.0}, out.data(), sx, sy);
  double c[2][2] = {};
  for (int k = 0; k < 2; ++k) {
    double s = 0;
    for (int i = 0; i < 128; ++i)
      for (int j = 0; j < 128; ++j) {
        const double v = out[std::size_t(k) * 128 * 128 + std::size_t(i) * 128 + j];
        s += v;
        c[k][0] += v * j;
        c[k][1] += v * i;
      }
    c[k][0] /= s;
    c[k][1] /= s;
  }
  EXPECT_NEAR(c[1][0] - c[0][0], 3.25, 0.02);
  EXPECT_NEAR(c[1][1] - c[0][1], -1.5, 0.02);
}

TEST(Multislice, RotationTurnsThePatternAsTheLatticeWouldTurn) {
  // The pattern of a 20-degree lattice turned by +7 degrees matches that of a 27-degree lattice,
  // not that of a 13-degree one (the sense of orientation_deg), outside the central disc.
  const Structure a = monolayer(20.0), b = monolayer(27.0), c = monolayer(13.0);
  Multislice ma(nanobeam(), a), mb(nanobeam(), b), mc(nanobeam(), c);
  const std::size_t np = 128 * 128;
  std::vector<float> turned(2 * np), p27(np), p13(np);
  const double rot[2] = {7.0, -7.0};
  ma.row(100.0, {100.0, 100.0}, turned.data(), nullptr, nullptr, rot);
  mb.row(100.0, {100.0}, p27.data());
  mc.row(100.0, {100.0}, p13.data());
  auto corr = [&](const float* x, const float* y) {
    double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0, n = 0;
    for (int i = 0; i < 128; ++i)
      for (int j = 0; j < 128; ++j) {
        if (std::hypot(i - 64.0, j - 64.0) < 10) continue;
        const double u = x[i * 128 + j], v = y[i * 128 + j];
        sx += u, sy += v, sxx += u * u, syy += v * v, sxy += u * v, n += 1;
      }
    return (sxy - sx * sy / n) / std::sqrt((sxx - sx * sx / n) * (syy - sy * sy / n));
  };
  EXPECT_GT(corr(turned.data(), p27.data()), 0.9);
  EXPECT_LT(corr(turned.data(), p13.data()), 0.5);
  EXPECT_GT(corr(turned.data() + np, p13.data()), 0.9);
}

TEST(Multislice, FrozenPhononsDampHighOrderSpotsAndAreDeterministic) {
  const Structure st = monolayer(30.0);
  MultisliceSpec m = nanobeam();
  Multislice still(m, st);
  m.frozen_phonons = 6;
  m.phonon_scale = 3.0;  // exaggerated displacements make the Debye-Waller damping plain
  Multislice warm(m, st), warm_again(m, st);
  const auto a = still.raw_pattern(100, 100), b = warm.raw_pattern(100, 100), b2 = warm_again.raw_pattern(100, 100);
  EXPECT_EQ(b, b2);
  // Third-order spots (|g| = 2 * first order, directions phi + 60 n) lose intensity to the diffuse
  // background: exp(-4 pi^2 u^2 g^2) per Debye-Waller.
  const double g3 = 2.0 * 2.0 / (std::sqrt(3.0) * 3.160);
  double sa = 0, sb = 0;
  for (int k = 0; k < 6; ++k) {
    const double ang = units::deg_to_rad(30.0 + 60.0 * k);
    sa += disc_sum(a, 256, still.pixel_A(), g3 * std::cos(ang), g3 * std::sin(ang), 4.0);
    sb += disc_sum(b, 256, warm.pixel_A(), g3 * std::cos(ang), g3 * std::sin(ang), 4.0);
  }
  EXPECT_LT(sb, 0.9 * sa);
  EXPECT_GT(sb, 0.2 * sa);
}

TEST(Multislice, FocalSpreadIsAnIncoherentSumAndSourceSizeIsRefused) {
  Structure empty;
  empty.extent_x = empty.extent_y = 200;
  MultisliceSpec m = nanobeam();
  m.probe.convergence_mrad = 20;
  m.probe.aberrations.C1 = -50;
  Multislice sharp(m, empty);
  m.probe.defocus_spread_A = 40;
  m.probe.defocus_spread_points = 5;
  Multislice spread(m, empty);
  std::vector<float> a(128 * 128), b(128 * 128);
  sharp.row(100.0, {100.0}, a.data());
  spread.row(100.0, {100.0}, b.data());
  EXPECT_NEAR(std::accumulate(b.begin(), b.end(), 0.0), 1.0, 1e-4);
  // In vacuum the far field is the aperture whatever the focus: the patterns agree.
  double diff = 0;
  for (std::size_t p = 0; p < a.size(); ++p) diff = std::max(diff, double(std::abs(a[p] - b[p])));
  EXPECT_LT(diff, 1e-5);
  m.probe.source_size_A = 0.5;
  EXPECT_THROW(Multislice(m, empty), ConfigError);
}

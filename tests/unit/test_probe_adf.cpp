// Probe and incoherent ADF imaging: normalisation, diffraction-limited width, focal-spread
// quadrature, and ADF column intensities against the computed cross-sections.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "tmdflow/core/units.hpp"
#include "tmdflow/sim/adf.hpp"
#include "tmdflow/sim/elements.hpp"
#include "tmdflow/sim/probe.hpp"
#include "tmdflow/sim/structure.hpp"

using namespace tmdflow;
using namespace tmdflow::sim;

namespace {
// Half-maximum radius of a centred radial profile sampled along +x from pixel (0, 0).
double half_max_radius(const std::vector<double>& I, const Grid& g) {
  const double peak = I[0];
  for (int j = 1; j < g.nx / 2; ++j) {
    if (I[std::size_t(j)] < 0.5 * peak) {
      const double a = I[std::size_t(j - 1)], b = I[std::size_t(j)];
      return (j - 1 + (a - 0.5 * peak) / (a - b)) * g.dx;
    }
  }
  return NAN;
}
}  // namespace

TEST(Probe, IntensityIntegratesToOne) {
  Grid g{256, 256, 0.05, 0.05, 0, 0};
  ProbeSpec p;
  p.voltage_kV = 80;
  p.convergence_mrad = 25;
  for (int variant = 0; variant < 3; ++variant) {
    ProbeSpec q = p;
    if (variant == 1) {
      q.aberrations.C1 = -30;
      q.aberrations.Cs = 1e5;
      q.aberrations.B2 = 200;
    }
    if (variant == 2) {
      q.source_size_A = 0.4;
      q.defocus_spread_A = 30;
    }
    const auto I = probe_intensity(q, g);
    const double integral = std::accumulate(I.begin(), I.end(), 0.0) * g.dx * g.dy;
    EXPECT_NEAR(integral, 1.0, 1e-6) << "variant " << variant;
    for (double v : I) ASSERT_GE(v, -1e-9);
  }
  // The real-space wave of a shifted probe is normalised too, and centred where asked (centroid
  // of the central disc: the Airy tails wrap around the periodic window).
  const auto w = probe_wave_real(p, g, 4.0, 7.5);
  double sum = 0, s = 0, cx = 0, cy = 0;
  for (int i = 0; i < g.ny; ++i)
    for (int j = 0; j < g.nx; ++j) {
      const double v = std::norm(w[std::size_t(i) * g.nx + j]);
      sum += v;
      if (std::hypot(j * g.dx - 4.0, i * g.dy - 7.5) > 1.0) continue;
      s += v;
      cx += v * j * g.dx;
      cy += v * i * g.dy;
    }
  EXPECT_NEAR(sum, 1.0, 1e-5);
  EXPECT_NEAR(cx / s, 4.0, 0.005);
  EXPECT_NEAR(cy / s, 7.5, 0.005);
}

TEST(Probe, WidthMatchesTheDiffractionLimitOfTheAperture) {
  // Airy disc: |2 J1(v)/v|^2 with v = 2 pi alpha r / lambda; FWHM = 0.5145 lambda / alpha.
  for (double alpha_mrad : {20.0, 30.0}) {
    ProbeSpec p;
    p.voltage_kV = 80;
    p.convergence_mrad = alpha_mrad;
    Grid g{1024, 1024, 0.025, 0.025, 0, 0};
    const auto I = probe_intensity(p, g);
    const double lambda = units::electron_wavelength_A(80);
    const double expected = 0.5145 * lambda / (alpha_mrad * 1e-3);
    EXPECT_NEAR(2 * half_max_radius(I, g), expected, 0.03 * expected) << alpha_mrad << " mrad";
    // Defocus and a source size widen it.
    ProbeSpec q = p;
    q.source_size_A = 0.5;
    EXPECT_GT(2 * half_max_radius(probe_intensity(q, g), g), 1.2 * expected);
  }
}

TEST(Probe, GaussHermiteQuadratureIntegratesNormalMoments) {
  for (int n : {1, 3, 7, 12}) {
    std::vector<double> x, w;
    gauss_hermite_normal(n, x, w);
    double m0 = 0, m2 = 0, m4 = 0;
    for (int k = 0; k < n; ++k) {
      m0 += w[std::size_t(k)];
      m2 += w[std::size_t(k)] * x[std::size_t(k)] * x[std::size_t(k)];
      m4 += w[std::size_t(k)] * std::pow(x[std::size_t(k)], 4);
    }
    EXPECT_NEAR(m0, 1.0, 1e-12);
    if (n >= 2) {
      EXPECT_NEAR(m2, 1.0, 1e-10) << n;
    }
    if (n >= 3) {
      EXPECT_NEAR(m4, 3.0, 1e-9) << n;
    }
  }
}

TEST(AdfImage, ColumnIntensitiesFollowTheCrossSections) {
  // MoSe2 monolayer: Se2 columns vs Mo columns at a probe much narrower than their spacing.
  StackSpec s;
  s.material = "MoSe2";
  s.phi_deg = 30;
  s.extent_x = s.extent_y = 40;
  const Structure st = build_stack(s);
  AdfSpec a;
  a.probe.voltage_kV = 80;
  a.probe.convergence_mrad = 32;
  a.inner_mrad = 60;
  a.outer_mrad = 200;
  a.ny = a.nx = 400;
  a.pixel_A = 0.05;
  a.x0 = a.y0 = 10;
  AdfSimulator sim(a);
  std::vector<float> img(std::size_t(a.ny) * a.nx);
  sim.image(st, img.data());
  const double s_mo = sim.cross_section(42), s_se = sim.cross_section(34);
  EXPECT_GT(2 * s_se, s_mo) << "Se2 column must outshine Mo at HAADF angles";
  double mo = 0, se = 0;
  int nmo = 0, nse = 0;
  for (const auto& c : st.columns) {
    const double u = (c.x - a.x0) / a.pixel_A, v = (c.y - a.y0) / a.pixel_A;
    if (u < 20 || v < 20 || u > a.nx - 21 || v > a.ny - 21) continue;
    const double val = img[std::size_t(std::lround(v)) * a.nx + std::size_t(std::lround(u))];
    if (c.sublattice == Sublattice::metal) {
      mo += val;
      ++nmo;
    } else {
      se += val;
      ++nse;
    }
  }
  ASSERT_GT(nmo, 20);
  ASSERT_GT(nse, 20);
  const double measured = (se / nse) / (mo / nmo);
  const double expected = 2 * s_se / s_mo;
  EXPECT_NEAR(measured, expected, 0.05 * expected);
  // Total signal: over the (periodic) padded grid the image integrates to the sum of the
  // deposited atoms' cross-sections (the probe intensity integrates to 1).
  const float* padded = sim.padded_image(st);
  const Grid& pg = sim.padded_grid();
  double total = 0;
  for (std::size_t p = 0; p < pg.size(); ++p) total += padded[p];
  total *= pg.dx * pg.dy;
  double sigma_inside = 0;
  for (const auto& at : st.atoms) {
    const double u = (at.x - pg.x0) / pg.dx, v = (at.y - pg.y0) / pg.dy;
    if (u >= 0 && v >= 0 && u < pg.nx - 1 && v < pg.ny - 1) sigma_inside += sim.cross_section(at.Z);
  }
  EXPECT_NEAR(total, sigma_inside, 1e-4 * sigma_inside);
  // A cross-section is a small area: the fraction of the beam scattered by one atom column at the
  // probe's peak stays well below 1 (Mo at 80 kV, 60-200 mrad: about 0.026 A^2).
  EXPECT_GT(s_mo, 0.01);
  EXPECT_LT(s_mo, 0.05);
  EXPECT_LT(*std::max_element(img.begin(), img.end()), 0.5f);
}

TEST(AdfImage, SubPixelAtomPositionsAreExact) {
  // One atom at a sub-pixel position: the image centroid follows it (the bilinear deposit's blur is
  // undone inside the probe's band limit).
  for (double off : {0.0, 0.013, 0.031}) {
    Structure st;
    Atom at;
    at.Z = 74;
    at.x = 10 + off;
    at.y = 10 - off;
    st.atoms.push_back(at);
    st.extent_x = st.extent_y = 20;
    AdfSpec a;
    a.ny = a.nx = 200;
    a.pixel_A = 0.1;
    AdfSimulator sim(a);
    std::vector<float> img(std::size_t(a.ny) * a.nx);
    sim.image(st, img.data());
    double s = 0, cx = 0, cy = 0;
    for (int i = 0; i < a.ny; ++i)
      for (int j = 0; j < a.nx; ++j) {
        const double v = img[std::size_t(i) * a.nx + j];
        s += v;
        cx += v * j * a.pixel_A;
        cy += v * i * a.pixel_A;
      }
    EXPECT_NEAR(cx / s, at.x, 0.003);
    EXPECT_NEAR(cy / s, at.y, 0.003);
  }
}

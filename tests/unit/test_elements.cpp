#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tmdflow/core/error.hpp"
#include "tmdflow/core/units.hpp"
#include "tmdflow/sim/elements.hpp"

using namespace tmdflow::sim;
using tmdflow::ConfigError;
using tmdflow::units::pi;

namespace {

constexpr double bohr_A = 0.529177210903;

/// Composite Simpson rule with n (even) intervals on [a, b].
double simpson(const std::function<double(double)>& f, double a, double b, int n) {
  const double h = (b - a) / n;
  double s = f(a) + f(b);
  for (int i = 1; i < n; ++i) s += (i % 2 ? 4 : 2) * f(a + i * h);
  return s * h / 3;
}

/// Hankel transform of v_z at spatial frequency q: 2 pi integral v_z(r) J0(2 pi q r) r dr, by
/// Simpson in u = ln r from 1e-7 A (the K0 log singularity is integrable) to 40 A.
double hankel_of_projected_potential(int Z, double q) {
  auto g = [&](double u) {
    const double r = std::exp(u);
    return 2 * pi * projected_potential(Z, r) * std::cyl_bessel_j(0.0, 2 * pi * q * r) * r * r;
  };
  return simpson(g, std::log(1e-7), std::log(40.0), 20000);
}

// Waasmaier & Kirfel, Acta Cryst. A51 (1995) 416: X-ray form factor of the neutral atom,
// f_x(s) = sum_i a_i exp(-b_i s^2) + c with s = sin(theta)/lambda = q/2, valid for s <= 6 1/A.
// Values as in abTEM's abtem/parametrizations/data/waasmaier_kirfel.json (Mo also checked against
// three other copies): an X-ray fit independent of Kirkland's electron fit.
struct XrayRow {
  int Z;
  double a[5], c, b[5];
};
const XrayRow kWaasmaierKirfel[] = {
    {1, {0.413048, 0.294953, 0.187491, 0.080701, 0.023736}, 0.000049, {15.569946, 32.398468, 5.711404, 61.889874, 1.334118}},
    {6, {2.657506, 1.078079, 1.490909, -4.24107, 0.713791}, 4.297983, {14.780758, 0.776775, 42.086842, -0.000294, 0.239535}},
    {7, {11.89378, 3.277479, 1.858092, 0.858927, 0.912985}, -11.804902, {0.000158, 10.232723, 30.34469, 0.656065, 0.217287}},
    {8, {2.960427, 2.508818, 0.637853, 0.722838, 1.142756}, 0.027014, {14.182259, 5.936858, 0.112726, 34.958481, 0.39024}},
    {14, {5.275329, 3.191038, 1.511514, 1.356849, 2.519114}, 0.145073, {2.631338, 33.730728, 0.081119, 86.288643, 1.170087}},
    {16, {6.372157, 5.154568, 1.473732, 1.635073, 1.209372}, 0.154722, {1.514347, 22.092527, 0.061373, 55.445175, 0.646925}},
    {23, {10.473575, 1.547881, 1.986381, 1.865616, 7.05625}, 0.067744, {7.08194, 0.02604, 31.909672, 108.022842, 0.474882}},
    {24, {11.007069, 1.555477, 2.985293, 1.347855, 7.034779}, 0.06551, {6.366281, 0.023987, 23.244839, 105.774498, 0.429369}},
    {34, {17.354071, 4.653248, 4.259489, 4.136455, 6.749163}, -3.160982, {2.349787, 0.00255, 15.57946, 45.181202, 0.177432}},
    {41, {17.958399, 12.063054, 5.007015, 3.287667, 1.531019}, 1.123452, {1.21159, 12.246687, 0.098615, 75.011948, 0.098615}},
    {42, {6.236218, 17.987711, 12.973127, 3.451426, 0.210899}, 1.10877, {0.09078, 1.10831, 11.46872, 66.684151, 0.09078}},
    {52, {6.660302, 6.940756, 19.847015, 1.557175, 17.802427}, -0.806668, {33.031654, 0.02575, 5.065547, 84.101616, 0.48766}},
    {74, {31.5079, 15.682498, 37.960129, 4.885509, 16.792112}, -32.864574, {1.629485, 9.446448, 0.000898, 59.980675, 0.160798}},
    {75, {31.888456, 16.117104, 42.390297, 5.211669, 16.767591}, -37.412682, {1.549238, 9.233474, 0.000689, 54.516373, 0.152815}},
};

double xray_form_factor(const XrayRow& x, double q) {
  const double s2 = 0.25 * q * q;
  double f = x.c;
  for (int i = 0; i < 5; ++i) f += x.a[i] * std::exp(-x.b[i] * s2);
  return f;
}

const std::vector<int> kExpectedTabulated = {1, 6, 7, 8, 14, 16, 23, 24, 34, 41, 42, 52, 74, 75};

}  // namespace

TEST(ElementSymbols, RoundTripForEveryElement) {
  for (int Z = 1; Z <= 103; ++Z) EXPECT_EQ(atomic_number(element_symbol(Z)), Z) << Z;
  EXPECT_EQ(atomic_number("H"), 1);
  EXPECT_EQ(atomic_number("S"), 16);
  EXPECT_EQ(atomic_number("Se"), 34);
  EXPECT_EQ(atomic_number("Mo"), 42);
  EXPECT_EQ(atomic_number("W"), 74);
  EXPECT_EQ(atomic_number("Lr"), 103);
  EXPECT_EQ(element_symbol(52), "Te");
  EXPECT_EQ(element_symbol(75), "Re");
}

TEST(ElementSymbols, UnknownSymbolsAndNumbersAreConfigErrors) {
  EXPECT_THROW(atomic_number("Xx"), ConfigError);
  EXPECT_THROW(atomic_number(""), ConfigError);
  EXPECT_THROW(atomic_number(" Mo"), ConfigError);
  EXPECT_THROW(element_symbol(0), ConfigError);
  EXPECT_THROW(element_symbol(104), ConfigError);
  try {
    atomic_number("MO");
    FAIL() << "MO accepted";
  } catch (const ConfigError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("\"MO\""), std::string::npos) << m;
    EXPECT_NE(m.find("\"Mo\""), std::string::npos) << m;  // suggests the right spelling
  }
}

TEST(KirklandTable, ListsTheTmdflowElementsWithPositiveWidths) {
  EXPECT_EQ(tabulated_elements(), kExpectedTabulated);
  for (int Z : tabulated_elements()) {
    const KirklandParams& p = kirkland_params(Z);
    for (int i = 0; i < 3; ++i) {
      EXPECT_GT(p.b[i], 0) << Z;  // the potential's K0(2 pi r sqrt(b)) and the 1/(q^2+b) need b > 0
      EXPECT_GT(p.d[i], 0) << Z;
    }
  }
  // One full row, from Kirkland's fparams (Mo, Z=42, chisq=0.008976).
  const KirklandParams& mo = kirkland_params(42);
  EXPECT_DOUBLE_EQ(mo.a[0], 6.10160120e-1);
  EXPECT_DOUBLE_EQ(mo.b[2], 5.89590381e+0);
  EXPECT_DOUBLE_EQ(mo.c[1], 2.60380817e-3);
  EXPECT_DOUBLE_EQ(mo.d[2], 1.55114340e-1);
}

TEST(KirklandTable, UntabulatedElementNamesItAndTheTabulatedOnes) {
  try {
    kirkland_params(29);
    FAIL() << "Cu accepted";
  } catch (const ConfigError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("Cu"), std::string::npos) << m;
    EXPECT_NE(m.find("Mo"), std::string::npos) << m;
    EXPECT_NE(m.find("Re"), std::string::npos) << m;
  }
  EXPECT_THROW(kirkland_params(0), ConfigError);
  EXPECT_THROW(kirkland_params(200), ConfigError);
  EXPECT_THROW(scattering_factor(29, 1.0), ConfigError);
  EXPECT_THROW(projected_potential(29, 1.0), ConfigError);
  EXPECT_THROW(default_rms_displacement(29), ConfigError);
}

TEST(KirklandScatteringFactor, MatchesAbtemsParameterCopy) {
  // f_e evaluated with abTEM's copy of the table (abtem/parametrizations/data/kirkland.json, rounded
  // to 10 decimals) and abTEM's kirkland.scattering_factor formula, k2 = q^2.
  const double q[] = {0.0, 0.5, 1.0, 2.0};
  const double mo[] = {10.28949962, 4.343155608, 1.93496668, 0.6950309454};
  const double s[] = {5.172100478, 2.327076121, 0.860596276, 0.2976481284};
  for (int i = 0; i < 4; ++i) {
    EXPECT_NEAR(scattering_factor(42, q[i]), mo[i], 1e-8 * mo[i]) << "Mo q=" << q[i];
    EXPECT_NEAR(scattering_factor(16, q[i]), s[i], 1e-8 * s[i]) << "S q=" << q[i];
  }
  EXPECT_DOUBLE_EQ(scattering_factor(42, -1.0), scattering_factor(42, 1.0));
}

TEST(KirklandScatteringFactor, AgreesWithMottBetheFromIndependentXrayFactors) {
  // Mott-Bethe: f_e(q) = (Z - f_x(q)) / (2 pi^2 a0 q^2), q = 1/d (q = 2 s). Kirkland fitted f_e to
  // relativistic Hartree-Fock; Waasmaier & Kirfel fitted f_x separately. They agree to ~0.5%.
  for (const XrayRow& x : kWaasmaierKirfel) {
    for (double q : {0.25, 0.5, 1.0, 2.0, 4.0, 6.0, 8.0, 12.0}) {
      const double mott = (x.Z - xray_form_factor(x, q)) / (2 * pi * pi * bohr_A * q * q);
      EXPECT_NEAR(scattering_factor(x.Z, q) / mott, 1.0, 0.015) << element_symbol(x.Z) << " q=" << q;
    }
  }
}

TEST(KirklandScatteringFactor, ApproachesRutherfordAtLargeQ) {
  // q^2 f_e 2 pi^2 a0 = Z - f_x(q) -> Z: the core electrons of heavy atoms still screen ~12% at
  // q = 6 1/A (W), less than 6% at q = 12 1/A; the light atoms are within 4% at q = 6 1/A.
  for (int Z : tabulated_elements()) {
    const auto unscreened = [&](double q) { return scattering_factor(Z, q) * q * q * 2 * pi * pi * bohr_A / Z; };
    EXPECT_NEAR(unscreened(6.0), 1.0, Z <= 8 ? 0.04 : 0.13) << element_symbol(Z);
    EXPECT_NEAR(unscreened(12.0), 1.0, 0.06) << element_symbol(Z);
  }
}

TEST(KirklandScatteringFactor, FollowsThePeriodicTrends) {
  auto f0 = [](const char* s) { return scattering_factor(atomic_number(s), 0.0); };
  // f_e(0) is proportional to Z <r^2>: it grows down a group and shrinks along a period.
  EXPECT_LT(f0("S"), f0("Se"));
  EXPECT_LT(f0("Se"), f0("Te"));
  EXPECT_LT(f0("Cr"), f0("Mo"));
  EXPECT_LT(f0("Mo"), f0("W"));
  EXPECT_LT(f0("V"), f0("Nb"));
  EXPECT_LT(f0("C"), f0("Si"));
  EXPECT_LT(f0("O"), f0("S"));
  EXPECT_GT(f0("C"), f0("N"));
  EXPECT_GT(f0("N"), f0("O"));
  EXPECT_LT(f0("H"), f0("O"));
  // Beyond the outer shells (q >= 2 1/A) f_e orders strictly by Z.
  for (double q : {2.0, 6.0}) {
    const auto& z = tabulated_elements();
    for (std::size_t i = 1; i < z.size(); ++i)
      EXPECT_LT(scattering_factor(z[i - 1], q), scattering_factor(z[i], q)) << element_symbol(z[i]) << " q=" << q;
  }
}

TEST(ProjectedPotential, FourierPrefactorIsTwoPiA0E) {
  for (int Z : tabulated_elements())
    for (double q : {0.0, 1.0, 3.0})
      EXPECT_NEAR(projected_potential_fourier(Z, q) / scattering_factor(Z, q), 47.878, 1e-3) << Z;
}

TEST(ProjectedPotential, HankelTransformMatchesFourierValue) {
  for (int Z : {1, 6, 16, 34, 42, 74}) {
    for (double q : {0.0, 1.0}) {
      const double fourier = projected_potential_fourier(Z, q);
      EXPECT_NEAR(hankel_of_projected_potential(Z, q), fourier, 1e-6 * fourier) << element_symbol(Z) << " q=" << q;
    }
  }
}

TEST(ProjectedPotential, IsFinitePositiveAndDecreasing) {
  for (int Z : tabulated_elements()) {
    EXPECT_TRUE(std::isfinite(projected_potential(Z, 0.0))) << Z;
    EXPECT_DOUBLE_EQ(projected_potential(Z, -0.7), projected_potential(Z, 0.7));
    double last = projected_potential(Z, 1e-4);
    for (double r = 0.01; r < 10; r *= 1.3) {
      const double v = projected_potential(Z, r);
      EXPECT_GT(v, 0) << Z << " r=" << r;
      EXPECT_LT(v, last) << Z << " r=" << r;
      last = v;
    }
    EXPECT_EQ(projected_potential(Z, 500.0), 0.0);  // K0 and the Gaussians underflow, no throw
  }
}

TEST(AnnularCrossSection, MatchesSimpsonIntegration) {
  const double gamma80 = 1 + 80.0 / 510.99895;
  const double lambda80 = tmdflow::units::electron_wavelength_A(80.0);
  for (int Z : {1, 16, 34, 42, 74}) {
    for (auto [qi, qo] : {std::pair{0.0, 1.2}, std::pair{1.44, 4.79}, std::pair{0.3, 12.0}}) {
      const double ref = gamma80 * gamma80 * lambda80 * lambda80 *
                         simpson([&](double q) { return std::pow(scattering_factor(Z, q), 2) * 2 * pi * q; }, qi, qo, 40000);
      EXPECT_NEAR(annular_cross_section(Z, qi, qo, 80.0), ref, 1e-8 * ref) << Z << " " << qi << "-" << qo;
    }
  }
}

TEST(AnnularCrossSection, ScalesWithGammaSquaredAndIsAdditive) {
  const double lo = annular_cross_section(42, 1.0, 3.0, 80.0);
  const double g80 = 1 + 80.0 / 510.99895, g300 = 1 + 300.0 / 510.99895;
  const double l80 = tmdflow::units::electron_wavelength_A(80.0), l300 = tmdflow::units::electron_wavelength_A(300.0);
  // |gamma f_e|^2 dOmega with dOmega = lambda^2 2 pi q dq.
  EXPECT_NEAR(annular_cross_section(42, 1.0, 3.0, 300.0) / lo, (g300 * g300 * l300 * l300) / (g80 * g80 * l80 * l80), 1e-10);
  EXPECT_NEAR(annular_cross_section(42, 1.0, 2.0, 80.0) + annular_cross_section(42, 2.0, 3.0, 80.0), lo, 1e-10 * lo);
  EXPECT_EQ(annular_cross_section(42, 2.0, 2.0, 80.0), 0.0);
  EXPECT_THROW(annular_cross_section(42, 3.0, 2.0, 80.0), ConfigError);
  EXPECT_THROW(annular_cross_section(42, -1.0, 2.0, 80.0), ConfigError);
  EXPECT_THROW(annular_cross_section(42, 1.0, INFINITY, 80.0), ConfigError);
  EXPECT_THROW(annular_cross_section(42, 1.0, 2.0, 0.0), ConfigError);
  EXPECT_THROW(annular_cross_section(29, 1.0, 1.0, 80.0), ConfigError);
}

TEST(AnnularCrossSection, HaadfZContrastOfMoSe2AndMoS2) {
  // 80 kV, 60-200 mrad. Published HAADF exponents n = 1.6-1.9 give 2 (34/42)^n = 1.34-1.43 for the
  // Se2 column against Mo; the screened cross-sections give ~1.44 (n ~ 1.56).
  const double lambda = tmdflow::units::electron_wavelength_A(80.0);
  const double qi = tmdflow::units::mrad_to_invA(60.0, lambda), qo = tmdflow::units::mrad_to_invA(200.0, lambda);
  auto sigma = [&](const char* s) { return annular_cross_section(atomic_number(s), qi, qo, 80.0); };
  const double se2_over_mo = 2 * sigma("Se") / sigma("Mo");
  EXPECT_GT(se2_over_mo, 1.2);
  EXPECT_LT(se2_over_mo, 1.6);
  EXPECT_GT(sigma("W"), sigma("Mo"));
  EXPECT_GT(sigma("Mo"), sigma("S"));
  EXPECT_LT(2 * sigma("S"), sigma("Mo"));  // the S2 column of MoS2 is dimmer than Mo
  const auto& z = tabulated_elements();
  for (std::size_t i = 1; i < z.size(); ++i)
    EXPECT_LT(annular_cross_section(z[i - 1], qi, qo, 80.0), annular_cross_section(z[i], qi, qo, 80.0)) << element_symbol(z[i]);
}

TEST(ElementDisplacement, RoomTemperatureDefaults) {
  for (const char* s : {"S", "Se", "Te", "V", "Cr", "Nb", "Mo", "W", "Re"}) {
    EXPECT_GE(default_rms_displacement(atomic_number(s)), 0.05) << s;
    EXPECT_LE(default_rms_displacement(atomic_number(s)), 0.08) << s;
  }
  for (const char* s : {"H", "C", "N", "O"}) EXPECT_DOUBLE_EQ(default_rms_displacement(atomic_number(s)), 0.1) << s;
}

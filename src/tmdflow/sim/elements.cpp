#include "tmdflow/sim/elements.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <limits>

#include "tmdflow/core/error.hpp"
#include "tmdflow/core/units.hpp"

namespace tmdflow::sim {
namespace {

using units::pi;

// Bohr radius (CODATA 2018) and e^2/(4 pi eps0) expressed as e times a potential, in V*Angstrom:
// Kirkland writes them 0.5292 A and 14.4 V*A; with these 2 pi a0 e = 47.8775 V*A^2.
constexpr double bohr_A = 0.529177210903;
constexpr double charge_VA = 14.39964548;

constexpr std::array<const char*, 103> symbols = {
    "H",  "He", "Li", "Be", "B",  "C",  "N",  "O",  "F",  "Ne", "Na", "Mg", "Al", "Si", "P",
    "S",  "Cl", "Ar", "K",  "Ca", "Sc", "Ti", "V",  "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn",
    "Ga", "Ge", "As", "Se", "Br", "Kr", "Rb", "Sr", "Y",  "Zr", "Nb", "Mo", "Tc", "Ru", "Rh",
    "Pd", "Ag", "Cd", "In", "Sn", "Sb", "Te", "I",  "Xe", "Cs", "Ba", "La", "Ce", "Pr", "Nd",
    "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu", "Hf", "Ta", "W",  "Re",
    "Os", "Ir", "Pt", "Au", "Hg", "Tl", "Pb", "Bi", "Po", "At", "Rn", "Fr", "Ra", "Ac", "Th",
    "Pa", "U",  "Np", "Pu", "Am", "Cm", "Bk", "Cf", "Es", "Fm", "Md", "No", "Lr"};

struct ElementRow {
  int Z;
  const char* symbol;
  KirklandParams fe;  // a (1/A), b (1/A^2), c (A), d (A^2)
  double rms_A;       // default thermal displacement per axis at room temperature
};

// Kirkland, Advanced Computing in Electron Microscopy, 2nd ed. (2010), Appendix C, Table C.4: the
// fparams table of his computem programs, taken from slicelib.cpp (Copyright 1998-2019 E. J. Kirkland,
// as carried in github.com/jhuang97/magnetic-temsim-public) and checked number by number against
// three other copies: the 2015 slicelib.cpp in github.com/CY-Zhang/MultisliceCPP (identical),
// abTEM's abtem/parametrizations/data/kirkland.json (equal to its 10 decimals) and prismatic's
// include/kirkland_params.h (equal to its 7 significant digits).
//
// Default displacements per axis, u_rms = sqrt(B / (8 pi^2)) for a Debye-Waller factor B: estimates
// of room-temperature values, to be overridden per structure when measured ones are known. Metals
// in a TMD layer 0.06 A (B ~ 0.28 A^2), the lighter, outer chalcogens 0.07 A (B ~ 0.39 A^2), in the
// range of crystallographic refinements of bulk TMDs; Si 0.075 A (bulk Si at 295 K, B ~ 0.46 A^2);
// H, C, N, O are contamination or adsorbates, loosely bound: 0.1 A.
constexpr ElementRow kTable[] = {
    // Z, symbol, {a1 a2 a3}, {b1 b2 b3}, {c1 c2 c3}, {d1 d2 d3}, u_rms
    {1, "H",
     {{4.20298324e-3, 6.27762505e-2, 3.00907347e-2},
      {2.25350888e-1, 2.25366950e-1, 2.25331756e-1},
      {6.77756695e-2, 3.56609237e-3, 2.76135815e-2},
      {4.38854001e+0, 4.03884823e-1, 1.44490166e+0}},
     0.10},
    {6, "C",
     {{2.12080767e-1, 1.99811865e-1, 1.68254385e-1},
      {2.08605417e-1, 2.08610186e-1, 5.57870773e+0},
      {1.42048360e-1, 3.63830672e-1, 8.35012044e-4},
      {1.33311887e+0, 3.80800263e+0, 4.03982620e-2}},
     0.10},
    {7, "N",
     {{5.33015554e-1, 5.29008883e-2, 9.24159648e-2},
      {2.90952515e-1, 1.03547896e+1, 1.03540028e+1},
      {2.61799101e-1, 8.80262108e-4, 1.10166555e-1},
      {2.76252723e+0, 3.47681236e-2, 9.93421736e-1}},
     0.10},
    {8, "O",
     {{3.39969204e-1, 3.07570172e-1, 1.30369072e-1},
      {3.81570280e-1, 3.81571436e-1, 1.91919745e+1},
      {8.83326058e-2, 1.96586700e-1, 9.96220028e-4},
      {7.60635525e-1, 2.07401094e+0, 3.03266869e-2}},
     0.10},
    {14, "Si",
     {{1.06543892e+0, 1.20143691e-1, 1.80915263e-1},
      {1.04118455e+0, 6.87113368e+1, 8.87533926e-2},
      {1.12065620e+0, 3.05452816e-2, 1.59963502e+0},
      {3.70062619e+0, 2.14097897e-1, 9.99096638e+0}},
     0.075},
    {16, "S",
     {{1.01646916e+0, 4.41766748e-1, 1.21503863e-1},
      {1.69181965e+0, 1.74180288e-1, 1.67011091e+2},
      {8.27966670e-1, 2.33022533e-2, 1.18302846e+0},
      {2.30342810e+0, 1.56954150e-1, 5.85782891e+0}},
     0.07},
    {23, "V",
     {{3.52961378e-1, 7.46791014e-1, 1.08364068e+0},
      {8.19204103e-2, 8.81189511e+0, 5.10646075e-1},
      {1.39013610e+0, 3.31273356e-1, 1.40422612e-2},
      {1.48901841e+1, 8.38543079e-1, 6.57432678e-2}},
     0.06},
    {24, "Cr",
     {{1.34348379e+0, 5.07040328e-1, 4.26358955e-1},
      {1.25814353e+0, 1.15042811e+1, 8.53660389e-2},
      {1.17241826e-2, 5.11966516e-1, 3.38285828e-1},
      {6.00177061e-2, 1.53772451e+0, 6.62418319e-1}},
     0.06},
    {34, "Se",
     {{9.58390681e-1, 6.03851342e-1, 1.90828931e+0},
      {1.83775557e-1, 1.96819224e+2, 2.15082053e+0},
      {1.73885956e-1, 9.35265145e-1, 8.62254658e-3},
      {3.00006024e-1, 4.92471215e+0, 2.12308108e-2}},
     0.07},
    {41, "Nb",
     {{6.59532875e-1, 1.84545854e+0, 1.25584405e+0},
      {8.66145490e-2, 5.94774398e+0, 6.40851475e-1},
      {1.22253422e-1, 7.06638328e-1, 2.62381591e-3},
      {1.66646050e-1, 1.62853268e+0, 8.26257859e-3}},
     0.06},
    {42, "Mo",
     {{6.10160120e-1, 1.26544000e+0, 1.97428762e+0},
      {9.11628054e-2, 5.06776025e-1, 5.89590381e+0},
      {6.48028962e-1, 2.60380817e-3, 1.13887493e-1},
      {1.46634108e+0, 7.84336311e-3, 1.55114340e-1}},
     0.06},
    {52, "Te",
     {{2.09383882e+0, 1.56940519e+0, 1.30941993e+0},
      {1.26856869e+1, 1.21236537e+0, 1.66633292e-1},
      {6.98067804e-2, 1.04969537e+0, 5.55594354e-1},
      {8.30817576e-2, 7.43147857e+0, 6.17487676e-1}},
     0.07},
    {74, "W",
     {{9.24906855e-1, 2.75554557e+0, 3.30440060e+0},
      {1.28663377e-1, 7.65826479e-1, 1.34471170e+1},
      {3.29973862e-1, 1.09916444e+0, 2.06498883e-2},
      {1.98218895e-1, 1.35087534e+1, 3.38918459e-2}},
     0.06},
    {75, "Re",
     {{1.96952105e+0, 1.21726619e+0, 4.10391685e+0},
      {4.98830620e+1, 1.33243809e-1, 1.84396916e+0},
      {2.90791978e-2, 2.30696669e-1, 6.08840299e-1},
      {2.84192813e-2, 1.90968784e-1, 1.37090356e+0}},
     0.06},
};

std::string tabulated_list() {
  std::string s;
  for (const auto& row : kTable) s += (s.empty() ? "" : ", ") + std::string(row.symbol);
  return s;
}

std::string describe(int Z) {
  if (Z >= 1 && Z <= int(symbols.size())) return std::string(symbols[std::size_t(Z - 1)]) + " (Z=" + std::to_string(Z) + ")";
  return "Z=" + std::to_string(Z);
}

const ElementRow& row_of(int Z) {
  for (const auto& row : kTable)
    if (row.Z == Z) return row;
  throw ConfigError("element " + describe(Z) + ": no Kirkland scattering parameters are tabulated for it; tabulated: " +
                    tabulated_list());
}

/// n-point Gauss-Legendre nodes and weights on [-1, 1] (Newton on P_n from the Chebyshev guess).
struct GaussLegendre {
  explicit GaussLegendre(int n) : x(std::size_t(n)), w(std::size_t(n)) {
    for (int i = 0; i < n; ++i) {
      double t = std::cos(pi * (i + 0.75) / (n + 0.5)), dp = 1;
      for (int iter = 0; iter < 100; ++iter) {
        double p0 = 1, p1 = t;
        for (int k = 2; k <= n; ++k) {
          const double p2 = ((2 * k - 1) * t * p1 - (k - 1) * p0) / k;
          p0 = p1;
          p1 = p2;
        }
        dp = n * (t * p1 - p0) / (t * t - 1);
        const double step = p1 / dp;
        t -= step;
        if (std::abs(step) < 1e-15) break;
      }
      x[std::size_t(i)] = t;
      w[std::size_t(i)] = 2 / ((1 - t * t) * dp * dp);
    }
  }
  std::vector<double> x, w;
};

}  // namespace

int atomic_number(const std::string& symbol) {
  for (std::size_t i = 0; i < symbols.size(); ++i)
    if (symbol == symbols[i]) return int(i) + 1;
  std::string hint;
  for (std::size_t i = 0; i < symbols.size(); ++i) {
    const std::string s = symbols[i];
    const bool same = s.size() == symbol.size() &&
                      std::equal(s.begin(), s.end(), symbol.begin(), [](char a, char b) {
                        return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
                      });
    if (same) hint = " (did you mean \"" + s + "\"? symbols are case-sensitive)";
  }
  throw ConfigError("element symbol: expected a chemical symbol H..Lr such as \"Mo\", found \"" + symbol + "\"" + hint);
}

std::string element_symbol(int Z) {
  if (Z < 1 || Z > int(symbols.size()))
    throw ConfigError("atomic number: expected 1..103, found " + std::to_string(Z));
  return symbols[std::size_t(Z - 1)];
}

const std::vector<int>& tabulated_elements() {
  static const std::vector<int> list = [] {
    std::vector<int> z;
    for (const auto& row : kTable) z.push_back(row.Z);
    return z;
  }();
  return list;
}

const KirklandParams& kirkland_params(int Z) { return row_of(Z).fe; }

double scattering_factor(int Z, double q_invA) {
  const KirklandParams& p = kirkland_params(Z);
  const double q2 = q_invA * q_invA;
  double f = 0;
  for (int i = 0; i < 3; ++i) f += p.a[i] / (q2 + p.b[i]) + p.c[i] * std::exp(-p.d[i] * q2);
  return f;
}

double projected_potential(int Z, double r_A) {
  const KirklandParams& p = kirkland_params(Z);
  // K0 diverges at 0 (std::cyl_bessel_k returns inf): evaluate at 1e-10 A there, as Kirkland's vzatom.
  const double r = std::max(std::abs(r_A), 1e-10);
  double lorentz = 0, gauss = 0;
  for (int i = 0; i < 3; ++i) {
    lorentz += p.a[i] * std::cyl_bessel_k(0.0, 2 * pi * r * std::sqrt(p.b[i]));
    gauss += p.c[i] / p.d[i] * std::exp(-pi * pi * r * r / p.d[i]);
  }
  return 4 * pi * pi * bohr_A * charge_VA * lorentz + 2 * pi * pi * bohr_A * charge_VA * gauss;
}

double projected_potential_fourier(int Z, double q_invA) {
  return 2 * pi * bohr_A * charge_VA * scattering_factor(Z, q_invA);
}

double annular_cross_section(int Z, double q_in_invA, double q_out_invA, double voltage_kV) {
  if (!(q_in_invA >= 0) || !(q_out_invA >= q_in_invA) || !std::isfinite(q_out_invA))
    throw ConfigError("annular cross-section: expected finite spatial frequencies 0 <= q_in <= q_out, found q_in=" +
                      std::to_string(q_in_invA) + ", q_out=" + std::to_string(q_out_invA) + " 1/A");
  if (!(voltage_kV > 0))
    throw ConfigError("annular cross-section: expected a positive voltage in kV, found " + std::to_string(voltage_kV));
  kirkland_params(Z);  // names the element when it is not tabulated, even for an empty annulus
  const double rest_keV = units::electron_mass * units::speed_of_light * units::speed_of_light / units::elementary_charge / 1e3;
  const double gamma = 1 + voltage_kV / rest_keV;

  // f_e^2 q falls like q^-3 beyond ~1/A and varies on ~sqrt(b) near 0: composite Gauss-Legendre on
  // panels uniform in u = ln(q + q0), dq = (q + q0) du. Converged to ~1e-12 relative.
  constexpr double q0 = 0.1;
  constexpr int panels = 96;
  static const GaussLegendre gl(12);
  const double u0 = std::log(q_in_invA + q0), u1 = std::log(q_out_invA + q0), h = (u1 - u0) / panels;
  double sum = 0;
  for (int k = 0; k < panels; ++k) {
    const double mid = u0 + (k + 0.5) * h;
    for (std::size_t j = 0; j < gl.x.size(); ++j) {
      const double e = std::exp(mid + 0.5 * h * gl.x[j]);
      const double q = e - q0;
      const double f = scattering_factor(Z, q);
      sum += gl.w[j] * f * f * 2 * pi * q * e;
    }
  }
  // Solid angle: dOmega = 2 pi theta dtheta = lambda^2 2 pi q dq (small angles).
  const double lambda = units::electron_wavelength_A(voltage_kV);
  return gamma * gamma * lambda * lambda * sum * 0.5 * h;
}

double default_rms_displacement(int Z) { return row_of(Z).rms_A; }

}  // namespace tmdflow::sim

#include "tmdflow/core/units.hpp"

#include <cmath>

namespace tmdflow::units {

double electron_wavelength_A(double voltage_kV) {
  const double V = voltage_kV * 1e3;
  const double eV = elementary_charge * V;
  const double mc2 = electron_mass * speed_of_light * speed_of_light;
  const double p = std::sqrt(2.0 * electron_mass * eV * (1.0 + eV / (2.0 * mc2)));
  return planck_h / p * 1e10;
}

double interaction_parameter(double voltage_kV) {
  const double V = voltage_kV * 1e3;
  const double mc2 = electron_mass * speed_of_light * speed_of_light;
  const double m = electron_mass * (1.0 + elementary_charge * V / mc2);
  const double lambda_m = electron_wavelength_A(voltage_kV) * 1e-10;
  // rad / (V m) -> rad / (V Angstrom)
  return 2.0 * pi * m * elementary_charge * lambda_m / (planck_h * planck_h) * 1e-10;
}

}  // namespace tmdflow::units

#pragma once
// Units and electron-optical conversions. Conventions (data_schema/conventions.md):
// lengths in Angstrom, reciprocal lengths in 1/Angstrom (no 2*pi), electron-optical angles in mrad.

namespace tmdflow::units {

constexpr double pi = 3.14159265358979323846;
// CODATA 2018
constexpr double planck_h = 6.62607015e-34;        // J s
constexpr double electron_mass = 9.1093837015e-31;  // kg
constexpr double elementary_charge = 1.602176634e-19;  // C
constexpr double speed_of_light = 299792458.0;      // m/s

/// Relativistic electron wavelength in Angstrom for an accelerating voltage in kV.
double electron_wavelength_A(double voltage_kV);

/// Relativistic interaction parameter sigma in rad/(V*Angstrom) (Kirkland, Advanced Computing in
/// Electron Microscopy, 2nd ed., eq. 5.6): sigma = 2 pi m e lambda / h^2 with relativistic m.
double interaction_parameter(double voltage_kV);

/// Scattering angle (mrad) to spatial frequency (1/Angstrom): q = theta / lambda (small angle).
inline double mrad_to_invA(double mrad, double wavelength_A) { return mrad * 1e-3 / wavelength_A; }
inline double invA_to_mrad(double q_invA, double wavelength_A) { return q_invA * wavelength_A * 1e3; }

inline double deg_to_rad(double d) { return d * pi / 180.0; }
inline double rad_to_deg(double r) { return r * 180.0 / pi; }

}  // namespace tmdflow::units

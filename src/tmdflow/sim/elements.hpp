#pragma once
// Elements and their electron scattering: Kirkland's parameterisation of the elastic electron
// scattering factor (E. J. Kirkland, Advanced Computing in Electron Microscopy, 2nd ed., Springer
// 2010, Appendix C, Table C.4; fitted to relativistic Hartree-Fock), its projected potential and
// the cross-section an annular detector collects. Spatial frequencies q in 1/Angstrom (no 2 pi).
#include <string>
#include <vector>

namespace tmdflow::sim {

/// Kirkland's 12 fitting parameters: f_e(q) = sum_i a_i / (q^2 + b_i) + sum_i c_i exp(-d_i q^2).
struct KirklandParams {
  double a[3], b[3], c[3], d[3];
};

/// Atomic number of an element symbol ("Mo" -> 42). Throws ConfigError for an unknown symbol.
int atomic_number(const std::string& symbol);
/// Symbol of an atomic number (42 -> "Mo"). Throws ConfigError when Z is outside 1..103.
std::string element_symbol(int Z);

/// Elements whose parameters are tabulated (every element a structure builder can make).
const std::vector<int>& tabulated_elements();
/// Parameters of element Z; throws ConfigError naming the element when it is not tabulated.
const KirklandParams& kirkland_params(int Z);

/// Electron scattering factor f_e(q) in Angstrom (non-relativistic; multiply by gamma = m/m0
/// for the relativistic amplitude).
double scattering_factor(int Z, double q_invA);

/// Projected atomic potential v_z(r) in V*Angstrom at in-plane distance r (Angstrom) from the
/// nucleus (Kirkland eq. 5.15): 4 pi^2 a0 e sum a_i K0(2 pi r sqrt(b_i)) + 2 pi^2 a0 e sum
/// (c_i/d_i) exp(-pi^2 r^2 / d_i). Diverges (logarithmically) at r = 0: r below 1e-10 A is
/// evaluated at 1e-10 A; callers sampling a grid average or clamp near the nucleus.
double projected_potential(int Z, double r_A);

/// 2-D Fourier transform of the projected potential, integral of v_z(r) exp(-2 pi i q.r) d^2r, in
/// V*Angstrom^3: 2 pi a0 e f_e(q), with 2 pi a0 e = 47.878 V*Angstrom^2 (a0 Bohr radius, e = 14.4 V*A).
double projected_potential_fourier(int Z, double q_invA);

/// Elastic cross-section (Angstrom^2) collected by an annular detector between spatial
/// frequencies q_in and q_out: integral |gamma f_e|^2 dOmega = gamma^2 lambda^2 * integral_{q_in}^{q_out}
/// |f_e(q)|^2 2 pi q dq (dOmega = lambda^2 2 pi q dq at small angles), with
/// gamma the relativistic mass ratio at the given voltage. This is the incoherent ADF object
/// strength of one atom (the incoSTEM model); not a fixed power law of Z. Needs finite
/// 0 <= q_in <= q_out and a positive voltage (ConfigError otherwise).
double annular_cross_section(int Z, double q_in_invA, double q_out_invA, double voltage_kV);

/// Default root-mean-square thermal displacement along one axis (Angstrom) for frozen phonons at
/// room temperature (data_schema/potentials.md); throws ConfigError for an untabulated element.
double default_rms_displacement(int Z);

}  // namespace tmdflow::sim

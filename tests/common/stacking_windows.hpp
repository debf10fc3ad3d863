#pragma once
// Ground-truth windows for the stacking fit's tests and benchmark: stacks built by the simulation
// engine's builder (sim::build_stack, as make-trainset) and imaged by sim::AdfSimulator with its
// real probe -- independent of the fit's Gaussian forward model (analysis/stacking_model.hpp).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "tmdflow/sim/adf.hpp"
#include "tmdflow/sim/random.hpp"
#include "tmdflow/sim/realism.hpp"
#include "tmdflow/sim/structure.hpp"

namespace tmdflow::testing::stacking_windows {

/// Microscope and sampling of a window.
struct WindowConditions {
  double voltage_kV = 300, convergence_mrad = 21.3, inner_mrad = 39, outer_mrad = 200;
  double defocus_A = 35, source_size_A = 0.6, pixel_A = 0.12;
  sim::ProbeSpec probe() const {
    sim::ProbeSpec p;
    p.voltage_kV = voltage_kV, p.convergence_mrad = convergence_mrad;
    p.aberrations.C1 = -defocus_A;  // underfocus
    p.source_size_A = source_size_A;
    return p;
  }
};
/// The published ReS2 / ReSe2 conditions (issue 15).
inline WindowConditions rhenium_conditions() { return {300, 21.3, 39, 200, 35, 0.6, 0.12}; }
/// The published MoS2 conditions (60 kV, 31.5 mrad, ADF 49.5-198 mrad, 0.06 A); defocus and source
/// size are not published: in focus, a 0.3 A source.
inline WindowConditions mos2_conditions() { return {60, 31.5, 49.5, 198, 0, 0.3, 0.06}; }

/// What a window shows.
struct StackTruth {
  std::string material = "ReS2", stacking = "AA";
  int layers = 2;
  std::vector<double> slip_x_A, slip_y_A;   // per interface, canonical frame (layer k+1 vs layer k minus registry)
  double twist_deg = 0;                     // layer 1 (build_stack's pivot convention)
  double origin_x_A = 0, origin_y_A = 0;    // layer 0's cell origin relative to the window centre
  double affine[4] = {1, 0, 0, 1};          // applied to the whole stack about layer 0's origin
  double bottom_rotation_deg = 0;           // MX2: 0 (phi = 30) or 60 (phi = 90)
  double vacancy = 0;                       // chalcogen single vacancies, fraction of sites
  double contamination_per_A2 = 0;          // amorphous carbon on the exit surface (a 6 A slab, as make-trainset)
  double contamination_thickness_A = 0;     // or an amorphous slab this thick on the exit surface, 0.1 atoms/A^3
  int contamination_Z = 6;                  // of this element (carbon: 2 g/cm^3)
  double hole_radius_A = 0;                 // a hole (vacuum through the stack) of this radius ...
  double hole_x_A = 0, hole_y_A = 0;        // ... centred here, relative to the window centre
  std::uint64_t seed = 1;
};

/// The stack's atoms in a field of extent x extent Angstrom, layer 0's cell origin at its centre,
/// as sim::build_stack (the trainset's builder) makes them.
inline sim::Structure build_truth_stack(const StackTruth& t, double extent) {
  sim::StackSpec spec;
  spec.material = t.material, spec.layers = t.layers, spec.stacking = t.stacking;
  if (sim::layer_cell(t.material).triclinic) spec.rotation_deg = t.bottom_rotation_deg;
  else spec.phi_deg = 30 + t.bottom_rotation_deg;
  spec.extent_x = spec.extent_y = extent;
  spec.seed = t.seed;
  spec.defects.chalcogen_single_vacancy = t.vacancy;
  // build_stack's slips are per layer (cumulative over the interfaces) in fractions of its own
  // bottom-layer a1, a2.
  const sim::BaseVectors b = sim::stack_base_vectors(spec);
  const double det = b.a1[0] * b.a2[1] - b.a1[1] * b.a2[0];
  double x = 0, y = 0;
  for (int k = 1; k < t.layers; ++k) {
    x += t.slip_x_A[std::size_t(k - 1)], y += t.slip_y_A[std::size_t(k - 1)];
    spec.slip_a.push_back((x * b.a2[1] - y * b.a2[0]) / det), spec.slip_b.push_back((b.a1[0] * y - b.a1[1] * x) / det);
    spec.twist_deg.push_back(k == 1 ? t.twist_deg : 0.0);
  }
  sim::Structure s = sim::build_stack(spec);
  const double c = extent / 2;
  for (auto& a : s.atoms) {
    const double x = a.x - c, y = a.y - c;
    a.x = c + t.affine[0] * x + t.affine[1] * y, a.y = c + t.affine[2] * x + t.affine[3] * y;
  }
  if (t.contamination_per_A2 > 0) sim::add_surface_contamination(s, t.contamination_per_A2, t.seed + 17);
  if (t.contamination_thickness_A > 0) {
    double top = 0;
    for (const auto& a : s.atoms) top = std::max(top, a.z);
    sim::add_amorphous_layer(s, t.contamination_Z, 0.1 * t.contamination_thickness_A, top + 1.5, t.contamination_thickness_A, 1.3,
                             t.seed + 17);
  }
  return s;
}

/// The noise-free n x n window of `t` (values: fraction of the beam on the detector).
inline std::vector<float> simulate_window(const StackTruth& t, const WindowConditions& c, int n) {
  sim::AdfSpec spec;
  spec.probe = c.probe();
  spec.inner_mrad = c.inner_mrad, spec.outer_mrad = c.outer_mrad;
  spec.ny = spec.nx = n;
  spec.pixel_A = c.pixel_A;
  double slip = 0;
  for (std::size_t k = 0; k < t.slip_x_A.size(); ++k) slip += std::hypot(t.slip_x_A[k], t.slip_y_A[k]);
  const double extent = n * c.pixel_A + 2 * (spec.margin_A + 4 + slip + std::hypot(t.origin_x_A, t.origin_y_A)) + 0.05 * n * c.pixel_A;
  sim::Structure s = build_truth_stack(t, extent);
  if (t.hole_radius_A > 0) {
    const double hx = extent / 2 - t.origin_x_A + t.hole_x_A, hy = extent / 2 - t.origin_y_A + t.hole_y_A;
    s.atoms.erase(std::remove_if(s.atoms.begin(), s.atoms.end(),
                                 [&](const sim::Atom& a) { return std::hypot(a.x - hx, a.y - hy) < t.hole_radius_A; }),
                  s.atoms.end());
  }
  spec.x0 = extent / 2 - t.origin_x_A - 0.5 * (n - 1) * c.pixel_A;
  spec.y0 = extent / 2 - t.origin_y_A - 0.5 * (n - 1) * c.pixel_A;
  sim::AdfSimulator simulator(spec);
  std::vector<float> out(std::size_t(n) * n);
  simulator.image(s, out.data());
  return out;
}

/// Counting noise at `dose` electrons per A^2.
inline void add_dose_noise(std::vector<float>& w, double dose_per_A2, double pixel_A, std::uint64_t seed) {
  sim::add_counting_noise(w.data(), w.size(), dose_per_A2 * pixel_A * pixel_A, 0.0, sim::rng::key(seed, 0x646f7365ULL));
}

/// Gaussian noise down to a PSNR (dB) whose peak is the window's range (as learn/augment.hpp).
inline void add_psnr_noise(std::vector<float>& w, double psnr_dB, std::uint64_t seed) {
  const auto [lo, hi] = std::minmax_element(w.begin(), w.end());
  const double sigma = (*hi - *lo) / std::pow(10.0, psnr_dB / 20);
  sim::rng::Stream g(sim::rng::key(seed, 0x70736e72ULL));
  for (float& v : w) v += float(sigma * g.normal());
}

}  // namespace tmdflow::testing::stacking_windows

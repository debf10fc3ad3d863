#pragma once
// Small ADF images of TMD layers and stacks from the simulation engine, for the lattice-finder and
// canonical-window tests. 1T'' stacks are made as the incoherent model makes them: the image of a
// stack of layers of one orientation is the sum of the images of translated copies of one layer.
#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "tmdflow/par/random.hpp"
#include "tmdflow/sim/adf.hpp"
#include "tmdflow/sim/structure.hpp"

namespace tmdflow::testing {

struct TestImage {
  int size = 0;
  double pixel_A = 0;
  std::vector<float> pixels;
  double centre_row = 0, centre_col = 0;  // image position of the structure's centre (a metal site / cell origin)
};

/// Microscope of the published ReS2 data (300 kV) or MoS2 data (60 kV).
inline sim::AdfSpec adf_spec(const std::string& material, int size, double pixel_A, double x0, double y0) {
  sim::AdfSpec a;
  const bool rhenium = material == "ReS2" || material == "ReSe2";
  a.probe.voltage_kV = rhenium ? 300 : 60;
  a.probe.convergence_mrad = rhenium ? 21.3 : 31.5;
  a.inner_mrad = rhenium ? 39 : 49.5;
  a.outer_mrad = rhenium ? 200 : 198;
  a.ny = a.nx = size;
  a.pixel_A = pixel_A;
  a.x0 = x0, a.y0 = y0;
  return a;
}

/// An MX2 stack (sim::build_stack, its defects included) imaged over size x size pixels, with
/// amorphous carbon on the exit surface (atoms per A^2).
inline TestImage mx2_image(const sim::StackSpec& base, int size, double pixel_A, double contamination = 0) {
  const double margin = 12;
  sim::StackSpec spec = base;
  spec.extent_x = spec.extent_y = size * pixel_A + 2 * margin;
  sim::Structure s = sim::build_stack(spec);
  if (contamination > 0) sim::add_surface_contamination(s, contamination, spec.seed + 17);
  sim::AdfSimulator simulator(adf_spec(spec.material, size, pixel_A, margin, margin));
  TestImage t;
  t.size = size, t.pixel_A = pixel_A;
  t.pixels.resize(std::size_t(size) * size);
  simulator.image(s, t.pixels.data());
  t.centre_col = t.centre_row = (spec.extent_x / 2 - margin) / pixel_A;
  return t;
}

/// A 1T'' stack: layer k a copy of the monolayer (rotation_deg) translated by slips[k] (Angstrom,
/// image frame; slips[0] is the bottom layer's, usually (0, 0)).
inline TestImage triclinic_image(const std::string& material, double rotation_deg, const std::vector<std::array<double, 2>>& slips,
                                 int size, double pixel_A, std::uint64_t seed = 1, const sim::DefectSpec& defects = {},
                                 double contamination = 0) {
  const double margin = 12;
  double reach = 0;
  for (const auto& s : slips) reach = std::max({reach, std::abs(s[0]), std::abs(s[1])});
  sim::TriclinicSpec spec;
  spec.material = material;
  spec.rotation_deg = rotation_deg;
  spec.extent_x = spec.extent_y = size * pixel_A + 2 * (margin + reach);
  spec.defects = defects;
  TestImage t;
  t.size = size, t.pixel_A = pixel_A;
  t.pixels.assign(std::size_t(size) * size, 0.0f);
  std::vector<float> layer(t.pixels.size());
  for (std::size_t k = 0; k < slips.size(); ++k) {
    // Each layer its own vacancies (seed); the image of the layer translated by +slip is the
    // layer's image read from x0 - slip.
    spec.seed = seed + 101 * k;
    sim::Structure s = sim::build_1t_double_prime(spec);
    if (contamination > 0 && k + 1 == slips.size()) sim::add_surface_contamination(s, contamination, seed + 17);
    const auto& slip = slips[k];
    sim::AdfSimulator simulator(adf_spec(material, size, pixel_A, margin + reach - slip[0], margin + reach - slip[1]));
    simulator.image(s, layer.data());
    for (std::size_t p = 0; p < layer.size(); ++p) t.pixels[p] += layer[p];
  }
  t.centre_col = t.centre_row = (spec.extent_x / 2 - margin - reach) / pixel_A;
  return t;
}

/// The mirror image y -> -y (rows reversed): a sample seen from its other side.
inline void mirror_rows(TestImage& t) {
  for (int i = 0; i < t.size / 2; ++i)
    std::swap_ranges(t.pixels.begin() + std::ptrdiff_t(i) * t.size, t.pixels.begin() + std::ptrdiff_t(i + 1) * t.size,
                     t.pixels.begin() + std::ptrdiff_t(t.size - 1 - i) * t.size);
  t.centre_row = t.size - 1 - t.centre_row;
}

/// Gaussian noise for a peak signal-to-noise ratio: PSNR = 20 log10(range / sigma) dB.
inline void add_noise(TestImage& t, double psnr_dB, std::uint64_t seed) {
  const auto [lo, hi] = std::minmax_element(t.pixels.begin(), t.pixels.end());
  const double sigma = (*hi - *lo) / std::pow(10.0, psnr_dB / 20);
  par::rng::Stream g(par::rng::key(seed, 77));
  for (auto& v : t.pixels) v += float(sigma * g.normal());
}

/// Pearson correlation of two images of one size.
inline double correlation(const std::vector<float>& a, const std::vector<float>& b) {
  const double n = double(a.size());
  const double ma = std::accumulate(a.begin(), a.end(), 0.0) / n, mb = std::accumulate(b.begin(), b.end(), 0.0) / n;
  double sab = 0, saa = 0, sbb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) sab += (a[i] - ma) * (b[i] - mb), saa += (a[i] - ma) * (a[i] - ma), sbb += (b[i] - mb) * (b[i] - mb);
  return sab / std::sqrt(saa * sbb);
}

}  // namespace tmdflow::testing

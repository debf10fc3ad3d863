#pragma once
// Deterministic synthetic nanobeam datacubes: a scan divided into Voronoi domains, each with a
// hexagonal spot pattern of its own orientation; first-order spots alternate in brightness by
// polarity (a crude stand-in for Friedel-law breaking). For demos and I/O tests only; physical
// patterns come from the multislice engine.
#include <cstdint>
#include <vector>

namespace tmdflow::sim {

struct SyntheticDatacubeSpec {
  std::int64_t scan_rows = 32, scan_cols = 32;       // Rx, Ry
  std::int64_t det_rows = 64, det_cols = 64;         // Qx, Qy
  int domains = 4;
  double spot_radius_px = 16.0;     // first-order ring radius (pixels)
  double disc_sigma_px = 1.5;       // Gaussian width of spots and central beam (pixels)
  double asymmetry = 0.3;           // relative triplet brightness difference
  double counts_per_pattern = 0.0;  // > 0: Poisson noise with this mean total
  std::uint64_t seed = 1;
};

struct SyntheticDomains {
  std::vector<std::int32_t> label;        // Rx*Ry domain id
  std::vector<double> orientation_deg;    // per domain, [0, 120)
  std::vector<double> strength;           // per domain, Bragg-spot scale in [0.6, 1.4]
  std::vector<double> tilt_x_px, tilt_y_px;  // per domain, pattern shift [pixels]
  std::vector<std::int64_t> centre_row, centre_col;
};

/// Domain layout of the scan (deterministic in the seed).
SyntheticDomains synthetic_domains(const SyntheticDatacubeSpec& spec);

/// Pattern of scan position (row, col) as float32 detector counts, det_rows*det_cols values.
void synthetic_pattern(const SyntheticDatacubeSpec& spec, const SyntheticDomains& domains, std::int64_t row,
                       std::int64_t col, float* out);

}  // namespace tmdflow::sim

#include "tmdflow/sim/scan_simulation.hpp"

#include <algorithm>
#include <cmath>

#include "tmdflow/core/error.hpp"
#include "tmdflow/sim/random.hpp"

namespace tmdflow::sim {

ScanSimulation::ScanSimulation(const ScanSimulationSpec& spec) : spec_(spec) {
  if (spec.scan_rows < 1 || spec.scan_cols < 1) throw ConfigError("scan: expected positive Rx,Ry");
  if (!(spec.step_A > 0)) throw ConfigError("step-nm: expected a positive scan step");
  // Probe windows are window_px * pixel wide around each position; the potential reaches cutoff
  // further. The pixel size depends only on voltage and detector angle (see Multislice).
  const double lambda_dx = Multislice::pixel_size_A(spec.multislice);
  origin_ = 0.5 * spec.multislice.window_px * lambda_dx + spec.multislice.potential_cutoff_A + 2.0;
  const double drift = std::abs(spec.distortion.drift_x_A) + std::abs(spec.distortion.drift_y_A) + 4 * spec.distortion.jitter_A +
                       4 * spec.distortion.line_jitter_y_A;
  origin_ += drift;
  const double scan_w = (spec.scan_cols - 1) * spec.step_A, scan_h = (spec.scan_rows - 1) * spec.step_A;
  PolycrystalSpec c = spec.crystal;
  c.extent_x = scan_w + 2 * origin_;
  c.extent_y = scan_h + 2 * origin_;
  if (c.centre_x.empty()) {
    // Seeds inside the scanned area so that every domain is seen.
    for (int d = 0; d < c.domains; ++d) {
      c.centre_x.push_back(origin_ + scan_w * rng::uniform(rng::key(c.seed, 0x73656564ULL, std::uint64_t(d), 0)));
      c.centre_y.push_back(origin_ + scan_h * rng::uniform(rng::key(c.seed, 0x73656564ULL, std::uint64_t(d), 1)));
    }
  }
  structure_ = build_polycrystal(c);
  holes_ = draw_holes(spec.holes, origin_, origin_, scan_w, scan_h, spec.seed);
  cut_holes(structure_, holes_);
  scan_positions(spec.distortion, spec.scan_rows, spec.scan_cols, spec.step_A, origin_, origin_, spec.seed, xs_, ys_);
  engine_ = std::make_unique<Multislice>(spec.multislice, structure_);
}

ScanSimulation::~ScanSimulation() = default;

int ScanSimulation::slices() const { return engine_->slices(); }

double ScanSimulation::rotation_deg(int i, int j) const {
  const double xn = (j - 0.5 * (spec_.scan_cols - 1)) * spec_.step_A * 0.1, yn = (i - 0.5 * (spec_.scan_rows - 1)) * spec_.step_A * 0.1;  // nm
  return spec_.rotation_gradient[0] * xn + spec_.rotation_gradient[1] * yn;
}

ScanGroundTruth ScanSimulation::ground_truth() const {
  ScanGroundTruth g;
  const std::size_t n = std::size_t(spec_.scan_rows) * spec_.scan_cols;
  g.domain.resize(n);
  g.orientation_deg.resize(n);
  g.twist_deg.resize(n);
  g.polarity.resize(n);
  g.vacuum.assign(n, 0);
  for (int i = 0; i < spec_.scan_rows; ++i)
    for (int j = 0; j < spec_.scan_cols; ++j) {
      const std::size_t k = std::size_t(i) * spec_.scan_cols + j;
      const double x = origin_ + j * spec_.step_A, y = origin_ + i * spec_.step_A;
      if (in_hole(holes_, x, y)) {
        g.vacuum[k] = 1;
        g.domain[k] = -1;
        g.orientation_deg[k] = g.twist_deg[k] = NAN;
        g.polarity[k] = 0;
        continue;
      }
      const auto id = domain_at(structure_, x, y);
      const Domain* d = nullptr;
      for (const auto& dom : structure_.domains)
        if (dom.id == id) d = &dom;
      g.domain[k] = id;
      if (!d) {
        g.orientation_deg[k] = g.twist_deg[k] = NAN;
        g.polarity[k] = 0;
        continue;
      }
      // The domain as the rotation field turns it here: Domain keeps the twist and polarity rules.
      Domain local = *d;
      local.phi_deg = d->phi_deg + rotation_deg(i, j);
      local.phi_deg = local.twist_deg() + (local.polarity() > 0 ? 0.0 : 60.0);  // into [0, 120)
      g.orientation_deg[k] = float(local.phi_deg);
      g.twist_deg[k] = float(local.twist_deg());
      g.polarity[k] = std::int8_t(local.polarity());
    }
  return g;
}

void ScanSimulation::row(int r, float* out) {
  const int nc = spec_.scan_cols;
  const std::size_t off = std::size_t(r) * nc;
  std::vector<double> xs(xs_.begin() + off, xs_.begin() + off + nc);
  // Line jitter and drift move y within a line only through drift; the engine takes one y per
  // strip, so a drifting line is simulated at its mean y (drift within one line is tiny).
  double y = 0;
  for (int j = 0; j < nc; ++j) y += ys_[off + j];
  y /= nc;
  std::vector<double> sx(nc), sy(nc), rot(nc);
  const double* D = spec_.descan;
  const bool rotated = spec_.rotation_gradient[0] != 0.0 || spec_.rotation_gradient[1] != 0.0;
  for (int j = 0; j < nc; ++j) {
    const double xn = j * spec_.step_A * 0.1, yn = r * spec_.step_A * 0.1;  // nm
    sx[j] = D[0] * xn + D[1] * yn;
    sy[j] = D[2] * xn + D[3] * yn;
    rot[j] = rotation_deg(r, j);
  }
  engine_->row(y, xs, out, sx.data(), sy.data(), rotated ? rot.data() : nullptr);
  const int d = spec_.multislice.detector.size;
  const std::size_t npix = std::size_t(d) * d;
  for (int j = 0; j < nc; ++j) {
    float* p = out + std::size_t(j) * npix;
    gaussian_blur(p, d, d, spec_.psf_sigma_px);
    if (spec_.electrons_per_pattern > 0 || spec_.read_noise > 0)
      add_counting_noise(p, npix, spec_.electrons_per_pattern, spec_.read_noise, rng::key(spec_.seed, 0x6e6f697365ULL, off + j));
  }
}

std::vector<float> monolayer_pattern(const std::string& material, double phi_deg, const ProbeSpec& probe, const DetectorSpec& detector) {
  MultisliceSpec ms;
  ms.probe = probe;
  ms.detector = detector;
  const double window = Multislice::pixel_size_A(ms) * ms.window_px;
  StackSpec st;
  st.material = material;
  st.phi_deg = phi_deg;
  st.extent_x = st.extent_y = window + 20.0;
  const Structure s = build_stack(st);
  Multislice engine(ms, s);
  std::vector<float> pattern(std::size_t(detector.size) * std::size_t(detector.size));
  engine.row(0.5 * st.extent_y, {0.5 * st.extent_x}, pattern.data());
  return pattern;
}

}  // namespace tmdflow::sim

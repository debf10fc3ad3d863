#include "tmdflow/analysis/style/style_fit.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <tuple>

#include "tmdflow/analysis/style/nelder_mead.hpp"
#include "tmdflow/analysis/style/power_spectrum.hpp"
#include "tmdflow/core/error.hpp"
#include "tmdflow/sim/random.hpp"

namespace tmdflow::analysis {

const std::vector<std::string>& style_parameter_names() {
  static const std::vector<std::string> names = {"dose", "source-size", "jitter", "background", "read-noise", "psf"};
  return names;
}

const char* style_simulation_name(int k) {
  static const char* names[kStyleSimulations] = {"noise_free", "noise_added", "style_fit"};
  return names[std::clamp(k, 0, kStyleSimulations - 1)];
}

void validate(const StyleFitSpec& s) {
  const auto& names = style_parameter_names();
  if (s.fit.empty()) throw ConfigError("fit: expected at least one of dose, source-size, jitter, background, read-noise, psf, found none");
  for (std::size_t k = 0; k < s.fit.size(); ++k) {
    if (std::find(names.begin(), names.end(), s.fit[k]) == names.end())
      throw ConfigError("fit: expected names from dose, source-size, jitter, background, read-noise, psf, found '" + s.fit[k] + "'");
    if (std::find(s.fit.begin(), s.fit.begin() + std::ptrdiff_t(k), s.fit[k]) != s.fit.begin() + std::ptrdiff_t(k))
      throw ConfigError("fit: '" + s.fit[k] + "' named twice");
  }
  for (double w : {s.weight_kl, s.weight_spectrum, s.weight_roughness, s.weight_anisotropy})
    if (!(w >= 0 && std::isfinite(w))) throw ConfigError("weights: expected four finite values >= 0 (KL, spectrum, roughness, anisotropy)");
  if (!(s.weight_kl + s.weight_spectrum + s.weight_roughness + s.weight_anisotropy > 0)) throw ConfigError("weights: expected at least one positive weight");
  if (s.fit_px != 0 && s.fit_px < 32) throw ConfigError("fit-px: expected 0 (the whole image) or at least 32 pixels, found " + std::to_string(s.fit_px));
  if (s.max_evaluations < 1 || s.max_evaluations > 100000)
    throw ConfigError("evaluations: expected 1 to 100000, found " + std::to_string(s.max_evaluations));
  const bool dose_fitted = std::find(s.fit.begin(), s.fit.end(), "dose") != s.fit.end();
  if (!(s.start.dose_e_per_A2 >= 0 && std::isfinite(s.start.dose_e_per_A2)) || (!dose_fitted && !(s.start.dose_e_per_A2 > 0)))
    throw ConfigError("dose-e-per-A2: expected a positive dose (0: found by the fit, when it fits the dose), found " +
                      std::to_string(s.start.dose_e_per_A2));
  if (!(s.start.source_size_A >= 0 && s.start.source_size_A <= s.max_source_size_A))
    throw ConfigError("source-size-A: expected 0 to " + std::to_string(s.max_source_size_A) + " A, found " + std::to_string(s.start.source_size_A));
  if (!(s.start.jitter_A >= 0 && s.start.jitter_A <= s.max_jitter_A))
    throw ConfigError("jitter-A: expected 0 to " + std::to_string(s.max_jitter_A) + " A, found " + std::to_string(s.start.jitter_A));
  if (!(s.start.background >= 0 && s.start.background <= 1))
    throw ConfigError("background: expected a fraction of the beam 0 to 1, found " + std::to_string(s.start.background));
  if (!(s.start.read_noise >= 0 && std::isfinite(s.start.read_noise)))
    throw ConfigError("read-noise: expected detected electrons >= 0, found " + std::to_string(s.start.read_noise));
  if (!(s.start.psf_A >= 0 && s.start.psf_A <= s.max_psf_A))
    throw ConfigError("psf-A: expected 0 to " + std::to_string(s.max_psf_A) + " A, found " + std::to_string(s.start.psf_A));
  if (!(s.k_min_invA > 0) || s.spectrum_bins < 4) throw ConfigError("spectrum: expected k-min-invA > 0 and at least 4 bins");
}

NoiseFreeScan simulate_noise_free(const StyleScene& scene, int ny, int nx, double pixel_A, double max_jitter_A) {
  sim::AdfSpec a = scene.adf;
  a.ny = ny, a.nx = nx, a.pixel_A = pixel_A;
  a.probe.source_size_A = 0;  // the style's blur
  sim::ScanDistortion room;
  room.jitter_A = max_jitter_A;
  const sim::AdfField field = sim::adf_field(a, room);
  a.x0 = field.x0, a.y0 = field.y0;
  sim::StackSpec k = scene.stack;
  k.extent_x = field.extent_x, k.extent_y = field.extent_y;
  k.seed = scene.seed;
  sim::Structure st = sim::build_stack(k);
  sim::add_surface_contamination(st, scene.contamination, scene.seed);
  sim::AdfSimulator simulator(a);
  const float* padded = simulator.padded_image(st);
  NoiseFreeScan out;
  out.grid = simulator.padded_grid();
  out.padded.assign(padded, padded + out.grid.size());
  out.x0 = a.x0, out.y0 = a.y0;
  return out;
}

namespace {

std::vector<float> central_crop(const std::vector<float>& f, int ny, int nx, int cy, int cx) {
  std::vector<float> out(std::size_t(cy) * cx);
  const int i0 = (ny - cy) / 2, j0 = (nx - cx) / 2;
  for (int i = 0; i < cy; ++i)
    std::copy_n(f.begin() + std::ptrdiff_t(std::size_t(i0 + i) * nx + j0), cx, out.begin() + std::ptrdiff_t(std::size_t(i) * cx));
  return out;
}

/// Variance of the differences of horizontal neighbours: twice the white noise's variance, plus the
/// (small, at atomic-resolution sampling) change of the signal from one pixel to the next.
double neighbour_difference_variance(const std::vector<float>& v, int ny, int nx) {
  double s = 0, s2 = 0;
  std::size_t n = 0;
  for (int i = 0; i < ny; ++i)
    for (int j = 0; j + 1 < nx; ++j) {
      const double d = double(v[std::size_t(i) * nx + j + 1]) - v[std::size_t(i) * nx + j];
      s += d, s2 += d * d, ++n;
    }
  if (n == 0) return 0;
  const double mean = s / double(n);
  return std::max(0.0, s2 / double(n) - mean * mean);
}

/// One experimental frame as the objective sees it.
struct FrameMeasures {
  std::vector<float> values;
  std::vector<double> histogram, spectrum, anisotropy;
  double roughness = 0, mean = 0, sd = 0;
};

/// Compares simulated images with frames of one size on one grey scale.
class Comparer {
 public:
  Comparer(const GreyScale& scale, int ny, int nx, double pixel_A, const StyleFitSpec& spec)
      : scale_(scale), ny_(ny), nx_(nx), spectrum_(ny, nx, pixel_A, spec.k_min_invA, spec.spectrum_bins), spec_(spec) {}

  FrameMeasures measure(std::vector<float> frame) {
    FrameMeasures m;
    std::tie(m.mean, m.sd) = mean_and_sd(frame.data(), frame.size());
    m.histogram = grey_histogram(frame.data(), frame.size(), scale_);
    m.roughness = line_roughness(frame.data(), ny_, nx_, scale_);
    m.spectrum = spectrum_.log_power(frame.data(), &m.anisotropy);
    m.values = std::move(frame);
    return m;
  }

  /// Maps `values` onto the frame's scale (moment matching), then compares; `values` ends stored.
  StyleComparison compare(std::vector<float>& values, const FrameMeasures& m, std::vector<double>* histogram = nullptr,
                          std::vector<double>* spectrum = nullptr) {
    const GreyMapping g = match_moments(values, m.mean, m.sd);
    apply_mapping(values, g, scale_);
    StyleComparison c = compare_stored(values, m, histogram, spectrum);
    c.mapping = g;
    return c;
  }

  /// Compares values already on the scale.
  StyleComparison compare_stored(const std::vector<float>& values, const FrameMeasures& m, std::vector<double>* histogram = nullptr,
                                 std::vector<double>* spectrum = nullptr) {
    StyleComparison c;
    std::vector<double> h = grey_histogram(values.data(), values.size(), scale_);
    std::vector<double> anisotropy;
    std::vector<double> s = spectrum_.log_power(values.data(), &anisotropy);
    c.kl = kl_divergence(m.histogram, h);
    c.roughness = line_roughness(values.data(), ny_, nx_, scale_);
    c.spectrum_distance = spectrum_distance(m.spectrum, s, spectrum_.weights());
    c.anisotropy_distance = spectrum_distance(m.anisotropy, anisotropy, spectrum_.anisotropy_weights());
    const double dr = m.roughness > 0 ? (c.roughness - m.roughness) / m.roughness : c.roughness;
    c.objective = spec_.weight_kl * c.kl + spec_.weight_spectrum * c.spectrum_distance * c.spectrum_distance + spec_.weight_roughness * dr * dr +
                  spec_.weight_anisotropy * c.anisotropy_distance * c.anisotropy_distance;
    if (histogram) *histogram = std::move(h);
    if (spectrum) *spectrum = std::move(s);
    return c;
  }

  const std::vector<double>& k_invA() const { return spectrum_.k_invA(); }

 private:
  GreyScale scale_;
  int ny_, nx_;
  RadialSpectrum spectrum_;
  const StyleFitSpec& spec_;
};

/// The fit's coordinates: log dose; source size and jitter in A; background and read noise relative
/// to the noise-free mean and to the shot noise there (so their steps mean the same at any dose).
/// Reflection at 0 (|u|) keeps non-negative parameters so without bounds for the simplex.
class Coordinates {
 public:
  Coordinates(std::vector<std::string> names, const StyleFitSpec& spec, const StyleParameters& base, double mean_clean, double pixel_A)
      : spec_(spec), base_(base), mean_(std::max(mean_clean, 1e-12)), area_(pixel_A * pixel_A), names_(std::move(names)) {}
  std::size_t size() const { return names_.size(); }

  StyleParameters params(const std::vector<double>& u) const {
    StyleParameters p = base_;
    // Background first: the read noise is relative to the shot noise of the mean with background.
    for (std::size_t k = 0; k < names_.size(); ++k) {
      const std::string& n = names_[k];
      if (n == "dose") p.dose_e_per_A2 = std::exp(std::clamp(u[k], std::log(1.0), std::log(1e10)));
      if (n == "source-size") p.source_size_A = std::min(std::abs(u[k]), spec_.max_source_size_A);
      if (n == "jitter") p.jitter_A = std::min(std::abs(u[k]), spec_.max_jitter_A);
      if (n == "background") p.background = std::min(std::abs(u[k]), 20.0) * mean_;
      if (n == "psf") p.psf_A = std::min(std::abs(u[k]), spec_.max_psf_A);
    }
    for (std::size_t k = 0; k < names_.size(); ++k)
      if (names_[k] == "read-noise") p.read_noise = std::min(std::abs(u[k]), 20.0) * shot(p);
    return p;
  }

  std::vector<double> coordinates(const StyleParameters& p) const {
    std::vector<double> u;
    for (const auto& n : names_) {
      if (n == "dose") u.push_back(std::log(std::max(p.dose_e_per_A2, 1.0)));
      if (n == "source-size") u.push_back(p.source_size_A);
      if (n == "jitter") u.push_back(p.jitter_A);
      if (n == "background") u.push_back(p.background / mean_);
      if (n == "read-noise") u.push_back(p.read_noise / shot(p));
      if (n == "psf") u.push_back(p.psf_A);
    }
    return u;
  }

  std::vector<double> steps() const {
    std::vector<double> s;
    for (const auto& n : names_) {
      if (n == "dose") s.push_back(0.7);
      if (n == "source-size") s.push_back(0.15);
      if (n == "jitter") s.push_back(0.05);
      if (n == "background") s.push_back(0.2);
      if (n == "read-noise") s.push_back(0.3);
      if (n == "psf") s.push_back(0.03);
    }
    return s;
  }

 private:
  double shot(const StyleParameters& p) const { return std::sqrt(std::max(1e-12, p.dose_e_per_A2 * area_ * (mean_ + p.background))); }
  const StyleFitSpec& spec_;
  StyleParameters base_;
  double mean_, area_;
  std::vector<std::string> names_;
};

bool fits(const StyleFitSpec& s, const char* name) { return std::find(s.fit.begin(), s.fit.end(), name) != s.fit.end(); }

}  // namespace

StyleFitReport fit_style(const StyleExperiment& e, const StyleScene& scene, const StyleFitSpec& spec) {
  validate(spec);
  if (e.frames.empty()) throw InputError("style fit: expected at least one experimental image, found none");
  if (e.ny < 32 || e.nx < 32) throw InputError("style fit: expected images of at least 32 x 32 pixels, found " + std::to_string(e.ny) + " x " + std::to_string(e.nx));
  if (!(e.pixel_A > 0)) throw ConfigError("pixel-A: expected the images' pixel size in Angstrom, found " + std::to_string(e.pixel_A));
  const std::size_t npix = std::size_t(e.ny) * e.nx;
  for (const auto& f : e.frames)
    if (f.size() != npix) throw InputError("style fit: expected frames of " + std::to_string(npix) + " pixels, found " + std::to_string(f.size()));
  const auto t0 = std::chrono::steady_clock::now();

  StyleFitReport r;
  std::vector<const float*> ptrs;
  for (const auto& f : e.frames) ptrs.push_back(f.data());
  r.scale = grey_scale_of(ptrs, npix);

  // 1. The fit, on a central crop with counting noise from fixed draws.
  const int fy = spec.fit_px > 0 ? std::min(spec.fit_px, e.ny) : e.ny, fx = spec.fit_px > 0 ? std::min(spec.fit_px, e.nx) : e.nx;
  r.fit_ny = fy, r.fit_nx = fx;
  const NoiseFreeScan fit_scan = simulate_noise_free(scene, fy, fx, e.pixel_A, spec.max_jitter_A);
  StyleRenderer renderer(fit_scan.padded.data(), fit_scan.grid, fy, fx, e.pixel_A, fit_scan.x0, fit_scan.y0, scene.seed);
  Comparer fit_cmp(r.scale, fy, fx, e.pixel_A, spec);
  std::vector<FrameMeasures> fit_frames;
  for (const auto& f : e.frames) fit_frames.push_back(fit_cmp.measure(central_crop(f, e.ny, e.nx, fy, fx)));
  // Whole counts are spread over their unit interval before they are mapped onto grey levels (a
  // detector's pulse heights vary from electron to electron): mapped by a gain that is not a whole
  // number, bare counts would alias onto every other grey level and the histogram turn into a comb.
  std::vector<float> dither(std::max(std::size_t(fy) * fx, npix));
  sim::rng::Stream dither_draws(sim::rng::key(scene.seed, 0x646974686572ULL));
  for (float& d : dither) d = float(dither_draws.uniform() - 0.5);
  auto spread = [&](std::vector<float>& counts) {
    for (std::size_t q = 0; q < counts.size(); ++q) counts[q] += dither[q];
  };
  std::vector<float> buffer, mapped;
  int evaluations = 0;
  auto objective = [&](const StyleParameters& p) {
    ++evaluations;
    renderer.detected(p, CountingNoise::fixed_draws, buffer);
    spread(buffer);
    double sum = 0;
    for (const auto& m : fit_frames) {
      mapped = buffer;
      sum += fit_cmp.compare(mapped, m).objective;
    }
    return sum / double(fit_frames.size());
  };

  // The search. The image's look trades noise against blur: a low dose under a heavy point-spread
  // after the noise can look like a higher dose with a wider source, and a search that tries the
  // point-spread before it has the dose and the source size right settles in that far valley. So:
  // (1) two passes of coarse scans, one parameter at a time (the others at their best so far),
  // without the point-spread; (2) the simplex on those parameters; (3) a scan of the point-spread;
  // (4) the simplex on everything. Without a point-spread to fit, (1) and (2) alone.
  const double mean_clean = renderer.mean_clean(), area = e.pixel_A * e.pixel_A;
  StyleParameters base = spec.start;
  double best = base.dose_e_per_A2 > 0 ? objective(base) : HUGE_VAL;  // a dose of 0 (to be found) renders nothing
  auto scan = [&](const char* name, const std::vector<double>& values, auto set) {
    if (!fits(spec, name)) return;
    for (double v : values) {
      StyleParameters p = base;
      set(p, v);
      const double f = objective(p);
      if (f < best) best = f, base = p;
    }
  };
  auto set_dose = [](StyleParameters& p, double v) { p.dose_e_per_A2 = v; };
  auto set_source = [&](StyleParameters& p, double v) { p.source_size_A = std::min(v, spec.max_source_size_A); };
  auto set_psf = [&](StyleParameters& p, double v) { p.psf_A = std::min(v, spec.max_psf_A); };
  auto set_background = [&](StyleParameters& p, double v) { p.background = v * mean_clean; };
  auto set_jitter = [&](StyleParameters& p, double v) { p.jitter_A = std::min(v, spec.max_jitter_A); };
  auto set_read = [&](StyleParameters& p, double v) {  // relative to the shot noise at the mean
    p.read_noise = v * std::sqrt(std::max(1e-12, p.dose_e_per_A2 * area * (mean_clean + p.background)));
  };
  for (int pass = 0; pass < 2; ++pass) {
    std::vector<double> doses;
    if (pass == 0 || !(base.dose_e_per_A2 > 0)) {
      for (double e10 = 1.0; e10 <= 8.0 + 1e-9; e10 += 0.5) doses.push_back(std::pow(10.0, e10));
    } else {
      for (double f : {-0.5, -0.25, 0.25, 0.5}) doses.push_back(base.dose_e_per_A2 * std::pow(10.0, f));
    }
    scan("dose", doses, set_dose);
    scan("source-size", {0.0, 0.15, 0.3, 0.45, 0.6, 0.8, 1.1}, set_source);
    scan("background", {0.0, 0.05, 0.15, 0.4, 1.0}, set_background);
    scan("jitter", {0.0, 0.03, 0.08, 0.15}, set_jitter);
    scan("read-noise", {0.0, 0.3, 1.0, 3.0}, set_read);
  }
  r.start = base;
  r.objective_start = best;
  auto simplex = [&](const std::vector<std::string>& names, int budget) {
    if (names.empty() || budget < 2) return;
    Coordinates coords(names, spec, base, mean_clean, e.pixel_A);
    const NelderMeadResult nm = nelder_mead([&](const std::vector<double>& u) { return objective(coords.params(u)); }, coords.coordinates(base),
                                            coords.steps(), budget, 1e-7);
    r.history.insert(r.history.end(), nm.history.begin(), nm.history.end());
    if (nm.value < best) best = nm.value, base = coords.params(nm.x);
  };
  std::vector<std::string> without_psf;
  for (const auto& n : spec.fit)
    if (n != "psf") without_psf.push_back(n);
  const bool psf = fits(spec, "psf");
  const int left = std::max(0, spec.max_evaluations - evaluations);
  simplex(without_psf, psf ? left / 2 : left);
  if (psf) {
    scan("psf", {0.0, 0.02, 0.04, 0.06, 0.1, 0.15, 0.25}, set_psf);
    simplex(spec.fit, std::max(0, spec.max_evaluations - evaluations));
  }
  r.fitted = base;
  r.objective_fitted = best;
  r.evaluations = evaluations;

  // 2. The whole images: noise-free, noise added, and the style with the engine's Poisson noise.
  const bool whole = fy == e.ny && fx == e.nx;
  const NoiseFreeScan full_scan = whole ? fit_scan : simulate_noise_free(scene, e.ny, e.nx, e.pixel_A, spec.max_jitter_A);
  std::unique_ptr<StyleRenderer> full_renderer;
  if (!whole) full_renderer = std::make_unique<StyleRenderer>(full_scan.padded.data(), full_scan.grid, e.ny, e.nx, e.pixel_A, full_scan.x0,
                                                              full_scan.y0, scene.seed);
  StyleRenderer& full = whole ? renderer : *full_renderer;
  Comparer cmp(r.scale, e.ny, e.nx, e.pixel_A, spec);
  r.spectrum_k_invA = cmp.k_invA();
  StyleParameters plain = spec.start;  // the engine's image at the given source size
  plain.jitter_A = 0, plain.background = 0;
  std::vector<float> clean, styled;
  full.clean(plain, clean);
  full.detected(r.fitted, CountingNoise::poisson, styled);
  spread(styled);
  std::vector<float> white(npix);
  sim::rng::Stream g(sim::rng::key(scene.seed, 0x6164646564ULL));
  for (float& z : white) z = float(g.normal());

  const std::size_t frames = e.frames.size();
  r.experiment_roughness.resize(frames);
  r.comparisons.resize(frames);
  r.experiment_histograms.resize(frames);
  r.simulation_histograms.resize(frames);
  r.experiment_spectra.resize(frames);
  r.simulation_spectra.resize(frames);
  for (std::size_t n = 0; n < frames; ++n) {
    const FrameMeasures m = cmp.measure(e.frames[n]);
    r.experiment_roughness[n] = m.roughness;
    r.experiment_histograms[n] = m.histogram;
    r.experiment_spectra[n] = m.spectrum;
    auto& c = r.comparisons[n];
    std::vector<float> v = clean;
    c[0] = cmp.compare(v, m, &r.simulation_histograms[n][0], &r.simulation_spectra[n][0]);
    if (n == 0) r.simulations[0] = v;

    // Noise added: the noise-free image with the signal's share of the frame's variance, plus white
    // Gaussian noise of the frame's own level (from the variance of neighbour differences).
    std::vector<float> signal = clean;
    GreyMapping gm = match_moments(signal, m.mean, m.sd);
    for (float& s : signal) s = float(gm.gain * s + gm.offset);
    const double noise_var = std::max(0.0, 0.5 * (neighbour_difference_variance(m.values, e.ny, e.nx) - neighbour_difference_variance(signal, e.ny, e.nx)));
    const double signal_sd = std::sqrt(std::max(m.sd * m.sd - noise_var, 0.25 * m.sd * m.sd));
    v = clean;
    gm = match_moments(v, m.mean, signal_sd);
    for (std::size_t p = 0; p < npix; ++p) v[p] = float(r.scale.stored(gm.gain * v[p] + gm.offset + std::sqrt(noise_var) * white[p]));
    c[1] = cmp.compare_stored(v, m, &r.simulation_histograms[n][1], &r.simulation_spectra[n][1]);
    c[1].mapping = gm;
    if (n == 0) r.simulations[1] = v, r.noise_sd = std::sqrt(noise_var);

    v = styled;
    c[2] = cmp.compare(v, m, &r.simulation_histograms[n][2], &r.simulation_spectra[n][2]);
    if (n == 0) r.simulations[2] = v;
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace tmdflow::analysis

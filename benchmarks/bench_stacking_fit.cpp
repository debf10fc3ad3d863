// Benchmark of the physics refinement of stacking estimates (analysis::fit_stacking_window, issue 15
// item 4) on windows simulated by sim::AdfSimulator with its real probe (not the fit's Gaussian) at
// the published conditions (tests/common/stacking_windows.hpp):
//   1. forward model vs simulator: the Gaussian sigma that matches each probe, and the correlation
//      of the rendered window with the simulated one;
//   2. slip accuracy: random true slips, the start = the truth + 0.2 A in a random direction per
//      interface (what a network gives), a random origin (found by the fit) and a random 1 %
//      lattice distortion; mean and 95th percentile |dD| after the fit vs before (0.2 A), noise-free,
//      dose 1e5 e/A^2, PSNR 20 and 7 dB, 10 % vacancies; ReS2 bilayer and trilayer, MoS2 2H bilayer;
//   3. confidence of good windows vs the wrong material, heavy contamination and pure noise;
//   4. ms per window, against one AdfSimulator image of the same window (the baseline: what making
//      one training patch of that size costs) measured in the same run.
// Usage: tmdflow_bench_stacking_fit [WINDOWS_PER_CASE]   (default 24)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/stacking_windows.hpp"
#include "tmdflow/analysis/stacking_fit.hpp"
#include "tmdflow/core/timer.hpp"
#include "tmdflow/par/runtime.hpp"

using namespace tmdflow;
namespace windows = tmdflow::testing::stacking_windows;
using windows::StackTruth;
using windows::WindowConditions;

namespace {

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, std::size_t(q * double(v.size() - 1) + 0.5))];
}
double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? NAN : s / double(v.size());
}

double correlation(const std::vector<float>& a, const std::vector<float>& b) {
  double ma = 0, mb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) ma += a[i], mb += b[i];
  ma /= double(a.size()), mb /= double(b.size());
  double ab = 0, aa = 0, bb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) ab += (a[i] - ma) * (b[i] - mb), aa += (a[i] - ma) * (a[i] - ma), bb += (b[i] - mb) * (b[i] - mb);
  return ab / std::sqrt(aa * bb);
}

struct Case {
  std::string name, material, stacking;
  int layers;
  WindowConditions conditions;
  int n;
};

analysis::StackingModelSpec model_of(const Case& c, const std::string& material = "") {
  analysis::StackingModelSpec m;
  m.material = material.empty() ? c.material : material;
  m.layers = c.layers;
  // Another material's model (the confidence check) keeps the stacking when both are MX2, else AA.
  m.stacking = sim::layer_cell(m.material).triclinic == sim::layer_cell(c.material).triclinic ? c.stacking : "AA";
  m.voltage_kV = c.conditions.voltage_kV, m.convergence_mrad = c.conditions.convergence_mrad;
  m.inner_mrad = c.conditions.inner_mrad, m.outer_mrad = c.conditions.outer_mrad;
  return m;
}

/// A random truth for window `index` of a case: slips uniform over the cell, origin within a cell,
/// a 1 % distortion.
StackTruth random_truth(const Case& c, int index, std::uint64_t salt) {
  sim::rng::Stream g(sim::rng::key(0x5354414bULL, salt, std::uint64_t(index)));
  const sim::LayerCell cell = sim::layer_cell(c.material);
  StackTruth t;
  t.material = c.material, t.stacking = c.stacking, t.layers = c.layers;
  for (int k = 1; k < c.layers; ++k) {
    const double f1 = g.uniform(), f2 = g.uniform();
    t.slip_x_A.push_back(f1 * cell.a1[0] + f2 * cell.a2[0]), t.slip_y_A.push_back(f1 * cell.a1[1] + f2 * cell.a2[1]);
  }
  const double f1 = g.uniform() - 0.5, f2 = g.uniform() - 0.5;
  t.origin_x_A = f1 * cell.a1[0] + f2 * cell.a2[0], t.origin_y_A = f1 * cell.a1[1] + f2 * cell.a2[1];
  for (int i = 0; i < 4; ++i) t.affine[i] += 0.01 * (2 * g.uniform() - 1) * (i == 0 || i == 3 ? 1.0 : 0.5);
  t.seed = 1000 + std::uint64_t(index);
  return t;
}

/// The network-like start: the truth's slips moved by 0.2 A in a random direction per interface;
/// origin, distortion and intensities unknown.
analysis::StackingParams start_of(const StackTruth& t, double blur_A, std::uint64_t salt) {
  sim::rng::Stream g(sim::rng::key(0x53545254ULL, salt, t.seed));
  analysis::StackingParams p;
  for (std::size_t k = 0; k < t.slip_x_A.size(); ++k) {
    const double a = 2 * M_PI * g.uniform();
    p.slip_x_A.push_back(t.slip_x_A[k] + 0.2 * std::cos(a)), p.slip_y_A.push_back(t.slip_y_A[k] + 0.2 * std::sin(a));
  }
  p.blur_A = blur_A;
  return p;
}

/// |fitted - true| of each interface's slip, the slip taken modulo the lattice (the fit is local,
/// so a lattice vector never appears in practice; the fold only guards the report).
std::vector<double> slip_errors(const StackTruth& t, const analysis::StackingParams& p) {
  const sim::LayerCell cell = sim::layer_cell(t.material);
  std::vector<double> e;
  const double det = cell.a1[0] * cell.a2[1] - cell.a1[1] * cell.a2[0];
  for (std::size_t k = 0; k < t.slip_x_A.size(); ++k) {
    const double dx = p.slip_x_A[k] - t.slip_x_A[k], dy = p.slip_y_A[k] - t.slip_y_A[k];
    double f1 = (dx * cell.a2[1] - dy * cell.a2[0]) / det, f2 = (cell.a1[0] * dy - cell.a1[1] * dx) / det;
    f1 -= std::round(f1), f2 -= std::round(f2);
    e.push_back(std::hypot(f1 * cell.a1[0] + f2 * cell.a2[0], f1 * cell.a1[1] + f2 * cell.a2[1]));
  }
  return e;
}

/// Median ms of sim::AdfSimulator::image for one window of the case (simulator and structure made
/// once, as make-trainset reuses them): the baseline of the fit's time.
double simulator_image_ms(const Case& c) {
  const StackTruth t = random_truth(c, 0, 9);
  sim::AdfSpec spec;
  spec.probe = c.conditions.probe();
  spec.inner_mrad = c.conditions.inner_mrad, spec.outer_mrad = c.conditions.outer_mrad;
  spec.ny = spec.nx = c.n;
  spec.pixel_A = c.conditions.pixel_A;
  const double extent = c.n * c.conditions.pixel_A + 2 * (spec.margin_A + 12);
  const sim::Structure s = windows::build_truth_stack(t, extent);
  spec.x0 = spec.y0 = 0.5 * (extent - c.n * c.conditions.pixel_A);
  sim::AdfSimulator simulator(spec);
  std::vector<float> out(std::size_t(c.n) * c.n);
  simulator.image(s, out.data());
  std::vector<double> ms;
  for (int r = 0; r < 7; ++r) {
    Stopwatch t;
    simulator.image(s, out.data());
    ms.push_back(t.seconds() * 1e3);
  }
  return percentile(ms, 0.5);
}

}  // namespace

int main(int argc, char** argv) {
  par::Runtime runtime(argc, argv);
  const int per_case = std::max(2, argc > 1 ? std::atoi(argv[1]) : 24);
  try {
    const WindowConditions re = windows::rhenium_conditions(), mo = windows::mos2_conditions();
    // 2 nm windows: 167 px of 0.12 A (ReS2), 333 px of 0.06 A (MoS2).
    const std::vector<Case> cases{{"ReS2 bilayer AA", "ReS2", "AA", 2, re, 167},
                                  {"ReS2 trilayer AA", "ReS2", "AA", 3, re, 167},
                                  {"MoS2 bilayer 2H", "MoS2", "2H", 2, mo, 333}};

    std::printf("== 1. forward model (Gaussian probe) vs sim::AdfSimulator (real probe), noise-free, true geometry ==\n");
    for (const auto& [name, cond] : {std::pair<const char*, WindowConditions>{"300 kV 21.3 mrad, defocus 35 A, source 0.6 A", re},
                                     {"60 kV 31.5 mrad, in focus, source 0.3 A", mo}}) {
      const double sigma = analysis::gaussian_probe_sigma_A(cond.probe());
      std::printf("  %s: Gaussian sigma matching the probe intensity %.3f A\n", name, sigma);
    }
    for (const Case& c : cases) {
      const StackTruth t = random_truth(c, 0, 1);
      const auto window = windows::simulate_window(t, c.conditions, c.n);
      analysis::StackingParams p;
      p.slip_x_A = t.slip_x_A, p.slip_y_A = t.slip_y_A, p.origin_x_A = t.origin_x_A, p.origin_y_A = t.origin_y_A;
      std::copy(t.affine, t.affine + 4, p.affine);
      p.blur_A = analysis::gaussian_probe_sigma_A(c.conditions.probe());
      std::vector<float> model(window.size());
      analysis::render_stacking_window(model_of(c), p, c.n, c.conditions.pixel_A, model.data());
      const double matched = correlation(window, model);
      analysis::FitOptions o;
      o.find_origin = false, o.fit_slip = false, o.fit_affine = false;
      const auto fit = analysis::fit_stacking_window(window.data(), c.n, c.conditions.pixel_A, model_of(c), p, o);
      analysis::render_stacking_window(model_of(c), fit.params, c.n, c.conditions.pixel_A, model.data());
      std::printf("  %s: correlation %.4f at the matched sigma; %.4f with blur and intensities fitted (blur %.3f A, layer intensities",
                  c.name.c_str(), matched, correlation(window, model), fit.params.blur_A);
      for (double v : fit.params.layer_intensity) std::printf(" %.3f", v);
      std::printf(")\n");
    }

    std::printf("\n== 2. slip accuracy after the fit, start = truth + 0.2 A per interface, origin and a 1 %% distortion unknown, %d windows per row ==\n",
                per_case);
    std::printf("  %-18s %-16s %10s %10s %10s %8s %8s %9s %9s\n", "stack", "noise", "mean|dD|", "p95|dD|", "max|dD|", "conf", "conf<.5",
                "ms/window", "x image");
    std::printf("  (x image: the fit's median time over one sim::AdfSimulator::image of the same window, simulator made once)\n");
    struct Noise {
      const char* name;
      double dose, psnr, vacancy;
    };
    const std::vector<Noise> noises{{"noise-free", 0, 0, 0}, {"dose 1e5 e/A^2", 1e5, 0, 0}, {"PSNR 20 dB", 0, 20, 0},
                                    {"PSNR 7 dB", 0, 7, 0}, {"10 % vacancies", 0, 0, 0.1}, {"vac. + 1e5 e/A^2", 1e5, 0, 0.1}};
    std::string result = "RESULT";
    for (const Case& c : cases) {
      const double blur = analysis::gaussian_probe_sigma_A(c.conditions.probe());
      analysis::StackingWindowFitter fitter(model_of(c), c.n, c.conditions.pixel_A);
      const double image_ms = simulator_image_ms(c);
      for (const Noise& noise : noises) {
        std::vector<double> errors, confidences, fit_ms;
        for (int w = 0; w < per_case; ++w) {
          StackTruth t = random_truth(c, w, 2);
          t.vacancy = noise.vacancy;
          auto window = windows::simulate_window(t, c.conditions, c.n);
          if (noise.dose > 0) windows::add_dose_noise(window, noise.dose, c.conditions.pixel_A, t.seed);
          if (noise.psnr > 0) windows::add_psnr_noise(window, noise.psnr, t.seed);
          const auto start = start_of(t, blur, 3);
          Stopwatch tf;
          const auto fit = fitter.fit(window.data(), start);
          fit_ms.push_back(tf.seconds() * 1e3);
          for (double e : slip_errors(t, fit.params)) errors.push_back(e);
          confidences.push_back(fit.confidence);
        }
        long low = std::count_if(confidences.begin(), confidences.end(), [](double v) { return v < 0.5; });
        std::printf("  %-18s %-16s %8.4f A %8.4f A %8.4f A %8.3f %8ld %9.1f %9.2f\n", c.name.c_str(), noise.name, mean(errors),
                    percentile(errors, 0.95), percentile(errors, 1.0), mean(confidences), low, percentile(fit_ms, 0.5),
                    percentile(fit_ms, 0.5) / image_ms);
        if (&noise == &noises.front() || noise.psnr == 7) {
          char key[160];
          std::snprintf(key, sizeof key, " %s%s_%dL_mean_dD_A=%.4f", c.material.c_str(), noise.psnr == 7 ? "_psnr7" : "", c.layers, mean(errors));
          result += key;
          if (&noise == &noises.front()) {
            std::snprintf(key, sizeof key, " %s_%dL_ms=%.2f %s_%dL_x_image=%.3f", c.material.c_str(), c.layers, percentile(fit_ms, 0.5),
                          c.material.c_str(), c.layers, percentile(fit_ms, 0.5) / image_ms);
            result += key;
          }
        }
      }
    }

    std::printf("\n== 3. confidence: good windows vs windows the model does not explain (ReS2 bilayer, %d windows each) ==\n", per_case);
    {
      const Case& c = cases[0];
      const double blur = analysis::gaussian_probe_sigma_A(c.conditions.probe());
      struct Bad {
        const char* name;
        std::string model;
        double contamination_A;
        int contamination_Z;
        double hole_fraction, dose, psnr;
        bool noise_only;
      };
      const std::vector<Bad> rows{{"ReS2 model, noise-free", "ReS2", 0, 6, 0, 0, 0, false},
                                  {"ReS2 model, 1e5 e/A^2", "ReS2", 0, 6, 0, 1e5, 0, false},
                                  {"ReS2 model, PSNR 7 dB", "ReS2", 0, 6, 0, 0, 7, false},
                                  {"ReSe2 model (wrong)", "ReSe2", 0, 6, 0, 0, 0, false},
                                  {"MoSe2 model (wrong)", "MoSe2", 0, 6, 0, 0, 0, false},
                                  {"MoSe2 model, 1e5 e/A^2", "MoSe2", 0, 6, 0, 1e5, 0, false},
                                  {"a-C 6 A", "ReS2", 6, 6, 0, 0, 0, false},
                                  {"a-C 50 A", "ReS2", 50, 6, 0, 0, 0, false},
                                  {"a-C 50 A, 1e5 e/A^2", "ReS2", 50, 6, 0, 1e5, 0, false},
                                  {"a-Si 10 A", "ReS2", 10, 14, 0, 0, 0, false},
                                  {"a-Si 30 A", "ReS2", 30, 14, 0, 0, 0, false},
                                  {"a-Si 30 A, 1e5 e/A^2", "ReS2", 30, 14, 0, 1e5, 0, false},
                                  {"hole, 10 % of window", "ReS2", 0, 6, 0.1, 0, 0, false},
                                  {"hole, 25 % of window", "ReS2", 0, 6, 0.25, 0, 0, false},
                                  {"hole 25 %, 1e5 e/A^2", "ReS2", 0, 6, 0.25, 1e5, 0, false},
                                  {"pure noise", "ReS2", 0, 6, 0, 0, 0, true}};
      std::printf("  %-24s %9s %9s %9s %9s %9s %10s %10s\n", "window / model", "conf mean", "conf min", "conf max", "misfit", "r2", "distortion",
                  "mean|dD|");
      for (const Bad& b : rows) {
        analysis::StackingWindowFitter fitter(model_of(c, b.model), c.n, c.conditions.pixel_A);
        std::vector<double> conf, misfit, r2, errors, distortion;
        for (int w = 0; w < per_case; ++w) {
          StackTruth t = random_truth(c, w, 4);
          t.contamination_thickness_A = b.contamination_A, t.contamination_Z = b.contamination_Z;
          if (b.hole_fraction > 0) {  // a hole of that area, centred on the window's edge
            const double side = c.n * c.conditions.pixel_A;
            t.hole_radius_A = side * std::sqrt(2 * b.hole_fraction / M_PI), t.hole_x_A = side / 2;
          }
          std::vector<float> window;
          if (b.noise_only) {
            window.resize(std::size_t(c.n) * c.n);
            sim::rng::Stream g(sim::rng::key(t.seed, 99));
            for (float& v : window) v = float(0.01 + 0.002 * g.normal());
          } else {
            window = windows::simulate_window(t, c.conditions, c.n);
          }
          if (b.dose > 0) windows::add_dose_noise(window, b.dose, c.conditions.pixel_A, t.seed);
          if (b.psnr > 0) windows::add_psnr_noise(window, b.psnr, t.seed);
          auto start = start_of(t, blur, 5);
          const bool same = b.model == c.material && !b.noise_only;
          if (!same) start.slip_x_A.assign(start.slip_x_A.size(), 0.0), start.slip_y_A.assign(start.slip_y_A.size(), 0.0);
          const auto fit = fitter.fit(window.data(), start);
          conf.push_back(fit.confidence), misfit.push_back(fit.misfit), r2.push_back(fit.r2), distortion.push_back(fit.distortion);
          if (same)
            for (double e : slip_errors(t, fit.params)) errors.push_back(e);
        }
        std::printf("  %-24s %9.3f %9.3f %9.3f %9.3f %9.3f %10.3f", b.name, mean(conf), percentile(conf, 0), percentile(conf, 1), mean(misfit),
                    mean(r2), mean(distortion));
        if (errors.empty()) std::printf("           -\n");
        else std::printf(" %8.4f A\n", mean(errors));
      }
    }
    std::printf("\n%s\n", result.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_stacking_fit: %s\n", e.what());
    par::abort_job(1);
  }
  return 0;
}

// Benchmark of the lattice finder and the canonical windows (analysis/lattice_finder.hpp):
//   speed    - find_lattice on simulated 1024^2 and 1470^2 images (MoS2 2H bilayer at 0.06 A/px,
//              ReS2 bilayer at 0.12 A/px), median ms, against the image's FFT alone (one
//              fft::RealPlan2D<float> forward of the same size, plan included, as the finder makes it);
//              canonical windows per second (CanonicalSampler, 64..128 px) against sim::resample_bicubic
//              on the same positions (a window computed the plain way); anchored windows per second
//              (sample, sim::lattice_anchor, sample again) against the canonical windows alone;
//   accuracy - over random orientations and slips on 1024^2 images, noise-free and at PSNR 20 and
//              7 dB: the largest error of a1's angle and of |a1|, and for 1T'' the share of images
//              whose a1 (mod 180) and handedness are right.
// Usage: tmdflow_bench_lattice [CASES REPEATS]   (defaults 12 5)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "tmdflow/analysis/lattice_finder.hpp"
#include "tmdflow/core/fft.hpp"
#include "tmdflow/core/timer.hpp"
#include "tmdflow/par/runtime.hpp"
#include "tmdflow/sim/lattice_anchor.hpp"
#include "tmdflow/sim/realism.hpp"
#include "tmdflow/sim/structure.hpp"
#include "unit/lattice_test_images.hpp"

using namespace tmdflow;
using tmdflow::testing::TestImage;

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double goal_s = 1.0;            // find_lattice on a 1470^2 image: "well under 1 s"
constexpr double goal_windows_s = 1000;   // the inference goal's windows per second on 2 cores

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

TestImage mos2(int size, double phi, double slip_a, double slip_b) {
  sim::StackSpec s;
  s.material = "MoS2", s.stacking = "2H", s.layers = 2, s.phi_deg = phi, s.slip_a = {slip_a}, s.slip_b = {slip_b};
  return tmdflow::testing::mx2_image(s, size, 0.06);
}

analysis::FoundLattice find(const TestImage& t, const std::string& material) {
  analysis::LatticeOptions o;
  o.pixel_A = t.pixel_A, o.material = material, o.layers = 2;
  return analysis::find_lattice(t.pixels.data(), t.size, t.size, o);
}

void speed(int repeats) {
  for (const int size : {1024, 1470}) {
    for (const std::string material : {"MoS2", "ReS2"}) {
      const TestImage t = material == "MoS2" ? mos2(size, 47, 0.3, 0.1) : tmdflow::testing::triclinic_image("ReS2", 37, {{0, 0}, {1.1, 2.3}}, size, 0.12);
      std::vector<double> finder, fft;
      fft::RealBuffer<float> in(t.pixels.size());
      std::copy(t.pixels.begin(), t.pixels.end(), in.data());
      fft::Buffer<float> out(std::size_t(size) * (size / 2 + 1));
      for (int r = 0; r < repeats; ++r) {
        Stopwatch w;
        const auto f = find(t, material);
        finder.push_back(w.seconds());
        w.reset();
        fft::RealPlan2D<float>(size, size).forward(in.data(), out.data());
        fft.push_back(w.seconds());
      }
      const double s = median(finder), f = median(fft);
      std::printf("find_lattice %s %d x %d: %.1f ms, FFT alone %.1f ms = %.1f x FFT; goal < %.0f s: %s\n", material.c_str(), size, size,
                  1e3 * s, 1e3 * f, s / f, goal_s, s < goal_s ? "PASS" : "MISS");
      std::printf("RESULT find_lattice material=%s size=%d ms=%.2f fft_ms=%.2f ratio_fft=%.2f\n", material.c_str(), size, 1e3 * s, 1e3 * f, s / f);
    }
  }
  // Windows: a 1470^2 MoS2 image at 0.06 A/px sampled at the model's 0.12 A/px (downsampling by 2).
  const TestImage t = mos2(1470, 47, 0.3, 0.1);
  const auto lattice = find(t, "MoS2");
  const auto frame = analysis::canonical_frame(lattice, "MoS2");
  for (const int n : {64, 96, 128}) {
    Stopwatch build;
    analysis::CanonicalSampler sampler(t.pixels.data(), t.size, t.size, frame, n, 0.12);
    const double build_s = build.seconds();
    std::vector<float> window(std::size_t(n) * n);
    std::vector<double> xs(window.size()), ys(window.size());
    const sim::Grid grid{t.size, t.size, 1, 1, 0, 0};
    int count = 0;
    double sampler_s = 0, plain_s = 0;
    const double c = 0.5 * (n - 1) * 0.12;
    for (int r = n; r < t.size - n; r += 15)
      for (int q = n; q < t.size - n; q += 15, ++count) {
        Stopwatch w;
        sampler.sample(r, q, window.data());
        sampler_s += w.seconds();
        w.reset();
        for (int i = 0; i < n; ++i)
          for (int j = 0; j < n; ++j) {
            const double qx = j * 0.12 - c, qy = i * 0.12 - c;
            xs[std::size_t(i) * n + j] = q + frame.m[0][0] * qx + frame.m[0][1] * qy;
            ys[std::size_t(i) * n + j] = r + frame.m[1][0] * qx + frame.m[1][1] * qy;
          }
        sim::resample_bicubic(t.pixels.data(), grid, xs.data(), ys.data(), xs.size(), window.data());
        plain_s += w.seconds();
      }
    std::printf("canonical windows %d x %d (1470^2 image, downsampling %.2f, prefilter %.0f ms once): %.0f windows/s, plain bicubic %.0f windows/s = %.2f x; goal >= %.0f: %s\n",
                n, n, sampler.downsampling(), 1e3 * build_s, count / sampler_s, count / plain_s, plain_s / sampler_s, goal_windows_s,
                count / sampler_s >= goal_windows_s ? "PASS" : "MISS");
    std::printf("RESULT windows n=%d per_s=%.0f plain_per_s=%.0f ratio_plain=%.2f\n", n, count / sampler_s, count / plain_s, plain_s / sampler_s);
    // An anchored model's windows (sim/lattice_anchor.hpp): sample, find the anchor, sample again there.
    const sim::LayerCell cell = sim::layer_cell("MoS2");
    double anchor_s = 0;
    int anchored = 0;
    for (int r = n + 40; r < t.size - n - 40; r += 15)
      for (int q = n + 40; q < t.size - n - 40; q += 15, ++anchored) {
        Stopwatch w;
        sampler.sample(r, q, window.data());
        const auto a = sim::lattice_anchor(window.data(), n, 0.12, {cell.a1[0], cell.a1[1]}, {cell.a2[0], cell.a2[1]});
        sampler.sample(r + frame.m[1][0] * a[0] + frame.m[1][1] * a[1], q + frame.m[0][0] * a[0] + frame.m[0][1] * a[1], window.data());
        anchor_s += w.seconds();
      }
    std::printf("anchored windows %d x %d: %.0f windows/s = %.2f x the plain canonical windows' time\n", n, n, anchored / anchor_s,
                (anchor_s / anchored) / (sampler_s / count));
    std::printf("RESULT anchored_windows n=%d per_s=%.0f ratio_canonical=%.2f\n", n, anchored / anchor_s, (anchor_s / anchored) / (sampler_s / count));
  }
}

void accuracy(int cases) {
  for (const double psnr : {0.0, 20.0, 7.0}) {
    par::rng::Stream g(par::rng::key(2024, std::uint64_t(psnr)));
    double mx2_angle = 0, mx2_length = 0, t_angle = 0, t_length = 0;
    int right = 0, failed = 0;
    for (int c = 0; c < cases; ++c) {
      const double phi = 120 * g.uniform();
      TestImage t = mos2(1024, phi, g.uniform(), g.uniform());
      if (psnr > 0) tmdflow::testing::add_noise(t, psnr, std::uint64_t(c));
      const double rotation = 360 * g.uniform();
      const bool mirror = g.uniform() < 0.5;
      TestImage r = tmdflow::testing::triclinic_image("ReS2", rotation, {{0, 0}, {7 * g.uniform() - 3.5, 7 * g.uniform() - 3.5}}, 1024, 0.12);
      if (mirror) tmdflow::testing::mirror_rows(r);
      if (psnr > 0) tmdflow::testing::add_noise(r, psnr, std::uint64_t(c + 1000));
      try {
        const auto f = find(t, "MoS2");
        mx2_angle = std::max(mx2_angle, std::abs(std::remainder(f.angle_deg - (phi - 30), 60.0)));
        mx2_length = std::max(mx2_length, std::abs(std::hypot(f.a1_A[0], f.a1_A[1]) / 3.1604 - 1));
        const auto h = find(r, "ReS2");
        const double expected = mirror ? -rotation : rotation;
        const double d = std::abs(std::remainder(h.angle_deg - expected, 180.0));
        if (d < 1 && h.mirrored == mirror) {
          ++right;
          t_angle = std::max(t_angle, d);
          t_length = std::max(t_length, std::abs(std::hypot(h.a1_A[0], h.a1_A[1]) / 6.352 - 1));
        }
      } catch (const std::exception& e) {
        ++failed;
        std::printf("  case %d: %s\n", c, e.what());
      }
    }
    std::printf("accuracy %s, %d cases of 1024^2: MoS2 bilayer max |d angle| %.4f deg, max |d a/a| %.2e; ReS2 bilayer (random slip, "
                "half mirrored): a1 and handedness right in %d of %d, max |d angle| %.4f deg, max |d a/a| %.2e; errors %d\n",
                psnr > 0 ? ("PSNR " + std::to_string(int(psnr)) + " dB").c_str() : "noise-free", cases, mx2_angle, mx2_length, right, cases,
                t_angle, t_length, failed);
    std::printf("RESULT accuracy psnr=%g mx2_angle_deg=%.5f mx2_rel_a=%.2e res2_right=%d res2_cases=%d res2_angle_deg=%.5f res2_rel_a=%.2e\n",
                psnr, mx2_angle, mx2_length, right, cases, t_angle, t_length);
  }
}

}  // namespace

int main(int argc, char** argv) {
  par::Runtime runtime(argc, argv);
  const int cases = argc > 1 ? std::atoi(argv[1]) : 12;
  const int repeats = std::max(3, argc > 2 ? std::atoi(argv[2]) : 5);
  try {
    speed(repeats);
    accuracy(cases);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_lattice: %s\n", e.what());
    return 1;
  }
  return 0;
}

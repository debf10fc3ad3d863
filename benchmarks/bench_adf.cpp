// Benchmark of incoherent ADF-STEM imaging (sim::AdfSimulator): milliseconds per image of a
// ~3,000-atom MoS2 bilayer, against a baseline measured in the same run on the same ranks:
//   FFT pair - one fft::RealPlan2D<float> forward + one inverse of the simulator's padded grid
//              (the transforms every image needs; the rest of an image is the atom deposit, the
//              multiplication by the probe's transform and the crop).
// Construction (FFT plans, probe intensity and its transform, once per geometry) is reported
// separately. Under mpiexec -n N every rank makes its own images at the same time (rank-parallel
// throughput, as make-trainset runs): per-rank ms and aggregate images/s.
// Usage: tmdflow_bench_adf [IMAGE_PX PIXEL_A REPEATS]   (defaults 1024 0.07 15; run under mpiexec -n N)
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "tmdflow/core/fft.hpp"
#include "tmdflow/core/timer.hpp"
#include "tmdflow/par/runtime.hpp"
#include "tmdflow/sim/adf.hpp"
#include "tmdflow/sim/structure.hpp"

using namespace tmdflow;

namespace {

constexpr double goal_ms = 25.0;  // per 1024^2 image per core (issue "Kokkos simulation engine")

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

int main(int argc, char** argv) {
  par::Runtime runtime(argc, argv);
  const par::Comm& comm = runtime.world();
  const int px = argc > 1 ? std::atoi(argv[1]) : 1024;
  const double pixel_A = argc > 2 ? std::atof(argv[2]) : 0.07;
  const int repeats = std::max(3, argc > 3 ? std::atoi(argv[3]) : 15);
  try {
    // A 2H MoS2 bilayer of 66 x 66 A (~3,000 atoms), centred in the image (1024 x 0.07 A = 71.7 A),
    // so the image covers the whole structure.
    sim::StackSpec stack;
    stack.material = "MoS2";
    stack.layers = 2;
    stack.extent_x = stack.extent_y = 66.0;
    stack.seed = 7 + std::uint64_t(comm.rank());
    const sim::Structure structure = sim::build_stack(stack);

    sim::AdfSpec spec;
    spec.probe.voltage_kV = 80;
    spec.probe.convergence_mrad = 30;
    spec.inner_mrad = 60;
    spec.outer_mrad = 200;
    spec.ny = spec.nx = px;
    spec.pixel_A = pixel_A;
    spec.x0 = spec.y0 = 0.5 * (stack.extent_x - px * pixel_A);
    std::size_t atoms = 0;  // atoms the image sees (inside the image plus its margin)
    for (const auto& a : structure.atoms)
      if (a.x >= spec.x0 - spec.margin_A && a.x < spec.x0 + px * pixel_A + spec.margin_A && a.y >= spec.y0 - spec.margin_A &&
          a.y < spec.y0 + px * pixel_A + spec.margin_A)
        ++atoms;

    comm.barrier();
    Stopwatch tc;
    sim::AdfSimulator simulator(spec);
    const double construct_s = tc.seconds();
    const sim::Grid& g = simulator.padded_grid();
    std::vector<float> image(std::size_t(px) * px);
    simulator.image(structure, image.data());  // warm-up (cross-sections cached, pages touched)

    // Baseline: the FFT pair of one image, same plan type and sizes, on buffers of the simulator's shapes.
    fft::RealPlan2D<float> plan(g.ny, g.nx);
    fft::RealBuffer<float> real(g.size()), back(g.size());
    fft::Buffer<float> spectrum(std::size_t(g.ny) * plan.nx_complex());
    std::fill(real.data(), real.data() + g.size(), 0.0f);
    for (std::size_t p = 0; p < g.size(); p += 97) real[p] = 1.0f;
    plan.forward(real.data(), spectrum.data());
    plan.inverse(spectrum.data(), back.data());  // warm-up

    // Images and FFT pairs interleaved, so both see the same machine load; ranks run concurrently.
    std::vector<double> t_img, t_fft;
    comm.barrier();
    for (int r = 0; r < repeats; ++r) {
      Stopwatch t;
      simulator.image(structure, image.data());
      t_img.push_back(t.seconds() * 1e3);
      t.reset();
      plan.forward(real.data(), spectrum.data());
      plan.inverse(spectrum.data(), back.data());
      t_fft.push_back(t.seconds() * 1e3);
    }
    comm.barrier();
    double sum_ms = 0;
    for (double v : t_img) sum_ms += v;

    const double ms = median(t_img), fft_ms = median(t_fft);
    const auto ms_all = comm.allgather(ms);
    const auto fft_all = comm.allgather(fft_ms);
    const auto construct_all = comm.allgather(construct_s);
    const double images_per_s = comm.allreduce(1e3 * double(repeats) / sum_ms, par::Op::sum);  // concurrent ranks
    const double worst = *std::max_element(ms_all.begin(), ms_all.end());
    const double worst_fft = *std::max_element(fft_all.begin(), fft_all.end());
    if (comm.is_root()) {
      std::printf("ADF image: %d x %d px of %.3f A, MoS2 bilayer %.0f x %.0f A, %zu atoms, padded grid %d x %d, %d rank(s), median of %d\n",
                  px, px, pixel_A, stack.extent_x, stack.extent_y, atoms, g.ny, g.nx, comm.size(), repeats);
      for (int r = 0; r < comm.size(); ++r)
        std::printf("  rank %d: image %7.2f ms, FFT pair (r2c + c2r %d x %d) %7.2f ms = image / FFTs %.2f, construction %.0f ms\n", r,
                    ms_all[std::size_t(r)], g.ny, g.nx, fft_all[std::size_t(r)], ms_all[std::size_t(r)] / fft_all[std::size_t(r)],
                    construct_all[std::size_t(r)] * 1e3);
      std::printf("  aggregate: %.1f images/s on %d rank(s)\n", images_per_s, comm.size());
      std::printf("  goal <= %.0f ms per image per core: %.2f ms (slowest rank) %s\n", goal_ms, worst, worst <= goal_ms ? "PASS" : "MISS");
      std::printf("RESULT ranks=%d atoms=%zu image_ms=%.3f fft_pair_ms=%.3f ratio_fft=%.3f construct_ms=%.1f images_per_s_total=%.3f goal_ms=%.0f %s\n",
                  comm.size(), atoms, worst, worst_fft, worst / worst_fft, construct_all[0] * 1e3, images_per_s, goal_ms,
                  worst <= goal_ms ? "PASS" : "MISS");
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_adf: %s\n", e.what());
    par::abort_job(1);
  }
  return 0;
}

// Benchmark of multislice 4D-STEM (sim::Multislice::row): diffraction patterns per second of a
// MoS2 monolayer, against a baseline measured in the same run on the same ranks:
//   FFT only - fft::BlockedPlan2D<float> on a window_px^2 buffer doing the transforms the engine
//              does per pattern (one inverse, slices - 1 filter calls with a trivial multiply, one
//              forward): the ceiling of any multislice with this FFT.
// The engine's time also holds the potential strips (rasterised once per row), probe shifts,
// transmissions and the detector integration. Rows are sharded over ranks (each rank its own y),
// so ranks work concurrently; barriers before and after the timed loop, which alternates one
// engine row and the same number of FFT-only patterns.
// Usage: tmdflow_bench_multislice [ROWS_PER_RANK POSITIONS WINDOW_PX]   (defaults 4 32 256; under mpiexec -n N)
#include <algorithm>
#include <complex>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "tmdflow/core/fft.hpp"
#include "tmdflow/core/timer.hpp"
#include "tmdflow/par/runtime.hpp"
#include "tmdflow/sim/multislice.hpp"
#include "tmdflow/sim/structure.hpp"

using namespace tmdflow;

namespace {

constexpr double goal_per_s = 200.0;  // patterns per second per core (issue "Kokkos simulation engine")

}  // namespace

int main(int argc, char** argv) {
  par::Runtime runtime(argc, argv);
  const par::Comm& comm = runtime.world();
  const int rows = std::max(1, argc > 1 ? std::atoi(argv[1]) : 4);
  const int positions = std::max(1, argc > 2 ? std::atoi(argv[2]) : 32);
  const int window = argc > 3 ? std::atoi(argv[3]) : 256;
  try {
    sim::StackSpec stack;
    stack.material = "MoS2";
    stack.layers = 1;
    stack.extent_x = stack.extent_y = 200.0;
    const sim::Structure structure = sim::build_stack(stack);

    sim::MultisliceSpec spec;
    spec.probe.voltage_kV = 80;
    spec.probe.convergence_mrad = 1.5;  // nanobeam
    spec.detector.size = 128;
    spec.detector.max_mrad = 40;
    spec.window_px = window;
    sim::Multislice engine(spec, structure);
    const int slices = engine.slices();

    // Probe positions: rows 1.5 A apart (rank r takes global rows r*rows ..), 1 A steps along x,
    // all windows inside the structure.
    const double half = 0.5 * engine.window_A();
    std::vector<double> xs(static_cast<std::size_t>(positions));
    for (int k = 0; k < positions; ++k) xs[std::size_t(k)] = half + 2.0 + 1.0 * k;
    const std::size_t npix = std::size_t(spec.detector.size) * spec.detector.size;
    std::vector<float> out(npix * xs.size());
    auto y_of = [&](int row) { return half + 2.0 + 1.5 * (comm.rank() * rows + row); };
    engine.row(y_of(0), {xs[0]}, out.data());  // warm-up: plans run once, tables touched

    // Baseline: the same transforms per pattern on a window_px^2 buffer; the per-pattern refill of
    // the buffer (the engine's probe shift) is not timed.
    const int n = window;
    const std::size_t N = std::size_t(n) * n;
    fft::BlockedPlan2D<float> plan(n, n);
    fft::Buffer<float> wave(N);
    std::vector<std::complex<float>> start(N), mult(N);
    for (std::size_t p = 0; p < N; ++p) {
      start[p] = std::polar(1.0f / float(n), 0.001f * float(p % 977));
      mult[p] = std::polar(1.0f / float(N), 0.0003f * float(p % 613));  // unit phase / N: no growth
    }
    const std::complex<float>* mp = mult.data();
    const int stride = plan.block();
    const fft::BlockedPlan2D<float>::BlockFunction multiply = [mp, n, stride](std::complex<float>* block, int c0, int nc) {
      for (int i = 0; i < n; ++i) {
        const std::complex<float>* prow = mp + std::size_t(i) * n + c0;
        std::complex<float>* brow = block + std::size_t(i) * stride;
        for (int j = 0; j < nc; ++j)
          brow[j] = std::complex<float>(brow[j].real() * prow[j].real() - brow[j].imag() * prow[j].imag(),
                                        brow[j].real() * prow[j].imag() + brow[j].imag() * prow[j].real());
      }
    };
    auto one_pattern = [&] {
      plan.inverse(wave.data());
      for (int s = 0; s + 1 < slices; ++s) plan.filter(wave.data(), multiply);
      plan.forward(wave.data());
    };
    std::copy(start.begin(), start.end(), wave.data());
    one_pattern();  // warm-up
    // Engine rows and their baseline interleaved (row r, then as many FFT-only patterns), so both
    // see the same machine load.
    const int patterns = rows * positions;
    double engine_s = 0, fft_s = 0;
    comm.barrier();
    for (int r = 0; r < rows; ++r) {
      Stopwatch te;
      engine.row(y_of(r), xs, out.data());
      engine_s += te.seconds();
      for (int k = 0; k < positions; ++k) {
        std::copy(start.begin(), start.end(), wave.data());
        Stopwatch t;
        one_pattern();
        fft_s += t.seconds();
      }
    }
    comm.barrier();

    const double rate = patterns / engine_s, fft_rate = patterns / fft_s;
    const auto rate_all = comm.allgather(rate);
    const auto fft_all = comm.allgather(fft_rate);
    const double total = comm.allreduce(rate, par::Op::sum);  // ranks run concurrently
    const double slowest = *std::min_element(rate_all.begin(), rate_all.end());
    const double fft_slowest = *std::min_element(fft_all.begin(), fft_all.end());
    if (comm.is_root()) {
      std::printf("multislice: MoS2 monolayer %.0f x %.0f A (%zu atoms), window %d px of %.3f A, %d slice(s), detector %d px to %.0f mrad, "
                  "%.0f kV, %.1f mrad probe; %d rank(s) x %d rows x %d positions\n",
                  stack.extent_x, stack.extent_y, structure.atoms.size(), window, engine.pixel_A(), slices, spec.detector.size,
                  spec.detector.max_mrad, spec.probe.voltage_kV, spec.probe.convergence_mrad, comm.size(), rows, positions);
      for (int r = 0; r < comm.size(); ++r)
        std::printf("  rank %d: engine %7.1f patterns/s, FFT only (%d transforms of %d^2 per pattern) %7.1f patterns/s = %.2f x FFT only\n", r,
                    rate_all[std::size_t(r)], 2 + 2 * (slices - 1), n, fft_all[std::size_t(r)],
                    rate_all[std::size_t(r)] / fft_all[std::size_t(r)]);
      std::printf("  total: %.1f patterns/s on %d rank(s)\n", total, comm.size());
      std::printf("  goal >= %.0f patterns/s per core: %.1f (slowest rank) %s\n", goal_per_s, slowest, slowest >= goal_per_s ? "PASS" : "MISS");
      std::printf("RESULT ranks=%d slices=%d patterns_per_s_rank=%.3f fft_patterns_per_s_rank=%.3f ratio_fft=%.3f patterns_per_s_total=%.3f "
                  "goal_per_s=%.0f %s\n",
                  comm.size(), slices, slowest, fft_slowest, slowest / fft_slowest, total, goal_per_s, slowest >= goal_per_s ? "PASS" : "MISS");
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_multislice: %s\n", e.what());
    par::abort_job(1);
  }
  return 0;
}

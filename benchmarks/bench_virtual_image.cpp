// Benchmark of the virtual-image pass: GB/s per rank of one pass computing BF, ADF, CoM, sum and
// the mean/max patterns over a datacube in the page cache, against two baselines measured in the
// same run on the same ranks:
//   memory read  - a vectorised sum over a 512 MiB buffer (the ceiling of any one-pass analysis),
//   HDF5 read    - the same pass reading every block but computing nothing (the I/O path alone);
//                  for a cube stored one pattern per chunk, also with every chunk read into memory
//                  (H5Dread_chunk, no in-place reads) and through the collective hyperslab reads
//                  that other layouts take.
// The virtual-image pass is timed in place (the default) and with chunk reads into memory.
// Usage: tmdflow_bench_virtual_image FILE.h5[:/group] [repeats]   (run under mpiexec -n N)
#include <Kokkos_Core.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "tmdflow/analysis/virtual_detectors.hpp"
#include "tmdflow/core/timer.hpp"
#include "tmdflow/io/pattern_pass.hpp"
#include "tmdflow/par/runtime.hpp"

using namespace tmdflow;

namespace {

// Reads nothing more than the block it is handed: the pass's I/O cost alone.
class TouchNothing : public io::PatternAnalysis {
 public:
  void prepare(const io::DatacubeMeta&, const io::Shard&) override {}
  void process(const io::PatternBlock&) override {}
  void merge(const par::Comm&) override {}
};

// A plain vectorised read of a 512 MiB buffer (independent accumulators, so the loop runs at the
// memory's speed, not at the latency of one floating-point add chain).
double memory_read_GBps(const par::Comm& comm) {
  const std::size_t n = std::size_t(128) << 20;  // 128 Mi floats = 512 MiB
  std::vector<float> v(n, 1.0f);
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    comm.barrier();
    Stopwatch t;
    float sum = 0;
    const float* p = v.data();
#pragma omp simd reduction(+ : sum)
    for (std::size_t i = 0; i < n; ++i) sum += p[i];
    const double s = t.seconds();
    if (sum != float(n) && sum < 0) std::printf("impossible\n");
    best = std::max(best, double(n * sizeof(float)) / s / 1e9);
  }
  return best;
}

enum class ReadPath { in_place, chunk_reads, hyperslab };

double pass_seconds(const par::Comm& comm, const io::DatacubeReader& reader, io::PatternAnalysis& a, ReadPath path,
                    io::PassReport* report = nullptr) {
  io::PassOptions po;
  po.show_progress = false;
  po.direct_chunk_reads = path != ReadPath::hyperslab;
  po.in_place = path == ReadPath::in_place;
  if (const char* b = std::getenv("TMDFLOW_BENCH_BLOCK")) po.block_patterns = std::atoll(b);
  comm.barrier();
  Stopwatch t;
  const io::PassReport r = io::run_pattern_pass(comm, reader, {&a}, po);
  comm.barrier();
  if (report) *report = r;
  return t.seconds();
}

}  // namespace

int main(int argc, char** argv) {
  par::Runtime runtime(argc, argv);
  const par::Comm& comm = runtime.world();
  if (argc < 2) {
    if (comm.is_root()) std::fprintf(stderr, "usage: %s FILE.h5[:/group] [repeats]\n", argv[0]);
    return 2;
  }
  const int repeats = argc > 2 ? std::atoi(argv[2]) : 3;
  try {
    auto reader = io::DatacubeReader::open(argv[1], &comm);
    const auto& meta = reader.meta();
    const double bytes = double(meta.positions()) * double(meta.pattern_pixels()) * double(io::dtype_size(meta.dtype));

    const std::int64_t rows = meta.shape[2], cols = meta.shape[3];
    analysis::VirtualDetectorConfig cfg;
    cfg.centre_x = 0.5 * double(cols - 1);
    cfg.centre_y = 0.5 * double(rows - 1);
    cfg.binary.emplace_back("bf", analysis::annulus_mask(rows, cols, cfg.centre_x, cfg.centre_y, 0, double(rows) / 16));
    cfg.binary.emplace_back("adf", analysis::annulus_mask(rows, cols, cfg.centre_x, cfg.centre_y, double(rows) / 8, double(rows) / 2));
    cfg.com = true;
    cfg.sum = true;
    cfg.max_pattern = true;

    TouchNothing nothing;
    io::PassReport report;
    pass_seconds(comm, reader, nothing, ReadPath::in_place, &report);  // warm the page cache
    const bool direct = io::reads_chunks_directly(reader);
    const double in_place = double(comm.allreduce(report.patterns_in_place, par::Op::sum)) / double(meta.positions());
    // Interleaved, best of `repeats`: in place (the default), chunk reads into memory, hyperslab reads.
    double t_io = 1e30, t_vi = 1e30, t_io_read = 1e30, t_vi_read = 1e30, t_slab = 1e30;
    for (int r = 0; r < repeats; ++r) {
      t_io = std::min(t_io, pass_seconds(comm, reader, nothing, ReadPath::in_place));
      if (direct) {
        t_io_read = std::min(t_io_read, pass_seconds(comm, reader, nothing, ReadPath::chunk_reads));
        t_slab = std::min(t_slab, pass_seconds(comm, reader, nothing, ReadPath::hyperslab));
      }
      {
        analysis::VirtualDetectors vd(cfg);
        t_vi = std::min(t_vi, pass_seconds(comm, reader, vd, ReadPath::in_place));
      }
      if (direct) {
        analysis::VirtualDetectors vd(cfg);
        t_vi_read = std::min(t_vi_read, pass_seconds(comm, reader, vd, ReadPath::chunk_reads));
      }
    }
    const double mem = comm.allreduce(memory_read_GBps(comm), par::Op::min);
    const int n = comm.size();
    auto per_rank = [&](double seconds) { return bytes / seconds / 1e9 / n; };
    const double vi_rank = per_rank(t_vi), io_rank = per_rank(t_io);
    if (comm.is_root()) {
      std::printf("virtual-image pass: %lld x %lld x %lld x %lld %s (%.2f GB), %d rank(s), best of %d\n",
                  (long long)meta.shape[0], (long long)meta.shape[1], (long long)rows, (long long)cols,
                  io::dtype_name(meta.dtype).c_str(), bytes / 1e9, n, repeats);
      std::printf("  memory read (vector sum, 512 MiB, slowest rank): %7.2f GB/s per rank\n", mem);
      std::printf("  HDF5 read only (same pass, no compute):          %7.2f GB/s per rank  = %.2f x memory read  [%s, %.1f%% of patterns in place]\n",
                  io_rank, io_rank / mem, direct ? "direct chunk reads" : "collective hyperslab reads", 100.0 * in_place);
      if (direct) {
        std::printf("  HDF5 read only, chunk reads into memory:         %7.2f GB/s per rank  = %.2f x memory read\n",
                    per_rank(t_io_read), per_rank(t_io_read) / mem);
        std::printf("  HDF5 read only, collective hyperslab reads:      %7.2f GB/s per rank  = %.2f x memory read\n",
                    per_rank(t_slab), per_rank(t_slab) / mem);
      }
      std::printf("  virtual-image (bf, adf, com, sum, mean, max):    %7.2f GB/s per rank  = %.2f x memory read, %.2f x HDF5 read\n",
                  vi_rank, vi_rank / mem, vi_rank / io_rank);
      if (direct)
        std::printf("  virtual-image, chunk reads into memory:          %7.2f GB/s per rank  = %.2f x memory read\n",
                    per_rank(t_vi_read), per_rank(t_vi_read) / mem);
      std::printf("  total: %.2f GB/s, %.0f patterns/s\n", bytes / t_vi / 1e9, double(meta.positions()) / t_vi);
      std::printf("RESULT ranks=%d vi_GBps_total=%.4f vi_x_mem=%.4f in_place=%.4f vi_read_x_mem=%.4f mem_GBps=%.3f\n", n,
                  bytes / t_vi / 1e9, vi_rank / mem, in_place, direct ? per_rank(t_vi_read) / mem : 0.0, mem);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_virtual_image: %s\n", e.what());
    par::abort_job(1);
  }
  return 0;
}

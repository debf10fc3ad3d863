#pragma once
// One pass over a datacube shard feeding several per-pattern analyses (LiberTEM's UDF idea):
// the runtime reads each block of patterns of this rank once, hands it to every analysis, and the
// analyses merge their per-pattern-pixel results across ranks at the end. Analyses never compute
// global indices: a block says which scan positions it holds.
#include <Kokkos_Core.hpp>

#include <memory>
#include <vector>

#include "tmdflow/io/datacube.hpp"
#include "tmdflow/par/comm.hpp"
#include "tmdflow/par/partition.hpp"
#include "tmdflow/par/progress.hpp"

namespace tmdflow::io {

using ExecSpace = Kokkos::DefaultExecutionSpace;
using MemSpace = ExecSpace::memory_space;

/// A block of consecutive patterns (row-major scan order) in the data's own element type.
struct PatternBlock {
  Dtype dtype = Dtype::f32;
  const void* data = nullptr;  // device-accessible; n * qx * qy elements
  std::int64_t first = 0;      // global index of the first pattern (row * Ry + col)
  std::int64_t first_local = 0;  // index relative to the first pattern of this rank
  std::int64_t count = 0;
  std::int64_t qx = 0, qy = 0;

  /// The block as an unmanaged (count, qx*qy) View of T (T must be the block's dtype).
  template <class T>
  Kokkos::View<const T**, Kokkos::LayoutRight, MemSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>> view() const {
    if (dtype_of<T>() != dtype) throw Error("PatternBlock::view: wrong element type", ExitCode::failure);
    using V = Kokkos::View<const T**, Kokkos::LayoutRight, MemSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>>;
    return V(static_cast<const T*>(data), std::size_t(count), std::size_t(qx * qy));
  }
  /// Calls f(view) with the View of the block's element type.
  template <class F>
  void visit(F&& f) const {
    visit_dtype(dtype, [&](auto tag) { f(view<decltype(tag)>()); });
  }
};

/// The shard of a rank: contiguous scan rows.
struct Shard {
  par::Range rows;
  std::int64_t ry = 0;
  std::int64_t first_pattern() const { return rows.begin * ry; }
  std::int64_t patterns() const { return rows.size() * ry; }
};

class PatternAnalysis {
 public:
  virtual ~PatternAnalysis() = default;
  /// Before the pass: allocate outputs for this rank's shard.
  virtual void prepare(const DatacubeMeta& meta, const Shard& shard) = 0;
  /// Once per block, in order.
  virtual void process(const PatternBlock& block) = 0;
  /// After the pass (collective): reduce per-pattern-pixel and scalar results across ranks.
  virtual void merge(const par::Comm& comm) = 0;
};

struct PassOptions {
  /// Patterns per block handed to the analyses. Hyperslab reads round it down to whole scan rows
  /// (at least one); direct chunk reads take it as is. 0 picks by the read path: whole rows of
  /// about 4 MiB for hyperslab reads, a few patterns that stay in the core's cache for chunk reads.
  std::int64_t block_patterns = 0;
  /// Read one pattern per chunk with H5Dread_chunk when the datacube allows it (see
  /// reads_chunks_directly); false always takes collective hyperslab reads (tests, benchmarks).
  bool direct_chunk_reads = true;
  /// With direct chunk reads on host memory: hand the analyses the patterns where they lie in the
  /// file, mapped read-only (no copy), when their chunks are adjacent there; false reads every
  /// chunk into memory (tests, benchmarks).
  bool in_place = true;
  std::string progress_label = "patterns";
  bool show_progress = true;
};

/// The rows of rank `rank` among `ranks` (block partition of the scan rows).
Shard shard_of(const DatacubeMeta& meta, int ranks, int rank);

/// True when every pattern is one stored chunk whose bytes are the pattern as it is in memory:
/// chunks (1, 1, Qx, Qy), no filters, the native type of meta().dtype. The pass then reads the
/// chunks directly (H5Dread_chunk, independent) instead of through HDF5's selection machinery.
bool reads_chunks_directly(const DatacubeReader& reader);

/// How a pass read this rank's patterns (logs, tests, benchmarks).
struct PassReport {
  std::int64_t patterns_in_place = 0;  // handed to the analyses straight from the mapped file
  std::int64_t patterns_read = 0;      // read into memory first (chunk or hyperslab reads)
};

/// Runs the analyses over this rank's shard (collective): every analysis gets the blocks of this
/// rank in scan order. Read and analysis failures on any rank are agreed.
PassReport run_pattern_pass(const par::Comm& comm, const DatacubeReader& reader,
                      const std::vector<PatternAnalysis*>& analyses, const PassOptions& options = {});

/// A per-scan-position map held for this rank's rows; written collectively as a hyperslab.
class NavMap {
 public:
  NavMap() = default;
  NavMap(const DatacubeMeta& meta, const Shard& shard, const std::string& label)
      : shard_(shard), rx_(meta.shape[0]), values_(label, std::size_t(shard.patterns())) {}
  /// Device View indexed by the local pattern index.
  Kokkos::View<float*, MemSpace>& values() { return values_; }
  const Kokkos::View<float*, MemSpace>& values() const { return values_; }
  const Shard& shard() const { return shard_; }
  std::int64_t rx() const { return rx_; }

 private:
  Shard shard_;
  std::int64_t rx_ = 0;
  Kokkos::View<float*, MemSpace> values_;
};

}  // namespace tmdflow::io

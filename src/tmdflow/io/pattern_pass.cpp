#include "tmdflow/io/pattern_pass.hpp"

#include <algorithm>
#include <cstring>

#include "tmdflow/par/failure.hpp"

namespace tmdflow::io {
namespace {

// Direct chunk reads hand the analyses blocks this small, so that a block read by the kernel's
// page-cache copy is still in the core's L2 cache when the analyses go over it (measured on
// 128 x 128 patterns: see benchmarks/README.md).
constexpr std::int64_t kCacheBlockBytes = std::int64_t(512) << 10;
// Blocks of rows of the hyperslab path, and the span of one agreement of the direct path.
constexpr std::int64_t kReadBlockBytes = std::int64_t(4) << 20;
constexpr std::int64_t kAgreementBytes = std::int64_t(16) << 20;

/// Hands a block of `count` patterns starting at local index `first_local` to every analysis.
class BlockFeeder {
 public:
  BlockFeeder(const DatacubeMeta& meta, const Shard& shard, const std::vector<PatternAnalysis*>& analyses,
              std::int64_t max_patterns)
      : meta_(meta), shard_(shard), analyses_(analyses),
        pattern_bytes_(std::size_t(meta.pattern_pixels()) * dtype_size(meta.dtype)),
        device_("tmdflow::io::pattern_block", std::size_t(max_patterns) * pattern_bytes_),
        device_host_(Kokkos::create_mirror_view(device_)),
        same_memory_(device_host_.data() == device_.data()) {
    if (!same_memory_) host_.resize(device_.size());
  }
  /// Where the reads of a block go (host-accessible).
  void* read_buffer() { return same_memory_ ? static_cast<void*>(device_.data()) : static_cast<void*>(host_.data()); }

  void process(std::int64_t first_local, std::int64_t count) {
    if (count == 0) return;
    if (!same_memory_) {
      std::memcpy(device_host_.data(), host_.data(), std::size_t(count) * pattern_bytes_);
      Kokkos::deep_copy(device_, device_host_);
    }
    PatternBlock block;
    block.dtype = meta_.dtype;
    block.data = device_.data();
    block.first = shard_.first_pattern() + first_local;
    block.first_local = first_local;
    block.count = count;
    block.qx = meta_.shape[2];
    block.qy = meta_.shape[3];
    for (auto* a : analyses_) a->process(block);
    Kokkos::fence();
  }

 private:
  const DatacubeMeta& meta_;
  const Shard& shard_;
  const std::vector<PatternAnalysis*>& analyses_;
  std::size_t pattern_bytes_;
  std::vector<unsigned char> host_;
  Kokkos::View<unsigned char*, MemSpace> device_;
  typename Kokkos::View<unsigned char*, MemSpace>::HostMirror device_host_;
  bool same_memory_;
};

// Blocks of whole scan rows read with collective hyperslab reads (any layout, filters or byte
// order: HDF5 converts). Every rank makes the same number of collective calls: ranks with fewer
// rows read empty selections.
void hyperslab_pass(const par::Comm& comm, const DatacubeReader& reader, const Shard& shard,
                    const std::vector<PatternAnalysis*>& analyses, const PassOptions& options, par::Progress* progress) {
  const DatacubeMeta& meta = reader.meta();
  const std::int64_t ry = std::max<std::int64_t>(meta.shape[1], 1);
  const std::int64_t row_bytes = ry * meta.pattern_pixels() * std::int64_t(dtype_size(meta.dtype));
  const std::int64_t rows_per_block =
      options.block_patterns > 0 ? std::max<std::int64_t>(1, options.block_patterns / ry)
                                 : std::max<std::int64_t>(1, kReadBlockBytes / std::max<std::int64_t>(1, row_bytes));
  const std::int64_t my_blocks = (shard.rows.size() + rows_per_block - 1) / rows_per_block;
  const std::int64_t blocks = comm.allreduce(my_blocks, par::Op::max);
  BlockFeeder feeder(meta, shard, analyses, rows_per_block * ry);

  for (std::int64_t b = 0; b < blocks; ++b) {
    const std::int64_t r0 = std::min(shard.rows.end, shard.rows.begin + b * rows_per_block);
    const std::int64_t nr = std::max<std::int64_t>(0, std::min(shard.rows.end, r0 + rows_per_block) - r0);
    std::exception_ptr err;
    try {
      reader.dataset().read_raw({r0, 0, 0, 0}, {nr, ry, meta.shape[2], meta.shape[3]}, h5::native_type(meta.dtype),
                                feeder.read_buffer(), h5::Xfer::collective);
      par::inject_fault(comm, "pattern-read");  // as if this rank found its block unreadable
    } catch (...) {
      err = std::current_exception();
    }
    par::agree(comm, err);
    par::collectively(comm, [&] { feeder.process((r0 - shard.rows.begin) * ry, nr * ry); });
    if (progress) progress->advance(std::uint64_t(nr * ry));
  }
}

// Blocks of a few patterns, each pattern one chunk read by H5Dread_chunk (independent I/O, no
// selection or conversion: two thirds of the hyperslab read's time per chunk, and of that time
// about 85% is the kernel's page-cache copy) and analysed while still in cache. Reads are
// independent, so the ranks only meet to agree on failures, once per ~16 MiB; every rank makes
// the same number of agreements (the most any rank needs).
void direct_chunk_pass(const par::Comm& comm, const DatacubeReader& reader, const Shard& shard,
                       const std::vector<PatternAnalysis*>& analyses, const PassOptions& options, par::Progress* progress) {
  const DatacubeMeta& meta = reader.meta();
  const h5::Dataset& data = reader.dataset();
  const std::int64_t ry = meta.shape[1];
  const std::int64_t pattern_bytes = meta.pattern_pixels() * std::int64_t(dtype_size(meta.dtype));
  const bool host_memory = Kokkos::SpaceAccessibility<Kokkos::HostSpace, MemSpace>::accessible;
  // Device memory pays a copy per block: blocks as large as the hyperslab path's there.
  const std::int64_t block =
      options.block_patterns > 0
          ? options.block_patterns
          : std::max<std::int64_t>(1, (host_memory ? kCacheBlockBytes : kReadBlockBytes) / std::max<std::int64_t>(1, pattern_bytes));
  const std::int64_t step = block * std::max<std::int64_t>(1, kAgreementBytes / std::max<std::int64_t>(1, block * pattern_bytes));
  const std::int64_t local = shard.patterns();
  const std::int64_t steps = comm.allreduce((local + step - 1) / step, par::Op::max);
  BlockFeeder feeder(meta, shard, analyses, block);
  auto* buffer = static_cast<unsigned char*>(feeder.read_buffer());

  for (std::int64_t s = 0; s < steps; ++s) {
    const std::int64_t s0 = std::min(local, s * step), s1 = std::min(local, s0 + step);
    std::exception_ptr err;
    try {
      for (std::int64_t b0 = s0; b0 < s1; b0 += block) {
        const std::int64_t n = std::min(block, s1 - b0);
        for (std::int64_t k = 0; k < n; ++k) {
          const std::int64_t g = shard.first_pattern() + b0 + k;
          const h5::Shape chunk{g / ry, g % ry, 0, 0};
          void* dst = buffer + std::size_t(k * pattern_bytes);
          // A chunk never written reads as the hyperslab path reads it.
          if (!data.read_chunk_raw(chunk, dst))
            data.read_raw(chunk, {1, 1, meta.shape[2], meta.shape[3]}, h5::native_type(meta.dtype), dst, h5::Xfer::independent);
        }
        feeder.process(b0, n);
      }
      par::inject_fault(comm, "pattern-read");  // as if this rank found a block unreadable
    } catch (...) {
      err = std::current_exception();
    }
    par::agree(comm, err);
    if (progress) progress->advance(std::uint64_t(s1 - s0));
  }
}

}  // namespace

Shard shard_of(const DatacubeMeta& meta, int ranks, int rank) {
  Shard s;
  s.rows = par::block_partition(meta.shape[0], ranks, rank);
  s.ry = meta.shape[1];
  return s;
}

bool reads_chunks_directly(const DatacubeReader& reader) {
  const DatacubeMeta& meta = reader.meta();
  const h5::Dataset& data = reader.dataset();
  return data.chunks() == h5::Shape{1, 1, meta.shape[2], meta.shape[3]} && !data.is_filtered() &&
         data.dtype() == meta.dtype && data.stored_as_native();
}

void run_pattern_pass(const par::Comm& comm, const DatacubeReader& reader, const std::vector<PatternAnalysis*>& analyses,
                      const PassOptions& options) {
  const DatacubeMeta& meta = reader.meta();
  const Shard shard = shard_of(meta, comm.size(), comm.rank());

  par::collectively(comm, [&] {
    for (auto* a : analyses) a->prepare(meta, shard);
  });

  // (Reading the chunks in place, by mmap, was tried: HDF5 1.10 has no cheap way to give a
  // chunk's file address (H5Dget_chunk_info* walk the whole chunk index, 50-600 us per chunk),
  // so every pattern goes through a read into memory, the direct chunk read where it can.)
  std::unique_ptr<par::Progress> progress;
  if (options.show_progress)
    progress = std::make_unique<par::Progress>(comm, options.progress_label, std::uint64_t(meta.positions()), "patterns");

  // The same answer on every rank: it depends on the file's metadata only.
  if (options.direct_chunk_reads && reads_chunks_directly(reader))
    direct_chunk_pass(comm, reader, shard, analyses, options, progress.get());
  else
    hyperslab_pass(comm, reader, shard, analyses, options, progress.get());

  if (progress) progress->finish();
  for (auto* a : analyses) a->merge(comm);
}

}  // namespace tmdflow::io

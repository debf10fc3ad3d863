#include "tmdflow/io/pattern_pass.hpp"

#include <algorithm>
#include <cstring>

#include "tmdflow/core/log.hpp"
#include "tmdflow/io/chunk_mapping.hpp"
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

  /// Hands the block just read into read_buffer() to the analyses.
  void process(std::int64_t first_local, std::int64_t count) {
    if (count == 0) return;
    if (!same_memory_) {
      std::memcpy(device_host_.data(), host_.data(), std::size_t(count) * pattern_bytes_);
      Kokkos::deep_copy(device_, device_host_);
    }
    feed(device_.data(), first_local, count);
  }
  /// Hands the analyses a block that lies elsewhere in host memory, without a copy (host memory
  /// spaces only: the analyses read `data` directly).
  void process_in_place(const void* data, std::int64_t first_local, std::int64_t count) {
    if (!same_memory_) throw Error("BlockFeeder::process_in_place: the analyses run in device memory", ExitCode::failure);
    if (count > 0) feed(data, first_local, count);
  }

 private:
  void feed(const void* data, std::int64_t first_local, std::int64_t count) {
    PatternBlock block;
    block.dtype = meta_.dtype;
    block.data = data;
    block.first = shard_.first_pattern() + first_local;
    block.first_local = first_local;
    block.count = count;
    block.qx = meta_.shape[2];
    block.qy = meta_.shape[3];
    for (auto* a : analyses_) a->process(block);
    Kokkos::fence();
  }

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
                    const std::vector<PatternAnalysis*>& analyses, const PassOptions& options, par::Progress* progress,
                    PassReport& report) {
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
    report.patterns_read += nr * ry;
    if (progress) progress->advance(std::uint64_t(nr * ry));
  }
}

// Where each pattern of a step lies in the mapped file: null where it must be read instead (no
// mapping, a chunk never written, stored elsewhere than HDF5 said, misaligned for its type, or
// pages the kernel cannot map). Maps the pages of each run of adjacent chunks ahead of their use.
void locate_in_place(const ChunkMapping& mapping, const DatacubeMeta& meta, std::int64_t first_pattern, std::int64_t count,
                     std::vector<const unsigned char*>& where) {
  const std::uint64_t pattern_bytes = std::uint64_t(meta.pattern_pixels()) * dtype_size(meta.dtype);
  const std::int64_t ry = meta.shape[1];
  where.assign(std::size_t(count), nullptr);
  std::int64_t run_first = 0;
  std::uint64_t run_address = 0, run_bytes = 0;
  auto end_run = [&](std::int64_t end) {
    if (run_bytes > 0 && !mapping.prefetch(run_address, run_bytes))
      std::fill(where.begin() + run_first, where.begin() + end, nullptr);
    run_bytes = 0;
  };
  for (std::int64_t k = 0; k < count; ++k) {
    const std::int64_t g = first_pattern + k;
    const auto extent = mapping.find({g / ry, g % ry, 0, 0});
    const unsigned char* at = nullptr;
    if (extent && extent->bytes == pattern_bytes && extent->address % dtype_size(meta.dtype) == 0)
      at = mapping.bytes(extent->address, extent->bytes);
    if (!at) {
      end_run(k);
      continue;
    }
    where[std::size_t(k)] = at;
    if (run_bytes > 0 && extent->address == run_address + run_bytes) {
      run_bytes += pattern_bytes;
      continue;
    }
    end_run(k);
    run_first = k;
    run_address = extent->address;
    run_bytes = pattern_bytes;
  }
  end_run(count);
}

// Blocks of a few patterns, each pattern one chunk. Where the file can be mapped, the analyses get
// each run of chunks that lie one after another in the file straight from the mapping (no copy;
// found by ChunkMapping's cheap look-up); every other chunk is read by H5Dread_chunk (independent
// I/O, no selection or conversion: two thirds of the hyperslab read's time per chunk, about 85% of
// it the kernel's page-cache copy) into a block that stays in the core's cache for the analyses.
// Reads are independent, so the ranks only meet to agree on failures, once per ~16 MiB; every rank
// makes the same number of agreements (the most any rank needs), mapped or not.
void direct_chunk_pass(const par::Comm& comm, const DatacubeReader& reader, const Shard& shard,
                       const std::vector<PatternAnalysis*>& analyses, const PassOptions& options, par::Progress* progress,
                       PassReport& report) {
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

  // Each rank on its own (no collective call): a rank that cannot map reads its chunks instead.
  std::unique_ptr<ChunkMapping> mapping;
  if (options.in_place && host_memory && local > 0) {
    std::string why;
    mapping = ChunkMapping::open(data, &why);
    if (!mapping) log::write(log::Level::debug, "pattern pass: no in-place reads: " + why, true);
  }
  std::vector<const unsigned char*> where;

  for (std::int64_t s = 0; s < steps; ++s) {
    const std::int64_t s0 = std::min(local, s * step), s1 = std::min(local, s0 + step);
    std::exception_ptr err;
    try {
      if (mapping) locate_in_place(*mapping, meta, shard.first_pattern() + s0, s1 - s0, where);
      else where.assign(std::size_t(s1 - s0), nullptr);
      auto at = [&](std::int64_t i) { return where[std::size_t(i - s0)]; };
      for (std::int64_t b0 = s0; b0 < s1; b0 += block) {
        const std::int64_t b1 = std::min(b0 + block, s1);
        // Runs of patterns adjacent in the mapped file, and runs of patterns to read.
        for (std::int64_t r0 = b0, r1 = b0; r0 < b1; r0 = r1) {
          if (at(r0)) {
            for (r1 = r0 + 1; r1 < b1 && at(r1) == at(r1 - 1) + pattern_bytes;) ++r1;
            feeder.process_in_place(at(r0), r0, r1 - r0);
            report.patterns_in_place += r1 - r0;
            continue;
          }
          for (r1 = r0 + 1; r1 < b1 && !at(r1);) ++r1;
          for (std::int64_t i = r0; i < r1; ++i) {
            const std::int64_t g = shard.first_pattern() + i;
            const h5::Shape chunk{g / ry, g % ry, 0, 0};
            void* dst = buffer + std::size_t((i - r0) * pattern_bytes);
            // A chunk never written reads as the hyperslab path reads it.
            if (!data.read_chunk_raw(chunk, dst))
              data.read_raw(chunk, {1, 1, meta.shape[2], meta.shape[3]}, h5::native_type(meta.dtype), dst, h5::Xfer::independent);
          }
          feeder.process(r0, r1 - r0);
          report.patterns_read += r1 - r0;
        }
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

PassReport run_pattern_pass(const par::Comm& comm, const DatacubeReader& reader, const std::vector<PatternAnalysis*>& analyses,
                            const PassOptions& options) {
  const DatacubeMeta& meta = reader.meta();
  const Shard shard = shard_of(meta, comm.size(), comm.rank());

  par::collectively(comm, [&] {
    for (auto* a : analyses) a->prepare(meta, shard);
  });

  // Reading patterns in place (mmap) needs each chunk's file address. HDF5 1.10's
  // H5Dget_chunk_info_by_coord walks the chunk index up to the chunk (50-1,200 us per chunk on a
  // 128 x 128 scan), so the addresses come from ChunkMapping's look-up through H5Dread_chunk
  // (0.25 us per chunk with the v1 B-trees of tmdflow's files); patterns it cannot place are read.
  std::unique_ptr<par::Progress> progress;
  if (options.show_progress)
    progress = std::make_unique<par::Progress>(comm, options.progress_label, std::uint64_t(meta.positions()), "patterns");

  PassReport report;
  // The same answer on every rank: it depends on the file's metadata only.
  if (options.direct_chunk_reads && reads_chunks_directly(reader))
    direct_chunk_pass(comm, reader, shard, analyses, options, progress.get(), report);
  else
    hyperslab_pass(comm, reader, shard, analyses, options, progress.get(), report);

  if (progress) progress->finish();
  for (auto* a : analyses) a->merge(comm);
  log::write(log::Level::debug,
             "pattern pass: " + std::to_string(report.patterns_in_place) + " patterns in place (mapped file), " +
                 std::to_string(report.patterns_read) + " read",
             true);
  return report;
}

}  // namespace tmdflow::io

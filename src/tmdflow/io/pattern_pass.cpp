#include "tmdflow/io/pattern_pass.hpp"

#include <cstring>

#include "tmdflow/par/failure.hpp"

namespace tmdflow::io {

Shard shard_of(const DatacubeMeta& meta, int ranks, int rank) {
  Shard s;
  s.rows = par::block_partition(meta.shape[0], ranks, rank);
  s.ry = meta.shape[1];
  return s;
}

void run_pattern_pass(const par::Comm& comm, const DatacubeReader& reader, const std::vector<PatternAnalysis*>& analyses,
                      const PassOptions& options) {
  const DatacubeMeta& meta = reader.meta();
  const Shard shard = shard_of(meta, comm.size(), comm.rank());
  const std::int64_t ry = meta.shape[1], npix = meta.pattern_pixels();
  const std::size_t esize = dtype_size(meta.dtype);

  par::collectively(comm, [&] {
    for (auto* a : analyses) a->prepare(meta, shard);
  });

  // Blocks are whole scan rows (collective hyperslab reads of equal count on every rank keep the
  // collective calls matched: ranks with fewer rows read empty selections).
  std::int64_t rows_per_block = 1;
  if (options.block_patterns > 0) rows_per_block = std::max<std::int64_t>(1, options.block_patterns / std::max<std::int64_t>(ry, 1));
  else rows_per_block = std::max<std::int64_t>(1, (std::int64_t(4) << 20) / std::max<std::int64_t>(1, ry * npix * std::int64_t(esize)));
  const std::int64_t my_blocks = (shard.rows.size() + rows_per_block - 1) / rows_per_block;
  const std::int64_t blocks = comm.allreduce(my_blocks, par::Op::max);

  std::vector<unsigned char> host(std::size_t(rows_per_block * ry * npix) * esize);
  Kokkos::View<unsigned char*, MemSpace> device("tmdflow::io::pattern_block", host.size());
  auto device_host = Kokkos::create_mirror_view(device);
  const bool same_memory = device_host.data() == device.data();

  // (A zero-copy mmap of the chunks was tried: HDF5 1.10 needs ~30 us per chunk to give a
  // chunk's address, more than reading the chunk, so every block goes through HDF5.)
  std::unique_ptr<par::Progress> progress;
  if (options.show_progress)
    progress = std::make_unique<par::Progress>(comm, options.progress_label, std::uint64_t(meta.positions()), "patterns");

  for (std::int64_t b = 0; b < blocks; ++b) {
    const std::int64_t r0 = std::min(shard.rows.end, shard.rows.begin + b * rows_per_block);
    const std::int64_t nr = std::max<std::int64_t>(0, std::min(shard.rows.end, r0 + rows_per_block) - r0);
    void* dst = same_memory ? static_cast<void*>(device.data()) : static_cast<void*>(host.data());
    std::exception_ptr err;
    try {
      reader.dataset().read_raw({r0, 0, 0, 0}, {nr, ry, meta.shape[2], meta.shape[3]}, h5::native_type(meta.dtype), dst,
                                h5::Xfer::collective);
      par::inject_fault(comm, "pattern-read");  // as if this rank found its block unreadable
    } catch (...) {
      err = std::current_exception();
    }
    par::agree(comm, err);
    par::collectively(comm, [&] {
      if (nr == 0) return;
      if (!same_memory) {
        std::memcpy(device_host.data(), host.data(), std::size_t(nr * ry * npix) * esize);
        Kokkos::deep_copy(device, device_host);
      }
      PatternBlock block;
      block.dtype = meta.dtype;
      block.data = device.data();
      block.first = r0 * ry;
      block.first_local = (r0 - shard.rows.begin) * ry;
      block.count = nr * ry;
      block.qx = meta.shape[2];
      block.qy = meta.shape[3];
      for (auto* a : analyses) a->process(block);
      Kokkos::fence();
    });
    if (progress) progress->advance(std::uint64_t(nr * ry));
  }
  if (progress) progress->finish();
  for (auto* a : analyses) a->merge(comm);
}

}  // namespace tmdflow::io

#pragma once
// A dataset's chunks read in place: the file mapped read-only into memory, each chunk found by its
// file address. HDF5 1.10 gives no cheap chunk address (H5Dget_chunk_info_by_coord walks the chunk
// index up to the chunk: ~100 us at the end of a 128 x 128 scan with a fixed array, ~1.2 ms with a
// v1 B-tree), but H5Dread_chunk looks a chunk up in O(1) or O(log n). So the dataset is opened a
// second time through a small file driver that, while a look-up is asked for, records the address
// of the raw-data read H5Dread_chunk makes and copies nothing (0.25 us per chunk with a v1 B-tree,
// 0.08 us with a fixed array).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "tmdflow/io/h5.hpp"

namespace tmdflow::io {

class ChunkMapping {
 public:
  /// Where a chunk's stored bytes lie in the file.
  struct Extent {
    std::uint64_t address = 0;
    std::uint64_t bytes = 0;
  };

  /// Maps the file holding `data` (read-only) and opens the dataset for look-ups; independent of
  /// other ranks (no collective call). Null, with the reason in `why`, when that is not possible
  /// (a file driver other than a plain file, a file that cannot be opened or mapped).
  static std::unique_ptr<ChunkMapping> open(const h5::Dataset& data, std::string* why = nullptr);
  ~ChunkMapping();
  ChunkMapping(const ChunkMapping&) = delete;
  ChunkMapping& operator=(const ChunkMapping&) = delete;

  /// The stored extent of the chunk whose first element is `chunk_offset`; nullopt when HDF5
  /// cannot read it directly (never written, a failed read): the caller reads it another way.
  std::optional<Extent> find(const h5::Shape& chunk_offset) const;
  /// The mapped bytes [address, address + bytes), or null when they lie beyond the mapped file.
  const unsigned char* bytes(std::uint64_t address, std::uint64_t bytes) const;
  /// Asks the kernel to map the pages of [address, address + bytes) now, ahead of their use. False
  /// when it says they cannot be read (the file cut short, an I/O error): read them another way,
  /// for an access to them would end the process (SIGBUS).
  bool prefetch(std::uint64_t address, std::uint64_t bytes) const;

  struct ProbeFile;  // the look-up driver's state of the open file (chunk_mapping.cpp)

 private:
  ChunkMapping() = default;
  h5::Handle file_, dataset_;
  ProbeFile* probe_ = nullptr;  // owned by HDF5 (the open file's driver state)
  const unsigned char* map_ = nullptr;
  std::uint64_t map_bytes_ = 0;
  int rank_ = 0;
};

}  // namespace tmdflow::io

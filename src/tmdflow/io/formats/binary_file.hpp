#pragma once
// A read-only file read at explicit offsets (pread): ranks read their own frames without seeking a
// shared position, in large contiguous pieces.
#include <cstdint>
#include <string>

namespace tmdflow::io {

/// True where this machine stores numbers little-endian (the readers swap bytes of big-endian files).
inline constexpr bool kHostLittleEndian = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;

class BinaryFile {
 public:
  /// Opens `path` for reading; IoError naming the file when it cannot.
  explicit BinaryFile(const std::string& path);
  ~BinaryFile();
  BinaryFile(BinaryFile&& o) noexcept;
  BinaryFile& operator=(BinaryFile&&) = delete;
  BinaryFile(const BinaryFile&) = delete;
  BinaryFile& operator=(const BinaryFile&) = delete;

  const std::string& path() const { return path_; }
  std::uint64_t size() const { return size_; }
  /// Reads exactly n bytes at `offset`; IoError naming the file when the file ends first.
  void read_at(std::uint64_t offset, void* out, std::uint64_t n) const;
  /// Up to n bytes at `offset` (fewer at the end of the file); returns the count read.
  std::uint64_t read_some_at(std::uint64_t offset, void* out, std::uint64_t n) const;

 private:
  std::string path_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
};

}  // namespace tmdflow::io

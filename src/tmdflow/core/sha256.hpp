#pragma once
// SHA-256 (FIPS 180-4) of files and byte strings: the checksum a model's manifest records, so a
// stage refuses a model file that changed after its manifest was written.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tmdflow {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, std::size_t size);
  /// 64 lowercase hex digits; the object cannot be updated afterwards.
  std::string hex_digest();

 private:
  void block(const unsigned char* p);
  std::uint32_t h_[8];
  unsigned char buffer_[64];
  std::size_t buffered_ = 0;
  std::uint64_t total_bytes_ = 0;
};

std::string sha256_hex(std::string_view bytes);
/// Reads the file in blocks; IoError naming it when it cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace tmdflow

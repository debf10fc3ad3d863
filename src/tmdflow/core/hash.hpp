#pragma once
// Configuration hashes for resume: a step whose product carries the same hash is not redone.
#include <cstdint>
#include <string>
#include <string_view>

namespace tmdflow {

/// 64-bit FNV-1a over a sequence of key/value fields; order matters (callers sort keys).
class ConfigHasher {
 public:
  ConfigHasher& add(std::string_view key, std::string_view value);
  std::uint64_t value() const { return h_; }
  /// 16 lowercase hex digits.
  std::string hex() const;

 private:
  void bytes(std::string_view s);
  std::uint64_t h_ = 1469598103934665603ull;
};

}  // namespace tmdflow

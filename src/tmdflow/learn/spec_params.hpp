#pragma once
// Reads the key = value sizes of a NetworkSpec with defaults and ranges, and gives back the spec
// with every default written out, so that a saved spec rebuilds the same network even if a
// default changes later. Errors are ConfigErrors naming the family, the key and the value.
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "tmdflow/learn/network.hpp"

namespace tmdflow::learn {

class SpecParams {
 public:
  explicit SpecParams(NetworkSpec spec) : spec_(std::move(spec)) {}

  std::int64_t integer(const std::string& key, std::int64_t fallback, std::int64_t min, std::int64_t max);
  /// Comma-separated integers each in [min, max]; "" or "none": an empty list.
  std::vector<std::int64_t> integers(const std::string& key, const std::string& fallback, std::int64_t min, std::int64_t max);
  std::string choice(const std::string& key, const std::string& fallback, const std::vector<std::string>& allowed);
  /// ConfigError for a key no reader asked for (a typo must not be ignored).
  void finish() const;
  /// The spec with every key read, defaults included.
  const NetworkSpec& canonical() const { return canonical_; }
  /// "network resnet: key 'width'"
  std::string where(const std::string& key) const;

 private:
  std::string text(const std::string& key, const std::string& fallback);
  NetworkSpec spec_;
  NetworkSpec canonical_{spec_.family, {}};
  std::set<std::string> read_;
};

}  // namespace tmdflow::learn

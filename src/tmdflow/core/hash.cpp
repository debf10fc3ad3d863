#include "tmdflow/core/hash.hpp"

#include <cstdio>

namespace tmdflow {

void ConfigHasher::bytes(std::string_view s) {
  for (unsigned char c : s) {
    h_ ^= c;
    h_ *= 1099511628211ull;
  }
}

ConfigHasher& ConfigHasher::add(std::string_view key, std::string_view value) {
  // Length prefixes keep ("ab","c") and ("a","bc") apart.
  bytes(std::to_string(key.size()));
  bytes(":");
  bytes(key);
  bytes(std::to_string(value.size()));
  bytes("=");
  bytes(value);
  return *this;
}

std::string ConfigHasher::hex() const {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h_));
  return buf;
}

}  // namespace tmdflow

#include "tmdflow/learn/spec_params.hpp"

#include <cerrno>
#include <cstdlib>

#include "tmdflow/core/error.hpp"

namespace tmdflow::learn {
namespace {

bool parse_integer(const std::string& s, std::int64_t& out) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno || *end) return false;
  out = v;
  return true;
}

}  // namespace

std::string SpecParams::where(const std::string& key) const { return "network " + spec_.family + ": key '" + key + "'"; }

std::string SpecParams::text(const std::string& key, const std::string& fallback) {
  read_.insert(key);
  auto it = spec_.params.find(key);
  return it == spec_.params.end() ? fallback : it->second;
}

std::int64_t SpecParams::integer(const std::string& key, std::int64_t fallback, std::int64_t min, std::int64_t max) {
  const std::string s = text(key, std::to_string(fallback));
  std::int64_t v = 0;
  if (!parse_integer(s, v) || v < min || v > max)
    throw ConfigError(where(key) + ": expected an integer in [" + std::to_string(min) + ", " + std::to_string(max) +
                      "], found '" + s + "'");
  canonical_.params[key] = std::to_string(v);
  return v;
}

std::vector<std::int64_t> SpecParams::integers(const std::string& key, const std::string& fallback, std::int64_t min,
                                               std::int64_t max) {
  const std::string s = text(key, fallback);
  std::vector<std::int64_t> out;
  std::string canonical;
  if (s != "" && s != "none") {
    std::size_t start = 0;
    while (start <= s.size()) {
      const std::size_t end = std::min(s.find(',', start), s.size());
      std::int64_t v = 0;
      if (!parse_integer(s.substr(start, end - start), v) || v < min || v > max)
        throw ConfigError(where(key) + ": expected comma-separated integers in [" + std::to_string(min) + ", " +
                          std::to_string(max) + "] (or none), found '" + s + "'");
      out.push_back(v);
      canonical += (canonical.empty() ? "" : ",") + std::to_string(v);
      start = end + 1;
    }
  }
  canonical_.params[key] = out.empty() ? "none" : canonical;
  return out;
}

std::string SpecParams::choice(const std::string& key, const std::string& fallback, const std::vector<std::string>& allowed) {
  const std::string s = text(key, fallback);
  std::string list;
  for (const auto& a : allowed) {
    if (a == s) {
      canonical_.params[key] = s;
      return s;
    }
    list += (list.empty() ? "" : ", ") + a;
  }
  throw ConfigError(where(key) + ": expected one of " + list + ", found '" + s + "'");
}

void SpecParams::finish() const {
  for (const auto& [key, value] : spec_.params)
    if (!read_.count(key)) {
      std::string known;
      for (const auto& k : read_) known += (known.empty() ? "" : ", ") + k;
      throw ConfigError("network " + spec_.family + ": unknown key '" + key + "' (= '" + value + "'): expected one of " + known);
    }
}

}  // namespace tmdflow::learn

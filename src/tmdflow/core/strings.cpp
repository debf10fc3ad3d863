#include "tmdflow/core/strings.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>

#include "tmdflow/core/error.hpp"

namespace tmdflow::str {

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::vector<std::string> split(const std::string& s, char sep, bool skip_empty) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      if (!skip_empty || !trim(cur).empty()) out.push_back(trim(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!skip_empty || !trim(cur).empty()) out.push_back(trim(cur));
  return out;
}

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += sep;
    out += parts[i];
  }
  return out;
}

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }
bool ends_with(const std::string& s, const std::string& x) {
  return s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0;
}

double to_double(const std::string& s0, const std::string& what) {
  std::string s = trim(s0);
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size())
    throw ConfigError(what + ": expected a number, found '" + s0 + "'");
  return v;
}

std::int64_t to_int(const std::string& s0, const std::string& what) {
  std::string s = trim(s0);
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (s.empty() || end != s.c_str() + s.size())
    throw ConfigError(what + ": expected an integer, found '" + s0 + "'");
  return v;
}

bool to_bool(const std::string& s0, const std::string& what) {
  std::string s = lower(trim(s0));
  if (s == "true" || s == "1" || s == "yes" || s == "on") return true;
  if (s == "false" || s == "0" || s == "no" || s == "off") return false;
  throw ConfigError(what + ": expected true or false, found '" + s0 + "'");
}

static std::string normalise_list(std::string s) {
  for (char& c : s)
    if (c == 'x' || c == 'X' || c == ';') c = ',';
  return s;
}

std::vector<std::int64_t> to_int_list(const std::string& s, const std::string& what) {
  std::vector<std::int64_t> out;
  for (const auto& p : split(normalise_list(s), ',')) out.push_back(to_int(p, what));
  if (out.empty()) throw ConfigError(what + ": expected a list of integers such as 128,128, found '" + s + "'");
  return out;
}

std::vector<double> to_double_list(const std::string& s, const std::string& what) {
  std::vector<double> out;
  for (const auto& p : split(s, ',')) out.push_back(to_double(p, what));
  if (out.empty()) throw ConfigError(what + ": expected a list of numbers, found '" + s + "'");
  return out;
}

std::string human_bytes(double b) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  int u = 0;
  while (b >= 1000.0 && u < 4) {
    b /= 1000.0;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.2f %s", b, units[u]);
  return buf;
}

std::string quoted(std::string_view s, std::size_t max) {
  std::string out = "'";
  for (std::size_t i = 0; i < s.size() && i < max; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 32 && c < 127) {
      out += char(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out + (s.size() > max ? "...'" : "'");
}

std::string shape_string(const std::vector<std::int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

std::string number(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%g", v);
  return b;
}

}  // namespace tmdflow::str

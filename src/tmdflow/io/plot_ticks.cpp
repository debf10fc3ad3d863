#include "tmdflow/io/plot_ticks.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace tmdflow::io::plot {
namespace {

std::string superscript(int n) {
  static const char* digits[10] = {"⁰", "¹", "²", "³", "⁴", "⁵", "⁶", "⁷", "⁸", "⁹"};
  std::string s = n < 0 ? "⁻" : "";
  const std::string d = std::to_string(std::abs(n));
  for (char c : d) s += digits[c - '0'];
  return s;
}

}  // namespace

double nice_step(double lo, double hi, int target) {
  const double span = std::fabs(hi - lo);
  if (!(span > 0) || !std::isfinite(span)) return 1.0;
  const double raw = span / std::max(1, target);
  const double decade = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * decade >= raw * 0.999) return m * decade;
  return 10.0 * decade;
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (lo > hi) std::swap(lo, hi);
  const double step = nice_step(lo, hi, target);
  std::vector<double> t;
  const double eps = 1e-9 * step;
  for (double k = std::ceil((lo - eps) / step); k * step <= hi + eps; k += 1.0) t.push_back(k * step);
  return t;
}

std::string tick_label(double value, double step) {
  const int decimals = std::clamp(int(std::ceil(-std::log10(step) - 1e-9)), 0, 6);
  if (std::fabs(value) < 0.5 * step * 1e-6) value = 0.0;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  std::string s = buf;
  if (s.find_first_not_of("-0.") == std::string::npos && s[0] == '-') s.erase(0, 1);  // no "-0"
  if (!s.empty() && s[0] == '-') s = "−" + s.substr(1);  // a true minus sign
  return s;
}

std::vector<LogTick> log_ticks(double lo, double hi) {
  std::vector<LogTick> out;
  if (!(lo > 0) || !(hi > lo)) return out;
  const int k0 = int(std::ceil(std::log10(lo) - 1e-9)), k1 = int(std::floor(std::log10(hi) + 1e-9));
  const bool fine = k1 - k0 < 2;
  for (int k = k0 - 1; k <= k1; ++k)
    for (int m : {1, 2, 5}) {
      if (m != 1 && !fine) continue;
      const double v = m * std::pow(10.0, k);
      if (v < lo * (1 - 1e-9) || v > hi * (1 + 1e-9)) continue;
      out.push_back({v, (m == 1 ? std::string() : std::to_string(m) + "×") + "10" + superscript(k)});
    }
  return out;
}

double scale_bar_length(double width, double fraction) {
  const double max_len = std::fabs(width) * fraction;
  if (!(max_len > 0) || !std::isfinite(max_len)) return 0.0;
  const double decade = std::pow(10.0, std::floor(std::log10(max_len)));
  double best = decade;
  for (double m : {1.0, 2.0, 5.0})
    if (m * decade <= max_len * (1 + 1e-9)) best = m * decade;
  return best;
}

std::string pretty_units(const std::string& u) {
  if (u == "A^-1" || u == "1/A" || u == "A-1") return "Å⁻¹";
  if (u == "A" || u == "Angstrom") return "Å";
  if (u == "degree" || u == "degrees" || u == "deg") return "°";
  if (u == "pixels" || u == "pixel") return "px";
  return u;
}

}  // namespace tmdflow::io::plot

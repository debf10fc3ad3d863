#include "tmdflow/io/formats/image_units.hpp"

#include <cmath>
#include <iterator>

namespace tmdflow::io {

namespace {

struct Prefix {
  int power;
  const char* symbol;
};
// pint's SI prefixes, as its abbreviated format writes them ("µ" is U+00B5, the micro sign).
constexpr Prefix kPrefixes[] = {{-24, "y"}, {-21, "z"}, {-18, "a"}, {-15, "f"}, {-12, "p"}, {-9, "n"},
                                {-6, "\u00b5"}, {-3, "m"}, {0, ""},  {3, "k"},   {6, "M"},   {9, "G"},
                                {12, "T"},  {15, "P"},  {18, "E"},  {21, "Z"},  {24, "Y"}};

}  // namespace

double angstrom_per_unit(std::string_view u) {
  if (u == "m" || u == "meters" || u == "meter") return 1e10;
  if (u == "mm") return 1e7;
  // Micro as the micro sign (U+00B5), the Greek mu (U+03BC) or a plain u.
  if (u == "\u00b5m" || u == "\u03bcm" || u == "um") return 1e4;
  if (u == "nm") return 10;
  if (u == "pm") return 0.01;
  if (u == "\u00c5" || u == "\u212b" || u == "A" || u == "Angstrom" || u == "angstrom") return 1;
  return 0;
}

PrefixedValue with_si_prefix(double value, const std::string& base, double size) {
  const double half = value * size / 2;
  if (!(std::isfinite(half)) || half == 0) return {value, base};
  const int power = int(std::floor(std::log10(std::fabs(half)) / 3)) * 3;
  // The smallest prefix at or above `power`, the largest one beyond the table (as pint does).
  const Prefix* chosen = std::end(kPrefixes) - 1;
  for (const Prefix& p : kPrefixes)
    if (p.power >= power) {
      chosen = &p;
      break;
    }
  return {value / std::pow(10.0, chosen->power), std::string(chosen->symbol) + base};
}

double in_prefixed_unit(double value, const std::string& base, const std::string& prefixed) {
  for (const Prefix& p : kPrefixes)
    if (std::string(p.symbol) + base == prefixed) return value / std::pow(10.0, p.power);
  return value;
}

}  // namespace tmdflow::io

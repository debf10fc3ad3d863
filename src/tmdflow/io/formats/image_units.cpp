#include "tmdflow/io/formats/image_units.hpp"

#include <cmath>
#include <iterator>
#include <map>

#include "tmdflow/core/error.hpp"
#include "tmdflow/core/strings.hpp"

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

std::string printable(std::string text) {
  for (char& c : text)
    if (static_cast<unsigned char>(c) < 32 || c == 127) c = '?';
  return text;
}

void with_printable_errors(const std::function<void()>& body) {
  try {
    body();
  } catch (const Error& e) {
    const std::string m = e.what();
    const std::string clean = printable(m);
    if (clean == m) throw;
    switch (e.code()) {
      case ExitCode::input: throw InputError(clean);
      case ExitCode::io: throw IoError(clean);
      case ExitCode::config: throw ConfigError(clean);
      case ExitCode::usage: throw UsageError(clean);
      default: throw Error(clean, e.code());
    }
  }
}

std::string units_utf8(const std::string& units) {
  std::string out;
  for (std::size_t i = 0; i < units.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(units[i]);
    // 0xB5 alone is Latin-1's micro sign; as the second byte of "\xC2\xB5" it is already UTF-8.
    if (c == 0xB5 && (i == 0 || static_cast<unsigned char>(units[i - 1]) != 0xC2)) out += "\xC2\xB5";
    else out += char(c);
  }
  return out;
}

double length_unit_in_A(const std::string& units) {
  static const std::map<std::string, double> table = {
      {"m", 1e10},   {"meter", 1e10},  {"meters", 1e10},      {"cm", 1e8},         {"mm", 1e7},
      {"\xC2\xB5m", 1e4}, {"\xCE\xBCm", 1e4}, {"um", 1e4},     {"micron", 1e4}, {"microns", 1e4},
      {"micrometer", 1e4}, {"nm", 10},    {"nanometer", 10},   {"\xC3\x85", 1}, {"\xE2\x84\xAB", 1},
      {"a", 1},      {"angstrom", 1},     {"pm", 0.01}};
  const std::string u = str::trim(units_utf8(units));
  auto it = table.find(u);
  if (it == table.end()) it = table.find(str::lower(u));
  return it == table.end() ? 0.0 : it->second;
}

double time_unit_in_s(const std::string& units) {
  static const std::map<std::string, double> table = {{"s", 1},          {"sec", 1},   {"second", 1}, {"seconds", 1},
                                                      {"ms", 1e-3},      {"\xC2\xB5s", 1e-6}, {"us", 1e-6},
                                                      {"ns", 1e-9},      {"min", 60}};
  auto it = table.find(str::trim(units_utf8(units)));
  return it == table.end() ? 0.0 : it->second;
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

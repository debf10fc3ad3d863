#include "tmdflow/io/formats/image_units.hpp"

#include <map>

#include "tmdflow/core/strings.hpp"

namespace tmdflow::io {

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
      {"m", 1e10},   {"meter", 1e10},      {"cm", 1e8},         {"mm", 1e7},
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

}  // namespace tmdflow::io

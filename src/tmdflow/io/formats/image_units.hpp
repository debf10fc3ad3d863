#pragma once
// Units that image files write on their axes, converted to tmdflow's: lengths to Angstrom, times to
// seconds. Files spell units many ways ("µm" in UTF-8 or Latin-1, "um", "micron", "nm", "Å", "A").
#include <string>

namespace tmdflow::io {

/// Angstrom per `units` (e.g. 10 for "nm"); 0 when `units` is not a length tmdflow knows.
double length_unit_in_A(const std::string& units);
/// Seconds per `units` (e.g. 1e-3 for "ms"); 0 when `units` is not a time.
double time_unit_in_s(const std::string& units);
/// The units in UTF-8: a Latin-1 micro sign (0xB5, as DigitalMicrograph writes it) becomes "µ".
std::string units_utf8(const std::string& units);

}  // namespace tmdflow::io

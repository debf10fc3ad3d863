#pragma once
// Units that image files write on their axes, converted to tmdflow's: lengths to Angstrom, times to
// seconds. Files spell units many ways ("µm" in UTF-8 or Latin-1, "um", "micron", "nm", "Å", "A").
// Also the SI-prefix choice RosettaSciIO makes for Velox axes (pint's to_compact).
#include <functional>
#include <string>

namespace tmdflow::io {

/// Angstrom per `units` (e.g. 10 for "nm"); 0 when `units` is not a length tmdflow knows.
double length_unit_in_A(const std::string& units);
/// Seconds per `units` (e.g. 1e-3 for "ms"); 0 when `units` is not a time.
double time_unit_in_s(const std::string& units);
/// Text from a file fit for a one-line message: control characters (line breaks, tabs, NUL)
/// become '?' (names and texts in files may hold any bytes).
std::string printable(std::string text);
/// Runs body(); a tmdflow error whose message holds control characters (a name or a text from the
/// file) is thrown again, of the same kind, with printable() of its message.
void with_printable_errors(const std::function<void()>& body);

/// The units in UTF-8: a Latin-1 micro sign (0xB5, as DigitalMicrograph writes it) becomes "µ".
std::string units_utf8(const std::string& units);

struct PrefixedValue {
  double value = 0;
  std::string units;
};

/// `value` in the SI base unit `base` ("m", "s") written with the SI prefix that puts
/// value * size / 2 in [1, 1000) (the half width of an axis of `size` steps), as RosettaSciIO
/// chooses units for Velox axes: 8.17e-12 m over 3 pixels is 8.17 pm. Zero and non-finite values
/// keep the base unit.
PrefixedValue with_si_prefix(double value, const std::string& base, double size);

/// `value` in `base` expressed in `prefixed`, a unit that with_si_prefix returned for `base`.
double in_prefixed_unit(double value, const std::string& base, const std::string& prefixed);

}  // namespace tmdflow::io

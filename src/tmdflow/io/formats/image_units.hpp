#pragma once
// Length units of image calibrations as files write them ("nm", "µm", "pm", "m", "meters", "Å")
// and the SI-prefix choice RosettaSciIO makes for Velox axes (pint's to_compact), shared by the
// DigitalMicrograph, Velox and TIA readers.
#include <string>
#include <string_view>

namespace tmdflow::io {

/// Angstrom per unit of a length unit name; 0 when `units` is not a length tmdflow knows (empty,
/// "pixels", "1/nm", "s", ...): the image is then uncalibrated.
double angstrom_per_unit(std::string_view units);

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

#pragma once
// The numbers of a figure's axes, colour bars and scale bars: "nice" tick values (1, 2, 5 x 10^k
// steps), their labels with as many decimals as the step needs, decade ticks of a log10 scale, the
// length of a scale bar, and units written the way a reader expects them (1/Angstrom as Å⁻¹).
#include <string>
#include <vector>

namespace tmdflow::io::plot {

/// Tick values inside [lo, hi] (either order) with a 1, 2 or 5 x 10^k step, about `target` of them.
std::vector<double> nice_ticks(double lo, double hi, int target = 5);
/// The step nice_ticks uses for that range.
double nice_step(double lo, double hi, int target = 5);
/// A tick label: as many decimals as `step` needs, no "-0".
std::string tick_label(double value, double step);

/// Ticks of a log10 scale on [lo, hi] (lo > 0): the decades inside, with 2x and 5x added when fewer
/// than three decades fit; labels "10³" for decades, "2×10³" for the others.
struct LogTick {
  double value;
  std::string label;
};
std::vector<LogTick> log_ticks(double lo, double hi);

/// Length of a scale bar (1, 2 or 5 x 10^k, in the axis' units) no longer than `fraction` of the width.
double scale_bar_length(double width, double fraction = 0.3);

/// Units as printed: "A^-1" -> "Å⁻¹", "A" -> "Å", "degree" -> "°", "pixels" -> "px"; others unchanged.
std::string pretty_units(const std::string& units);

}  // namespace tmdflow::io::plot

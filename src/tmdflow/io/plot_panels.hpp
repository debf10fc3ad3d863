#pragma once
// Panels of the maps tmdflow draws, each with the key its values need: intensities with a colour
// bar (linear, or log10 for diffraction patterns), angles with a colour wheel of their period,
// classes and polarity with a legend, vector fields with a direction/magnitude wheel; and the axes
// of a scan (x along columns, y along rows, from the scan step) and of a detector (Qy along
// columns, Qx along rows, zero at the pattern centre).
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "tmdflow/io/plot.hpp"

namespace tmdflow::io::plot {

struct Axes {
  Axis x, y;
};
/// Scan axes: pixel (i, j) at x = j step, y = i step.
Axes scan_axes(double step, const std::string& units);
/// Detector axes: zero at the centre (centre_x: column, centre_y: row, pixels).
Axes detector_axes(double centre_x, double centre_y, double step, const std::string& units);

Panel intensity_panel(const std::string& title, const std::vector<float>& values, std::int64_t height, std::int64_t width, const Axes& axes,
                      const std::string& bar_label, const ColourScale& scale);
Panel angle_panel(const std::string& title, const std::vector<float>& angles_deg, std::int64_t height, std::int64_t width, const Axes& axes,
                  double period_deg, const std::string& wheel_label);
/// Labels with one legend entry per (display id, text); label l takes display_id[l]'s colour (all
/// labels their own when display_id is empty); `no_label_text` names the black label -1.
Panel label_panel(const std::string& title, const std::vector<std::int32_t>& labels, std::int64_t height, std::int64_t width, const Axes& axes,
                  const std::vector<std::pair<std::int32_t, std::string>>& entries, const std::string& no_label_text,
                  const std::vector<std::int32_t>& display_id = {});
Panel polarity_panel(const std::string& title, const std::vector<std::int8_t>& polarity, std::int64_t height, std::int64_t width,
                     const Axes& axes, const std::string& zero_text);
/// Vector field (vx along x, vy along y); brightness saturates at the 99th percentile of the
/// magnitude, which the wheel's label states in `units`.
Panel vector_panel(const std::string& title, const std::vector<float>& vx, const std::vector<float>& vy, std::int64_t height, std::int64_t width,
                   const Axes& axes, const std::string& what, const std::string& units);

}  // namespace tmdflow::io::plot

// The figure layer (io/plot*.hpp): tick and scale-bar numbers, colour scales, and rendered panels
// read back from their PNG: the title is text, the image sits where the layout says with its
// colours, the colour bar runs through its ramp in order, the scale bar is as long as it says, the
// colour wheel has the right hue at a known direction, the legend holds every class colour.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>

#include "common/testing.hpp"
#include "tmdflow/core/error.hpp"
#include "tmdflow/core/units.hpp"
#include "tmdflow/io/figure.hpp"
#include "tmdflow/io/plot.hpp"
#include "tmdflow/io/plot_panels.hpp"
#include "tmdflow/io/plot_ticks.hpp"

using namespace tmdflow::io;
using namespace tmdflow::io::plot;

namespace {

using tmdflow::units::pi;

int grey(const RgbImage& img, int y, int x) {
  const Rgb c = img.at(y, x);
  return (c[0] + c[1] + c[2]) / 3;
}

int colour_distance(Rgb a, Rgb b) {
  return std::max({std::abs(a[0] - b[0]), std::abs(a[1] - b[1]), std::abs(a[2] - b[2])});
}

/// A 40 x 50 map whose value rises along x: 0 at the left, 1 at the right.
std::vector<float> ramp_map(int h, int w) {
  std::vector<float> v(std::size_t(h * w));
  for (int i = 0; i < h; ++i)
    for (int j = 0; j < w; ++j) v[std::size_t(i * w + j)] = float(j) / float(w - 1);
  return v;
}

}  // namespace

TEST(PlotTicks, NiceTicksLabelsAndScaleBars) {
  EXPECT_EQ(nice_ticks(-0.5, 47.5), (std::vector<double>{0, 10, 20, 30, 40}));
  EXPECT_EQ(nice_ticks(-0.93, 0.93), (std::vector<double>{-0.5, 0.0, 0.5}));
  EXPECT_DOUBLE_EQ(nice_step(0, 1, 5), 0.2);
  EXPECT_EQ(tick_label(0.5, 0.5), "0.5");
  EXPECT_EQ(tick_label(20, 10), "20");
  EXPECT_EQ(tick_label(-1e-17, 0.5), "0.0");
  EXPECT_EQ(tick_label(-0.5, 0.5), "−0.5");  // a true minus sign
  EXPECT_DOUBLE_EQ(scale_bar_length(48.0), 10.0);
  EXPECT_DOUBLE_EQ(scale_bar_length(1.87), 0.5);
  EXPECT_DOUBLE_EQ(scale_bar_length(7.0), 2.0);
  EXPECT_EQ(pretty_units("A^-1"), "Å⁻¹");
  EXPECT_EQ(pretty_units("nm"), "nm");
  // Decades of a log scale, with 2x and 5x when few decades fit.
  auto ticks = log_ticks(0.05, 1500);
  ASSERT_EQ(ticks.size(), 5u);
  EXPECT_DOUBLE_EQ(ticks.front().value, 0.1);
  EXPECT_EQ(ticks.front().label, "10⁻¹");
  EXPECT_EQ(ticks.back().label, "10³");
  ticks = log_ticks(3, 60);
  std::vector<double> values;
  for (const auto& t : ticks) values.push_back(t.value);
  EXPECT_EQ(values, (std::vector<double>{5, 10, 20, 50}));
  EXPECT_EQ(ticks[0].label, "5×10⁰");
}

TEST(PlotColour, ScalesMapValuesOntoTheRamp) {
  const ColourScale lin{2.0, 4.0, false, Ramp::grey};
  EXPECT_DOUBLE_EQ(lin.position(3.0), 0.5);
  EXPECT_DOUBLE_EQ(lin.position(10.0), 1.0);
  EXPECT_TRUE(std::isnan(lin.position(NAN)));
  const ColourScale lg{0.01, 100.0, true, Ramp::grey};
  EXPECT_NEAR(lg.position(1.0), 0.5, 1e-12);
  EXPECT_NEAR(lg.position(0.1), 0.25, 1e-12);
  EXPECT_DOUBLE_EQ(lg.position(0.0), 0.0);
  // A diffraction pattern: the central beam (1e4) on scale, the background (1e-3, most pixels)
  // black, and weak spots 4 decades below the beam well above black (a linear scale would put
  // them at 0.01% of the range).
  std::vector<float> pattern(100, 0.001f);
  pattern[0] = 10000.0f;
  pattern[1] = 1.0f;
  pattern[2] = pattern[3] = 0.0f;
  const ColourScale s = log_scale(pattern);
  EXPECT_DOUBLE_EQ(s.hi, 10000.0);
  EXPECT_NEAR(s.lo, 0.001, 1e-9);
  EXPECT_DOUBLE_EQ(s.position(0.001), 0.0);
  EXPECT_NEAR(s.position(1.0), 3.0 / 7.0, 1e-6);
  EXPECT_NEAR(log_scale(std::vector<float>(50, 5.0f)).lo, 0.5, 1e-6);  // a flat image: one decade
  // A robust linear scale ignores a single hot pixel.
  std::vector<float> image(1000);
  for (std::size_t i = 0; i < image.size(); ++i) image[i] = float(i % 100);
  image[5] = 1e6f;
  const ColourScale r = robust_scale(image);
  EXPECT_LT(r.hi, 100.0);
  // Ramps run from dark to bright.
  for (Ramp ramp : {Ramp::grey, Ramp::heat}) {
    int last = -1;
    for (int k = 0; k <= 20; ++k) {
      const Rgb c = ramp_colour(ramp, k / 20.0);
      const int sum = c[0] + c[1] + c[2];
      EXPECT_GT(sum, last) << "ramp " << int(ramp) << " at " << k;
      last = sum;
    }
  }
}

TEST(PlotPanel, TitleImageColourBarAndScaleBarReadBackFromThePng) {
  tmdflow::testing::ScratchDir dir;
  const int h = 40, w = 50;
  const Axes axes = scan_axes(0.5, "nm");  // 25 nm wide: a 5 nm scale bar
  const std::vector<float> values = ramp_map(h, w);
  Figure f;
  f.panels.push_back(intensity_panel("A known ramp", values, h, w, axes, "signal (counts)", ColourScale{0.0, 1.0, false, Ramp::grey}));
  const Rendered r = render(f);
  const std::string path = dir.file("ramp.png");
  write_figure(path, f, "a test figure");
  const RgbImage png = read_png_rgb(path);
  ASSERT_EQ(png.width, r.image.width);
  ASSERT_EQ(png.height, r.image.height);
  EXPECT_EQ(png.rgb, r.image.rgb);
  const PanelLayout& p = r.panels.at(0);

  // Layout: the longer side zoomed to about 320 pixels; the figure holds margins for axes and key.
  EXPECT_EQ(p.zoom, 6);
  EXPECT_EQ(p.image.w, w * 6);
  EXPECT_EQ(p.image.h, h * 6);
  EXPECT_GT(p.image.x, 40);                         // room for the y ticks and label
  EXPECT_GT(png.height - (p.image.y + p.image.h), 30);  // room for the x ticks and label
  EXPECT_GT(png.width - (p.image.x + p.image.w), 60);   // the colour bar

  // The title is dark text on white, centred above the image.
  int dark = 0;
  for (int y = p.title.y; y < p.title.y + p.title.h; ++y)
    for (int x = p.title.x; x < p.title.x + p.title.w; ++x) dark += grey(png, y, x) < 100;
  EXPECT_GT(dark, 60);
  EXPECT_NEAR(p.title.x + p.title.w / 2.0, p.image.x + p.image.w / 2.0, 2.0);
  for (int x = 0; x < png.width; ++x) EXPECT_EQ(grey(png, 2, x), 255) << "top margin at x = " << x;

  // The image: each data pixel is a zoom x zoom block of its grey value (away from the scale bar).
  for (int j : {0, 10, 25, 49}) {
    const int expect = int(std::lround(255.0 * j / (w - 1)));
    EXPECT_NEAR(grey(png, p.image.y + 3 * p.zoom + 2, p.image.x + j * p.zoom + 3), expect, 1) << "column " << j;
  }

  // The colour bar: grey from white at the top to black at the bottom, never rising.
  ASSERT_GT(p.key.h, 100);
  const int cx = p.key.x + p.key.w / 2;
  int last = 256;
  for (int y = p.key.y; y < p.key.y + p.key.h; ++y) {
    const int g = grey(png, y, cx);
    EXPECT_LE(g, last) << "colour bar row " << y;
    last = g;
  }
  EXPECT_GE(grey(png, p.key.y, cx), 250);
  EXPECT_LE(grey(png, p.key.y + p.key.h - 1, cx), 5);
  // Its labels: dark pixels right of the ramp.
  int label_px = 0;
  for (int y = p.key.y; y < p.key.y + p.key.h; ++y)
    for (int x = p.key.x + p.key.w + 6; x < std::min<int>(png.width, p.key.x + p.key.w + 40); ++x) label_px += grey(png, y, x) < 100;
  EXPECT_GT(label_px, 50);

  // The scale bar: 5 nm = 10 data pixels = 60 screen pixels of white.
  EXPECT_DOUBLE_EQ(p.scale_bar_length, 5.0);
  EXPECT_EQ(p.scale_bar.w, 60);
  const int sy = p.scale_bar.y + p.scale_bar.h / 2;
  int run = 0;
  for (int x = p.scale_bar.x; x < png.width && grey(png, sy, x) == 255; ++x) ++run;
  EXPECT_EQ(run, 60);
  EXPECT_LT(grey(png, sy, p.scale_bar.x - 1), 200);  // the bar's box is dark around it

  // The PNG says what it is.
  std::map<std::string, std::string> text;
  for (const auto& [k, v] : read_png_text(path)) text[k] = v;
  EXPECT_EQ(text["Title"], "A known ramp");
  EXPECT_EQ(text["Description"], "a test figure");
  EXPECT_EQ(text["tmdflow:layout"], "image " + std::to_string(p.image.x) + " " + std::to_string(p.image.y) + " 300 240 zoom 6\n");
  std::ifstream captions(dir.file("captions.txt"));
  std::string line;
  std::getline(captions, line);
  EXPECT_EQ(line, "ramp.png: a test figure");
}

TEST(PlotPanel, ColourWheelShowsEachAngleAtItsDirection) {
  const int h = 30, w = 30;
  std::vector<float> angles(std::size_t(h * w));
  for (std::size_t i = 0; i < angles.size(); ++i) angles[i] = float(i % 120);
  for (double period : {120.0, 60.0}) {
    Figure f;
    f.panels.push_back(angle_panel("orientation", angles, h, w, scan_axes(1.0, "nm"), period, "phi\nperiod"));
    const Rendered r = render(f);
    const Box& k = r.panels[0].key;
    ASSERT_GT(k.w, 50);
    const double R = k.w / 2.0, cx = k.x + R, cy = k.y + R;
    // Inside the key's sector, at 0.7 of its radius: the colour of that angle (y down, as in maps).
    for (double a = 5; a < period - 4; a += 10) {
      const int x = int(std::floor(cx + 0.7 * R * std::cos(a * pi / 180))), y = int(std::floor(cy + 0.7 * R * std::sin(a * pi / 180)));
      EXPECT_LE(colour_distance(r.image.at(y, x), angle_colour(a, period)), 25) << "period " << period << ", angle " << a;
    }
    // Outside the sector (directions beyond one period, and above the x axis): background white.
    const double a = period + 30;
    EXPECT_EQ(grey(r.image, int(cy + 0.7 * R * std::sin(a * pi / 180)), int(cx + 0.7 * R * std::cos(a * pi / 180))), 255);
    EXPECT_EQ(grey(r.image, int(cy + 0.7 * R * std::sin(-0.35)), int(cx + 0.7 * R * std::cos(-0.35))), 255);  // -20 degrees
    // And the map's pixels are the colours of their angles.
    const PanelLayout& p = r.panels[0];
    const int i = 7, j = 11;
    EXPECT_EQ(r.image.at(p.image.y + i * p.zoom + 1, p.image.x + j * p.zoom + 1), angle_colour(angles[std::size_t(i * w + j)], period));
  }
  // A vector field's wheel: a disc, hue from the direction and brightness from the radius.
  std::vector<float> vx(std::size_t(h * w), 1.0f), vy(std::size_t(h * w), 0.0f);
  Figure f;
  f.panels.push_back(vector_panel("CoM", vx, vy, h, w, scan_axes(1.0, "nm"), "CoM", "A^-1"));
  const Rendered r = render(f);
  const Box& k = r.panels[0].key;
  const double R = k.w / 2.0, cx = k.x + R, cy = k.y + R;
  for (double a : {45.0, 135.0, 200.0, 300.0}) {
    const double dx = std::cos(a * pi / 180), dy = std::sin(a * pi / 180);
    const int x = int(std::floor(cx + 0.8 * R * dx)), y = int(std::floor(cy + 0.8 * R * dy));
    EXPECT_LE(colour_distance(r.image.at(y, x), vector_colour(dx, dy, 0.8)), 25) << "direction " << a;
  }
}

TEST(PlotPanel, LegendHoldsEveryClassColour) {
  const int h = 20, w = 24;
  std::vector<std::int32_t> labels(std::size_t(h * w));
  for (int i = 0; i < h; ++i)
    for (int j = 0; j < w; ++j) labels[std::size_t(i * w + j)] = j < 4 ? -1 : (j / 5);  // ids 0..4 and undetermined
  const std::vector<std::int32_t> display{3, 0, 1, 2, 7};  // found id -> colour id
  std::vector<std::pair<std::int32_t, std::string>> entries;
  for (int k = 0; k < 5; ++k) entries.emplace_back(display[std::size_t(k)], "domain " + std::to_string(k));
  Figure f;
  f.panels.push_back(label_panel("labels", labels, h, w, scan_axes(2.0, "nm"), entries, "undetermined", display));
  const Rendered r = render(f);
  const PanelLayout& p = r.panels[0];
  auto in_key = [&](Rgb c) {
    for (int y = p.key.y; y < p.key.y + p.key.h; ++y)
      for (int x = p.key.x; x < p.key.x + p.key.w; ++x)
        if (r.image.at(y, x) == c) return true;
    return false;
  };
  for (int k = 0; k < 5; ++k) EXPECT_TRUE(in_key(label_colour(display[std::size_t(k)]))) << "legend entry " << k;
  EXPECT_TRUE(in_key(no_data_colour));
  // The map takes the display ids' colours.
  EXPECT_EQ(r.image.at(p.image.y + 2, p.image.x + 4 * p.zoom + 1), label_colour(3));  // label 0
  EXPECT_EQ(r.image.at(p.image.y + 2, p.image.x + 20 * p.zoom + 1), label_colour(7));
  EXPECT_EQ(r.image.at(p.image.y + 2, p.image.x + 1), no_data_colour);
}

TEST(PlotFigure, PanelsInAGridShareOneColourBar) {
  const int h = 16, w = 16;
  Figure f;
  f.title = "Grid";
  f.columns = 2;
  f.image_px = 96;
  f.shared_colour_bar = ColourBar{"counts", ColourScale{0.01, 100.0, true, Ramp::grey}};
  for (int k = 0; k < 3; ++k)
    f.panels.push_back(intensity_panel("p" + std::to_string(k), std::vector<float>(std::size_t(h * w), float(k + 1)), h, w,
                                       detector_axes(8, 8, 0.05, "A^-1"), "", f.shared_colour_bar->scale));
  const Rendered r = render(f);
  ASSERT_EQ(r.panels.size(), 3u);
  EXPECT_EQ(r.panels[0].image.y, r.panels[1].image.y);
  EXPECT_GT(r.panels[2].image.y, r.panels[0].image.y + r.panels[0].image.h);
  EXPECT_EQ(r.panels[0].key.w, 0);  // no bar of their own
  EXPECT_GT(r.shared_key.h, 0);
  EXPECT_GT(r.shared_key.x, r.panels[1].image.x + r.panels[1].image.w);
  EXPECT_THROW(render(Figure{}), tmdflow::IoError);
}

// Marks are drawn over the image where their data coordinates say, clipped to the image.
TEST(PlotPanel, MarksLandOnTheirDataPixels) {
  const int h = 40, w = 50;
  Figure f;
  Panel p = intensity_panel("marks", std::vector<float>(std::size_t(h * w), 0.0f), h, w, scan_axes(1.0, "A"), "v",
                            ColourScale{0.0, 1.0, false, Ramp::grey});
  p.marks.push_back({Mark::Kind::circle, 10, 20, 0, 0, 2.0, {255, 0, 0}, 0.0, true});      // a filled red disc
  p.marks.push_back({Mark::Kind::line, 30, 5, 45, 5, 0, {0, 255, 0}, 2.0, false});        // a green line along row 5
  p.marks.push_back({Mark::Kind::circle, 200, 200, 0, 0, 5.0, {0, 0, 255}, 0.0, true});   // outside: clipped away
  f.panels.push_back(p);
  const Rendered r = render(f);
  const PanelLayout& l = r.panels.at(0);
  auto at = [&](double x, double y) { return r.image.at(int(l.image.y + (y + 0.5) * l.zoom), int(l.image.x + (x + 0.5) * l.zoom)); };
  EXPECT_EQ(colour_distance(at(10, 20), {255, 0, 0}), 0);
  EXPECT_EQ(colour_distance(at(10, 23.5), {0, 0, 0}), 0);  // outside the disc: the black image
  EXPECT_LT(colour_distance(at(38, 5), {0, 255, 0}), 20);
  EXPECT_EQ(colour_distance(at(20, 5), {0, 0, 0}), 0);
  // Nothing blue anywhere (the third mark lies outside the image).
  for (std::int64_t y = 0; y < r.image.height; ++y)
    for (std::int64_t x = 0; x < r.image.width; ++x) ASSERT_NE(r.image.at(y, x), (Rgb{0, 0, 255}));
}

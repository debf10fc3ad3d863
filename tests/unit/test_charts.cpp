// Line charts (io/plot_curves.hpp): points land where the axes say, in log and linear y, series
// keep their colours, and bad input is refused.
#include <gtest/gtest.h>

#include <cmath>

#include "tmdflow/core/error.hpp"
#include "tmdflow/io/plot_curves.hpp"

using namespace tmdflow::io::plot;

namespace {

// Whether a pixel within 2 px of (x, y) has colour c (lines are anti-aliased).
bool colour_near(const tmdflow::io::RgbImage& img, double x, double y, const tmdflow::io::Rgb& c) {
  for (int dy = -2; dy <= 2; ++dy)
    for (int dx = -2; dx <= 2; ++dx) {
      const auto p = img.at(std::int64_t(std::lround(y)) + dy, std::int64_t(std::lround(x)) + dx);
      if (std::abs(p[0] - c[0]) < 30 && std::abs(p[1] - c[1]) < 30 && std::abs(p[2] - c[2]) < 30) return true;
    }
  return false;
}

}  // namespace

TEST(Charts, PointsLandWhereTheAxesSay) {
  Chart loss{"loss", "epoch", "loss", true, true, {}};
  Series s{"train", {}, {}, series_colour(0)};
  for (int e = 1; e <= 20; ++e) s.x.push_back(e), s.y.push_back(std::pow(10.0, -0.2 * e));  // straight in log y
  loss.series.push_back(s);
  Chart acc{"accuracy", "epoch", "fraction", false, false, {}};
  Series a{"val", {1, 10, 20}, {0.2, 0.6, 0.8}, series_colour(1)};
  acc.series.push_back(a);
  const RenderedCharts r = render_charts({loss, acc}, "training");
  ASSERT_EQ(r.charts.size(), 2u);
  for (const ChartLayout& L : r.charts) {
    EXPECT_GT(L.area.w, 200);
    EXPECT_GT(L.area.h, 150);
  }
  EXPECT_GE(r.charts[1].area.x, 420) << "the second chart sits right of the first";
  auto at = [](const ChartLayout& L, double x, double y) {
    return std::pair<double, double>{L.area.x + (x - L.x_min) / (L.x_max - L.x_min) * L.area.w,
                                     L.area.y + L.area.h - (y - L.y_min) / (L.y_max - L.y_min) * L.area.h};
  };
  // Log chart: y = 10^(-0.2 e) is the straight line log10 y = -0.2 e, so every point is on it.
  EXPECT_NEAR(r.charts[0].y_max, -0.2, 0.3);
  for (double e : {2.0, 7.5, 13.0, 19.0}) {
    const auto [x, y] = at(r.charts[0], e, -0.2 * e);
    EXPECT_TRUE(colour_near(r.image, x, y, series_colour(0))) << "log chart, epoch " << e;
  }
  // Linear chart: between (1, 0.2) and (10, 0.6) the line passes (5.5, 0.4).
  const auto [x, y] = at(r.charts[1], 5.5, 0.4);
  EXPECT_TRUE(colour_near(r.image, x, y, series_colour(1)));
  // Far from the line there is none of its colour.
  const auto [fx, fy] = at(r.charts[1], 15, 0.25);
  EXPECT_FALSE(colour_near(r.image, fx, fy, series_colour(1)));
}

TEST(Charts, RefusesChartsWithoutData) {
  Chart empty{"loss", "epoch", "loss", true, false, {}};
  empty.series.push_back(Series{"train", {1, 2}, {-1, 0}, series_colour(0)});  // nothing positive on a log axis
  EXPECT_THROW(render_charts({empty}), tmdflow::IoError);
  EXPECT_THROW(render_charts({}), tmdflow::IoError);
}

// The lattice finder on TED-Gen's published images (../shared/data/stem-images, README there):
// six clean incoSTEM simulations of bilayer ReS2 (sim_) and their GAN-styled versions (drit_) at
// 0.034089 A/px, made from a structure with a1 = (6.4191, 0) and a2 = (3.2729, 5.7142) A (x along
// columns, y along rows); and the five sample images of their Stacking-Pattern-Analyzer, whose
// calibration is not recorded.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "common/testing.hpp"
#include "tmdflow/analysis/lattice_finder.hpp"
#include "tmdflow/core/error.hpp"
#include "tmdflow/core/units.hpp"
#include "tmdflow/io/formats/png.hpp"

using namespace tmdflow;

namespace {

using tmdflow::units::pi;

struct Image {
  std::int64_t height = 0, width = 0;
  std::vector<float> pixels;
};

Image read_png(const std::string& relative) {
  const auto source = io::open_png_image(tmdflow::testing::shared_data("stem-images/" + relative));
  const auto& signal = source->signals().at(0);
  Image out;
  out.height = signal.height, out.width = signal.width;
  std::vector<std::uint8_t> raw(std::size_t(out.height * out.width));
  EXPECT_EQ(signal.dtype, io::Dtype::u8) << relative;
  source->read_frames(0, 0, 1, raw.data());
  out.pixels.assign(raw.begin(), raw.end());
  return out;
}

double length(const double v[2]) { return std::hypot(v[0], v[1]); }
double angle_deg(const double v[2]) { return std::atan2(v[1], v[0]) * 180 / pi; }

}  // namespace

TEST(LatticeTedGen, SimulatedAndStyledBilayersShowTheirStructuresLattice) {
  // TED-Gen's short vectors: a1 = 6.4191 A at 0 deg, a2 = 6.5852 A at +60.2 deg and a2 - a1 =
  // 6.5227 A at 118.8 deg. Our ReS2 cell (mp-572758 positions) has its longest short vector at
  // -60.2 deg from a, so TED-Gen's structure is its mirror image: the finder must say mirrored, and
  // its canonical a2 (the cell's b, at minus the cell's 61.03 deg) is TED-Gen's a1 - a2.
  const char* stems[] = {"0.0_0.0_0_0_35.0_0.6_1349", "1.5_0.0_0_0_35.0_0.6_1107", "0.0_1.5_0_0_35.0_0.6_1479",
                         "1.0_1.0_0_0_35.0_0.6_1266", "2.5_0.5_0_0_35.0_0.6_1220", "0.5_2.0_0_0_35.0_0.6_1985"};
  for (const std::string stem : stems)
    for (const std::string kind : {"sim", "drit"}) {
      const std::string file = "tedgen_drit/" + kind + "_" + stem + (kind == "drit" ? "_00349.png" : ".png");
      const Image image = read_png(file);
      analysis::LatticeOptions o;
      o.pixel_A = 0.034089;
      o.material = "ReS2";
      o.layers = 2;
      const auto f = analysis::find_lattice(image.pixels.data(), image.height, image.width, o);
      SCOPED_TRACE(file + ": " + f.describe());
      EXPECT_NEAR(std::remainder(f.angle_deg, 180), 0, 0.1);  // a1 along +x (mod 180)
      EXPECT_NEAR(length(f.a1_A) / 6.4191, 1, kind == "sim" ? 0.001 : 0.002);
      EXPECT_TRUE(f.mirrored);
      EXPECT_NEAR(length(f.a2_A) / 6.5227, 1, kind == "sim" ? 0.001 : 0.003);
      EXPECT_NEAR(angle_deg(f.a2_A), -61.2, kind == "sim" ? 0.1 : 0.3);
      EXPECT_GT(f.motif_margin, 0.05);
    }
}

TEST(LatticeTedGen, UncalibratedSamplesGiveTheirLatticeAndTwist) {
  // The analyser's samples: its network takes windows with the Re chains (a1) along +x and has no
  // rotation step, so its inputs are aligned that way (the large field after the left-right flip
  // the authors apply first). Their model put the twisted MoS2 at 19.66 deg.
  struct Case {
    std::string file, material;
    bool mirrored;  // relative to sim::layer_cell: as the simulations above (ReS2), or flipped
  };
  const Case cases[] = {{"tedgen_ReS2_bilayer_slip_sample1.png", "ReS2", true},
                        {"tedgen_ReS2_trilayer_slip.png", "ReS2", true},
                        {"tedgen_ReS2_large_field_1136_HAADF-1.png", "ReS2", false},
                        {"tedgen_ReSe2_bilayer_slip.png", "ReSe2", false}};
  for (const auto& c : cases) {
    const Image image = read_png(c.file);
    analysis::LatticeOptions o;
    o.material = c.material;
    o.pixel_A = analysis::estimate_pixel_size(image.pixels.data(), image.height, image.width, c.material);
    const auto f = analysis::find_lattice(image.pixels.data(), image.height, image.width, o);
    SCOPED_TRACE(c.file + ": " + f.describe());
    EXPECT_NEAR(f.scale, 1, 1e-3);
    EXPECT_NEAR(std::remainder(f.angle_deg, 180), 0, 1.0);
    EXPECT_EQ(f.mirrored, c.mirrored);
    EXPECT_GT(f.motif_margin, 0.05);
    // A calibration 20 % off is refused, naming (to 0.1 %) the pixel size found here.
    o.pixel_A *= 1.2;
    try {
      (void)analysis::find_lattice(image.pixels.data(), image.height, image.width, o);
      ADD_FAILURE() << "expected an InputError";
    } catch (const InputError& e) {
      const std::string what = e.what();
      const auto at = what.find("a pixel size of ");
      ASSERT_NE(at, std::string::npos) << what;
      EXPECT_NEAR(std::stod(what.substr(at + 16)) / f.fitting_pixel_A, 1, 1e-3) << what;
    }
  }
  const Image moire = read_png("tedgen_MoS2_twisted.png");
  analysis::LatticeOptions o;
  o.material = "MoS2";
  o.twisted = true;
  o.pixel_A = analysis::estimate_pixel_size(moire.pixels.data(), moire.height, moire.width, "MoS2");
  const auto f = analysis::find_lattice(moire.pixels.data(), moire.height, moire.width, o);
  ASSERT_TRUE(f.has_second) << f.describe();
  EXPECT_NEAR(f.twist_folded_deg, 19.66, 1.0) << f.describe();
}

// The stacking reduction of a campaign (campaign/stacking_reduction.hpp): stacking/1 products of
// bilayer slips, one per input, reduce onto a planted landscape to the planted counts per basin;
// windows of low confidence or without a slip are counted and left out; twist products are not
// handed to it; a product of another material is refused naming its file; and the streamed
// reduction gives exactly the statistics of the planned, rank-sharded path of stage campaign-stats
// (analysis::SlipCampaign) over the same windows.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>

#include "common/testing.hpp"
#include "tmdflow/analysis/landscape/slip_campaign.hpp"
#include "tmdflow/campaign/reduce.hpp"
#include "tmdflow/campaign/stacking_reduction.hpp"
#include "tmdflow/core/error.hpp"
#include "tmdflow/core/units.hpp"
#include "tmdflow/io/product.hpp"
#include "tmdflow/io/schema.hpp"

namespace fs = std::filesystem;
using namespace tmdflow;
using namespace tmdflow::campaign;

namespace {

using tmdflow::units::pi;
const double kNaN = std::nan("");
const std::string kConfig = "0123456789abcdef";  // the campaign's configuration hash

// The planted landscape of ReS2 (s and -s give the same image): minima at M1 (deepest), M2, -M2,
// -M1, so folded it has two basins, +-M1 and +-M2 (as in the campaign-stats e2e test).
const std::array<double, 2> M1{0.25, 0.25}, M2{0.62, 0.30};

double planted_energy(double a, double b) {
  auto bump = [&](double ma, double mb) { return std::exp(3 * (std::cos(2 * pi * (a - ma)) + std::cos(2 * pi * (b - mb)) - 2)); };
  return -60 * bump(M1[0], M1[1]) - 40 * bump(M2[0], M2[1]) - 30 * bump(-M2[0], -M2[1]) - 20 * bump(-M1[0], -M1[1]) + 100;
}

analysis::EnergyGrid planted_grid() {
  analysis::EnergyGrid g;
  g.na = g.nb = 24;
  for (int ib = 0; ib < 24; ++ib)
    for (int ia = 0; ia < 24; ++ia) g.energy_meV.push_back(planted_energy(ia / 24.0, ib / 24.0));
  return g;
}

struct PlantedImage {
  std::vector<double> a, b, conf;  // R x K windows
  int near_m1 = 0, near_m2 = 0, low = 0, missing = 0;
};

// R x K windows: each near M1 or M2 (within 0.03), given as s or -s plus a lattice translation;
// one of low confidence, one without a slip.
PlantedImage plant(std::mt19937& rng, int R, int K) {
  PlantedImage p;
  std::uniform_real_distribution<double> u(-0.03, 0.03), c(0.6, 1.0);
  std::bernoulli_distribution coin(0.5);
  std::uniform_int_distribution<int> shift(-1, 1);
  for (int w = 0; w < R * K; ++w) {
    const bool m1 = coin(rng);
    double a = (m1 ? M1[0] : M2[0]) + u(rng), b = (m1 ? M1[1] : M2[1]) + u(rng), conf = c(rng);
    if (coin(rng)) a = -a, b = -b;
    a += shift(rng), b += shift(rng);
    if (w == 1) conf = 0.2, ++p.low;
    else if (w == 2) a = kNaN, b = kNaN, ++p.missing;
    else ++(m1 ? p.near_m1 : p.near_m2);
    p.a.push_back(a), p.b.push_back(b), p.conf.push_back(conf);
  }
  return p;
}

// A stacking/1 product as infer-stacking writes it (the parts the reduction reads).
void write_stacking_product(const std::string& file, const std::string& material, const std::string& task,
                            const std::vector<PlantedImage>& images, int R, int K) {
  fs::create_directories(fs::path(file).parent_path());
  par::Comm self(MPI_COMM_SELF);
  io::ProductWriter w(self, io::Target{file, "/stacking"}, io::ProductInfo{"stacking/1", "infer-stacking", "0000000000000001", false, ""});
  const io::h5::Group& g = w.group();
  {
    g.set_attr("material", material);
    g.set_attr("stacking", std::string(material == "MoS2" ? "2H" : "AA"));
    g.set_attr("task", task);
    g.set_attr("layers", std::int64_t(2));
    g.set_attr("source", std::string("images.h5:/images"));
    const std::int64_t N = std::int64_t(images.size());
    std::vector<double> a, b, conf, whole_a, whole_b;
    for (const auto& im : images) {
      a.insert(a.end(), im.a.begin(), im.a.end());
      b.insert(b.end(), im.b.begin(), im.b.end());
      conf.insert(conf.end(), im.conf.begin(), im.conf.end());
      whole_a.push_back(im.a[0]), whole_b.push_back(im.b[0]);
    }
    io::h5::Group maps = g.create_group("maps");
    maps.write_array("slip_a", a, {N, 1, R, K});
    maps.write_array("slip_b", b, {N, 1, R, K});
    maps.write_array("confidence", conf, {N, R, K});
    const std::vector<double> nan(a.size(), kNaN), nan_whole(whole_a.size(), kNaN);
    maps.write_array("tedgen_Da_A", nan, {N, 1, R, K});
    maps.write_array("tedgen_Db_A", nan, {N, 1, R, K});
    g.write_array("slip_a", whole_a, {N, 1});
    g.write_array("slip_b", whole_b, {N, 1});
    g.write_array("tedgen_Da_A", nan_whole, {N, 1});
    g.write_array("tedgen_Db_A", nan_whole, {N, 1});
  }
  w.commit();
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The campaign folder: input i's product at products/in<i>.h5, every input done.
struct Campaign {
  std::string dir;
  std::vector<InputFile> inputs;
  std::map<std::string, Record> ledger;
  void add(const tmdflow::testing::ScratchDir& scratch, int i, const std::function<void(const std::string&)>& write) {
    const std::string key = "in" + std::to_string(i) + ".tif", input = scratch.file(key);
    std::ofstream(input) << "image " << i;
    inputs.push_back({input, key});
    const std::string product = "products/in" + std::to_string(i) + ".h5";
    write(dir + "/" + product);
    Record r;
    r.key = key, r.input = input, r.state = State::done, r.config = kConfig, r.product = product;
    const FileStamp st = stamp(input);
    r.size = st.size, r.mtime_ns = st.mtime_ns;
    ledger[key] = r;
  }
};

int basin_of(const io::h5::Group& stats, std::array<double, 2> m) {
  const auto ma = stats.open_dataset("basins/minimum_slip_a").read_all<double>();
  const auto mb = stats.open_dataset("basins/minimum_slip_b").read_all<double>();
  for (std::size_t k = 0; k < ma.size(); ++k)
    for (double sign : {1.0, -1.0}) {
      const double da = sign * ma[k] - m[0], db = sign * mb[k] - m[1];
      if (std::hypot(da - std::round(da), db - std::round(db)) < 0.05) return int(k);
    }
  return -1;
}

}  // namespace

TEST(StackingReduction, PlantedBasinsAcrossInputs) {
  tmdflow::testing::ScratchDir scratch;
  Campaign c;
  c.dir = scratch.file("campaign");
  std::mt19937 rng(19);
  const int R = 3, K = 4;
  std::vector<PlantedImage> all;  // every bilayer image, in campaign order
  for (int i = 0; i < 5; ++i) {
    if (i == 3) {  // a twist product: not the stacking reduction's
      c.add(scratch, i, [&](const std::string& f) { write_stacking_product(f, "ReS2", "twist", {plant(rng, R, K)}, R, K); });
      continue;
    }
    std::vector<PlantedImage> images{plant(rng, R, K)};
    if (i == 2) images.push_back(plant(rng, R, K));  // a product of two images
    all.insert(all.end(), images.begin(), images.end());
    c.add(scratch, i, [&](const std::string& f) { write_stacking_product(f, "ReS2", "slip", images, R, K); });
  }
  std::vector<std::unique_ptr<Reduction>> reductions;
  reductions.push_back(std::make_unique<StackingReduction>(planted_grid()));
  const ReduceReport report = reduce(c.dir, c.inputs, c.ledger, kConfig, std::move(reductions));
  EXPECT_EQ(report.done, 5u);
  EXPECT_EQ(report.products, 4u) << "the twist product must not be handed to the stacking reduction";

  int m1 = 0, m2 = 0, low = 0, missing = 0;
  for (const auto& im : all) m1 += im.near_m1, m2 += im.near_m2, low += im.low, missing += im.missing;
  const std::string out = c.dir + "/campaign/campaign.h5";
  {
    io::h5::File f = io::h5::File::open(out, io::h5::Mode::read, nullptr);
    const io::h5::Group s = f.group("/stacking");
    EXPECT_EQ(s.attr_int("images").value_or(-1), std::int64_t(all.size()));
    EXPECT_EQ(s.attr_int("inputs").value_or(-1), 4);
    EXPECT_EQ(s.attr_int("windows_kept").value_or(-1), m1 + m2);
    EXPECT_EQ(s.attr_int("windows_low_confidence").value_or(-1), low);
    EXPECT_EQ(s.attr_int("windows_missing").value_or(-1), missing);
    const auto count = s.open_dataset("basins/count").read_all<double>();
    ASSERT_EQ(count.size(), 2u) << "the planted landscape folds into two basins";
    const int b1 = basin_of(s, M1), b2 = basin_of(s, M2);
    ASSERT_GE(b1, 0);
    ASSERT_GE(b2, 0);
    EXPECT_NE(b1, b2);
    EXPECT_EQ(count[std::size_t(b1)], m1);
    EXPECT_EQ(count[std::size_t(b2)], m2);
    double histogram = 0;
    for (double v : s.open_dataset("fractions/counts").read_all<double>()) histogram += v;
    EXPECT_NEAR(histogram, m1 + m2, 1e-9);
    // Each image names its input, in manifest order; the two images of input 3 (index 2) both.
    const auto index = s.open_dataset("images/input_index").read_all<std::int64_t>();
    EXPECT_EQ(index, (std::vector<std::int64_t>{1, 2, 3, 3, 5}));
    const auto per_image = s.open_dataset("images/windows").read_all<std::int64_t>();
    for (std::size_t n = 0; n < all.size(); ++n) EXPECT_EQ(per_image[n], all[n].near_m1 + all[n].near_m2) << "image " << n;
  }
  const io::ValidationReport v = io::validate_file(out);
  EXPECT_TRUE(v.problems.empty()) << v.text();
  const std::string csv = read_text(c.dir + "/campaign/stacking_images.csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), std::ptrdiff_t(all.size() + 1)) << csv;
  EXPECT_TRUE(fs::exists(c.dir + "/campaign/figures/stacking_campaign_landscape.png"));

  // The planned path of campaign-stats: the same images split over two "ranks", counts summed.
  analysis::SlipCampaign part0("ReS2", "AA", planted_grid(), "planted", {}), part1("ReS2", "AA", planted_grid(), "planted", {});
  std::vector<analysis::SlipImage> whole(all.size());
  part0.plan(whole, std::int64_t(all.size()) * R * K), part1.plan(whole, std::int64_t(all.size()) * R * K);
  for (std::size_t n = 0; n < all.size(); ++n) {
    std::vector<analysis::CampaignWindow> w;
    for (int k = 0; k < R * K; ++k) w.push_back({all[n].a[std::size_t(k)], all[n].b[std::size_t(k)], kNaN, kNaN, all[n].conf[std::size_t(k)]});
    (n % 2 ? part1 : part0).add_image(std::int64_t(n), std::int64_t(n) * R * K, w);
  }
  std::vector<double> sum = part0.counts();
  const std::vector<double> other = part1.counts();
  for (std::size_t k = 0; k < sum.size(); ++k) sum[k] += other[k];
  part0.set_counts(sum);
  io::h5::File f = io::h5::File::open(out, io::h5::Mode::read, nullptr);
  const io::h5::Group s = f.group("/stacking");
  EXPECT_EQ(s.open_dataset("fractions/counts").read_all<double>(), part0.tally().fractions().counts);
  EXPECT_EQ(s.open_dataset("basins/count").read_all<double>(), part0.tally().basin_count());
  EXPECT_EQ(s.open_dataset("basin_pairs/count").read_all<double>().size(), std::size_t(std::count_if(
      part0.tally().pair_count().begin(), part0.tally().pair_count().end(), [](double x) { return x > 0; })));
}

TEST(StackingReduction, AnotherMaterialIsRefusedNamingItsFile) {
  tmdflow::testing::ScratchDir scratch;
  Campaign c;
  c.dir = scratch.file("campaign");
  std::mt19937 rng(3);
  c.add(scratch, 0, [&](const std::string& f) { write_stacking_product(f, "ReS2", "slip", {plant(rng, 2, 2)}, 2, 2); });
  c.add(scratch, 1, [&](const std::string& f) { write_stacking_product(f, "MoS2", "slip", {plant(rng, 2, 2)}, 2, 2); });
  std::vector<std::unique_ptr<Reduction>> reductions;
  reductions.push_back(std::make_unique<StackingReduction>(planted_grid()));
  try {
    reduce(c.dir, c.inputs, c.ledger, kConfig, std::move(reductions));
    FAIL() << "a MoS2 product in a ReS2 campaign was reduced";
  } catch (const InputError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("products/in1.h5"), std::string::npos) << m;
    EXPECT_NE(m.find("ReS2 AA"), std::string::npos) << m;
    EXPECT_NE(m.find("MoS2"), std::string::npos) << m;
  }
  EXPECT_FALSE(fs::exists(c.dir + "/campaign")) << "a failed reduce left a campaign folder";
}

TEST(StackingReduction, BuiltinLandscapeWhenNoneIsGiven) {
  // The registry's default: the built-in estimate for the first product's material (ReS2 AA here);
  // every kept window lands in a basin and the basins' fractions add up to 1.
  tmdflow::testing::ScratchDir scratch;
  Campaign c;
  c.dir = scratch.file("campaign");
  std::mt19937 rng(5);
  c.add(scratch, 0, [&](const std::string& f) { write_stacking_product(f, "ReS2", "slip", {plant(rng, 3, 3)}, 3, 3); });
  const ReduceReport report = reduce(c.dir, c.inputs, c.ledger, kConfig);
  ASSERT_EQ(report.summaries.size(), 1u);
  EXPECT_NE(report.summaries[0].find("stacking: 1 inputs"), std::string::npos) << report.summaries[0];
  io::h5::File f = io::h5::File::open(c.dir + "/campaign/campaign.h5", io::h5::Mode::read, nullptr);
  const io::h5::Group s = f.group("/stacking");
  EXPECT_NE(s.attr_string("landscape_source").value_or("").find("built-in estimate"), std::string::npos);
  double total = 0;
  for (double x : s.open_dataset("basins/fraction").read_all<double>()) total += x;
  EXPECT_NEAR(total, 1.0, 1e-12);
  EXPECT_EQ(s.attr_int("windows_kept").value_or(-1), 7);  // 9 windows, one low, one without a slip
}

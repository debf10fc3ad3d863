// Campaign reductions (campaign/reduction.hpp, domain_reduction.hpp, reduce.hpp): histograms and
// tables keep their counts, a domains/1 product reduces to the numbers worked out by hand, and the
// reduce hands products to the reductions one file at a time, in manifest order, skipping inputs
// that are not done.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/testing.hpp"
#include "tmdflow/campaign/domain_reduction.hpp"
#include "tmdflow/campaign/reduce.hpp"
#include "tmdflow/core/error.hpp"
#include "tmdflow/io/emd.hpp"
#include "tmdflow/io/product.hpp"

namespace fs = std::filesystem;
using namespace tmdflow;
using namespace tmdflow::campaign;

namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct FakeDomain {
  double twist, orientation;
  int polarity;
  std::int64_t patterns;
};

// A minimal domains/1 product: a Rx x Ry label map, the domain table, the scan calibration.
void write_domains_product(const std::string& file, std::int64_t rx, std::int64_t ry, const std::vector<FakeDomain>& domains,
                           double step, const std::string& units = "nm") {
  fs::create_directories(fs::path(file).parent_path());
  par::Comm self(MPI_COMM_SELF);
  io::ProductWriter w(self, io::Target{file, "/domains"}, io::ProductInfo{"domains/1", "domains", "0000000000000001", false, ""});
  const io::h5::Group& g = w.group();
  {  // every group closed before the commit
  io::h5::Group label = g.create_group("label");
  label.write_array("data", std::vector<std::int32_t>(std::size_t(rx * ry), 0), {rx, ry});
  io::h5::Group t = g.create_group("domain_table");
  std::vector<double> twist, orientation;
  std::vector<std::int32_t> polarity, cls;
  std::vector<std::int32_t> patterns;
  for (std::size_t d = 0; d < domains.size(); ++d) {
    twist.push_back(domains[d].twist);
    orientation.push_back(domains[d].orientation);
    polarity.push_back(domains[d].polarity);
    patterns.push_back(std::int32_t(domains[d].patterns));
    cls.push_back(std::int32_t(d % 2));
  }
  t.write_vector("twist_deg", twist);
  t.write_vector("orientation_deg", orientation);
  t.write_vector("polarity", polarity);
  t.write_vector("patterns", patterns);
  t.write_vector("twist_class", cls);
  io::emd::Calibration cal;
  cal.R_pixel_size = step;
  cal.R_pixel_units = units;
  io::emd::write_calibration(g, cal, "/domains/label");
  }
  w.commit();
}

}  // namespace

TEST(CampaignTables, HistogramCountsAndEdges) {
  Histogram h(0, 60, 60);
  h.add(0);
  h.add(59.999);
  h.add(60);  // the last bin holds hi
  h.add(12.5, 7);
  h.add(-1);
  h.add(61);
  h.add(std::nan(""));
  EXPECT_EQ(h.counts[0], 1);
  EXPECT_EQ(h.counts[12], 7);
  EXPECT_EQ(h.counts[59], 2);
  EXPECT_EQ(h.underflow, 1);
  EXPECT_EQ(h.overflow, 1);
  EXPECT_EQ(h.total(), 10);
  const auto e = h.edges();
  ASSERT_EQ(e.size(), 61u);
  EXPECT_DOUBLE_EQ(e[0], 0);
  EXPECT_DOUBLE_EQ(e[60], 60);
}

TEST(CampaignTables, CsvQuotesWhatNeedsIt) {
  tmdflow::testing::ScratchDir dir;
  CsvTable t(dir.file("t.csv"), {"key", "value"});
  t.row({"plain", CsvTable::number(0.1)});
  t.row({"a,b \"c\"", CsvTable::number(std::nan(""))});
  EXPECT_THROW(t.row({"one field"}), Error);
  t.close();
  EXPECT_EQ(t.rows(), 2u);
  EXPECT_EQ(read_text(dir.file("t.csv")), "key,value\nplain,0.1\n\"a,b \"\"c\"\"\",\n");
}

TEST(CampaignDomains, SummaryWorkedOutByHand) {
  tmdflow::testing::ScratchDir dir;
  const std::string file = dir.file("p.h5");
  // 10 x 8 = 80 positions, 70 labelled: 40 at twist 58 (+1), 20 at twist 2 (-1), 10 at twist 30 (+1).
  write_domains_product(file, 10, 8, {{58, 58, 1, 40}, {2, 62, -1, 20}, {30, 30, 1, 10}}, 0.5);
  io::h5::File f = io::h5::File::open(file, io::h5::Mode::read, nullptr);
  std::vector<DomainRow> rows;
  const DomainInputSummary s = summarize_domains(f.group("/domains"), rows);
  EXPECT_EQ(s.patterns, 80);
  EXPECT_EQ(s.labelled, 70);
  EXPECT_EQ(s.domains, 3);
  EXPECT_EQ(s.twist_classes, 2);
  EXPECT_DOUBLE_EQ(s.polarity_plus_fraction, 50.0 / 70.0);
  EXPECT_DOUBLE_EQ(s.largest_domain_fraction, 40.0 / 70.0);
  EXPECT_DOUBLE_EQ(s.pixel_area_nm2, 0.25);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_DOUBLE_EQ(rows[0].area_nm2, 10.0);
  // Twist is 60-periodic: 58 and 2 average near 0, not 30.
  const double phase = std::atan2(40 * std::sin(2 * M_PI * 58 / 60) + 20 * std::sin(2 * M_PI * 2 / 60) + 10 * std::sin(M_PI),
                                  40 * std::cos(2 * M_PI * 58 / 60) + 20 * std::cos(2 * M_PI * 2 / 60) + 10 * std::cos(M_PI));
  EXPECT_NEAR(s.twist_circular_mean_deg, std::fmod(phase / (2 * M_PI) * 60 + 60, 60), 1e-9);
  EXPECT_GT(s.twist_circular_mean_deg, 55);

  // In Angstrom: the same area; in pixels: none.
  write_domains_product(dir.file("a.h5"), 2, 2, {{10, 10, 1, 4}}, 5.0, "A");
  io::h5::File fa = io::h5::File::open(dir.file("a.h5"), io::h5::Mode::read, nullptr);
  EXPECT_DOUBLE_EQ(summarize_domains(fa.group("/domains"), rows).pixel_area_nm2, 0.25);
  write_domains_product(dir.file("px.h5"), 2, 2, {{10, 10, 1, 4}}, 1.0, "pixels");
  io::h5::File fp = io::h5::File::open(dir.file("px.h5"), io::h5::Mode::read, nullptr);
  EXPECT_TRUE(std::isnan(summarize_domains(fp.group("/domains"), rows).pixel_area_nm2));

  // More labelled positions than the scan has: a broken product, named.
  write_domains_product(dir.file("bad.h5"), 2, 2, {{10, 10, 1, 5}}, 1.0);
  io::h5::File fb = io::h5::File::open(dir.file("bad.h5"), io::h5::Mode::read, nullptr);
  try {
    summarize_domains(fb.group("/domains"), rows);
    FAIL() << "5 labelled positions in a 2 x 2 scan were accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("domain_table/patterns"), std::string::npos) << e.what();
  }
}

namespace {

// Records what the reduce hands it, and how many HDF5 files are open at that moment.
class Recorder : public Reduction {
 public:
  std::vector<std::size_t>* seen;
  int* max_open_files;
  explicit Recorder(std::vector<std::size_t>* s, int* m) : seen(s), max_open_files(m) {}
  std::string name() const override { return "recorder"; }
  std::string product_schema() const override { return "domains/1"; }
  std::string campaign_schema() const override { return "campaign_domains/1"; }
  void begin(const std::string&) override {}
  void add(const ProductView& p) override {
    seen->push_back(p.index);
    *max_open_files = std::max(*max_open_files, int(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_FILE)));
  }
  void finish(const io::h5::Group& out, const std::string&) override { out.set_attr("inputs", std::int64_t(seen->size())); }
  std::string summary() const override { return "recorder"; }
};

}  // namespace

TEST(CampaignReduce, OneProductAtATimeInManifestOrder) {
  tmdflow::testing::ScratchDir dir;
  const std::string campaign = dir.file("c");
  std::vector<InputFile> inputs;
  std::map<std::string, Record> ledger;
  for (int i = 0; i < 6; ++i) {
    const std::string key = "in" + std::to_string(i) + ".h5";
    const std::string input = dir.file(key);
    std::ofstream(input) << "raw input " << i;
    inputs.push_back({input, key});
    const std::string product = "products/in" + std::to_string(i) + "/in" + std::to_string(i) + ".h5";
    write_domains_product(campaign + "/" + product, 4, 4, {{double(10 * i), double(10 * i), i % 2 ? 1 : -1, 16}}, 1.0);
    Record r;
    r.key = key;
    r.input = input;
    r.state = i == 3 ? State::failed : State::done;  // input 3 failed: not reduced
    const FileStamp st = stamp(input);
    r.size = st.size;
    r.mtime_ns = st.mtime_ns;
    r.config = "cfg";
    r.product = product;
    ledger[key] = r;
  }
  ledger.erase("in5.h5");  // never run: missing
  std::vector<std::size_t> seen;
  int max_open = 0;
  std::vector<std::unique_ptr<Reduction>> reductions;
  reductions.push_back(std::make_unique<Recorder>(&seen, &max_open));
  reductions.push_back(std::make_unique<DomainReduction>());
  const ReduceReport r = reduce(campaign, inputs, ledger, "cfg", std::move(reductions));
  EXPECT_EQ(seen, (std::vector<std::size_t>{0, 1, 2, 4}));
  EXPECT_EQ(max_open, 1) << "more than one product file open during the reduce";
  EXPECT_EQ(r.done, 4u);
  EXPECT_EQ(r.products, 8u);  // each product to both reductions
  ASSERT_EQ(r.not_done.size(), 2u);
  EXPECT_NE(r.not_done[0].find("in3.h5: failed"), std::string::npos) << r.not_done[0];
  EXPECT_NE(r.not_done[1].find("in5.h5: missing"), std::string::npos) << r.not_done[1];

  // The campaign products: every input in inputs.csv, the domain rows of the four done ones.
  const std::string inputs_csv = read_text(campaign + "/campaign/inputs.csv");
  EXPECT_EQ(std::count(inputs_csv.begin(), inputs_csv.end(), '\n'), 7);
  const std::string domains_csv = read_text(campaign + "/campaign/domains_inputs.csv");
  EXPECT_EQ(std::count(domains_csv.begin(), domains_csv.end(), '\n'), 5);
  io::h5::File out = io::h5::File::open(campaign + "/campaign/campaign.h5", io::h5::Mode::read, nullptr);
  const auto twist = out.group("/domains/domains").open_dataset("twist_deg").read_all<double>();
  EXPECT_EQ(twist, (std::vector<double>{0, 10, 20, 40}));
  const auto counts = out.group("/domains/twist_histogram").open_dataset("domains").read_all<std::int64_t>();
  EXPECT_EQ(counts[0] + counts[10] + counts[20] + counts[40], 4);
  EXPECT_TRUE(fs::exists(campaign + "/campaign/figures/domains_campaign.png"));

  // An input changed since it was done is stale, and a second reduce replaces the first whole.
  std::ofstream(inputs[0].path, std::ios::app) << " changed";
  const ReduceReport again = reduce(campaign, inputs, ledger, "cfg");
  EXPECT_EQ(again.done, 3u);
  EXPECT_NE(read_text(campaign + "/campaign/inputs.csv").find(",stale,\"input changed (size 11 -> 19"), std::string::npos)
      << read_text(campaign + "/campaign/inputs.csv");
  std::size_t leftovers = 0;
  for (const auto& e : fs::directory_iterator(campaign)) leftovers += e.path().filename().string().rfind("campaign.", 0) == 0;
  EXPECT_EQ(leftovers, 0u) << "a temporary or old reduce folder was left";
}

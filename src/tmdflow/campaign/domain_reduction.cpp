#include "tmdflow/campaign/domain_reduction.hpp"

#include <algorithm>
#include <cmath>
#include <complex>
#include <filesystem>
#include <numeric>
#include <set>

#include "tmdflow/core/error.hpp"
#include "tmdflow/core/units.hpp"
#include "tmdflow/io/emd.hpp"
#include "tmdflow/io/plot_curves.hpp"

namespace tmdflow::campaign {
namespace {

using units::pi;

template <class T>
std::vector<T> column(const io::h5::Group& g, const std::string& name, std::size_t expected, bool check) {
  if (!g.exists(name)) throw InputError::at(g.file_name(), g.path() + "/" + name, "domain table", "the dataset (domains/1)", "none");
  std::vector<T> v = g.open_dataset(name).read_all<T>();
  if (check && v.size() != expected)
    throw InputError::at(g.file_name(), g.path() + "/" + name, "length", std::to_string(expected) + " (one per domain)",
                         std::to_string(v.size()));
  return v;
}

// Area of one scan position in nm^2 from the product's py4DSTEM calibration; NaN when its scan is
// not calibrated in a length.
double pixel_area_nm2(const io::h5::Group& product) {
  const auto cal = io::emd::read_calibration(product);
  if (!cal) return std::nan("");
  double scale = 0;
  if (cal->R_pixel_units == "nm") scale = 1;
  else if (cal->R_pixel_units == "A" || cal->R_pixel_units == "Angstrom") scale = 0.1;
  else return std::nan("");
  const double step = cal->R_pixel_size * scale;
  return step * step;
}

// Histogram as a step curve (x at both edges of each bin), for a line chart.
io::plot::Series steps(const Histogram& h, const std::string& label, io::Rgb colour, double scale = 1) {
  io::plot::Series s;
  s.label = label;
  s.colour = colour;
  const auto e = h.edges();
  for (std::size_t k = 0; k < h.counts.size(); ++k) {
    s.x.push_back(e[k]);
    s.x.push_back(e[k + 1]);
    s.y.push_back(double(h.counts[k]) * scale);
    s.y.push_back(double(h.counts[k]) * scale);
  }
  return s;
}

}  // namespace

DomainInputSummary summarize_domains(const io::h5::Group& product, std::vector<DomainRow>& rows) {
  DomainInputSummary s;
  if (!product.exists("label/data"))
    throw InputError::at(product.file_name(), product.path() + "/label/data", "label map", "a 2-D dataset (domains/1)", "none");
  const auto shape = product.open_dataset("label/data").shape();
  if (shape.size() != 2)
    throw InputError::at(product.file_name(), product.path() + "/label/data", "rank", "2 (Rx, Ry)", std::to_string(shape.size()));
  s.patterns = shape[0] * shape[1];
  const io::h5::Group table = product.open_group("domain_table");
  const auto patterns = column<std::int64_t>(table, "patterns", 0, false);
  const std::size_t m = patterns.size();
  const auto twist = column<double>(table, "twist_deg", m, true);
  const auto orientation = column<double>(table, "orientation_deg", m, true);
  const auto polarity = column<std::int32_t>(table, "polarity", m, true);
  const auto twist_class = column<std::int32_t>(table, "twist_class", m, true);
  s.pixel_area_nm2 = pixel_area_nm2(product);
  s.domains = std::int64_t(m);
  s.twist_classes = std::int64_t(std::set<std::int32_t>(twist_class.begin(), twist_class.end()).size());
  std::int64_t plus = 0, largest = 0;
  std::complex<double> phase_sum = 0;
  for (std::size_t d = 0; d < m; ++d) {
    if (patterns[d] < 0)
      throw InputError::at(product.file_name(), table.path() + "/patterns", "domain " + std::to_string(d), "a count >= 0",
                           std::to_string(patterns[d]));
    s.labelled += patterns[d];
    if (polarity[d] > 0) plus += patterns[d];
    largest = std::max(largest, patterns[d]);
    // Twist is periodic in 60 degrees: average the phases 2 pi twist / 60.
    phase_sum += double(patterns[d]) * std::polar(1.0, 2 * pi * twist[d] / 60.0);
    rows.push_back({twist[d], orientation[d], polarity[d], patterns[d], double(patterns[d]) * s.pixel_area_nm2});
  }
  if (s.labelled > s.patterns)
    throw InputError::at(product.file_name(), table.path() + "/patterns", "sum", "at most the " + std::to_string(s.patterns) +
                         " scan positions", std::to_string(s.labelled));
  const double nan = std::nan("");
  s.polarity_plus_fraction = s.labelled ? double(plus) / double(s.labelled) : nan;
  s.largest_domain_fraction = s.labelled ? double(largest) / double(s.labelled) : nan;
  double mean = std::arg(phase_sum) / (2 * pi) * 60.0;
  if (mean < 0) mean += 60;
  s.twist_circular_mean_deg = s.labelled ? mean : nan;
  return s;
}

void DomainReduction::begin(const std::string& folder) {
  inputs_table_ = CsvTable(folder + "/domains_inputs.csv",
                           {"index", "key", "input", "patterns", "labelled", "domains", "twist_classes", "polarity_plus_fraction",
                            "largest_domain_fraction", "pixel_area_nm2", "twist_mean_deg"});
  domains_table_ = CsvTable(folder + "/domains_domains.csv",
                            {"index", "key", "domain", "twist_deg", "orientation_deg", "polarity", "patterns", "area_nm2"});
}

void DomainReduction::add(const ProductView& p) {
  std::vector<DomainRow> rows;
  const DomainInputSummary s = summarize_domains(*p.group, rows);
  using N = CsvTable;
  const std::string index = std::to_string(p.index + 1);
  inputs_table_.row({index, p.input->key, p.input->path, std::to_string(s.patterns), std::to_string(s.labelled),
                     std::to_string(s.domains), std::to_string(s.twist_classes), N::number(s.polarity_plus_fraction),
                     N::number(s.largest_domain_fraction), N::number(s.pixel_area_nm2), N::number(s.twist_circular_mean_deg)});
  keys_.push_back(p.input->key);
  input_index_.push_back(std::int64_t(p.index + 1));
  patterns_.push_back(s.patterns);
  labelled_.push_back(s.labelled);
  domain_count_.push_back(s.domains);
  polarity_fraction_.push_back(s.polarity_plus_fraction);
  largest_fraction_.push_back(s.largest_domain_fraction);
  pixel_area_.push_back(s.pixel_area_nm2);
  twist_mean_.push_back(s.twist_circular_mean_deg);
  polarity_inputs_.add(s.polarity_plus_fraction);
  for (std::size_t d = 0; d < rows.size(); ++d) {
    const DomainRow& r = rows[d];
    domains_table_.row({index, p.input->key, std::to_string(d), N::number(r.twist_deg), N::number(r.orientation_deg),
                        std::to_string(r.polarity), std::to_string(r.patterns), N::number(r.area_nm2)});
    domain_input_.push_back(std::int64_t(p.index + 1));
    domain_twist_.push_back(r.twist_deg);
    domain_orientation_.push_back(r.orientation_deg);
    domain_polarity_.push_back(r.polarity);
    domain_patterns_.push_back(r.patterns);
    domain_area_.push_back(r.area_nm2);
    twist_domains_.add(r.twist_deg);
    twist_patterns_.add(r.twist_deg, r.patterns);
    if (r.area_nm2 > 0) area_domains_.add(std::log10(r.area_nm2));
  }
}

void DomainReduction::finish(const io::h5::Group& out, const std::string& figures) {
  inputs_table_.close();
  domains_table_.close();
  const io::h5::Group in = out.create_group("inputs");
  in.write_vector("index", input_index_);
  in.write_strings("key", keys_);
  in.write_vector("patterns", patterns_);
  in.write_vector("labelled", labelled_);
  in.write_vector("domains", domain_count_);
  in.write_vector("polarity_plus_fraction", polarity_fraction_);
  in.write_vector("largest_domain_fraction", largest_fraction_);
  in.write_vector("pixel_area_nm2", pixel_area_);
  in.write_vector("twist_mean_deg", twist_mean_);
  const io::h5::Group dom = out.create_group("domains");
  dom.write_vector("input_index", domain_input_);
  dom.write_vector("twist_deg", domain_twist_);
  dom.write_vector("orientation_deg", domain_orientation_);
  dom.write_vector("polarity", domain_polarity_);
  dom.write_vector("patterns", domain_patterns_);
  dom.write_vector("area_nm2", domain_area_);
  auto hist = [&](const std::string& name, const Histogram& h, const std::string& counts_name) {
    io::h5::Group g = out.create_group(name);
    g.write_vector("edges", h.edges());
    g.write_vector(counts_name, h.counts);
    g.set_attr("underflow", h.underflow);
    g.set_attr("overflow", h.overflow);
    return g;
  };
  hist("twist_histogram", twist_domains_, "domains").write_vector("patterns", twist_patterns_.counts);
  hist("area_histogram", area_domains_, "domains").set_attr("edges_unit", "log10(nm^2)");  // edges are log10 of the area in nm^2
  hist("polarity_histogram", polarity_inputs_, "inputs");
  out.set_attr("inputs", std::int64_t(keys_.size()));
  out.set_attr("domains", std::int64_t(domain_twist_.size()));
  out.set_attr("patterns", std::accumulate(patterns_.begin(), patterns_.end(), std::int64_t(0)));
  out.set_attr("labelled", std::accumulate(labelled_.begin(), labelled_.end(), std::int64_t(0)));

  if (domain_twist_.empty()) return;  // nothing to draw
  std::filesystem::create_directories(figures);
  using namespace io::plot;
  auto chart = [](const std::string& title, const std::string& x, const std::string& y, Series s) {
    Chart c;
    c.title = title;
    c.x_label = x;
    c.y_label = y;
    c.series.push_back(std::move(s));
    return c;
  };
  const Chart twist = chart("Twist distribution", "twist (degrees)", "domains", steps(twist_domains_, "domains", series_colour(0)));
  const Chart area = chart("Domain sizes", "log10 domain area (nm^2)", "domains", steps(area_domains_, "domains", series_colour(1)));
  const Chart polarity = chart("Polarity per file", "fraction of polarity +1", "files", steps(polarity_inputs_, "files", series_colour(2)));
  std::vector<Chart> charts{twist, polarity};
  if (area_domains_.total() > 0) charts.insert(charts.begin() + 1, area);
  write_charts(figures + "/domains_campaign.png", charts,
               "Twist domains over " + std::to_string(keys_.size()) + " files (" + std::to_string(domain_twist_.size()) + " domains)",
               "Campaign statistics of the twist-domain analysis: the number of domains per 1-degree twist bin (twist = orientation "
               "mod 60), the domain areas (10 bins per decade, from the scan step), and the fraction of each file's labelled "
               "positions with polarity +1 (0.05 bins); tables in domains_inputs.csv and domains_domains.csv");
}

std::string DomainReduction::summary() const {
  return "domains: " + std::to_string(keys_.size()) + " inputs, " + std::to_string(domain_twist_.size()) + " domains";
}

}  // namespace tmdflow::campaign

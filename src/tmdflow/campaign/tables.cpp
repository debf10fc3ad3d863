#include "tmdflow/campaign/tables.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>

#include "tmdflow/core/error.hpp"

namespace tmdflow::campaign {
namespace {

std::string quoted(const std::string& field) {
  if (field.find_first_of(",\"\n\r") == std::string::npos) return field;
  std::string q = "\"";
  for (char c : field) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

}  // namespace

CsvTable::CsvTable(const std::string& path, const std::vector<std::string>& header)
    : out_(path, std::ios::out | std::ios::trunc), path_(path), columns_(header.size()) {
  if (!out_) throw IoError(path + ": cannot create the table");
  row(header);
  rows_ = 0;
}

void CsvTable::row(const std::vector<std::string>& fields) {
  if (fields.size() != columns_)
    throw Error(path_ + ": a row of " + std::to_string(fields.size()) + " fields, expected " + std::to_string(columns_),
                ExitCode::failure);
  for (std::size_t i = 0; i < fields.size(); ++i) out_ << (i ? "," : "") << quoted(fields[i]);
  out_ << '\n';
  ++rows_;
}

void CsvTable::close() {
  if (!out_.is_open()) return;
  out_.flush();
  const bool ok = bool(out_);
  out_.close();
  if (!ok) throw IoError(path_ + ": writing the table failed (disk full?)");
}

std::string CsvTable::number(double v) {
  if (std::isnan(v)) return "";
  std::ostringstream s;
  for (int p = 6; p <= 17; ++p) {
    s.str("");
    s.precision(p);
    s << v;
    if (std::stod(s.str()) == v) break;
  }
  return s.str();
}

Histogram::Histogram(double lo_, double hi_, int bins) : lo(lo_), hi(hi_), counts(std::size_t(bins), 0) {}

void Histogram::add(double value, std::int64_t weight) {
  if (std::isnan(value)) return;
  if (value < lo) {
    underflow += weight;
    return;
  }
  if (value > hi) {
    overflow += weight;
    return;
  }
  const double k = std::floor((value - lo) / (hi - lo) * double(counts.size()));
  counts[std::min(std::size_t(k), counts.size() - 1)] += weight;
}

std::vector<double> Histogram::edges() const {
  std::vector<double> e(counts.size() + 1);
  for (std::size_t k = 0; k < e.size(); ++k) e[k] = lo + (hi - lo) * double(k) / double(counts.size());
  return e;
}

std::int64_t Histogram::total() const { return std::accumulate(counts.begin(), counts.end(), std::int64_t(0)); }

}  // namespace tmdflow::campaign

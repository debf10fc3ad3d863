#pragma once
// What campaign reductions share: a CSV table written row by row (streamed, never held), and a
// histogram with fixed bins (its counts are the distribution's statistics, merged by addition).
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

namespace tmdflow::campaign {

/// A CSV file (RFC 4180 quoting) written one row at a time. Throws IoError.
class CsvTable {
 public:
  CsvTable() = default;
  CsvTable(const std::string& path, const std::vector<std::string>& header);
  void row(const std::vector<std::string>& fields);
  /// Flushes and closes; throws IoError when a write failed.
  void close();
  std::size_t rows() const { return rows_; }
  const std::string& path() const { return path_; }

  /// Numbers as CSV fields: the shortest text that reads back as the same double; "" for NaN.
  static std::string number(double v);

 private:
  std::ofstream out_;
  std::string path_;
  std::size_t columns_ = 0, rows_ = 0;
};

/// Uniform bins over [lo, hi] (the last bin holds hi itself); values outside are counted as
/// under/overflow, NaN ignored.
struct Histogram {
  double lo = 0, hi = 1;
  std::vector<std::int64_t> counts;
  std::int64_t underflow = 0, overflow = 0;

  Histogram(double lo, double hi, int bins);
  void add(double value, std::int64_t weight = 1);
  std::vector<double> edges() const;
  std::int64_t total() const;  // inside the bins
};

}  // namespace tmdflow::campaign

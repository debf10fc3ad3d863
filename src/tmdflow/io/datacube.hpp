#pragma once
// 4D-STEM datacubes in files: data[Rx, Ry, Qx, Qy] (scan rows Rx, scan columns Ry, detector
// rows Qx, detector columns Qy). A tmdflow datacube product is an EMD root holding a DataCube
// array named "datacube" (chunks of one pattern) and py4DSTEM's calibration.
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "tmdflow/io/emd.hpp"
#include "tmdflow/io/product.hpp"
#include "tmdflow/par/comm.hpp"
#include "tmdflow/par/partition.hpp"

namespace tmdflow::io {

struct DatacubeMeta {
  h5::Shape shape;  // {Rx, Ry, Qx, Qy}
  Dtype dtype = Dtype::f32;
  emd::Calibration calibration;  // R in nm (EMD convention for scan steps), Q in A^-1
  /// Acquisition values known for the data (voltage_kV, convergence_mrad, ...); may be empty.
  std::map<std::string, double> acquisition;
  std::int64_t scan_rows() const { return shape.at(0); }
  std::int64_t scan_cols() const { return shape.at(1); }
  std::int64_t positions() const { return shape.at(0) * shape.at(1); }
  std::int64_t pattern_pixels() const { return shape.at(2) * shape.at(3); }
  /// True when Q_pixel_units is A^-1 (so mrad conversions are possible with a voltage).
  bool q_calibrated() const;
};

/// Largest datacube a reader accepts from a file's header or shape: 2^62 bytes, far beyond any
/// real one, so that the products of its extents (positions(), pattern_pixels(), byte counts and
/// offsets) never overflow.
constexpr std::uint64_t kMaxDatacubeBytes = std::uint64_t(1) << 62;
/// Throws InputError "FILE[:DATASET]: shape: expected at most 2^62 bytes, found SHAPE TYPE" when
/// `shape` (non-negative extents) of `dtype` holds more; returns its size in bytes otherwise.
std::uint64_t checked_datacube_bytes(const h5::Shape& shape, Dtype dtype, const std::string& file,
                                     const std::string& dataset = "");

/// Writes a datacube into a product group (collective on the writer's communicator).
class DatacubeWriter {
 public:
  DatacubeWriter(const ProductWriter& product, const DatacubeMeta& meta, const std::string& array_name = "datacube");
  /// Writes scan rows [row0, row0+nrows) of this rank (nrows may be 0); collective.
  template <class T>
  void write_rows(std::int64_t row0, std::int64_t nrows, const T* data) const {
    data_.write(rows_offset(row0), rows_count(nrows), data);
  }
  const DatacubeMeta& meta() const { return meta_; }
  const h5::Dataset& dataset() const { return data_; }

 private:
  h5::Shape rows_offset(std::int64_t row0) const { return {row0, 0, 0, 0}; }
  h5::Shape rows_count(std::int64_t n) const { return {n, meta_.shape[1], meta_.shape[2], meta_.shape[3]}; }
  DatacubeMeta meta_;
  h5::Dataset data_;
};

/// Opens a 4-D dataset from "FILE[:/path]": the path may name a dataset, an EMD array group or a
/// group holding one DataCube (searched depth first). Without a path, the file's only DataCube (or
/// its only 4-D array) is used. Collective on comm (or serial when comm is null).
class DatacubeReader {
 public:
  static DatacubeReader open(const std::string& spec, const par::Comm* comm);
  /// "FILE:/path/to/data" of the datacube `spec` names (serial, read-only; throws as open()).
  static std::string locate(const std::string& spec);

  const DatacubeMeta& meta() const { return meta_; }
  /// "FILE:/path/to/data"
  std::string where() const { return data_.where(); }
  /// Product info of the product holding the datacube, when it is a tmdflow product.
  const std::optional<ProductInfo>& product() const { return product_; }

  /// Reads scan rows [row0, row0+nrows) converted to T; collective (nrows may be 0).
  template <class T>
  void read_rows(std::int64_t row0, std::int64_t nrows, T* out) const {
    data_.read(h5::Shape{row0, 0, 0, 0}, h5::Shape{nrows, meta_.shape[1], meta_.shape[2], meta_.shape[3]}, out);
  }
  /// Reads positions [p0, p0+n) of one scan row (independent I/O).
  template <class T>
  void read_positions(std::int64_t row, std::int64_t col0, std::int64_t n, T* out) const {
    data_.read(h5::Shape{row, col0, 0, 0}, h5::Shape{1, n, meta_.shape[2], meta_.shape[3]}, out, h5::Xfer::independent);
  }
  const h5::Dataset& dataset() const { return data_; }
  const std::shared_ptr<h5::File>& file() const { return file_; }

 private:
  std::shared_ptr<h5::File> file_;
  h5::Dataset data_;
  DatacubeMeta meta_;
  std::optional<ProductInfo> product_;
};

}  // namespace tmdflow::io

#include "tmdflow/io/formats/hdf5_source.hpp"

#include <algorithm>

#include "tmdflow/core/strings.hpp"
#include "tmdflow/io/formats/arina_filters.hpp"

namespace tmdflow::io {

namespace {

std::string parent_path(const std::string& p) {
  const auto slash = p.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : p.substr(0, slash);
}

// EMD 0.5 units are written like "[n_m]" and "[n_m^-1]".
std::string emd05_units(std::string u) {
  u.erase(std::remove_if(u.begin(), u.end(), [](char c) { return c == '[' || c == ']' || c == '_'; }), u.end());
  return u;
}

class Hdf5Source : public FrameSource {
 public:
  Hdf5Source(const std::string& path, const FrameSourceOptions& o) : FrameSource(path) {
    std::string spec = path;
    if (!o.dataset.empty()) spec += ":" + (o.dataset[0] == '/' ? o.dataset : "/" + o.dataset);
    reader_ = DatacubeReader::open(spec, nullptr);
    require_filters(reader_.dataset());  // a missing plugin named now, not by the first read
    meta_ = reader_.meta();
    file_shape_ = meta_.shape;
    if (std::any_of(file_shape_.begin(), file_shape_.end(), [](auto v) { return v <= 0; }))
      throw InputError::at(path, reader_.dataset().path(), "shape", "positive extents", str::shape_string(file_shape_));
    read_emd05_calibration();
    fold_scan(meta_.positions(), o.scan, "scan positions of the dataset");
  }

  std::string format_label() const override { return prismatic_ ? "Prismatic EMD 0.5" : "HDF5"; }

  void read_frames(std::int64_t first, std::int64_t count, void* out) const override {
    // Frames are numbered in the dataset's own scan order; a range becomes at most three
    // hyperslabs: the end of a row, whole rows, the start of a row.
    const std::int64_t cols = file_shape_[1], qx = file_shape_[2], qy = file_shape_[3];
    const hid_t mem = h5::native_type(meta_.dtype);
    auto* dst = static_cast<char*>(out);
    while (count > 0) {
      const std::int64_t r = first / cols, c = first % cols;
      h5::Shape offset{r, c, 0, 0}, extent;
      if (c == 0 && count >= cols) extent = {count / cols, cols, qx, qy};
      else extent = {1, std::min(count, cols - c), qx, qy};
      const std::int64_t n = extent[0] * extent[1];
      reader_.dataset().read_raw(offset, extent, mem, dst, h5::Xfer::independent);
      dst += std::size_t(n) * frame_bytes();
      first += n;
      count -= n;
    }
  }

 private:
  // EMD 0.5 (emd_group_type = 2 on the top group, 1 on data groups) names its dims dim1..dimN.
  void read_emd05_calibration() {
    const h5::Group root = reader_.file()->root();
    const std::string array_path = parent_path(reader_.dataset().path());
    std::string top;
    for (std::string p = array_path; p != "/"; p = parent_path(p)) {
      const h5::Group g = root.open_group(p);
      if (g.attr_int("emd_group_type").value_or(-1) == 2 && g.attr_int("version_major").value_or(-1) == 0) top = p;
    }
    if (top.empty()) return;
    const h5::Group array = root.open_group(array_path);
    if (array.kind("dim1") != h5::LinkKind::dataset || array.kind("dim3") != h5::LinkKind::dataset) return;
    auto step_units = [&](const std::string& name) {
      const h5::Dataset d = array.open_dataset(name);
      const auto v = d.read_head<double>(2);
      return std::make_pair(v.size() >= 2 ? v[1] - v[0] : 1.0, emd05_units(d.attr_string("units").value_or("")));
    };
    const auto [r_step, r_units] = step_units("dim1");
    const auto [q_step, q_units] = step_units("dim3");
    const std::string params = top + "/metadata/metadata_0/original/simulation_parameters";
    prismatic_ = root.kind(params) == h5::LinkKind::group;
    auto& cal = meta_.calibration;
    if (prismatic_) {
      // Prismatic's lengths are Angstrom whatever the label says (see the header).
      cal.R_pixel_size = r_step / 10.0;
      cal.R_pixel_units = "nm";
      cal.Q_pixel_size = q_step;
      cal.Q_pixel_units = "A^-1";
      const h5::Group sp = root.open_group(params);
      if (auto e = sp.attr_double("E")) meta_.acquisition["voltage_kV"] = *e;          // keV
      if (auto a = sp.attr_double("sa")) meta_.acquisition["convergence_mrad"] = *a;   // mrad
      return;
    }
    cal.R_pixel_size = r_step;
    cal.R_pixel_units = r_units.empty() ? "pixels" : r_units;
    cal.Q_pixel_size = q_step;
    cal.Q_pixel_units = q_units.empty() ? "pixels" : q_units;
    if (q_units == "nm^-1") {
      cal.Q_pixel_size = q_step / 10.0;
      cal.Q_pixel_units = "A^-1";
    }
  }

  DatacubeReader reader_;
  h5::Shape file_shape_;
  bool prismatic_ = false;
};

}  // namespace

std::unique_ptr<FrameSource> open_hdf5_source(const std::string& path, const FrameSourceOptions& options) {
  return std::make_unique<Hdf5Source>(path, options);
}

}  // namespace tmdflow::io

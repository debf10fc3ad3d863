#include "tmdflow/io/datacube.hpp"

#include <filesystem>
#include <set>

#include "tmdflow/core/strings.hpp"

namespace tmdflow::io {

bool DatacubeMeta::q_calibrated() const {
  const std::string u = str::lower(calibration.Q_pixel_units);
  return u == "a^-1" || u == "1/a" || u == "a-1" || u == "invA";
}

std::uint64_t checked_datacube_bytes(const h5::Shape& shape, Dtype dtype, const std::string& file,
                                     const std::string& dataset) {
  std::uint64_t bytes = dtype_size(dtype);
  bool fits = true;
  for (const auto extent : shape) {
    fits = fits && extent >= 0 && !__builtin_mul_overflow(bytes, std::uint64_t(extent), &bytes) && bytes <= kMaxDatacubeBytes;
  }
  if (!fits)
    throw InputError::at(file, dataset, "shape", "a datacube of at most 2^62 bytes",
                         str::shape_string(shape) + " " + dtype_name(dtype));
  return bytes;
}

DatacubeWriter::DatacubeWriter(const ProductWriter& product, const DatacubeMeta& meta, const std::string& array_name)
    : meta_(meta) {
  const h5::Group& root = product.group();
  root.set_attr("emd_group_type", "root");
  root.set_attr("python_class", "Root");
  const auto& c = meta.calibration;
  emd::ArraySpec spec;
  spec.name = array_name;
  spec.dtype = meta.dtype;
  spec.shape = meta.shape;
  spec.python_class = "DataCube";
  spec.units = "pixel intensity";
  spec.dims = {{"Rx", c.R_pixel_units, 0.0, c.R_pixel_size},
               {"Ry", c.R_pixel_units, 0.0, c.R_pixel_size},
               {"Qx", c.Q_pixel_units, 0.0, c.Q_pixel_size},
               {"Qy", c.Q_pixel_units, 0.0, c.Q_pixel_size}};
  spec.chunks = {1, 1, meta.shape[2], meta.shape[3]};
  data_ = emd::create_array(root, spec);
  emd::write_calibration(root, c, "/" + array_name);
  if (!meta.acquisition.empty()) {
    std::vector<emd::MetadataEntry> entries;
    for (const auto& [k, v] : meta.acquisition) entries.push_back({k, v, std::nullopt, std::nullopt});
    emd::write_metadata(root.open_group("metadatabundle"), "tmdflow_acquisition", entries);
  }
}

namespace {

bool is_4d_numeric(const h5::Dataset& d) {
  if (d.rank() != 4 || d.is_string()) return false;
  try {
    d.dtype();
    return true;
  } catch (const InputError&) {
    return false;
  }
}

// Depth-first search for DataCube arrays (preferred) and other 4-D arrays under g. Each group is
// visited once: hard links may make cycles, and even a few links back to the root at each level
// would otherwise multiply the visits beyond any time limit.
void find_cubes(const h5::Group& g, std::vector<std::string>& cubes, std::vector<std::string>& others, int depth,
                std::set<h5::ObjectId>& seen) {
  if (depth > 16 || !seen.insert(g.object_id()).second) return;
  for (const auto& name : g.children()) {
    auto k = g.kind(name);
    if (k == h5::LinkKind::group) {
      h5::Group c = g.open_group(name);
      if (seen.count(c.object_id())) continue;
      if (c.kind("data") == h5::LinkKind::dataset && is_4d_numeric(c.open_dataset("data"))) {
        if (c.attr_string("python_class").value_or("") == "DataCube") cubes.push_back(c.path() + "/data");
        else others.push_back(c.path() + "/data");
      }
      find_cubes(c, cubes, others, depth + 1, seen);
    } else if (k == h5::LinkKind::dataset && name != "data") {
      if (is_4d_numeric(g.open_dataset(name))) others.push_back(g.path() == "/" ? "/" + name : g.path() + "/" + name);
    }
  }
}

}  // namespace

std::string DatacubeReader::locate(const std::string& spec) { return open(spec, nullptr).where(); }

DatacubeReader DatacubeReader::open(const std::string& spec, const par::Comm* comm) {
  Target t = parse_target(spec, "/");
  std::string path = spec.rfind(":/") != std::string::npos ? t.group : "";
  DatacubeReader r;
  if (!h5::File::is_hdf5(t.file)) {
    throw InputError(t.file + ": expected an HDF5 file (EMD 1.0 / tmdflow datacube), found " +
                     (std::filesystem::exists(t.file) ? "another kind of file" : "no such file"));
  }
  r.file_ = FileRegistry::open(t.file, h5::Mode::read, comm);
  h5::Group root = r.file_->root();
  std::string data_path;
  if (!path.empty()) {
    auto k = root.kind(path);
    if (k == h5::LinkKind::missing) throw InputError(t.file + ":" + path + ": expected a datacube, found nothing at that path");
    if (k == h5::LinkKind::dataset) {
      data_path = path;
    } else {
      h5::Group g = root.open_group(path);
      if (g.kind("data") == h5::LinkKind::dataset) {
        data_path = g.path() + "/data";
      } else {
        std::vector<std::string> cubes, others;
        std::set<h5::ObjectId> seen;
        find_cubes(g, cubes, others, 0, seen);
        if (cubes.size() == 1) data_path = cubes[0];
        else if (cubes.empty() && others.size() == 1) data_path = others[0];
        else
          throw InputError(t.file + ":" + path + ": expected one 4-D datacube below this group, found " +
                           std::to_string(cubes.size() + others.size()));
      }
    }
  } else {
    std::vector<std::string> cubes, others;
    std::set<h5::ObjectId> seen;
    find_cubes(root, cubes, others, 0, seen);
    if (cubes.size() == 1) data_path = cubes[0];
    else if (cubes.empty() && others.size() == 1) data_path = others[0];
    else if (cubes.empty() && others.empty())
      throw InputError(t.file + ": expected a 4-D datacube (an EMD DataCube or a 4-D dataset), found none");
    else
    {
      std::vector<std::string> all = cubes;
      all.insert(all.end(), others.begin(), others.end());
      throw InputError(t.file + ": expected one datacube, found " + std::to_string(all.size()) + " (" + str::join(all, ", ") +
                       "); name one as FILE:/path");
    }
  }
  r.data_ = root.open_dataset(data_path);
  h5::Shape s = r.data_.shape();
  if (s.size() != 4)
    throw InputError::at(t.file, data_path, "shape", "4 dimensions (Rx, Ry, Qx, Qy)", str::shape_string(s));
  r.meta_.shape = s;
  r.meta_.dtype = r.data_.dtype();
  checked_datacube_bytes(s, r.meta_.dtype, t.file, data_path);

  // Calibration: the EMD root's calibration, else the array's dims.
  std::string array_group = data_path.substr(0, data_path.rfind('/'));
  if (array_group.empty()) array_group = "/";
  h5::Group ag = root.open_group(array_group);
  auto dims = emd::read_dims(ag, 4);
  emd::Calibration cal;
  bool have_dims = ag.kind("dim0") == h5::LinkKind::dataset;
  if (have_dims) {
    cal.R_pixel_size = dims[0].step;
    cal.R_pixel_units = dims[0].units;
    cal.Q_pixel_size = dims[2].step;
    cal.Q_pixel_units = dims[2].units;
  }
  // The EMD root is the nearest ancestor with emd_group_type="root".
  std::string p = array_group;
  while (true) {
    auto slash = p.rfind('/');
    if (slash == std::string::npos) break;
    std::string parent = slash == 0 ? "/" : p.substr(0, slash);
    h5::Group pg = root.open_group(parent);
    if (pg.attr_string("emd_group_type").value_or("") == "root") {
      if (auto c = emd::read_calibration(pg)) cal = *c;
      if (auto info = read_product_attrs(pg)) r.product_ = info;
      if (pg.kind("metadatabundle/tmdflow_acquisition") == h5::LinkKind::group) {
        h5::Group acq = pg.open_group("metadatabundle/tmdflow_acquisition");
        for (const auto& k : acq.children()) {
          if (acq.kind(k) != h5::LinkKind::dataset) continue;
          h5::Dataset d = acq.open_dataset(k);
          if (d.is_string() || d.rank() > 1) continue;
          if (const auto v = d.read_head<double>(1); !v.empty()) r.meta_.acquisition[k] = v[0];
        }
      }
      break;
    }
    if (parent == "/") break;
    p = parent;
  }
  r.meta_.calibration = cal;
  return r;
}

}  // namespace tmdflow::io

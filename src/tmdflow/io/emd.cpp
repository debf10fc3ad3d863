#include "tmdflow/io/emd.hpp"

#include <functional>
#include <set>

#include "tmdflow/core/strings.hpp"

namespace tmdflow::io::emd {

void init_file(const h5::File& file, const std::string& authoring_program) {
  h5::Group root = file.root();
  if (root.has_attr("emd_group_type")) return;
  root.set_attr("emd_group_type", "file");
  root.set_attr("version_major", std::int64_t(1));
  root.set_attr("version_minor", std::int64_t(0));
  root.set_attr("authoring_program", authoring_program);
  root.set_attr("authoring_user", "");
}

bool is_emd1(const h5::File& file) {
  h5::Group root = file.root();
  auto t = root.attr_string("emd_group_type");
  auto v = root.attr_int("version_major");
  return t && *t == "file" && v && *v == 1;
}

h5::Group create_root(const h5::Group& parent, const std::string& name) {
  h5::Group g = parent.create_group(name);
  g.set_attr("emd_group_type", "root");
  g.set_attr("python_class", "Root");
  return g;
}

h5::Dataset create_array(const h5::Group& parent, const ArraySpec& spec) {
  if (spec.dims.size() != spec.shape.size())
    throw Error(parent.where() + "/" + spec.name + ": " + std::to_string(spec.dims.size()) + " dims for an array of rank " +
                    std::to_string(spec.shape.size()), ExitCode::failure);
  h5::Group g = parent.create_group(spec.name);
  g.set_attr("emd_group_type", "array");
  g.set_attr("python_class", spec.python_class);
  h5::Dataset data = g.create_dataset("data", spec.dtype, spec.shape, spec.chunks);
  data.set_attr("units", spec.units);
  for (size_t i = 0; i < spec.dims.size(); ++i) {
    const Dim& d = spec.dims[i];
    std::vector<double> v{d.origin, d.origin + d.step};
    h5::Dataset dim = g.write_vector("dim" + std::to_string(i), v);
    dim.set_attr("name", d.name);
    dim.set_attr("units", d.units);
  }
  return data;
}

std::vector<Dim> read_dims(const h5::Group& g, int rank) {
  std::vector<Dim> dims;
  for (int i = 0; i < rank; ++i) {
    Dim d;
    d.name = "dim" + std::to_string(i);
    d.units = "pixels";
    const std::string n = "dim" + std::to_string(i);
    if (g.kind(n) == h5::LinkKind::dataset) {
      h5::Dataset ds = g.open_dataset(n);
      // A linear axis needs its first two values; a dims dataset of other rank is no axis.
      if (!ds.is_string() && ds.rank() <= 1) {
        auto v = ds.read_head<double>(2);
        if (v.size() >= 2) {
          d.origin = v[0];
          d.step = v[1] - v[0];
        } else if (v.size() == 1) {
          d.origin = v[0];
        }
      }
      if (auto s = ds.attr_string("name")) d.name = *s;
      if (auto s = ds.attr_string("units")) d.units = *s;
    }
    dims.push_back(d);
  }
  return dims;
}

void write_calibration(const h5::Group& root, const Calibration& cal, const std::string& target) {
  write_calibration(root, cal, std::vector<std::string>{target});
}

void write_calibration(const h5::Group& root, const Calibration& cal, const std::vector<std::string>& targets) {
  h5::Group bundle = root.kind("metadatabundle") == h5::LinkKind::group ? root.open_group("metadatabundle")
                                                                         : root.create_group("metadatabundle");
  bundle.set_attr("emd_group_type", "metadatabundle");
  h5::Group c = bundle.create_group("calibration");
  c.set_attr("emd_group_type", "metadata");
  c.set_attr("python_class", "Calibration");
  // Same entries, types and order as emdfile writes them.
  c.write_scalar_bool("QR_flip", cal.QR_flip).set_attr("type", "bool");
  c.write_scalar("Q_pixel_size", cal.Q_pixel_size).set_attr("type", "number");
  c.write_scalar_string("Q_pixel_units", cal.Q_pixel_units).set_attr("type", "string");
  c.write_scalar("R_pixel_size", cal.R_pixel_size).set_attr("type", "number");
  c.write_scalar_string("R_pixel_units", cal.R_pixel_units).set_attr("type", "string");
  c.write_scalar_string("_root_treepath", "").set_attr("type", "string");
  h5::Group tp = c.create_group("_target_paths");
  tp.set_attr("length", std::int64_t(targets.size()));
  tp.set_attr("type", "list_of_strings");
  for (std::size_t i = 0; i < targets.size(); ++i) tp.write_scalar_string(std::to_string(i), targets[i]);
}

std::optional<Calibration> read_calibration(const h5::Group& root) {
  if (root.kind("metadatabundle/calibration") != h5::LinkKind::group) return std::nullopt;
  h5::Group c = root.open_group("metadatabundle/calibration");
  Calibration cal;
  auto num = [&](const char* k, double& out) {
    if (c.kind(k) != h5::LinkKind::dataset) return;
    const auto v = c.open_dataset(k).read_head<double>(1);
    if (!v.empty()) out = v[0];
  };
  auto txt = [&](const char* k, std::string& out) {
    if (c.kind(k) == h5::LinkKind::dataset) {
      h5::Dataset d = c.open_dataset(k);
      if (d.is_string()) out = d.read_string();
    }
  };
  num("Q_pixel_size", cal.Q_pixel_size);
  num("R_pixel_size", cal.R_pixel_size);
  txt("Q_pixel_units", cal.Q_pixel_units);
  txt("R_pixel_units", cal.R_pixel_units);
  if (c.kind("QR_flip") == h5::LinkKind::dataset) {
    auto v = c.open_dataset("QR_flip").read_head<std::int8_t>(1);
    cal.QR_flip = !v.empty() && v[0] != 0;
  }
  return cal;
}

void write_metadata(const h5::Group& bundle, const std::string& name, const std::vector<MetadataEntry>& entries,
                    const std::string& python_class) {
  h5::Group g = bundle.create_group(name);
  g.set_attr("emd_group_type", "metadata");
  g.set_attr("python_class", python_class);
  for (const auto& e : entries) {
    if (e.number) g.write_scalar(e.key, *e.number).set_attr("type", "number");
    else if (e.flag) g.write_scalar_bool(e.key, *e.flag).set_attr("type", "bool");
    else g.write_scalar_string(e.key, e.text.value_or("")).set_attr("type", "string");
  }
}

std::vector<ArrayInfo> list_arrays(const h5::File& file) {
  std::vector<ArrayInfo> out;
  std::set<h5::ObjectId> seen;  // each group once: hard links may make cycles
  std::function<void(const h5::Group&, int)> walk = [&](const h5::Group& g, int depth) {
    if (depth > 32 || !seen.insert(g.object_id()).second) return;
    for (const auto& name : g.children()) {
      if (g.kind(name) != h5::LinkKind::group) continue;
      h5::Group child = g.open_group(name);
      if (seen.count(child.object_id())) continue;
      auto type = child.attr_string("emd_group_type");
      if (type && *type == "array" && child.kind("data") == h5::LinkKind::dataset) {
        h5::Dataset d = child.open_dataset("data");
        ArrayInfo info;
        info.group_path = child.path();
        info.python_class = child.attr_string("python_class").value_or("");
        info.shape = d.shape();
        try {
          info.dtype = d.dtype();
        } catch (const InputError&) {
          continue;  // string or compound arrays are not images
        }
        out.push_back(info);
      }
      walk(child, depth + 1);
    }
  };
  walk(file.root(), 0);
  return out;
}

}  // namespace tmdflow::io::emd

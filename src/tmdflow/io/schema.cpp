#include "tmdflow/io/schema.hpp"
#include "tmdflow/io/emd.hpp"

#include <filesystem>
#include <cmath>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "tmdflow/core/strings.hpp"
#include "tmdflow/io/h5.hpp"
#include "tmdflow/io/product.hpp"

namespace tmdflow::io {
namespace {

std::string Options_text(double x) {
  std::ostringstream s;
  s.precision(8);
  s << x;
  return s.str();
}

std::string type_text(const h5::Dataset& d) {
  if (d.is_string()) return "string";
  try {
    return dtype_name(d.dtype());
  } catch (const Error&) {
    return "other";
  }
}

// Is the dataset's stored type the h5py bool enum?
bool is_bool_enum(const h5::Dataset& d) {
  hid_t t = H5Dget_type(d.id());
  bool b = H5Tget_class(t) == H5T_ENUM && H5Tget_size(t) == 1;
  H5Tclose(t);
  return b;
}

bool dtype_matches(const h5::Dataset& d, const std::string& want) {
  if (want == "any") return !d.is_string();
  if (want == "string") return d.is_string();
  if (want == "bool") return is_bool_enum(d);
  if (d.is_string() || is_bool_enum(d)) return false;
  Dtype t = d.dtype();
  if (want == "float") return dtype_is_float(t);
  if (want == "int") return !dtype_is_float(t);
  return dtype_name(t) == want;
}

struct Checker {
  const h5::Group& product;
  std::string name;
  std::vector<std::string>* problems;
  std::map<std::string, std::int64_t> symbols;

  void problem(const std::string& path, const std::string& what) {
    problems->push_back(product.file_name() + ":" + product.path() + (path == "." ? "" : "/" + path) + ": " + what);
  }

  void check_shape(const std::string& path, const h5::Shape& shape, const std::string& spec, const char* label) {
    auto parts = str::split(spec, ',');
    if (parts.size() != shape.size()) {
      problem(path, std::string(label) + ": expected " + std::to_string(parts.size()) + " axes (" + spec + "), found " +
                        str::shape_string(shape));
      return;
    }
    for (size_t i = 0; i < parts.size(); ++i) {
      const std::string& s = parts[i];
      if (!s.empty() && std::isdigit(static_cast<unsigned char>(s[0]))) {
        if (std::stoll(s) != shape[i])
          problem(path, std::string(label) + " axis " + std::to_string(i) + ": expected " + s + ", found " + std::to_string(shape[i]));
        continue;
      }
      auto it = symbols.find(s);
      if (it == symbols.end()) symbols[s] = shape[i];
      else if (it->second != shape[i])
        problem(path, std::string(label) + " axis " + std::to_string(i) + " (" + s + "): expected " + std::to_string(it->second) +
                          " as elsewhere in the product, found " + std::to_string(shape[i]));
    }
  }

  void line(const std::string& text) {
    auto words = str::split(text, ' ');
    if (words.empty()) return;
    const std::string& kind = words[0];
    std::map<std::string, std::string> kv;
    bool optional = false;
    for (size_t i = 2; i < words.size(); ++i) {
      auto eq = words[i].find('=');
      if (eq != std::string::npos && eq > 0) kv[words[i].substr(0, eq)] = words[i].substr(eq + 1);
      if (words[i] == "optional") optional = true;
    }
    if (kind == "product") return;
    const std::string path = words.size() > 1 ? words[1] : ".";
    if (kind == "attr") {
      // attr PATH NAME [= VALUE]
      if (words.size() < 3) return;
      const std::string attr = words[2];
      if (product.kind(path) == h5::LinkKind::missing) return;  // reported by the group/array line
      std::unique_ptr<h5::Object> obj;
      h5::Group g;
      h5::Dataset d;
      const h5::Object* o = nullptr;
      if (product.kind(path) == h5::LinkKind::group) {
        g = product.open_group(path);
        o = &g;
      } else {
        d = product.open_dataset(path);
        o = &d;
      }
      if (!o->has_attr(attr)) {
        problem(path, "attribute '" + attr + "': expected it, found none");
        return;
      }
      if (words.size() >= 5 && words[3] == "=") {
        auto v = o->attr_string(attr);
        if (!v) problem(path, "attribute '" + attr + "': expected the string '" + words[4] + "', found another type");
        else if (*v != words[4]) problem(path, "attribute '" + attr + "': expected '" + words[4] + "', found '" + *v + "'");
      }
    } else if (kind == "group") {
      if (product.kind(path) != h5::LinkKind::group && !optional) problem(path, "expected a group, found none");
    } else if (kind == "dataset") {
      if (product.kind(path) != h5::LinkKind::dataset) {
        if (!optional) problem(path, "expected a dataset, found none");
        return;
      }
      h5::Dataset ds = product.open_dataset(path);
      if (kv.count("rank") && ds.rank() != std::stoi(kv["rank"]))
        problem(path, "rank: expected " + kv["rank"] + ", found " + std::to_string(ds.rank()));
      if (kv.count("dtype") && !dtype_matches(ds, kv["dtype"]))
        problem(path, "element type: expected " + kv["dtype"] + ", found " + (is_bool_enum(ds) ? "bool" : type_text(ds)));
      if (kv.count("shape")) check_shape(path, ds.shape(), kv["shape"], "shape");
    } else if (kind == "array") {
      if (product.kind(path) != h5::LinkKind::group) {
        if (!optional) problem(path, "expected an EMD array group, found none");
        return;
      }
      h5::Group ag = product.open_group(path);
      if (ag.attr_string("emd_group_type").value_or("") != "array")
        problem(path, "emd_group_type: expected 'array', found '" + ag.attr_string("emd_group_type").value_or("") + "'");
      if (kv.count("class") && ag.attr_string("python_class").value_or("") != kv["class"])
        problem(path, "python_class: expected '" + kv["class"] + "', found '" + ag.attr_string("python_class").value_or("") + "'");
      if (ag.kind("data") != h5::LinkKind::dataset) {
        problem(path, "expected a 'data' dataset, found none");
        return;
      }
      h5::Dataset data = ag.open_dataset("data");
      if (kv.count("rank") && data.rank() != std::stoi(kv["rank"]))
        problem(path + "/data", "rank: expected " + kv["rank"] + ", found " + std::to_string(data.rank()));
      if (kv.count("dtype") && !dtype_matches(data, kv["dtype"]))
        problem(path + "/data", "element type: expected " + kv["dtype"] + ", found " + type_text(data));
      if (kv.count("shape")) check_shape(path + "/data", data.shape(), kv["shape"], "shape");
      if (kv.count("chunks")) {
        h5::Shape c = data.chunks();
        if (c.empty()) problem(path + "/data", "chunks: expected " + kv["chunks"] + ", found a contiguous dataset");
        else check_shape(path + "/data", c, kv["chunks"], "chunks");
      }
      if (kv.count("dims")) {
        auto names = str::split(kv["dims"], ',');
        for (size_t i = 0; i < names.size(); ++i) {
          const std::string dn = "dim" + std::to_string(i);
          if (ag.kind(dn) != h5::LinkKind::dataset) {
            problem(path + "/" + dn, "expected a dim dataset, found none");
            continue;
          }
          h5::Dataset dim = ag.open_dataset(dn);
          auto n = dim.attr_string("name");
          if (!n || *n != names[i]) problem(path + "/" + dn, "name: expected '" + names[i] + "', found '" + n.value_or("") + "'");
        }
      }
    } else {
      problem(".", "schema " + name + ": unknown directive '" + kind + "' (a tmdflow bug)");
    }
  }
};

// EMD 1.0 structural rules that py4DSTEM's emdfile reader relies on.
void check_emd_tree(const h5::File& f, std::vector<std::string>& problems) {
  h5::Group root = f.root();
  auto where = [&](const std::string& p) { return f.path() + ":" + p + ": "; };
  if (root.attr_string("emd_group_type").value_or("") != "file")
    problems.push_back(where("/") + "emd_group_type: expected 'file' (EMD 1.0), found '" + root.attr_string("emd_group_type").value_or("") + "'");
  if (root.attr_int("version_major").value_or(-1) != 1)
    problems.push_back(where("/") + "version_major: expected 1, found " + std::to_string(root.attr_int("version_major").value_or(-1)));
  if (root.attr_int("version_minor").value_or(-1) != 0)
    problems.push_back(where("/") + "version_minor: expected 0, found " + std::to_string(root.attr_int("version_minor").value_or(-1)));
  std::set<h5::ObjectId> seen;  // each group once: hard links may make cycles
  std::function<void(const h5::Group&, int)> walk = [&](const h5::Group& g, int depth) {
    if (depth > 32 || !seen.insert(g.object_id()).second) return;
    for (const auto& name : g.children()) {
      if (g.kind(name) != h5::LinkKind::group) continue;
      if (str::starts_with(name, ".tmdflow_tmp_")) {
        problems.push_back(where(g.path()) + "temporary group '" + name + "' left by an interrupted run (rerun the step)");
        continue;
      }
      h5::Group c = g.open_group(name);
      auto type = c.attr_string("emd_group_type");
      if (!type) {
        walk(c, depth + 1);
        continue;
      }
      if (*type != "metadatabundle" && *type != "file" && !c.attr_string("python_class"))
        problems.push_back(where(c.path()) + "python_class: expected a variable-length string attribute, found none");
      if (*type == "array") {
        if (c.kind("data") != h5::LinkKind::dataset) {
          problems.push_back(where(c.path()) + "expected a 'data' dataset in an EMD array, found none");
        } else {
          h5::Dataset d = c.open_dataset("data");
          if (!d.attr_string("units")) problems.push_back(where(d.path()) + "units: expected a string attribute, found none");
          const int r = d.rank();
          for (int i = 0; i < r; ++i) {
            const std::string dn = "dim" + std::to_string(i);
            if (c.kind(dn) != h5::LinkKind::dataset) {
              problems.push_back(where(c.path() + "/" + dn) + "expected a dim dataset (EMD 1.0 array of rank " + std::to_string(r) + "), found none");
              continue;
            }
            h5::Dataset dim = c.open_dataset(dn);
            if (!dim.attr_string("name")) problems.push_back(where(dim.path()) + "name: expected a string attribute, found none");
            if (!dim.attr_string("units") && dim.attr_string("name").value_or("") != "_labels_")
              problems.push_back(where(dim.path()) + "units: expected a string attribute, found none");
          }
        }
      }
      if (*type == "metadatabundle") {
        for (const auto& m : c.children()) {
          if (c.kind(m) != h5::LinkKind::group) {
            problems.push_back(where(c.path() + "/" + m) + "expected a metadata group inside a metadatabundle, found a dataset");
            continue;
          }
          h5::Group mg = c.open_group(m);
          if (mg.attr_string("emd_group_type").value_or("") != "metadata")
            problems.push_back(where(mg.path()) + "emd_group_type: expected 'metadata', found '" + mg.attr_string("emd_group_type").value_or("") + "'");
          for (const auto& item : mg.children()) {
            bool has_type = mg.kind(item) == h5::LinkKind::group ? mg.open_group(item).has_attr("type")
                                                                  : mg.open_dataset(item).has_attr("type");
            if (!has_type) problems.push_back(where(mg.path() + "/" + item) + "type: expected a metadata type attribute, found none");
          }
        }
        continue;
      }
      walk(c, depth + 1);
    }
  };
  walk(root, 0);
}

}  // namespace

std::string ValidationReport::text() const {
  std::ostringstream s;
  for (const auto& c : checked) s << "checked " << c << "\n";
  for (const auto& p : problems) s << "problem: " << p << "\n";
  s << file << ": " << (problems.empty() ? "valid" : std::to_string(problems.size()) + " problem(s)") << " ("
    << checked.size() << " product(s))\n";
  return s.str();
}

// Calibrations: every root's py4DSTEM calibration and every scan or detector axis (Rx, Ry, Qx, Qy)
// of an array has a positive, finite pixel size.
void check_calibrations(const h5::Group& root, const std::string& path, std::vector<std::string>& problems) {
  auto positive = [](double v) { return v > 0 && std::isfinite(v); };
  std::set<h5::ObjectId> seen;  // each group once: hard links may make cycles
  std::function<void(const h5::Group&, int)> walk = [&](const h5::Group& g, int depth) {
    if (depth > 32 || !seen.insert(g.object_id()).second) return;
    const std::string type = g.attr_string("emd_group_type").value_or("");
    if (type == "root") {
      if (auto c = emd::read_calibration(g)) {
        if (!positive(c->R_pixel_size))
          problems.push_back(path + ":" + g.path() + "/metadatabundle/calibration/R_pixel_size: expected a positive size, found " +
                             str::number(c->R_pixel_size));
        if (!positive(c->Q_pixel_size))
          problems.push_back(path + ":" + g.path() + "/metadatabundle/calibration/Q_pixel_size: expected a positive size, found " +
                             str::number(c->Q_pixel_size));
      }
    }
    if (type == "array" && g.kind("data") == h5::LinkKind::dataset) {
      const int rank = int(g.open_dataset("data").shape().size());
      const auto dims = emd::read_dims(g, rank);
      for (int i = 0; i < rank; ++i) {
        const auto& d = dims[std::size_t(i)];
        const bool axis = d.name == "Rx" || d.name == "Ry" || d.name == "Qx" || d.name == "Qy";
        if (axis && g.kind("dim" + std::to_string(i)) == h5::LinkKind::dataset && !positive(d.step))
          problems.push_back(path + ":" + g.path() + "/dim" + std::to_string(i) + ": expected a positive " + d.name + " pixel size, found " +
                             str::number(d.step) + " " + d.units);
      }
    }
    for (const auto& name : g.children())
      if (g.kind(name) == h5::LinkKind::group && !str::starts_with(name, ".tmdflow_tmp_")) walk(g.open_group(name), depth + 1);
  };
  walk(root, 0);
}

ValidationReport validate_file(const std::string& path) {
  ValidationReport r;
  r.file = path;
  if (!std::filesystem::exists(path)) throw IoError(path + ": no such file");
  if (!h5::File::is_hdf5(path)) throw InputError(path + ": expected an HDF5 file, found another kind of file");
  h5::File f = h5::File::open(path, h5::Mode::read, nullptr);
  check_emd_tree(f, r.problems);
  std::set<h5::ObjectId> seen;  // each group once: hard links may make cycles
  std::function<void(const h5::Group&, int)> walk = [&](const h5::Group& g, int depth) {
    if (depth > 32 || !seen.insert(g.object_id()).second) return;
    for (const auto& name : g.children()) {
      if (g.kind(name) != h5::LinkKind::group || str::starts_with(name, ".tmdflow_tmp_")) continue;
      h5::Group c = g.open_group(name);
      if (auto info = read_product_attrs(c)) {
        r.checked.push_back(c.path() + ": " + info->schema + " (stage " + info->stage + ")");
        if (!info->complete) r.problems.push_back(path + ":" + c.path() + ": tmdflow_complete: expected 1, found 0 (an interrupted run)");
        if (info->config_hash.size() != 16)
          r.problems.push_back(path + ":" + c.path() + ": tmdflow_config_hash: expected 16 hex digits, found '" + info->config_hash + "'");
        const SchemaText* schema = nullptr;
        for (const auto& s : builtin_schemas())
          if (s.name == info->schema) schema = &s;
        if (!schema) {
          r.problems.push_back(path + ":" + c.path() + ": tmdflow_product: unknown schema '" + info->schema + "' (not in data_schema/)");
          continue;
        }
        Checker ck{c, schema->name, &r.problems, {}};
        std::istringstream in(schema->text);
        std::string line;
        while (std::getline(in, line)) {
          line = str::trim(line);
          if (line.empty() || line[0] == '#') continue;
          ck.line(line);
        }
        // A product may hold products (image_stacks/1: one image_stack/1 per file): check them too.
      }
      walk(c, depth + 1);
    }
  };
  walk(f.root(), 0);
  check_calibrations(f.root(), path, r.problems);
  return r;
}

std::string inspect_file(const std::string& path) {
  if (!std::filesystem::exists(path)) throw IoError(path + ": no such file");
  if (!h5::File::is_hdf5(path)) throw InputError(path + ": expected an HDF5 file, found another kind of file");
  h5::File f = h5::File::open(path, h5::Mode::read, nullptr);
  std::ostringstream s;
  h5::Group root = f.root();
  s << path;
  if (auto t = root.attr_string("emd_group_type")) s << "  [EMD " << root.attr_int("version_major").value_or(0) << "." << root.attr_int("version_minor").value_or(0) << ", " << root.attr_string("authoring_program").value_or("?") << "]";
  s << "\n";
  std::set<h5::ObjectId> seen;  // a group reached again (a hard link) is listed, not expanded again
  std::function<void(const h5::Group&, const std::string&, int)> walk = [&](const h5::Group& g, const std::string& indent, int depth) {
    if (depth > 32 || !seen.insert(g.object_id()).second) return;
    for (const auto& name : g.children()) {
      auto k = g.kind(name);
      if (k == h5::LinkKind::group) {
        h5::Group c = g.open_group(name);
        s << indent << name << "/";
        std::vector<std::string> tags;
        if (auto t = c.attr_string("emd_group_type")) tags.push_back(*t);
        if (auto t = c.attr_string("python_class")) tags.push_back(*t);
        if (auto p = read_product_attrs(c))
          tags.push_back("product " + p->schema + " by " + p->stage + ", hash " + p->config_hash + (p->complete ? ", complete" : ", INCOMPLETE"));
        if (!tags.empty()) s << "  [" << str::join(tags, ", ") << "]";
        s << "\n";
        walk(c, indent + "  ", depth + 1);
      } else if (k == h5::LinkKind::dataset) {
        h5::Dataset d = g.open_dataset(name);
        s << indent << name << "  " << str::shape_string(d.shape()) << " " << (is_bool_enum(d) ? "bool" : type_text(d));
        h5::Shape c = d.chunks();
        if (!c.empty()) s << ", chunks " << str::shape_string(c);
        if (d.rank() == 0 || (d.rank() == 1 && d.shape()[0] <= 4)) {
          if (d.is_string()) {
            if (d.rank() == 0) s << " = '" << d.read_string() << "'";
          } else {
            auto v = d.read_all<double>();
            std::vector<std::string> parts;
            for (double x : v) parts.push_back(Options_text(x));
            s << " = " << (d.rank() == 0 ? parts[0] : "[" + str::join(parts, ", ") + "]");
          }
        }
        if (auto u = d.attr_string("units")) s << "  [" << *u << "]";
        if (auto n = d.attr_string("name")) s << "  (" << *n << ")";
        s << "\n";
      } else {
        s << indent << name << "  (link)\n";
      }
    }
  };
  walk(root, "  ", 0);
  return s.str();
}

}  // namespace tmdflow::io

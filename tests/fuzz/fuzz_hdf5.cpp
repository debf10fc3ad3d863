// libFuzzer target: tmdflow's reading of HDF5 datacubes and their EMD metadata (io/datacube.cpp,
// io/emd.cpp, io/formats/hdf5_source.cpp, io/schema.cpp): the search for the datacube, dims,
// calibration, acquisition values, product attributes, Prismatic's EMD 0.5 tree, the frame
// reads, and `tmdflow inspect` and `validate` of the same file.
//
// Structure-aware: fuzzing the bytes of an HDF5 file would mostly exercise libhdf5's own parser,
// which is not tmdflow's. Instead the input drives the building of a well-formed HDF5 file, an EMD
// 1.0 (py4DSTEM/tmdflow), a Prismatic EMD 0.5 or a plain 4-D dataset tree, in which every group,
// attribute, dims dataset and the data may be missing, of another type (strings fixed or
// variable, integers of any size and byte order, enums, compounds, arrays, opaque), of another
// shape (scalar, empty, null dataspace, huge but unallocated), or a link (soft, dangling, external,
// hard links that make cycles). Every decision is read from the input with 0 meaning "as a valid
// file has it", so that the empty input is a valid py4DSTEM datacube.
#include <fuzzer/FuzzedDataProvider.h>
#include <hdf5.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "fuzz_common.hpp"
#include "tmdflow/core/log.hpp"
#include "tmdflow/io/datacube.hpp"
#include "tmdflow/io/emd.hpp"
#include "tmdflow/io/formats/hdf5_source.hpp"
#include "tmdflow/io/schema.hpp"

using namespace tmdflow;
using io::h5::Handle;

namespace {

// Largest datacube whose frames the target reads back (bytes in memory).
constexpr std::uint64_t kMaxReadBytes = 4u << 20;

Handle must(hid_t id, herr_t (*close)(hid_t), const char* what) {
  if (id < 0) fuzz::fail(std::string("building the HDF5 file: ") + what + " failed");
  return Handle(id, close);
}
void must(herr_t r, const char* what) {
  if (r < 0) fuzz::fail(std::string("building the HDF5 file: ") + what + " failed");
}

class Builder {
 public:
  Builder(FuzzedDataProvider& in, const std::string& path) : in_(in), path_(path) {}

  // 0 (the default of an exhausted input) is the valid choice; 1..n the variations.
  int choice(int n) { return in_.ConsumeIntegralInRange<int>(0, n); }
  // A name or path from the input, printable: messages quote names as they are (a file whose
  // names hold line breaks gets messages that do too).
  std::string printable_string(std::size_t max) {
    std::string s = in_.ConsumeRandomLengthString(max);
    s.erase(std::remove_if(s.begin(), s.end(), [](char c) { return c < 32 || c == 127; }), s.end());
    return s;
  }

  // ---- types ----------------------------------------------------------------------------------
  Handle integer_type(std::size_t size, bool is_signed, bool big) {
    const hid_t base = size == 1 ? H5T_STD_U8LE : size == 2 ? H5T_STD_U16LE : size == 4 ? H5T_STD_U32LE : H5T_STD_U64LE;
    Handle t = must(H5Tcopy(base), H5Tclose, "H5Tcopy");
    must(H5Tset_sign(t.get(), is_signed ? H5T_SGN_2 : H5T_SGN_NONE), "H5Tset_sign");
    must(H5Tset_order(t.get(), big ? H5T_ORDER_BE : H5T_ORDER_LE), "H5Tset_order");
    return t;
  }
  Handle string_type(bool variable, std::size_t size) {
    Handle t = must(H5Tcopy(H5T_C_S1), H5Tclose, "H5Tcopy");
    must(H5Tset_size(t.get(), variable ? H5T_VARIABLE : std::max<std::size_t>(1, size)), "H5Tset_size");
    must(H5Tset_cset(t.get(), H5T_CSET_UTF8), "H5Tset_cset");
    return t;
  }
  /// `valid` (copied) or one of the types a file may hold where tmdflow expects numbers.
  Handle some_type(hid_t valid) {
    static const std::size_t kSizes[] = {1, 2, 4, 8};
    switch (choice(12)) {
      case 1: return integer_type(in_.PickValueInArray(kSizes), in_.ConsumeBool(), in_.ConsumeBool());
      case 2: return must(H5Tcopy(in_.ConsumeBool() ? H5T_IEEE_F32BE : H5T_IEEE_F64BE), H5Tclose, "H5Tcopy");
      case 3: return must(H5Tcopy(in_.ConsumeBool() ? H5T_IEEE_F32LE : H5T_IEEE_F64LE), H5Tclose, "H5Tcopy");
      case 4: return string_type(true, 0);
      case 5: return string_type(false, in_.ConsumeIntegralInRange<std::size_t>(1, 16));
      case 6: {  // an enum (h5py's bool is one) of any base size
        Handle base = integer_type(in_.PickValueInArray(kSizes), in_.ConsumeBool(), false);
        Handle t = must(H5Tenum_create(base.get()), H5Tclose, "H5Tenum_create");
        std::uint64_t zero = 0, one = 1;  // little-endian: the low bytes hold the value
        must(H5Tenum_insert(t.get(), "FALSE", &zero), "H5Tenum_insert");
        must(H5Tenum_insert(t.get(), "TRUE", &one), "H5Tenum_insert");
        return t;
      }
      case 7: {
        Handle t = must(H5Tcreate(H5T_COMPOUND, 12), H5Tclose, "H5Tcreate");
        must(H5Tinsert(t.get(), "a", 0, H5T_STD_I32LE), "H5Tinsert");
        must(H5Tinsert(t.get(), "b", 4, H5T_IEEE_F64LE), "H5Tinsert");
        return t;
      }
      case 8: {
        const hsize_t n = in_.ConsumeIntegralInRange<hsize_t>(1, 3);
        return must(H5Tarray_create2(H5T_STD_U16LE, 1, &n), H5Tclose, "H5Tarray_create2");
      }
      case 9: return must(H5Tcreate(H5T_OPAQUE, in_.ConsumeIntegralInRange<std::size_t>(1, 8)), H5Tclose, "H5Tcreate");
      case 10: return must(H5Tcopy(H5T_STD_B16LE), H5Tclose, "H5Tcopy");
      case 11: {  // a 16-bit float: a float class tmdflow has no type for
        Handle t = must(H5Tcopy(H5T_IEEE_F32LE), H5Tclose, "H5Tcopy");
        must(H5Tset_fields(t.get(), 15, 10, 5, 0, 10), "H5Tset_fields");
        must(H5Tset_size(t.get(), 2), "H5Tset_size");
        must(H5Tset_ebias(t.get(), 15), "H5Tset_ebias");
        return t;
      }
      case 12: return must(H5Tvlen_create(H5T_STD_I32LE), H5Tclose, "H5Tvlen_create");
      default: return must(H5Tcopy(valid), H5Tclose, "H5Tcopy");
    }
  }
  /// True for types whose bytes may be anything (no pointers inside).
  static bool plain_bytes(hid_t type) {
    return H5Tdetect_class(type, H5T_VLEN) <= 0 && H5Tis_variable_str(type) <= 0;
  }

  // ---- attributes -----------------------------------------------------------------------------
  void string_attr(hid_t obj, const char* name, const std::string& valid) {
    const int c = choice(8);
    if (c == 3) return;  // absent
    std::string text = c == 2 ? in_.ConsumeRandomLengthString(24) : valid;
    if (c == 6) text = text.substr(0, in_.ConsumeIntegralInRange<std::size_t>(0, 4));
    if (c <= 2 || c == 6) {
      Handle t = string_type(c != 1 && c != 6, text.size());
      Handle space = must(H5Screate(H5S_SCALAR), H5Sclose, "H5Screate");
      Handle a = must(H5Acreate2(obj, name, t.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose, "H5Acreate2");
      if (c == 1 || c == 6) {
        std::string padded = text;
        padded.resize(std::max<std::size_t>(1, text.size()), '\0');
        must(H5Awrite(a.get(), t.get(), padded.data()), "H5Awrite");
      } else {
        const char* p = text.c_str();
        must(H5Awrite(a.get(), t.get(), &p), "H5Awrite");
      }
      return;
    }
    if (c == 5) {  // two strings where one is expected
      Handle t = string_type(true, 0);
      const hsize_t n = 2;
      Handle space = must(H5Screate_simple(1, &n, nullptr), H5Sclose, "H5Screate_simple");
      Handle a = must(H5Acreate2(obj, name, t.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose, "H5Acreate2");
      const char* p[2] = {valid.c_str(), valid.c_str()};
      must(H5Awrite(a.get(), t.get(), p), "H5Awrite");
      return;
    }
    garbage_attr(obj, name, c == 7);
  }

  void number_attr(hid_t obj, const char* name, std::int64_t valid) {
    const int c = choice(8);
    if (c == 3) return;
    if (c == 0 || c == 2) {
      Handle space = must(H5Screate(H5S_SCALAR), H5Sclose, "H5Screate");
      const double d = double(valid);
      Handle a = must(H5Acreate2(obj, name, c == 0 ? H5T_STD_I64LE : H5T_IEEE_F64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT),
                      H5Aclose, "H5Acreate2");
      must(c == 0 ? H5Awrite(a.get(), H5T_NATIVE_INT64, &valid) : H5Awrite(a.get(), H5T_NATIVE_DOUBLE, &d), "H5Awrite");
      return;
    }
    if (c == 4) {
      string_attr_value(obj, name, std::to_string(valid));
      return;
    }
    garbage_attr(obj, name, c == 7);
  }

  /// An attribute of any type and shape (scalar, 0..3 elements, or a null dataspace) holding
  /// bytes from the input.
  void garbage_attr(hid_t obj, const char* name, bool null_space) {
    Handle t = some_type(H5T_STD_I64LE);
    Handle space = null_space ? must(H5Screate(H5S_NULL), H5Sclose, "H5Screate") : simple_space(choice(3));
    Handle a = must(H5Acreate2(obj, name, t.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose, "H5Acreate2");
    const hssize_t n = H5Sget_simple_extent_npoints(space.get());
    if (n > 0 && plain_bytes(t.get())) {
      std::string bytes = in_.ConsumeBytesAsString(std::size_t(n) * H5Tget_size(t.get()));
      bytes.resize(std::size_t(n) * H5Tget_size(t.get()), '\0');
      must(H5Awrite(a.get(), t.get(), bytes.data()), "H5Awrite");
    }
  }
  void string_attr_value(hid_t obj, const char* name, const std::string& value) {
    Handle t = string_type(true, 0);
    Handle space = must(H5Screate(H5S_SCALAR), H5Sclose, "H5Screate");
    Handle a = must(H5Acreate2(obj, name, t.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose, "H5Acreate2");
    const char* p = value.c_str();
    must(H5Awrite(a.get(), t.get(), &p), "H5Awrite");
  }
  Handle simple_space(int rank) {
    if (rank == 0) return must(H5Screate(H5S_SCALAR), H5Sclose, "H5Screate");
    std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
    for (auto& d : dims) d = in_.ConsumeIntegralInRange<hsize_t>(0, 3);
    return must(H5Screate_simple(rank, dims.data(), nullptr), H5Sclose, "H5Screate_simple");
  }

  // ---- groups, links, small datasets ----------------------------------------------------------
  Handle group(hid_t parent, const std::string& name) {
    Handle gcpl = must(H5Pcreate(H5P_GROUP_CREATE), H5Pclose, "H5Pcreate");
    if (in_.ConsumeBool())  // tmdflow's own files track creation order; others do not
      must(H5Pset_link_creation_order(gcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED), "creation order");
    return must(H5Gcreate2(parent, name.c_str(), H5P_DEFAULT, gcpl.get(), H5P_DEFAULT), H5Gclose, "H5Gcreate2");
  }

  /// Where a group or dataset was expected, sometimes something else: 0 = build it.
  bool replaced_by_something_else(hid_t parent, const std::string& name) {
    switch (choice(12)) {
      case 1: return true;  // missing
      case 2: group(parent, name); return true;
      case 3: must(H5Lcreate_soft("/", parent, name.c_str(), H5P_DEFAULT, H5P_DEFAULT), "H5Lcreate_soft"); return true;
      case 4: must(H5Lcreate_soft("/no/such/object", parent, name.c_str(), H5P_DEFAULT, H5P_DEFAULT), "dangling link"); return true;
      case 5:
        must(H5Lcreate_external(in_.ConsumeBool() ? path_.c_str() : "/no/such/file.h5", "/", parent, name.c_str(),
                                H5P_DEFAULT, H5P_DEFAULT),
             "H5Lcreate_external");
        return true;
      default: return false;
    }
  }

  /// A small numeric dataset (dims, calibration values): `valid` as f64 with shape {n}, or a
  /// scalar when `scalar`; else another type, shape, an empty or null dataspace, or a huge
  /// unallocated extent.
  void values(hid_t parent, const std::string& name, const std::vector<double>& valid, bool scalar,
              const std::vector<std::pair<const char*, std::string>>& attrs = {}) {
    if (replaced_by_something_else(parent, name)) return;
    const int c = choice(6);
    Handle type = c == 1 ? some_type(H5T_IEEE_F64LE) : must(H5Tcopy(H5T_IEEE_F64LE), H5Tclose, "H5Tcopy");
    Handle space;
    if (c == 2) {
      space = simple_space(choice(3));
    } else if (c == 3) {
      space = must(H5Screate(H5S_NULL), H5Sclose, "H5Screate");
    } else if (c == 4) {  // declared huge, never written: a reader must not allocate it
      const hsize_t n = hsize_t(1) << in_.ConsumeIntegralInRange<int>(20, 40);
      space = must(H5Screate_simple(1, &n, nullptr), H5Sclose, "H5Screate_simple");
    } else if (scalar) {
      space = must(H5Screate(H5S_SCALAR), H5Sclose, "H5Screate");
    } else {
      const hsize_t n = valid.size();
      space = must(H5Screate_simple(1, &n, nullptr), H5Sclose, "H5Screate_simple");
    }
    Handle d = must(H5Dcreate2(parent, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                    H5Dclose, "H5Dcreate2");
    for (const auto& [attr, text] : attrs) string_attr(d.get(), attr, text);
    const hssize_t n = H5Sget_simple_extent_npoints(space.get());
    if (c == 4 || n <= 0) return;
    if (c == 0 || c == 5) {
      std::vector<double> v = valid;
      v.resize(std::size_t(n), c == 5 ? in_.ConsumeFloatingPoint<double>() : 0.0);
      if (c == 5) v[0] = in_.ConsumeFloatingPoint<double>();  // NaN, infinities, anything
      must(H5Dwrite(d.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), "H5Dwrite");
    } else if (plain_bytes(type.get())) {
      std::string bytes = in_.ConsumeBytesAsString(std::size_t(n) * H5Tget_size(type.get()));
      bytes.resize(std::size_t(n) * H5Tget_size(type.get()), '\0');
      must(H5Dwrite(d.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, bytes.data()), "H5Dwrite");
    }
  }

  void text(hid_t parent, const std::string& name, const std::string& valid) {
    if (replaced_by_something_else(parent, name)) return;
    const bool variable = !in_.ConsumeBool();
    const std::string value = choice(3) == 1 ? in_.ConsumeRandomLengthString(24) : valid;
    Handle t = string_type(variable, value.size());
    Handle space = must(H5Screate(H5S_SCALAR), H5Sclose, "H5Screate");
    Handle d = must(H5Dcreate2(parent, name.c_str(), t.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                    H5Dclose, "H5Dcreate2");
    if (variable) {
      const char* p = value.c_str();
      must(H5Dwrite(d.get(), t.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, &p), "H5Dwrite");
    } else {
      std::string padded = value;
      padded.resize(std::max<std::size_t>(1, value.size()), '\0');
      must(H5Dwrite(d.get(), t.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, padded.data()), "H5Dwrite");
    }
  }

  /// Hard links back to the root or to the parent: cycles for every tree walk.
  void cycles(hid_t g) {
    const int n = choice(8) == 1 ? in_.ConsumeIntegralInRange<int>(1, 6) : 0;
    for (int i = 0; i < n; ++i)
      must(H5Lcreate_hard(g, in_.ConsumeBool() ? "/" : ".", g, ("loop" + std::to_string(i)).c_str(), H5P_DEFAULT, H5P_DEFAULT),
           "H5Lcreate_hard");
  }

  // ---- the datacube ---------------------------------------------------------------------------
  /// The 4-D data: {2,3,4,5} u16 by default; else another rank, extents (zero, or huge and
  /// unallocated), element type, layout (chunked, compact, compressed).
  void data(hid_t parent, const std::string& name) {
    if (replaced_by_something_else(parent, name)) return;
    std::vector<hsize_t> dims{2, 3, 4, 5};
    if (choice(3) == 1) dims.resize(std::size_t(in_.ConsumeIntegralInRange<int>(0, 6)), 2);
    for (auto& d : dims) {
      switch (choice(5)) {
        case 1: d = in_.ConsumeIntegralInRange<hsize_t>(0, 9); break;
        case 2: d = hsize_t(1) << in_.ConsumeIntegralInRange<int>(10, 31); break;
        default: break;
      }
    }
    Handle type = some_type(H5T_STD_U16LE);
    Handle space = dims.empty() ? must(H5Screate(H5S_SCALAR), H5Sclose, "H5Screate")
                                : must(H5Screate_simple(int(dims.size()), dims.data(), nullptr), H5Sclose, "H5Screate_simple");
    Handle dcpl = must(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, "H5Pcreate");
    const hssize_t n = H5Sget_simple_extent_npoints(space.get());
    const std::uint64_t bytes = std::uint64_t(n) * H5Tget_size(type.get());
    const int layout = dims.empty() ? 0 : choice(3);
    if (layout == 1 || layout == 3) {  // chunked (one pattern per chunk, as tmdflow writes, or other)
      std::vector<hsize_t> chunk(dims.size(), 1);
      for (std::size_t i = 0; i < dims.size(); ++i)
        chunk[i] = std::max<hsize_t>(1, std::min<hsize_t>(dims[i], i + 2 >= dims.size() ? dims[i] : 1 + in_.ConsumeIntegralInRange<hsize_t>(0, 2)));
      bool too_big = false;
      hsize_t chunk_elements = 1;
      for (auto c : chunk) too_big |= (chunk_elements *= c) > (hsize_t(1) << 20);
      if (!too_big) {
        must(H5Pset_chunk(dcpl.get(), int(chunk.size()), chunk.data()), "H5Pset_chunk");
        if (layout == 3) must(H5Pset_deflate(dcpl.get(), 1), "H5Pset_deflate");
      }
    } else if (layout == 2 && bytes < 32000) {
      must(H5Pset_layout(dcpl.get(), H5D_COMPACT), "H5Pset_layout");
    }
    // HDF5 itself refuses some of these (a size beyond its address space): then there is no cube.
    Handle d(H5Dcreate2(parent, name.c_str(), type.get(), space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT), H5Dclose);
    if (!d.valid()) {
      H5Eclear2(H5E_DEFAULT);
      return;
    }
    // Small cubes get their values from the input (the rest stays the fill value).
    if (n > 0 && bytes <= 65536 && bytes / std::uint64_t(n) == H5Tget_size(type.get()) && plain_bytes(type.get()) &&
        !in_.ConsumeBool()) {
      std::string values = in_.ConsumeBytesAsString(std::size_t(bytes));
      values.resize(std::size_t(bytes), '\x01');
      must(H5Dwrite(d.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), "H5Dwrite");
    }
    string_attr(d.get(), "units", "pixel intensity");
  }

  // ---- whole trees ----------------------------------------------------------------------------
  /// py4DSTEM's emdfile / tmdflow: /ROOT (emd root) / ARRAY (DataCube: data, dim0..dim3) and
  /// ROOT/metadatabundle/calibration, tmdflow's acquisition values and product attributes.
  void emd1(hid_t file) {
    Handle fileroot = must(H5Gopen2(file, "/", H5P_DEFAULT), H5Gclose, "H5Gopen2");
    string_attr(fileroot.get(), "emd_group_type", "file");
    number_attr(fileroot.get(), "version_major", 1);
    number_attr(fileroot.get(), "version_minor", 0);
    const std::string root_name = choice(3) == 1 ? printable_string(8) : "datacube_root";
    if (root_name.empty() || root_name.find('/') != std::string::npos || root_name == ".") return;
    if (replaced_by_something_else(file, root_name)) return;
    Handle root = group(file, root_name);
    string_attr(root.get(), "emd_group_type", "root");
    string_attr(root.get(), "python_class", "Root");
    if (in_.ConsumeBool()) {  // a tmdflow product
      string_attr(root.get(), "tmdflow_product", "datacube");
      string_attr(root.get(), "tmdflow_stage", "ingest");
      string_attr(root.get(), "tmdflow_config_hash", "0123456789abcdef");
      number_attr(root.get(), "tmdflow_complete", 1);
    }
    const int arrays = 1 + (choice(4) == 1 ? in_.ConsumeIntegralInRange<int>(0, 2) : 0);
    for (int a = 0; a < arrays; ++a) {
      const std::string name = a == 0 ? "datacube" : "array" + std::to_string(a);
      if (replaced_by_something_else(root.get(), name)) continue;
      Handle array = group(root.get(), name);
      string_attr(array.get(), "emd_group_type", "array");
      string_attr(array.get(), "python_class", a == 0 ? "DataCube" : "Array");
      data(array.get(), "data");
      static const char* kNames[] = {"Rx", "Ry", "Qx", "Qy"};
      for (int i = 0; i < 4 + choice(2); ++i)
        values(array.get(), "dim" + std::to_string(i), {0.0, i < 2 ? 0.5 : 0.0125}, false,
               {{"name", kNames[i % 4]}, {"units", i < 2 ? "nm" : "A^-1"}});
      cycles(array.get());
    }
    if (replaced_by_something_else(root.get(), "metadatabundle")) return;
    Handle bundle = group(root.get(), "metadatabundle");
    string_attr(bundle.get(), "emd_group_type", "metadatabundle");
    if (!replaced_by_something_else(bundle.get(), "calibration")) {
      Handle cal = group(bundle.get(), "calibration");
      string_attr(cal.get(), "emd_group_type", "metadata");
      string_attr(cal.get(), "python_class", "Calibration");
      values(cal.get(), "Q_pixel_size", {0.0125}, true);
      values(cal.get(), "R_pixel_size", {0.5}, true);
      text(cal.get(), "Q_pixel_units", "A^-1");
      text(cal.get(), "R_pixel_units", "nm");
      values(cal.get(), "QR_flip", {0.0}, true);
    }
    if (!replaced_by_something_else(bundle.get(), "tmdflow_acquisition")) {
      Handle acq = group(bundle.get(), "tmdflow_acquisition");
      values(acq.get(), "voltage_kV", {80.0}, true);
      values(acq.get(), "convergence_mrad", {20.0}, true);
      if (in_.ConsumeBool()) text(acq.get(), "note", "a string among the numbers");
    }
    cycles(root.get());
  }

  /// Prismatic's EMD 0.5 output: 4DSTEM_simulation (emd_group_type 2, version_major 0) /
  /// data/datacubes/CBED_array_depth0000 (emd_group_type 1: datacube, dim1..dim4) and
  /// metadata/metadata_0/original/simulation_parameters (attributes E, sa).
  void prismatic(hid_t file) {
    Handle top = group(file, "4DSTEM_simulation");
    number_attr(top.get(), "emd_group_type", 2);
    number_attr(top.get(), "version_major", 0);
    Handle data_group = group(top.get(), "data");
    Handle cubes = group(data_group.get(), "datacubes");
    Handle array = group(cubes.get(), "CBED_array_depth0000");
    number_attr(array.get(), "emd_group_type", 1);
    data(array.get(), "datacube");
    const char* kUnits[] = {"[n_m]", "[n_m]", "[n_m^-1]", "[n_m^-1]"};
    for (int i = 1; i <= 4; ++i)
      values(array.get(), "dim" + std::to_string(i), {0.0, i <= 2 ? 0.2 : 0.05, i <= 2 ? 0.4 : 0.1}, false,
             {{"units", kUnits[i - 1]}});
    if (replaced_by_something_else(top.get(), "metadata")) return;
    Handle meta = group(top.get(), "metadata");
    Handle m0 = group(meta.get(), "metadata_0");
    Handle original = group(m0.get(), "original");
    if (replaced_by_something_else(original.get(), "simulation_parameters")) return;
    Handle sp = group(original.get(), "simulation_parameters");
    number_attr(sp.get(), "E", 80);
    number_attr(sp.get(), "sa", 20);
    cycles(top.get());
  }

  /// Any 4-D dataset, at the root or a little deeper.
  void plain(hid_t file) {
    Handle g = must(H5Gopen2(file, "/", H5P_DEFAULT), H5Gclose, "H5Gopen2");
    const int depth = choice(2);
    for (int i = 0; i < depth; ++i) g = group(g.get(), "level" + std::to_string(i));
    data(g.get(), "scan");
    if (in_.ConsumeBool()) data(g.get(), "other");
    cycles(g.get());
  }

  /// Builds the file; returns the dataset option to pass ("" = let the reader find the cube).
  std::string build() {
    Handle fapl = must(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, "H5Pcreate");
    must(H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_EARLIEST, H5F_LIBVER_LATEST), "H5Pset_libver_bounds");
    Handle file = must(H5Fcreate(path_.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()), H5Fclose, "H5Fcreate");
    const int kind = choice(2);
    if (kind == 0) emd1(file.get());
    else if (kind == 1) prismatic(file.get());
    else plain(file.get());
    switch (choice(6)) {
      case 1: return kind == 0 ? "/datacube_root/datacube" : kind == 1 ? "/4DSTEM_simulation" : "/scan";
      case 2: return "/datacube_root/datacube/data";
      case 3: return "/no/such/thing";
      case 4: return printable_string(16);
      default: return "";
    }
  }

 private:
  FuzzedDataProvider& in_;
  std::string path_;
};

// Opens the cube as `ingest` does and reads all its frames (when small), then a range of them.
void read_and_compare(const std::string& path, const io::FrameSourceOptions& options) {
  auto source = io::open_frame_source(path, options);
  const auto& m = source->meta();
  fuzz::check(m.shape.size() == 4 && m.positions() > 0 && m.pattern_pixels() > 0, "an HDF5 source has a positive 4-D shape");
  const std::uint64_t bytes = std::uint64_t(m.positions()) * source->frame_bytes();
  if (bytes > kMaxReadBytes || bytes / std::uint64_t(m.positions()) != source->frame_bytes()) return;
  std::vector<char> frames(static_cast<std::size_t>(bytes));
  source->read_frames(0, m.positions(), frames.data());
  // Frames [1, n-1) alone: the reader splits them into partial and whole rows.
  if (m.positions() > 2) {
    std::vector<char> middle(std::size_t((m.positions() - 2) * std::int64_t(source->frame_bytes())));
    source->read_frames(1, m.positions() - 2, middle.data());
    fuzz::check(std::memcmp(middle.data(), frames.data() + source->frame_bytes(), middle.size()) == 0,
                "a range of frames reads the same as its part of the whole");
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  log::set_level(log::Level::quiet);
  io::h5::silence_hdf5_errors();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  const std::string path = fuzz::Scratch::get().path("cube.h5");
  io::FrameSourceOptions options;
  options.format = io::InputFormat::hdf5;
  {
    Builder builder(in, path);
    options.dataset = builder.build();
  }
  H5Eclear2(H5E_DEFAULT);
  if (in.ConsumeBool()) options.scan = {1, in.ConsumeIntegralInRange<std::int64_t>(1, 6)};

  fuzz::expect_only_typed_errors([&] { read_and_compare(path, options); });
  // The other readers of EMD metadata: the array listing and the calibration of each root.
  fuzz::expect_only_typed_errors([&] {
    io::h5::File file = io::h5::File::open(path, io::h5::Mode::read, nullptr);
    io::emd::is_emd1(file);
    for (const auto& a : io::emd::list_arrays(file)) {
      const io::h5::Group g = file.root().open_group(a.group_path);
      io::emd::read_dims(g, int(a.shape.size()));
    }
    const io::h5::Group root = file.root();
    for (const auto& name : root.children())
      if (root.kind(name) == io::h5::LinkKind::group) io::emd::read_calibration(root.open_group(name));
  });
  // `tmdflow inspect` and `tmdflow validate` on the same file.
  fuzz::expect_only_typed_errors([&] { io::inspect_file(path); });
  fuzz::expect_only_typed_errors([&] { io::validate_file(path); });
  return 0;
}

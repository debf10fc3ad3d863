#include "tmdflow/io/h5.hpp"

#include <mpi.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>

#include "tmdflow/core/strings.hpp"
#include "tmdflow/io/mpiio_hints.hpp"
#include "tmdflow/par/comm.hpp"

namespace tmdflow::io::h5 {
namespace {

// HDF5 1.10 cannot write variable-length strings into a dataset through MPI-IO (they live in the
// global heap). EMD 1.0 stores its string metadata exactly so, as scalar VL datasets: a parallel
// file creates them collectively and records the values here; File::close writes them through the
// serial driver on rank 0 after the parallel close.
using PendingStrings = std::vector<std::pair<std::string, std::string>>;
std::map<std::string, PendingStrings>& pending_strings() {
  static std::map<std::string, PendingStrings> p;
  return p;
}

}  // namespace

void move_pending_strings(const std::string& file, const std::string& from, const std::string& to) {
  auto it = pending_strings().find(file);
  if (it == pending_strings().end()) return;
  for (auto& [path, value] : it->second)
    if (path.compare(0, from.size(), from) == 0 && (path.size() == from.size() || path[from.size()] == '/')) path = to + path.substr(from.size());
}

namespace {

struct ErrorWalk {
  std::string outer;
  std::string inner;
  int n = 0;
};

herr_t walk_cb(unsigned n, const H5E_error2_t* err, void* data) {
  auto* w = static_cast<ErrorWalk*>(data);
  std::string d = err->desc ? err->desc : "";
  if (w->n == 0) w->inner = d;  // walking upward: first is the innermost cause
  w->outer = d;
  ++w->n;
  return 0;
}

std::string join_path(const std::string& base, const std::string& name) {
  if (name.empty() || name == ".") return base;  // the group itself
  if (name[0] == '/') return name;
  if (base == "/" || base.empty()) return "/" + name;
  return base + "/" + name;
}

Handle make_dxpl(bool parallel, Xfer x) {
  Handle p(TMDFLOW_H5(H5Pcreate(H5P_DATASET_XFER), "dataset transfer"), H5Pclose);
  if (parallel)
    TMDFLOW_H5(H5Pset_dxpl_mpio(p.get(), x == Xfer::collective ? H5FD_MPIO_COLLECTIVE : H5FD_MPIO_INDEPENDENT),
               "dataset transfer");
  return p;
}

Handle select_slab(hid_t file_space, const Shape& offset, const Shape& count, const std::string& where) {
  const int r = H5Sget_simple_extent_ndims(file_space);
  if (r != int(offset.size()) || r != int(count.size()))
    throw Error(where + ": hyperslab of rank " + std::to_string(offset.size()) + " on a dataset of rank " +
                    std::to_string(r), ExitCode::failure);
  bool none = false;
  std::vector<hsize_t> off(r), cnt(r), mem(r);
  for (int i = 0; i < r; ++i) {
    off[i] = hsize_t(offset[i]);
    cnt[i] = hsize_t(count[i]);
    mem[i] = cnt[i];
    if (count[i] == 0) none = true;
  }
  if (r == 0) {
    return Handle(TMDFLOW_H5(H5Screate(H5S_SCALAR), where), H5Sclose);
  }
  if (none) {
    TMDFLOW_H5(H5Sselect_none(file_space), where);
    Handle m(TMDFLOW_H5(H5Screate(H5S_NULL), where), H5Sclose);
    return m;
  }
  TMDFLOW_H5(H5Sselect_hyperslab(file_space, H5S_SELECT_SET, off.data(), nullptr, cnt.data(), nullptr), where);
  return Handle(TMDFLOW_H5(H5Screate_simple(r, mem.data(), nullptr), where), H5Sclose);
}

}  // namespace

void silence_hdf5_errors() {
  static std::once_flag once;
  std::call_once(once, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
}

void throw_h5_error(const char* call, const std::string& context) {
  ErrorWalk w;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk_cb, &w);
  H5Eclear2(H5E_DEFAULT);
  std::string fn = call;
  auto paren = fn.find('(');
  if (paren != std::string::npos) fn = fn.substr(0, paren);
  std::string msg = context + ": " + fn + " failed";
  if (!w.outer.empty()) msg += ": " + w.outer;
  if (!w.inner.empty() && w.inner != w.outer) msg += " (" + w.inner + ")";
  throw IoError(msg);
}

hid_t native_type(Dtype d) {
  switch (d) {
    case Dtype::u8: return H5T_NATIVE_UINT8;
    case Dtype::u16: return H5T_NATIVE_UINT16;
    case Dtype::u32: return H5T_NATIVE_UINT32;
    case Dtype::u64: return H5T_NATIVE_UINT64;
    case Dtype::i8: return H5T_NATIVE_INT8;
    case Dtype::i16: return H5T_NATIVE_INT16;
    case Dtype::i32: return H5T_NATIVE_INT32;
    case Dtype::i64: return H5T_NATIVE_INT64;
    case Dtype::f32: return H5T_NATIVE_FLOAT;
    case Dtype::f64: return H5T_NATIVE_DOUBLE;
  }
  return H5T_NATIVE_DOUBLE;
}

Dtype dtype_of_h5(hid_t type, const std::string& context) {
  const H5T_class_t cls = H5Tget_class(type);
  const size_t size = H5Tget_size(type);
  if (cls == H5T_INTEGER) {
    const bool is_signed = H5Tget_sign(type) == H5T_SGN_2;
    switch (size) {
      case 1: return is_signed ? Dtype::i8 : Dtype::u8;
      case 2: return is_signed ? Dtype::i16 : Dtype::u16;
      case 4: return is_signed ? Dtype::i32 : Dtype::u32;
      case 8: return is_signed ? Dtype::i64 : Dtype::u64;
      default: break;
    }
  } else if (cls == H5T_FLOAT) {
    if (size == 4) return Dtype::f32;
    if (size == 8) return Dtype::f64;
  } else if (cls == H5T_ENUM) {
    Handle super(H5Tget_super(type), H5Tclose);
    return dtype_of_h5(super.get(), context);
  }
  throw InputError(context + ": element type: expected an integer or float type, found HDF5 class " +
                   std::to_string(int(cls)) + " of " + std::to_string(size) + " bytes");
}

Handle bool_type() {
  Handle t(TMDFLOW_H5(H5Tenum_create(H5T_NATIVE_INT8), "bool type"), H5Tclose);
  std::int8_t f = 0, tr = 1;
  TMDFLOW_H5(H5Tenum_insert(t.get(), "FALSE", &f), "bool type");
  TMDFLOW_H5(H5Tenum_insert(t.get(), "TRUE", &tr), "bool type");
  return t;
}

// ---- Object (attributes) ---------------------------------------------------------------------

bool Object::has_attr(const std::string& name) const {
  return TMDFLOW_H5(H5Aexists(id(), name.c_str()), where()) > 0;
}

ObjectId Object::object_id() const {
  H5O_info_t info;
  TMDFLOW_H5(H5Oget_info2(id(), &info, H5O_INFO_BASIC), where());
  return {info.fileno, std::uint64_t(info.addr)};
}

std::vector<std::string> Object::attr_names() const {
  std::vector<std::string> names;
  H5O_info_t info;
  TMDFLOW_H5(H5Oget_info2(id(), &info, H5O_INFO_NUM_ATTRS), where());
  for (hsize_t i = 0; i < info.num_attrs; ++i) {
    ssize_t n = TMDFLOW_H5(H5Aget_name_by_idx(id(), ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT), where());
    std::string s(size_t(n) + 1, '\0');
    H5Aget_name_by_idx(id(), ".", H5_INDEX_NAME, H5_ITER_INC, i, s.data(), s.size(), H5P_DEFAULT);
    s.resize(static_cast<std::size_t>(n));
    names.push_back(s);
  }
  return names;
}

void Object::delete_attr(const std::string& name) const {
  if (has_attr(name)) TMDFLOW_H5(H5Adelete(id(), name.c_str()), where() + "@" + name);
}

void Object::set_attr(const std::string& name, const std::string& value) const {
  delete_attr(name);
  Handle type(TMDFLOW_H5(H5Tcopy(H5T_C_S1), where()), H5Tclose);
  TMDFLOW_H5(H5Tset_size(type.get(), H5T_VARIABLE), where());
  TMDFLOW_H5(H5Tset_cset(type.get(), H5T_CSET_UTF8), where());
  Handle space(TMDFLOW_H5(H5Screate(H5S_SCALAR), where()), H5Sclose);
  Handle a(TMDFLOW_H5(H5Acreate2(id(), name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), where() + "@" + name), H5Aclose);
  const char* p = value.c_str();
  TMDFLOW_H5(H5Awrite(a.get(), type.get(), &p), where() + "@" + name);
}

void Object::set_attr(const std::string& name, std::int64_t value) const {
  delete_attr(name);
  Handle space(TMDFLOW_H5(H5Screate(H5S_SCALAR), where()), H5Sclose);
  Handle a(TMDFLOW_H5(H5Acreate2(id(), name.c_str(), H5T_STD_I64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT), where() + "@" + name), H5Aclose);
  TMDFLOW_H5(H5Awrite(a.get(), H5T_NATIVE_INT64, &value), where() + "@" + name);
}

void Object::set_attr(const std::string& name, double value) const {
  delete_attr(name);
  Handle space(TMDFLOW_H5(H5Screate(H5S_SCALAR), where()), H5Sclose);
  Handle a(TMDFLOW_H5(H5Acreate2(id(), name.c_str(), H5T_IEEE_F64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT), where() + "@" + name), H5Aclose);
  TMDFLOW_H5(H5Awrite(a.get(), H5T_NATIVE_DOUBLE, &value), where() + "@" + name);
}

void Object::set_attr(const std::string& name, const std::vector<double>& value) const {
  delete_attr(name);
  hsize_t n = value.size();
  Handle space(TMDFLOW_H5(H5Screate_simple(1, &n, nullptr), where()), H5Sclose);
  Handle a(TMDFLOW_H5(H5Acreate2(id(), name.c_str(), H5T_IEEE_F64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT), where() + "@" + name), H5Aclose);
  TMDFLOW_H5(H5Awrite(a.get(), H5T_NATIVE_DOUBLE, value.data()), where() + "@" + name);
}

std::optional<std::string> Object::attr_string(const std::string& name) const {
  if (!has_attr(name)) return std::nullopt;
  Handle a(TMDFLOW_H5(H5Aopen(id(), name.c_str(), H5P_DEFAULT), where() + "@" + name), H5Aclose);
  Handle type(TMDFLOW_H5(H5Aget_type(a.get()), where()), H5Tclose);
  if (H5Tget_class(type.get()) != H5T_STRING) return std::nullopt;
  Handle space(TMDFLOW_H5(H5Aget_space(a.get()), where()), H5Sclose);
  if (H5Sget_simple_extent_npoints(space.get()) != 1) return std::nullopt;
  if (H5Tis_variable_str(type.get()) > 0) {
    Handle mem(TMDFLOW_H5(H5Tcopy(H5T_C_S1), where()), H5Tclose);
    H5Tset_size(mem.get(), H5T_VARIABLE);
    H5Tset_cset(mem.get(), H5Tget_cset(type.get()));
    char* p = nullptr;
    TMDFLOW_H5(H5Aread(a.get(), mem.get(), &p), where() + "@" + name);
    std::string s = p ? p : "";
    H5free_memory(p);
    return s;
  }
  size_t n = H5Tget_size(type.get());
  std::string s(n, '\0');
  TMDFLOW_H5(H5Aread(a.get(), type.get(), s.data()), where() + "@" + name);
  s.resize(std::strlen(s.c_str()));
  return s;
}

std::optional<std::int64_t> Object::attr_int(const std::string& name) const {
  if (!has_attr(name)) return std::nullopt;
  Handle a(TMDFLOW_H5(H5Aopen(id(), name.c_str(), H5P_DEFAULT), where() + "@" + name), H5Aclose);
  Handle type(TMDFLOW_H5(H5Aget_type(a.get()), where()), H5Tclose);
  H5T_class_t c = H5Tget_class(type.get());
  if (c != H5T_INTEGER && c != H5T_ENUM) return std::nullopt;
  Handle space(TMDFLOW_H5(H5Aget_space(a.get()), where()), H5Sclose);
  if (H5Sget_simple_extent_npoints(space.get()) != 1) return std::nullopt;
  std::int64_t v = 0;
  if (c == H5T_ENUM) {
    // An enum (h5py's bool is one) of any base size and byte order: HDF5 converts enums only to
    // enums, so read its stored bytes and convert them as its base integer type.
    Handle base(TMDFLOW_H5(H5Tget_super(type.get()), where() + "@" + name), H5Tclose);
    std::vector<unsigned char> bytes(std::max(H5Tget_size(type.get()), sizeof v));
    TMDFLOW_H5(H5Aread(a.get(), type.get(), bytes.data()), where() + "@" + name);
    TMDFLOW_H5(H5Tconvert(base.get(), H5T_NATIVE_INT64, 1, bytes.data(), nullptr, H5P_DEFAULT), where() + "@" + name);
    std::memcpy(&v, bytes.data(), sizeof v);
    return v;
  }
  TMDFLOW_H5(H5Aread(a.get(), H5T_NATIVE_INT64, &v), where() + "@" + name);
  return v;
}

std::optional<double> Object::attr_double(const std::string& name) const {
  auto v = attr_doubles(name);
  if (!v || v->size() != 1) return std::nullopt;
  return (*v)[0];
}

std::optional<std::vector<double>> Object::attr_doubles(const std::string& name) const {
  if (!has_attr(name)) return std::nullopt;
  Handle a(TMDFLOW_H5(H5Aopen(id(), name.c_str(), H5P_DEFAULT), where() + "@" + name), H5Aclose);
  Handle type(TMDFLOW_H5(H5Aget_type(a.get()), where()), H5Tclose);
  H5T_class_t c = H5Tget_class(type.get());
  if (c != H5T_INTEGER && c != H5T_FLOAT) return std::nullopt;
  Handle space(TMDFLOW_H5(H5Aget_space(a.get()), where()), H5Sclose);
  std::vector<double> v(size_t(H5Sget_simple_extent_npoints(space.get())));
  TMDFLOW_H5(H5Aread(a.get(), H5T_NATIVE_DOUBLE, v.data()), where() + "@" + name);
  return v;
}

// ---- Dataset -------------------------------------------------------------------------------

Shape Dataset::shape() const {
  Handle space(TMDFLOW_H5(H5Dget_space(id()), where()), H5Sclose);
  int r = TMDFLOW_H5(H5Sget_simple_extent_ndims(space.get()), where());
  std::vector<hsize_t> dims(size_t(std::max(r, 0)));
  if (r > 0) H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  return Shape(dims.begin(), dims.end());
}

std::int64_t Dataset::element_count() const {
  Handle space(TMDFLOW_H5(H5Dget_space(id()), where()), H5Sclose);
  return std::int64_t(TMDFLOW_H5(H5Sget_simple_extent_npoints(space.get()), where()));
}

Dtype Dataset::dtype() const {
  Handle type(TMDFLOW_H5(H5Dget_type(id()), where()), H5Tclose);
  return dtype_of_h5(type.get(), where());
}

bool Dataset::is_string() const {
  Handle type(TMDFLOW_H5(H5Dget_type(id()), where()), H5Tclose);
  return H5Tget_class(type.get()) == H5T_STRING;
}

Shape Dataset::chunks() const {
  Handle plist(TMDFLOW_H5(H5Dget_create_plist(id()), where()), H5Pclose);
  if (H5Pget_layout(plist.get()) != H5D_CHUNKED) return {};
  std::vector<hsize_t> c(32);
  int r = TMDFLOW_H5(H5Pget_chunk(plist.get(), 32, c.data()), where());
  return Shape(c.begin(), c.begin() + r);
}

bool Dataset::is_filtered() const {
  Handle plist(TMDFLOW_H5(H5Dget_create_plist(id()), where()), H5Pclose);
  return H5Pget_nfilters(plist.get()) > 0;
}

std::optional<std::uint64_t> Dataset::contiguous_offset() const {
  Handle plist(TMDFLOW_H5(H5Dget_create_plist(id()), where()), H5Pclose);
  if (H5Pget_layout(plist.get()) != H5D_CONTIGUOUS) return std::nullopt;
  haddr_t off = H5Dget_offset(id());
  if (off == HADDR_UNDEF) {
    H5Eclear2(H5E_DEFAULT);
    return std::nullopt;
  }
  return std::uint64_t(off);
}

bool Dataset::stored_as_native() const {
  Handle type(TMDFLOW_H5(H5Dget_type(id()), where()), H5Tclose);
  Dtype d = dtype_of_h5(type.get(), where());
  return H5Tequal(type.get(), native_type(d)) > 0;
}

void Dataset::read_raw(const Shape& offset, const Shape& count, hid_t mem_type, void* out, Xfer x) const {
  Handle fspace(TMDFLOW_H5(H5Dget_space(id()), where()), H5Sclose);
  Handle mspace = select_slab(fspace.get(), offset, count, where());
  Handle dxpl = make_dxpl(parallel(), x);
  TMDFLOW_H5(H5Dread(id(), mem_type, mspace.get(), fspace.get(), dxpl.get(), out), where());
}

bool Dataset::read_chunk_raw(const Shape& chunk_offset, void* out) const {
  hsize_t off[H5S_MAX_RANK];
  if (chunk_offset.size() > H5S_MAX_RANK)
    throw Error(where() + ": chunk offset of rank " + std::to_string(chunk_offset.size()), ExitCode::failure);
  for (std::size_t i = 0; i < chunk_offset.size(); ++i) off[i] = hsize_t(chunk_offset[i]);
  auto chunk_name = [&] {
    std::string s = where() + ": chunk at (";
    for (std::size_t i = 0; i < chunk_offset.size(); ++i) s += (i ? ", " : "") + std::to_string(chunk_offset[i]);
    return s + ")";
  };
  std::uint32_t filter_mask = 0;
  if (H5Dread_chunk(id(), H5P_DEFAULT, off, &filter_mask, out) < 0) {
    // A chunk never written has no address: tell it from a failed read by asking for its storage
    // (keeping the read's error stack for the message).
    const hid_t read_error = H5Eget_current_stack();
    hsize_t bytes = 0;
    if (H5Dget_chunk_storage_size(id(), off, &bytes) < 0) {
      H5Eclear2(H5E_DEFAULT);
      if (read_error >= 0) H5Eclose_stack(read_error);
      return false;
    }
    if (read_error >= 0) H5Eset_current_stack(read_error);
    throw_h5_error("H5Dread_chunk", chunk_name());
  }
  if (filter_mask != 0)
    throw IoError(chunk_name() + ": expected a chunk stored without filters, found filter mask " + std::to_string(filter_mask));
  return true;
}

void Dataset::write_raw(const Shape& offset, const Shape& count, hid_t mem_type, const void* in, Xfer x) const {
  Handle fspace(TMDFLOW_H5(H5Dget_space(id()), where()), H5Sclose);
  Handle mspace = select_slab(fspace.get(), offset, count, where());
  Handle dxpl = make_dxpl(parallel(), x);
  TMDFLOW_H5(H5Dwrite(id(), mem_type, mspace.get(), fspace.get(), dxpl.get(), in), where());
}

std::string Dataset::read_string() const {
  Handle type(TMDFLOW_H5(H5Dget_type(id()), where()), H5Tclose);
  if (H5Tget_class(type.get()) != H5T_STRING)
    throw InputError(where() + ": expected a string dataset, found another type");
  Handle space(TMDFLOW_H5(H5Dget_space(id()), where()), H5Sclose);
  if (H5Sget_simple_extent_npoints(space.get()) != 1)
    throw InputError(where() + ": expected a single string, found " +
                     std::to_string(H5Sget_simple_extent_npoints(space.get())) + " elements");
  if (H5Tis_variable_str(type.get()) > 0) {
    Handle mem(TMDFLOW_H5(H5Tcopy(H5T_C_S1), where()), H5Tclose);
    H5Tset_size(mem.get(), H5T_VARIABLE);
    H5Tset_cset(mem.get(), H5Tget_cset(type.get()));
    char* p = nullptr;
    TMDFLOW_H5(H5Dread(id(), mem.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, &p), where());
    std::string s = p ? p : "";
    H5Dvlen_reclaim(mem.get(), space.get(), H5P_DEFAULT, &p);
    return s;
  }
  size_t n = H5Tget_size(type.get());
  std::string s(n, '\0');
  TMDFLOW_H5(H5Dread(id(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, s.data()), where());
  s.resize(std::strlen(s.c_str()));
  return s;
}

std::vector<std::string> Dataset::read_strings() const {
  Handle type(TMDFLOW_H5(H5Dget_type(id()), where()), H5Tclose);
  if (H5Tget_class(type.get()) != H5T_STRING) throw InputError(where() + ": expected a string dataset, found another type");
  const Shape s = shape();
  if (s.size() != 1) throw InputError(where() + ": expected a 1-D string dataset, found " + std::to_string(s.size()) + " dimensions");
  const std::size_t n = std::size_t(s[0]);
  std::vector<std::string> out(n);
  if (n == 0) return out;
  if (H5Tis_variable_str(type.get()) > 0) {
    Handle mem(TMDFLOW_H5(H5Tcopy(H5T_C_S1), where()), H5Tclose);
    H5Tset_size(mem.get(), H5T_VARIABLE);
    H5Tset_cset(mem.get(), H5Tget_cset(type.get()));
    std::vector<char*> p(n, nullptr);
    TMDFLOW_H5(H5Dread(id(), mem.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, p.data()), where());
    for (std::size_t i = 0; i < n; ++i) out[i] = p[i] ? p[i] : "";
    Handle space(TMDFLOW_H5(H5Dget_space(id()), where()), H5Sclose);
    H5Dvlen_reclaim(mem.get(), space.get(), H5P_DEFAULT, p.data());
    return out;
  }
  const std::size_t len = H5Tget_size(type.get());
  std::vector<char> buf(n * len + 1, '\0');
  TMDFLOW_H5(H5Dread(id(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()), where());
  for (std::size_t i = 0; i < n; ++i) out[i] = std::string(buf.data() + i * len, strnlen(buf.data() + i * len, len));
  return out;
}

// ---- Group ---------------------------------------------------------------------------------

std::string Group::child_path(const std::string& name) const { return join_path(path_, name); }

Group Group::create_group(const std::string& name) const {
  Handle gcpl(TMDFLOW_H5(H5Pcreate(H5P_GROUP_CREATE), where()), H5Pclose);
  TMDFLOW_H5(H5Pset_link_creation_order(gcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED), where());
  Handle g(TMDFLOW_H5(H5Gcreate2(id(), name.c_str(), H5P_DEFAULT, gcpl.get(), H5P_DEFAULT), file_ + ":" + child_path(name)), H5Gclose);
  return Group(std::move(g), child_path(name), file_, io_rank_);
}

Group Group::open_group(const std::string& name) const {
  if (kind(name) != LinkKind::group)
    throw InputError(file_ + ":" + child_path(name) + ": expected a group, found " +
                     (kind(name) == LinkKind::missing ? "nothing" : "another object"));
  Handle g(TMDFLOW_H5(H5Gopen2(id(), name.c_str(), H5P_DEFAULT), file_ + ":" + child_path(name)), H5Gclose);
  return Group(std::move(g), child_path(name), file_, io_rank_);
}

Group Group::require_group(const std::string& name) const {
  Group cur = open_group(".");
  for (const auto& part : str::split(name, '/')) {
    if (cur.kind(part) == LinkKind::missing) cur = cur.create_group(part);
    else cur = cur.open_group(part);
  }
  return cur;
}

Dataset Group::open_dataset(const std::string& name) const {
  LinkKind k = kind(name);
  if (k != LinkKind::dataset)
    throw InputError(file_ + ":" + child_path(name) + ": expected a dataset, found " +
                     (k == LinkKind::missing ? "nothing" : "a group"));
  Handle d(TMDFLOW_H5(H5Dopen2(id(), name.c_str(), H5P_DEFAULT), file_ + ":" + child_path(name)), H5Dclose);
  return Dataset(std::move(d), child_path(name), file_, io_rank_);
}

Dataset Group::create_dataset(const std::string& name, Dtype dtype, const Shape& shape, const Shape& chunks) const {
  const std::string w = file_ + ":" + child_path(name);
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  Handle space(dims.empty() ? TMDFLOW_H5(H5Screate(H5S_SCALAR), w) : TMDFLOW_H5(H5Screate_simple(int(dims.size()), dims.data(), nullptr), w), H5Sclose);
  Handle dcpl(TMDFLOW_H5(H5Pcreate(H5P_DATASET_CREATE), w), H5Pclose);
  if (!chunks.empty()) {
    if (chunks.size() != shape.size()) throw Error(w + ": chunk rank differs from dataset rank", ExitCode::failure);
    std::vector<hsize_t> c(chunks.size());
    for (size_t i = 0; i < chunks.size(); ++i) c[i] = hsize_t(std::max<std::int64_t>(1, std::min(chunks[i], std::max<std::int64_t>(1, shape[i]))));
    TMDFLOW_H5(H5Pset_chunk(dcpl.get(), int(c.size()), c.data()), w);
  }
  TMDFLOW_H5(H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_NEVER), w);
  if (parallel()) TMDFLOW_H5(H5Pset_alloc_time(dcpl.get(), H5D_ALLOC_TIME_EARLY), w);
  // Stored little-endian whatever the host (the EMD fixtures are little-endian).
  hid_t ftype = native_type(dtype);
  Handle file_type(TMDFLOW_H5(H5Tcopy(ftype), w), H5Tclose);
  TMDFLOW_H5(H5Tset_order(file_type.get(), H5T_ORDER_LE), w);
  Handle d(TMDFLOW_H5(H5Dcreate2(id(), name.c_str(), file_type.get(), space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT), w), H5Dclose);
  return Dataset(std::move(d), child_path(name), file_, io_rank_);
}

void Dataset::write_whole_raw(hid_t mem_type, const void* data) const {
  Shape s = shape();
  if (s.empty()) {
    // A scalar: every rank writes the same value in one collective call.
    Handle dxpl = make_dxpl(parallel(), Xfer::collective);
    TMDFLOW_H5(H5Dwrite(id(), mem_type, H5S_ALL, H5S_ALL, dxpl.get(), data), where());
    return;
  }
  // An empty table: every rank knows the shape, so all skip the (failing) zero-byte write together.
  if (std::find(s.begin(), s.end(), std::int64_t(0)) != s.end()) return;
  Shape off(s.size(), 0);
  Shape cnt = s;
  if (!io_root())
    for (auto& c : cnt) c = 0;
  write_raw(off, cnt, mem_type, data, Xfer::collective);
}

Dataset Group::write_scalar(const std::string& name, double value) const {
  std::vector<double> v{value};
  Dataset d = create_dataset(name, Dtype::f64, {});
  d.write_whole_raw(H5T_NATIVE_DOUBLE, v.data());
  return d;
}

Dataset Group::write_scalar_int(const std::string& name, std::int64_t value) const {
  Dataset d = create_dataset(name, Dtype::i64, {});
  d.write_whole_raw(H5T_NATIVE_INT64, &value);
  return d;
}

Dataset Group::write_scalar_bool(const std::string& name, bool value) const {
  const std::string w = file_ + ":" + child_path(name);
  Handle t = bool_type();
  Handle space(TMDFLOW_H5(H5Screate(H5S_SCALAR), w), H5Sclose);
  Handle d(TMDFLOW_H5(H5Dcreate2(id(), name.c_str(), t.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), w), H5Dclose);
  Dataset ds(std::move(d), child_path(name), file_, io_rank_);
  std::int8_t b = value ? 1 : 0;
  ds.write_whole_raw(t.get(), &b);
  return ds;
}

Dataset Group::write_scalar_string(const std::string& name, const std::string& value) const {
  const std::string w = file_ + ":" + child_path(name);
  Handle t(TMDFLOW_H5(H5Tcopy(H5T_C_S1), w), H5Tclose);
  TMDFLOW_H5(H5Tset_size(t.get(), H5T_VARIABLE), w);
  Handle space(TMDFLOW_H5(H5Screate(H5S_SCALAR), w), H5Sclose);
  Handle d(TMDFLOW_H5(H5Dcreate2(id(), name.c_str(), t.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), w), H5Dclose);
  Dataset ds(std::move(d), child_path(name), file_, io_rank_);
  if (io_rank_ >= 0) {
    pending_strings()[file_].emplace_back(ds.path(), value);
  } else {
    const char* p = value.c_str();
    ds.write_whole_raw(t.get(), &p);
  }
  return ds;
}

Dataset Group::write_strings(const std::string& name, const std::vector<std::string>& values) const {
  const std::string w = file_ + ":" + child_path(name);
  std::size_t len = 1;
  for (const auto& v : values) len = std::max(len, v.size() + 1);
  Handle t(TMDFLOW_H5(H5Tcopy(H5T_C_S1), w), H5Tclose);
  TMDFLOW_H5(H5Tset_size(t.get(), len), w);
  TMDFLOW_H5(H5Tset_strpad(t.get(), H5T_STR_NULLTERM), w);
  TMDFLOW_H5(H5Tset_cset(t.get(), H5T_CSET_UTF8), w);
  const hsize_t dims[1] = {hsize_t(values.size())};
  Handle space(TMDFLOW_H5(H5Screate_simple(1, dims, nullptr), w), H5Sclose);
  Handle dcpl(TMDFLOW_H5(H5Pcreate(H5P_DATASET_CREATE), w), H5Pclose);
  if (parallel()) TMDFLOW_H5(H5Pset_alloc_time(dcpl.get(), H5D_ALLOC_TIME_EARLY), w);
  Handle d(TMDFLOW_H5(H5Dcreate2(id(), name.c_str(), t.get(), space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT), w), H5Dclose);
  Dataset ds(std::move(d), child_path(name), file_, io_rank_);
  std::vector<char> buf(values.size() * len, '\0');
  for (std::size_t i = 0; i < values.size(); ++i) std::memcpy(buf.data() + i * len, values[i].data(), values[i].size());
  if (!values.empty()) ds.write_whole_raw(t.get(), buf.data());
  return ds;
}

LinkKind Group::kind(const std::string& name) const {
  if (name.empty() || name == ".") return LinkKind::group;
  // Check every link along a relative path so that a missing parent is not an error.
  std::string cur;
  for (const auto& part : str::split(name, '/')) {
    cur = cur.empty() ? part : cur + "/" + part;
    htri_t e = H5Lexists(id(), cur.c_str(), H5P_DEFAULT);
    if (e <= 0) {
      H5Eclear2(H5E_DEFAULT);
      return LinkKind::missing;
    }
  }
  htri_t ok = H5Oexists_by_name(id(), name.c_str(), H5P_DEFAULT);
  if (ok <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return LinkKind::missing;  // dangling soft or external link
  }
  H5O_info_t info;
  if (H5Oget_info_by_name2(id(), name.c_str(), &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0) {
    H5Eclear2(H5E_DEFAULT);
    return LinkKind::missing;
  }
  if (info.type == H5O_TYPE_GROUP) return LinkKind::group;
  if (info.type == H5O_TYPE_DATASET) return LinkKind::dataset;
  return LinkKind::other;
}

std::vector<std::string> Group::children() const {
  std::vector<std::string> out;
  H5G_info_t info;
  TMDFLOW_H5(H5Gget_info(id(), &info), where());
  // Creation order when tracked (tmdflow's own groups), else name order.
  H5_index_t idx = H5_INDEX_NAME;
  {
    Handle gcpl(H5Gget_create_plist(id()), H5Pclose);
    unsigned flags = 0;
    if (gcpl.valid() && H5Pget_link_creation_order(gcpl.get(), &flags) >= 0 && (flags & H5P_CRT_ORDER_INDEXED))
      idx = H5_INDEX_CRT_ORDER;
  }
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    ssize_t n = TMDFLOW_H5(H5Lget_name_by_idx(id(), ".", idx, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT), where());
    std::string s(size_t(n) + 1, '\0');
    H5Lget_name_by_idx(id(), ".", idx, H5_ITER_INC, i, s.data(), s.size(), H5P_DEFAULT);
    s.resize(static_cast<std::size_t>(n));
    out.push_back(s);
  }
  return out;
}

void Group::unlink(const std::string& name) const {
  TMDFLOW_H5(H5Ldelete(id(), name.c_str(), H5P_DEFAULT), file_ + ":" + child_path(name));
}

void Group::move(const std::string& from, const std::string& to) const {
  TMDFLOW_H5(H5Lmove(id(), from.c_str(), id(), to.c_str(), H5P_DEFAULT, H5P_DEFAULT),
             file_ + ":" + child_path(from) + " -> " + child_path(to));
}

// ---- File ----------------------------------------------------------------------------------

// An existing file opened for writing keeps every change of its metadata in memory until the
// product is committed (File::flush) or the file closed: HDF5 1.10 has no journal, and a writer
// killed (kill -9, a lost node) after the metadata cache had written part of its changes leaves a
// file that no longer opens -- with the user's other products in it. Held back, the file on disk
// stays as it was until the commit's flush; the new product's raw data lands beyond its end.
static void hold_metadata_until_flush(hid_t fapl, const std::string& path) {
  H5AC_cache_config_t c;
  c.version = H5AC__CURR_CACHE_CONFIG_VERSION;
  TMDFLOW_H5(H5Pget_mdc_config(fapl, &c), path);
  c.evictions_enabled = false;
  c.incr_mode = H5C_incr__off;
  c.flash_incr_mode = H5C_flash_incr__off;
  c.decr_mode = H5C_decr__off;
  // Parallel: the ranks write metadata at a sync point once this much is dirty; HDF5 allows at most
  // 32 MiB (a product with several million chunks reaches it, and is then written in steps).
  c.dirty_bytes_threshold = 32 * 1024 * 1024;
  TMDFLOW_H5(H5Pset_mdc_config(fapl, &c), path);
}

static Handle make_fapl(const par::Comm* comm, const std::string& path, bool hold_metadata = false) {
  Handle fapl(TMDFLOW_H5(H5Pcreate(H5P_FILE_ACCESS), path), H5Pclose);
  TMDFLOW_H5(H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_EARLIEST, H5F_LIBVER_V18), path);
  if (hold_metadata) hold_metadata_until_flush(fapl.get(), path);
  if (comm) {
    // The site's settings for its parallel file system (io/mpiio_hints.hpp).
    const MpiioHints hints;
    TMDFLOW_H5(H5Pset_fapl_mpio(fapl.get(), comm->get(), hints.get()), path);
    if (const std::uint64_t align = hdf5_alignment_from_environment())
      TMDFLOW_H5(H5Pset_alignment(fapl.get(), 1 << 20, align), path);
    TMDFLOW_H5(H5Pset_all_coll_metadata_ops(fapl.get(), true), path);
    TMDFLOW_H5(H5Pset_coll_metadata_write(fapl.get(), true), path);
  }
  return fapl;
}

File File::create(const std::string& path, const par::Comm* comm) {
  silence_hdf5_errors();
  Handle fapl = make_fapl(comm, path);
  Handle fcpl(TMDFLOW_H5(H5Pcreate(H5P_FILE_CREATE), path), H5Pclose);
  TMDFLOW_H5(H5Pset_link_creation_order(fcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED), path);
  File f;
  f.h_ = Handle(TMDFLOW_H5(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, fcpl.get(), fapl.get()), path + ": cannot create HDF5 file"), H5Fclose);
  f.path_ = path;
  f.parallel_ = comm != nullptr;
  f.io_rank_ = comm ? comm->rank() : -1;
  f.comm_ = comm ? comm->get() : MPI_COMM_NULL;
  return f;
}

File File::open(const std::string& path, Mode mode, const par::Comm* comm) {
  silence_hdf5_errors();
  Handle fapl = make_fapl(comm, path, mode == Mode::readwrite);
  File f;
  f.h_ = Handle(TMDFLOW_H5(H5Fopen(path.c_str(), mode == Mode::read ? H5F_ACC_RDONLY : H5F_ACC_RDWR, fapl.get()),
                           path + ": cannot open HDF5 file"), H5Fclose);
  f.path_ = path;
  f.parallel_ = comm != nullptr;
  f.io_rank_ = comm ? comm->rank() : -1;
  f.comm_ = comm ? comm->get() : MPI_COMM_NULL;
  return f;
}

bool File::is_hdf5(const std::string& path) {
  silence_hdf5_errors();
  htri_t r = H5Fis_hdf5(path.c_str());
  H5Eclear2(H5E_DEFAULT);
  return r > 0;
}

Group File::root() const {
  Handle g(TMDFLOW_H5(H5Gopen2(h_.get(), "/", H5P_DEFAULT), path_), H5Gclose);
  return Group(std::move(g), "/", path_, io_rank_);
}

void File::flush() const { TMDFLOW_H5(H5Fflush(h_.get(), H5F_SCOPE_GLOBAL), path_); }

void File::close() {
  if (!h_.valid()) return;
  ssize_t open_objects = H5Fget_obj_count(h_.get(), H5F_OBJ_DATASET | H5F_OBJ_GROUP | H5F_OBJ_DATATYPE | H5F_OBJ_ATTR | H5F_OBJ_LOCAL);
  if (open_objects > 0)
    throw Error(path_ + ": closing the file with " + std::to_string(open_objects) + " objects still open (a tmdflow bug)",
                ExitCode::failure);
  hid_t id = h_.release();
  if (H5Fclose(id) < 0) throw_h5_error("H5Fclose", path_);
  if (!parallel_) return;
  PendingStrings pending;
  if (auto it = pending_strings().find(path_); it != pending_strings().end()) {
    pending = std::move(it->second);
    pending_strings().erase(it);
  }
  // Identical on every rank: the datasets were created collectively.
  if (pending.empty()) return;
  if (io_rank_ == 0) {
    Handle f(TMDFLOW_H5(H5Fopen(path_.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), path_ + ": reopening to write string metadata"), H5Fclose);
    Handle t(TMDFLOW_H5(H5Tcopy(H5T_C_S1), path_), H5Tclose);
    TMDFLOW_H5(H5Tset_size(t.get(), H5T_VARIABLE), path_);
    TMDFLOW_H5(H5Tset_cset(t.get(), H5T_CSET_UTF8), path_);
    for (const auto& entry : pending) {
      // Plain references, not a structured binding: clang (C++17) cannot capture one in TMDFLOW_H5's lambda.
      const std::string& dataset = entry.first;
      const std::string& value = entry.second;
      Handle d(TMDFLOW_H5(H5Dopen2(f.get(), dataset.c_str(), H5P_DEFAULT), path_ + ":" + dataset), H5Dclose);
      const char* p = value.c_str();
      TMDFLOW_H5(H5Dwrite(d.get(), t.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, &p), path_ + ":" + dataset);
    }
    TMDFLOW_H5(H5Fclose(f.release()), path_);
  }
  // The others wait while rank 0 writes: without holding their cores (par::wait).
  MPI_Request r;
  MPI_Ibarrier(comm_, &r);
  par::wait(r);
}

File& File::operator=(File&& o) noexcept {
  if (this != &o) {
    this->~File();
    new (this) File(std::move(o));
  }
  return *this;
}

File::~File() {
  if (!h_.valid()) return;
  pending_strings().erase(path_);
  // Objects still open keep an MPI-IO file from closing: close them first (error path only).
  ssize_t n = H5Fget_obj_count(h_.get(), H5F_OBJ_DATASET | H5F_OBJ_GROUP | H5F_OBJ_DATATYPE | H5F_OBJ_ATTR | H5F_OBJ_LOCAL);
  if (n > 0) {
    std::vector<hid_t> ids(static_cast<std::size_t>(n));
    H5Fget_obj_ids(h_.get(), H5F_OBJ_DATASET | H5F_OBJ_GROUP | H5F_OBJ_DATATYPE | H5F_OBJ_ATTR | H5F_OBJ_LOCAL, size_t(n), ids.data());
    for (hid_t i : ids) {
      while (H5Iis_valid(i) > 0 && H5Iget_ref(i) > 0) {
        if (H5Idec_ref(i) < 0) break;
      }
    }
  }
  H5Fclose(h_.release());
  H5Eclear2(H5E_DEFAULT);
}

}  // namespace tmdflow::io::h5

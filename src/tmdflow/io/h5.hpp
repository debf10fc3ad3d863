#pragma once
// The HDF5 backend: RAII handles, one checked-call macro, (parallel) files, groups, datasets and
// attributes, collective hyperslab I/O. Only io/ includes hdf5.h; stages never do.
#include <hdf5.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tmdflow/core/error.hpp"
#include "tmdflow/io/dtype.hpp"

namespace tmdflow::par {
class Comm;
}

namespace tmdflow::io::h5 {

using Shape = std::vector<std::int64_t>;

/// Throws IoError("CONTEXT: CALL failed: <HDF5's innermost message>") when an HDF5 call fails.
[[noreturn]] void throw_h5_error(const char* call, const std::string& context);

#define TMDFLOW_H5(call, context)                                                           \
  ([&]() {                                                                                \
    auto _tmdflow_h5_result = (call);                                                       \
    if (_tmdflow_h5_result < 0) ::tmdflow::io::h5::throw_h5_error(#call, (context));        \
    return _tmdflow_h5_result;                                                            \
  }())

/// Turns off HDF5's automatic error printing (tmdflow reports errors itself). Idempotent.
void silence_hdf5_errors();

/// Move-only owner of an hid_t with its close function.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer close) : id_(id), close_(close) {}
  ~Handle() { reset(); }
  Handle(Handle&& o) noexcept : id_(std::exchange(o.id_, H5I_INVALID_HID)), close_(o.close_) {}
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = std::exchange(o.id_, H5I_INVALID_HID);
      close_ = o.close_;
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  void reset() {
    if (id_ >= 0 && close_) close_(id_);
    id_ = H5I_INVALID_HID;
  }
  /// Gives up ownership without closing.
  hid_t release() { return std::exchange(id_, H5I_INVALID_HID); }

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer close_ = nullptr;
};

/// The HDF5 native memory type of a Dtype.
hid_t native_type(Dtype d);
/// Classifies an HDF5 datatype (integer or float of any byte order); throws for others.
Dtype dtype_of_h5(hid_t type, const std::string& context);
/// Handle to an enum type compatible with h5py's bool (int8, FALSE=0, TRUE=1).
Handle bool_type();

enum class Xfer { collective, independent };

class Group;
class Dataset;

/// Which object of which open file: hard links to one object (a cycle, if one links back to an
/// ancestor) share it. Tree walks keep the ids they have seen to visit each group once.
struct ObjectId {
  unsigned long file = 0;
  std::uint64_t address = 0;
  bool operator<(const ObjectId& o) const { return file != o.file ? file < o.file : address < o.address; }
};

/// Base of groups and datasets: path, file name and attributes.
class Object {
 public:
  hid_t id() const { return h_.get(); }
  const std::string& path() const { return path_; }
  const std::string& file_name() const { return file_; }
  /// "FILE:PATH" for messages.
  std::string where() const { return file_ + ":" + path_; }
  ObjectId object_id() const;

  bool has_attr(const std::string& name) const;
  std::vector<std::string> attr_names() const;
  // Writing attributes is collective in a parallel file: every rank calls with the same value.
  void set_attr(const std::string& name, const std::string& value) const;  // VL UTF-8 scalar
  void set_attr(const std::string& name, const char* value) const { set_attr(name, std::string(value)); }
  void set_attr(const std::string& name, std::int64_t value) const;
  void set_attr(const std::string& name, int value) const { set_attr(name, std::int64_t(value)); }
  void set_attr(const std::string& name, double value) const;
  void set_attr(const std::string& name, const std::vector<double>& value) const;
  /// Reads a string attribute (fixed or variable length); nullopt when absent or not a string.
  std::optional<std::string> attr_string(const std::string& name) const;
  std::optional<std::int64_t> attr_int(const std::string& name) const;
  std::optional<double> attr_double(const std::string& name) const;
  std::optional<std::vector<double>> attr_doubles(const std::string& name) const;
  void delete_attr(const std::string& name) const;

 protected:
  Object() = default;
  Object(Handle h, std::string path, std::string file, int io_rank)
      : h_(std::move(h)), path_(std::move(path)), file_(std::move(file)), io_rank_(io_rank) {}
  Handle h_;
  std::string path_;
  std::string file_;
  int io_rank_ = -1;  // rank in the file's communicator; -1 for a serial file

 public:
  bool parallel() const { return io_rank_ >= 0; }
  /// Rank 0 of the file's communicator (or a serial file): the rank that writes shared values.
  bool io_root() const { return io_rank_ <= 0; }
};

class Dataset : public Object {
 public:
  Dataset() = default;
  Shape shape() const;
  int rank() const { return int(shape().size()); }
  /// Element type in the file (byte order aside).
  Dtype dtype() const;
  /// True when the stored type is a string (fixed or variable length).
  bool is_string() const;
  /// Chunk shape, empty when not chunked.
  Shape chunks() const;
  bool is_filtered() const;
  /// File byte offset of the data of a contiguous, unfiltered, allocated dataset (else nullopt).
  std::optional<std::uint64_t> contiguous_offset() const;
  /// True if the stored type equals the native little-endian type of its Dtype (raw bytes usable as is).
  bool stored_as_native() const;

  /// Reads/writes the hyperslab [offset, offset+count) converting to/from T. A rank with nothing
  /// to do passes a count with a zero (it still takes part in a collective transfer).
  template <class T>
  void read(const Shape& offset, const Shape& count, T* out, Xfer x = Xfer::collective) const {
    read_raw(offset, count, native_type(dtype_of<T>()), out, x);
  }
  template <class T>
  void write(const Shape& offset, const Shape& count, const T* in, Xfer x = Xfer::collective) const {
    write_raw(offset, count, native_type(dtype_of<T>()), in, x);
  }
  void read_raw(const Shape& offset, const Shape& count, hid_t mem_type, void* out, Xfer x) const;
  void write_raw(const Shape& offset, const Shape& count, hid_t mem_type, const void* in, Xfer x) const;

  /// Reads the stored bytes of the chunk whose first element is `chunk_offset` into `out`, which
  /// must hold a whole chunk (H5Dread_chunk: no selection, type conversion or filters, so the bytes
  /// are the data only for an unfiltered dataset stored as native). Independent I/O in a parallel
  /// file. Returns false, reading nothing, when the chunk was never written (it has no storage; a
  /// hyperslab read gives its fill value).
  bool read_chunk_raw(const Shape& chunk_offset, void* out) const;

  /// Writes the whole dataset from values every rank holds: rank 0 writes, the others take part
  /// in the collective with an empty selection.
  template <class T>
  void write_whole(const T* in) const {
    write_whole_raw(native_type(dtype_of<T>()), in);
  }
  void write_whole_raw(hid_t mem_type, const void* in) const;

  /// Whole (small) dataset, converted to T; every rank reads it independently.
  template <class T>
  std::vector<T> read_all() const {
    Shape s = shape();
    std::int64_t n = 1;
    for (auto e : s) n *= e;
    std::vector<T> v(static_cast<std::size_t>(n));
    read_raw(Shape(s.size(), 0), s, native_type(dtype_of<T>()), v.data(), Xfer::independent);
    return v;
  }
  /// At most the first `n` values of a scalar or 1-D dataset, converted to T (none when it is
  /// empty): for metadata whose size the file declares (a dims axis, a calibration value), so a
  /// file that declares 2^40 values costs no more than one that declares two. InputError naming
  /// the dataset when it has more dimensions.
  template <class T>
  std::vector<T> read_head(std::size_t n) const {
    const Shape s = shape();
    if (s.size() > 1)
      throw InputError(where() + ": expected a scalar or a 1-D dataset, found " + std::to_string(s.size()) + " dimensions");
    const std::int64_t count = s.empty() ? (element_count() > 0 ? 1 : 0) : std::min<std::int64_t>(std::int64_t(n), s[0]);
    std::vector<T> v(static_cast<std::size_t>(std::max<std::int64_t>(count, 0)));
    if (!v.empty()) read_raw(Shape(s.size(), 0), s.empty() ? s : Shape{count}, native_type(dtype_of<T>()), v.data(), Xfer::independent);
    return v;
  }
  /// Number of elements (0 for an empty or null dataspace, 1 for a scalar).
  std::int64_t element_count() const;
  /// Scalar or 1-element string dataset.
  std::string read_string() const;
  /// Every element of a 1-D string dataset (fixed or variable length); rank-local.
  std::vector<std::string> read_strings() const;

 private:
  friend class Group;
  Dataset(Handle h, std::string path, std::string file, int io_rank)
      : Object(std::move(h), std::move(path), std::move(file), io_rank) {}
};

enum class LinkKind { group, dataset, other, missing };

class Group : public Object {
 public:
  Group() = default;
  Group create_group(const std::string& name) const;
  Group open_group(const std::string& name) const;
  /// Opens the group, creating it (and parents) when missing.
  Group require_group(const std::string& name) const;
  Dataset open_dataset(const std::string& name) const;
  /// Chunked when `chunks` is given (same rank as shape).
  Dataset create_dataset(const std::string& name, Dtype dtype, const Shape& shape, const Shape& chunks = {}) const;
  /// Small datasets written in full by rank 0's values (collective: every rank calls).
  template <class T>
  Dataset write_array(const std::string& name, const std::vector<T>& data, const Shape& shape) const {
    Dataset d = create_dataset(name, dtype_of<T>(), shape);
    d.write_whole(data.data());
    return d;
  }
  template <class T>
  Dataset write_vector(const std::string& name, const std::vector<T>& data) const {
    return write_array(name, data, Shape{std::int64_t(data.size())});
  }
  Dataset write_scalar(const std::string& name, double value) const;
  Dataset write_scalar_int(const std::string& name, std::int64_t value) const;
  Dataset write_scalar_bool(const std::string& name, bool value) const;
  Dataset write_scalar_string(const std::string& name, const std::string& value) const;
  /// A 1-D dataset of fixed-length UTF-8 strings (fixed length: written collectively like
  /// numbers, unlike variable-length ones); every rank passes the same values.
  Dataset write_strings(const std::string& name, const std::vector<std::string>& values) const;

  /// Kind of the object at relative path `name` (following links); `missing` when absent.
  LinkKind kind(const std::string& name) const;
  bool exists(const std::string& name) const { return kind(name) != LinkKind::missing; }
  /// Names of the direct children, in creation or name order.
  std::vector<std::string> children() const;
  void unlink(const std::string& name) const;
  void move(const std::string& from, const std::string& to) const;

 private:
  friend class File;
  Group(Handle h, std::string path, std::string file, int io_rank)
      : Object(std::move(h), std::move(path), std::move(file), io_rank) {}
  std::string child_path(const std::string& name) const;
};

enum class Mode { read, readwrite };

/// A group holding string datasets not yet written (see File::close) was moved from `from` to `to`.
void move_pending_strings(const std::string& file, const std::string& from, const std::string& to);

class File {
 public:
  /// Parallel (MPI-IO) when comm is given, else the default serial driver. Collective on comm.
  static File create(const std::string& path, const par::Comm* comm);
  static File open(const std::string& path, Mode mode, const par::Comm* comm);
  /// True if `path` is an HDF5 file (no exception).
  static bool is_hdf5(const std::string& path);

  File() = default;
  /// Closes what is still open in this file (unwinding after an error) and the file.
  ~File();
  File(File&&) noexcept = default;
  File& operator=(File&&) noexcept;
  Group root() const;
  Group group(const std::string& path) const { return root().open_group(path); }
  const std::string& path() const { return path_; }
  bool parallel() const { return parallel_; }
  void flush() const;
  /// Closes the file now (collective for a parallel file). Every Group and Dataset of the file
  /// must be gone: an object left open is a bug reported as an error.
  void close();

 private:
  Handle h_;
  std::string path_;
  bool parallel_ = false;
  int io_rank_ = -1;
  MPI_Comm comm_ = MPI_COMM_NULL;
};

}  // namespace tmdflow::io::h5

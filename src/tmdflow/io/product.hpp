#pragma once
// Product groups: every stage writes one group carrying tmdflow_product (schema name/version),
// tmdflow_stage, tmdflow_config_hash and tmdflow_complete. Products are written under a
// temporary name and made visible only when complete (see ProductWriter).
#include <memory>
#include <optional>
#include <string>

#include "tmdflow/io/h5.hpp"

namespace tmdflow::par {
class Comm;
}

namespace tmdflow::io {

struct ProductInfo {
  std::string schema;       // "datacube/1"
  std::string stage;        // "ingest"
  std::string config_hash;  // 16 hex digits
  bool complete = false;
  /// The command that made it ("tmdflow stage NAME --output ... --OPTION VALUE ..."), recorded as
  /// tmdflow_command so that a model's manifest can say how its data were made; "" when unknown.
  std::string command;
};

void write_product_attrs(const h5::Group& g, const ProductInfo& info);
/// nullopt when the group carries no tmdflow_product attribute.
std::optional<ProductInfo> read_product_attrs(const h5::Group& g);

/// "FILE.h5:/group" or "FILE.h5" (group = default_group).
struct Target {
  std::string file;
  std::string group;  // absolute, "/name" or "/a/b"
  std::string str() const { return file + ":" + group; }
};
Target parse_target(const std::string& spec, const std::string& default_group);

/// The state of a product in a file, read without opening it for writing (rank-local).
/// Returns nullopt when the file or group does not exist or is not a tmdflow product.
std::optional<ProductInfo> probe_product(const Target& t);

/// Files opened by this process, shared so that a stage can read its input from the file it
/// writes its product into (HDF5 forbids opening one file twice with different modes).
class FileRegistry {
 public:
  /// Opens (or returns the already open) file; a file already open read-only cannot be reopened
  /// for writing while in use. Collective on comm.
  static std::shared_ptr<h5::File> open(const std::string& path, h5::Mode mode, const par::Comm* comm);
  /// Forgets files no longer in use (called after each stage).
  static void prune();
};

/// Writes a product group atomically (collective on comm):
///  * into a new file: the whole file is written as FILE.tmp-XXXX and renamed on commit();
///  * into an existing file: the group is written as ".tmdflow_tmp_NAME" and moved to NAME (replacing
///    an older product) on commit().
/// Without commit() (an exception), the temporary file or group is removed. A crash leaves at most
/// a temporary file or a hidden temporary group, never a group that looks complete.
class ProductWriter {
 public:
  ProductWriter(const par::Comm& comm, Target target, ProductInfo info);
  ~ProductWriter();
  ProductWriter(const ProductWriter&) = delete;
  ProductWriter& operator=(const ProductWriter&) = delete;

  /// The product group (under its temporary name until commit).
  const h5::Group& group() const { return group_; }
  const h5::File& file() const { return *file_; }
  std::shared_ptr<h5::File> file_handle() const { return file_; }
  const Target& target() const { return target_; }
  /// Marks complete, makes the product visible; collective.
  void commit();

 private:
  void discard() noexcept;
  /// Forgets the temporary file (removing it when asked) and its lock.
  void forget_temporary(bool remove_file) noexcept;

  const par::Comm& comm_;
  Target target_;
  ProductInfo info_;
  bool new_file_ = false;
  std::string temp_path_;   // new file: the temporary file name
  std::string temp_group_;  // existing file: the temporary group path
  std::shared_ptr<h5::File> file_;
  h5::Group group_;
  bool committed_ = false;
  int unlink_ids_[2] = {-1, -1};  // emergency unlinks of the temporary file and its lock
};

}  // namespace tmdflow::io

#include "tmdflow/io/product.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>

#include "tmdflow/core/log.hpp"
#include "tmdflow/core/strings.hpp"
#include "tmdflow/io/emd.hpp"
#include "tmdflow/io/temporary.hpp"
#include "tmdflow/par/comm.hpp"
#include "tmdflow/par/failure.hpp"
#include "tmdflow/par/interrupt.hpp"
#include "tmdflow/par/runtime.hpp"

namespace fs = std::filesystem;

namespace tmdflow::io {

void write_product_attrs(const h5::Group& g, const ProductInfo& info) {
  g.set_attr("tmdflow_product", info.schema);
  g.set_attr("tmdflow_stage", info.stage);
  g.set_attr("tmdflow_config_hash", info.config_hash);
  g.set_attr("tmdflow_complete", std::int64_t(info.complete ? 1 : 0));
  if (!info.command.empty()) g.set_attr("tmdflow_command", info.command);
}

std::optional<ProductInfo> read_product_attrs(const h5::Group& g) {
  auto schema = g.attr_string("tmdflow_product");
  if (!schema) return std::nullopt;
  ProductInfo p;
  p.schema = *schema;
  p.stage = g.attr_string("tmdflow_stage").value_or("");
  p.config_hash = g.attr_string("tmdflow_config_hash").value_or("");
  p.complete = g.attr_int("tmdflow_complete").value_or(0) == 1;
  p.command = g.attr_string("tmdflow_command").value_or("");
  return p;
}

Target parse_target(const std::string& spec, const std::string& default_group) {
  Target t;
  // Split at the last ':' that is followed by '/' (FILE:/group); a plain path has none.
  auto pos = spec.rfind(":/");
  if (pos != std::string::npos && pos > 0) {
    t.file = spec.substr(0, pos);
    t.group = spec.substr(pos + 1);
  } else {
    t.file = spec;
    t.group = default_group;
  }
  if (t.group.empty() || t.group[0] != '/') t.group = "/" + t.group;
  while (t.group.size() > 1 && t.group.back() == '/') t.group.pop_back();
  if (t.file.empty()) throw UsageError("'" + spec + "': expected FILE.h5 or FILE.h5:/group, found no file name");
  // "x.h5:" or "x.h5:group": a group was meant (a file name ending in ':' would be a typo).
  if (const auto colon = t.file.rfind(':'); colon != std::string::npos && pos == std::string::npos) {
    const std::string stem = t.file.substr(0, colon);
    const bool hdf5_name = str::ends_with(stem, ".h5") || str::ends_with(stem, ".hdf5") || str::ends_with(stem, ".emd") ||
                           str::ends_with(stem, ".hdf");
    if (colon + 1 == t.file.size() || hdf5_name)
      throw UsageError("'" + spec + "': expected FILE.h5 or FILE.h5:/group (a group path starts with '/')");
  }
  // Inputs pass "/" as their default (the whole file); an output product needs its own group.
  if (t.group == "/" && default_group != "/") throw UsageError("'" + spec + "': a product needs a group name, found '/'");
  return t;
}

std::optional<ProductInfo> probe_product(const Target& t) {
  if (!fs::exists(t.file) || !h5::File::is_hdf5(t.file)) return std::nullopt;
  try {
    auto f = FileRegistry::open(t.file, h5::Mode::read, nullptr);
    h5::Group root = f->root();
    if (root.kind(t.group) != h5::LinkKind::group) return std::nullopt;
    return read_product_attrs(root.open_group(t.group));
  } catch (const Error&) {
    return std::nullopt;
  }
}

// ---- FileRegistry --------------------------------------------------------------------------

namespace {
struct OpenFile {
  std::weak_ptr<h5::File> file;
  h5::Mode mode;
  bool parallel;
};
std::map<std::string, OpenFile>& registry() {
  static std::map<std::string, OpenFile> r;
  return r;
}
std::string canonical_key(const std::string& path) {
  std::error_code ec;
  auto c = fs::weakly_canonical(path, ec);
  return ec ? path : c.string();
}
}  // namespace

std::shared_ptr<h5::File> FileRegistry::open(const std::string& path, h5::Mode mode, const par::Comm* comm) {
  const std::string key = canonical_key(path);
  auto& reg = registry();
  auto it = reg.find(key);
  if (it != reg.end()) {
    if (auto f = it->second.file.lock()) {
      if (mode == h5::Mode::read || it->second.mode == h5::Mode::readwrite) return f;
      throw Error(path + ": already open read-only in this process; cannot reopen it for writing (a tmdflow bug)",
                  ExitCode::failure);
    }
    reg.erase(it);
  }
  if (!fs::exists(path)) throw IoError(path + ": no such file");
  auto f = std::make_shared<h5::File>(h5::File::open(path, mode, comm));
  reg[key] = {f, mode, comm != nullptr};
  return f;
}

void FileRegistry::prune() {
  auto& reg = registry();
  for (auto it = reg.begin(); it != reg.end();) {
    if (it->second.file.expired()) it = reg.erase(it);
    else ++it;
  }
}

// ---- ProductWriter -------------------------------------------------------------------------

static std::string parent_of(const std::string& group) {
  auto p = group.rfind('/');
  return p == 0 ? "/" : group.substr(0, p);
}
static std::string leaf_of(const std::string& group) { return group.substr(group.rfind('/') + 1); }

ProductWriter::ProductWriter(const par::Comm& comm, Target target, ProductInfo info)
    : comm_(comm), target_(std::move(target)), info_(std::move(info)) {
  info_.complete = false;
  // Rank 0 decides (file exists? temporary name) and tells everyone.
  std::string decision;
  if (comm_.is_root()) {
    try {
      const bool exists = fs::exists(target_.file);
      if (!exists) {
        fs::path dir = fs::path(target_.file).parent_path();
        std::error_code ec;
        if (!dir.empty()) fs::create_directories(dir, ec);
        if (ec) throw IoError(target_.file + ": cannot create directory " + dir.string() + ": " + ec.message());
      }
      // Temporary files of earlier runs that were killed (kill -9, a lost node).
      for (const auto& note : remove_stale_temporaries(target_.file)) {
        if (note.rfind("removed", 0) == 0) log::info(note);
        else log::warn(note);
      }
      if (exists && !h5::File::is_hdf5(target_.file)) {
        decision = "E" + target_.file + ": exists and is not an HDF5 file; refusing to overwrite it";
      } else if (exists) {
        decision = "X";
      } else {
        const std::string temp = temporary_name(target_.file);
        write_lock(temp);
        decision = "N" + temp;
      }
    } catch (const std::exception& e) {
      decision = std::string("E") + e.what();
    }
  }
  decision = comm_.bcast_string(decision, 0);
  if (decision[0] == 'E') throw IoError(decision.substr(1));
  new_file_ = decision[0] == 'N';
  const par::Comm* pcomm = &comm_;
  if (new_file_) {
    temp_path_ = decision.substr(1);
    // Whichever rank has to end hard removes the partial file and its lock.
    unlink_ids_[0] = par::add_emergency_unlink(temp_path_);
    unlink_ids_[1] = par::add_emergency_unlink(lock_name(temp_path_));
    try {
      file_ = std::make_shared<h5::File>(h5::File::create(temp_path_, pcomm));
    } catch (...) {
      forget_temporary(true);
      throw;
    }
    emd::init_file(*file_);
    h5::Group parent = file_->root().require_group(parent_of(target_.group));
    group_ = parent.create_group(leaf_of(target_.group));
  } else {
    file_ = FileRegistry::open(target_.file, h5::Mode::readwrite, pcomm);
    emd::init_file(*file_);
    h5::Group parent = file_->root().require_group(parent_of(target_.group));
    const std::string temp_leaf = ".tmdflow_tmp_" + leaf_of(target_.group);
    if (parent.exists(temp_leaf)) {
      parent.unlink(temp_leaf);
      log::info(target_.file, ": removed the unfinished group ", temp_leaf, " left by an interrupted run");
    }
    const std::string parent_path = parent_of(target_.group);
    temp_group_ = (parent_path == "/" ? "" : parent_path) + "/" + temp_leaf;
    group_ = parent.create_group(temp_leaf);
  }
  write_product_attrs(group_, info_);
}

void ProductWriter::commit() {
  if (committed_) return;
  info_.complete = true;
  write_product_attrs(group_, info_);
  group_ = h5::Group();
  if (new_file_) {
    file_->close();
    file_.reset();
    // Every rank has closed the file before rank 0 renames it.
    std::string err;
    comm_.barrier();
    if (comm_.is_root()) {
      if (std::rename(temp_path_.c_str(), target_.file.c_str()) != 0)
        err = target_.file + ": cannot rename " + temp_path_ + ": " + std::strerror(errno);
    }
    err = comm_.bcast_string(err, 0);
    if (!err.empty()) throw IoError(err);
    forget_temporary(false);
  } else {
    {
      h5::Group parent = file_->root().open_group(parent_of(target_.group));
      const std::string leaf = leaf_of(target_.group);
      if (parent.exists(leaf)) parent.unlink(leaf);
      parent.move(leaf_of(temp_group_), leaf);
    }
    h5::move_pending_strings(file_->path(), temp_group_, target_.group);
    // Closing writes the held-back metadata, then the string datasets (File::close); a later
    // stage reopens the file.
    file_->close();
    file_.reset();
  }
  committed_ = true;
}

void ProductWriter::discard() noexcept {
  try {
    group_ = h5::Group();
    if (new_file_) {
      file_.reset();  // closes (collectively: every rank unwinds through here)
      forget_temporary(true);
    } else if (file_) {
      h5::Group parent = file_->root().open_group(parent_of(temp_group_));
      if (parent.exists(leaf_of(temp_group_))) parent.unlink(leaf_of(temp_group_));
      file_->flush();
    }
  } catch (...) {
  }
}

void ProductWriter::forget_temporary(bool remove_file) noexcept {
  if (comm_.is_root()) {
    if (remove_file) std::remove(temp_path_.c_str());
    std::remove(lock_name(temp_path_).c_str());
  }
  for (int& id : unlink_ids_) {
    par::remove_emergency_unlink(id);
    id = -1;
  }
}

ProductWriter::~ProductWriter() {
  if (!committed_) discard();
}

}  // namespace tmdflow::io

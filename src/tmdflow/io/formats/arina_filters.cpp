#include "tmdflow/io/formats/arina_filters.hpp"

#include <H5PLpublic.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>

#include "tmdflow/core/strings.hpp"

// Set for this file by src/tmdflow/CMakeLists.txt from cmake/TmdflowDependencies.cmake.
#ifndef TMDFLOW_HDF5_PLUGIN_DIR
#define TMDFLOW_HDF5_PLUGIN_DIR ""
#endif

namespace tmdflow::io {
namespace {

struct KnownFilter {
  unsigned id;
  const char* name;
  const char* plugin;   // the library that decodes it
  const char* package;  // Debian 12 package with that plugin for the Open MPI HDF5 (null: none)
};

// The filters detector software writes (ids registered with The HDF Group).
constexpr KnownFilter kKnownFilters[] = {
    {32008, "bitshuffle/LZ4", "libh5bshuf.so", "bitshuffle"},
    {32000, "LZF", "libh5LZF.so", "bitshuffle"},
    {32004, "LZ4", "libh5lz4.so", nullptr},
    {307, "bzip2", "libh5bz2.so", nullptr},
    {32001, "Blosc", nullptr, nullptr},
    {32015, "Zstandard", nullptr, nullptr},
};

const KnownFilter* known_filter(unsigned id) {
  for (const auto& f : kKnownFilters)
    if (f.id == id) return &f;
  return nullptr;
}

// What to do about a filter that will not load, as the end of the one-line message.
std::string remedy(unsigned id, const char* env_path) {
  const std::string dir = TMDFLOW_HDF5_PLUGIN_DIR;
  if (id <= 6)  // deflate, shuffle, fletcher32, szip, nbit, scaleoffset: built into HDF5 or not at all
    return "tmdflow's HDF5 library was built without it";
  const KnownFilter* k = known_filter(id);
  if (k && k->package) {
    std::string s = std::string("install the Debian package '") + k->package + "' (it puts " + k->plugin + " in " +
                    (dir.empty() ? "the HDF5 plugin directory" : dir) + ")";
    if (env_path) s += std::string(", or add that directory to HDF5_PLUGIN_PATH or unset it");
    return s;
  }
  if (k && k->plugin)
    return std::string("Debian 12 ships ") + k->plugin +
           " for serial HDF5 only (package hdf5-filter-plugin), not for tmdflow's Open MPI HDF5: recompress the file "
           "with h5repack (package hdf5-tools), e.g. h5repack -f SHUF -f GZIP=4 IN OUT";
  return "no Debian 12 package known to tmdflow provides it: recompress the file with the software that wrote it";
}

}  // namespace

std::vector<std::string> filter_plugin_dirs() {
  h5::silence_hdf5_errors();
  std::vector<std::string> dirs;
  unsigned n = 0;
  if (H5PLsize(&n) < 0) {
    H5Eclear2(H5E_DEFAULT);
    return dirs;
  }
  for (unsigned i = 0; i < n; ++i) {
    const ssize_t len = H5PLget(i, nullptr, 0);
    if (len < 0) {
      H5Eclear2(H5E_DEFAULT);
      continue;
    }
    std::string d(std::size_t(len) + 1, '\0');
    H5PLget(i, d.data(), d.size());
    d.resize(std::size_t(len));
    dirs.push_back(d);
  }
  return dirs;
}

void add_filter_plugin_dir() {
  static std::once_flag once;
  std::call_once(once, [] {
    const std::string dir = TMDFLOW_HDF5_PLUGIN_DIR;
    if (dir.empty() || std::getenv("HDF5_PLUGIN_PATH")) return;
    const auto dirs = filter_plugin_dirs();
    // Debian's HDF5 searches this directory by default; an HDF5 built elsewhere does not.
    if (std::find(dirs.begin(), dirs.end(), dir) != dirs.end()) return;
    if (H5PLappend(dir.c_str()) < 0) H5Eclear2(H5E_DEFAULT);
  });
}

std::string missing_filter_message(const std::string& file, const std::string& dataset, unsigned filter_id,
                                   const std::string& stored_name, const std::vector<std::string>& search_dirs,
                                   const char* env_path) {
  const KnownFilter* k = known_filter(filter_id);
  // A stored name can be long ("bitshuffle; see https://..."): its first clause names the filter.
  std::string name = k ? k->name : str::trim(stored_name.substr(0, stored_name.find(';')));
  if (name.size() > 40) name = name.substr(0, 40) + "...";
  std::string where = search_dirs.empty() ? "no plugin directory" : str::join(search_dirs, ":");
  if (env_path) where = "HDF5_PLUGIN_PATH=" + std::string(env_path) + (search_dirs.empty() ? " (no directory)" : "");
  return file + ":" + dataset + ": compression filter " + std::to_string(filter_id) + " (" +
         (name.empty() ? "unnamed" : name) + "): expected an HDF5 plugin that decodes it, found none in " + where + "; " +
         remedy(filter_id, env_path);
}

void require_filters(const h5::Dataset& dataset) {
  add_filter_plugin_dir();
  h5::Handle dcpl(TMDFLOW_H5(H5Dget_create_plist(dataset.id()), dataset.where()), H5Pclose);
  const int n = TMDFLOW_H5(H5Pget_nfilters(dcpl.get()), dataset.where());
  for (int i = 0; i < n; ++i) {
    unsigned flags = 0, config = 0;
    std::size_t values = 0;
    char stored_name[256] = {};
    const H5Z_filter_t id =
        H5Pget_filter2(dcpl.get(), unsigned(i), &flags, &values, nullptr, sizeof stored_name, stored_name, &config);
    if (id < 0) h5::throw_h5_error("H5Pget_filter2", dataset.where());
    // H5Zfilter_avail loads the plugin when the filter is not registered yet.
    const htri_t available = H5Zfilter_avail(id);
    unsigned info = 0;
    if (available > 0 && H5Zget_filter_info(id, &info) >= 0 && (info & H5Z_FILTER_CONFIG_DECODE_ENABLED)) continue;
    H5Eclear2(H5E_DEFAULT);
    throw IoError(missing_filter_message(dataset.file_name(), dataset.path(), unsigned(id), stored_name,
                                         filter_plugin_dirs(), std::getenv("HDF5_PLUGIN_PATH")));
  }
}

}  // namespace tmdflow::io

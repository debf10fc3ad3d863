#pragma once
// HDF5 compression filters of detector files (DECTRIS writes bitshuffle/LZ4, filter 32008). HDF5
// decodes them with plugins: shared libraries it loads from its plugin search path. The plugin must
// be built for the HDF5 that tmdflow links (Debian: package bitshuffle puts libh5bshuf.so in
// /usr/lib/<arch>/hdf5/openmpi/plugins). A filter that cannot be loaded is reported before any
// work, in one line naming the file, the dataset, the filter and the Debian package to install.
#include <string>
#include <vector>

#include "tmdflow/io/h5.hpp"

namespace tmdflow::io {

/// Lets HDF5 find the plugins built for tmdflow's HDF5 without HDF5_PLUGIN_PATH: the plugin
/// directory recorded at configure time (TMDFLOW_HDF5_PLUGIN_DIR) is appended to HDF5's search
/// path when it is not already there. A user-set HDF5_PLUGIN_PATH (even empty) is left as the
/// whole search path: it is the user's choice, and it lets a test hide the plugins. Idempotent.
void add_filter_plugin_dir();

/// The directories HDF5 searches for filter plugins, in order.
std::vector<std::string> filter_plugin_dirs();

/// Throws IoError (see missing_filter_message) when a filter of `dataset` cannot decode here.
/// Checking loads the plugins, so a dataset that passes can be read.
void require_filters(const h5::Dataset& dataset);

/// "FILE:DATASET: compression filter ID (NAME): expected an HDF5 plugin that decodes it, found none
/// in DIRS; install the Debian package P ..." on one line. `stored_name` is the name the file
/// records (used when tmdflow does not know the filter); `env_path` is HDF5_PLUGIN_PATH or null.
std::string missing_filter_message(const std::string& file, const std::string& dataset, unsigned filter_id,
                                   const std::string& stored_name, const std::vector<std::string>& search_dirs,
                                   const char* env_path);

}  // namespace tmdflow::io

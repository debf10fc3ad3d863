#pragma once
// The files of a DECTRIS (Arina, Eiger) acquisition and how they refer to each other:
//   BASE_master.h5          NeXus NXmx master: /entry/instrument/detector (metadata, pixel_mask,
//                           flatfield) and /entry/data/data_000001, data_000002, ... links to
//   BASE_data_NNNNNN.h5     the frames: /entry/data/data (frames, rows, columns), attributes
//                           image_nr_low/high (1-based numbers of its first and last frame);
//   BASE.h5                 (newer scan systems) group "STEM Metadata": the scan shape
//                           (NumPixelsX columns, NumPixelsY rows) and the scan calibration.
// The master's links are external links with names relative to the master's folder.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tmdflow/io/h5.hpp"

namespace tmdflow::io {

enum class DectrisRole { none, master, data, scan_metadata };

/// What `path` is in a DECTRIS acquisition: by name (BASE_master.h5, BASE_data_NNNNNN.h5), else by
/// content (an NXmx master, a data file, a "STEM Metadata" file); `none` for any other file.
/// Never throws.
DectrisRole dectris_role(const std::string& path);

/// The master of the acquisition `path` belongs to (`path` itself for a master). InputError naming
/// `path` when it is a data or metadata file without its master beside it.
std::string dectris_master_of(const std::string& path, DectrisRole role);

/// BASE.h5 for BASE_master.h5 (empty for a master not named so).
std::string dectris_scan_metadata_path(const std::string& master);

/// One block of frames: a 3-D dataset (frames, rows, columns) the master links to.
struct DectrisDataLink {
  std::string link;     // in the master: /entry/data/data_000001
  std::string file;     // the file holding the dataset (the master itself for an internal link)
  std::string dataset;  // path in that file
};

/// The master's /entry/data/data_NNNNNN links in frame order, external ones resolved against the
/// master's folder. InputError naming the master and the link: none, a gap in the numbering, a
/// link to a file that is not there.
std::vector<DectrisDataLink> dectris_data_links(const h5::File& master);

/// The "STEM Metadata" of BASE.h5 (values absent when the file lacks them).
struct StemScanMetadata {
  std::string file;
  std::int64_t rows = 0;     // NumPixelsY
  std::int64_t columns = 0;  // NumPixelsX (the fast scan direction)
  std::int64_t prescan = 0;  // NumPixelsPrescan: positions before each row that the scan discards
  std::optional<double> pixel_size_nm;
  bool pixel_size_calibrated = false;
  std::optional<double> high_tension_V;
  std::optional<double> camera_length_m;
};
/// Reads `path` (nullopt when it has no "STEM Metadata" group); InputError naming the file and the
/// attribute when the scan shape is missing or not positive.
std::optional<StemScanMetadata> read_stem_scan_metadata(const std::string& path);

}  // namespace tmdflow::io

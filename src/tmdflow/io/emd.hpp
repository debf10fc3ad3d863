#pragma once
// The EMD 1.0 tree as py4DSTEM's emdfile writes it (see data_schema/emd.md and the fixture
// ../shared/data/4dstem/py4DSTEM_size2x3x4x5.h5):
//   file attrs: emd_group_type="file", version_major=1, version_minor=0, authoring_program, ...
//   root group (emd_group_type="root", python_class="Root")
//     array group (emd_group_type="array", python_class="DataCube"|"Array"|...)
//       data  + dim0..dimN (attrs name, units; a linear axis stored as [origin, origin+step])
//     metadatabundle (emd_group_type="metadatabundle")
//       calibration (emd_group_type="metadata", python_class="Calibration"): scalar datasets
#include <optional>
#include <string>
#include <vector>

#include "tmdflow/io/h5.hpp"

namespace tmdflow::io::emd {

/// A linear axis: value(i) = origin + i * step.
struct Dim {
  std::string name;
  std::string units;
  double origin = 0.0;
  double step = 1.0;
};

/// Writes the EMD 1.0 file attributes when the file has none yet (collective).
void init_file(const h5::File& file, const std::string& authoring_program = "tmdflow");
/// True if the file carries emd_group_type="file" and version_major=1.
bool is_emd1(const h5::File& file);

/// Creates an EMD root group `name` under the file root (collective).
h5::Group create_root(const h5::Group& parent, const std::string& name);

struct ArraySpec {
  std::string name;                       // group name of the array
  Dtype dtype = Dtype::f32;
  h5::Shape shape;
  std::vector<Dim> dims;                  // one per axis
  std::string python_class = "Array";     // DataCube, RealSlice, DiffractionSlice, Array, ...
  std::string units = "pixel intensity";  // of the values
  h5::Shape chunks;                       // empty: contiguous
};

/// Creates the array group, its `data` dataset (returned) and its dims (collective).
h5::Dataset create_array(const h5::Group& parent, const ArraySpec& spec);

/// Writes a whole small array (every rank passes the same values; collective).
template <class T>
h5::Dataset write_array(const h5::Group& parent, ArraySpec spec, const std::vector<T>& values) {
  spec.dtype = dtype_of<T>();
  spec.chunks.clear();
  h5::Dataset d = create_array(parent, spec);
  d.write_whole(values.data());
  return d;
}

/// Reads the dims of an array group (linear or sampled; sampled axes keep their first step).
std::vector<Dim> read_dims(const h5::Group& array_group, int rank);

/// py4DSTEM's calibration of a datacube (the entries of its Calibration metadata).
struct Calibration {
  double R_pixel_size = 1.0;
  std::string R_pixel_units = "pixels";
  double Q_pixel_size = 1.0;
  std::string Q_pixel_units = "pixels";
  bool QR_flip = false;
};

/// Writes root/metadatabundle/calibration exactly as emdfile does; `target` is the path of the
/// calibrated array relative to the root's parent (e.g. "/datacube").
void write_calibration(const h5::Group& root, const Calibration& cal, const std::string& target);
/// The same for a root holding several calibrated arrays (maps of one scan): py4DSTEM gives every
/// array of the root this calibration (Data.calibration is the root's).
void write_calibration(const h5::Group& root, const Calibration& cal, const std::vector<std::string>& targets);
std::optional<Calibration> read_calibration(const h5::Group& root);

/// A scalar metadata group (emd_group_type="metadata") of numbers and strings.
struct MetadataEntry {
  std::string key;
  std::optional<double> number;
  std::optional<std::string> text;
  std::optional<bool> flag;
};
void write_metadata(const h5::Group& bundle, const std::string& name, const std::vector<MetadataEntry>& entries,
                    const std::string& python_class = "Metadata");

/// An array found in a file.
struct ArrayInfo {
  std::string group_path;    // the array group
  std::string python_class;  // may be empty
  h5::Shape shape;
  Dtype dtype = Dtype::f32;
};
/// All EMD array groups (emd_group_type="array") in the file, depth first.
std::vector<ArrayInfo> list_arrays(const h5::File& file);

}  // namespace tmdflow::io::emd

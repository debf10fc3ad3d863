#pragma once
// What the stages that run a map network over the images of a stack share (detect-defects,
// segment-atoms): the model with its named classes, the stack's calibration, and the conditions
// check -- a model is used within the conditions it was trained for (its manifest's ranges, 10 %
// leeway; the pixel 25 %): the image's pixel size, and the microscope as given or as the stack
// records it.
#include <string>
#include <vector>

#include "stage.hpp"
#include "tmdflow/io/h5.hpp"
#include "tmdflow/io/image_stack.hpp"
#include "tmdflow/io/model_catalog.hpp"
#include "tmdflow/learn/map_inference.hpp"
#include "tmdflow/learn/model_file.hpp"

namespace tmdflow::stages {

/// --voltage-kV, --convergence-mrad, --adf-inner-mrad, --adf-outer-mrad (-1: the stack's record).
struct MicroscopeOptions {
  double voltage_kV = -1, convergence_mrad = -1, inner_mrad = -1, outer_mrad = -1;
  void declare(Options& o, const std::string& whose);
};

/// A map model whose manifest names one class per output channel (output.class_names).
struct NamedMapModel {
  io::ModelLocation location;
  learn::MapModelLayout layout;
  std::vector<std::string> class_names;
};
/// Resolves `model` (name or path; sha256 checked) and reads its classes; ConfigError naming
/// `trainset_stage` (what makes such a model) when the manifest does not name them.
NamedMapModel resolve_named_map_model(const std::string& model, const std::string& what, const std::string& trainset_stage);

/// The input stack (image_stack/1 and its layouts) with square, calibrated pixels.
struct CalibratedStack {
  io::ImageStackMeta meta;
  std::string where;
  std::string data_path;  // the frames within the product group
  double pixel_A = 0;
};
CalibratedStack open_calibrated_stack(const std::string& input, const std::string& what);

/// ConfigError when the stack's pixel or the microscope lies outside the model's training ranges.
void check_model_conditions(const std::string& input, const io::ModelManifest& m, double pixel_A, const MicroscopeOptions& given,
                            const std::string& train_workflow);

/// Mean and standard deviation of every image (a first image pass), when the model wants its
/// input normalised per sample; otherwise no pass and `normalise` false.
struct ImageNormalisation {
  bool normalise = false;
  learn::ImageStatistics stats;
  const learn::ImageStatistics* get() const { return normalise ? &stats : nullptr; }
};
void measure_normalisation(const par::Comm& comm, const io::h5::Dataset& images, const io::ModelManifest& m, const io::ImagePassOptions& options,
                           ImageNormalisation& out);

}  // namespace tmdflow::stages

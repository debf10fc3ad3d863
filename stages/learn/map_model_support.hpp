#pragma once
// What the stages that run a map network over the images of a stack share (detect-defects,
// segment-atoms): the model with its named classes, the stack's calibration, and the conditions
// check -- a model is used within the conditions it was trained for (its manifest's ranges, 10 %
// leeway; the pixel 25 %): the image's pixel size, and the microscope as given or as the stack
// records it.
#include <string>
#include <vector>

#include "stage.hpp"
#include "tmdflow/analysis/dynamics/peaks.hpp"
#include "tmdflow/io/h5.hpp"
#include "tmdflow/io/image_pass.hpp"
#include "tmdflow/io/plot.hpp"
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

/// A map network on each tile of an image pass and the peaks of its maps, kept where the tile owns
/// them and at least `edge_margin_px` from the image's edge (where cut columns look like defects):
/// what detect-defects and segment-atoms share. A subclass says which peaks (peaks()) and keeps
/// what it needs of each (keep()).
class MapPeakAnalysis : public io::TileAnalysis {
 public:
  MapPeakAnalysis(learn::Network& net, learn::MapModelLayout layout, double scale, std::int64_t halo, const learn::ImageStatistics* stats,
                  double edge_margin_px)
      : net_(net), layout_(layout), scale_(scale), halo_(halo), stats_(stats), edge_margin_px_(edge_margin_px) {}
  std::int64_t halo() const override { return halo_; }
  void process(const io::ImageTile& tile, const std::vector<io::TileMap>&) final;

 protected:
  /// A tile with its halo and the network's maps on its pixels (channels x th x tw).
  struct TileMaps {
    const io::ImageTile& tile;
    const std::vector<float>& maps;
    std::int64_t th, tw;
    const float* channel(std::int64_t c) const { return maps.data() + c * th * tw; }
  };
  virtual std::vector<analysis::dynamics::Peak> peaks(const TileMaps& t) = 0;
  /// A peak this tile owns, at image position (x, y) (x the column).
  virtual void keep(const TileMaps& t, const analysis::dynamics::Peak& p, double x, double y) = 0;
  const learn::MapModelLayout& layout() const { return layout_; }

 private:
  learn::Network& net_;
  learn::MapModelLayout layout_;
  double scale_;
  std::int64_t halo_;
  const learn::ImageStatistics* stats_;
  double edge_margin_px_;
};

/// The attributes of a table found in a stack by a model: the stack (source, frames, height, width,
/// pixel_size_A, frame_time_s), the acquisition values it records (dose, voltage, convergence,
/// detector angles) and the model (model_name, model_sha256).
void write_source_attributes(const io::h5::Group& g, const io::h5::Group& source, const std::string& where, const io::ImageStackMeta& meta,
                             double pixel_A, const learn::LoadedModel& model);

/// The first image of a stack (its top-left 1024 x 1024 pixels at most) as a figure panel without a
/// colour bar, for marks on top; `shown_height`, `shown_width` receive the size shown.
io::plot::Panel first_image_panel(const io::h5::Dataset& images, std::int64_t height, std::int64_t width, double pixel_A, const std::string& title,
                                  std::int64_t& shown_height, std::int64_t& shown_width);

}  // namespace tmdflow::stages

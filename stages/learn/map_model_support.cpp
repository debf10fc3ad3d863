#include "map_model_support.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>

#include "tmdflow/core/error.hpp"
#include "tmdflow/io/figure.hpp"
#include "tmdflow/io/plot_panels.hpp"
#include "tmdflow/io/product.hpp"

namespace tmdflow::stages {

void MicroscopeOptions::declare(Options& o, const std::string& whose) {
  o.add<double>("voltage-kV", &voltage_kV, -1, "accelerating voltage [kV] (-1: " + whose + ", when it records one)")
      .add<double>("convergence-mrad", &convergence_mrad, -1, "probe convergence semi-angle [mrad] (-1: " + whose + ")")
      .add<double>("adf-inner-mrad", &inner_mrad, -1, "ADF detector inner angle [mrad] (-1: " + whose + ")")
      .add<double>("adf-outer-mrad", &outer_mrad, -1, "ADF detector outer angle [mrad] (-1: " + whose + ")");
}

NamedMapModel resolve_named_map_model(const std::string& model, const std::string& what, const std::string& trainset_stage) {
  if (model.empty()) throw ConfigError("model: expected a model name or path (tmdflow models lists them)");
  NamedMapModel r;
  r.location = learn::resolve_model(model);  // sha256 checked here, before any work
  const auto& m = r.location.manifest;
  r.layout = learn::map_model_layout(m.family, m.params);
  const auto output = nlohmann::json::parse(m.output, nullptr, false);
  if (output.is_object() && output.contains("class_names") && output["class_names"].is_array())
    for (const auto& n : output["class_names"]) r.class_names.push_back(n.is_string() ? n.get<std::string>() : std::string());
  if (std::int64_t(r.class_names.size()) != r.layout.channels)
    throw ConfigError("model: " + m.name + ": expected " + what + " whose manifest names its " + std::to_string(r.layout.channels) +
                      " classes (output.class_names, from a " + trainset_stage + " trainset), found " + std::to_string(r.class_names.size()));
  return r;
}

CalibratedStack open_calibrated_stack(const std::string& input, const std::string& what) {
  const io::ImageStackReader reader = io::ImageStackReader::open(input);
  CalibratedStack s;
  s.meta = reader.meta();
  s.where = reader.where();
  s.data_path = reader.data_path();
  reader.require_calibrated(what);
  if (std::fabs(s.meta.pixel_size_y_A / s.meta.pixel_size_x_A - 1) > 0.02)
    throw InputError(input + ": expected square pixels, found " + std::to_string(s.meta.pixel_size_y_A) + " x " +
                     std::to_string(s.meta.pixel_size_x_A) + " A (give ingest --pixel-size-A)");
  s.pixel_A = s.meta.pixel_size_x_A;
  return s;
}

void check_model_conditions(const std::string& input, const io::ModelManifest& m, double pixel_A, const MicroscopeOptions& given,
                            const std::string& train_workflow) {
  const auto conditions = nlohmann::json::parse(m.conditions, nullptr, false);
  const io::Target in = io::parse_target(input, "/image_stack");
  const auto file = io::FileRegistry::open(in.file, io::h5::Mode::read, nullptr);
  const io::h5::Group g = file->group(in.group);
  auto check = [&](const char* key, const char* option, double value_given, const char* attr, double leeway) {
    if (!conditions.is_object() || !conditions.contains(key) || !conditions[key].is_array() || conditions[key].size() != 2) return;
    const double lo = conditions[key][0].get<double>(), hi = conditions[key][1].get<double>();
    const double value = value_given >= 0 ? value_given : attr ? g.attr_double(attr).value_or(-1) : -1;
    if (value < 0) return;  // unknown: the user's responsibility
    if (value < lo * (1 - leeway) || value > hi * (1 + leeway))
      throw ConfigError(std::string(option) + ": model " + m.name + " was trained for " + str::number(lo) + " to " + str::number(hi) + ", found " +
                        str::number(value) + (value_given >= 0 ? "" : std::string(" (the input's ") + attr + ")") + "; train a model for these conditions (" +
                        train_workflow + ")");
  };
  check("native_pixel_range_A", "pixel size", pixel_A, nullptr, 0.25);
  check("voltage_range_kV", "voltage-kV", given.voltage_kV, "voltage_kV", 0.1);
  check("convergence_range_mrad", "convergence-mrad", given.convergence_mrad, "convergence_mrad", 0.1);
  check("inner_range_mrad", "adf-inner-mrad", given.inner_mrad, "detector_inner_mrad", 0.1);
  check("outer_range_mrad", "adf-outer-mrad", given.outer_mrad, "detector_outer_mrad", 0.1);
}

void measure_normalisation(const par::Comm& comm, const io::h5::Dataset& images, const io::ModelManifest& m, const io::ImagePassOptions& options,
                           ImageNormalisation& out) {
  out.normalise = m.normalisation.rfind("per-sample", 0) == 0;
  if (!out.normalise) return;
  io::ImagePassOptions first = options;
  first.show_progress = false;
  io::run_image_pass(comm, images, {&out.stats}, nullptr, first);
}

void MapPeakAnalysis::process(const io::ImageTile& tile, const std::vector<io::TileMap>&) {
  const std::int64_t th = tile.owned_y.size() + 2 * tile.halo, tw = tile.owned_x.size() + 2 * tile.halo;
  const std::vector<float> maps = learn::tile_maps(net_, layout_, scale_, stats_, tile);
  const TileMaps t{tile, maps, th, tw};
  const std::int64_t h = tile.halo;
  for (const auto& p : analysis::dynamics::peaks_within(peaks(t), h, h + tile.owned_y.size(), h, h + tile.owned_x.size())) {
    const double x = p.x + double(tile.owned_x.begin - h), y = p.y + double(tile.owned_y.begin - h);
    const double edge = std::min({x + 0.5, double(tile.image_width) - 0.5 - x, y + 0.5, double(tile.image_height) - 0.5 - y});
    if (edge >= edge_margin_px_) keep(t, p, x, y);
  }
}

void write_source_attributes(const io::h5::Group& g, const io::h5::Group& source, const std::string& where, const io::ImageStackMeta& meta,
                             double pixel_A, const learn::LoadedModel& model) {
  g.set_attr("source", where);
  g.set_attr("frames", meta.frames);
  g.set_attr("height", meta.height);
  g.set_attr("width", meta.width);
  g.set_attr("pixel_size_A", pixel_A);
  g.set_attr("frame_time_s", meta.frame_time_s);
  // The acquisition as the stack records it (a movie's dose per frame gives populations versus dose).
  for (const char* key : {"dose_e_per_A2", "voltage_kV", "convergence_mrad", "detector_inner_mrad", "detector_outer_mrad"})
    if (auto v = source.attr_double(key)) g.set_attr(key, *v);
  g.set_attr("model_name", model.manifest.name);
  g.set_attr("model_sha256", model.sha256);
}

io::plot::Panel first_image_panel(const io::h5::Dataset& images, std::int64_t height, std::int64_t width, double pixel_A, const std::string& title,
                                  std::int64_t& h, std::int64_t& w) {
  h = std::min<std::int64_t>(height, 1024), w = std::min<std::int64_t>(width, 1024);
  std::vector<float> image(std::size_t(h * w));
  images.read<float>({0, 0, 0}, {1, h, w}, image.data(), io::h5::Xfer::independent);
  io::plot::Panel panel = io::plot::intensity_panel(title, image, h, w, io::plot::scan_axes(pixel_A, "A"), "intensity", io::robust_scale(image));
  panel.colour_bar.reset();
  return panel;
}

}  // namespace tmdflow::stages

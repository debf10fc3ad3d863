#include "tmdflow/learn/stacking_inference.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>

#include "tmdflow/core/error.hpp"
#include "tmdflow/sim/lattice_anchor.hpp"

namespace tmdflow::learn {

StackingModelInfo StackingModelInfo::from_manifest(const io::ModelManifest& m) {
  const std::string who = "model " + m.name;
  nlohmann::json o;
  try {
    o = nlohmann::json::parse(m.output);
  } catch (const std::exception&) {
    throw InputError(who + ": expected a JSON object as the manifest's output, found '" + m.output + "'");
  }
  if (!o.is_object() || o.value("kind", std::string()) != "stacking")
    throw InputError(who + ": expected a stacking model (manifest output kind 'stacking', made by train-stacking), found output " + m.output);
  StackingModelInfo info;
  try {
    info.task = o.at("task").get<std::string>();
    info.material = o.at("material").get<std::string>();
    info.stacking = o.at("stacking").get<std::string>();
    info.layers = o.at("layers").get<int>();
    info.values = o.at("values").get<std::vector<std::string>>();
    info.window_px = o.at("window_px").get<std::int64_t>();
    info.pixel_A = o.at("pixel_A").get<double>();
    const auto a1 = o.at("a1c_A").get<std::vector<double>>(), a2 = o.at("a2c_A").get<std::vector<double>>();
    if (a1.size() != 2 || a2.size() != 2) throw std::runtime_error("a1c_A, a2c_A");
    info.a1c_A[0] = a1[0], info.a1c_A[1] = a1[1], info.a2c_A[0] = a2[0], info.a2c_A[1] = a2[1];
    const std::string anchor = o.value("anchor", std::string("none"));
    if (anchor != "none" && anchor != "lattice") throw std::runtime_error("anchor: expected none or lattice, found " + anchor);
    info.anchor = anchor == "lattice";
  } catch (const std::exception& e) {
    throw InputError(who + ": expected output keys task, material, stacking, layers, values, window_px, pixel_A, a1c_A, a2c_A (" +
                     std::string(e.what()) + ")");
  }
  try {
    const nlohmann::json c = nlohmann::json::parse(m.conditions);
    info.voltage_kV = c.value("voltage_kV", 0.0);
    info.convergence_mrad = c.value("convergence_mrad", 0.0);
    info.inner_mrad = c.value("detector_inner_mrad", 0.0);
    info.outer_mrad = c.value("detector_outer_mrad", 0.0);
    auto middle = [&](const char* key) {
      const auto it = c.find(key);
      if (it == c.end() || !it->is_array() || it->size() != 2) return 0.0;
      return 0.5 * ((*it)[0].get<double>() + (*it)[1].get<double>());
    };
    info.defocus_A = middle("defocus_range_A");
    info.source_size_A = middle("source_size_range_A");
  } catch (const std::exception&) {
    // Conditions are optional: the refinement then needs them as options.
  }
  if (info.task != "slip" && info.task != "twist") throw InputError(who + ": expected task slip or twist, found " + info.task);
  if (info.window_px < 8 || !(info.pixel_A > 0)) throw InputError(who + ": expected a window of at least 8 pixels and a pixel size");
  const std::size_t expected = info.task == "slip" ? std::size_t(2 * (info.layers - 1)) : 1;
  if (info.values.size() != expected)
    throw InputError(who + ": expected " + std::to_string(expected) + " output values for a " + std::to_string(info.layers) + "-layer " +
                     info.task + " model, found " + std::to_string(info.values.size()));
  return info;
}

WindowCentres window_centres(std::int64_t height, std::int64_t width, double window_px, double stride_px) {
  if (!(stride_px > 0)) throw ConfigError("stride: expected a positive stride, found " + std::to_string(stride_px) + " pixels");
  if (!(window_px >= 1) || window_px > double(height) || window_px > double(width))
    throw ConfigError("window: expected a window inside the image (" + std::to_string(height) + " x " + std::to_string(width) +
                      " pixels), found " + std::to_string(window_px) + " pixels");
  WindowCentres c;
  const double half = window_px / 2;
  for (double r = half; r + half <= double(height) + 1e-9; r += stride_px) c.row_px.push_back(r - 0.5);
  for (double x = half; x + half <= double(width) + 1e-9; x += stride_px) c.col_px.push_back(x - 0.5);
  c.rows = std::int64_t(c.row_px.size()), c.cols = std::int64_t(c.col_px.size());
  return c;
}

void normalise_window(float* v, std::size_t n) {
  double sum = 0, sum2 = 0;
  for (std::size_t i = 0; i < n; ++i) sum += v[i];
  const double mean = sum / double(n);
  for (std::size_t i = 0; i < n; ++i) sum2 += (v[i] - mean) * (v[i] - mean);
  const double sd = std::sqrt(sum2 / double(n));
  const double scale = sd > 0 ? 1.0 / sd : 1.0;
  for (std::size_t i = 0; i < n; ++i) v[i] = float((v[i] - mean) * scale);
}

WindowLabels infer_stacking_windows(PatchModel& model, const StackingModelInfo& info, const sim::LabelSymmetry& symmetry,
                                    const analysis::CanonicalSampler& sampler, const std::vector<std::array<double, 2>>& centres,
                                    const StackingInferenceOptions& options, const std::function<void(std::int64_t)>& on_batch) {
  const std::int64_t n = sampler.size();
  const SampleShape shape{1, n, n};
  const std::int64_t outputs = std::int64_t(info.values.size());
  const std::size_t npix = std::size_t(n * n);
  const std::int64_t passes = options.consistency ? 2 : 1;
  const std::int64_t batch = std::max<std::int64_t>(1, options.batch);
  WindowLabels out;
  out.label.resize(centres.size());
  out.consistency.assign(centres.size(), std::nan(""));
  std::vector<float> input(static_cast<std::size_t>(batch * passes) * npix), values(static_cast<std::size_t>(batch * passes * outputs));
  for (std::size_t b0 = 0; b0 < centres.size(); b0 += std::size_t(batch)) {
    const std::int64_t count = std::int64_t(std::min<std::size_t>(std::size_t(batch), centres.size() - b0));
    for (std::int64_t k = 0; k < count; ++k) {
      float* w = input.data() + std::size_t(k * passes) * npix;
      const auto& c = centres[b0 + std::size_t(k)];
      sampler.sample(c[0], c[1], w);
      if (info.anchor) {
        const auto t = sim::lattice_anchor(w, int(n), info.pixel_A, {info.a1c_A[0], info.a1c_A[1]}, {info.a2c_A[0], info.a2c_A[1]});
        const auto d = sampler.input_offset(t[0], t[1]);
        sampler.sample(c[0] + d[0], c[1] + d[1], w);
      }
      normalise_window(w, npix);
      if (passes == 2) std::reverse_copy(w, w + npix, w + npix);  // the window turned by 180 degrees
    }
    run_checked(model, input.data(), count * passes, shape, outputs, values.data());
    for (std::int64_t k = 0; k < count; ++k) {
      const float* v = values.data() + std::size_t(k * passes * outputs);
      std::vector<double> y(v, v + outputs);
      double consistency = std::nan("");
      if (passes == 2) {
        const std::vector<double> turned(v + outputs, v + 2 * outputs);
        const std::vector<double> near = sim::nearest_equivalent(symmetry, y, turned);
        consistency = sim::label_distance(symmetry, y, turned);
        for (std::size_t i = 0; i < y.size(); ++i) y[i] = 0.5 * (y[i] + near[i]);
      }
      out.label[b0 + std::size_t(k)] = sim::fold_label(symmetry, y);
      out.consistency[b0 + std::size_t(k)] = consistency;
    }
    if (on_batch) on_batch(count);
  }
  return out;
}

}  // namespace tmdflow::learn

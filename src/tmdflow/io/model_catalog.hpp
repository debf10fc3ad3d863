#pragma once
// Shipped and user models on disk, without LibTorch: the manifest of a model (models/README.md),
// the search path that turns a model name into a folder, and the listing `tmdflow models` prints.
// Loading the network itself is learn/model_file.hpp's job.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tmdflow::io {

/// manifest.json of one model. The sections that each task fills its own way (output,
/// conditions, data, training, metrics) are kept as JSON text, so that any JSON object survives.
struct ModelManifest {
  std::string name;
  std::string task;
  /// architecture: the NetworkSpec (family + sizes as key = value text) that rebuilds it.
  std::string family;
  std::map<std::string, std::string> params;
  std::int64_t parameter_count = 0;
  /// input
  std::int64_t input_channels = 1, input_height = 0, input_width = 0;  // 0: any size
  double pixel_size_A = 0;                                            // 0: not tied to a pixel size
  std::string normalisation = "none";
  /// JSON objects (text): "{}" when empty.
  std::string output = "{}", conditions = "{}", data = "{}", training = "{}", metrics = "{}";
  /// The model file, relative to the manifest's folder, its SHA-256 and how its weights are stored.
  std::string file = "model.pt";
  std::string sha256;
  std::string storage = "float32";  // or "float16"
};

/// Compact, key-sorted JSON text of a manifest (what manifest.json holds, indented when `indent` > 0).
std::string manifest_to_json(const ModelManifest& m, int indent = 2);
/// Parses manifest JSON; InputError naming `where` and the key that is missing or of the wrong type.
ModelManifest manifest_from_json(const std::string& text, const std::string& where);
ModelManifest read_manifest(const std::string& path);
void write_manifest(const ModelManifest& m, const std::string& path);

/// Where model names are looked up, in order: each folder of $TMDFLOW_MODELS (':'-separated), the
/// source tree's models/ and <prefix>/share/tmdflow/models (those two that exist).
std::vector<std::string> model_search_path();

/// A model found on disk: its folder, manifest and model file.
struct ModelLocation {
  std::string folder, manifest_path, model_path;
  ModelManifest manifest;
};

/// NAME (looked up on the search path) or PATH (a model folder, its manifest.json or its model
/// file). ConfigError listing the search path when a name is not found; InputError for a bad manifest.
/// A model file given alone (no manifest.json beside it) gets an empty manifest: its own embedded
/// one is then all there is.
ModelLocation locate_model(const std::string& name_or_path);

/// IoError / InputError when the model file is missing or its SHA-256 differs from the manifest's.
void verify_model_file(const ModelLocation& model);

/// One row of `tmdflow models`.
struct ModelListing {
  std::string folder, name, task, architecture, input, conditions, metrics;
  std::string status;  // "ok", "sha256 MISMATCH", "missing model file", "bad manifest: ...", "shadowed by ..."
};
/// Every model folder (a folder with manifest.json) on the search path, checked.
std::vector<ModelListing> list_models(const std::vector<std::string>& search_path);

}  // namespace tmdflow::io

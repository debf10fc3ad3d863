#pragma once
// Model files: a trained Network and its manifest as one file (NAME.pt, a LibTorch archive that
// holds the weights, the NetworkSpec and the manifest), plus manifest.json beside it
// (models/README.md), found by name on the model search path (io/model_catalog.hpp).
// Includes torch's headers: include it only from learn/ sources and the .cpp files of stages
// that train or run models.
#include <memory>
#include <string>

#include "tmdflow/io/model_catalog.hpp"
#include "tmdflow/learn/network.hpp"
#include "tmdflow/learn/torch_model.hpp"

namespace tmdflow::learn {

struct SaveModelOptions {
  /// Store float weights as float16 (half the size; loaded back as float32).
  bool half = false;
  /// Name of the model file in the folder.
  std::string file = "model.pt";
};

/// Writes FOLDER/<file> and FOLDER/manifest.json (made if needed), each under a temporary name then
/// renamed. Fills the manifest's architecture (from network.spec()), parameter count, file,
/// storage and sha256; the name defaults to the folder's. Returns the manifest written.
io::ModelManifest save_model(const Network& network, io::ModelManifest manifest, const std::string& folder,
                             const SaveModelOptions& options = {});

struct LoadedModel {
  std::shared_ptr<Network> network;  // float32, CPU, eval mode
  io::ModelManifest manifest;        // from manifest.json, or the file's own when given alone
  std::string path;                  // the model file
  std::string sha256;                // of the model file
  /// "NAME (sha256 0123456789ab)": how products name the model they were made with.
  std::string label() const;
};

/// NAME or PATH (a model folder, its manifest.json or its model file) to a verified location:
/// the model file exists and its SHA-256 matches the manifest (InputError otherwise).
io::ModelLocation resolve_model(const std::string& name_or_path);

/// resolve_model, then builds the network from the file's spec and reads its weights. One-line
/// InputError when the file is not a tmdflow model file (truncated, another format), when its spec
/// does not build, or when it disagrees with its manifest.
LoadedModel load_model(const std::string& name_or_path);

/// The loaded network as a PatchModel, to run through patch inference (learn/patch_inference.hpp).
/// Its weights are made channels-last (learn/memory_format.hpp), the faster layout on CPU.
std::unique_ptr<TorchModel> as_patch_model(const LoadedModel& model, TorchModelOptions options = {});

/// Writes the weights as a PyTorch state dict (torch.load(path) in Python gives a dict of
/// tensors with the keys of the Python twin's state_dict(): benchmarks/torch_models.py).
void export_state_dict(const Network& network, const std::string& path);

/// "resnet layout=18 width=16 ..." and back, as JSON text ({"family": ..., "params": {...}}).
std::string spec_to_json(const NetworkSpec& spec);
NetworkSpec spec_from_json(const std::string& text, const std::string& where);

}  // namespace tmdflow::learn

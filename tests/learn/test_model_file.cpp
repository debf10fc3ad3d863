// Model files: save -> load gives identical outputs (by path, by name on the search path, as a
// PatchModel), float16 storage, the manifest's spec round trip, and the files that must be
// refused: changed after the manifest (sha256), truncated, of another format, not found.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>

#include "common/testing.hpp"
#include "tmdflow/core/error.hpp"
#include "tmdflow/core/sha256.hpp"
#include "tmdflow/io/model_catalog.hpp"
#include "tmdflow/learn/model_file.hpp"

namespace fs = std::filesystem;
namespace learn = tmdflow::learn;
namespace io = tmdflow::io;
using tmdflow::par::Runtime;

namespace {

std::vector<learn::NetworkSpec> small_specs() {
  return {{"resnet", {{"width", "4"}, {"stem", "small"}, {"outputs", "3"}, {"head", "8"}}},
          {"unet", {{"levels", "3"}, {"base", "4"}, {"classes", "2"}}},
          {"autoencoder", {{"size", "16"}, {"levels", "2"}, {"base", "4"}, {"latent", "6"}}},
          {"detector", {{"classes", "2"}, {"base", "4"}, {"stride", "2"}}}};
}

// A network with trained-looking BatchNorm statistics (not the fresh 0 / 1), in eval mode.
std::shared_ptr<learn::Network> trained(const learn::NetworkSpec& spec, std::int64_t size = 16) {
  torch::manual_seed(7);
  auto net = learn::make_network(spec);
  net->train();
  torch::NoGradGuard no_grad;
  for (int i = 0; i < 3; ++i) net->forward(torch::randn({4, 1, size, size}) * 2 + 0.5);
  net->eval();
  return net;
}

torch::Tensor run(learn::Network& net, const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  return net.forward(x);
}

io::ModelManifest test_manifest() {
  io::ModelManifest m;
  m.task = "test: planted values";
  m.input_channels = 1;
  m.input_height = m.input_width = 16;
  m.pixel_size_A = 0.125;
  m.normalisation = "per-patch mean 0, sd 1";
  m.conditions = R"({"material": "MoS2", "voltage_kV": 80})";
  m.metrics = R"({"test_rmse": 0.01})";
  m.data = R"({"commands": ["tmdflow stage make-trainset --seed 1"], "sha256": "00"})";
  return m;
}

// A folder for this rank only: the ranks run the same test side by side.
std::string rank_folder(const tmdflow::testing::ScratchDir& dir, const std::string& name) {
  return dir.file("r" + std::to_string(Runtime::world_comm().rank()) + "/" + name);
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const tmdflow::Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST(ModelFile, SaveThenLoadGivesIdenticalOutputs) {
  tmdflow::testing::ScratchDir dir;
  for (const auto& spec : small_specs()) {
    auto net = trained(spec);
    const std::string folder = rank_folder(dir, spec.family + "-test-v1");
    const io::ModelManifest written = learn::save_model(*net, test_manifest(), folder);
    EXPECT_EQ(written.name, spec.family + "-test-v1");
    EXPECT_EQ(written.sha256, tmdflow::sha256_file(folder + "/model.pt"));
    const learn::LoadedModel loaded = learn::load_model(folder);
    const torch::Tensor x = torch::randn({2, 1, 16, 16});
    EXPECT_TRUE(torch::equal(run(*net, x), run(*loaded.network, x))) << spec.family;
    EXPECT_EQ(loaded.network->spec().params, net->spec().params);
    EXPECT_EQ(loaded.manifest.conditions, written.conditions);
    EXPECT_EQ(loaded.label(), written.name + " (sha256 " + written.sha256.substr(0, 12) + ")");
    // The same model through the existing inference adapter.
    auto patch_model = learn::as_patch_model(loaded);
    const learn::ModelOutput out = patch_model->forward(x.data_ptr<float>(), 2, {1, 16, 16});
    const torch::Tensor expected = run(*net, x);
    ASSERT_EQ(out.shape, expected.sizes().vec());
    // Channels-last weights there: the same values up to float rounding.
    EXPECT_TRUE(torch::allclose(torch::from_blob(const_cast<float*>(out.values.data()), expected.sizes()), expected, 1e-4, 1e-5));
  }
}

TEST(ModelFile, NamesAreFoundOnTheSearchPath) {
  tmdflow::testing::ScratchDir dir;
  const std::string root = rank_folder(dir, "models");
  auto net = trained(small_specs()[3]);
  learn::save_model(*net, test_manifest(), root + "/detector-demo-v2");
  setenv("TMDFLOW_MODELS", (root + ":/nonexistent").c_str(), 1);
  const learn::LoadedModel loaded = learn::load_model("detector-demo-v2");
  EXPECT_EQ(loaded.path, root + "/detector-demo-v2/model.pt");
  EXPECT_EQ(io::model_search_path().front(), root);
  const std::string missing = error_of([] { learn::load_model("no-such-model"); });
  EXPECT_NE(missing.find("no-such-model"), std::string::npos);
  EXPECT_NE(missing.find(root), std::string::npos);  // the search path is in the message
  EXPECT_THROW(learn::load_model("no-such-model"), tmdflow::ConfigError);
  const auto rows = io::list_models({root});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].status, "ok");
  EXPECT_EQ(rows[0].input, "1x16x16 @ 0.125 A/px");
  unsetenv("TMDFLOW_MODELS");
}

TEST(ModelFile, HalfPrecisionStorageHalvesTheFile) {
  tmdflow::testing::ScratchDir dir;
  auto net = trained({"resnet", {{"width", "8"}, {"stem", "small"}}});
  learn::save_model(*net, test_manifest(), rank_folder(dir, "full"));
  const io::ModelManifest half = learn::save_model(*net, test_manifest(), rank_folder(dir, "half"), {true});
  EXPECT_EQ(half.storage, "float16");
  const double full_size = double(fs::file_size(rank_folder(dir, "full/model.pt")));
  const double half_size = double(fs::file_size(rank_folder(dir, "half/model.pt")));
  EXPECT_LT(half_size, 0.6 * full_size);
  const learn::LoadedModel loaded = learn::load_model(rank_folder(dir, "half"));
  for (const auto& p : loaded.network->parameters()) EXPECT_EQ(p.scalar_type(), torch::kFloat32);
  const torch::Tensor x = torch::randn({2, 1, 16, 16});
  const torch::Tensor a = run(*net, x), b = run(*loaded.network, x);
  EXPECT_LT((a - b).abs().max().item<float>(), 1e-2 * (a.abs().max().item<float>() + 1));
}

TEST(ModelFile, SpecRoundTripsThroughTheManifest) {
  tmdflow::testing::ScratchDir dir;
  auto net = trained(small_specs()[1]);
  const std::string folder = rank_folder(dir, "unet-v1");
  learn::save_model(*net, test_manifest(), folder);
  const io::ModelManifest m = io::read_manifest(folder + "/manifest.json");
  EXPECT_EQ(m.family, "unet");
  EXPECT_EQ(m.params, net->spec().params);
  EXPECT_EQ(learn::make_network({m.family, m.params})->spec().params, net->spec().params);
  std::int64_t count = 0;
  for (const auto& p : net->parameters()) count += p.numel();
  EXPECT_EQ(m.parameter_count, count);
  const io::ModelManifest again = io::manifest_from_json(io::manifest_to_json(m), "again");
  EXPECT_EQ(io::manifest_to_json(again), io::manifest_to_json(m));
  EXPECT_DOUBLE_EQ(again.pixel_size_A, 0.125);
  EXPECT_EQ(learn::spec_from_json(learn::spec_to_json(net->spec()), "x").params, net->spec().params);

  // A manifest that names another architecture than the file holds is refused.
  io::ModelManifest edited = m;
  edited.params["base"] = "8";
  io::write_manifest(edited, folder + "/manifest.json");
  const std::string message = error_of([&] { learn::load_model(folder); });
  EXPECT_NE(message.find("architecture"), std::string::npos) << message;
  // A manifest without its task is refused naming the key.
  std::ofstream(folder + "/manifest.json") << R"({"name": "unet-v1"})";
  EXPECT_NE(error_of([&] { learn::load_model(folder); }).find("/task"), std::string::npos);
}

TEST(ModelFile, AChangedFileIsRefusedBySha256) {
  tmdflow::testing::ScratchDir dir;
  const std::string folder = rank_folder(dir, "changed");
  learn::save_model(*trained(small_specs()[0]), test_manifest(), folder);
  {
    std::fstream f(folder + "/model.pt", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(std::streamoff(fs::file_size(folder + "/model.pt") / 2));
    f.put('\x5a');
  }
  const std::string message = error_of([&] { learn::load_model(folder); });
  EXPECT_NE(message.find("sha256"), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos);
  EXPECT_THROW(learn::load_model(folder), tmdflow::InputError);
  EXPECT_EQ(io::list_models({fs::path(folder).parent_path().string()})[0].status, "sha256 MISMATCH");
}

TEST(ModelFile, TruncatedOrForeignFilesAreRefusedClearly) {
  tmdflow::testing::ScratchDir dir;
  const std::string folder = rank_folder(dir, "truncated");
  io::ModelManifest m = learn::save_model(*trained(small_specs()[2]), test_manifest(), folder);
  const std::string path = folder + "/model.pt";
  fs::resize_file(path, fs::file_size(path) * 2 / 3);
  // Its manifest updated to the truncated file's hash: the damage itself must be caught.
  m.sha256 = tmdflow::sha256_file(path);
  io::write_manifest(m, folder + "/manifest.json");
  for (const std::string& target : {folder, path}) {
    const std::string message = error_of([&] { learn::load_model(target); });
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find("tmdflow model file"), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
  // A file given alone, without manifest: its own checks still refuse it.
  const std::string alone = rank_folder(dir, "alone.pt");
  fs::copy_file(path, alone);
  EXPECT_THROW(learn::load_model(alone), tmdflow::InputError);
  // Another format (a TorchScript file is an archive too, but not a tmdflow model file).
  torch::jit::Module script("Scripted");
  script.define("def forward(self, x):\n    return x\n");
  script.save(rank_folder(dir, "script.pt"));
  EXPECT_NE(error_of([&] { learn::load_model(rank_folder(dir, "script.pt")); }).find("format"), std::string::npos);
  EXPECT_THROW(learn::load_model(rank_folder(dir, "absent.pt")), tmdflow::IoError);
}

TEST(ModelFile, StateDictLoadsIntoThePyTorchTwin) {
  const auto& comm = Runtime::world_comm();
  tmdflow::testing::ScratchDir dir;
  if (comm.is_root()) {  // one Python process is enough: it checks every family
    std::string specs;
    for (const auto& spec : small_specs()) {
      auto net = trained(spec);
      const std::string stem = dir.file(spec.family);
      learn::export_state_dict(*net, stem + ".state_dict.pt");
      torch::manual_seed(3);
      const torch::Tensor x = torch::randn({2, 1, 16, 16});
      c10::Dict<std::string, torch::Tensor> io_pair;
      io_pair.insert("input", x);
      io_pair.insert("output", run(*net, x));
      const std::vector<char> bytes = torch::pickle_save(c10::IValue(io_pair));
      std::ofstream(stem + ".io.pt", std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
      std::ofstream(stem + ".spec.json") << learn::spec_to_json(net->spec());
      specs += " " + stem;
    }
    const auto r = tmdflow::testing::run_command(tmdflow::testing::test_python() + " " + tmdflow::testing::source_dir() +
                                                 "/tests/learn/check_pytorch_twins.py" + specs);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("4 families agree"), std::string::npos) << r.output;
  }
  comm.barrier();
}

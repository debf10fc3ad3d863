#include "stage_list.hpp"

namespace tmdflow::stages {

namespace {

std::vector<std::pair<std::string, StageFactory>>& stages_table() {
  static std::vector<std::pair<std::string, StageFactory>> stages = {
      {"ingest", make_ingest_stage},
      {"synthesize-datacube", make_synthesize_datacube_stage},
      {"simulate-adf", make_simulate_adf_stage},
      {"simulate-4dstem", make_simulate_4dstem_stage},
      {"make-trainset", make_make_trainset_stage},
      {"simulate-movie", make_simulate_movie_stage},
      {"make-defect-trainset", make_make_defect_trainset_stage},
      {"virtual-image", make_virtual_image_stage},
      {"diffraction-features", make_diffraction_features_stage},
      {"domains", make_domains_stage},
      {"track-defects", make_track_defects_stage},
      {"defect-motifs", make_defect_motifs_stage},
      {"kinetics", make_kinetics_stage},
  };
  return stages;
}

}  // namespace

const std::vector<std::pair<std::string, StageFactory>>& registry() { return stages_table(); }

void register_stage(const std::string& name, StageFactory factory) {
  for (auto& [n, f] : stages_table())
    if (n == name) {
      f = std::move(factory);
      return;
    }
  stages_table().emplace_back(name, std::move(factory));
}

const std::vector<LearnStageEntry>& learn_stage_catalogue() {
  static const std::vector<LearnStageEntry> entries = {
      {"train", "train a network on a trainset product, data-parallel over the ranks: the model file, its manifest and a training log"},
      {"predict", "run a trained map model (e.g. the column detector) over every image of an image stack: one map per output channel"},
      {"detect-defects", "find point defects (V_S, V_S2, dopants) in every frame of a movie with a trained detector: a table of positions, classes and scores"},
  };
  return entries;
}

bool is_learn_stage(const std::string& name) {
  for (const auto& e : learn_stage_catalogue())
    if (name == e.name) return true;
  return false;
}

}  // namespace tmdflow::stages

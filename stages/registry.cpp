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
      {"style-fit", make_style_fit_stage},
      {"landscape", make_landscape_stage},
      {"campaign-stats", make_campaign_stats_stage},
      {"make-defect-trainset", make_make_defect_trainset_stage},
      {"make-atoms-trainset", make_make_atoms_trainset_stage},
      {"virtual-image", make_virtual_image_stage},
      {"diffraction-features", make_diffraction_features_stage},
      {"domains", make_domains_stage},
      {"track-defects", make_track_defects_stage},
      {"defect-motifs", make_defect_motifs_stage},
      {"kinetics", make_kinetics_stage},
      {"classify-sites", make_classify_sites_stage},
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
      {"train-stacking", "train the slip or twist regressor of bilayers/trilayers on a canonical-frame trainset, with symmetry-aware labels"},
      {"infer-stacking", "interlayer slip or twist of bilayers and trilayers in every image: sliding-window maps, boundaries, physics refinement"},
      {"detect-defects", "find point defects (V_S, V_S2, dopants) in every frame of a movie with a trained detector: a table of positions, classes and scores"},
      {"site-instability", "unstable lattice sites of an image stack: sites tracked across frames, an autoencoder on their patches, instability, density, clusters"},
      {"style-train", "learn a translation of noise-free simulations into the style of unlabelled experimental images (disentangled GAN)"},
      {"style-translate", "translate a trainset's noise-free patches into an experiment's style with a style-train model"},
      {"segment-atoms", "find every atom column and empty site of an MX2 alloy monolayer with a trained site network: positions and nine-class evidence"},
  };
  return entries;
}

std::string learn_stage_summary(const std::string& name) {
  for (const auto& e : learn_stage_catalogue())
    if (name == e.name) return e.summary;
  throw ConfigError("learn stage '" + name + "' is not in the catalogue");
}

bool is_learn_stage(const std::string& name) {
  for (const auto& e : learn_stage_catalogue())
    if (name == e.name) return true;
  return false;
}

}  // namespace tmdflow::stages
